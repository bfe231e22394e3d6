#pragma once
// A whole (small) file as bytes: vocabularies, tokenizer.json, SentencePiece models; gzip-compressed
// ones decompressed (CLIP's BPE merges ship as .txt.gz). ByteCursor walks such bytes for the binary
// readers (E5S1, CTranslate2, WAV), every read bounds-checked before it happens.
#include <gluegen/core/error.hpp>

#include <zlib.h>

#include <filesystem>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

namespace gluegen {

/// The bytes of `path`; a FileNotFoundError naming the file and what it was wanted as otherwise.
inline std::string read_file_bytes(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  GLUEGEN_CHECK_AS(FileNotFoundError, in.good() && !std::filesystem::is_directory(path), "{} '{}' cannot be read", what,
                   path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The decompressed bytes of a gzip file (a plain file is read unchanged); a truncated or corrupt
/// stream is a TruncatedFileError / IoError naming the file.
inline std::string read_gzip_file_bytes(const std::filesystem::path& path, std::string_view what) {
  GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::is_regular_file(path), "{} '{}' cannot be read", what,
                   path.string());
  gzFile f = gzopen(path.c_str(), "rb");
  GLUEGEN_CHECK_AS(IoError, f != nullptr, "cannot open {} '{}'", what, path.string());
  std::string out;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(f, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(n));
  int code = Z_OK;
  const std::string message = gzerror(f, &code);  // zlib flags a stream cut short here, not always in gzread's result
  gzclose(f);
  GLUEGEN_CHECK_AS(TruncatedFileError, n == 0 && code == Z_OK, "{} '{}' is truncated or corrupt after {} bytes: {}",
                   what, path.string(), out.size(), message);
  return out;
}

/// Little-endian reads through a file image in memory. A read past the end is a TruncatedFileError
/// naming the file, what was being read, its size and where it started, so a file that declares a
/// length beyond its bytes is rejected before anything is allocated for it.
class ByteCursor {
 public:
  /// `bytes` must outlive the cursor; `file` names it in the errors.
  ByteCursor(std::string_view bytes, std::string file) : bytes_(bytes), file_(std::move(file)) {}

  [[nodiscard]] std::size_t position() const noexcept { return at_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - at_; }
  [[nodiscard]] bool at_end() const noexcept { return at_ == bytes_.size(); }
  [[nodiscard]] const std::string& file() const noexcept { return file_; }

  /// The next `n` bytes; the cursor moves past them.
  std::string_view take_bytes(std::uint64_t n, std::string_view what) {
    GLUEGEN_CHECK_AS(TruncatedFileError, n <= remaining(),
                     "'{}' is truncated: {} ({} bytes at byte {}) ends past its {} bytes", file_, what, n, at_,
                     bytes_.size());
    const std::string_view out = bytes_.substr(at_, n);
    at_ += n;
    return out;
  }
  /// The next sizeof(V) bytes as a little-endian V (an arithmetic type).
  template <typename V>
    requires std::is_arithmetic_v<V>
  V take(std::string_view what) {
    const std::string_view b = take_bytes(sizeof(V), what);
    V v;
    std::memcpy(&v, b.data(), sizeof(V));
    return v;
  }

 private:
  std::string_view bytes_;
  std::string file_;
  std::size_t at_ = 0;
};

/// Writes `bytes` to `path` atomically: to `path`.tmp, then renamed over `path`, so a reader never sees
/// half a file and a failed write (a full disk) leaves an existing `path` intact and no temporary behind.
/// The parent folder is created. `what` names the file in the IoError.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, std::string_view what) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    GLUEGEN_CHECK_AS(IoError, out.good(), "cannot write {} '{}'", what, tmp.string());
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      GLUEGEN_THROW(IoError, "writing {} '{}' failed ({} bytes)", what, tmp.string(), bytes.size());
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(tmp, ec);
    GLUEGEN_THROW(IoError, "cannot rename '{}' to '{}': {}", tmp.string(), path.string(), why);
  }
}

}  // namespace gluegen
