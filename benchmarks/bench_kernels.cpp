// Elementwise and row-wise kernels of the Cpu policy on GlueGen-sized activations
// (batch 64 x 77 tokens x 768 channels = 3.8M floats, 15 MiB: larger than the L2 and most L3 slices,
// so these are memory-bound and GB/s is the figure of merit).
#include <gluegen/tensor.hpp>

#include "bench_util.hpp"

namespace {

using namespace gluegen;
using Tf = Tensor<float, Cpu>;

const Shape kActivations{64, 77, 768};
constexpr double kBytes = 64.0 * 77 * 768 * sizeof(float);

void BM_AddBroadcastBias(benchmark::State& state) {
  const Tf x = ops::randn<float, Cpu>(kActivations, 1), bias = ops::randn<float, Cpu>({768}, 2);
  Tf y;
  for (auto _ : state) {
    ops::add(x, bias, y);
    benchmark::DoNotOptimize(y.data());
  }
  gluegen::bench::report(state, 0, 2 * kBytes);  // read x, write y
}
BENCHMARK(BM_AddBroadcastBias)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_AddSameShape(benchmark::State& state) {
  const Tf a = ops::randn<float, Cpu>(kActivations, 1), b = ops::randn<float, Cpu>(kActivations, 2);
  Tf y;
  for (auto _ : state) {
    ops::add(a, b, y);
    benchmark::DoNotOptimize(y.data());
  }
  gluegen::bench::report(state, 0, 3 * kBytes);
}
BENCHMARK(BM_AddSameShape)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Gelu(benchmark::State& state) {
  const auto approx = state.range(0) == 0 ? ops::GeluApproximation::erf : ops::GeluApproximation::tanh;
  state.SetLabel(state.range(0) == 0 ? "erf" : "tanh");
  const Tf x = ops::randn<float, Cpu>(kActivations, 1);
  Tf y;
  for (auto _ : state) {
    ops::gelu(x, y, approx);
    benchmark::DoNotOptimize(y.data());
  }
  gluegen::bench::report(state, 0, 2 * kBytes);
}
BENCHMARK(BM_Gelu)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_SoftmaxLast(benchmark::State& state) {
  const Tf x = ops::randn<float, Cpu>({64 * 12, 77, 77}, 1);  // attention probabilities, 12 heads
  Tf y;
  for (auto _ : state) {
    ops::softmax_last(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  gluegen::bench::report(state, 0, 2.0 * x.numel() * sizeof(float));
}
BENCHMARK(BM_SoftmaxLast)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_LayerNorm(benchmark::State& state) {
  const Tf x = ops::randn<float, Cpu>(kActivations, 1), g = Tf::full({768}, 1.0f), b = Tf::zeros({768});
  Tf y, mean, rstd;
  for (auto _ : state) {
    ops::layer_norm(x, g, b, 1e-5f, y, mean, rstd);
    benchmark::DoNotOptimize(y.data());
  }
  gluegen::bench::report(state, 0, 2 * kBytes);
}
BENCHMARK(BM_LayerNorm)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_VarLast(benchmark::State& state) {
  const Tf x = ops::randn<float, Cpu>(kActivations, 1);
  Tf v;
  for (auto _ : state) {
    ops::var_last(x, v);
    benchmark::DoNotOptimize(v.data());
  }
  gluegen::bench::report(state, 0, kBytes);
}
BENCHMARK(BM_VarLast)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_FillNormal(benchmark::State& state) {
  Tf x(kActivations);
  std::uint64_t seed = 0;
  for (auto _ : state) {
    ops::fill_normal(x, ++seed);
    benchmark::DoNotOptimize(x.data());
  }
  gluegen::bench::report(state, 0, kBytes);
}
BENCHMARK(BM_FillNormal)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
