#pragma once
// ResnetBlock2D (diffusers; Ho et al. 2020, appendix B, after Wide ResNet):
//   h = conv1(SiLU(norm1(x)))  [+ time_emb_proj(SiLU(temb))[:, :, None, None]]
//   y = shortcut(x) + conv2(SiLU(norm2(h)))      shortcut = conv_shortcut (1x1) when channels change
// GroupNorm + SiLU + 3x3 convolutions; names norm1, conv1, time_emb_proj, norm2, conv2, conv_shortcut
// as diffusers, so UNet and VAE checkpoints load unchanged. The VAE's blocks have no time embedding.
#include <gluegen/nn/activation.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/nn/norm.hpp>

#include <optional>

namespace gluegen::diffusion {

struct ResnetBlockOptions {
  index_t temb_channels = 0;  ///< 0: no time embedding (VAE)
  index_t groups = 32;
  double eps = 1e-5;
  std::uint64_t seed = 0;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class ResnetBlock2D {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::GroupNorm<T, P>::Cache norm1, norm2;
    typename nn::Silu<T, P>::Cache act1, act2, act_t;
    typename nn::Conv2d<T, P>::Cache conv1, conv2, shortcut;
    typename nn::Linear<T, P>::Cache temb;
    TensorT h, y, d_t, d_temb, dx;
  };

  ResnetBlock2D(index_t in_channels, index_t out_channels, const ResnetBlockOptions& opt)
      : norm1(opt.groups, in_channels, T(opt.eps)),
        conv1(in_channels, out_channels, 3, {.padding = 1, .seed = opt.seed, .stream = 0}),
        norm2(opt.groups, out_channels, T(opt.eps)),
        conv2(out_channels, out_channels, 3, {.padding = 1, .seed = opt.seed, .stream = 1}),
        in_(in_channels),
        out_(out_channels) {
    if (opt.temb_channels > 0)
      time_emb_proj.emplace(opt.temb_channels, out_channels, nn::LinearOptions{.seed = opt.seed, .stream = 2});
    if (in_channels != out_channels)
      conv_shortcut.emplace(in_channels, out_channels, 1, nn::ConvOptions{.seed = opt.seed, .stream = 3});
  }

  [[nodiscard]] index_t in_channels() const noexcept { return in_; }
  [[nodiscard]] index_t out_channels() const noexcept { return out_; }

  /// x [B, C_in, H, W], temb [B, temb_channels] (null when the block has none) -> [B, C_out, H, W].
  const TensorT& forward(const TensorT& x, const TensorT* temb, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, (temb != nullptr) == time_emb_proj.has_value(), "ResnetBlock2D({} -> {}): {}", in_,
                     out_,
                     temb ? "this block has no time embedding, but one was given" : "a time embedding is required");
    const TensorT& h1 = conv1.forward(act1.forward(norm1.forward(x, c.norm1), c.act1), c.conv1);
    if (temb) {
      const index_t B = x.size(0);
      GLUEGEN_CHECK_AS(ShapeError, temb->rank() == 2 && temb->size(0) == B,
                       "ResnetBlock2D: temb has shape {}, expected [{}, {}]", temb->shape(), B,
                       time_emb_proj->in_features());
      const TensorT& t = time_emb_proj->forward(act_t.forward(*temb, c.act_t), c.temb);
      nn::reset_if_changed(c.h, h1.shape());
      ops::add(h1, t.reshape({B, out_, 1, 1}), c.h);
    } else {
      c.h = h1;
    }
    const TensorT& h2 = conv2.forward(act2.forward(norm2.forward(c.h, c.norm2), c.act2), c.conv2);
    nn::reset_if_changed(c.y, h2.shape());
    ops::add(conv_shortcut ? conv_shortcut->forward(x, c.shortcut) : x, h2, c.y);
    return c.y;
  }

  /// dy -> dx; adds parameter gradients; c.d_temb = dL/dtemb when the block has a time embedding.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT& dh = norm2.backward(act2.backward(conv2.backward(dy, c.conv2), c.act2), c.norm2);
    if (time_emb_proj) {  // the embedding was broadcast over positions: its gradient sums them
      const index_t B = dh.size(0);
      ops::sum_last(dh.reshape({B, out_, -1}), c.d_t);
      c.d_temb = act_t.backward(time_emb_proj->backward(c.d_t.reshape({B, out_}), c.temb), c.act_t);
    }
    const TensorT& dx_main = norm1.backward(act1.backward(conv1.backward(dh, c.conv1), c.act1), c.norm1);
    nn::reset_if_changed(c.dx, dx_main.shape());
    ops::add(dx_main, conv_shortcut ? conv_shortcut->backward(dy, c.shortcut) : dy, c.dx);
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    norm1.visit_parameters(f, prefix + "norm1.");
    conv1.visit_parameters(f, prefix + "conv1.");
    if (time_emb_proj) time_emb_proj->visit_parameters(f, prefix + "time_emb_proj.");
    norm2.visit_parameters(f, prefix + "norm2.");
    conv2.visit_parameters(f, prefix + "conv2.");
    if (conv_shortcut) conv_shortcut->visit_parameters(f, prefix + "conv_shortcut.");
  }

  nn::GroupNorm<T, P> norm1;
  nn::Conv2d<T, P> conv1;
  std::optional<nn::Linear<T, P>> time_emb_proj;
  nn::GroupNorm<T, P> norm2;
  nn::Conv2d<T, P> conv2;
  std::optional<nn::Conv2d<T, P>> conv_shortcut;

 private:
  nn::Silu<T, P> act1, act2, act_t;
  index_t in_, out_;
};

static_assert(nn::Module<ResnetBlock2D<float, Cpu>>);

}  // namespace gluegen::diffusion
