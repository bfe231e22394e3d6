// CTranslate2 model.bin files (io/ctranslate2.hpp): the variable table, every variable converted to f32,
// integer scalars, and a Whisper configuration read from them as load_whisper_encoder does.
#include "fuzz_input.hpp"

#include <gluegen/encoders/whisper.hpp>
#include <gluegen/io/ctranslate2.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    using gluegen::Tensor, gluegen::Cpu;
    const gluegen::io::Ctranslate2Reader model(gluegen::fuzz::as_file(bytes, "model.bin"));
    for (const std::string& name : model.names()) {
      const gluegen::Shape shape = model.shape(name);
      if (shape.rank() == 0) {
        try {
          (void)model.integer(name);
        } catch (const gluegen::ShapeError&) {  // a float scalar
        }
      }
      Tensor<float, Cpu> target(shape);
      model.read_into(name, target);
    }
    (void)gluegen::encoders::WhisperConfig::from_ctranslate2(model);
  });
}
