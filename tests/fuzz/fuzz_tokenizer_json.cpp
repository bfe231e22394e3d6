// Hugging Face tokenizer.json files with a Unigram model (text/sentencepiece.hpp; e5's and XLM-R's), then used.
#include "fuzz_input.hpp"

#include <gluegen/text/sentencepiece.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    gluegen::fuzz::exercise_tokenizer(
        gluegen::text::SentencePieceTokenizer::from_hf_tokenizer_json_text(bytes, "tokenizer.json"));
  });
}
