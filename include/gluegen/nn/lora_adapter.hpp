#pragma once
// The low-rank adapter of LoRA (Hu et al. 2021, eq. 3), shared by the layers it is injected into
// (Linear, Conv2d): delta W = (alpha / r) B A with A [r, fan_in...] initialised as the layer itself
// (torch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and B = 0, so injecting it leaves the output unchanged.
// The layer's own weight and bias are frozen. Names lora_A.weight / lora_B.weight as diffusers / PEFT.
#include <gluegen/nn/module.hpp>

#include <cmath>

namespace gluegen::nn {

struct LoraOptions {
  index_t rank = 32;  ///< LaVi-Bridge's default
  double alpha = 32;  ///< scaling = alpha / rank; alpha = rank gives LaVi-Bridge's scale 1
  std::uint64_t seed = 0;
};

template <ComputeElement T, TensorPolicy P>
struct LoraAdapter {
  Param<T, P> A, B;
  T scaling;
  bool merged = false;

  /// A of shape a_shape ([r, fan_in] or [r, C, k, k]), B of b_shape ([out, r] or [out, r, 1, 1]).
  static LoraAdapter make(const LoraOptions& opt, Shape a_shape, Shape b_shape, index_t fan_in) {
    LoraAdapter a{Param<T, P>(std::move(a_shape)), Param<T, P>(std::move(b_shape)),
                  T(opt.alpha / static_cast<double>(opt.rank))};
    const T bound = T(1) / std::sqrt(T(fan_in));
    ops::fill_uniform(a.A.value, opt.seed, -bound, bound, 1);
    return a;
  }

  template <typename F>
  void visit(F&& f, const std::string& prefix) {
    f(prefix + "lora_A.weight", A);
    f(prefix + "lora_B.weight", B);
  }
};

/// Freezes a layer's own weight and bias once an adapter is injected (they keep no gradient buffer).
template <ComputeElement T, TensorPolicy P>
void freeze_base(Param<T, P>& weight, Param<T, P>& bias) {
  weight.trainable = bias.trainable = false;
  weight.drop_grad();
  bias.drop_grad();
}

}  // namespace gluegen::nn
