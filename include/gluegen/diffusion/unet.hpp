#pragma once
// UNet2DCondition: the noise-prediction network of latent diffusion (Rombach et al. 2022, sec. 3.3),
// built from a diffusers UNet2DConditionModel config with its parameter names, so a converted SD 1.x /
// 2.x checkpoint (tools/convert_diffusers.py) loads unchanged:
//   temb = time_embedding(sinusoid(t))                 (Ho et al. 2020: the Transformer sinusoid + MLP)
//   h = conv_in(x); down blocks (skips kept) -> mid block -> up blocks (skips concatenated)
//   eps = conv_out(SiLU(conv_norm_out(h)))
// Forward and backward: gradients reach every parameter (LoRA included, when wrapped), the input
// sample and the encoder states, the conditioning an aligner is trained through.
#include <gluegen/diffusion/denoiser.hpp>
#include <gluegen/diffusion/unet_blocks.hpp>
#include <gluegen/diffusion/unet_config.hpp>
#include <gluegen/nn/embedding.hpp>

#include <span>
#include <vector>

namespace gluegen::diffusion {

/// The layers UNet2DCondition::add_lora adapts.
struct UNetLoraTargets {
  bool attention = true;      ///< to_q, to_k, to_v, to_out.0 of every attn1 and attn2
  bool feed_forward = false;  ///< ff.net.0.proj, the GEGLU projection of every transformer block
  bool resnets = false;       ///< conv1, time_emb_proj, conv2 and conv_shortcut of every ResnetBlock2D
  /// LaVi-Bridge's (Zhao et al. 2024, sec. 3.2; its LoRA walk targets the Attention, GEGLU and
  /// ResnetBlock2D modules and adapts every Linear and Conv2d inside them).
  static constexpr UNetLoraTargets lavi_bridge() { return {.attention = true, .feed_forward = true, .resnets = true}; }
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class UNet2DCondition {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::Conv2d<T, P>::Cache conv_in, conv_out;
    typename nn::Linear<T, P>::Cache linear_1, linear_2;
    typename nn::Silu<T, P>::Cache time_act, out_act;
    typename nn::GroupNorm<T, P>::Cache norm_out;
    std::vector<typename DownBlock<T, P>::Cache> down;
    std::optional<typename MidBlockCrossAttn<T, P>::Cache> mid;
    std::vector<typename UpBlock<T, P>::Cache> up;
    std::vector<const TensorT*> skips;
    TensorT sinusoid, d_temb, d_context, d_h;
    Shape sample_shape;
  };

