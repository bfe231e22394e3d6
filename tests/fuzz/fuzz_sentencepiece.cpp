// SentencePiece .model files (a ModelProto, parsed by libsentencepiece) as T5's and XLM-R's (fairseq order)
// loaders read them, then used.
#include "fuzz_input.hpp"

#include <gluegen/text/sentencepiece.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    using gluegen::text::SentencePieceTokenizer;
    const auto path = gluegen::fuzz::as_file(bytes, "spiece.model");
    gluegen::fuzz::exercise_tokenizer(SentencePieceTokenizer::from_model_file(path, {.prefix = {}}));
    gluegen::fuzz::exercise_tokenizer(SentencePieceTokenizer::from_fairseq_model_file(path));
  });
}
