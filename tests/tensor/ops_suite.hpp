#pragma once
// The tensor-op test suite, written once and instantiated per policy x dtype: test_ops_cpu.cpp for
// Cpu, test_ops_cuda.cu for Cuda. Every op is checked against a naive double reference
// (support/reference.hpp) on random shapes that include size-1 and odd extents.
#include <gluegen/tensor.hpp>

#include "support/policy.hpp"
#include "support/reference.hpp"

#include <gtest/gtest.h>

#include <numbers>

namespace gluegen::test {

template <TensorPolicy P, ComputeElement T>
struct Config {
  using Policy = P;
  using Scalar = T;
};

template <typename C>
class OpsTest : public ::testing::Test {
 protected:
  using P = typename C::Policy;
  using T = typename C::Scalar;
  using Tn = Tensor<T, P>;

  void SetUp() override {
    if (!policy_available<P>()) GTEST_SKIP() << "skipped: no CUDA device";
  }

  static Tn make(const Shape& shape, const std::vector<double>& values) {
    std::vector<T> cast(values.begin(), values.end());
    return Tn::from_host(shape, cast);
  }
  static std::vector<double> host(const Tn& t) {
    const auto v = t.to_vector();
    return {v.begin(), v.end()};
  }
  /// Values as the tensor holds them (rounded to T), so references start from the same inputs.
  static std::vector<double> rounded(const std::vector<double>& v) {
    std::vector<double> out;
    for (double x : v) out.push_back(static_cast<double>(static_cast<T>(x)));
    return out;
  }
  static constexpr double tol = Tolerances<T>::abs;
};

TYPED_TEST_SUITE_P(OpsTest);

TYPED_TEST_P(OpsTest, CreationAndHostRoundTrip) {
  using Tn = typename TestFixture::Tn;
  using T = typename TestFixture::T;
  const Shape shape{2, 3, 5};
  const auto values = this->rounded(random_values(30, 1));
  EXPECT_EQ(this->host(this->make(shape, values)), values);
  EXPECT_EQ(this->host(Tn::zeros(shape)), std::vector<double>(30, 0.0));
  EXPECT_EQ(this->host(Tn::full(shape, T(2.5))), std::vector<double>(30, 2.5));
  EXPECT_EQ(Tn::zeros({0, 4}).numel(), 0);
  EXPECT_THROW(Tn::from_host(shape, std::vector<T>(29)), ShapeError);
  EXPECT_THROW(Tn(Shape{2, -1}), ShapeError);
}

TYPED_TEST_P(OpsTest, ViewsShareStorageAndCopyOnlyWhenAsked) {
  using Tn = typename TestFixture::Tn;
  const auto values = this->rounded(random_values(2 * 3 * 4, 2));
  const Tn x = this->make({2, 3, 4}, values);

  const Tn r = x.reshape({6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_TRUE(r.shares_storage_with(x));
  EXPECT_EQ(this->host(r), values);
  EXPECT_THROW((void)x.reshape({5, -1}), ShapeError);
  EXPECT_THROW((void)x.reshape({-1, -1}), ShapeError);

  const Tn s = x.slice(1, 2);
  EXPECT_EQ(s.shape(), (Shape{1, 3, 4}));
  EXPECT_EQ(this->host(s), std::vector<double>(values.begin() + 12, values.end()));
  EXPECT_THROW((void)x.slice(1, 3), ShapeError);

  const Tn row = x.select(1).select(2);
  EXPECT_EQ(this->host(row), std::vector<double>(values.begin() + 20, values.begin() + 24));

  const Tn t = x.transpose_last2();
  EXPECT_EQ(t.shape(), (Shape{2, 4, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_TRUE(t.shares_storage_with(x));
  EXPECT_THROW((void)t.reshape({24}), ShapeError);
  std::vector<double> expected;
  for (int b = 0; b < 2; ++b)
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 3; ++i) expected.push_back(values[b * 12 + i * 4 + j]);
  const Tn c = t.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.shares_storage_with(x));
  EXPECT_EQ(this->host(c), expected);
  EXPECT_EQ(this->host(t), expected);  // to_vector reads views in logical order
}

TYPED_TEST_P(OpsTest, CastThroughStorageTypesRoundsOnce) {
  using P = typename TestFixture::P;
  const auto values = this->rounded(random_values(64, 3, 10.0));
  const auto x = this->make({8, 8}, values);
  const auto half = x.template cast<f16>().template cast<float>().to_vector();
  const auto brain = x.template cast<bf16>().template cast<float>().to_vector();
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(half[i], static_cast<float>(f16(static_cast<float>(values[i])))) << i;
    EXPECT_EQ(brain[i], static_cast<float>(bf16(static_cast<float>(values[i])))) << i;
  }
  const Tensor<f16, P> h = x.template cast<f16>();
  // Strided copies of 16-bit storage (no xtensor arithmetic for them) keep the values exactly.
  EXPECT_EQ(h.transpose_last2().contiguous().template cast<double>().to_vector(),
            x.transpose_last2().contiguous().template cast<f16>().template cast<double>().to_vector());
}

TYPED_TEST_P(OpsTest, BinaryOpsBroadcastLikeNumpy) {
  using Tn = typename TestFixture::Tn;
  std::uint32_t seed = 10;
  for (const Shape& sa : random_shapes(4, 25)) {
    const Shape sb = broadcast_partner(sa, ++seed);
    const bool swap = seed % 2 == 0;  // broadcast on either side
    const Shape& lhs = swap ? sb : sa;
    const Shape& rhs = swap ? sa : sb;
    const auto a = this->rounded(random_values(static_cast<std::size_t>(lhs.numel()), ++seed));
    auto b = this->rounded(random_values(static_cast<std::size_t>(rhs.numel()), ++seed));
    for (auto& v : b) v = v == 0 ? 1.0 : v;  // keep div finite
    const Tn ta = this->make(lhs, a), tb = this->make(rhs, b);
    const Shape out = broadcast_shapes(lhs, rhs, "test");
    std::vector<double> add, sub, mul, div;
    for (index_t i = 0; i < out.numel(); ++i) {
      const double x = a[broadcast_offset(i, out, lhs)], y = b[broadcast_offset(i, out, rhs)];
      add.push_back(x + y), sub.push_back(x - y), mul.push_back(x * y), div.push_back(x / y);
    }
    const Tn r = ops::add(ta, tb);
    ASSERT_EQ(r.shape(), out) << fmt::format("{} + {}", lhs, rhs);
    EXPECT_TRUE(all_close(this->host(r), add, this->tol)) << fmt::format("{} + {}", lhs, rhs);
    EXPECT_TRUE(all_close(this->host(ops::sub(ta, tb)), sub, this->tol)) << fmt::format("{} - {}", lhs, rhs);
    EXPECT_TRUE(all_close(this->host(ops::mul(ta, tb)), mul, this->tol)) << fmt::format("{} * {}", lhs, rhs);
    EXPECT_TRUE(all_close(this->host(ops::div(ta, tb)), div, this->tol)) << fmt::format("{} / {}", lhs, rhs);
  }
  EXPECT_THROW((void)ops::add(Tn::zeros({2, 3}), Tn::zeros({4, 3})), ShapeError);
  Tn wrong = Tn::zeros({3, 3});
  EXPECT_THROW(ops::add(Tn::zeros({2, 3}), Tn::zeros({2, 3}), wrong), ShapeError);
}

// The row/column broadcast shapes of bias adds and normalisation, scalar on either side of sub/div.
TYPED_TEST_P(OpsTest, BinaryRowAndColumnBroadcasts) {
  using Tn = typename TestFixture::Tn;
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4, 7, 48}, {48}},     {{48}, {4, 7, 48}},         {{4, 7, 48}, {4, 7, 1}}, {{4, 7, 1}, {4, 7, 48}},
      {{3, 20, 17}, {20, 1}}, {{3, 20, 17}, {1, 20, 17}}, {{5, 1, 32}, {5, 9, 1}}, {{2, 3, 4, 16}, {3, 1, 16}}};
  std::uint32_t seed = 500;
  for (const auto& [lhs, rhs] : cases) {
    const auto a = this->rounded(random_values(static_cast<std::size_t>(lhs.numel()), ++seed));
    auto b = this->rounded(random_values(static_cast<std::size_t>(rhs.numel()), ++seed));
    for (auto& v : b) v = v == 0 ? 1.0 : v;
    const Shape out = broadcast_shapes(lhs, rhs, "test");
    std::vector<double> sub, div;
    for (index_t i = 0; i < out.numel(); ++i) {
      const double x = a[broadcast_offset(i, out, lhs)], y = b[broadcast_offset(i, out, rhs)];
      sub.push_back(x - y), div.push_back(x / y);
    }
    const Tn ta = this->make(lhs, a), tb = this->make(rhs, b);
    EXPECT_TRUE(all_close(this->host(ops::sub(ta, tb)), sub, this->tol)) << fmt::format("{} - {}", lhs, rhs);
    EXPECT_TRUE(all_close(this->host(ops::div(ta, tb)), div, this->tol)) << fmt::format("{} / {}", lhs, rhs);
  }
}

