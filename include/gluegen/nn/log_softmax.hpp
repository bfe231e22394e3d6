#pragma once
// LogSoftmax over the last axis (the discriminator's output layer, paired with losses::nll), and
// GradientReversal (Ganin & Lempitsky 2015): identity forward, -eta * dy backward, so the layers
// before it are trained to maximise what the layers after it minimise (GlueGen's adversarial term).
#include <gluegen/nn/module.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class LogSoftmax {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT y, dx;
  };
  const TensorT& forward(const TensorT& x, Cache& c) {
    reset_if_changed(c.y, x.shape());
    ops::log_softmax_last(x, c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    reset_if_changed(c.dx, dy.shape());
    ops::log_softmax_backward(c.y, dy, c.dx);
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class GradientReversal {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT y, dx;
  };
  explicit GradientReversal(T eta = T(1)) : eta(eta) {}
  T eta;  ///< GlueGen uses 0.1 (its Discriminator.forward default)
  const TensorT& forward(const TensorT& x, Cache& c) {
    c.y = x;
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    reset_if_changed(c.dx, dy.shape());
    ops::scale(dy, -eta, c.dx);
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}
};

static_assert(Layer<LogSoftmax<float, Cpu>> && Layer<GradientReversal<float, Cpu>>);

}  // namespace gluegen::nn
