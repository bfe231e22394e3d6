#pragma once
// Special-token text in a tokenizer's input ("[SEP]", "<s>", "<mask>") is matched verbatim before
// any normalisation, as Hugging Face matches its added tokens, and stays one token.
#include <string>
#include <string_view>
#include <vector>

namespace gluegen::text {

/// Walks `text` left to right: on_text(segment) for each stretch between special tokens (also the
/// empty ones), on_special(token) for each match; at one position the longest special wins.
template <typename OnText, typename OnSpecial>
void split_special_tokens(std::string_view text, const std::vector<std::string>& specials, OnText&& on_text,
                          OnSpecial&& on_special) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t hit = std::string_view::npos;
    const std::string* which = nullptr;
    for (const std::string& special : specials) {
      const std::size_t at = text.find(special, start);
      if (at < hit || (at == hit && which && special.size() > which->size())) {
        hit = at;
        which = &special;
      }
    }
    on_text(text.substr(start, hit == std::string_view::npos ? std::string_view::npos : hit - start));
    if (hit == std::string_view::npos) return;
    on_special(*which);
    start = hit + which->size();
  }
}

}  // namespace gluegen::text
