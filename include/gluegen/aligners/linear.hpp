#pragma once
// LinearAligner: the closed-form baseline every aligner table needs. A token map A [Lt, Ls] and a
// channel map W [Dt, Ds] with bias c:
//   f(X) = A X W^T + c                       X [Ls, Ds] -> [Lt, Dt]
// fitted by alternating ridge regression: with A fixed, W and c solve one ridge problem over all
// N * Lt mixed tokens; with W and c fixed, A solves one over the tokens. Each half-step is the exact
// minimiser of  sum_n |f(X_n) - Y_n|^2 + lambda (|A|^2 + |W|^2)  in its factor, so the objective never
// increases. With Ls == Lt and fit_token_map = false, A stays the identity and this is plain ridge
// regression of target tokens on source tokens. Normal equations are accumulated in double over the
// batch and solved with Eigen's LDLT. backward() makes the fitted map a starting point for
// gradient fine-tuning like any other aligner.
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/nn/module.hpp>

#include <Eigen/Dense>

#include <fmt/format.h>

#include <vector>

namespace gluegen::aligners {

struct LinearAlignerConfig {
  index_t num_tok = 0, num_tok_out = 0, dim = 0, dim_out = 0;
};

struct RidgeOptions {
  double lambda = 1e-3;       ///< ridge penalty on A and W (not on the bias)
  int iterations = 10;        ///< alternations (1 is enough when the token map is not fitted)
  bool fit_token_map = true;  ///< false: keep A at its initial value (identity when Ls == Lt)
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class LinearAligner {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT x, mixed, y, d_mixed, d_token_map, d_token_map_sum, dx;
  };

  /// A starts as the identity when Ls == Lt and as linear interpolation between token positions
  /// otherwise; W and c start at zero.
  explicit LinearAligner(const LinearAlignerConfig& cfg)
      : token_map(Shape{cfg.num_tok_out, cfg.num_tok}),
        channel_map(Shape{cfg.dim_out, cfg.dim}),
        bias(Shape{cfg.dim_out}),
        cfg_(cfg) {
    GLUEGEN_CHECK_AS(ValueError, cfg.num_tok > 0 && cfg.num_tok_out > 0 && cfg.dim > 0 && cfg.dim_out > 0,
                     "LinearAligner: invalid configuration (tokens {} -> {}, dim {} -> {})", cfg.num_tok,
                     cfg.num_tok_out, cfg.dim, cfg.dim_out);
    std::vector<T> a(static_cast<std::size_t>(cfg.num_tok_out * cfg.num_tok), T(0));
    for (index_t t = 0; t < cfg.num_tok_out; ++t) {
      const double pos = cfg.num_tok_out == 1 ? 0.0
                                              : static_cast<double>(t) * static_cast<double>(cfg.num_tok - 1) /
                                                    static_cast<double>(cfg.num_tok_out - 1);
      const index_t lo = static_cast<index_t>(pos), hi = std::min(lo + 1, cfg.num_tok - 1);
      a[static_cast<std::size_t>(t * cfg.num_tok + lo)] += static_cast<T>(1.0 - (pos - static_cast<double>(lo)));
      a[static_cast<std::size_t>(t * cfg.num_tok + hi)] += static_cast<T>(pos - static_cast<double>(lo));
    }
    token_map.value = TensorT::from_host({cfg.num_tok_out, cfg.num_tok}, a);
  }

