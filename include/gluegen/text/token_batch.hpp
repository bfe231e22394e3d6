#pragma once
// A padded batch of token ids, as every tokenizer returns it and every encoder takes it.
#include <gluegen/tensor/cpu.hpp>
#include <gluegen/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace gluegen::text {

struct TokenBatch {
  Tensor<std::int32_t, Cpu> input_ids;       ///< [B, L], right-padded with the pad id
  Tensor<std::int32_t, Cpu> attention_mask;  ///< [B, L], 1 = real token

  /// Right-pads `sequences` with `pad_id` to the longest (or to `length` when larger).
  static TokenBatch pad(const std::vector<std::vector<std::int32_t>>& sequences, std::int32_t pad_id,
                        index_t length = 0) {
    index_t L = length;
    for (const auto& s : sequences) L = std::max<index_t>(L, static_cast<index_t>(s.size()));
    const auto B = static_cast<index_t>(sequences.size());
    std::vector<std::int32_t> ids(static_cast<std::size_t>(B * L), pad_id), mask(static_cast<std::size_t>(B * L), 0);
    for (index_t b = 0; b < B; ++b)
      for (std::size_t l = 0; l < sequences[static_cast<std::size_t>(b)].size(); ++l) {
        ids[static_cast<std::size_t>(b * L) + l] = sequences[static_cast<std::size_t>(b)][l];
        mask[static_cast<std::size_t>(b * L) + l] = 1;
      }
    return {Tensor<std::int32_t, Cpu>::from_host({B, L}, ids), Tensor<std::int32_t, Cpu>::from_host({B, L}, mask)};
  }
};

}  // namespace gluegen::text
