#pragma once
// Any encoder model that takes token ids and a mask (BertEncoder, T5Encoder, ClipTextEncoder) with
// the tokenizer it was trained with: a TextEncoder, so a T5 or CLIP text model is a pipeline's source
// encoder as the BERT family's HfTextEncoder is. The model and tokenizer are loaded by the caller
// (load_t5_weights, load_clip_text_weights, ...).
#include <gluegen/encoders/bert.hpp>
#include <gluegen/encoders/clip_text.hpp>
#include <gluegen/encoders/concepts.hpp>
#include <gluegen/encoders/t5.hpp>
#include <gluegen/text/tokenizer.hpp>

namespace gluegen::encoders {

template <typename Model>
  requires requires(Model& m, const Tensor<std::int32_t, Cpu>& ids, typename Model::Cache& c) {
    { m.forward(ids, ids, c) } -> std::same_as<EncoderOutput<typename Model::value_type, typename Model::policy>>;
  }
class TokenizedEncoder {
 public:
  using value_type = typename Model::value_type;
  using policy = typename Model::policy;

  TokenizedEncoder(Model model, text::Tokenizer tokenizer, std::string name)
      : model_(std::move(model)), tokenizer_(std::move(tokenizer)), name_(std::move(name)) {}

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] index_t width() const noexcept {
    if constexpr (requires { model_.config().d_model; })
      return model_.config().d_model;  // T5
    else
      return model_.config().hidden_size;
  }
  [[nodiscard]] const text::Tokenizer& tokenizer() const noexcept { return tokenizer_; }
  [[nodiscard]] Model& model() noexcept { return model_; }

  /// texts -> features [B, length, width()] and mask: the tokenizer's template, truncated to
  /// `length` and right-padded to it.
  EncoderOutput<value_type, policy> encode(const std::vector<std::string>& texts, index_t length) {
    GLUEGEN_CHECK_AS(ValueError, length >= 2, "{}: length {} must be at least 2", name_, length);
    const text::TokenBatch batch = tokenizer_.encode_batch(texts, length, true);
    return model_.forward(batch.input_ids, batch.attention_mask, cache_);
  }

 private:
  Model model_;
  text::Tokenizer tokenizer_;
  std::string name_;
  typename Model::Cache cache_;
};

static_assert(TextEncoder<TokenizedEncoder<T5Encoder<float, Cpu>>> &&
              TextEncoder<TokenizedEncoder<ClipTextEncoder<float, Cpu>>> &&
              TextEncoder<TokenizedEncoder<BertEncoder<float, Cpu>>>);

}  // namespace gluegen::encoders
