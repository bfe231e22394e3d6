// docs/nn.md: compose an aligner by type, train it with AdamW and a warmup/cosine schedule on a
// synthetic alignment task, and checkpoint it (weights + optimizer state) to HDF5.
#include <gluegen/io/parameters.hpp>
#include <gluegen/losses/regression.hpp>
#include <gluegen/nn/mixer.hpp>
#include <gluegen/optim/optimizer.hpp>
#include <gluegen/optim/schedule.hpp>

#include <cassert>
#include <cstdio>

int main() {
  using namespace gluegen;
  using Tf = Tensor<float, Cpu>;
  constexpr index_t N = 64, L = 8, Ds = 24, Dt = 16;  // 64 pairs, 8 tokens, source width 24 -> target 16

  // A hidden "true" alignment: mix tokens with M [L, L], map channels with W [Ds, Dt].
  const Tf source = ops::randn<float, Cpu>({N, L, Ds}, 1);
  const Tf M = ops::randn<float, Cpu>({L, L}, 2), W = ops::scale(ops::randn<float, Cpu>({Ds, Dt}, 3), 0.2f);
  const Tf target = ops::matmul(ops::matmul(source.transpose_last2(), M, {.trans_b = true}).transpose_last2(), W);

  // Aligner: a mixer block in the source width, then a linear width map (names "0.*", "1.*").
  nn::Sequential aligner(
      nn::MixerBlock<float, Cpu>({.tokens = L, .dim = Ds, .token_hidden = 2 * L, .channel_hidden = 2 * Ds}, 7),
      nn::Linear<float, Cpu>(Ds, Dt, {.seed = 8}));
  decltype(aligner)::Cache cache;
  optim::AdamW<decltype(aligner)> opt(aligner, {.lr = 3e-3, .weight_decay = 0.01});
  const optim::Schedule schedule = optim::CosineWarmup{.warmup = 20, .total = 300};

  Tf grad;
  float first = 0, last = 0;
  for (std::int64_t step = 0; step < 300; ++step) {
    opt.set_lr(optim::learning_rate(schedule, step, 3e-3));
    nn::zero_grad(aligner);
    const float loss = losses::mse(aligner.forward(source, cache), target, grad);
    (void)aligner.backward(grad, cache);
    (void)optim::clip_grad_norm(aligner, 1.0);
    opt.step();
    if (step == 0) first = loss;
    last = loss;
  }
  std::printf("MSE %.4f -> %.4f after 300 AdamW steps\n", first, last);
  assert(last < first / 10);

  io::WeightWriter checkpoint("aligner_checkpoint.h5", {.model_type = "mixer_aligner"});
  io::save_parameters(aligner, checkpoint, "model.");
  opt.save(checkpoint);  // optimizer.step, optimizer.<name>.exp_avg / exp_avg_sq
  checkpoint.commit();
  return 0;
}
