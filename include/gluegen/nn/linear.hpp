#pragma once
// Linear: y = x W^T + b, W stored [out, in] as torch.nn.Linear (so HF weights copy unchanged).
// Optionally with a low-rank adapter (LoRA, Hu et al. 2021, eq. 3) injected in place:
//   y = x W^T + b + (alpha / r) (x A^T) B^T,   A [r, in], B [out, r], B = 0 at the start,
// W and b frozen, adapter parameters named lora_A.weight / lora_B.weight next to the layer's own
// (the keys diffusers / PEFT LoRA files use), so base checkpoints still load unchanged.
#include <gluegen/nn/lora_adapter.hpp>

#include <cmath>
#include <optional>

namespace gluegen::nn {

struct LinearOptions {
  bool bias = true;
  std::uint64_t seed = 0;    ///< initialisation seed
  std::uint64_t stream = 0;  ///< Philox stream, so sibling layers with one seed differ
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Linear {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;

  struct Cache {
    TensorT x2d, y, dx;  // x2d: the input as [rows, in]
    TensorT low, d_low;  // the adapter's [rows, r] activations
  };

  using Adapter = LoraAdapter<T, P>;

  /// Initialised as torch.nn.Linear: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
  Linear(index_t in_features, index_t out_features, LinearOptions opt = {})
      : weight(Shape{out_features, in_features}), in_(in_features), out_(out_features), has_bias_(opt.bias) {
    GLUEGEN_CHECK_AS(ShapeError, in_features > 0 && out_features > 0,
                     "Linear: features must be positive, got in {} out {}", in_features, out_features);
    const T bound = T(1) / std::sqrt(T(in_features));
    ops::fill_uniform(weight.value, opt.seed, -bound, bound, 2 * opt.stream);
    if (has_bias_) {
      bias = Param<T, P>(Shape{out_features});
      ops::fill_uniform(bias.value, opt.seed, -bound, bound, 2 * opt.stream + 1);
    }
  }

  [[nodiscard]] index_t in_features() const noexcept { return in_; }
  [[nodiscard]] index_t out_features() const noexcept { return out_; }
  [[nodiscard]] bool has_bias() const noexcept { return has_bias_; }

  /// x: [..., in] -> [..., out]
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() >= 1 && x.size(-1) == in_,
                     "Linear({} -> {}): input has shape {}, expected [..., {}]", in_, out_, x.shape(), in_);
    c.x2d = x.contiguous().reshape({-1, in_});
    TensorT y2d = c.y.defined() && c.y.numel() == c.x2d.size(0) * out_ ? c.y.reshape({-1, out_}) : TensorT{};
    ops::matmul(c.x2d, weight.value, y2d, {.trans_b = true});
    if (has_bias_) ops::add(y2d, bias.value, y2d);
    if (adapter && !adapter->merged) {
      reset_if_changed(c.low, Shape{c.x2d.size(0), adapter->A.value.size(0)});
      ops::matmul(c.x2d, adapter->A.value, c.low, {.trans_b = true});
      ops::matmul(c.low, adapter->B.value, y2d,
                  {.trans_b = true, .alpha = static_cast<double>(adapter->scaling), .beta = 1.0});
    }
    c.y = y2d.reshape(x.shape().with_last(out_));
    return c.y;
  }

  /// dy: [..., out] -> dx [..., in]; dW += dy^T x, db += sum of dy rows.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, dy.shape() == c.y.shape(),
                     "Linear({} -> {}) backward: dy has shape {}, the output had {}", in_, out_, dy.shape(),
                     c.y.shape());
    const TensorT dy2d = dy.contiguous().reshape({-1, out_});
    if (weight.trainable) ops::matmul(dy2d, c.x2d, weight.grad_buffer(), {.trans_a = true, .beta = 1.0});
    if (has_bias_ && bias.trainable) ops::sum_leading(dy2d, bias.grad_buffer(), true);
    TensorT dx2d = c.dx.defined() && c.dx.numel() == c.x2d.numel() ? c.dx.reshape({-1, in_}) : TensorT{};
    ops::matmul(dy2d, weight.value, dx2d);
    if (adapter) {
      GLUEGEN_CHECK(!adapter->merged,
                    "Linear({} -> {}) backward: the LoRA adapter is merged into the weight; unmerge() before training",
                    in_, out_);
      const double s = static_cast<double>(adapter->scaling);
      reset_if_changed(c.d_low, c.low.shape());
      ops::matmul(dy2d, adapter->B.value, c.d_low, {.alpha = s});  // d(low) = s dy B
      if (adapter->B.trainable)
        ops::matmul(dy2d, c.low, adapter->B.grad_buffer(), {.trans_a = true, .alpha = s, .beta = 1.0});
      if (adapter->A.trainable) ops::matmul(c.d_low, c.x2d, adapter->A.grad_buffer(), {.trans_a = true, .beta = 1.0});
      ops::matmul(c.d_low, adapter->A.value, dx2d, {.beta = 1.0});
    }
    Shape dx_shape = dy.shape().with_last(in_);
    c.dx = dx2d.reshape(dx_shape);
    return c.dx;
  }
  void release_backward(Cache& c) {
    c.dx = {};
    c.d_low = {};
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    visit_base(f, prefix);
    visit_adapter(f, prefix);
  }
  template <typename F>
  void visit_base(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
    if (has_bias_) f(prefix + "bias", bias);
  }
  template <typename F>
  void visit_adapter(F&& f, const std::string& prefix) {
    if (adapter) adapter->visit(f, prefix);
  }

  /// Injects a LoRA adapter (A: torch.nn.Linear's initialisation, B = 0, so the layer's output is
  /// unchanged) and freezes the weight and bias.
  void add_lora(const LoraOptions& opt) {
    GLUEGEN_CHECK_AS(ValueError, !adapter, "Linear({} -> {}): already has a LoRA adapter", in_, out_);
    GLUEGEN_CHECK_AS(ShapeError, opt.rank >= 1 && opt.rank <= std::min(in_, out_),
                     "LoRA: rank {} must be in [1, min(in, out)] = [1, {}] for Linear({} -> {})", opt.rank,
                     std::min(in_, out_), in_, out_);
    adapter = Adapter::make(opt, Shape{opt.rank, in_}, Shape{out_, opt.rank}, in_);
    freeze_base(weight, bias);
  }
  /// weight += scaling B A (inference: one GEMM per call instead of three); unmerge() takes it out.
  void merge_lora() {
    GLUEGEN_CHECK(adapter && !adapter->merged, "Linear::merge_lora: no unmerged adapter");
    ops::matmul(adapter->B.value, adapter->A.value, weight.value,
                {.alpha = static_cast<double>(adapter->scaling), .beta = 1.0});
    adapter->merged = true;
  }
  void unmerge_lora() {
    GLUEGEN_CHECK(adapter && adapter->merged, "Linear::unmerge_lora: no merged adapter");
    ops::matmul(adapter->B.value, adapter->A.value, weight.value,
                {.alpha = -static_cast<double>(adapter->scaling), .beta = 1.0});
    adapter->merged = false;
  }

  Param<T, P> weight, bias;
  std::optional<Adapter> adapter;

 private:
  index_t in_, out_;
  bool has_bias_;
};

static_assert(Layer<Linear<float, Cpu>>);

}  // namespace gluegen::nn
