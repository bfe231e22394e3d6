#pragma once
// Losses for GlueGen's adversarial term L_adv (design.md section 1): binary cross-entropy on
// discriminator logits, and the hinge GAN losses (Lim & Ye 2017; Miyato et al. 2018) for either side.
#include <gluegen/losses/regression.hpp>

#include <cmath>
#include <span>
#include <vector>

namespace gluegen::losses {

/// mean of max(x, 0) - x t + log(1 + exp(-|x|)) (F.binary_cross_entropy_with_logits, stable for any x);
/// dL/dx = (sigmoid(x) - t) / N. Targets may be soft (in [0, 1]).
template <ComputeElement T, TensorPolicy P>
T bce_with_logits(const Tensor<T, P>& logits, const Tensor<T, P>& targets, Tensor<T, P>& d_logits) {
  detail::require_same("bce_with_logits", logits, targets);
  const auto x = logits.to_vector(), t = targets.to_vector();
  const double n = static_cast<double>(x.size());
  std::vector<T> g(x.size());
  double loss = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xi = x[i], ti = t[i];
    GLUEGEN_CHECK_AS(ValueError, ti >= 0 && ti <= 1, "bce_with_logits: target {} at {} is outside [0, 1]", ti, i);
    loss += std::max(xi, 0.0) - xi * ti + std::log1p(std::exp(-std::abs(xi)));
    g[i] = static_cast<T>((1.0 / (1.0 + std::exp(-xi)) - ti) / n);
  }
  d_logits = Tensor<T, P>::from_host(logits.shape(), g);
  return static_cast<T>(loss / n);
}

/// Negative log-likelihood of class labels under log-probabilities logp [N, K] (F.nll_loss, mean):
/// -mean_i logp[i, label_i]. GlueGen trains its domain discriminator with it (label 0 real, 1 aligned).
template <ComputeElement T, TensorPolicy P>
T nll(const Tensor<T, P>& logp, std::span<const int> labels, Tensor<T, P>& d_logp) {
  GLUEGEN_CHECK_AS(ShapeError,
                   logp.rank() == 2 && static_cast<index_t>(labels.size()) == logp.size(0) && logp.size(0) > 0,
                   "nll: log-probabilities {} need [N, K] with N = {} labels", logp.shape(), labels.size());
  const index_t n = logp.size(0), k = logp.size(1);
  const auto lp = logp.to_vector();
  std::vector<T> g(lp.size(), T(0));
  double loss = 0;
  for (index_t i = 0; i < n; ++i) {
    GLUEGEN_CHECK_AS(ValueError, labels[i] >= 0 && labels[i] < k, "nll: label {} of row {} is outside [0, {})",
                     labels[i], i, k);
    loss -= lp[static_cast<std::size_t>(i * k + labels[i])];
    g[static_cast<std::size_t>(i * k + labels[i])] = static_cast<T>(-1.0 / static_cast<double>(n));
  }
  d_logp = Tensor<T, P>::from_host(logp.shape(), g);
  return static_cast<T>(loss / static_cast<double>(n));
}

/// Discriminator hinge: mean relu(1 - d_real) + mean relu(1 + d_fake).
template <ComputeElement T, TensorPolicy P>
T hinge_discriminator(const Tensor<T, P>& d_real, const Tensor<T, P>& d_fake, Tensor<T, P>& grad_real,
                      Tensor<T, P>& grad_fake) {
  GLUEGEN_CHECK_AS(ShapeError, d_real.numel() > 0 && d_fake.numel() > 0, "hinge_discriminator: empty scores");
  const auto r = d_real.to_vector(), f = d_fake.to_vector();
  std::vector<T> gr(r.size()), gf(f.size());
  double loss = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    loss += std::max(0.0, 1.0 - r[i]) / static_cast<double>(r.size());
    gr[i] = static_cast<T>(r[i] < 1 ? -1.0 / static_cast<double>(r.size()) : 0.0);
  }
  for (std::size_t i = 0; i < f.size(); ++i) {
    loss += std::max(0.0, 1.0 + f[i]) / static_cast<double>(f.size());
    gf[i] = static_cast<T>(f[i] > -1 ? 1.0 / static_cast<double>(f.size()) : 0.0);
  }
  grad_real = Tensor<T, P>::from_host(d_real.shape(), gr);
  grad_fake = Tensor<T, P>::from_host(d_fake.shape(), gf);
  return static_cast<T>(loss);
}

/// Generator hinge: -mean d_fake.
template <ComputeElement T, TensorPolicy P>
T hinge_generator(const Tensor<T, P>& d_fake, Tensor<T, P>& grad_fake) {
  GLUEGEN_CHECK_AS(ShapeError, d_fake.numel() > 0, "hinge_generator: empty scores");
  const double n = static_cast<double>(d_fake.numel());
  grad_fake = Tensor<T, P>::full(d_fake.shape(), static_cast<T>(-1.0 / n));
  return static_cast<T>(-detail::total(d_fake) / n);
}

}  // namespace gluegen::losses
