#pragma once
// Conv1d and Conv2d as im2col + one batched GEMM (Chellapilla et al. 2006): y[b] = W [O, C*k^n] cols[b]
// + bias, weight [O, C, k] / [O, C, k, k] as torch.nn.Conv1d / Conv2d (Whisper's audio stem, diffusers'
// UNet and VAE). A 1-d convolution is a 2-d one over a [B, C, 1, L] view with a 1 x k kernel, so both
// share one im2col and one GEMM. Backward: dW += dy[b] cols[b]^T, and dx = col2im(W^T dy). A pointwise
// (k = 1) stride-1 unpadded convolution skips im2col: its columns are x itself.
// Optionally with a LoRA adapter (Hu et al. 2021, eq. 3, on the conv's [O, C*k*k] matrix) as
// LaVi-Bridge and PEFT inject it into convolutions: lora_A a conv of the layer's own kernel, stride and
// padding to r channels, lora_B a 1x1 conv back to O, y += (alpha / r) B (A * x); it shares the
// layer's im2col columns, so it costs two small GEMMs.
#include <gluegen/nn/lora_adapter.hpp>

#include <cmath>
#include <optional>

namespace gluegen::nn {

struct ConvOptions {
  index_t stride = 1, padding = 0;
  /// Extra zero rows and columns after the input (bottom, right) on top of `padding`: diffusers' VAE
  /// Downsample2D pads (0, 1, 0, 1) before a stride-2 unpadded conv. im2col bounds-checks every tap,
  /// so this only changes the output size.
  index_t pad_end = 0;
  bool bias = true;
  std::uint64_t seed = 0, stream = 0;
};

/// A convolution over Dims (1 or 2) spatial dimensions; use the Conv1d / Conv2d names.
template <int Dims, ComputeElement T = float, TensorPolicy P = Cpu>
  requires(Dims == 1 || Dims == 2)
class Convolution {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    ConvGeometry g;
    TensorT cols, y, dcols, dx, bias_rows;
    TensorT low, d_low;  // the adapter's [B, r, Ho*Wo] activations
  };
  using Adapter = LoraAdapter<T, P>;

  /// Initialised as torch.nn.Conv1d / Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in * k^Dims.
  Convolution(index_t in_channels, index_t out_channels, index_t kernel, ConvOptions opt = {})
      : weight(kernel_shape(out_channels, in_channels, kernel)),
        in_(in_channels),
        out_(out_channels),
        kernel_(kernel),
        opt_(opt) {
    GLUEGEN_CHECK_AS(
        ShapeError,
        in_channels > 0 && out_channels > 0 && kernel > 0 && opt.stride > 0 && opt.padding >= 0 && opt.pad_end >= 0,
        "{}: invalid sizes (in {}, out {}, kernel {}, stride {}, padding {})", kName, in_channels, out_channels, kernel,
        opt.stride, opt.padding);
    const T bound = T(1) / std::sqrt(T(in_channels * kernel_taps(kernel)));
    ops::fill_uniform(weight.value, opt.seed, -bound, bound, 2 * opt.stream);
    if (opt.bias) {
      bias = Param<T, P>(Shape{out_channels});
      ops::fill_uniform(bias.value, opt.seed, -bound, bound, 2 * opt.stream + 1);
    }
  }

