// The tensor-op suite on the Cuda policy (f32 and f64), plus CPU-vs-CUDA parity on identical inputs
// and the f16/bf16 tensor-core GEMM. Compiled on every build that finds nvcc; each test skips with
// "skipped: no CUDA device" where no GPU is visible.
#include <gluegen/tensor/cuda.cuh>

#include "tensor/ops_suite.hpp"

namespace gluegen::test {

template <>
bool policy_available<Cuda>() {
  return cuda_device_available();
}

using CudaConfigs = ::testing::Types<Config<Cuda, float>, Config<Cuda, double>>;
INSTANTIATE_TYPED_TEST_SUITE_P(Cuda, OpsTest, CudaConfigs);

class CpuCudaParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_device_available()) GTEST_SKIP() << "skipped: no CUDA device";
  }
  template <typename T>
  static std::vector<double> host(const Tensor<T, Cuda>& t) {
    const auto v = t.to_vector();
    return {v.begin(), v.end()};
  }
  template <typename T>
  static std::vector<double> host(const Tensor<T, Cpu>& t) {
    const auto v = t.to_vector();
    return {v.begin(), v.end()};
  }
};

// Same seed, same numbers: uniforms bit-identical, normals to the last f32 bit but for libm ties.
TEST_F(CpuCudaParity, RandomFillsMatch) {
  const auto cpu_u = ops::rand<float, Cpu>({100003}, 11).to_vector();
  const auto gpu_u = ops::rand<float, Cuda>({100003}, 11).to_vector();
  EXPECT_EQ(cpu_u, gpu_u);
  EXPECT_TRUE(all_close(host(ops::randn<float, Cuda>({100003}, 12)), host(ops::randn<float, Cpu>({100003}, 12)), 1e-6));
}

// Every op on the same f32 inputs on both policies, at the stated tolerance (max scaled error 1e-5).
TEST_F(CpuCudaParity, OpsAgreeOnIdenticalInputs) {
  const auto x = ops::randn<float, Cpu>({4, 77, 96}, 1), y = ops::randn<float, Cpu>({96}, 2);
  const auto w = ops::randn<float, Cpu>({96, 64}, 3), g = ops::randn<float, Cpu>({96}, 4);
  const auto gx = ops::transfer<Cuda>(x), gy = ops::transfer<Cuda>(y), gw = ops::transfer<Cuda>(w),
             gg = ops::transfer<Cuda>(g);
  constexpr double tol = 1e-5;
  EXPECT_TRUE(all_close(host(ops::add(gx, gy)), host(ops::add(x, y)), tol));
  EXPECT_TRUE(all_close(host(ops::mul(gx.transpose_last2(), gx.transpose_last2())),
                        host(ops::mul(x.transpose_last2(), x.transpose_last2())), tol));
  EXPECT_TRUE(all_close(host(ops::gelu(gx)), host(ops::gelu(x)), tol));
  EXPECT_TRUE(all_close(host(ops::gelu(gx, ops::GeluApproximation::tanh)),
                        host(ops::gelu(x, ops::GeluApproximation::tanh)), tol));
  EXPECT_TRUE(all_close(host(ops::silu(gx)), host(ops::silu(x)), tol));
  EXPECT_TRUE(all_close(host(ops::softmax_last(gx)), host(ops::softmax_last(x)), tol));
  EXPECT_TRUE(all_close(host(ops::var_last(gx)), host(ops::var_last(x)), tol));
  EXPECT_TRUE(all_close(host(ops::layer_norm(gx, gg, gy)), host(ops::layer_norm(x, g, y)), tol));
  EXPECT_TRUE(all_close(host(ops::matmul(gx, gw)), host(ops::matmul(x, w)), tol * 96));
  EXPECT_TRUE(
      all_close(host(ops::matmul(gx, gx, {.trans_b = true})), host(ops::matmul(x, x, {.trans_b = true})), tol * 96));
  auto acc_cpu = x.clone();
  auto acc_gpu = gx.clone();
  ops::axpy(0.5f, x, acc_cpu);
  ops::axpy(0.5f, gx, acc_gpu);
  EXPECT_TRUE(all_close(host(acc_gpu), host(acc_cpu), tol));
  EXPECT_EQ(ops::count_nonfinite(ops::div(gx, ops::scale(gx, 0.0f))), x.numel());
}

