#pragma once
// The module contract (design.md section 3).
//
// A module owns Params and names them: visit_parameters(f, prefix) calls f(name, param) for each,
// with Hugging Face / PyTorch state_dict names ("q_proj.weight", "0.bias"), so HDF5 checkpoints and
// converted Hugging Face weights load without renaming.
//
// A Layer is a module with one tensor in and one out, composable in Sequential/Residual:
//   const Tensor& forward(const Tensor& x, Cache& cache);   // output kept in the cache
//   const Tensor& backward(const Tensor& dy, Cache& cache); // returns dL/dx; adds dL/dparam into
//                                                           // param.grad for trainable params
// Cache is a nested struct holding the activations backward needs and every output buffer, so a
// composition's whole state is one struct, allocated on the first step and reused afterwards.
// There is no tape: backward is written by hand per module and checked against finite differences
// (tests/support/gradcheck.hpp) and PyTorch (tools/make_nn_goldens.py).
//
// Backward buffers are transient: once the consumer of a layer's dL/dx is done with it, it calls
// release_backward(layer, cache), and the layer drops that buffer (and its other backward-only
// temporaries) if it defines release_backward(Cache&). Composites (Sequential, the aligners' blocks)
// release each child's gradient as soon as the next child has consumed it, so a deep network holds
// a few gradient buffers at a time rather than one per layer; the Cpu policy's block cache hands the
// same memory to the next allocation of that size. Activations stay in the cache.
#include <gluegen/tensor.hpp>

#include <concepts>
#include <initializer_list>
#include <string_view>
#include <utility>
#include <string>
#include <vector>

namespace gluegen::nn {

template <ComputeElement T, TensorPolicy P>
struct Param {
  Tensor<T, P> value;
  /// Holds this step's gradient when has_grad(); the memory stays allocated across zero_grad, so a
  /// training loop does not return and re-fault hundreds of MB of gradients every step.
  Tensor<T, P> grad;
  bool trainable = true;
  /// A persistent buffer (torch's register_buffer: BatchNorm's running statistics): saved, loaded and
  /// checkpointed with the parameters, but never trained, counted or unfrozen.
  bool buffer = false;

  Param() = default;
  explicit Param(const Shape& shape) : value(Tensor<T, P>::zeros(shape)) {}

  static Param make_buffer(Tensor<T, P> initial) {
    Param p;
    p.value = std::move(initial);
    p.trainable = false;
    p.buffer = true;
    return p;
  }

  /// The gradient buffer to accumulate into, zero-filled on first use after zero_grad.
  Tensor<T, P>& grad_buffer() {
    if (!grad.defined())
      grad = Tensor<T, P>::zeros(value.shape());
    else if (!grad_live)
      ops::fill(grad, T(0));
    grad_live = true;
    return grad;
  }
  /// True when a backward since the last zero_grad reached this parameter (torch: grad is not None).
  [[nodiscard]] bool has_grad() const noexcept { return grad_live && grad.defined(); }
  /// Marks the gradient stale (zero_grad); the next grad_buffer() zero-fills it.
  void clear_grad() noexcept { grad_live = false; }
  /// Frees the gradient (a frozen parameter keeps none).
  void drop_grad() {
    grad = {};
    grad_live = false;
  }

 private:
  bool grad_live = false;
};

namespace detail {
/// The weakest visitor a module must accept (a named type: nvcc rejects lambdas inside concepts).
template <typename T, typename P>
struct ParamVisitorArchetype {
  void operator()(const std::string&, Param<T, P>&) const {}
};
}  // namespace detail

/// Anything that names its parameters.
template <typename M>
concept Module = requires(M& m, detail::ParamVisitorArchetype<typename M::value_type, typename M::policy> visitor) {
  typename M::value_type;
  typename M::policy;
  m.visit_parameters(visitor, std::string());
};

/// A module with one tensor in and one tensor out, and an explicit backward pass.
template <typename L>
concept Layer =
    Module<L> && requires(L& l, typename L::Cache& cache, const Tensor<typename L::value_type, typename L::policy>& t) {
      typename L::Cache;
      { l.forward(t, cache) } -> std::same_as<const Tensor<typename L::value_type, typename L::policy>&>;
      { l.backward(t, cache) } -> std::same_as<const Tensor<typename L::value_type, typename L::policy>&>;
    };

using ops::reset_if_changed;

/// Adds dy's contribution to a parameter gradient: grad += dy (same shape), if the param trains.
/// Drops `layer`'s backward buffers (its returned dL/dx among them): call once that gradient is consumed.
template <typename L>
void release_backward(L& layer, typename L::Cache& c) {
  if constexpr (requires { layer.release_backward(c); }) layer.release_backward(c);
}

template <ComputeElement T, TensorPolicy P>
void accumulate_grad(Param<T, P>& p, const Tensor<T, P>& dy) {
  if (p.trainable) ops::axpy(T(1), dy, p.grad_buffer());
}

template <Module M>
void zero_grad(M& m) {
  m.visit_parameters([](const std::string&, auto& p) { p.clear_grad(); },
                     "");  // zero-filled on first use: no pass over untouched params
}

/// Sets trainable = flag on every parameter whose name starts with `prefix` ("" = all). Frozen
/// parameters drop their gradient buffers; buffers stay untrainable.
template <Module M>
void set_trainable(M& m, bool flag, const std::string& prefix = "") {
  m.visit_parameters(
      [&](const std::string& name, auto& p) {
        if (!p.buffer && name.starts_with(prefix)) {
          p.trainable = flag;
          if (!flag) p.drop_grad();
        }
      },
      "");
}

template <Module M>
void freeze(M& m, const std::string& prefix = "") {
  set_trainable(m, false, prefix);
}

struct ParameterCount {
  index_t total = 0, trainable = 0;
};

template <Module M>
ParameterCount count_parameters(M& m) {
  ParameterCount c;
  m.visit_parameters(
      [&](const std::string&, auto& p) {
        if (p.buffer) return;
        c.total += p.value.numel();
        if (p.trainable) c.trainable += p.value.numel();
      },
      "");
  return c;
}

/// Visits m's parameters under other names: a name starting with `from` is reported as `to` + the
/// rest (the first matching pair wins; others keep their name). Lets one implementation serve
/// checkpoints that name the same layer differently: MultiHeadAttention's q_proj is BERT's
/// attention.self.query and T5's q.
template <Module M, typename F>
void visit_renamed(M& m, F&& f, const std::string& prefix,
                   std::initializer_list<std::pair<std::string_view, std::string_view>> renames) {
  m.visit_parameters(
      [&](const std::string& name, auto& p) {
        for (const auto& [from, to] : renames)
          if (name.starts_with(from)) return f(prefix + std::string(to) + name.substr(from.size()), p);
        f(prefix + name, p);
      },
      "");
}

/// Every parameter and buffer name, in visiting order.
template <Module M>
std::vector<std::string> parameter_names(M& m) {
  std::vector<std::string> names;
  m.visit_parameters([&](const std::string& name, auto&) { names.push_back(name); }, "");
  return names;
}

}  // namespace gluegen::nn
