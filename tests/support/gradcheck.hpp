#pragma once
// Finite-difference gradient checks in double precision (dlib's test_layer idea, design.md section 5):
// the analytic backward of a layer must match central differences of L = sum(y * dy) for the input
// and for every trainable parameter.
#include <gluegen/nn/module.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace gluegen::test {

using Td = Tensor<double, Cpu>;

/// sum(a * b) in double.
inline double dot(const Td& a, const Td& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  double s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

/// Compares analytic[i] with (loss(wrt[i] + eps) - loss(wrt[i] - eps)) / 2 eps on up to max_coords
/// evenly spread coordinates of `wrt` (every one when it is small). Tolerance: 1e-6 (1 + |num|).
inline ::testing::AssertionResult fd_matches(const std::function<double()>& loss, Td& wrt, const Td& analytic,
                                             const std::string& what, index_t max_coords = 48, double eps = 1e-5) {
  if (!analytic.defined()) return ::testing::AssertionFailure() << what << ": no analytic gradient";
  if (analytic.shape() != wrt.shape())
    return ::testing::AssertionFailure() << what << ": gradient shape " << fmt::format("{}", analytic.shape()) << " vs "
                                         << fmt::format("{}", wrt.shape());
  const auto grad = analytic.to_vector();
  const index_t n = wrt.numel(), stride = std::max<index_t>(1, n / max_coords);
  double* x = wrt.data();
  for (index_t i = 0; i < n; i += stride) {
    const double saved = x[i];
    x[i] = saved + eps;
    const double up = loss();
    x[i] = saved - eps;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * eps);
    if (std::abs(numeric - grad[i]) > 1e-6 * (1 + std::abs(numeric)))
      return ::testing::AssertionFailure()
             << what << "[" << i << "]: analytic " << grad[i] << ", finite difference " << numeric;
  }
  return ::testing::AssertionSuccess();
}

/// Checks dL/dx and dL/dparam of a double-precision Cpu layer on a random input of `x_shape`.
/// Frozen parameters must receive no gradient.
template <typename L>
void expect_layer_gradients(L& layer, const Shape& x_shape, std::uint64_t seed, const std::string& what) {
  Td x = ops::randn<double, Cpu>(x_shape, seed);
  typename L::Cache cache;
  const Td y = layer.forward(x, cache).clone();
  const Td dy = ops::randn<double, Cpu>(y.shape(), seed + 1);
  nn::zero_grad(layer);
  const Td dx = layer.backward(dy, cache).clone();
  const auto loss = [&] {
    typename L::Cache fresh;
    return dot(layer.forward(x, fresh), dy);
  };
  EXPECT_TRUE(fd_matches(loss, x, dx, what + " dL/dx"));
  layer.visit_parameters(
      [&](const std::string& name, nn::Param<double, Cpu>& p) {
        if (!p.trainable) {
          EXPECT_FALSE(p.grad.defined()) << what << ": frozen " << name << " got a gradient";
          return;
        }
        EXPECT_TRUE(fd_matches(loss, p.value, p.grad, what + " dL/d" + name));
      },
      "");
}

}  // namespace gluegen::test
