// nn modules at GlueGen shapes (77 tokens x 768 channels, CLIP ViT-L/14's text space): forward, and
// forward + backward (a training step without the optimizer), on the Cpu policy. allocs/iter counts
// heap allocations per steady-state iteration (a global operator new counter): design.md section 6
// asks for none in the training loop. compare_pytorch.py runs the same configurations in PyTorch.
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/mixer.hpp>

#include "bench_util.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace gluegen;
using Tf = Tensor<float, Cpu>;

// Args: batch, tokens, dim, backward (0/1)
void BM_MixerBlock(benchmark::State& state) {
  const index_t batch = state.range(0), tokens = state.range(1), dim = state.range(2);
  const bool backward = state.range(3) != 0;
  nn::MixerBlock<float, Cpu> block({.tokens = tokens, .dim = dim, .token_hidden = 4 * tokens, .channel_hidden = 4 * dim}, 1);
  const Tf x = ops::randn<float, Cpu>({batch, tokens, dim}, 2), dy = ops::randn<float, Cpu>({batch, tokens, dim}, 3);
  nn::MixerBlock<float, Cpu>::Cache cache;
  (void)block.forward(x, cache);  // first step allocates the cache
  if (backward) (void)block.backward(dy, cache);
  const long before = g_allocations.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(block.forward(x, cache).data());
    if (backward) benchmark::DoNotOptimize(block.backward(dy, cache).data());
  }
  state.counters["allocs/iter"] = static_cast<double>(g_allocations.load() - before) / static_cast<double>(state.iterations());
  // Matmul flops: token MLP 2 x (B D L 4L) x 2, channel MLP 2 x (B L D 4D) x 2; backward twice forward.
  const double fwd = 2.0 * 2.0 * batch * dim * tokens * 4.0 * tokens + 2.0 * 2.0 * batch * tokens * dim * 4.0 * dim;
  gluegen::bench::report(state, backward ? 3 * fwd : fwd);
}
BENCHMARK(BM_MixerBlock)->Args({64, 77, 768, 0})->Args({64, 77, 768, 1})->Args({8, 77, 768, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: batch, tokens, dim, heads, backward
void BM_SelfAttention(benchmark::State& state) {
  const index_t batch = state.range(0), tokens = state.range(1), dim = state.range(2), heads = state.range(3);
  const bool backward = state.range(4) != 0;
  nn::MultiHeadAttention<float, Cpu> attn({.embed_dim = dim, .num_heads = heads}, 1);
  const Tf x = ops::randn<float, Cpu>({batch, tokens, dim}, 2), dy = ops::randn<float, Cpu>({batch, tokens, dim}, 3);
  nn::MultiHeadAttention<float, Cpu>::Cache cache;
  (void)attn.forward(x, cache);
  if (backward) (void)attn.backward(dy, cache);
  const long before = g_allocations.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(attn.forward(x, cache).data());
    if (backward) benchmark::DoNotOptimize(attn.backward(dy, cache).data());
  }
  state.counters["allocs/iter"] = static_cast<double>(g_allocations.load() - before) / static_cast<double>(state.iterations());
  const double fwd = 2.0 * batch * tokens * dim * dim * 4 + 2.0 * 2.0 * batch * tokens * tokens * dim;
  gluegen::bench::report(state, backward ? 3 * fwd : fwd);
}
BENCHMARK(BM_SelfAttention)->Args({64, 77, 768, 12, 0})->Args({64, 77, 768, 12, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: batch, in channels, out channels, size, kernel, backward. SD-UNet-like widths at small size.
void BM_Conv2d(benchmark::State& state) {
  const index_t batch = state.range(0), in = state.range(1), out = state.range(2), size = state.range(3), k = state.range(4);
  const bool backward = state.range(5) != 0;
  nn::Conv2d<float, Cpu> conv(in, out, k, {.padding = k / 2, .seed = 1});
  const Tf x = ops::randn<float, Cpu>({batch, in, size, size}, 2), dy = ops::randn<float, Cpu>({batch, out, size, size}, 3);
  nn::Conv2d<float, Cpu>::Cache cache;
  (void)conv.forward(x, cache);
  if (backward) (void)conv.backward(dy, cache);
  const long before = g_allocations.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(conv.forward(x, cache).data());
    if (backward) benchmark::DoNotOptimize(conv.backward(dy, cache).data());
  }
  state.counters["allocs/iter"] = static_cast<double>(g_allocations.load() - before) / static_cast<double>(state.iterations());
  const double fwd = 2.0 * batch * out * size * size * in * k * k;
  gluegen::bench::report(state, backward ? 3 * fwd : fwd);
}
BENCHMARK(BM_Conv2d)->Args({4, 320, 320, 32, 3, 0})->Args({4, 320, 320, 32, 3, 1})->Args({4, 320, 640, 32, 1, 0})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