  explicit UNet2DCondition(const UNet2DConditionConfig& cfg, std::uint64_t seed = 0)
      : conv_in(cfg.in_channels, cfg.block_out_channels.front(), 3, {.padding = 1, .seed = seed, .stream = 0}),
        linear_1(cfg.block_out_channels.front(), cfg.time_embed_dim(), {.seed = seed, .stream = 1}),
        linear_2(cfg.time_embed_dim(), cfg.time_embed_dim(), {.seed = seed, .stream = 2}),
        conv_norm_out(cfg.norm_num_groups, cfg.block_out_channels.front(), T(cfg.norm_eps)),
        conv_out(cfg.block_out_channels.front(), cfg.out_channels, 3, {.padding = 1, .seed = seed, .stream = 3}),
        cfg_(cfg) {
    cfg.validate();
    const auto n = static_cast<std::size_t>(cfg.levels());
    const auto& ch = cfg.block_out_channels;
    const auto options = [&](std::size_t level, const std::string& type, index_t layers, bool resample,
                             std::uint64_t block_seed) {
      BlockOptions o{.layers = layers,
                     .temb_channels = cfg.time_embed_dim(),
                     .attention = {},
                     .resample = resample,
                     .groups = cfg.norm_num_groups,
                     .eps = cfg.norm_eps,
                     .seed = block_seed};
      if (UNet2DConditionConfig::has_cross_attention(type))
        o.attention = TransformerOptions{.heads = cfg.heads[level],
                                         .context_dim = cfg.cross_attention_dim,
                                         .layers = cfg.transformer_layers_per_block[level],
                                         .groups = cfg.norm_num_groups,
                                         .linear_projection = cfg.use_linear_projection};
      return o;
    };
    index_t out_ch = ch.front();
    for (std::size_t i = 0; i < n; ++i) {
      const index_t in_ch = out_ch;
      out_ch = ch[i];
      down_blocks.emplace_back(
          in_ch, out_ch, options(i, cfg.down_block_types[i], cfg.layers_per_block, i + 1 < n, seed + 1000 * (i + 1)));
    }
    if (cfg.mid_block_cross_attn) mid_block.emplace(ch.back(), options(n - 1, "CrossAttn", 1, false, seed + 50000));
    out_ch = ch.back();
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t level = n - 1 - i;  // up block i mirrors down block n - 1 - i
      const index_t prev_out = out_ch;
      out_ch = ch[level];
      const index_t in_ch = ch[level == 0 ? 0 : level - 1];
      std::vector<index_t> skips(static_cast<std::size_t>(cfg.layers_per_block + 1), out_ch);
      skips.back() = in_ch;  // the last resnet takes the state from before the matching down block
      up_blocks.emplace_back(
          prev_out, out_ch, std::move(skips),
          options(level, cfg.up_block_types[i], cfg.layers_per_block + 1, i + 1 < n, seed + 100000 + 1000 * (i + 1)));
    }
  }

  [[nodiscard]] const UNet2DConditionConfig& config() const noexcept { return cfg_; }

  /// Freezes the UNet and injects trainable LoRA adapters into the layers `targets` names; the
  /// default is every attention projection (to_q, to_k, to_v, to_out.0 of attn1 and attn2: diffusers'
  /// LoRA targets), UNetLoraTargets::lavi_bridge() adds the GEGLU and ResNet layers as LaVi-Bridge.
  /// A rank above a layer's min(in, out) is lowered to it. Adapter names: <layer>.lora_A.weight /
  /// lora_B.weight. Returns the number of adapted layers.
  index_t add_lora(const nn::LoraOptions& opt, UNetLoraTargets targets = {}) {
    nn::freeze(*this);
    index_t n = 0;
    const auto adapt = [&](auto& layer, index_t in, index_t out) {
      layer.add_lora({.rank = std::min({opt.rank, in, out}),
                      .alpha = opt.alpha,
                      .seed = opt.seed + static_cast<std::uint64_t>(n++)});
    };
    const auto adapt_linear = [&](nn::Linear<T, P>& l) { adapt(l, l.in_features(), l.out_features()); };
    const auto adapt_conv = [&](nn::Conv2d<T, P>& c) { adapt(c, c.in_channels(), c.out_channels()); };
    const auto adapt_blocks = [&](auto& block) {
      if (targets.resnets)
        for (auto& r : block.resnets) {
          adapt_conv(r.conv1);
          if (r.time_emb_proj) adapt_linear(*r.time_emb_proj);
          adapt_conv(r.conv2);
          if (r.conv_shortcut) adapt_conv(*r.conv_shortcut);
        }
      for (auto& t : block.attentions)
        for (auto& b : t.transformer_blocks) {
          if (targets.attention)
            for (auto* attn : {&b.attn1, &b.attn2})
              for (auto* proj : {&attn->q_proj, &attn->k_proj, &attn->v_proj, &attn->out_proj}) adapt_linear(*proj);
          if (targets.feed_forward) adapt_linear(b.ff_in.proj);
        }
    };
    for (auto& b : down_blocks) adapt_blocks(b);
    if (mid_block) adapt_blocks(*mid_block);
    for (auto& b : up_blocks) adapt_blocks(b);
    return n;
  }

