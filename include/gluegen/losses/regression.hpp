#pragma once
// Element-wise regression losses. Each returns the loss and writes dL/dpred into `d_pred`
// (allocated on first use). GlueGen's L_mse (design.md section 1) is `mse` or, with per-token
// weights or padding masks, `weighted_mse`.
#include <gluegen/tensor.hpp>

#include <cmath>
#include <vector>

namespace gluegen::losses {

enum class Reduction : std::uint8_t { mean, sum };

namespace detail {
template <ComputeElement T, TensorPolicy P>
void require_same(const char* loss, const Tensor<T, P>& pred, const Tensor<T, P>& target) {
  GLUEGEN_CHECK_AS(ShapeError, pred.shape() == target.shape(), "{}: prediction has shape {}, target has shape {}", loss,
                   pred.shape(), target.shape());
  GLUEGEN_CHECK_AS(ShapeError, pred.numel() > 0, "{}: empty prediction of shape {}", loss, pred.shape());
}

/// Sum of all elements, in double.
template <ComputeElement T, TensorPolicy P>
double total(const Tensor<T, P>& x) {
  const auto sums = ops::sum_last(x.contiguous().reshape({1, -1})).to_vector();
  return static_cast<double>(sums[0]);
}
}  // namespace detail

/// sum (pred - target)^2, divided by the element count for Reduction::mean (F.mse_loss).
template <ComputeElement T, TensorPolicy P>
T mse(const Tensor<T, P>& pred, const Tensor<T, P>& target, Tensor<T, P>& d_pred, Reduction r = Reduction::mean) {
  detail::require_same("mse", pred, target);
  ops::sub(pred, target, d_pred);
  const double n = r == Reduction::mean ? static_cast<double>(pred.numel()) : 1.0;
  const double loss = ops::sum_squares(d_pred) / n;
  ops::scale(d_pred, T(2.0 / n), d_pred);
  return static_cast<T>(loss);
}

/// Token-weighted MSE for [B, L, D] features with weights [B, L] (a 0/1 padding mask, or GlueGen's
/// per-token weights): sum_bl w_bl |pred_bl - target_bl|^2 / (D * sum_bl w_bl).
template <ComputeElement T, TensorPolicy P>
T weighted_mse(const Tensor<T, P>& pred, const Tensor<T, P>& target, const Tensor<T, P>& weights,
               Tensor<T, P>& d_pred) {
  detail::require_same("weighted_mse", pred, target);
  GLUEGEN_CHECK_AS(ShapeError, pred.rank() == 3 && weights.shape() == (Shape{pred.size(0), pred.size(1)}),
                   "weighted_mse: prediction {} needs [B, L, D] and weights [B, L]; got weights {}", pred.shape(),
                   weights.shape());
  const auto w = weights.to_vector();
  double weight_sum = 0;
  std::vector<T> root(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) {
    GLUEGEN_CHECK_AS(ValueError, w[i] >= T(0), "weighted_mse: weight {} of token {} is negative", w[i], i);
    weight_sum += static_cast<double>(w[i]);
    root[i] = std::sqrt(w[i]);
  }
  const double norm = weight_sum * static_cast<double>(pred.size(2));
  GLUEGEN_CHECK_AS(ValueError, norm > 0, "weighted_mse: the weights sum to {} (every token masked?)", norm);
  // In place in d_pred, with no [B, L, D] temporaries: sqrt(w) (p - t), whose squares sum to the loss,
  // then once more times sqrt(w) for the gradient 2 w (p - t) / norm.
  const Tensor<T, P> root_w = Tensor<T, P>::from_host({pred.size(0), pred.size(1), 1}, root);
  ops::sub(pred, target, d_pred);
  ops::mul(d_pred, root_w, d_pred);
  const double loss = ops::sum_squares(d_pred) / norm;
  ops::mul(d_pred, root_w, d_pred);
  ops::scale(d_pred, T(2.0 / norm), d_pred);
  return static_cast<T>(loss);
}

/// sum |pred - target| (mean over elements by default), F.l1_loss; the subgradient at 0 is 0.
template <ComputeElement T, TensorPolicy P>
T l1(const Tensor<T, P>& pred, const Tensor<T, P>& target, Tensor<T, P>& d_pred, Reduction r = Reduction::mean) {
  detail::require_same("l1", pred, target);
  const auto p = pred.to_vector(), t = target.to_vector();
  const double n = r == Reduction::mean ? static_cast<double>(p.size()) : 1.0;
  std::vector<T> g(p.size());
  double loss = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double d = static_cast<double>(p[i]) - static_cast<double>(t[i]);
    loss += std::abs(d);
    g[i] = static_cast<T>((d > 0) - (d < 0)) / static_cast<T>(n);
  }
  d_pred = Tensor<T, P>::from_host(pred.shape(), g);
  return static_cast<T>(loss / n);
}

}  // namespace gluegen::losses
