#pragma once
// Test support: naive double-precision references, random shapes, and closeness checks that report
// the worst element. References are deliberately plain loops, independent of the code under test.
#include <gluegen/core/shape.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace gluegen::test {

/// Per-precision tolerances: `abs` on values of magnitude ~1, scaled by the reduction length where
/// an op sums (GEMM, reductions).
template <typename T>
struct Tolerances {
  static constexpr double abs = std::is_same_v<T, float> ? 2e-6 : 1e-13;
};

/// max |actual - expected| / (1 + |expected|) must be <= tol; on failure names the worst index.
template <typename A, typename E>
::testing::AssertionResult all_close(const std::vector<A>& actual, const std::vector<E>& expected, double tol) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << " vs expected " << expected.size();
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]), e = static_cast<double>(expected[i]);
    const double err = (std::isnan(a) != std::isnan(e)) ? INFINITY
                       : std::isnan(a)                  ? 0.0
                                                        : std::abs(a - e) / (1.0 + std::abs(e));
    if (err > worst || std::isinf(err)) {
      worst = err;
      at = i;
    }
  }
  if (worst <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max scaled error " << worst << " > " << tol << " at index " << at << ": got "
                                       << static_cast<double>(actual[at]) << ", expected "
                                       << static_cast<double>(expected[at]);
}

/// Random shapes of rank 1..max_rank from extents that include 1 and odd sizes.
inline std::vector<Shape> random_shapes(std::uint32_t seed, int count, int max_rank = 4) {
  static constexpr index_t kExtents[] = {1, 2, 3, 5, 7, 16, 33};
  std::mt19937 gen(seed);
  std::vector<Shape> shapes;
  for (int s = 0; s < count; ++s) {
    const int rank = 1 + static_cast<int>(gen() % static_cast<unsigned>(max_rank));
    std::vector<index_t> dims;
    for (int i = 0; i < rank; ++i) dims.push_back(kExtents[gen() % std::size(kExtents)]);
    shapes.emplace_back(std::span<const index_t>(dims));
  }
  return shapes;
}

/// A shape that broadcasts against `s`: some trailing axes kept, some set to 1, leading ones dropped.
inline Shape broadcast_partner(const Shape& s, std::uint32_t seed) {
  std::mt19937 gen(seed);
  const int drop = static_cast<int>(gen() % static_cast<unsigned>(s.rank()));
  std::vector<index_t> dims;
  for (int i = drop; i < s.rank(); ++i) dims.push_back(gen() % 3 == 0 ? 1 : s[i]);
  return Shape(std::span<const index_t>(dims));
}

inline std::vector<double> random_values(std::size_t n, std::uint32_t seed, double scale = 1.0) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0.0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

/// Row-major index -> offset in a tensor of shape `from` broadcast to shape `to`.
inline index_t broadcast_offset(index_t i, const Shape& to, const Shape& from) {
  index_t offset = 0, stride = 1;
  for (int axis = to.rank() - 1; axis >= 0; --axis) {
    const index_t coord = i % to[axis];
    i /= to[axis];
    const int f = axis - (to.rank() - from.rank());
    if (f >= 0) {
      if (from[f] != 1) offset += coord * stride;
      stride *= from[f];
    }
  }
  return offset;
}

/// Reference batched GEMM on row-major data: c[b] = op(a[b]) op(b[b]), with batch stride 0 allowed.
inline std::vector<double> reference_gemm(const std::vector<double>& a, const std::vector<double>& b, index_t batch,
                                          index_t m, index_t n, index_t k, bool ta, bool tb, bool a_shared,
                                          bool b_shared) {
  std::vector<double> c(static_cast<std::size_t>(batch * m * n), 0.0);
  for (index_t p = 0; p < batch; ++p) {
    const double* A = a.data() + (a_shared ? 0 : p * m * k);
    const double* B = b.data() + (b_shared ? 0 : p * k * n);
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < n; ++j) {
        double sum = 0;
        for (index_t q = 0; q < k; ++q) sum += (ta ? A[q * m + i] : A[i * k + q]) * (tb ? B[j * k + q] : B[q * n + j]);
        c[static_cast<std::size_t>(p * m * n + i * n + j)] = sum;
      }
  }
  return c;
}

}  // namespace gluegen::test
