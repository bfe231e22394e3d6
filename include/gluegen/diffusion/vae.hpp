#pragma once
// AutoencoderKL (Rombach et al. 2022, sec. 3 and appendix G; diffusers' AutoencoderKL): the latent
// space SD's UNet works in. The encoder maps an image in [-1, 1] to the moments (mean, log-variance)
// of a diagonal Gaussian over latents (x / 8 per side in SD); the decoder maps latents back to pixels.
// Pipelines scale latents by `scaling_factor` (0.18215 for SD 1.x) so they have unit variance:
//   z = scaling_factor * (sample of q(z|x) - shift_factor),  image = decode(z / scaling_factor + shift_factor).
// Blocks are the UNet's (ResnetBlock2D without time embedding, eps 1e-6), the VAE's stride-2 downsampling
// pads (0, 1, 0, 1), and each mid block holds one single-head spatial self-attention. diffusers' names.
#include <gluegen/diffusion/unet_blocks.hpp>

#include <nlohmann/json.hpp>

namespace gluegen::diffusion {

struct AutoencoderKLConfig {
  index_t in_channels = 3, out_channels = 3, latent_channels = 4;
  std::vector<index_t> block_out_channels{128, 256, 512, 512};
  index_t layers_per_block = 2;
  index_t norm_num_groups = 32;
  double scaling_factor = 0.18215;
  double shift_factor = 0.0;
  bool use_quant_conv = true, use_post_quant_conv = true, mid_block_add_attention = true;

  [[nodiscard]] index_t downsample_factor() const noexcept { return index_t{1} << (block_out_channels.size() - 1); }

  static AutoencoderKLConfig from_json(const nlohmann::json& j) {
    AutoencoderKLConfig c;
    try {
      c.in_channels = j.value("in_channels", c.in_channels);
      c.out_channels = j.value("out_channels", c.out_channels);
      c.latent_channels = j.value("latent_channels", c.latent_channels);
      c.block_out_channels = j.value("block_out_channels", c.block_out_channels);
      c.layers_per_block = j.value("layers_per_block", c.layers_per_block);
      c.norm_num_groups = j.value("norm_num_groups", c.norm_num_groups);
      c.scaling_factor = j.value("scaling_factor", c.scaling_factor);
      if (j.contains("shift_factor") && !j.at("shift_factor").is_null())
        c.shift_factor = j.at("shift_factor").get<double>();
      c.use_quant_conv = j.value("use_quant_conv", c.use_quant_conv);
      c.use_post_quant_conv = j.value("use_post_quant_conv", c.use_post_quant_conv);
      c.mid_block_add_attention = j.value("mid_block_add_attention", c.mid_block_add_attention);
      for (const auto& t :
           j.value("down_block_types", std::vector<std::string>(c.block_out_channels.size(), "DownEncoderBlock2D")))
        GLUEGEN_CHECK_AS(ValueError, t == "DownEncoderBlock2D",
                         "AutoencoderKLConfig: down block type '{}' is not supported (DownEncoderBlock2D)", t);
      for (const auto& t :
           j.value("up_block_types", std::vector<std::string>(c.block_out_channels.size(), "UpDecoderBlock2D")))
        GLUEGEN_CHECK_AS(ValueError, t == "UpDecoderBlock2D",
                         "AutoencoderKLConfig: up block type '{}' is not supported (UpDecoderBlock2D)", t);
      GLUEGEN_CHECK_AS(ValueError, j.value("act_fn", std::string("silu")) == "silu",
                       "AutoencoderKLConfig: act_fn '{}' is not supported (silu)", j.value("act_fn", std::string()));
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(ValueError, "AutoencoderKLConfig: malformed config: {}", e.what());
    }
    for (const index_t ch : c.block_out_channels)
      GLUEGEN_CHECK_AS(ValueError, ch > 0 && ch % c.norm_num_groups == 0,
                       "AutoencoderKLConfig: {} channels are not a multiple of norm_num_groups {}", ch,
                       c.norm_num_groups);
    return c;
  }
};

/// diffusers' Attention as the VAE uses it: GroupNorm, one head over all channels, biased projections
/// (group_norm, to_q, to_k, to_v, to_out.0), added back to the input.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class SpatialSelfAttention {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::GroupNorm<T, P>::Cache norm;
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    TensorT tokens, spatial, y, d_tokens, dx;
  };
  SpatialSelfAttention(index_t channels, index_t groups, double eps, std::uint64_t seed)
      : group_norm(groups, channels, T(eps)), attn({.embed_dim = channels, .num_heads = 1}, seed) {}

  const TensorT& forward(const TensorT& x, Cache& c) {
    detail::to_tokens(group_norm.forward(x, c.norm), c.tokens);
    detail::from_tokens(attn.forward(c.tokens, c.attn), x.size(2), x.size(3), c.spatial);
    nn::reset_if_changed(c.y, x.shape());
    ops::add(c.spatial, x, c.y);
    return c.y;
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    detail::to_tokens(dy, c.d_tokens);
    const TensorT& d_norm_tokens = attn.backward(c.d_tokens, c.attn);
    detail::from_tokens(d_norm_tokens, dy.size(2), dy.size(3), c.spatial);
    nn::reset_if_changed(c.dx, dy.shape());
    ops::add(group_norm.backward(c.spatial, c.norm), dy, c.dx);
    return c.dx;
  }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    group_norm.visit_parameters(f, prefix + "group_norm.");
    detail::visit_diffusers_attention(attn, f, prefix);
  }

  nn::GroupNorm<T, P> group_norm;
  nn::MultiHeadAttention<T, P> attn;
};

