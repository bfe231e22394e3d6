#pragma once
// One handle for the tokenizers a pretrained text encoder can come with (WordPiece for BERT-family
// vocab.txt folders, SentencePiece for XLM-R / e5 / T5, byte-level BPE for CLIP), so encoders and
// tools hold any of them.
#include <gluegen/text/clip_bpe.hpp>
#include <gluegen/text/sentencepiece.hpp>
#include <gluegen/text/wordpiece.hpp>

#include <variant>

namespace gluegen::text {

/// What every gluegen tokenizer offers.
template <typename K>
concept TextTokenizer =
    requires(const K& k, std::string_view text, const std::vector<std::string>& texts, std::int32_t id, index_t n) {
      { k.encode(text, true, n) } -> std::same_as<std::vector<std::int32_t>>;
      { k.encode_batch(texts, n, true) } -> std::same_as<TokenBatch>;
      { k.token(id) } -> std::convertible_to<std::string>;
      { k.vocab_size() } -> std::convertible_to<index_t>;
      { k.pad_id() } -> std::same_as<std::int32_t>;
    };

class Tokenizer {
 public:
  template <TextTokenizer K>
    requires(!std::same_as<std::remove_cvref_t<K>, Tokenizer>)
  Tokenizer(K tokenizer)
      : impl_(std::move(tokenizer)) {}  // NOLINT(google-explicit-constructor): a Tokenizer is either kind

  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true,
                                                 index_t max_length = 0) const {
    return std::visit([&](const auto& k) { return k.encode(text, add_special_tokens, max_length); }, impl_);
  }
  [[nodiscard]] TokenBatch encode_batch(const std::vector<std::string>& texts, index_t max_length = 0,
                                        bool pad_to_max_length = false) const {
    return std::visit([&](const auto& k) { return k.encode_batch(texts, max_length, pad_to_max_length); }, impl_);
  }
  [[nodiscard]] std::string token(std::int32_t id) const {
    return std::visit([&](const auto& k) { return std::string(k.token(id)); }, impl_);
  }
  [[nodiscard]] index_t vocab_size() const {
    return std::visit([](const auto& k) { return static_cast<index_t>(k.vocab_size()); }, impl_);
  }
  [[nodiscard]] std::int32_t pad_id() const {
    return std::visit([](const auto& k) { return k.pad_id(); }, impl_);
  }
  /// "WordPiece", "SentencePiece" or "CLIP BPE".
  [[nodiscard]] const char* kind() const noexcept {
    static constexpr std::array<const char*, 3> names{"WordPiece", "SentencePiece", "CLIP BPE"};
    return names[impl_.index()];
  }

 private:
  std::variant<WordPieceTokenizer, SentencePieceTokenizer, ClipBpeTokenizer> impl_;
};

}  // namespace gluegen::text
