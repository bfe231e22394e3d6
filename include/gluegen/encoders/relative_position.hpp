#pragma once
// The relative-position attention bias of T5 (Raffel et al. 2020, section 2.1), which MPNet (Song et
// al. 2020) reuses: every (query q, key k) pair falls into a bucket of the signed distance k - q
// (bidirectional: half the buckets per direction, exact below num_buckets / 4, then logarithmic up
// to max_distance, clamped beyond), and a learned table holds one scalar per bucket and head, added
// to that pair's attention score in every layer.
#include <gluegen/nn/embedding.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace gluegen::encoders {

struct RelativePositionBuckets {
  index_t num_buckets = 32, max_distance = 128;

  /// The bucket of key position k relative to query position q (transformers'
  /// _relative_position_bucket / MPNet's relative_position_bucket), with its float32 logarithm
  /// truncated as there.
  [[nodiscard]] index_t bucket(index_t q, index_t k) const {
    const index_t half = num_buckets / 2;
    index_t relative = k - q, result = relative > 0 ? half : 0;
    relative = std::abs(relative);
    const index_t max_exact = half / 2;
    if (relative < max_exact) return result + relative;
    const float large =
        static_cast<float>(max_exact) + std::log(static_cast<float>(relative) / static_cast<float>(max_exact)) /
                                            std::log(static_cast<float>(max_distance) / static_cast<float>(max_exact)) *
                                            static_cast<float>(half - max_exact);
    return result + std::min<index_t>(static_cast<index_t>(large), half - 1);
  }

  /// The additive bias [H, L, L] of a sequence of length L from the learned table [num_buckets, H].
  template <ComputeElement T, TensorPolicy P>
  [[nodiscard]] Tensor<T, P> bias(const nn::Embedding<T, P>& table, index_t length) const {
    const index_t heads = table.weight.value.size(1);
    GLUEGEN_CHECK_AS(ShapeError, table.weight.value.size(0) == num_buckets,
                     "relative position bias: the table has {} buckets, expected {}", table.weight.value.size(0),
                     num_buckets);
    const auto values = table.weight.value.to_vector();
    std::vector<T> out(static_cast<std::size_t>(heads * length * length));
    for (index_t q = 0; q < length; ++q)
      for (index_t k = 0; k < length; ++k) {
        const index_t b = bucket(q, k);
        for (index_t h = 0; h < heads; ++h)
          out[static_cast<std::size_t>((h * length + q) * length + k)] =
              values[static_cast<std::size_t>(b * heads + h)];
      }
    return Tensor<T, P>::from_host({heads, length, length}, out);
  }
};

}  // namespace gluegen::encoders
