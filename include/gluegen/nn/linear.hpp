#pragma once
// Linear: y = x W^T + b, W stored [out, in] as torch.nn.Linear (so HF weights copy unchanged).
#include <gluegen/nn/module.hpp>

#include <cmath>

namespace gluegen::nn {

struct LinearOptions {
  bool bias = true;
  std::uint64_t seed = 0;    ///< initialisation seed
  std::uint64_t stream = 0;  ///< Philox stream, so sibling layers with one seed differ
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Linear {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;

  struct Cache {
    TensorT x2d, y, dx;  // x2d: the input as [rows, in]
  };

  /// Initialised as torch.nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
  Linear(index_t in_features, index_t out_features, LinearOptions opt = {})
      : weight(Shape{out_features, in_features}), in_(in_features), out_(out_features), has_bias_(opt.bias) {
    GLUEGEN_CHECK_AS(ShapeError, in_features > 0 && out_features > 0, "Linear: features must be positive, got in {} out {}", in_features, out_features);
    const T bound = T(1) / std::sqrt(T(in_features));
    ops::fill_uniform(weight.value, opt.seed, -bound, bound, 2 * opt.stream);
    if (has_bias_) {
      bias = Param<T, P>(Shape{out_features});
      ops::fill_uniform(bias.value, opt.seed, -bound, bound, 2 * opt.stream + 1);
    }
  }

  [[nodiscard]] index_t in_features() const noexcept { return in_; }
  [[nodiscard]] index_t out_features() const noexcept { return out_; }
  [[nodiscard]] bool has_bias() const noexcept { return has_bias_; }

  /// x: [..., in] -> [..., out]
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() >= 1 && x.size(-1) == in_, "Linear({} -> {}): input has shape {}, expected [..., {}]", in_, out_,
                     x.shape(), in_);
    c.x2d = x.contiguous().reshape({-1, in_});
    TensorT y2d = c.y.defined() && c.y.numel() == c.x2d.size(0) * out_ ? c.y.reshape({-1, out_}) : TensorT{};
    ops::matmul(c.x2d, weight.value, y2d, {.trans_b = true});
    if (has_bias_) ops::add(y2d, bias.value, y2d);
    c.y = y2d.reshape(x.shape().with_last(out_));
    return c.y;
  }

  /// dy: [..., out] -> dx [..., in]; dW += dy^T x, db += sum of dy rows.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, dy.shape() == c.y.shape(), "Linear({} -> {}) backward: dy has shape {}, the output had {}", in_, out_, dy.shape(),
                     c.y.shape());
    const TensorT dy2d = dy.contiguous().reshape({-1, out_});
    if (weight.trainable) ops::matmul(dy2d, c.x2d, weight.grad_buffer(), {.trans_a = true, .beta = 1.0});
    if (has_bias_ && bias.trainable) ops::sum_leading(dy2d, bias.grad_buffer(), true);
    TensorT dx2d = c.dx.defined() && c.dx.numel() == c.x2d.numel() ? c.dx.reshape({-1, in_}) : TensorT{};
    ops::matmul(dy2d, weight.value, dx2d);
    Shape dx_shape = dy.shape().with_last(in_);
    c.dx = dx2d.reshape(dx_shape);
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
    if (has_bias_) f(prefix + "bias", bias);
  }

  Param<T, P> weight, bias;

 private:
  index_t in_, out_;
  bool has_bias_;
};

static_assert(Layer<Linear<float, Cpu>>);

}  // namespace gluegen::nn
