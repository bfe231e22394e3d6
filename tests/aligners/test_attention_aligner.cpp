// aligners/attention.hpp: the Perceiver-resampler aligner against a PyTorch re-implementation (with a
// key-padding mask), finite differences, and padded source tokens receiving no gradient.
#include <gluegen/aligners/attention.hpp>
#include <gluegen/io/parameters.hpp>

#include "support/goldens.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"
#include "support/train.hpp"

namespace gluegen::test {
namespace {

using aligners::AttentionAligner;

const aligners::AttentionAlignerConfig kAttentionConfig{
    .dim_source = 6, .dim = 8, .dim_target = 5, .num_queries = 3, .heads = 2, .depth = 2};

TEST(AttentionAligner, MatchesPyTorchWithAPaddingMask) {
  AttentionAligner<float, Cpu> aligner(kAttentionConfig);
  const std::string name = "attention_aligner";
  io::load_parameters(aligner, nn_goldens(), name + ".params.");
  const auto x = nn_goldens().read<float>(name + ".x"), mask = nn_goldens().read<float>(name + ".mask");
  AttentionAligner<float, Cpu>::Cache cache;
  EXPECT_TRUE(
      all_close(aligner.forward(x, &mask, cache).to_vector(), nn_goldens().read<float>(name + ".y").to_vector(), 1e-5));
  nn::zero_grad(aligner);
  const auto dx = aligner.backward(nn_goldens().read<float>(name + ".dy"), cache).clone();
  EXPECT_TRUE(all_close(dx.to_vector(), nn_goldens().read<float>(name + ".dx").to_vector(), 1e-5));
  aligner.visit_parameters(
      [&](const std::string& param, nn::Param<float, Cpu>& p) {
        EXPECT_TRUE(all_close(p.grad.to_vector(), nn_goldens().read<float>(name + ".grads." + param).to_vector(), 1e-5))
            << param;
      },
      "");
  // Padded source tokens (mask 0) are never attended to, so they get exactly zero gradient.
  const auto g = dx.to_vector(), m = mask.to_vector();
  for (std::size_t token = 0; token < m.size(); ++token) {
    if (m[token] != 0) continue;
    for (int k = 0; k < 6; ++k) EXPECT_EQ(g[token * 6 + k], 0.0f) << "padded token " << token;
  }
}

TEST(AttentionAligner, GradientsMatchFiniteDifferences) {
  AttentionAligner<double, Cpu> aligner(
      {.dim_source = 5, .dim = 6, .dim_target = 4, .num_queries = 3, .heads = 2, .depth = 2}, 3);
  expect_layer_gradients(aligner, {2, 7, 5}, 100, "AttentionAligner");
  EXPECT_EQ(nn::parameter_names(aligner).front(), "queries");
  AttentionAligner<float, Cpu>::Cache cache;
  AttentionAligner<float, Cpu> f(kAttentionConfig);
  EXPECT_THROW((void)f.forward(Tensor<float, Cpu>::zeros({2, 7, 5}), cache), ShapeError);
}

// A known alignment from 6 source tokens x 12 to 3 target tokens x 8 (a token mix and a channel map):
// AdamW drives L_mse down by more than 100x in 400 steps (measured: about 1650x).
TEST(AttentionAligner, LearnsASyntheticAlignment) {
  using Tf = Tensor<float, Cpu>;
  constexpr index_t N = 32, Ls = 6, Lt = 3, Ds = 12, Dt = 8;
  const Tf source = ops::randn<float, Cpu>({N, Ls, Ds}, 1);
  const Tf mix = ops::scale(ops::randn<float, Cpu>({Lt, Ls}, 2), 0.4f),
           map = ops::scale(ops::randn<float, Cpu>({Ds, Dt}, 3), 0.3f);
  const Tf target = ops::matmul(ops::matmul(mix, source), map);
  AttentionAligner<float, Cpu> aligner(
      {.dim_source = Ds, .dim = 16, .dim_target = Dt, .num_queries = Lt, .heads = 2, .depth = 2}, 5);
  const auto [first, last] = train_mse(aligner, source, target, 3e-3, 400);
  RecordProperty("final_mse", fmt::format("{:.9g}", last));
  EXPECT_LT(last, first / 100) << "L_mse " << first << " -> " << last;
}

}  // namespace
}  // namespace gluegen::test
