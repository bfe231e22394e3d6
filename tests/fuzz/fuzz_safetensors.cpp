// safetensors files (io/safetensors.hpp): the header, then every tensor read as f32 (converting each dtype).
#include "fuzz_input.hpp"

#include <gluegen/io/safetensors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    const gluegen::io::SafetensorsReader reader(gluegen::fuzz::as_file(bytes, "model.safetensors"));
    for (const std::string& name : reader.names()) (void)reader.read<float>(name);
  });
}