/// UNetMidBlock2D without time embedding: resnets.0, attentions.0 (optional), resnets.1.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class VaeMidBlock {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename ResnetBlock2D<T, P>::Cache r0, r1;
    typename SpatialSelfAttention<T, P>::Cache attn;
  };
  VaeMidBlock(index_t channels, index_t groups, bool attention, std::uint64_t seed)
      : resnets{ResnetBlock2D<T, P>(channels, channels, {.groups = groups, .eps = 1e-6, .seed = seed}),
                ResnetBlock2D<T, P>(channels, channels, {.groups = groups, .eps = 1e-6, .seed = seed + 1})} {
    if (attention) attentions.emplace_back(channels, groups, 1e-6, seed + 2);
  }
  const TensorT& forward(const TensorT& x, Cache& c) {
    const TensorT* h = &resnets[0].forward(x, nullptr, c.r0);
    if (!attentions.empty()) h = &attentions[0].forward(*h, c.attn);
    return resnets[1].forward(*h, nullptr, c.r1);
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT* d = &resnets[1].backward(dy, c.r1);
    if (!attentions.empty()) d = &attentions[0].backward(*d, c.attn);
    return resnets[0].backward(*d, c.r0);
  }
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    resnets[0].visit_parameters(f, prefix + "resnets.0.");
    for (auto& a : attentions) a.visit_parameters(f, prefix + "attentions.0.");
    resnets[1].visit_parameters(f, prefix + "resnets.1.");
  }
  std::vector<ResnetBlock2D<T, P>> resnets;
  std::vector<SpatialSelfAttention<T, P>> attentions;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class AutoencoderKL {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct EncodeCache {
    typename nn::Conv2d<T, P>::Cache conv_in, conv_out, quant;
    std::vector<typename DownBlock<T, P>::Cache> down;
    typename VaeMidBlock<T, P>::Cache mid;
    typename nn::GroupNorm<T, P>::Cache norm_out;
    typename nn::Silu<T, P>::Cache act;
  };
  struct DecodeCache {
    typename nn::Conv2d<T, P>::Cache post_quant, conv_in, conv_out;
    typename VaeMidBlock<T, P>::Cache mid;
    std::vector<typename UpBlock<T, P>::Cache> up;
    typename nn::GroupNorm<T, P>::Cache norm_out;
    typename nn::Silu<T, P>::Cache act;
  };

  explicit AutoencoderKL(const AutoencoderKLConfig& cfg, std::uint64_t seed = 0)
      : enc_conv_in(cfg.in_channels, cfg.block_out_channels.front(), 3, {.padding = 1, .seed = seed, .stream = 0}),
        enc_mid(cfg.block_out_channels.back(), cfg.norm_num_groups, cfg.mid_block_add_attention, seed + 10),
        enc_norm_out(cfg.norm_num_groups, cfg.block_out_channels.back(), T(1e-6)),
        enc_conv_out(cfg.block_out_channels.back(), 2 * cfg.latent_channels, 3,
                     {.padding = 1, .seed = seed, .stream = 1}),
        dec_conv_in(cfg.latent_channels, cfg.block_out_channels.back(), 3, {.padding = 1, .seed = seed, .stream = 2}),
        dec_mid(cfg.block_out_channels.back(), cfg.norm_num_groups, cfg.mid_block_add_attention, seed + 20),
        dec_norm_out(cfg.norm_num_groups, cfg.block_out_channels.front(), T(1e-6)),
        dec_conv_out(cfg.block_out_channels.front(), cfg.out_channels, 3, {.padding = 1, .seed = seed, .stream = 3}),
        cfg_(cfg) {
    const auto& ch = cfg.block_out_channels;
    const std::size_t n = ch.size();
    const auto block = [&](index_t layers, bool resample, std::uint64_t s) {
      return BlockOptions{.layers = layers,
                          .temb_channels = 0,
                          .attention = {},
                          .resample = resample,
                          .asymmetric_downsample = true,
                          .groups = cfg.norm_num_groups,
                          .eps = 1e-6,
                          .seed = s};
    };
    for (std::size_t i = 0; i < n; ++i)
      encoder_blocks.emplace_back(ch[i == 0 ? 0 : i - 1], ch[i],
                                  block(cfg.layers_per_block, i + 1 < n, seed + 100 * (i + 1)));
    for (std::size_t i = 0; i < n; ++i)
      decoder_blocks.emplace_back(ch[n - (i == 0 ? 1 : i)], ch[n - 1 - i], std::vector<index_t>{},
                                  block(cfg.layers_per_block + 1, i + 1 < n, seed + 10000 + 100 * (i + 1)));
    if (cfg.use_quant_conv)
      quant_conv.emplace(2 * cfg.latent_channels, 2 * cfg.latent_channels, 1,
                         nn::ConvOptions{.seed = seed, .stream = 4});
    if (cfg.use_post_quant_conv)
      post_quant_conv.emplace(cfg.latent_channels, cfg.latent_channels, 1, nn::ConvOptions{.seed = seed, .stream = 5});
  }

  [[nodiscard]] const AutoencoderKLConfig& config() const noexcept { return cfg_; }

  /// image [B, in_channels, H, W] (H, W multiples of the downsampling factor) -> moments
  /// [B, 2 latent_channels, H / f, W / f]: mean, then log-variance.
  const TensorT& encode(const TensorT& x, EncodeCache& c) {
    const index_t f = cfg_.downsample_factor();
    GLUEGEN_CHECK_AS(ShapeError,
                     x.rank() == 4 && x.size(1) == cfg_.in_channels && x.size(2) % f == 0 && x.size(3) % f == 0,
                     "AutoencoderKL::encode: image has shape {}, expected [B, {}, H, W] with H and W multiples of {}",
                     x.shape(), cfg_.in_channels, f);
    c.down.resize(encoder_blocks.size());
    const TensorT* h = &enc_conv_in.forward(x, c.conv_in);
    for (std::size_t i = 0; i < encoder_blocks.size(); ++i)
      h = &encoder_blocks[i].forward(*h, nullptr, nullptr, c.down[i], nullptr);
    h = &enc_conv_out.forward(enc_act.forward(enc_norm_out.forward(enc_mid.forward(*h, c.mid), c.norm_out), c.act),
                              c.conv_out);
    return quant_conv ? quant_conv->forward(*h, c.quant) : *h;
  }

  /// latents [B, latent_channels, h, w] (unscaled: divide a pipeline's latents by scaling_factor first)
  /// -> image [B, out_channels, h f, w f], nominally in [-1, 1].
  const TensorT& decode(const TensorT& z, DecodeCache& c) {
    GLUEGEN_CHECK_AS(ShapeError, z.rank() == 4 && z.size(1) == cfg_.latent_channels,
                     "AutoencoderKL::decode: latents have shape {}, expected [B, {}, h, w]", z.shape(),
                     cfg_.latent_channels);
    c.up.resize(decoder_blocks.size());
    const TensorT* h = post_quant_conv ? &post_quant_conv->forward(z, c.post_quant) : &z;
    h = &dec_mid.forward(dec_conv_in.forward(*h, c.conv_in), c.mid);
    for (std::size_t i = 0; i < decoder_blocks.size(); ++i)
      h = &decoder_blocks[i].forward(*h, nullptr, nullptr, {}, c.up[i]);
    return dec_conv_out.forward(dec_act.forward(dec_norm_out.forward(*h, c.norm_out), c.act), c.conv_out);
  }

  /// dL/dimage -> dL/dlatents through the decoder (adds decoder parameter gradients): pixel-space
  /// losses on generated images reach the latents, the UNet and the conditioning.
  const TensorT& decode_backward(const TensorT& dy, DecodeCache& c) {
    const TensorT* d =
        &dec_norm_out.backward(dec_act.backward(dec_conv_out.backward(dy, c.conv_out), c.act), c.norm_out);
    for (std::size_t i = decoder_blocks.size(); i-- > 0;) d = &decoder_blocks[i].backward(*d, c.up[i]);
    d = &dec_conv_in.backward(dec_mid.backward(*d, c.mid), c.conv_in);
    return post_quant_conv ? post_quant_conv->backward(*d, c.post_quant) : *d;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    enc_conv_in.visit_parameters(f, prefix + "encoder.conv_in.");
    for (std::size_t i = 0; i < encoder_blocks.size(); ++i)
      encoder_blocks[i].visit_parameters(f, prefix + "encoder.down_blocks." + std::to_string(i) + ".");
    enc_mid.visit_parameters(f, prefix + "encoder.mid_block.");
    enc_norm_out.visit_parameters(f, prefix + "encoder.conv_norm_out.");
    enc_conv_out.visit_parameters(f, prefix + "encoder.conv_out.");
    dec_conv_in.visit_parameters(f, prefix + "decoder.conv_in.");
    dec_mid.visit_parameters(f, prefix + "decoder.mid_block.");
    for (std::size_t i = 0; i < decoder_blocks.size(); ++i)
      decoder_blocks[i].visit_parameters(f, prefix + "decoder.up_blocks." + std::to_string(i) + ".");
    dec_norm_out.visit_parameters(f, prefix + "decoder.conv_norm_out.");
    dec_conv_out.visit_parameters(f, prefix + "decoder.conv_out.");
    if (quant_conv) quant_conv->visit_parameters(f, prefix + "quant_conv.");
    if (post_quant_conv) post_quant_conv->visit_parameters(f, prefix + "post_quant_conv.");
  }

  nn::Conv2d<T, P> enc_conv_in;
  std::vector<DownBlock<T, P>> encoder_blocks;
  VaeMidBlock<T, P> enc_mid;
  nn::GroupNorm<T, P> enc_norm_out;
  nn::Conv2d<T, P> enc_conv_out;
  nn::Conv2d<T, P> dec_conv_in;
  VaeMidBlock<T, P> dec_mid;
  std::vector<UpBlock<T, P>> decoder_blocks;
  nn::GroupNorm<T, P> dec_norm_out;
  nn::Conv2d<T, P> dec_conv_out;
  std::optional<nn::Conv2d<T, P>> quant_conv, post_quant_conv;

 private:
  nn::Silu<T, P> enc_act, dec_act;
  AutoencoderKLConfig cfg_;
};

static_assert(nn::Module<AutoencoderKL<float, Cpu>>);

}  // namespace gluegen::diffusion
