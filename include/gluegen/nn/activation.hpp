#pragma once
// Parameter-free activation layers: Gelu (exact erf form, or the tanh approximation), Silu, Relu.
#include <gluegen/nn/module.hpp>

namespace gluegen::nn {

template <UnaryOp Op, ComputeElement T = float, TensorPolicy P = Cpu>
class Activation {
 public:
  static_assert(Op == UnaryOp::gelu_erf || Op == UnaryOp::gelu_tanh || Op == UnaryOp::silu || Op == UnaryOp::relu,
                "Activation<Op>: Op must be an activation (gelu_erf, gelu_tanh, silu, relu)");
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT x, y, dx;
  };

  const TensorT& forward(const TensorT& x, Cache& c) {
    c.x = x;
    reset_if_changed(c.y, x.shape());  // a new batch size: a new buffer
    ops::unary(Op, x, c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    reset_if_changed(c.dx, dy.shape());
    ops::unary_backward(Op, c.x, dy, c.dx);
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
using Gelu = Activation<UnaryOp::gelu_erf, T, P>;
template <ComputeElement T = float, TensorPolicy P = Cpu>
using GeluTanh = Activation<UnaryOp::gelu_tanh, T, P>;
template <ComputeElement T = float, TensorPolicy P = Cpu>
using Silu = Activation<UnaryOp::silu, T, P>;
template <ComputeElement T = float, TensorPolicy P = Cpu>
using Relu = Activation<UnaryOp::relu, T, P>;

static_assert(Layer<Gelu<float, Cpu>>);

}  // namespace gluegen::nn
