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
  const auto read_exact = [&](void* dst, std::size_t n, const char* what) {
    std::size_t got = 0;
    while (got < n) {
      const int r =
          gzread(f, static_cast<char*>(dst) + got, static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30)));
      GLUEGEN_CHECK_AS(TruncatedFileError, r > 0, "'{}' is truncated: {} ends after {} of {} bytes", path.string(),
                       what, got, n);
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
  for (int i = 0; i < magic[3]; ++i) {
    std::uint8_t b[4];
    read_exact(b, 4, "the header");
    dims.push_back((index_t{b[0]} << 24) | (index_t{b[1]} << 16) | (index_t{b[2]} << 8) | index_t{b[3]});
  }
  out.shape = Shape(std::span<const index_t>(dims));
  out.data.resize(static_cast<std::size_t>(out.shape.numel()));
  read_exact(out.data.data(), out.data.size(), "the data");
  return out;
}

}  // namespace gluegen::io
