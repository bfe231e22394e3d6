#pragma once
// The UNet's resolution levels (diffusers unet_2d_blocks): a down block is `layers` ResnetBlock2Ds,
// each followed by a Transformer2D in the cross-attention variants, then an optional stride-2
// Downsample2D; it hands every intermediate state to the matching up block as a skip connection
// (Ronneberger et al. 2015). An up block concatenates one skip per ResnetBlock2D (layers + 1 of them)
// on the channel axis, and ends in an optional nearest x2 Upsample2D + conv. The VAE's encoder and
// decoder blocks are the same classes without time embedding, attention or skips.
#include <gluegen/diffusion/resnet.hpp>
#include <gluegen/diffusion/transformer_2d.hpp>
#include <gluegen/nn/pool.hpp>

#include <optional>
#include <span>
#include <vector>

namespace gluegen::diffusion {

/// Stride-2 3x3 convolution (`downsamplers.0.conv`). The VAE pads (0, 1, 0, 1) instead of 1 all round.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class Downsample2D {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Cache = typename nn::Conv2d<T, P>::Cache;
  Downsample2D(index_t channels, bool asymmetric_padding, std::uint64_t seed)
      : conv(
            channels, channels, 3,
            {.stride = 2, .padding = asymmetric_padding ? 0 : 1, .pad_end = asymmetric_padding ? 1 : 0, .seed = seed}) {
  }
  const TensorT& forward(const TensorT& x, Cache& c) { return conv.forward(x, c); }
  const TensorT& backward(const TensorT& dy, Cache& c) { return conv.backward(dy, c); }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    conv.visit_parameters(f, prefix + "conv.");
  }
  nn::Conv2d<T, P> conv;
};

/// Nearest-neighbour x2 then a 3x3 convolution (`upsamplers.0.conv`).
template <ComputeElement T = float, TensorPolicy P = Cpu>
class Upsample2D {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::UpsampleNearest2d<T, P>::Cache up;
    typename nn::Conv2d<T, P>::Cache conv;
  };
  Upsample2D(index_t channels, std::uint64_t seed) : conv(channels, channels, 3, {.padding = 1, .seed = seed}) {}
  const TensorT& forward(const TensorT& x, Cache& c) { return conv.forward(up_.forward(x, c.up), c.conv); }
  const TensorT& backward(const TensorT& dy, Cache& c) { return up_.backward(conv.backward(dy, c.conv), c.up); }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    conv.visit_parameters(f, prefix + "conv.");
  }
  nn::Conv2d<T, P> conv;

 private:
  nn::UpsampleNearest2d<T, P> up_{2};
};

/// total = g on the first call (first = true), total += g afterwards.
template <ComputeElement T, TensorPolicy P>
void accumulate(Tensor<T, P>& total, const Tensor<T, P>& g, bool& first) {
  if (first) {
    nn::reset_if_changed(total, g.shape());
    ops::copy(g, total);
    first = false;
  } else {
    ops::add(total, g, total);
  }
}

struct BlockOptions {
  index_t layers = 2;
  index_t temb_channels = 0;  ///< 0: no time embedding (VAE)
  std::optional<TransformerOptions> attention =
      std::nullopt;                    ///< set: a Transformer2D after every resnet (CrossAttn*Block2D)
  bool resample = true;                ///< a Downsample2D / Upsample2D at the end
  bool asymmetric_downsample = false;  ///< VAE encoder: pad (0, 1, 0, 1), no padding in the conv
  index_t groups = 32;
  double eps = 1e-5;
  std::uint64_t seed = 0;
};