  [[nodiscard]] index_t sample_channels() const noexcept { return cfg_.in_channels; }
  [[nodiscard]] index_t sample_size() const noexcept { return cfg_.sample_size; }
  [[nodiscard]] index_t context_dim() const noexcept { return cfg_.cross_attention_dim; }

  /// sample [B, in_channels, H, W] (H, W multiples of 2^(levels-1)), timesteps: one per sample or one
  /// for all, encoder_hidden_states [B, L, cross_attention_dim] -> the prediction [B, out_channels, H, W].
  const TensorT& forward(const TensorT& sample, std::span<const double> timesteps, const TensorT& encoder_hidden_states,
                         Cache& c) {
    const index_t B = sample.size(0), f = cfg_.downsample_factor();
    GLUEGEN_CHECK_AS(
        ShapeError,
        sample.rank() == 4 && sample.size(1) == cfg_.in_channels && sample.size(2) % f == 0 && sample.size(3) % f == 0,
        "UNet2DCondition: sample has shape {}, expected [B, {}, H, W] with H and W multiples of {}", sample.shape(),
        cfg_.in_channels, f);
    GLUEGEN_CHECK_AS(ShapeError,
                     encoder_hidden_states.rank() == 3 && encoder_hidden_states.size(0) == B &&
                         encoder_hidden_states.size(2) == cfg_.cross_attention_dim,
                     "UNet2DCondition: encoder_hidden_states have shape {}, expected [{}, L, {}] (cross_attention_dim)",
                     encoder_hidden_states.shape(), B, cfg_.cross_attention_dim);
    GLUEGEN_CHECK_AS(ShapeError, timesteps.size() == 1 || static_cast<index_t>(timesteps.size()) == B,
                     "UNet2DCondition: {} timesteps for a batch of {} (give one, or one per sample)", timesteps.size(),
                     B);
    c.sample_shape = sample.shape();
    std::vector<double> t(timesteps.begin(), timesteps.end());
    if (t.size() == 1) t.assign(static_cast<std::size_t>(B), t.front());
    c.sinusoid = nn::timestep_embedding<T, P>(
        t, cfg_.block_out_channels.front(),
        {.flip_sin_to_cos = cfg_.flip_sin_to_cos, .downscale_freq_shift = cfg_.freq_shift});
    const TensorT& temb =
        linear_2.forward(time_act.forward(linear_1.forward(c.sinusoid, c.linear_1), c.time_act), c.linear_2);

    c.down.resize(down_blocks.size());
    c.up.resize(up_blocks.size());
    c.skips.clear();
    const TensorT* h = &conv_in.forward(sample, c.conv_in);
    c.skips.push_back(h);
    for (std::size_t i = 0; i < down_blocks.size(); ++i)
      h = &down_blocks[i].forward(*h, &temb, &encoder_hidden_states, c.down[i], &c.skips);
    if (mid_block) {
      if (!c.mid) c.mid.emplace();
      h = &mid_block->forward(*h, &temb, encoder_hidden_states, *c.mid);
    }
    std::size_t end = c.skips.size();
    for (std::size_t i = 0; i < up_blocks.size(); ++i) {
      const std::size_t used = up_blocks[i].resnets.size();
      std::vector<const TensorT*> mine(c.skips.rend() - static_cast<std::ptrdiff_t>(end),
                                       c.skips.rend() - static_cast<std::ptrdiff_t>(end - used));
      end -= used;
      h = &up_blocks[i].forward(*h, &temb, &encoder_hidden_states, mine, c.up[i]);
    }
    return conv_out.forward(out_act.forward(conv_norm_out.forward(*h, c.norm_out), c.out_act), c.conv_out);
  }

