// A Hugging Face CLIP tokenizer's vocab.json and merges.txt (text/clip_bpe.hpp), then used. The input is
// both files: the bytes before the first form feed (\f) are vocab.json, the rest merges.txt.
#include "fuzz_input.hpp"

#include <gluegen/text/clip_bpe.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    const std::size_t split = std::min(bytes.find('\f'), bytes.size());
    const auto vocab = gluegen::fuzz::as_file(bytes.substr(0, split), "vocab.json");
    const auto merges = gluegen::fuzz::as_file(bytes.substr(std::min(split + 1, bytes.size())), "merges.txt");
    gluegen::fuzz::exercise_tokenizer(gluegen::text::ClipBpeTokenizer::from_hf_files(vocab, merges));
  });
}