// f16/bf16 inputs run on tensor cores with f32 accumulation: error is the inputs' rounding, not the sum's.
TEST_F(CpuCudaParity, HalfPrecisionGemmAccumulatesInF32) {
  const auto a = ops::randn<float, Cpu>({8, 64, 256}, 5), b = ops::randn<float, Cpu>({256, 128}, 6);
  for (const bool brain : {false, true}) {
    const auto a16 = brain ? a.cast<bf16>().cast<float>() : a.cast<f16>().cast<float>();
    const auto b16 = brain ? b.cast<bf16>().cast<float>() : b.cast<f16>().cast<float>();
    const auto expected = ops::matmul(a16, b16).cast<f16>().cast<float>();  // exact inputs, one rounding of the output
    std::vector<double> got;
    if (brain)
      got = host(ops::matmul(ops::transfer<Cuda>(a.cast<bf16>()), ops::transfer<Cuda>(b.cast<bf16>())).cast<float>());
    else
      got = host(ops::matmul(ops::transfer<Cuda>(a.cast<f16>()), ops::transfer<Cuda>(b.cast<f16>())).cast<float>());
    // bf16 output has 8 significant bits: one rounding of |c| ~ 16 is up to 2^-4 relative to 1 + |c|.
    EXPECT_TRUE(all_close(got, host(expected), brain ? 8e-3 : 1e-3)) << (brain ? "bf16" : "f16");
  }
}

// The fused training kernels: optimizer steps, dropout masks and squared norms agree with the Cpu policy.
TEST_F(CpuCudaParity, TrainingKernelsAgree) {
  const auto grad = ops::randn<float, Cpu>({1000}, 21), p0 = ops::randn<float, Cpu>({1000}, 22);
  for (const bool decoupled : {false, true}) {
    auto p = p0.clone(), m = Tensor<float, Cpu>::zeros({1000}), v = m.clone();
    auto gp = ops::transfer<Cuda>(p0), gm = ops::transfer<Cuda>(m), gv = ops::transfer<Cuda>(m),
         gg = ops::transfer<Cuda>(grad);
    const AdamStep s{.lr = 1e-2,
                     .beta1 = 0.9,
                     .beta2 = 0.999,
                     .eps = 1e-8,
                     .weight_decay = 0.1,
                     .bias_correction1 = 0.1,
                     .bias_correction2 = 0.001,
                     .decoupled = decoupled};
    ops::adam_step(p, grad, m, v, s);
    ops::adam_step(gp, gg, gm, gv, s);
    EXPECT_TRUE(all_close(host(gp), host(p), 1e-6));
    EXPECT_TRUE(all_close(host(gv), host(v), 1e-6));
  }
  auto p = p0.clone(), buf = Tensor<float, Cpu>::zeros({1000});
  auto gp = ops::transfer<Cuda>(p0), gbuf = ops::transfer<Cuda>(buf), gg = ops::transfer<Cuda>(grad);
  for (const bool first : {true, false}) {
    const SgdStep s{
        .lr = 0.05, .momentum = 0.9, .dampening = 0, .weight_decay = 1e-3, .nesterov = true, .first_step = first};
    ops::sgd_step(p, grad, buf, s);
    ops::sgd_step(gp, gg, gbuf, s);
  }
  EXPECT_TRUE(all_close(host(gp), host(p), 1e-6));
  EXPECT_NEAR(ops::sum_squares(gg), ops::sum_squares(grad), 1e-6 * ops::sum_squares(grad));
  auto mask = Tensor<float, Cpu>({4099});
  auto gmask = Tensor<float, Cuda>({4099});
  ops::dropout_mask(mask, 0.7f, 5, 2);
  ops::dropout_mask(gmask, 0.7f, 5, 2);
  EXPECT_EQ(gmask.to_vector(), mask.to_vector());
  Tensor<float, Cpu> col;
  Tensor<float, Cuda> gcol;
  ops::sum_leading(p0.reshape({40, 25}), col, false);
  ops::sum_leading(ops::transfer<Cuda>(p0).reshape({40, 25}), gcol, false);
  EXPECT_TRUE(all_close(host(gcol), host(col), 1e-5));
}

TEST_F(CpuCudaParity, TransferRoundTripsAndViews) {
  const auto x = ops::randn<float, Cpu>({3, 5, 7}, 9);
  const auto back = ops::transfer<Cpu>(ops::transfer<Cuda>(x.transpose_last2()));
  EXPECT_EQ(back.to_vector(), x.transpose_last2().contiguous().to_vector());
  EXPECT_EQ(ops::transfer<Cuda>(x).select(2).slice(1, 3).to_vector(), x.select(2).slice(1, 3).to_vector());
}

}  // namespace gluegen::test