  /// dy [B, out_channels, H, W] -> dL/dsample; adds every parameter gradient; c.d_context = dL/d
  /// encoder_hidden_states.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, dy.shape() == c.conv_out.y.shape(),
                     "UNet2DCondition backward: dy has shape {}, the output had {}", dy.shape(), c.conv_out.y.shape());
    bool first_temb = true, first_ctx = true;
    const TensorT* d =
        &conv_norm_out.backward(out_act.backward(conv_out.backward(dy, c.conv_out), c.out_act), c.norm_out);
    // the gradient of each skip state, in the order the down path produced them
    std::vector<const TensorT*> d_skips(c.skips.size(), nullptr);
    for (std::size_t i = up_blocks.size(); i-- > 0;) {
      d = &up_blocks[i].backward(*d, c.up[i]);
      accumulate(c.d_temb, c.up[i].d_temb, first_temb);
      if (!up_blocks[i].attentions.empty()) accumulate(c.d_context, c.up[i].d_context, first_ctx);
    }
    // up block i used the skips [begin_i, begin_i + used_i) in reverse; map them back
    std::size_t stop = c.skips.size();
    for (std::size_t i = 0; i < up_blocks.size(); ++i) {
      const std::size_t used = up_blocks[i].resnets.size();
      for (std::size_t j = 0; j < used; ++j) d_skips[stop - 1 - j] = &c.up[i].d_skip[j];
      stop -= used;
    }
    if (mid_block) {
      d = &mid_block->backward(*d, *c.mid);
      accumulate(c.d_temb, c.mid->d_temb, first_temb);
      accumulate(c.d_context, c.mid->attn.d_context, first_ctx);
    }
    std::size_t begin = c.skips.size();
    for (std::size_t i = down_blocks.size(); i-- > 0;) {
      const auto k = static_cast<std::size_t>(down_blocks[i].num_outputs());
      begin -= k;
      d = &down_blocks[i].backward(*d, std::span<const TensorT* const>(d_skips.data() + begin, k), c.down[i]);
      accumulate(c.d_temb, c.down[i].d_temb, first_temb);
      if (!down_blocks[i].attentions.empty()) accumulate(c.d_context, c.down[i].d_context, first_ctx);
    }
    nn::reset_if_changed(c.d_h, d->shape());
    ops::add(*d, *d_skips[0], c.d_h);
    linear_1.backward(time_act.backward(linear_2.backward(c.d_temb, c.linear_2), c.time_act), c.linear_1);
    return conv_in.backward(c.d_h, c.conv_in);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    conv_in.visit_parameters(f, prefix + "conv_in.");
    linear_1.visit_parameters(f, prefix + "time_embedding.linear_1.");
    linear_2.visit_parameters(f, prefix + "time_embedding.linear_2.");
    for (std::size_t i = 0; i < down_blocks.size(); ++i)
      down_blocks[i].visit_parameters(f, prefix + "down_blocks." + std::to_string(i) + ".");
    if (mid_block) mid_block->visit_parameters(f, prefix + "mid_block.");
    for (std::size_t i = 0; i < up_blocks.size(); ++i)
      up_blocks[i].visit_parameters(f, prefix + "up_blocks." + std::to_string(i) + ".");
    conv_norm_out.visit_parameters(f, prefix + "conv_norm_out.");
    conv_out.visit_parameters(f, prefix + "conv_out.");
  }

  nn::Conv2d<T, P> conv_in;
  nn::Linear<T, P> linear_1, linear_2;  ///< time_embedding.linear_1 / linear_2
  std::vector<DownBlock<T, P>> down_blocks;
  std::optional<MidBlockCrossAttn<T, P>> mid_block;
  std::vector<UpBlock<T, P>> up_blocks;
  nn::GroupNorm<T, P> conv_norm_out;
  nn::Conv2d<T, P> conv_out;

 private:
  nn::Silu<T, P> time_act, out_act;
  UNet2DConditionConfig cfg_;
};

static_assert(Denoiser<UNet2DCondition<float, Cpu>>);

}  // namespace gluegen::diffusion
