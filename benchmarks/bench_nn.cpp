// nn modules at GlueGen shapes (77 tokens x 768 channels, CLIP ViT-L/14's text space): forward, and
// forward + backward (a training step without the optimizer), on the Cpu policy. allocs/iter counts
// heap allocations per steady-state iteration (allocation_counter.hpp): design.md section 6 asks for
// none in the training loop. compare_pytorch.py runs the same configurations in PyTorch; the aligners
// (GlueNet and the others) are in bench_aligners.cpp.
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/mixer.hpp>
#include <gluegen/optim/optimizer.hpp>

#include "allocation_counter.hpp"
#include "bench_util.hpp"

namespace {

using namespace gluegen;
using Tf = Tensor<float, Cpu>;

/// Times forward (and backward) of a layer after one warm-up step that allocates its cache, and
/// counts heap allocations per steady-state iteration.
template <typename L>
void measure(benchmark::State& state, L& layer, const Shape& x_shape, bool backward, double forward_flops) {
  const Tf x = ops::randn<float, Cpu>(x_shape, 2);
  typename L::Cache cache;
  const Tf dy = ops::randn<float, Cpu>(layer.forward(x, cache).shape(), 3);
  if (backward) (void)layer.backward(dy, cache);
  const long before = bench::g_allocations.load(), bytes_before = bench::g_allocated_bytes.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(layer.forward(x, cache).data());
    if (backward) benchmark::DoNotOptimize(layer.backward(dy, cache).data());
  }
  bench::report_allocations(state, before, bytes_before);
  gluegen::bench::report(state, backward ? 3 * forward_flops : forward_flops);  // backward costs twice the forward
}

// Args: batch, tokens, dim, backward (0/1)
void BM_MixerBlock(benchmark::State& state) {
  const index_t batch = state.range(0), tokens = state.range(1), dim = state.range(2);
  const bool backward = state.range(3) != 0;
  nn::MixerBlock<float, Cpu> block(
      {.tokens = tokens, .dim = dim, .token_hidden = 4 * tokens, .channel_hidden = 4 * dim}, 1);
  // Matmul flops: token MLP 2 x (B D L 4L) x 2, channel MLP 2 x (B L D 4D) x 2.
  measure(state, block, {batch, tokens, dim}, backward,
          2.0 * 2.0 * batch * dim * tokens * 4.0 * tokens + 2.0 * 2.0 * batch * tokens * dim * 4.0 * dim);
}
BENCHMARK(BM_MixerBlock)
    ->Args({64, 77, 768, 0})
    ->Args({64, 77, 768, 1})
    ->Args({8, 77, 768, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: batch, tokens, dim, heads, backward
void BM_SelfAttention(benchmark::State& state) {
  const index_t batch = state.range(0), tokens = state.range(1), dim = state.range(2), heads = state.range(3);
  const bool backward = state.range(4) != 0;
  nn::MultiHeadAttention<float, Cpu> attn({.embed_dim = dim, .num_heads = heads}, 1);
  measure(state, attn, {batch, tokens, dim}, backward,
          2.0 * batch * tokens * dim * dim * 4 + 2.0 * 2.0 * batch * tokens * tokens * dim);
}
BENCHMARK(BM_SelfAttention)
    ->Args({64, 77, 768, 12, 0})
    ->Args({64, 77, 768, 12, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Args: batch, in channels, out channels, size, kernel, backward. SD-UNet-like widths at small size.
void BM_Conv2d(benchmark::State& state) {
  const index_t batch = state.range(0), in = state.range(1), out = state.range(2), size = state.range(3),
                k = state.range(4);
  const bool backward = state.range(5) != 0;
  nn::Conv2d<float, Cpu> conv(in, out, k, {.padding = k / 2, .seed = 1});
  measure(state, conv, {batch, in, size, size}, backward, 2.0 * batch * out * size * size * in * k * k);
}
BENCHMARK(BM_Conv2d)
    ->Args({4, 320, 320, 32, 3, 0})
    ->Args({4, 320, 320, 32, 3, 1})
    ->Args({4, 320, 640, 32, 1, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
