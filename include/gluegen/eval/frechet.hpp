#pragma once
// Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, eq. 6; FID when
// the features are Inception's):  d^2 = |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}).
// tr((S_1 S_2)^{1/2}) is the sum of square roots of the eigenvalues of S_1^{1/2} S_2 S_1^{1/2}, a
// symmetric PSD matrix, so only symmetric eigendecompositions are needed (no complex sqrtm).
#include <gluegen/core/error.hpp>

#include <Eigen/Dense>

#include <vector>

namespace gluegen::eval {

struct GaussianFit {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  index_t count = 0;
};

/// Mean and unbiased covariance of n rows of `dim` features (row-major).
[[nodiscard]] inline GaussianFit fit_gaussian(const std::vector<float>& rows, index_t dim) {
  GLUEGEN_CHECK_AS(ValueError, dim > 0 && !rows.empty() && rows.size() % static_cast<std::size_t>(dim) == 0,
                   "fit_gaussian: {} values are not rows of {}", rows.size(), dim);
  const index_t n = static_cast<index_t>(rows.size()) / dim;
  GLUEGEN_CHECK_AS(ValueError, n >= 2, "fit_gaussian: needs at least 2 samples, got {}", n);
  const Eigen::MatrixXd x =
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(rows.data(), n, dim)
          .cast<double>();
  GaussianFit g{x.colwise().mean().transpose(), Eigen::MatrixXd(), n};
  const Eigen::MatrixXd centred = x.rowwise() - g.mean.transpose();
  g.cov = centred.transpose() * centred / static_cast<double>(n - 1);
  return g;
}

[[nodiscard]] inline double frechet_distance(const GaussianFit& a, const GaussianFit& b) {
  GLUEGEN_CHECK_AS(ValueError, a.mean.size() == b.mean.size(), "frechet_distance: {} vs {} features", a.mean.size(),
                   b.mean.size());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ea(a.cov);
  const Eigen::VectorXd roots = ea.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  const Eigen::MatrixXd sqrt_a = ea.eigenvectors() * roots.asDiagonal() * ea.eigenvectors().transpose();
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(sqrt_a * b.cov * sqrt_a, Eigen::EigenvaluesOnly);
  const double cross = em.eigenvalues().cwiseMax(0.0).cwiseSqrt().sum();
  return (a.mean - b.mean).squaredNorm() + a.cov.trace() + b.cov.trace() - 2 * cross;
}

}  // namespace gluegen::eval