TYPED_TEST_P(OpsTest, BinaryOpsReadTransposedViewsAndWorkInPlace) {
  using Tn = typename TestFixture::Tn;
  const auto a = this->rounded(random_values(3 * 5 * 7, 20)), b = this->rounded(random_values(3 * 7 * 5, 21));
  const Tn ta = this->make({3, 5, 7}, a), tb = this->make({3, 7, 5}, b);
  std::vector<double> expected;
  for (int p = 0; p < 3; ++p)
    for (int i = 0; i < 7; ++i)
      for (int j = 0; j < 5; ++j) expected.push_back(a[p * 35 + j * 7 + i] + b[p * 35 + i * 5 + j]);
  EXPECT_TRUE(all_close(this->host(ops::add(ta.transpose_last2(), tb)), expected, this->tol));
  Tn inplace = tb.clone();
  ops::add(inplace, ta.transpose_last2(), inplace);
  EXPECT_TRUE(all_close(this->host(inplace), expected, this->tol));
}

TYPED_TEST_P(OpsTest, UnaryActivationsMatchTheirDefinitions) {
  using Tn = typename TestFixture::Tn;
  using T = typename TestFixture::T;
  for (const Shape& s : random_shapes(5, 10)) {
    const auto x = this->rounded(random_values(static_cast<std::size_t>(s.numel()), 30, 3.0));
    const Tn t = this->make(s, x);
    std::vector<double> erf_ref, tanh_ref, silu_ref, scale_ref;
    for (double v : x) {
      erf_ref.push_back(0.5 * v * (1 + std::erf(v / std::numbers::sqrt2)));
      tanh_ref.push_back(0.5 * v * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v))));
      silu_ref.push_back(v / (1 + std::exp(-v)));
      scale_ref.push_back(-1.5 * v);
    }
    EXPECT_TRUE(all_close(this->host(ops::gelu(t)), erf_ref, 4 * this->tol));
    EXPECT_TRUE(all_close(this->host(ops::gelu(t, ops::GeluApproximation::tanh)), tanh_ref, 4 * this->tol));
    EXPECT_TRUE(all_close(this->host(ops::silu(t)), silu_ref, 4 * this->tol));
    EXPECT_TRUE(all_close(this->host(ops::scale(t, T(-1.5))), scale_ref, this->tol));
  }
  // The tanh form differs from the exact GELU by < 1e-3 (Hendrycks & Gimpel): a sanity check of both.
  const Tn grid = this->make({101}, [] {
    std::vector<double> v;
    for (int i = -50; i <= 50; ++i) v.push_back(i / 10.0);
    return v;
  }());
  EXPECT_TRUE(all_close(this->host(ops::gelu(grid, ops::GeluApproximation::tanh)), this->host(ops::gelu(grid)), 1e-3));
}

