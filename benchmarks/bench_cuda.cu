// The Cuda policy: GEMM in f32 (exact) and f16/bf16 (tensor cores, f32 accumulation) on GlueGen
// shapes, and the row kernels. Each iteration synchronises, so times are device times. Reports used
// device memory. Without a GPU it prints "skipped: no CUDA device" and exits 0.
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/mixer.hpp>
#include <gluegen/tensor/cuda.cuh>
#include <gluegen/tensor.hpp>

#include "bench_util.hpp"

#include <fmt/format.h>

namespace {

using namespace gluegen;

double device_used_mib() {
  std::size_t free_bytes = 0, total = 0;
  cudaMemGetInfo(&free_bytes, &total);
  return static_cast<double>(total - free_bytes) / (1 << 20);
}

template <typename T>
void BM_CudaMatmul(benchmark::State& state) {
  const index_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto a = ops::transfer<Cuda>(ops::randn<float, Cpu>({m, k}, 1).cast<T>());
  const auto b = ops::transfer<Cuda>(ops::randn<float, Cpu>({k, n}, 2).cast<T>());
  Tensor<T, Cuda> c;
  for (auto _ : state) {
    ops::matmul(a, b, c);
    GLUEGEN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  gluegen::bench::report(state, 2.0 * m * n * k);
  state.counters["device_MiB"] = device_used_mib();
}
#define GEMM_SHAPES                 \
  ->Args({4096, 4096, 4096})        \
      ->Args({64 * 77, 768, 768})   \
      ->Args({64 * 77, 3072, 768})  \
      ->Args({64 * 128, 768, 1024}) \
      ->UseRealTime()               \
      ->Unit(benchmark::kMicrosecond)
BENCHMARK(BM_CudaMatmul<float>) GEMM_SHAPES;
BENCHMARK(BM_CudaMatmul<f16>) GEMM_SHAPES;
BENCHMARK(BM_CudaMatmul<bf16>) GEMM_SHAPES;

void BM_CudaLayerNorm(benchmark::State& state) {
  const auto x = ops::randn<float, Cuda>({64, 77, 768}, 1);
  const auto g = Tensor<float, Cuda>::full({768}, 1.0f), b = Tensor<float, Cuda>::zeros({768});
  Tensor<float, Cuda> y, mean, rstd;
  for (auto _ : state) {
    ops::layer_norm(x, g, b, 1e-5f, y, mean, rstd);
    GLUEGEN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  gluegen::bench::report(state, 0, 2.0 * x.numel() * sizeof(float));
}
BENCHMARK(BM_CudaLayerNorm)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_CudaSoftmax(benchmark::State& state) {
  const auto x = ops::randn<float, Cuda>({64 * 12, 77, 77}, 1);
  Tensor<float, Cuda> y;
  for (auto _ : state) {
    ops::softmax_last(x, y);
    GLUEGEN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  gluegen::bench::report(state, 0, 2.0 * x.numel() * sizeof(float));
}
BENCHMARK(BM_CudaSoftmax)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_CudaGelu(benchmark::State& state) {
  const auto x = ops::randn<float, Cuda>({64, 77, 3072}, 1);
  Tensor<float, Cuda> y;
  for (auto _ : state) {
    ops::gelu(x, y);
    GLUEGEN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  gluegen::bench::report(state, 0, 2.0 * x.numel() * sizeof(float));
}
BENCHMARK(BM_CudaGelu)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// One forward + backward of a layer (a training step without the optimizer), as bench_nn on the CPU.
template <typename L>
void train_step(benchmark::State& state, L& layer, const Shape& x_shape, double flops) {
  const auto x = ops::randn<float, Cuda>(x_shape, 2);
  typename L::Cache cache;
  const auto dy = ops::randn<float, Cuda>(layer.forward(x, cache).shape(), 3);
  (void)layer.backward(dy, cache);
  for (auto _ : state) {
    (void)layer.forward(x, cache);
    (void)layer.backward(dy, cache);
    GLUEGEN_CUDA_CHECK(cudaDeviceSynchronize());
  }
  gluegen::bench::report(state, flops);
  state.counters["device_MiB"] = device_used_mib();
}

void BM_CudaMixerBlockTrainStep(benchmark::State& state) {
  nn::MixerBlock<float, Cuda> block({.tokens = 77, .dim = 768, .token_hidden = 308, .channel_hidden = 3072}, 1);
  train_step(state, block, {64, 77, 768}, 3 * (2.0 * 2 * 64 * 768 * 77 * 308 + 2.0 * 2 * 64 * 77 * 768 * 3072));
}
BENCHMARK(BM_CudaMixerBlockTrainStep)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_CudaSelfAttentionTrainStep(benchmark::State& state) {
  nn::MultiHeadAttention<float, Cuda> attn({.embed_dim = 768, .num_heads = 12}, 1);
  train_step(state, attn, {64, 77, 768}, 3 * (2.0 * 64 * 77 * 768 * 768 * 4 + 2.0 * 2 * 64 * 77 * 77 * 768));
}
BENCHMARK(BM_CudaSelfAttentionTrainStep)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_CudaConv2dTrainStep(benchmark::State& state) {
  nn::Conv2d<float, Cuda> conv(320, 320, 3, {.padding = 1, .seed = 1});
  train_step(state, conv, {4, 320, 32, 32}, 3 * 2.0 * 4 * 320 * 1024 * 320 * 9);
}
BENCHMARK(BM_CudaConv2dTrainStep)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  if (!cuda_device_available()) {
    fmt::print("bench_cuda: skipped: no CUDA device\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
