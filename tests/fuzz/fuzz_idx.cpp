// IDX files (io/idx.hpp; Fashion-MNIST's format), plain or gzip-compressed.
#include "fuzz_input.hpp"

#include <gluegen/io/idx.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    (void)gluegen::io::read_idx(gluegen::fuzz::as_file(bytes, "images-idx3-ubyte.gz"));
  });
}