TYPED_TEST_P(OpsTest, AxpyAccumulates) {
  using Tn = typename TestFixture::Tn;
  using T = typename TestFixture::T;
  const auto x = this->rounded(random_values(1000, 40)), y = this->rounded(random_values(1000, 41));
  Tn ty = this->make({10, 100}, y);
  ops::axpy(T(0.25), this->make({10, 100}, x), ty);
  std::vector<double> expected;
  for (std::size_t i = 0; i < x.size(); ++i) expected.push_back(y[i] + 0.25 * x[i]);
  EXPECT_TRUE(all_close(this->host(ty), expected, this->tol));
  EXPECT_THROW(ops::axpy(T(1), Tn::zeros({10, 99}), ty), ShapeError);
}

TYPED_TEST_P(OpsTest, ReductionsOverTheLastAxis) {
  using Tn = typename TestFixture::Tn;
  for (const Shape& s : random_shapes(6, 20)) {
    // An offset of 100 checks the two-pass variance does not cancel catastrophically.
    auto x = random_values(static_cast<std::size_t>(s.numel()), 50);
    for (auto& v : x) v += 100.0;
    x = this->rounded(x);
    const Tn t = this->make(s, x);
    const index_t cols = s.back(), rows = s.numel() / cols;
    std::vector<double> sum, mean, var;
    for (index_t r = 0; r < rows; ++r) {
      double acc = 0;
      for (index_t c = 0; c < cols; ++c) acc += x[r * cols + c];
      double sq = 0;
      for (index_t c = 0; c < cols; ++c) sq += (x[r * cols + c] - acc / cols) * (x[r * cols + c] - acc / cols);
      sum.push_back(acc), mean.push_back(acc / cols), var.push_back(sq / cols);
    }
    const double len = static_cast<double>(cols);
    EXPECT_EQ(ops::sum_last(t).shape(), s.with_last(1));
    EXPECT_TRUE(all_close(this->host(ops::sum_last(t)), sum, this->tol * len)) << fmt::format("{}", s);
    EXPECT_TRUE(all_close(this->host(ops::mean_last(t)), mean, this->tol * len)) << fmt::format("{}", s);
    // var of values near 100 carries the rounding of x (ulp(100) ~ 1e-5 in f32) into each deviation
    EXPECT_TRUE(all_close(this->host(ops::var_last(t)), var, this->tol * 100 * len)) << fmt::format("{}", s);
  }
  EXPECT_THROW((void)ops::sum_last(Tn::zeros({3, 0})), ShapeError);
}

