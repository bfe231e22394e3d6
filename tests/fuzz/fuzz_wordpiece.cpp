// BERT vocab.txt files (text/wordpiece.hpp), then used.
#include "fuzz_input.hpp"

#include <gluegen/text/wordpiece.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    gluegen::fuzz::exercise_tokenizer(
        gluegen::text::WordPieceTokenizer::from_file(gluegen::fuzz::as_file(bytes, "vocab.txt")));
  });
}