  /// x [B, Ls, Ds] -> [B, Lt, Dt]
  /// The Aligner form: the mask is not needed (the token map sees fixed positions).
  const TensorT& align(const TensorT& source, const TensorT& /*source_mask*/, Cache& c) { return forward(source, c); }
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(1) == cfg_.num_tok && x.size(2) == cfg_.dim,
                     "LinearAligner: input has shape {}, expected [B, {}, {}]", x.shape(), cfg_.num_tok, cfg_.dim);
    c.x = x;
    nn::reset_if_changed(c.mixed, Shape{x.size(0), cfg_.num_tok_out, cfg_.dim});
    nn::reset_if_changed(c.y, Shape{x.size(0), cfg_.num_tok_out, cfg_.dim_out});
    ops::matmul(token_map.value, x, c.mixed);                         // A X       [B, Lt, Ds]
    ops::matmul(c.mixed, channel_map.value, c.y, {.trans_b = true});  // A X W^T  [B, Lt, Dt]
    ops::add(c.y, bias.value, c.y);
    return c.y;
  }

  /// dy [B, Lt, Dt] -> dx [B, Ls, Ds]; adds dL/dA, dL/dW, dL/dc to the gradients.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, dy.shape() == c.y.shape(),
                     "LinearAligner backward: dy has shape {}, the output had {}", dy.shape(), c.y.shape());
    const index_t b = dy.size(0), lt = cfg_.num_tok_out, ls = cfg_.num_tok;
    const TensorT dy2d = dy.contiguous().reshape({-1, cfg_.dim_out});
    if (bias.trainable) ops::sum_leading(dy2d, bias.grad_buffer(), true);
    if (channel_map.trainable)  // dW = sum over rows of dy^T (A X)
      ops::matmul(dy2d, c.mixed.reshape({-1, cfg_.dim}), channel_map.grad_buffer(), {.trans_a = true, .beta = 1.0});
    nn::reset_if_changed(c.d_mixed, c.mixed.shape());
    ops::matmul(dy, channel_map.value, c.d_mixed);  // d(A X) = dy W
    if (token_map.trainable) {                      // dA = sum_n d(A X)_n X_n^T
      nn::reset_if_changed(c.d_token_map, Shape{b, lt, ls});
      ops::matmul(c.d_mixed, c.x, c.d_token_map, {.trans_b = true});
      ops::sum_leading(c.d_token_map.reshape({b, lt * ls}), c.d_token_map_sum, false);
      ops::axpy(T(1), c.d_token_map_sum.reshape({lt, ls}), token_map.grad_buffer());
    }
    nn::reset_if_changed(c.dx, c.x.shape());
    ops::matmul(token_map.value, c.d_mixed, c.dx, {.trans_a = true});  // dX = A^T d(A X)
    return c.dx;
  }

  /// Fits A, W, c to source [N, Ls, Ds] -> target [N, Lt, Dt]. Returns the mean squared error after
  /// each alternation (non-increasing up to rounding).
  std::vector<double> fit(const TensorT& source, const TensorT& target, const RidgeOptions& opt = {}) {
    GLUEGEN_CHECK_AS(ShapeError,
                     source.rank() == 3 && target.rank() == 3 && source.size(0) == target.size(0) && source.size(0) > 0,
                     "LinearAligner::fit: source {} and target {} need [N, L, D] with the same N > 0", source.shape(),
                     target.shape());
    GLUEGEN_CHECK_AS(
        ShapeError,
        source.size(1) == cfg_.num_tok && source.size(2) == cfg_.dim && target.size(1) == cfg_.num_tok_out &&
            target.size(2) == cfg_.dim_out,
        "LinearAligner::fit: source {} and target {} do not match the configuration [N, {}, {}] -> [N, {}, {}]",
        source.shape(), target.shape(), cfg_.num_tok, cfg_.dim, cfg_.num_tok_out, cfg_.dim_out);
    GLUEGEN_CHECK_AS(ValueError, opt.lambda >= 0 && opt.iterations >= 1,
                     "LinearAligner::fit: lambda {} and iterations {} are invalid", opt.lambda, opt.iterations);
    const index_t n = source.size(0), ls = cfg_.num_tok, lt = cfg_.num_tok_out, ds = cfg_.dim, dt = cfg_.dim_out;
    const auto xs = source.template cast<double>().to_vector(), ys = target.template cast<double>().to_vector();
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    auto x_of = [&](index_t i) { return Eigen::Map<const Mat>(xs.data() + i * ls * ds, ls, ds); };
    auto y_of = [&](index_t i) { return Eigen::Map<const Mat>(ys.data() + i * lt * dt, lt, dt); };
    const auto host = [](const TensorT& t, index_t r, index_t c) {
      const auto v = t.template cast<double>().to_vector();
      return Mat(Eigen::Map<const Mat>(v.data(), r, c));
    };
    Mat a = host(token_map.value, lt, ls), w = host(channel_map.value, dt, ds);
    Eigen::RowVectorXd bias_row = host(bias.value, 1, dt);

    std::vector<double> history;
    for (int it = 0; it < opt.iterations; ++it) {
      // W, c given A: rows z = (A X_n)_t with an appended 1 for the (unpenalised) bias.
      Mat zz = Mat::Zero(ds + 1, ds + 1), zy = Mat::Zero(ds + 1, dt);
      for (index_t i = 0; i < n; ++i) {
        Mat z(lt, ds + 1);
        z.leftCols(ds) = a * x_of(i);
        z.col(ds).setOnes();
        zz.noalias() += z.transpose() * z;
        zy.noalias() += z.transpose() * y_of(i);
      }
      zz.topLeftCorner(ds, ds).diagonal().array() += opt.lambda;
      const Mat wb = zz.ldlt().solve(zy);  // [Ds + 1, Dt]
      w = wb.topRows(ds).transpose();
      bias_row = wb.row(ds);
      // A given W, c: A^T = (sum_n U_n U_n^T + lambda I)^-1 sum_n U_n (Y_n - c)^T with U_n = X_n W^T.
      if (opt.fit_token_map) {
        Mat uu = Mat::Zero(ls, ls), uy = Mat::Zero(ls, lt);
        for (index_t i = 0; i < n; ++i) {
          const Mat u = x_of(i) * w.transpose();  // [Ls, Dt]
          uu.noalias() += u * u.transpose();
          uy.noalias() += u * (y_of(i).rowwise() - bias_row).transpose();
        }
        uu.diagonal().array() += opt.lambda;
        a = uu.ldlt().solve(uy).transpose();
      }
      double sq = 0;
      for (index_t i = 0; i < n; ++i)
        sq += ((a * x_of(i) * w.transpose()).rowwise() + bias_row - y_of(i)).squaredNorm();
      history.push_back(sq / static_cast<double>(n * lt * dt));
      GLUEGEN_CHECK_AS(ValueError, std::isfinite(history.back()),
                       "LinearAligner::fit: the error is {} after alternation {} (NaN in the data?)", history.back(),
                       it + 1);
    }
    token_map.value = TensorT::from_host({lt, ls}, std::vector<T>(a.data(), a.data() + a.size()));
    channel_map.value = TensorT::from_host({dt, ds}, std::vector<T>(w.data(), w.data() + w.size()));
    bias.value = TensorT::from_host({dt}, std::vector<T>(bias_row.data(), bias_row.data() + bias_row.size()));
    return history;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "token_map", token_map);
    f(prefix + "channel_map.weight", channel_map);
    f(prefix + "channel_map.bias", bias);
  }

  nn::Param<T, P> token_map, channel_map, bias;

 private:
  LinearAlignerConfig cfg_;
};

static_assert(nn::Module<LinearAligner<float, Cpu>> && Aligner<LinearAligner<float, Cpu>>);

}  // namespace gluegen::aligners