/// The layers every block is built from: ResnetBlock2D i, then (cross-attention blocks) Transformer2D
/// i. DownBlock and UpBlock add resampling and skip connections around them.
template <ComputeElement T, TensorPolicy P>
class BlockLayers {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    std::vector<typename ResnetBlock2D<T, P>::Cache> resnets;
    std::vector<typename Transformer2D<T, P>::Cache> attentions;
    TensorT d_temb, d_context;  ///< after backward: the block's contributions to dL/dtemb, dL/dcontext
    bool first_temb = true, first_ctx = true;
  };

  std::vector<ResnetBlock2D<T, P>> resnets;
  std::vector<Transformer2D<T, P>> attentions;

 protected:
  /// Resnet i reads in_widths[i] channels; every layer writes out_channels.
  BlockLayers(const std::vector<index_t>& in_widths, index_t out_channels, const BlockOptions& opt) : opt_(opt) {
    for (std::size_t i = 0; i < in_widths.size(); ++i) {
      const std::uint64_t seed = opt.seed + 100 * static_cast<std::uint64_t>(i);
      resnets.emplace_back(
          in_widths[i], out_channels,
          ResnetBlockOptions{.temb_channels = opt.temb_channels, .groups = opt.groups, .eps = opt.eps, .seed = seed});
      if (opt.attention) {
        TransformerOptions t = *opt.attention;
        t.seed = seed + 50;
        attentions.emplace_back(out_channels, t);
      }
    }
  }

  void prepare_forward(Cache& c) const {
    c.resnets.resize(resnets.size());
    c.attentions.resize(attentions.size());
  }
  const TensorT& layer_forward(std::size_t i, const TensorT& h, const TensorT* temb, const TensorT* context, Cache& c) {
    const TensorT& y = resnets[i].forward(h, temb, c.resnets[i]);
    return attentions.empty() ? y : attentions[i].forward(y, *context, c.attentions[i]);
  }

  void prepare_backward(Cache& c) const { c.first_temb = c.first_ctx = true; }
  /// Layer i's backward; adds its dL/dcontext and dL/dtemb into c.d_context and c.d_temb.
  const TensorT& layer_backward(std::size_t i, const TensorT& dy, Cache& c) {
    const TensorT* d = &dy;
    if (!attentions.empty()) {
      d = &attentions[i].backward(*d, c.attentions[i]);
      accumulate(c.d_context, c.attentions[i].d_context, c.first_ctx);
    }
    d = &resnets[i].backward(*d, c.resnets[i]);
    if (opt_.temb_channels > 0) accumulate(c.d_temb, c.resnets[i].d_temb, c.first_temb);
    return *d;
  }

  template <typename F>
  void visit_layers(F&& f, const std::string& prefix) {
    for (std::size_t i = 0; i < resnets.size(); ++i)
      resnets[i].visit_parameters(f, prefix + "resnets." + std::to_string(i) + ".");
    for (std::size_t i = 0; i < attentions.size(); ++i)
      attentions[i].visit_parameters(f, prefix + "attentions." + std::to_string(i) + ".");
  }

  BlockOptions opt_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class DownBlock : public BlockLayers<T, P> {
  using Base = BlockLayers<T, P>;

 public:
  using TensorT = Tensor<T, P>;
  struct Cache : Base::Cache {
    typename Downsample2D<T, P>::Cache down;
    TensorT d_h;
  };

  DownBlock(index_t in_channels, index_t out_channels, const BlockOptions& opt)
      : Base(input_widths(in_channels, out_channels, opt.layers), out_channels, opt) {
    if (opt.resample) downsampler.emplace(out_channels, opt.asymmetric_downsample, opt.seed + 99);
  }

  /// How many states forward() appends to the skip list (one per layer, one more after downsampling).
  [[nodiscard]] index_t num_outputs() const noexcept {
    return static_cast<index_t>(this->resnets.size()) + (downsampler ? 1 : 0);
  }

  /// Returns the block's output; appends each intermediate state to *skips when given.
  const TensorT& forward(const TensorT& x, const TensorT* temb, const TensorT* context, Cache& c,
                         std::vector<const TensorT*>* skips) {
    this->prepare_forward(c);
    const TensorT* h = &x;
    for (std::size_t i = 0; i < this->resnets.size(); ++i) {
      h = &this->layer_forward(i, *h, temb, context, c);
      if (skips) skips->push_back(h);
    }
    if (downsampler) {
      h = &downsampler->forward(*h, c.down);
      if (skips) skips->push_back(h);
    }
    return *h;
  }

  /// dy: the gradient of the block's output from the next block. d_skips[k]: the gradient of the k-th
  /// state this block appended (null when it was not used). Returns dx; c.d_temb and c.d_context
  /// hold this block's contributions to dL/dtemb and dL/dcontext (when it has them).
  const TensorT& backward(const TensorT& dy, std::span<const TensorT* const> d_skips, Cache& c) {
    this->prepare_backward(c);
    std::size_t k = d_skips.size();
    const TensorT* d = &dy;
    const auto with_skip = [&](const TensorT* g) {
      const TensorT* s = d_skips[--k];
      if (!s) return g;
      nn::reset_if_changed(c.d_h, g->shape());
      ops::add(*g, *s, c.d_h);
      return static_cast<const TensorT*>(&c.d_h);
    };
    if (downsampler) d = &downsampler->backward(*with_skip(d), c.down);
    for (std::size_t i = this->resnets.size(); i-- > 0;) d = &this->layer_backward(i, *with_skip(d), c);
    return *d;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    this->visit_layers(f, prefix);
    if (downsampler) downsampler->visit_parameters(f, prefix + "downsamplers.0.");
  }

  std::optional<Downsample2D<T, P>> downsampler;

 private:
  static std::vector<index_t> input_widths(index_t in, index_t out, index_t layers) {
    std::vector<index_t> w(static_cast<std::size_t>(layers), out);
    if (!w.empty()) w.front() = in;
    return w;
  }
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class UpBlock : public BlockLayers<T, P> {
  using Base = BlockLayers<T, P>;

 public:
  using TensorT = Tensor<T, P>;
  struct Cache : Base::Cache {
    std::vector<TensorT> joined, d_skip;
    typename Upsample2D<T, P>::Cache up;
    TensorT d_h;
  };

  /// skip_channels[i]: channels of the skip state resnet i concatenates (empty: no skips, the VAE).
  UpBlock(index_t in_channels, index_t out_channels, std::vector<index_t> skip_channels, const BlockOptions& opt)
      : Base(input_widths(in_channels, out_channels, skip_channels, opt.layers), out_channels, opt),
        skip_channels_(std::move(skip_channels)) {
    if (opt.resample) upsampler.emplace(out_channels, opt.seed + 99);
  }

  /// skips: this block's skip states in the order its resnets use them (null without skips).
  const TensorT& forward(const TensorT& x, const TensorT* temb, const TensorT* context,
                         std::span<const TensorT* const> skips, Cache& c) {
    const bool with_skips = !skip_channels_.empty();
    const std::size_t layers = this->resnets.size();
    GLUEGEN_CHECK_AS(ValueError, skips.size() == (with_skips ? layers : 0), "UpBlock: {} skip states for {} layers",
                     skips.size(), layers);
    this->prepare_forward(c);
    c.joined.resize(with_skips ? layers : 0);
    c.d_skip.resize(c.joined.size());
    const TensorT* h = &x;
    for (std::size_t i = 0; i < layers; ++i) {
      if (with_skips) {  // torch.cat([hidden_states, res_hidden_states], dim=1)
        Shape joined_shape = h->shape();
        joined_shape[1] += skips[i]->size(1);
        nn::reset_if_changed(c.joined[i], joined_shape);
        ops::concat(*h, *skips[i], 1, c.joined[i]);
        h = &c.joined[i];
      }
      h = &this->layer_forward(i, *h, temb, context, c);
    }
    if (upsampler) h = &upsampler->forward(*h, c.up);
    return *h;
  }

  /// dy -> dx; c.d_skip[i] = the gradient of skip state i; c.d_temb, c.d_context as DownBlock.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    this->prepare_backward(c);
    const TensorT* d = upsampler ? &upsampler->backward(dy, c.up) : &dy;
    for (std::size_t i = this->resnets.size(); i-- > 0;) {
      d = &this->layer_backward(i, *d, c);
      if (!skip_channels_.empty()) {
        ops::split(*d, 1, d->size(1) - skip_channels_[i], c.d_h, c.d_skip[i]);
        d = &c.d_h;
      }
    }
    return *d;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    this->visit_layers(f, prefix);
    if (upsampler) upsampler->visit_parameters(f, prefix + "upsamplers.0.");
  }

  std::optional<Upsample2D<T, P>> upsampler;

 private:
  static std::vector<index_t> input_widths(index_t in, index_t out, const std::vector<index_t>& skips, index_t layers) {
    GLUEGEN_CHECK_AS(ValueError, skips.empty() || static_cast<index_t>(skips.size()) == layers,
                     "UpBlock: {} skip widths for {} layers", skips.size(), layers);
    std::vector<index_t> w;
    for (index_t i = 0; i < layers; ++i)
      w.push_back((i == 0 ? in : out) + (skips.empty() ? 0 : skips[static_cast<std::size_t>(i)]));
    return w;
  }

  std::vector<index_t> skip_channels_;
};