TYPED_TEST_P(OpsTest, SoftmaxIsStableForLargeInputs) {
  for (const Shape& s : random_shapes(7, 15)) {
    auto x = random_values(static_cast<std::size_t>(s.numel()), 60, 5.0);
    x[0] += 1000.0;  // exp(1000) overflows without the max subtraction
    x = this->rounded(x);
    const index_t cols = s.back(), rows = s.numel() / cols;
    std::vector<double> expected(x.size());
    for (index_t r = 0; r < rows; ++r) {
      const double m = *std::max_element(x.begin() + r * cols, x.begin() + (r + 1) * cols);
      double z = 0;
      for (index_t c = 0; c < cols; ++c) z += std::exp(x[r * cols + c] - m);
      for (index_t c = 0; c < cols; ++c) expected[r * cols + c] = std::exp(x[r * cols + c] - m) / z;
    }
    EXPECT_TRUE(all_close(this->host(ops::softmax_last(this->make(s, x))), expected, 4 * this->tol))
        << fmt::format("{}", s);
  }
}

TYPED_TEST_P(OpsTest, LayerNormMatchesDefinitionAndKeepsStatistics) {
  using Tn = typename TestFixture::Tn;
  using T = typename TestFixture::T;
  for (const Shape& s : random_shapes(8, 15)) {
    const index_t d = s.back(), rows = s.numel() / d;
    const auto x = this->rounded(random_values(static_cast<std::size_t>(s.numel()), 70, 2.0));
    const auto g = this->rounded(random_values(static_cast<std::size_t>(d), 71)),
               b = this->rounded(random_values(static_cast<std::size_t>(d), 72));
    std::vector<double> y(x.size()), mean, rstd;
    for (index_t r = 0; r < rows; ++r) {
      double mu = 0, var = 0;
      for (index_t c = 0; c < d; ++c) mu += x[r * d + c] / d;
      for (index_t c = 0; c < d; ++c) var += (x[r * d + c] - mu) * (x[r * d + c] - mu) / d;
      const double inv = 1 / std::sqrt(var + 1e-5);
      for (index_t c = 0; c < d; ++c) y[r * d + c] = (x[r * d + c] - mu) * inv * g[c] + b[c];
      mean.push_back(mu), rstd.push_back(inv);
    }
    Tn ty, tmean, trstd;
    ops::layer_norm(this->make(s, x), this->make({d}, g), this->make({d}, b), T(1e-5), ty, tmean, trstd);
    // rstd can reach 1/sqrt(eps) ~ 316 for a single-element row; compare relative to that scale
    EXPECT_TRUE(all_close(this->host(ty), y, 50 * this->tol * d)) << fmt::format("{}", s);
    EXPECT_TRUE(all_close(this->host(tmean), mean, this->tol * d)) << fmt::format("{}", s);
    EXPECT_TRUE(all_close(this->host(trstd), rstd, 50 * this->tol * d)) << fmt::format("{}", s);
  }
  EXPECT_THROW((void)ops::layer_norm(Tn::zeros({2, 4}), Tn::zeros({3}), Tn::zeros({4})), ShapeError);
  EXPECT_THROW((void)ops::layer_norm(Tn::zeros({2, 4}), Tn::zeros({4}), Tn::zeros({4}), T(0)), ValueError);
}

