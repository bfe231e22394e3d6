#pragma once
// The language models' backward against central finite differences (double): every trainable
// parameter of the full encoder, or, after add_lora, every LoRA tensor, on a padded batch.
#include <gluegen/nn/module.hpp>

#include <gtest/gtest.h>

#include <string>

#include "support/gradcheck.hpp"

namespace gluegen::test {

/// Two sequences of 5 ids, the second padded (ids below every tiny vocabulary).
inline std::pair<Tensor<std::int32_t, Cpu>, Tensor<std::int32_t, Cpu>> padded_token_batch() {
  return {Tensor<std::int32_t, Cpu>::from_host({2, 5}, std::vector<std::int32_t>{2, 17, 33, 41, 3, 2, 25, 3, 0, 0}),
          Tensor<std::int32_t, Cpu>::from_host({2, 5}, std::vector<std::int32_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0})};
}

/// Randomises `encoder`'s weights; with `lora`, injects rank-2 LoRA and randomises every lora_B too
/// (B = 0 would hide dL/dA). Then checks each trainable parameter's gradient of <last_hidden_state,
/// dy> against finite differences, leaving out names starting with `not_differentiated`, and
/// returns how many it checked. Without LoRA, parameters under `freeze` are frozen first.
template <typename Encoder>
index_t expect_encoder_gradients_match(Encoder& encoder, bool lora, const std::string& freeze = "",
                                       const std::string& not_differentiated = "") {
  const auto [ids, mask] = padded_token_batch();
  std::uint64_t stream = 0;
  encoder.visit_parameters(
      [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 7, 0.0, 0.3, stream++); }, "");
  if (lora) {
    (void)encoder.add_lora({.rank = 2, .alpha = 4, .seed = 3});
    encoder.visit_parameters(
        [&](const std::string& n, nn::Param<double, Cpu>& p) {
          if (n.find("lora_B") != std::string::npos) ops::fill_normal(p.value, 8, 0.0, 0.3, stream++);
        },
        "");
  } else if (!freeze.empty()) {
    nn::freeze(encoder, freeze);
  }
  typename Encoder::Cache cache;
  const auto y = encoder.forward(ids, mask, cache).last_hidden_state;
  const Td dy = ops::randn<double, Cpu>(y.shape(), 9);
  nn::zero_grad(encoder);
  encoder.backward(dy, cache);
  const auto loss = [&] {
    typename Encoder::Cache fresh;
    return dot(encoder.forward(ids, mask, fresh).last_hidden_state, dy);
  };
  index_t checked = 0;
  encoder.visit_parameters(
      [&](const std::string& n, nn::Param<double, Cpu>& p) {
        if (!p.trainable) {
          EXPECT_FALSE(p.has_grad()) << n;
          return;
        }
        if (!not_differentiated.empty() && n.starts_with(not_differentiated)) return;
        EXPECT_TRUE(fd_matches(loss, p.value, p.grad, n, 6));
        ++checked;
      },
      "");
  return checked;
}

}  // namespace gluegen::test
