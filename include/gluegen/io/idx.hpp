#pragma once
// IDX files (LeCun's MNIST format, also Fashion-MNIST's): a big-endian header (magic 0x0000TTNN with
// element type TT and rank NN, then NN extents) followed by the elements. Read directly or through
// zlib when gzip-compressed (the Debian dataset-* packages ship .gz files).
#include <gluegen/core/error.hpp>
#include <gluegen/tensor.hpp>

#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

namespace gluegen::io {

struct IdxArray {
  Shape shape;
  std::vector<std::uint8_t> data;  ///< unsigned bytes (type 0x08), row-major
};

/// Reads an unsigned-byte IDX file (.gz or plain). Errors name the file: missing, not IDX, another
/// element type, or shorter than its header says.
[[nodiscard]] inline IdxArray read_idx(const std::filesystem::path& path) {
  GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::is_regular_file(path), "IDX file '{}' does not exist",
                   path.string());
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files unchanged
  GLUEGEN_CHECK_AS(IoError, f != nullptr, "cannot open '{}'", path.string());
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{f};
  // n bytes of `what`, of which `before` were read already out of `whole`
  const auto read_exact = [&](void* dst, std::size_t n, const char* what, std::size_t before = 0,
                              std::size_t whole = 0) {
    std::size_t got = 0;
    while (got < n) {
      const int r =
          gzread(f, static_cast<char*>(dst) + got, static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30)));
      GLUEGEN_CHECK_AS(TruncatedFileError, r > 0, "'{}' is truncated: {} ends after {} of {} bytes", path.string(),
                       what, before + got, whole > 0 ? whole : n);
      got += static_cast<std::size_t>(r);
    }
  };
  std::uint8_t magic[4];
  read_exact(magic, 4, "the header");
  GLUEGEN_CHECK_AS(IoError, magic[0] == 0 && magic[1] == 0 && magic[3] >= 1 && magic[3] <= 4,
                   "'{}' is not an IDX file (magic {:02x}{:02x}{:02x}{:02x})", path.string(), magic[0], magic[1],
                   magic[2], magic[3]);
  GLUEGEN_CHECK_AS(IoError, magic[2] == 0x08,
                   "'{}' holds IDX element type 0x{:02x}; only unsigned bytes (0x08) are supported", path.string(),
                   magic[2]);
  IdxArray out;
  std::vector<index_t> dims;
  index_t numel = 1;
  for (int i = 0; i < magic[3]; ++i) {
    std::uint8_t b[4];
    read_exact(b, 4, "the header");
    dims.push_back((index_t{b[0]} << 24) | (index_t{b[1]} << 16) | (index_t{b[2]} << 8) | index_t{b[3]});
    // four 32-bit extents can multiply past 2^63; no file holds more than 2^48 bytes anyway
    GLUEGEN_CHECK_AS(IoError, dims.back() == 0 || numel <= (index_t{1} << 48) / dims.back(),
                     "'{}' declares an IDX array of absurd size ({} elements and more)", path.string(), numel);
    numel *= dims.back();
  }
  out.shape = Shape(std::span<const index_t>(dims));
  // Grown as the bytes arrive, never sized from the header alone: a gzip stream's length is unknown until it
  // ends, and a 20-byte file declaring 2^40 elements is then a TruncatedFileError, not a 1 TB allocation.
  constexpr std::size_t kBlock = std::size_t{1} << 24;
  const auto total = static_cast<std::size_t>(numel);
  while (out.data.size() < total) {
    const std::size_t at = out.data.size();
    out.data.resize(at + std::min(kBlock, total - at));
    read_exact(out.data.data() + at, out.data.size() - at, "the data", at, total);
  }
  return out;
}

}  // namespace gluegen::io
