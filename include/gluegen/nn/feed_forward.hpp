#pragma once
// FeedForward: fc2(GELU(fc1(x))), the transformer / MLP-mixer MLP. Names fc1, fc2 as CLIP's MLP.
#include <gluegen/nn/activation.hpp>
#include <gluegen/nn/linear.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu, UnaryOp Act = UnaryOp::gelu_erf>
class FeedForward {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename Linear<T, P>::Cache fc1, fc2;
    typename Activation<Act, T, P>::Cache act;
  };

  /// dim -> hidden -> out_dim (out_dim defaults to dim).
  FeedForward(index_t dim, index_t hidden, index_t out_dim = 0, std::uint64_t seed = 0, std::uint64_t stream = 0)
      : fc1(dim, hidden, {.seed = seed, .stream = 2 * stream}),
        fc2(hidden, out_dim > 0 ? out_dim : dim, {.seed = seed, .stream = 2 * stream + 1}) {}

  const TensorT& forward(const TensorT& x, Cache& c) {
    return fc2.forward(act.forward(fc1.forward(x, c.fc1), c.act), c.fc2);
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT& d_hidden = act.backward(fc2.backward(dy, c.fc2), c.act);
    nn::release_backward(fc2, c.fc2);
    const TensorT& dx = fc1.backward(d_hidden, c.fc1);
    nn::release_backward(act, c.act);
    return dx;
  }
  void release_backward(Cache& c) { nn::release_backward(fc1, c.fc1); }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    fc1.visit_parameters(f, prefix + "fc1.");
    fc2.visit_parameters(f, prefix + "fc2.");
  }

  Linear<T, P> fc1;
  Activation<Act, T, P> act;
  Linear<T, P> fc2;
};

static_assert(Layer<FeedForward<float, Cpu>>);

}  // namespace gluegen::nn
