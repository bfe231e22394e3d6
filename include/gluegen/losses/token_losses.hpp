#pragma once
// Token-level regression objectives as types, for Supervised<A, Loss> (aligners/aligner.hpp), so that a
// loss ablation is one alias. Each takes pred and target [B, L, D] and weights [B, L] (the target's
// padding mask: only real tokens count), returns the loss, writes dL/dpred, and names the term it logs.
#include <gluegen/losses/regression.hpp>

#include <algorithm>
#include <concepts>
#include <string_view>

namespace gluegen::losses {

template <typename L, typename T, typename P>
concept TokenLoss = requires(const L& loss, const Tensor<T, P>& x, Tensor<T, P>& d) {
  { loss(x, x, x, d) } -> std::convertible_to<double>;
  { L::name } -> std::convertible_to<std::string_view>;
};

/// GlueGen's L_mse over real tokens: sum_bl w_bl |pred_bl - target_bl|^2 / (D sum_bl w_bl).
struct TokenMse {
  static constexpr std::string_view name = "mse";
  template <ComputeElement T, TensorPolicy P>
  double operator()(const Tensor<T, P>& pred, const Tensor<T, P>& target, const Tensor<T, P>& weights,
                    Tensor<T, P>& d_pred) const {
    return weighted_mse(pred, target, weights, d_pred);
  }
};

/// sum_bl w_bl (1 - cos(pred_bl, target_bl)) / sum_bl w_bl: the direction of each token only. The
/// decoder's cross-attention is not scale-free (keys and values are linear in the token), so this is
/// the ablation that asks what fitting the norm is worth. Computed on the host in double.
struct TokenCosine {
  static constexpr std::string_view name = "cosine";
  template <ComputeElement T, TensorPolicy P>
  double operator()(const Tensor<T, P>& pred, const Tensor<T, P>& target, const Tensor<T, P>& weights,
                    Tensor<T, P>& d_pred) const {
    detail::require_same("TokenCosine", pred, target);
    GLUEGEN_CHECK_AS(ShapeError, pred.rank() == 3 && weights.shape() == (Shape{pred.size(0), pred.size(1)}),
                     "TokenCosine: prediction {} needs [B, L, D] and weights [B, L]; got weights {}", pred.shape(),
                     weights.shape());
    const auto p = pred.to_vector(), t = target.to_vector(), w = weights.to_vector();
    const auto dim = static_cast<std::size_t>(pred.size(2));
    double weight_sum = 0;
    for (const T v : w) weight_sum += static_cast<double>(v);
    GLUEGEN_CHECK_AS(ValueError, weight_sum > 0, "TokenCosine: the weights sum to {} (every token masked?)",
                     weight_sum);
    std::vector<T> g(p.size(), T(0));
    double loss = 0;
    constexpr double kEps = 1e-8;  // as F.cosine_similarity: a zero vector has cosine 0, not NaN
    for (std::size_t k = 0; k < w.size(); ++k) {
      if (w[k] == T(0)) continue;
      double pt = 0, pp = 0, tt = 0;
      for (std::size_t i = k * dim; i < (k + 1) * dim; ++i) {
        pt += static_cast<double>(p[i]) * t[i], pp += static_cast<double>(p[i]) * p[i];
        tt += static_cast<double>(t[i]) * t[i];
      }
      const double np = std::max(std::sqrt(pp), kEps), nt = std::max(std::sqrt(tt), kEps), cos = pt / (np * nt);
      const double scale = static_cast<double>(w[k]) / weight_sum;
      loss += scale * (1 - cos);
      // d(1 - cos)/dp = -(t / (|p| |t|) - cos p / |p|^2)
      for (std::size_t i = k * dim; i < (k + 1) * dim; ++i)
        g[i] = static_cast<T>(-scale * (t[i] / (np * nt) - cos * p[i] / (np * np)));
    }
    d_pred = Tensor<T, P>::from_host(pred.shape(), g);
    return loss;
  }
};

/// Loss over every target position, padding included: GlueGen's L_mse over all 77 CLIP tokens, since the
/// decoder's cross-attention reads every position (its text encoder's padding features as well).
template <typename Loss>
struct AllTokens {
  static constexpr std::string_view name = Loss::name;
  template <ComputeElement T, TensorPolicy P>
  double operator()(const Tensor<T, P>& pred, const Tensor<T, P>& target, const Tensor<T, P>& weights,
                    Tensor<T, P>& d_pred) const {
    return Loss{}(pred, target, Tensor<T, P>::full(weights.shape(), T(1)), d_pred);
  }
};

}  // namespace gluegen::losses
