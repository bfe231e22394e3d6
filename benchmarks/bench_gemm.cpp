// GEMM through the Cpu policy (ops::matmul) against the same product written directly in Eigen on the
// same buffers: the policy's overhead (shape checks, layout detection, output allocation avoided by
// the out form) should vanish against the arithmetic.
#include <gluegen/tensor.hpp>

#include "bench_util.hpp"

#include <Eigen/Core>

namespace {

using namespace gluegen;
using Tf = Tensor<float, Cpu>;
using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Shapes from the GlueGen workload: token features [B*L, D] times weights [D, E], and square baselines.
// Args: batch, m, n, k, trans_b (0/1).
void gemm_args(benchmark::internal::Benchmark* b) {
  b->Args({1, 256, 256, 256, 0})
      ->Args({1, 1024, 1024, 1024, 0})
      ->Args({1, 64 * 77, 768, 768, 0})    // mixer channel projection, batch 64 x 77 tokens
      ->Args({1, 64 * 77, 3072, 768, 0})   // mixer channel MLP up-projection (4x)
      ->Args({1, 64 * 128, 768, 1024, 1})  // width map 1024 -> 768 (nn.Linear layout: W^T)
      ->Args({64, 77, 77, 64, 1});         // attention scores per head: Q K^T
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void BM_CpuPolicyMatmul(benchmark::State& state) {
  const index_t batch = state.range(0), m = state.range(1), n = state.range(2), k = state.range(3);
  const bool tb = state.range(4) != 0;
  const Tf a = ops::randn<float, Cpu>(batch > 1 ? Shape{batch, m, k} : Shape{m, k}, 1);
  const Tf b = ops::randn<float, Cpu>(
      batch > 1 ? (tb ? Shape{batch, n, k} : Shape{batch, k, n}) : (tb ? Shape{n, k} : Shape{k, n}), 2);
  Tf c;
  for (auto _ : state) {
    ops::matmul(a, b, c, {.trans_b = tb});
    benchmark::DoNotOptimize(c.data());
  }
  gluegen::bench::report(state, 2.0 * batch * m * n * k);
}
BENCHMARK(BM_CpuPolicyMatmul)->Apply(gemm_args);

void BM_PlainEigen(benchmark::State& state) {
  const index_t batch = state.range(0), m = state.range(1), n = state.range(2), k = state.range(3);
  const bool tb = state.range(4) != 0;
  const Tf a = ops::randn<float, Cpu>({batch, m, k}, 1);
  const Tf b = ops::randn<float, Cpu>(tb ? Shape{batch, n, k} : Shape{batch, k, n}, 2);
  Tf c({batch, m, n});
  for (auto _ : state) {
    for (index_t p = 0; p < batch; ++p) {
      Eigen::Map<const RowMatrix> A(a.data() + p * m * k, m, k);
      Eigen::Map<RowMatrix> C(c.data() + p * m * n, m, n);
      if (tb)
        C.noalias() = A * Eigen::Map<const RowMatrix>(b.data() + p * n * k, n, k).transpose();
      else
        C.noalias() = A * Eigen::Map<const RowMatrix>(b.data() + p * k * n, k, n);
    }
    benchmark::DoNotOptimize(c.data());
  }
  gluegen::bench::report(state, 2.0 * batch * m * n * k);
}
BENCHMARK(BM_PlainEigen)->Apply(gemm_args);

}  // namespace

BENCHMARK_MAIN();
