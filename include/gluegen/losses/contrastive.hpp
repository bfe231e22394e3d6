#pragma once
// Similarity losses between paired embeddings: cosine-embedding (F.cosine_embedding_loss) and the
// symmetric InfoNCE of CLIP (Radford et al. 2021, Fig. 3; van den Oord et al. 2018). Computed on the
// host in double: their inputs are sentence vectors [N, D], small beside the token features.
#include <gluegen/losses/regression.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace gluegen::losses {

namespace detail {
inline std::vector<double> as_double(const auto& t) {
  const auto v = t.to_vector();
  return {v.begin(), v.end()};
}
}  // namespace detail

/// mean over rows of: 1 - cos(x1, x2) where y = +1, max(0, cos(x1, x2) - margin) where y = -1.
template <ComputeElement T, TensorPolicy P>
T cosine_embedding(const Tensor<T, P>& x1, const Tensor<T, P>& x2, std::span<const int> y, T margin, Tensor<T, P>& d_x1,
                   Tensor<T, P>& d_x2) {
  detail::require_same("cosine_embedding", x1, x2);
  GLUEGEN_CHECK_AS(ShapeError, x1.rank() == 2 && static_cast<index_t>(y.size()) == x1.size(0),
                   "cosine_embedding: inputs {} need [N, D] with N = {} labels", x1.shape(), y.size());
  const index_t n = x1.size(0), d = x1.size(1);
  const auto a = detail::as_double(x1), b = detail::as_double(x2);
  std::vector<T> ga(a.size(), T(0)), gb(b.size(), T(0));
  double loss = 0;
  constexpr double eps = 1e-12;  // torch adds EPSILON = 1e-12 to the squared norms
  for (index_t i = 0; i < n; ++i) {
    GLUEGEN_CHECK_AS(ValueError, y[i] == 1 || y[i] == -1, "cosine_embedding: label {} of row {} is not +1 or -1", y[i],
                     i);
    double ab = 0, aa = eps, bb = eps;
    for (index_t k = 0; k < d; ++k) {
      ab += a[i * d + k] * b[i * d + k];
      aa += a[i * d + k] * a[i * d + k];
      bb += b[i * d + k] * b[i * d + k];
    }
    const double norm = std::sqrt(aa * bb), cos = ab / norm;
    double dcos = 0;  // dL_i / dcos
    if (y[i] == 1) {
      loss += 1 - cos;
      dcos = -1;
    } else if (cos > margin) {
      loss += cos - margin;
      dcos = 1;
    }
    for (index_t k = 0; k < d; ++k) {  // dcos/da = b / norm - cos a / aa
      ga[i * d + k] = static_cast<T>(dcos / n * (b[i * d + k] / norm - cos * a[i * d + k] / aa));
      gb[i * d + k] = static_cast<T>(dcos / n * (a[i * d + k] / norm - cos * b[i * d + k] / bb));
    }
  }
  d_x1 = Tensor<T, P>::from_host(x1.shape(), ga);
  d_x2 = Tensor<T, P>::from_host(x2.shape(), gb);
  return static_cast<T>(loss / n);
}

/// Symmetric InfoNCE over N pairs: logits = norm(a) norm(b)^T / temperature, loss = (CE(logits, I) +
/// CE(logits^T, I)) / 2, where row i's positive is column i.
template <ComputeElement T, TensorPolicy P>
T info_nce(const Tensor<T, P>& a, const Tensor<T, P>& b, T temperature, Tensor<T, P>& d_a, Tensor<T, P>& d_b) {
  detail::require_same("info_nce", a, b);
  GLUEGEN_CHECK_AS(ShapeError, a.rank() == 2, "info_nce: inputs {} need [N, D]", a.shape());
  GLUEGEN_CHECK_AS(ValueError, temperature > T(0), "info_nce: temperature must be positive, got {}", temperature);
  const index_t n = a.size(0), d = a.size(1);
  auto va = detail::as_double(a), vb = detail::as_double(b);
  std::vector<double> na(static_cast<std::size_t>(n)), nb(static_cast<std::size_t>(n));
  auto normalize = [&](std::vector<double>& v, std::vector<double>& norms) {  // F.normalize: x / max(|x|, 1e-12)
    for (index_t i = 0; i < n; ++i) {
      double s = 0;
      for (index_t k = 0; k < d; ++k) s += v[i * d + k] * v[i * d + k];
      norms[i] = std::max(std::sqrt(s), 1e-12);
      for (index_t k = 0; k < d; ++k) v[i * d + k] /= norms[i];
    }
  };
  normalize(va, na);
  normalize(vb, nb);
  std::vector<double> logits(static_cast<std::size_t>(n * n)), dlogits(logits.size(), 0.0);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      double s = 0;
      for (index_t k = 0; k < d; ++k) s += va[i * d + k] * vb[j * d + k];
      logits[i * n + j] = s / temperature;
    }
  double loss = 0;
  // Cross-entropy over rows (transposed = false) and over columns (true); each contributes half.
  for (const bool transposed : {false, true}) {
    for (index_t i = 0; i < n; ++i) {
      auto at = [&](index_t j) -> std::size_t { return static_cast<std::size_t>(transposed ? j * n + i : i * n + j); };
      double m = -INFINITY;
      for (index_t j = 0; j < n; ++j) m = std::max(m, logits[at(j)]);
      double z = 0;
      for (index_t j = 0; j < n; ++j) z += std::exp(logits[at(j)] - m);
      loss += (m + std::log(z) - logits[at(i)]) / (2.0 * n);
      for (index_t j = 0; j < n; ++j) dlogits[at(j)] += (std::exp(logits[at(j)] - m) / z - (i == j)) / (2.0 * n);
    }
  }
  // Back through logits = ua ub^T / t and u = x / |x|: dx = (du - u (u . du)) / |x|.
  std::vector<T> ga(va.size()), gb(vb.size());
  for (index_t i = 0; i < n; ++i) {
    std::vector<double> dua(static_cast<std::size_t>(d), 0.0), dub(static_cast<std::size_t>(d), 0.0);
    for (index_t j = 0; j < n; ++j)
      for (index_t k = 0; k < d; ++k) {
        dua[k] += dlogits[i * n + j] * vb[j * d + k] / temperature;
        dub[k] += dlogits[j * n + i] * va[j * d + k] / temperature;
      }
    double pa = 0, pb = 0;
    for (index_t k = 0; k < d; ++k) pa += va[i * d + k] * dua[k], pb += vb[i * d + k] * dub[k];
    for (index_t k = 0; k < d; ++k) {
      ga[i * d + k] = static_cast<T>((dua[k] - va[i * d + k] * pa) / na[i]);
      gb[i * d + k] = static_cast<T>((dub[k] - vb[i * d + k] * pb) / nb[i]);
    }
  }
  d_a = Tensor<T, P>::from_host(a.shape(), ga);
  d_b = Tensor<T, P>::from_host(b.shape(), gb);
  return static_cast<T>(loss);
}

}  // namespace gluegen::losses
