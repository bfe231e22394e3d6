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
    if (c.y.defined() && c.y.shape() != x.shape())
      c.y = c.mean = c.rstd = c.dx = TensorT{};  // a new batch shape: new buffers
    ops::norm_rows(c.x, &weight.value, &bias.value, eps_, true, c.y, c.mean, c.rstd);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::norm_rows_backward(c.x, &weight.value, c.mean, c.rstd, dy, true, c.dx,
                            weight.trainable ? &weight.grad_buffer() : nullptr,
                            bias.trainable ? &bias.grad_buffer() : nullptr);
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
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

  explicit RMSNorm(index_t dim, T eps = T(1e-6)) : weight(Shape{dim}), eps_(eps) {
    weight.value = TensorT::full({dim}, T(1));
  }

  const TensorT& forward(const TensorT& x, Cache& c) {
    c.x = x.contiguous();
    if (c.y.defined() && c.y.shape() != x.shape())
      c.y = c.mean = c.rstd = c.dx = TensorT{};  // a new batch shape: new buffers
    ops::norm_rows(c.x, &weight.value, static_cast<const TensorT*>(nullptr), eps_, false, c.y, c.mean, c.rstd);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::norm_rows_backward(c.x, &weight.value, c.mean, c.rstd, dy, false, c.dx,
                            weight.trainable ? &weight.grad_buffer() : nullptr, static_cast<TensorT*>(nullptr));
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
  }

  Param<T, P> weight;

 private:
  T eps_;
};

/// GroupNorm (Wu & He 2018) over x [B, C, *spatial]: statistics per (sample, group of C/G channels),
/// then a per-channel affine; the UNet's normalisation (32 groups in SD). Rows of the shared
/// norm_rows kernel are the B*G groups; the affine is a broadcast over [B, C, S].
template <ComputeElement T = float, TensorPolicy P = Cpu>
class GroupNorm {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT rows, xhat, mean, rstd, y, dxhat, prod, sums, dx;
    Shape shape;
  };

  GroupNorm(index_t groups, index_t channels, T eps = T(1e-5))
      : weight(Shape{channels}), bias(Shape{channels}), groups_(groups), eps_(eps) {
    GLUEGEN_CHECK_AS(ShapeError, groups > 0 && channels % groups == 0,
                     "GroupNorm: {} channels do not split into {} groups", channels, groups);
    weight.value = TensorT::full({channels}, T(1));
  }

  const TensorT& forward(const TensorT& x, Cache& c) {
    const index_t C = weight.value.size(0);
    GLUEGEN_CHECK_AS(ShapeError, x.rank() >= 3 && x.size(1) == C,
                     "GroupNorm({}, {}): input has shape {}, expected [B, {}, ...]", groups_, C, x.shape(), C);
    if (c.shape != x.shape()) {  // new batch or resolution: new buffers
      c = Cache{};
      c.shape = x.shape();
    }
    const index_t B = x.size(0), S = x.numel() / (B * C);
    c.rows = x.contiguous().reshape({B * groups_, -1});
    ops::norm_rows(c.rows, static_cast<const TensorT*>(nullptr), static_cast<const TensorT*>(nullptr), eps_, true,
                   c.xhat, c.mean, c.rstd);
    TensorT y3 = c.y.defined() ? c.y.reshape({B, C, S}) : TensorT{};
    ops::mul(c.xhat.reshape({B, C, S}), weight.value.reshape({C, 1}), y3);
    ops::add(y3, bias.value.reshape({C, 1}), y3);
    return c.y = y3.reshape(x.shape());
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    const index_t C = weight.value.size(0), B = c.shape[0], S = c.shape.numel() / (B * C);
    const TensorT dy3 = dy.contiguous().reshape({B, C, S});
    if (weight.trainable) {  // dw[c] = sum over batch and positions of dy * xhat
      ops::mul(dy3, c.xhat.reshape({B, C, S}), c.prod);
      ops::sum_last(c.prod, c.sums);
      ops::sum_leading(c.sums.reshape({B, C}), weight.grad_buffer(), true);
    }
    if (bias.trainable) {
      ops::sum_last(dy3, c.sums);
      ops::sum_leading(c.sums.reshape({B, C}), bias.grad_buffer(), true);
    }
    TensorT dxhat3 = c.dxhat.defined() ? c.dxhat.reshape({B, C, S}) : TensorT{};
    ops::mul(dy3, weight.value.reshape({C, 1}), dxhat3);
    c.dxhat = dxhat3.reshape({B * groups_, -1});
    TensorT dx_rows = c.dx.defined() ? c.dx.reshape({B * groups_, -1}) : TensorT{};
    ops::norm_rows_backward(c.rows, static_cast<const TensorT*>(nullptr), c.mean, c.rstd, c.dxhat, true, dx_rows,
                            static_cast<TensorT*>(nullptr), static_cast<TensorT*>(nullptr));
    return c.dx = dx_rows.reshape(c.shape);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
    f(prefix + "bias", bias);
  }

  Param<T, P> weight, bias;

 private:
  index_t groups_;
  T eps_;
};

static_assert(Layer<LayerNorm<float, Cpu>> && Layer<RMSNorm<float, Cpu>> && Layer<GroupNorm<float, Cpu>>);

}  // namespace gluegen::nn
