#pragma once
// What every text encoder shares: the checked token batch going in (ids inside the vocabulary, a
// 0/1 mask), the EncoderOutput coming out (token features, mask, pooled vectors), mean pooling,
// and reading a Hugging Face model's weights by their names under a prefix.
#include <gluegen/nn/module.hpp>

#include <string>
#include <vector>

namespace gluegen::encoders {

/// Token features, their padding mask and the pooled sentence vectors of one batch.
template <ComputeElement T, TensorPolicy P>
struct EncoderOutput {
  Tensor<T, P> last_hidden_state;  ///< [B, L, D]
  Tensor<T, P> mask;               ///< [B, L], 1 = real token
  Tensor<T, P> mean_pooled;        ///< [B, D]: mean of the real tokens (sentence-transformers' pooling)
  Tensor<T, P> pooler_output;      ///< [B, D]: the model's own pooled vector, where it has one
};

/// A token batch checked against a model: host ids and the mask in the compute type.
template <ComputeElement T>
struct CheckedTokens {
  index_t batch = 0, length = 0;
  std::vector<std::int32_t> ids;
  std::vector<T> mask;
};

/// input_ids and attention_mask [B, L], ids in [0, vocab_size), at most max_length tokens; `who`
/// names the model in the errors.
template <ComputeElement T>
CheckedTokens<T> check_tokens(const char* who, const Tensor<std::int32_t, Cpu>& input_ids,
                              const Tensor<std::int32_t, Cpu>& attention_mask, index_t vocab_size, index_t max_length) {
  GLUEGEN_CHECK_AS(ShapeError, input_ids.rank() == 2 && attention_mask.shape() == input_ids.shape(),
                   "{}: input_ids {} and attention_mask {} must both be [B, L]", who, input_ids.shape(),
                   attention_mask.shape());
  CheckedTokens<T> t{.batch = input_ids.size(0), .length = input_ids.size(1), .ids = input_ids.to_vector(), .mask = {}};
  GLUEGEN_CHECK_AS(ShapeError, t.length <= max_length, "{}: {} tokens exceed the model's {} positions", who, t.length,
                   max_length);
  const auto m = attention_mask.to_vector();
  t.mask.resize(m.size());
  for (std::size_t k = 0; k < m.size(); ++k) {
    GLUEGEN_CHECK_AS(ValueError, t.ids[k] >= 0 && t.ids[k] < vocab_size,
                     "{}: token id {} at [{}, {}] is outside the vocabulary (size {})", who, t.ids[k],
                     static_cast<index_t>(k) / t.length, static_cast<index_t>(k) % t.length, vocab_size);
    t.mask[k] = m[k] != 0 ? T(1) : T(0);
  }
  return t;
}

/// sum_l mask h_l / sum_l mask, per sentence: h [B, L, D], mask [B, L] -> [B, D].
template <ComputeElement T, TensorPolicy P>
Tensor<T, P> mean_pool(const Tensor<T, P>& h, const Tensor<T, P>& mask) {
  const index_t B = h.size(0), L = h.size(1);
  const Tensor<T, P> summed = ops::matmul(mask.reshape({B, 1, L}), h);  // [B, 1, D]
  const std::vector<T> counts = mask.to_vector();
  std::vector<T> inv(static_cast<std::size_t>(B), T(0));
  for (index_t b = 0; b < B; ++b) {
    T n = 0;
    for (index_t l = 0; l < L; ++l) n += counts[static_cast<std::size_t>(b * L + l)];
    inv[static_cast<std::size_t>(b)] = T(1) / std::max(n, T(1e-9));  // sentence-transformers clamps at 1e-9
  }
  return ops::mul(summed, Tensor<T, P>::from_host({B, 1, 1}, inv)).reshape({B, h.size(2)});
}

/// Reads every parameter of `model` from `weights` (io::SafetensorsReader, io::WeightReader) at
/// `prefix` + its name.
template <nn::Module M, typename Reader>
void read_weights(M& model, const Reader& weights, const std::string& prefix = "") {
  model.visit_parameters([&](const std::string& name, auto& param) { weights.read_into(prefix + name, param.value); },
                         "");
}

}  // namespace gluegen::encoders
