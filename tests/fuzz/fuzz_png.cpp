// Images (io/png.hpp's read_png: stb_image, the decoder the scorer's and the tests' images go through).
#include "fuzz_input.hpp"

#include <gluegen/io/png.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    (void)gluegen::io::read_png(gluegen::fuzz::as_file(bytes, "image.png"));
  });
}
