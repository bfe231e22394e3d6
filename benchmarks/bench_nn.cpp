// nn modules at GlueGen shapes (77 tokens x 768 channels, CLIP ViT-L/14's text space): forward, and
// forward + backward (a training step without the optimizer), on the Cpu policy. allocs/iter counts
// heap allocations per steady-state iteration (a global operator new counter): design.md section 6
// asks for none in the training loop. compare_pytorch.py runs the same configurations in PyTorch.
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/mixer.hpp>
#include <gluegen/optim/optimizer.hpp>

#include "bench_util.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> g_allocations{0}, g_allocated_bytes{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_allocated_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// Tensor storage (64-byte aligned) comes through here.
void* operator new(std::size_t n, std::align_val_t al) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_allocated_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
  if (void* p = std::aligned_alloc(
          static_cast<std::size_t>(al),
          (n + static_cast<std::size_t>(al) - 1) / static_cast<std::size_t>(al) * static_cast<std::size_t>(al)))
    return p;
  throw std::bad_alloc();
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

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
  const long before = g_allocations.load(), bytes_before = g_allocated_bytes.load();
  for (auto _ : state) {
    benchmark::DoNotOptimize(layer.forward(x, cache).data());
    if (backward) benchmark::DoNotOptimize(layer.backward(dy, cache).data());
  }
  const auto iters = static_cast<double>(state.iterations());
  state.counters["allocs/iter"] = static_cast<double>(g_allocations.load() - before) / iters;
  state.counters["MB alloc/iter"] = static_cast<double>(g_allocated_bytes.load() - bytes_before) / iters / 1e6;
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

// Issue 7's speed goal: one GlueNet training step (encoder, decoder, discriminator: forward, backward
// and an AdamW update) and single-sentence inference. Args: batch, source tokens, source width,
// target tokens, target width, depth. GlueNet-5RM: XLM-R-large 128 x 1024 -> CLIP 77 x 768, depth 5.
aligners::GlueNetConfig gluenet_config(const benchmark::State& state) {
  return {.num_tok = state.range(1),
          .num_tok_target = state.range(3),
          .dim_source = state.range(2),
          .dim_target = state.range(4),
          .mult = 2,
          .depth = state.range(5)};
}

void BM_GlueNetTrainStep(benchmark::State& state) {
  const auto cfg = gluenet_config(state);
  const index_t batch = state.range(0);
  aligners::GlueNet<float, Cpu> net(cfg, 1);
  optim::AdamW<aligners::GlueNet<float, Cpu>> opt(net, {.lr = 1e-4});
  const Tf source = ops::randn<float, Cpu>({batch, cfg.num_tok, cfg.dim_source}, 2);
  const Tf target = ops::randn<float, Cpu>({batch, cfg.target_tokens(), cfg.dim_target}, 3);
  const Tf mask = Tf::full({batch, cfg.target_tokens()}, 1.0f);
  aligners::GlueNet<float, Cpu>::Cache cache;
  const auto step = [&] {
    nn::zero_grad(net);
    benchmark::DoNotOptimize(net.train_step(source, mask, target, mask, cache).total());
    opt.step();
  };
  step();
  const long before = g_allocations.load(), bytes_before = g_allocated_bytes.load();
  for (auto _ : state) step();
  const auto iters = static_cast<double>(state.iterations());
  state.counters["allocs/iter"] = static_cast<double>(g_allocations.load() - before) / iters;
  state.counters["MB alloc/iter"] = static_cast<double>(g_allocated_bytes.load() - bytes_before) / iters / 1e6;
  state.counters["examples/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["parameters"] = static_cast<double>(nn::count_parameters(net).total);
}
BENCHMARK(BM_GlueNetTrainStep)
    ->Args({64, 128, 1024, 77, 768, 5})
    ->Args({8, 77, 1024, 77, 768, 3})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_GlueNetAlign(benchmark::State& state) {
  const auto cfg = gluenet_config(state);
  aligners::GlueNet<float, Cpu> net(cfg, 1);
  const Tf source = ops::randn<float, Cpu>({state.range(0), cfg.num_tok, cfg.dim_source}, 2);
  aligners::GlueNet<float, Cpu>::Cache cache;
  benchmark::DoNotOptimize(net.align(source, cache).data());
  for (auto _ : state) benchmark::DoNotOptimize(net.align(source, cache).data());
}
BENCHMARK(BM_GlueNetAlign)->Args({1, 128, 1024, 77, 768, 5})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
