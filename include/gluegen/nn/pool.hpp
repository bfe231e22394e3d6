#pragma once
// Resampling layers on [B, C, H, W], each the other's adjoint: UpsampleNearest2d (the UNet's
// Upsample2D before its conv) repeats each pixel over a k x k block; AvgPool2d(k) (stride k) averages
// k x k blocks. Backward of one is the other's kernel (with the 1/k^2 factor where it belongs).
#include <gluegen/nn/module.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class UpsampleNearest2d {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT y, dx;
  };
  explicit UpsampleNearest2d(index_t factor = 2) : factor_(factor) {
    GLUEGEN_CHECK_AS(ValueError, factor >= 1, "UpsampleNearest2d: factor {} must be >= 1", factor);
  }
  const TensorT& forward(const TensorT& x, Cache& c) {
    reset_if_changed(c.y, Shape{x.size(0), x.size(1), x.size(2) * factor_, x.size(3) * factor_});
    ops::upsample_nearest(x, factor_, c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    reset_if_changed(c.dx, Shape{dy.size(0), dy.size(1), dy.size(2) / factor_, dy.size(3) / factor_});
    ops::block_sum(dy, factor_, c.dx);
    return c.dx;
  }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}

 private:
  index_t factor_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class AvgPool2d {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT y, dx;
  };
  explicit AvgPool2d(index_t kernel = 2) : kernel_(kernel) {
    GLUEGEN_CHECK_AS(ValueError, kernel >= 1, "AvgPool2d: kernel {} must be >= 1", kernel);
  }
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 4 && x.size(2) % kernel_ == 0 && x.size(3) % kernel_ == 0,
                     "AvgPool2d({}): input has shape {}; height and width must be multiples of {}", kernel_, x.shape(),
                     kernel_);
    reset_if_changed(c.y, Shape{x.size(0), x.size(1), x.size(2) / kernel_, x.size(3) / kernel_});
    ops::block_sum(x, kernel_, c.y, T(1) / T(kernel_ * kernel_));
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    reset_if_changed(c.dx, Shape{dy.size(0), dy.size(1), dy.size(2) * kernel_, dy.size(3) * kernel_});
    ops::upsample_nearest(dy, kernel_, c.dx, T(1) / T(kernel_ * kernel_));
    return c.dx;
  }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}

 private:
  index_t kernel_;
};

static_assert(Layer<UpsampleNearest2d<float, Cpu>> && Layer<AvgPool2d<float, Cpu>>);

}  // namespace gluegen::nn