TYPED_TEST_P(OpsTest, MatmulAllTransposesBatchesAndBroadcasts) {
  using Tn = typename TestFixture::Tn;
  std::uint32_t seed = 100;
  for (index_t batch : {1, 3})
    for (auto [m, n, k] :
         {std::tuple<index_t, index_t, index_t>{1, 1, 1}, {5, 7, 3}, {16, 1, 33}, {33, 17, 64}, {2, 3, 0}})
      for (int mode = 0; mode < 4; ++mode)
        for (int sharing = 0; sharing < 3; ++sharing) {  // 0: both batched, 1: a shared (rank 2), 2: b shared
          if (batch == 1 && sharing > 0) continue;
          const bool ta = mode & 1, tb = mode & 2, a_shared = sharing == 1, b_shared = sharing == 2;
          const Shape a_mat = ta ? Shape{k, m} : Shape{m, k};
          const Shape b_mat = tb ? Shape{n, k} : Shape{k, n};
          const Shape sa = a_shared ? a_mat : Shape{batch, a_mat[0], a_mat[1]};
          const Shape sb = b_shared ? b_mat : Shape{batch, b_mat[0], b_mat[1]};
          const auto a = this->rounded(random_values(static_cast<std::size_t>(sa.numel()), ++seed));
          const auto b = this->rounded(random_values(static_cast<std::size_t>(sb.numel()), ++seed));
          const auto expected = reference_gemm(a, b, batch, m, n, k, ta, tb, a_shared, b_shared);
          const std::string what = fmt::format("a {} b {} ta {} tb {}", sa, sb, ta, tb);
          // Explicit flags...
          const Tn c = ops::matmul(this->make(sa, a), this->make(sb, b), {.trans_a = ta, .trans_b = tb});
          ASSERT_EQ(c.numel(), batch * m * n) << what;
          EXPECT_TRUE(all_close(this->host(c), expected, this->tol * std::max<index_t>(k, 1))) << what;
          // ...and the same products through transpose_last2() views of contiguous copies.
          const Tn va = ta ? this->make(sa, a).transpose_last2().contiguous().transpose_last2() : this->make(sa, a);
          const Tn vb = tb ? this->make(sb, b).transpose_last2().contiguous().transpose_last2() : this->make(sb, b);
          EXPECT_TRUE(all_close(this->host(ops::matmul(va, vb, {.trans_a = ta, .trans_b = tb})), expected,
                                this->tol * std::max<index_t>(k, 1)))
              << what << " (views)";
        }
}

