#pragma once
// LayerNorm (Ba et al. 2016) and RMSNorm (Zhang & Sennrich 2019; T5's "T5LayerNorm") over the last
// axis, on the shared norm_rows kernels. Parameter names as torch.nn.LayerNorm / T5: weight, bias.
#include <gluegen/nn/module.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class LayerNorm {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT x, y, mean, rstd, dx;
  };

  explicit LayerNorm(index_t dim, T eps = T(1e-5)) : weight(Shape{dim}), bias(Shape{dim}), eps_(eps) {
    weight.value = TensorT::full({dim}, T(1));
  }

  const TensorT& forward(const TensorT& x, Cache& c) {
    c.x = x.contiguous();
    ops::norm_rows(c.x, &weight.value, &bias.value, eps_, true, c.y, c.mean, c.rstd);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::norm_rows_backward(c.x, &weight.value, c.mean, c.rstd, dy, true, c.dx, weight.trainable ? &weight.grad_buffer() : nullptr,
                            bias.trainable ? &bias.grad_buffer() : nullptr);
    return c.dx;
  }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
    f(prefix + "bias", bias);
  }

  Param<T, P> weight, bias;

 private:
  T eps_;
};

/// y = x / sqrt(mean(x^2) + eps) * weight: no centring, no bias.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class RMSNorm {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT x, y, mean, rstd, dx;
  };

  explicit RMSNorm(index_t dim, T eps = T(1e-6)) : weight(Shape{dim}), eps_(eps) { weight.value = TensorT::full({dim}, T(1)); }

  const TensorT& forward(const TensorT& x, Cache& c) {
    c.x = x.contiguous();
    ops::norm_rows(c.x, &weight.value, static_cast<const TensorT*>(nullptr), eps_, false, c.y, c.mean, c.rstd);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::norm_rows_backward(c.x, &weight.value, c.mean, c.rstd, dy, false, c.dx, weight.trainable ? &weight.grad_buffer() : nullptr,
                            static_cast<TensorT*>(nullptr));
    return c.dx;
  }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) { f(prefix + "weight", weight); }

  Param<T, P> weight;

 private:
  T eps_;
};

static_assert(Layer<LayerNorm<float, Cpu>> && Layer<RMSNorm<float, Cpu>>);

}  // namespace gluegen::nn
