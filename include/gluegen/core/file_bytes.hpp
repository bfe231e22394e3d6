#pragma once
// A whole (small) file as bytes: vocabularies, tokenizer.json, SentencePiece models; gzip-compressed
// ones decompressed (CLIP's BPE merges ship as .txt.gz).
#include <gluegen/core/error.hpp>

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

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

}  // namespace gluegen
