#pragma once
// Inverted dropout (Srivastava et al. 2014): in training, zero each element with probability p and
// scale the rest by 1/(1-p); identity in evaluation. The mask of call k is Philox(seed, stream = k),
// so a run is reproducible and a resumed run draws the masks it would have drawn.
#include <gluegen/nn/module.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Dropout {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT mask, y, dx;
    bool applied = false;
  };

  explicit Dropout(T p, std::uint64_t seed = 0) : p_(p), seed_(seed) {
    GLUEGEN_CHECK_AS(ValueError, p >= T(0) && p < T(1), "Dropout: p = {} is outside [0, 1)", p);
  }

  bool training = true;
  std::uint64_t calls = 0;  ///< masks drawn so far (the stream of the next mask); saved with checkpoints

  const TensorT& forward(const TensorT& x, Cache& c) {
    c.applied = training && p_ > T(0);
    if (!c.applied) {
      c.y = x;
      return c.y;
    }
    if (!c.mask.defined() || c.mask.shape() != x.shape()) c.mask = TensorT(x.shape());
    ops::dropout_mask(c.mask, T(1) - p_, seed_, calls++);
    ops::mul(x, c.mask, c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    if (!c.applied) {
      c.dx = dy;
      return c.dx;
    }
    ops::mul(dy, c.mask, c.dx);
    return c.dx;
  }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}

 private:
  T p_;
  std::uint64_t seed_;
};

static_assert(Layer<Dropout<float, Cpu>>);

}  // namespace gluegen::nn