/// UNetMidBlock2DCrossAttn: resnets.0, attentions.0, resnets.1 (no resampling, no skips).
template <ComputeElement T = float, TensorPolicy P = Cpu>
class MidBlockCrossAttn {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename ResnetBlock2D<T, P>::Cache r0, r1;
    typename Transformer2D<T, P>::Cache attn;
    TensorT d_temb;
  };

  MidBlockCrossAttn(index_t channels, const BlockOptions& opt)
      : resnets{ResnetBlock2D<T, P>(
                    channels, channels,
                    {.temb_channels = opt.temb_channels, .groups = opt.groups, .eps = opt.eps, .seed = opt.seed}),
                ResnetBlock2D<T, P>(
                    channels, channels,
                    {.temb_channels = opt.temb_channels, .groups = opt.groups, .eps = opt.eps, .seed = opt.seed + 1})},
        attentions{Transformer2D<T, P>(channels, with_seed(*opt.attention, opt.seed + 2))} {}

  const TensorT& forward(const TensorT& x, const TensorT* temb, const TensorT& context, Cache& c) {
    return resnets[1].forward(attentions[0].forward(resnets[0].forward(x, temb, c.r0), context, c.attn), temb, c.r1);
  }
  /// dy -> dx; c.d_temb, and the context gradient in c.attn.d_context.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT& dx = resnets[0].backward(attentions[0].backward(resnets[1].backward(dy, c.r1), c.attn), c.r0);
    if (resnets[0].time_emb_proj) {
      nn::reset_if_changed(c.d_temb, c.r0.d_temb.shape());
      ops::add(c.r0.d_temb, c.r1.d_temb, c.d_temb);
    }
    return dx;
  }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    resnets[0].visit_parameters(f, prefix + "resnets.0.");
    attentions[0].visit_parameters(f, prefix + "attentions.0.");
    resnets[1].visit_parameters(f, prefix + "resnets.1.");
  }

  std::vector<ResnetBlock2D<T, P>> resnets;
  std::vector<Transformer2D<T, P>> attentions;

 private:
  static TransformerOptions with_seed(TransformerOptions t, std::uint64_t seed) {
    t.seed = seed;
    return t;
  }
};

}  // namespace gluegen::diffusion
