#pragma once
// Lora<Linear>: a linear layer with a low-rank adapter (Hu et al. 2021, eq. 3; the adapter lives in
// Linear::add_lora), named as PEFT wraps a layer: base_layer.weight / base_layer.bias, lora_A.weight,
// lora_B.weight, so LaVi-Bridge / PEFT files of wrapped modules load unchanged. Layers that get LoRA
// injected in place (the UNet's attention, diffusion::add_lora) keep their own names instead.
#include <gluegen/nn/linear.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Lora {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Cache = typename Linear<T, P>::Cache;

  Lora(Linear<T, P> base, LoraOptions opt) : base_layer(std::move(base)) { base_layer.add_lora(opt); }

  [[nodiscard]] T scaling() const noexcept { return base_layer.adapter->scaling; }
  [[nodiscard]] bool merged() const noexcept { return base_layer.adapter->merged; }
  [[nodiscard]] Param<T, P>& lora_A() noexcept { return base_layer.adapter->A; }
  [[nodiscard]] Param<T, P>& lora_B() noexcept { return base_layer.adapter->B; }

  const TensorT& forward(const TensorT& x, Cache& c) { return base_layer.forward(x, c); }
  const TensorT& backward(const TensorT& dy, Cache& c) { return base_layer.backward(dy, c); }
  void merge() { base_layer.merge_lora(); }
  void unmerge() { base_layer.unmerge_lora(); }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    base_layer.visit_base(f, prefix + "base_layer.");
    base_layer.visit_adapter(f, prefix);
  }

  Linear<T, P> base_layer;
};

static_assert(Layer<Lora<float, Cpu>>);

}  // namespace gluegen::nn