  /// x: [B, C, L] -> [B, O, Lo] (Conv1d); [B, C, H, W] -> [B, O, Ho, Wo] (Conv2d).
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == Dims + 2 && x.size(1) == in_,
                     "{}({} -> {}, k{}): input has shape {}, expected [B, {}, {}]", kName, in_, out_, kernel_,
                     x.shape(), in_, Dims == 1 ? "L" : "H, W");
    const ConvGeometry g = geometry(x.shape());
    GLUEGEN_CHECK_AS(ShapeError, g.out_h > 0 && g.out_w > 0,
                     "{}(k{}, stride {}, padding {}): input {} is smaller than the kernel", kName, kernel_, opt_.stride,
                     opt_.padding, x.shape());
    if (!(c.g.batch == g.batch && c.g.height == g.height && c.g.width == g.width)) c = Cache{};
    c.g = g;
    if (pointwise())
      c.cols = x.contiguous().reshape({g.batch, in_, g.height * g.width});
    else
      ops::im2col(Dims == 2 ? x : x.contiguous().reshape({g.batch, in_, 1, g.width}), g, c.cols);
    TensorT y3 = c.y.defined() ? c.y.reshape({g.batch, out_, g.col_cols()}) : TensorT{};
    ops::matmul(weight.value.reshape({out_, g.col_rows()}), c.cols, y3);
    if (opt_.bias) ops::add(y3, bias.value.reshape({out_, 1}), y3);
    if (adapter && !adapter->merged) {
      ops::matmul(adapter->A.value.reshape({rank(), g.col_rows()}), c.cols, c.low);
      ops::matmul(adapter->B.value.reshape({out_, rank()}), c.low, y3,
                  {.alpha = static_cast<double>(adapter->scaling), .beta = 1.0});
    }
    c.y = Dims == 2 ? y3.reshape({g.batch, out_, g.out_h, g.out_w}) : y3.reshape({g.batch, out_, g.out_w});
    return c.y;
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    const ConvGeometry& g = c.g;
    GLUEGEN_CHECK_AS(ShapeError, dy.shape() == c.y.shape(), "{} backward: dy has shape {}, the output had {}", kName,
                     dy.shape(), c.y.shape());
    const TensorT dy3 = dy.contiguous().reshape({g.batch, out_, g.col_cols()});
    const TensorT w2d = weight.value.reshape({out_, g.col_rows()});
    if (weight.trainable) {
      TensorT dw2d = weight.grad_buffer().reshape({out_, g.col_rows()});
      for (index_t b = 0; b < g.batch; ++b)
        ops::matmul(dy3.select(b), c.cols.select(b), dw2d, {.trans_b = true, .beta = 1.0});
    }
    if (opt_.bias && bias.trainable) {  // sum over batch and positions
      ops::sum_last(dy3, c.bias_rows);
      ops::sum_leading(c.bias_rows.reshape({g.batch, out_}), bias.grad_buffer(), true);
    }
    ops::matmul(w2d, dy3, c.dcols, {.trans_a = true});  // [B, C*k*k, Ho*Wo]
    if (adapter) {
      GLUEGEN_CHECK(!adapter->merged,
                    "{}({} -> {}, k{}) backward: the LoRA adapter is merged into the weight; unmerge() before training",
                    kName, in_, out_, kernel_);
      const double s = static_cast<double>(adapter->scaling);
      const TensorT a2d = adapter->A.value.reshape({rank(), g.col_rows()}),
                    b2d = adapter->B.value.reshape({out_, rank()});
      ops::matmul(b2d, dy3, c.d_low, {.trans_a = true, .alpha = s});  // d(low) = s B^T dy
      if (adapter->B.trainable) {
        TensorT db = adapter->B.grad_buffer().reshape({out_, rank()});
        for (index_t b = 0; b < g.batch; ++b)
          ops::matmul(dy3.select(b), c.low.select(b), db, {.trans_b = true, .alpha = s, .beta = 1.0});
      }
      if (adapter->A.trainable) {
        TensorT da = adapter->A.grad_buffer().reshape({rank(), g.col_rows()});
        for (index_t b = 0; b < g.batch; ++b)
          ops::matmul(c.d_low.select(b), c.cols.select(b), da, {.trans_b = true, .beta = 1.0});
      }
      ops::matmul(a2d, c.d_low, c.dcols, {.trans_a = true, .beta = 1.0});
    }
    if (pointwise())
      c.dx = c.dcols.reshape({g.batch, in_, g.height, g.width});
    else
      ops::col2im(c.dcols, g, c.dx);
    if constexpr (Dims == 1) c.dx = c.dx.reshape({g.batch, in_, g.width});
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
    if (opt_.bias) f(prefix + "bias", bias);
    if (adapter) adapter->visit(f, prefix);
  }

  [[nodiscard]] index_t in_channels() const noexcept { return in_; }
  [[nodiscard]] index_t out_channels() const noexcept { return out_; }
  [[nodiscard]] index_t kernel_size() const noexcept { return kernel_; }

  /// Injects a LoRA adapter: lora_A [r, C, k...] (initialised as the conv itself), lora_B
  /// [O, r, 1...] = 0, so the output is unchanged; freezes the weight and bias.
  void add_lora(const LoraOptions& opt) {
    GLUEGEN_CHECK_AS(ValueError, !adapter, "{}({} -> {}, k{}): already has a LoRA adapter", kName, in_, out_, kernel_);
    GLUEGEN_CHECK_AS(ShapeError, opt.rank >= 1 && opt.rank <= std::min(in_, out_),
                     "LoRA: rank {} must be in [1, min(in, out)] = [1, {}] for {}({} -> {}, k{})", opt.rank,
                     std::min(in_, out_), kName, in_, out_, kernel_);
    adapter = Adapter::make(opt, kernel_shape(opt.rank, in_, kernel_), kernel_shape(out_, opt.rank, 1),
                            in_ * kernel_taps(kernel_));
    freeze_base(weight, bias);
  }
  /// weight += scaling B A as [O, C*k^Dims] (exact: B is 1x1, so A then B is one conv); unmerge() takes it out.
  void merge_lora() { fold_lora(1.0); }
  void unmerge_lora() { fold_lora(-1.0); }

  Param<T, P> weight, bias;
  std::optional<Adapter> adapter;

 private:
  static constexpr const char* kName = Dims == 1 ? "Conv1d" : "Conv2d";
  [[nodiscard]] static constexpr index_t kernel_taps(index_t k) { return Dims == 1 ? k : k * k; }
  /// [lead, channels, k] or [lead, channels, k, k]: torch's weight layout.
  [[nodiscard]] static Shape kernel_shape(index_t lead, index_t channels, index_t k) {
    return Dims == 1 ? Shape{lead, channels, k} : Shape{lead, channels, k, k};
  }
  [[nodiscard]] index_t rank() const { return adapter->A.value.size(0); }
  void fold_lora(double sign) {
    GLUEGEN_CHECK(adapter && adapter->merged == (sign < 0), "{}::{}_lora: no {} adapter", kName,
                  sign > 0 ? "merge" : "unmerge", sign > 0 ? "unmerged" : "merged");
    TensorT w2d = weight.value.reshape({out_, in_ * kernel_taps(kernel_)});
    ops::matmul(adapter->B.value.reshape({out_, rank()}),
                adapter->A.value.reshape({rank(), in_ * kernel_taps(kernel_)}), w2d,
                {.alpha = sign * static_cast<double>(adapter->scaling), .beta = 1.0});
    adapter->merged = sign > 0;
  }
  [[nodiscard]] bool pointwise() const noexcept {
    return kernel_ == 1 && opt_.stride == 1 && opt_.padding == 0 && opt_.pad_end == 0;
  }
  /// A 1-d input [B, C, L] is the 2-d [B, C, 1, L] with a 1 x k kernel; pad_end pads L only.
  [[nodiscard]] ConvGeometry geometry(const Shape& x) const {
    const bool two = Dims == 2;
    ConvGeometry g{.batch = x[0],
                   .channels = in_,
                   .height = two ? x[2] : 1,
                   .width = x[Dims + 1],
                   .kernel_h = two ? kernel_ : 1,
                   .kernel_w = kernel_,
                   .stride_h = two ? opt_.stride : 1,
                   .stride_w = opt_.stride,
                   .pad_h = two ? opt_.padding : 0,
                   .pad_w = opt_.padding};
    g.out_h = (g.height + 2 * g.pad_h + (two ? opt_.pad_end : 0) - g.kernel_h) / g.stride_h + 1;
    g.out_w = (g.width + 2 * g.pad_w + opt_.pad_end - g.kernel_w) / g.stride_w + 1;
    return g;
  }

  index_t in_, out_, kernel_;
  ConvOptions opt_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
using Conv1d = Convolution<1, T, P>;
template <ComputeElement T = float, TensorPolicy P = Cpu>
using Conv2d = Convolution<2, T, P>;

static_assert(Layer<Conv1d<float, Cpu>> && Layer<Conv2d<float, Cpu>>);

}  // namespace gluegen::nn