TYPED_TEST_P(OpsTest, MatmulAlphaBetaAccumulateAndRejectBadShapes) {
  using Tn = typename TestFixture::Tn;
  const auto a = this->rounded(random_values(4 * 6, 200)), b = this->rounded(random_values(6 * 5, 201));
  const auto c0 = this->rounded(random_values(4 * 5, 202));
  Tn c = this->make({4, 5}, c0);
  ops::matmul(this->make({4, 6}, a), this->make({6, 5}, b), c, {.alpha = 2.0, .beta = -0.5});
  auto expected = reference_gemm(a, b, 1, 4, 5, 6, false, false, false, false);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = 2 * expected[i] - 0.5 * c0[i];
  EXPECT_TRUE(all_close(this->host(c), expected, this->tol * 6));
  EXPECT_THROW((void)ops::matmul(Tn::zeros({4, 6}), Tn::zeros({5, 5})), ShapeError);
  EXPECT_THROW((void)ops::matmul(Tn::zeros({2, 4, 6}), Tn::zeros({3, 6, 5})), ShapeError);
  EXPECT_THROW((void)ops::matmul(Tn::zeros({6}), Tn::zeros({6, 5})), ShapeError);
  EXPECT_THROW((void)ops::matmul(Tn::zeros({4, 6}), Tn::zeros({6, 5}), {.beta = 1.0}), ValueError);
}

TYPED_TEST_P(OpsTest, RandomFillsAreSeededAndHaveTheRightMoments) {
  using Tn = typename TestFixture::Tn;
  using T = typename TestFixture::T;
  const Tn u1 = ops::rand<T, typename TestFixture::P>({1 << 16}, 7),
           u2 = ops::rand<T, typename TestFixture::P>({1 << 16}, 7);
  EXPECT_EQ(u1.to_vector(), u2.to_vector());
  EXPECT_NE(u1.to_vector(), (ops::rand<T, typename TestFixture::P>({1 << 16}, 8).to_vector()));
  EXPECT_NE(u1.to_vector(), (ops::rand<T, typename TestFixture::P>({1 << 16}, 7, /*stream=*/1).to_vector()));
  const auto u = this->host(u1);
  const double umean = std::accumulate(u.begin(), u.end(), 0.0) / u.size();
  EXPECT_NEAR(umean, 0.5, 0.01);
  EXPECT_GT(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0);
  Tn g({1 << 16});
  ops::fill_normal(g, 3, T(2), T(0.5));
  const auto z = this->host(g);
  const double mean = std::accumulate(z.begin(), z.end(), 0.0) / z.size();
  double var = 0;
  for (double v : z) var += (v - mean) * (v - mean) / z.size();
  EXPECT_NEAR(mean, 2.0, 0.01);
  EXPECT_NEAR(std::sqrt(var), 0.5, 0.01);
  // A prefix of a longer fill equals the shorter fill: element i depends only on (seed, stream, i).
  Tn shorter({1000});
  ops::fill_normal(shorter, 3, T(2), T(0.5));
  EXPECT_EQ(shorter.to_vector(), g.slice(0, 1000).to_vector());
}

TYPED_TEST_P(OpsTest, CountNonfinite) {
  using Tn = typename TestFixture::Tn;
  std::vector<double> v(100, 1.0);
  v[3] = std::nan("");
  v[50] = INFINITY;
  v[99] = -INFINITY;
  EXPECT_EQ(ops::count_nonfinite(this->make({10, 10}, v)), 3);
  EXPECT_EQ(ops::count_nonfinite(Tn::zeros({7})), 0);
}

REGISTER_TYPED_TEST_SUITE_P(OpsTest, CreationAndHostRoundTrip, ViewsShareStorageAndCopyOnlyWhenAsked,
                            CastThroughStorageTypesRoundsOnce, BinaryOpsBroadcastLikeNumpy,
                            BinaryRowAndColumnBroadcasts, BinaryOpsReadTransposedViewsAndWorkInPlace,
                            UnaryActivationsMatchTheirDefinitions, AxpyAccumulates, ReductionsOverTheLastAxis,
                            SoftmaxIsStableForLargeInputs, LayerNormMatchesDefinitionAndKeepsStatistics,
                            MatmulAllTransposesBatchesAndBroadcasts, MatmulAlphaBetaAccumulateAndRejectBadShapes,
                            RandomFillsAreSeededAndHaveTheRightMoments, CountNonfinite);

}  // namespace gluegen::test
