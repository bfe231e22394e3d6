// Prompt text as a user types it, through each tokenizer kind: arbitrary bytes, invalid UTF-8 included,
// must tokenize or be a typed error. Fixed small vocabularies; the input is the prompt.
#include "fuzz_input.hpp"

#include <gluegen/text/clip_bpe.hpp>
#include <gluegen/text/wordpiece.hpp>

namespace {

const gluegen::text::WordPieceTokenizer& wordpiece() {
  static const gluegen::text::WordPieceTokenizer t(
      "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nred\nsne\n##aker\nboot\n##s\n,\n.\n\xe7\xba\xa2\ngr\n##un\n", {});
  return t;
}

const gluegen::text::ClipBpeTokenizer& clip_bpe() {
  static const gluegen::text::ClipBpeTokenizer t = [] {
    const auto vocab = gluegen::fuzz::as_file(
        R"({"a": 0, "r": 1, "e": 2, "d": 3, "d</w>": 4, "re": 5, "red</w>": 6, "a</w>": 7,
            "<|startoftext|>": 8, "<|endoftext|>": 9})",
        "prompt-vocab.json");
    const auto merges = gluegen::fuzz::as_file("#version: 0.2\nr e\nre d</w>\n", "prompt-merges.txt");
    return gluegen::text::ClipBpeTokenizer::from_hf_files(vocab, merges);
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view prompt = gluegen::fuzz::bytes_of(data, size);
  gluegen::fuzz::run(data, size, [&](std::string_view) { (void)wordpiece().encode(prompt, true, 16); });
  gluegen::fuzz::run(data, size, [&](std::string_view) { (void)clip_bpe().encode(prompt, true, 16); });
  return 0;
}
