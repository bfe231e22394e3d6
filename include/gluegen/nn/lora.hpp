#pragma once
// Lora<Linear>: low-rank adaptation (Hu et al. 2021, eq. 3) of a frozen linear layer,
//   y = base(x) + (alpha / r) * B (A x),   A [r, in], B [out, r],
// with PEFT's parameter names (base_layer.*, lora_A.weight, lora_B.weight) so LaVi-Bridge / PEFT
// LoRA files load unchanged. B starts at zero, so a fresh adapter leaves the base model unchanged.
// merge() folds the update into base_layer.weight for inference; unmerge() takes it out again.
#include <gluegen/nn/linear.hpp>

namespace gluegen::nn {

struct LoraOptions {
  index_t rank = 32;  ///< LaVi-Bridge's default
  double alpha = 32;
  std::uint64_t seed = 0;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Lora {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename Linear<T, P>::Cache base, a, b;
    TensorT low, y, dx;
  };

  Lora(Linear<T, P> base, LoraOptions opt)
      : base_layer(std::move(base)),
        lora_A(base_layer.in_features(), opt.rank, {.bias = false, .seed = opt.seed, .stream = 1}),
        lora_B(opt.rank, base_layer.out_features(), {.bias = false, .seed = opt.seed, .stream = 2}),
        scaling_(T(opt.alpha / static_cast<double>(opt.rank))) {
    GLUEGEN_CHECK_AS(ShapeError, opt.rank >= 1 && opt.rank <= std::min(base_layer.in_features(), base_layer.out_features()),
                     "Lora: rank {} must be in [1, min(in, out)] = [1, {}] for Linear({} -> {})", opt.rank,
                     std::min(base_layer.in_features(), base_layer.out_features()), base_layer.in_features(), base_layer.out_features());
    lora_B.weight.value = TensorT::zeros(lora_B.weight.value.shape());
    freeze(base_layer);
  }

  [[nodiscard]] T scaling() const noexcept { return scaling_; }
  [[nodiscard]] bool merged() const noexcept { return merged_; }

  const TensorT& forward(const TensorT& x, Cache& c) {
    const TensorT& y = base_layer.forward(x, c.base);
    if (merged_) return y;
    ops::scale(lora_B.forward(lora_A.forward(x, c.a), c.b), scaling_, c.low);
    ops::add(y, c.low, c.y);
    return c.y;
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    GLUEGEN_CHECK(!merged_, "Lora::backward: the adapter is merged into the base weight; unmerge() before training");
    const TensorT& dx_base = base_layer.backward(dy, c.base);
    ops::scale(dy, scaling_, c.low);
    ops::add(dx_base, lora_A.backward(lora_B.backward(c.low, c.b), c.a), c.dx);
    return c.dx;
  }

  /// base_layer.weight += scaling * B A (inference: one GEMM per call instead of three).
  void merge() {
    GLUEGEN_CHECK(!merged_, "Lora::merge: already merged");
    ops::matmul(lora_B.weight.value, lora_A.weight.value, base_layer.weight.value, {.alpha = static_cast<double>(scaling_), .beta = 1.0});
    merged_ = true;
  }
  void unmerge() {
    GLUEGEN_CHECK(merged_, "Lora::unmerge: not merged");
    ops::matmul(lora_B.weight.value, lora_A.weight.value, base_layer.weight.value, {.alpha = -static_cast<double>(scaling_), .beta = 1.0});
    merged_ = false;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    base_layer.visit_parameters(f, prefix + "base_layer.");
    lora_A.visit_parameters(f, prefix + "lora_A.");
    lora_B.visit_parameters(f, prefix + "lora_B.");
  }

  Linear<T, P> base_layer;
  Linear<T, P> lora_A, lora_B;

 private:
  T scaling_;
  bool merged_ = false;
};

static_assert(Layer<Lora<float, Cpu>>);

}  // namespace gluegen::nn
