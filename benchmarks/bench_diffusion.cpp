// The diffusion decoder on the Cpu policy: one UNet2DCondition evaluation (a sampling step without
// guidance), and one epsilon-prediction training step (forward, MSE gradient, backward, AdamW), on
//   tiny:     the test suite's SD 1.x layout in miniature (channels 8/16/16, 2 layers, 16x16, cross 12)
//   sd_width: SD 1.x's widths on two levels (320/640, 1 layer, 8 heads, cross 768) at 16x16 latents
//   pixel32:  gluegen's default pixel-space decoder (docs/diffusion.md): 3x32x32, 32/64/64, cross 384
// compare_pytorch.py times the same models in diffusers on this machine.
#include <gluegen/diffusion/unet.hpp>
#include <gluegen/optim/optimizer.hpp>

#include "bench_util.hpp"

namespace {

using namespace gluegen;
using diffusion::UNet2DConditionConfig;

struct Case {
  UNet2DConditionConfig cfg;
  index_t batch, size, context_len;
};

Case make_case(int which) {
  UNet2DConditionConfig c;
  if (which == 0) {
    c.block_out_channels = {8, 16, 16};
    c.down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"};
    c.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
    c.heads = {2, 2, 2};
    c.transformer_layers_per_block = {1, 1, 1};
    c.norm_num_groups = 4;
    c.cross_attention_dim = 12;
    return {c, 2, 16, 5};
  }
  if (which == 1) {
    c.block_out_channels = {320, 640};
    c.down_block_types = {"CrossAttnDownBlock2D", "DownBlock2D"};
    c.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D"};
    c.layers_per_block = 1;
    c.heads = {8, 8};
    c.transformer_layers_per_block = {1, 1};
    c.cross_attention_dim = 768;
    return {c, 1, 16, 77};
  }
  c.in_channels = c.out_channels = 3;
  c.block_out_channels = {32, 64, 64};
  c.down_block_types = {"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"};
  c.up_block_types = {"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"};
  c.layers_per_block = 1;
  c.heads = {4, 4, 4};
  c.transformer_layers_per_block = {1, 1, 1};
  c.norm_num_groups = 8;
  c.cross_attention_dim = 384;
  return {c, 16, 32, 16};
}

void BM_UNetForward(benchmark::State& state) {
  const Case k = make_case(static_cast<int>(state.range(0)));
  diffusion::UNet2DCondition<float, Cpu> unet(k.cfg, 1);
  const auto x = ops::randn<float, Cpu>({k.batch, k.cfg.in_channels, k.size, k.size}, 2);
  const auto ctx = ops::randn<float, Cpu>({k.batch, k.context_len, k.cfg.cross_attention_dim}, 3);
  const std::vector<double> t{500.0};
  diffusion::UNet2DCondition<float, Cpu>::Cache cache;
  for (auto _ : state) benchmark::DoNotOptimize(unet.forward(x, t, ctx, cache).data());
  state.counters["params_M"] = static_cast<double>(nn::count_parameters(unet).total) / 1e6;
  bench::report(state, 0);
}

void BM_UNetTrainStep(benchmark::State& state) {
  const Case k = make_case(static_cast<int>(state.range(0)));
  diffusion::UNet2DCondition<float, Cpu> unet(k.cfg, 1);
  optim::AdamW<diffusion::UNet2DCondition<float, Cpu>> opt(unet, {.lr = 1e-4});
  const auto x = ops::randn<float, Cpu>({k.batch, k.cfg.in_channels, k.size, k.size}, 2);
  const auto noise = ops::randn<float, Cpu>(x.shape(), 4);
  const auto ctx = ops::randn<float, Cpu>({k.batch, k.context_len, k.cfg.cross_attention_dim}, 3);
  std::vector<double> t(static_cast<std::size_t>(k.batch));
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<double>(37 * i % 1000);
  diffusion::UNet2DCondition<float, Cpu>::Cache cache;
  Tensor<float, Cpu> dy;
  for (auto _ : state) {
    nn::zero_grad(unet);
    ops::sub(unet.forward(x, t, ctx, cache), noise, dy);  // d/d eps_hat of mean((eps_hat - eps)^2)
    ops::scale(dy, 2.0f / static_cast<float>(dy.numel()), dy);
    unet.backward(dy, cache);
    opt.step();
  }
  bench::report(state, 0);
}

}  // namespace

BENCHMARK(BM_UNetForward)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_UNetTrainStep)->ArgName("config")->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
