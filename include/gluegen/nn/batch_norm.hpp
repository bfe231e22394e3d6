#pragma once
// BatchNorm1d (Ioffe & Szegedy 2015) over x [N, C] with torch.nn.BatchNorm1d's semantics: in
// training, normalise each channel by the batch's mean and biased variance and update the running
// statistics (momentum 0.1, unbiased variance); in evaluation, use the running statistics. Rows of the
// shared norm_rows kernel are the channels of x^T. GlueGen's discriminator uses it.
#include <gluegen/nn/module.hpp>

#include <cmath>
#include <vector>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class BatchNorm1d {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT xt, xhat, mean, rstd, y_t, y, dy_t, prod, dxhat, dx_t, dx;
    bool training = true;
  };

  explicit BatchNorm1d(index_t channels, T eps = T(1e-5), T momentum = T(0.1))
      : running_mean(Param<T, P>::make_buffer(TensorT::zeros({channels}))),
        running_var(Param<T, P>::make_buffer(TensorT::full({channels}, T(1)))),
        weight(Shape{channels}),
        bias(Shape{channels}),
        eps_(eps),
        momentum_(momentum) {
    weight.value = TensorT::full({channels}, T(1));
  }

  bool training = true;

  /// x [N, C] -> [N, C]
  const TensorT& forward(const TensorT& x, Cache& c) {
    const index_t C = weight.value.size(0);
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 2 && x.size(1) == C,
                     "BatchNorm1d({}): input has shape {}, expected [N, {}]", C, x.shape(), C);
    c.training = training;
    reset_if_changed(c.xt, Shape{C, x.size(0)});
    reset_if_changed(c.y, x.shape());
    ops::copy(x.transpose_last2(), c.xt);  // [C, N]: one row per channel
    if (training) {
      GLUEGEN_CHECK_AS(ShapeError, x.size(0) > 1,
                       "BatchNorm1d: training needs more than one value per channel, got input {}", x.shape());
      ops::norm_rows(c.xt, static_cast<const TensorT*>(nullptr), static_cast<const TensorT*>(nullptr), eps_, true,
                     c.xhat, c.mean, c.rstd);
      update_running_stats(c, x.size(0));
    } else {  // xhat = (x - running_mean) / sqrt(running_var + eps)
      std::vector<T> rstd = running_var.value.to_vector();
      for (T& v : rstd) v = T(1) / std::sqrt(v + eps_);
      c.rstd = TensorT::from_host({C, 1}, rstd);
      ops::mul(ops::sub(c.xt, running_mean.value.reshape({C, 1})), c.rstd, c.xhat);
    }
    ops::mul(c.xhat, weight.value.reshape({C, 1}), c.y_t);
    ops::add(c.y_t, bias.value.reshape({C, 1}), c.y_t);
    ops::copy(c.y_t.transpose_last2(), c.y);
    return c.y;
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    GLUEGEN_CHECK(c.training, "BatchNorm1d::backward: the forward ran in evaluation mode");
    const index_t C = weight.value.size(0);
    ops::copy(dy.transpose_last2(), c.dy_t);  // [C, N]
    if (weight.trainable) {
      ops::mul(c.dy_t, c.xhat, c.prod);
      ops::axpy(T(1), ops::sum_last(c.prod).reshape({C}), weight.grad_buffer());
    }
    if (bias.trainable) ops::axpy(T(1), ops::sum_last(c.dy_t).reshape({C}), bias.grad_buffer());
    ops::mul(c.dy_t, weight.value.reshape({C, 1}), c.dxhat);
    ops::norm_rows_backward(c.xt, static_cast<const TensorT*>(nullptr), c.mean, c.rstd, c.dxhat, true, c.dx_t,
                            static_cast<TensorT*>(nullptr), static_cast<TensorT*>(nullptr));
    ops::copy(c.dx_t.transpose_last2(), c.dx);
    c.dy_t = c.prod = c.dxhat = c.dx_t = {};  // backward-only temporaries
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
    f(prefix + "bias", bias);
    f(prefix + "running_mean", running_mean);
    f(prefix + "running_var", running_var);
  }

  Param<T, P> running_mean, running_var;  ///< buffers, torch's state_dict names
  Param<T, P> weight, bias;

 private:
  /// running = (1 - momentum) running + momentum * batch statistic (variance unbiased, as torch).
  void update_running_stats(const Cache& c, index_t n) {
    const auto mean = c.mean.to_vector(), rstd = c.rstd.to_vector();
    auto rm = running_mean.value.to_vector(), rv = running_var.value.to_vector();
    for (std::size_t i = 0; i < rm.size(); ++i) {
      const T biased = T(1) / (rstd[i] * rstd[i]) - eps_;
      rm[i] = (T(1) - momentum_) * rm[i] + momentum_ * mean[i];
      rv[i] = (T(1) - momentum_) * rv[i] + momentum_ * biased * T(n) / T(n - 1);
    }
    running_mean.value = TensorT::from_host(running_mean.value.shape(), rm);
    running_var.value = TensorT::from_host(running_var.value.shape(), rv);
  }

  T eps_, momentum_;
};

static_assert(Layer<BatchNorm1d<float, Cpu>>);

}  // namespace gluegen::nn
