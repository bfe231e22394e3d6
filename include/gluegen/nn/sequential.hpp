#pragma once
// Composition by type. Sequential<A, B, C> runs A then B then C and names its children "0", "1",
// "2" like torch.nn.Sequential, so a PyTorch Sequential's state_dict loads into it unchanged.
// Residual<Inner> computes x + inner(x) and adds no name level (torch code writes it as `x + f(x)`).
#include <gluegen/nn/module.hpp>

#include <tuple>
#include <utility>

namespace gluegen::nn {

template <Layer First, Layer... Rest>
  requires(std::same_as<typename First::value_type, typename Rest::value_type> && ...) &&
          (std::same_as<typename First::policy, typename Rest::policy> && ...)
class Sequential {
 public:
  using value_type = typename First::value_type;
  using policy = typename First::policy;
  using TensorT = Tensor<value_type, policy>;
  struct Cache {
    std::tuple<typename First::Cache, typename Rest::Cache...> layers;
  };
  static constexpr std::size_t size = 1 + sizeof...(Rest);

  explicit Sequential(First first, Rest... rest) : layers(std::move(first), std::move(rest)...) {}

  const TensorT& forward(const TensorT& x, Cache& c) { return forward_from<0>(x, c); }
  const TensorT& backward(const TensorT& dy, Cache& c) { return backward_from<size - 1>(dy, c); }
  void release_backward(Cache& c) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (nn::release_backward(std::get<I>(layers), std::get<I>(c.layers)), ...);
    }(std::make_index_sequence<size>{});
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (std::get<I>(layers).visit_parameters(f, prefix + std::to_string(I) + "."), ...);
    }(std::make_index_sequence<size>{});
  }

  template <std::size_t I>
  auto& get() {
    return std::get<I>(layers);
  }

  std::tuple<First, Rest...> layers;

 private:
  template <std::size_t I>
  const TensorT& forward_from(const TensorT& x, Cache& c) {
    const TensorT& y = std::get<I>(layers).forward(x, std::get<I>(c.layers));
    if constexpr (I + 1 < size)
      return forward_from<I + 1>(y, c);
    else
      return y;
  }
  template <std::size_t I>
  const TensorT& backward_from(const TensorT& dy, Cache& c) {
    const TensorT& dx = std::get<I>(layers).backward(dy, std::get<I>(c.layers));
    // dy was layer I + 1's gradient, now consumed (unless layer I handed that very buffer back)
    if constexpr (I + 1 < size)
      if (&dx != &dy) nn::release_backward(std::get<I + 1>(layers), std::get<I + 1>(c.layers));
    if constexpr (I > 0)
      return backward_from<I - 1>(dx, c);
    else
      return dx;
  }
};

template <Layer Inner>
class Residual {
 public:
  using value_type = typename Inner::value_type;
  using policy = typename Inner::policy;
  using TensorT = Tensor<value_type, policy>;
  struct Cache {
    typename Inner::Cache inner;
    TensorT y, dx;
  };

  explicit Residual(Inner inner_layer) : inner(std::move(inner_layer)) {}

  const TensorT& forward(const TensorT& x, Cache& c) {
    const TensorT& f = inner.forward(x, c.inner);
    GLUEGEN_CHECK_AS(ShapeError, f.shape() == x.shape(),
                     "Residual: the inner layer maps {} to {}; a residual needs equal shapes", x.shape(), f.shape());
    ops::reset_if_changed(c.y, x.shape());  // a new batch size reallocates
    ops::add(x, f, c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::reset_if_changed(c.dx, dy.shape());
    ops::add(dy, inner.backward(dy, c.inner), c.dx);
    nn::release_backward(inner, c.inner);
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    inner.visit_parameters(f, prefix);
  }

  Inner inner;
};

/// Swaps the last two axes (token mixing in MLP-mixers works on [B, D, L]).
template <ComputeElement T = float, TensorPolicy P = Cpu>
class TransposeLast2 {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT y, dx;
  };
  const TensorT& forward(const TensorT& x, Cache& c) {
    if (c.y.defined() && c.y.shape() != x.transpose_last2().shape()) c.y = {};
    ops::copy(x.transpose_last2(), c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    if (c.dx.defined() && c.dx.shape() != dy.transpose_last2().shape()) c.dx = {};
    ops::copy(dy.transpose_last2(), c.dx);
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}
};

}  // namespace gluegen::nn
