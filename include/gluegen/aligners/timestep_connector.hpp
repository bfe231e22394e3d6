#pragma once
// The timestep-aware attention aligner: ELLA's Timestep-aware Semantic Connector (Hu et al. 2024,
// "ELLA: Equip Diffusion Models with LLM for Enhanced Semantic Alignment", section 3.2), a Perceiver
// resampler whose LayerNorms are modulated by the diffusion timestep, so the conditioning it hands
// the UNet changes over the denoising trajectory. The pipeline calls it at every step with the
// step's timestep. For timesteps t [B] and source tokens x [B, L, I]:
//   temb = linear_2(SiLU(linear_1(sinusoid(t))))                    diffusers Timesteps + TimestepEmbedding
//   c    = SiLU(temb)
//   lat  = latents + time_aware_linear(c)                            [B, N, W]
//   AdaLN(h) = LayerNorm(h; no affine, eps 1e-6) * (1 + scale) + shift,  [shift, scale] = linear(c)
//   per block:  q = AdaLN_1(lat);  kv = [q ; AdaLN_2(proj_in(x))]   (the latents attend to themselves and the text)
//               lat = lat + Attention(q, kv, kv)
//               lat = lat + c_proj(ReLU(c_fc(AdaLN_ff(lat)))^2)      (squared ReLU)
// Output lat [B, N, W] is the UNet's encoder_hidden_states. Parameter names follow ELLA's state_dict
// (time_embedding.*, connector.*), with the packed in_proj split into q/k/v_proj
// (tools/convert_ella.py does that split).
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/embedding.hpp>

#include <span>
#include <vector>

namespace gluegen::aligners {

struct TimestepConnectorConfig {
  index_t time_channel = 320, time_embed_dim = 768;  ///< sinusoid width, timestep embedding width
  index_t width = 768, layers = 6, heads = 8, num_latents = 64;
  index_t input_dim = 2048;  ///< the language model's width (flan-t5-xl in ELLA's release)
};

/// LayerNorm without affine parameters, then a per-example scale and shift computed from a
/// conditioning vector: y = LN(x) (1 + scale) + shift, [shift, scale] = linear(cond) (shift first).
template <ComputeElement T = float, TensorPolicy P = Cpu>
class AdaLayerNorm {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT x, n, mean, rstd, shift, scale, one_plus, y, dn, prod, ones, d_shift, d_scale, dx, d_cond;
  };

  AdaLayerNorm(index_t dim, index_t cond_dim, std::uint64_t seed, std::uint64_t stream)
      : linear(cond_dim, 2 * dim, {.seed = seed, .stream = stream}), dim_(dim) {}

  /// x [B, L, W], cond [B, E] -> [B, L, W]
  const TensorT& forward(const TensorT& x, const TensorT& cond, Cache& c) {
    const index_t B = x.size(0), W = dim_;
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(2) == W && cond.shape() == (Shape{B, linear.in_features()}),
                     "AdaLayerNorm: x {} and cond {} do not fit width {} and condition width {}", x.shape(),
                     cond.shape(), W, linear.in_features());
    c.x = x.contiguous();
    ops::norm_rows(c.x, static_cast<const TensorT*>(nullptr), static_cast<const TensorT*>(nullptr), T(1e-6), true, c.n,
                   c.mean, c.rstd);
    half(cond, 0, c.shift);
    half(cond, 1, c.scale);
    ops::affine(c.scale, T(1), T(1), c.one_plus);
    ops::mul(c.n, c.one_plus.reshape({B, 1, W}), c.y);
    ops::add(c.y, c.shift.reshape({B, 1, W}), c.y);
    return c.y;
  }

  /// dy -> dx; adds the linear's gradients and leaves dL/dcond [B, E] in c.d_cond.
  const TensorT& backward(const TensorT& dy, const TensorT& cond, Cache& c) {
    const index_t B = dy.size(0), L = dy.size(1), W = dim_;
    if (!c.ones.defined() || c.ones.shape() != Shape{B, 1, L}) c.ones = TensorT::full({B, 1, L}, T(1));
    ops::matmul(c.ones, dy, c.d_shift);  // sum over tokens: [B, 1, W]
    ops::mul(dy, c.n, c.prod);
    ops::matmul(c.ones, c.prod, c.d_scale);
    ops::mul(dy, c.one_plus.reshape({B, 1, W}), c.dn);
    ops::norm_rows_backward(c.x, static_cast<const TensorT*>(nullptr), c.mean, c.rstd, c.dn, true, c.dx,
                            static_cast<TensorT*>(nullptr), static_cast<TensorT*>(nullptr));
    const TensorT ds = c.d_shift.reshape({B, W}), dsc = c.d_scale.reshape({B, W});
    if (linear.weight.trainable) {
      TensorT gw = linear.weight.grad_buffer();
      TensorT g_shift = gw.slice(0, W), g_scale = gw.slice(W, 2 * W);
      ops::matmul(ds, cond, g_shift, {.trans_a = true, .beta = 1.0});
      ops::matmul(dsc, cond, g_scale, {.trans_a = true, .beta = 1.0});
    }
    if (linear.bias.trainable) {
      TensorT gb = linear.bias.grad_buffer();
      TensorT b_shift = gb.slice(0, W), b_scale = gb.slice(W, 2 * W);
      ops::sum_leading(ds, b_shift, true);
      ops::sum_leading(dsc, b_scale, true);
    }
    ops::matmul(ds, linear.weight.value.slice(0, W), c.d_cond);
    ops::matmul(dsc, linear.weight.value.slice(W, 2 * W), c.d_cond, {.beta = 1.0});
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    linear.visit_parameters(f, prefix + "linear.");
  }

  nn::Linear<T, P> linear;  ///< [2W, E]: rows 0..W give the shift, W..2W the scale

 private:
  /// cond [B, E] @ rows [which W, (which + 1) W) of the weight^T + that half of the bias -> [B, W]
  void half(const TensorT& cond, index_t which, TensorT& out) const {
    const index_t W = dim_;
    ops::matmul(cond, linear.weight.value.slice(which * W, (which + 1) * W), out, {.trans_b = true});
    ops::add(out, linear.bias.value.slice(which * W, (which + 1) * W), out);
  }

  index_t dim_;
};

/// One ELLA perceiver block: AdaLN'd latents attend to [themselves ; AdaLN'd text], then a squared-ReLU MLP.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class ConnectorBlock {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename AdaLayerNorm<T, P>::Cache ln_1, ln_2, ln_ff;
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    typename nn::Linear<T, P>::Cache c_fc, c_proj;
    TensorT kv, lat1, relu, sq, out, d_relu, d_lat1, d_kv_lat, d_nl, d_lat, d_text;
  };

  ConnectorBlock(const TimestepConnectorConfig& cfg, std::uint64_t seed)
      : attn({.embed_dim = cfg.width, .num_heads = cfg.heads}, seed),
        c_fc(cfg.width, 4 * cfg.width, {.seed = seed, .stream = 4}),
        c_proj(4 * cfg.width, cfg.width, {.seed = seed, .stream = 5}),
        ln_1(cfg.width, cfg.time_embed_dim, seed, 6),
        ln_2(cfg.width, cfg.time_embed_dim, seed, 7),
        ln_ff(cfg.width, cfg.time_embed_dim, seed, 8) {}

  /// lat [B, N, W], text [B, L, W] (projected source tokens), cond [B, E] -> new latents [B, N, W]
  const TensorT& forward(const TensorT& lat, const TensorT& text, const TensorT& cond, Cache& c) {
    const index_t B = lat.size(0), N = lat.size(1), L = text.size(1), W = lat.size(2);
    const TensorT& nl = ln_1.forward(lat, cond, c.ln_1);
    const TensorT& nt = ln_2.forward(text, cond, c.ln_2);
    nn::reset_if_changed(c.kv, Shape{B, N + L, W});
    if (!c.kv.defined()) c.kv = TensorT({B, N + L, W});
    for (index_t b = 0; b < B; ++b) {  // kv[b] = [nl[b] ; nt[b]] (rows of a contiguous [N + L, W] block)
      TensorT head = c.kv.select(b).slice(0, N), tail = c.kv.select(b).slice(N, N + L);
      ops::copy(nl.select(b), head);
      ops::copy(nt.select(b), tail);
    }
    ops::add(lat, attn.forward(nl, c.kv, nullptr, nullptr, c.attn), c.lat1);
    const TensorT& h = c_fc.forward(ln_ff.forward(c.lat1, cond, c.ln_ff), c.c_fc);
    ops::relu(h, c.relu);
    ops::mul(c.relu, c.relu, c.sq);
    ops::add(c.lat1, c_proj.forward(c.sq, c.c_proj), c.out);
    return c.out;
  }

  /// d_out -> d_lat (returned); adds dL/dtext into d_text and dL/dcond into d_cond.
  const TensorT& backward(const TensorT& d_out, const TensorT& cond, Cache& c, TensorT& d_text, TensorT& d_cond) {
    const index_t B = d_out.size(0), N = d_out.size(1), L = c.kv.size(1) - N;
    // MLP branch: d(r^2) = 2 r dr, and r = ReLU(h) is zero exactly where ReLU's derivative is.
    ops::mul(c_proj.backward(d_out, c.c_proj), c.relu, c.d_relu);
    ops::scale(c.d_relu, T(2), c.d_relu);
    const TensorT& d_ff = ln_ff.backward(c_fc.backward(c.d_relu, c.c_fc), cond, c.ln_ff);
    ops::add(d_out, d_ff, c.d_lat1);
    ops::add(d_cond, c.ln_ff.d_cond, d_cond);
    // Attention branch: the latents are the queries and the first N keys/values.
    const TensorT& d_q = attn.backward(c.d_lat1, c.attn);
    const TensorT& d_kv = c.attn.d_context;
    nn::reset_if_changed(c.d_kv_lat, Shape{B, N, d_out.size(2)});
    nn::reset_if_changed(c.d_text, Shape{B, L, d_out.size(2)});
    if (!c.d_kv_lat.defined()) c.d_kv_lat = TensorT({B, N, d_out.size(2)});
    if (!c.d_text.defined()) c.d_text = TensorT({B, L, d_out.size(2)});
    for (index_t b = 0; b < B; ++b) {
      TensorT to_lat = c.d_kv_lat.select(b), to_text = c.d_text.select(b);
      ops::copy(d_kv.select(b).slice(0, N), to_lat);
      ops::copy(d_kv.select(b).slice(N, N + L), to_text);
    }
    ops::add(d_q, c.d_kv_lat, c.d_nl);
    ops::add(c.d_lat1, ln_1.backward(c.d_nl, cond, c.ln_1), c.d_lat);
    ops::add(d_cond, c.ln_1.d_cond, d_cond);
    ops::add(d_text, ln_2.backward(c.d_text, cond, c.ln_2), d_text);
    ops::add(d_cond, c.ln_2.d_cond, d_cond);
    return c.d_lat;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    attn.visit_parameters(f, prefix + "attn.");
    c_fc.visit_parameters(f, prefix + "mlp.c_fc.");
    c_proj.visit_parameters(f, prefix + "mlp.c_proj.");
    ln_1.visit_parameters(f, prefix + "ln_1.");
    ln_2.visit_parameters(f, prefix + "ln_2.");
    ln_ff.visit_parameters(f, prefix + "ln_ff.");
  }

  nn::MultiHeadAttention<T, P> attn;
  nn::Linear<T, P> c_fc, c_proj;
  AdaLayerNorm<T, P> ln_1, ln_2, ln_ff;
};

/// ELLA's TSC: timestep embedding + time-conditioned Perceiver resampler.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class TimestepConnector {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::Linear<T, P>::Cache linear_1, linear_2, time_aware, proj_in;
    std::vector<typename ConnectorBlock<T, P>::Cache> blocks;
    TensorT sinusoid, h1, a1, temb, cond, lat0, ones, d_lat_sum, d_tl, d_cond, d_text, d_temb, d_h1;
  };

  explicit TimestepConnector(const TimestepConnectorConfig& cfg, std::uint64_t seed = 0)
      : linear_1(cfg.time_channel, cfg.time_embed_dim, {.seed = seed, .stream = 0}),
        linear_2(cfg.time_embed_dim, cfg.time_embed_dim, {.seed = seed, .stream = 1}),
        latents(Shape{cfg.num_latents, cfg.width}),
        time_aware_linear(cfg.time_embed_dim, cfg.width, {.seed = seed, .stream = 2}),
        proj_in(cfg.input_dim, cfg.width, {.seed = seed, .stream = 3}),
        cfg_(cfg) {
    GLUEGEN_CHECK_AS(ValueError, cfg.time_channel % 2 == 0 && cfg.layers >= 1,
                     "TimestepConnector: time_channel must be even and layers >= 1");
    ops::fill_normal(latents.value, seed, T(0), T(1) / std::sqrt(T(cfg.width)), 9);  // ELLA: randn / width^0.5
    for (index_t i = 0; i < cfg.layers; ++i) blocks.emplace_back(cfg, seed + 1 + static_cast<std::uint64_t>(i));
  }

  [[nodiscard]] const TimestepConnectorConfig& config() const noexcept { return cfg_; }

  /// The TimestepAligner form, called by the pipeline at every denoising step (ELLA passes no mask).
  const TensorT& align(const TensorT& source, const TensorT& /*source_mask*/, std::span<const double> timesteps,
                       Cache& c) {
    return forward(source, timesteps, c);
  }

  /// source tokens x [B, L, input_dim] at diffusion timesteps t (B values) -> [B, num_latents, width]
  const TensorT& forward(const TensorT& x, std::span<const double> timesteps, Cache& c) {
    const index_t B = x.size(0);
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(2) == cfg_.input_dim,
                     "TimestepConnector: source has shape {}, expected [B, L, {}]", x.shape(), cfg_.input_dim);
    GLUEGEN_CHECK_AS(ShapeError, std::ssize(timesteps) == B, "TimestepConnector: {} timesteps for a batch of {}",
                     timesteps.size(), B);
    if (c.lat0.defined() && (c.lat0.size(0) != B || c.proj_in.y.size(1) != x.size(1)))
      c = Cache{};  // another batch shape: fresh buffers
    c.sinusoid = nn::timestep_embedding<T, P>(timesteps, cfg_.time_channel,
                                              {.flip_sin_to_cos = true, .downscale_freq_shift = 0.0});
    c.h1 = linear_1.forward(c.sinusoid, c.linear_1);
    ops::silu(c.h1, c.a1);
    c.temb = linear_2.forward(c.a1, c.linear_2);
    ops::silu(c.temb, c.cond);
    const TensorT& tl = time_aware_linear.forward(c.cond, c.time_aware);
    ops::add(latents.value.reshape({1, cfg_.num_latents, cfg_.width}), tl.reshape({B, 1, cfg_.width}), c.lat0);
    const TensorT& text = proj_in.forward(x, c.proj_in);
    c.blocks.resize(blocks.size());
    const TensorT* lat = &c.lat0;
    for (std::size_t i = 0; i < blocks.size(); ++i) lat = &blocks[i].forward(*lat, text, c.cond, c.blocks[i]);
    return *lat;
  }

  /// dL/doutput -> dL/dx [B, L, input_dim]; adds every parameter's gradient.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const index_t B = dy.size(0), N = cfg_.num_latents, W = cfg_.width;
    c.d_cond = TensorT::zeros({B, cfg_.time_embed_dim});
    c.d_text = TensorT::zeros(c.proj_in.y.shape());
    const TensorT* d_lat = &dy;
    for (std::size_t i = blocks.size(); i-- > 0;)
      d_lat = &blocks[i].backward(*d_lat, c.cond, c.blocks[i], c.d_text, c.d_cond);
    if (latents.trainable) {  // broadcast over the batch: the gradient is the batch sum
      TensorT flat = latents.grad_buffer().reshape({N * W});
      ops::sum_leading(d_lat->reshape({B, N * W}), flat, true);
    }
    if (!c.ones.defined() || c.ones.shape() != Shape{B, 1, N}) c.ones = TensorT::full({B, 1, N}, T(1));
    ops::matmul(c.ones, *d_lat, c.d_lat_sum);  // the time term was broadcast over the latents
    ops::add(c.d_cond, time_aware_linear.backward(c.d_lat_sum.reshape({B, W}), c.time_aware), c.d_cond);
    ops::unary_backward(UnaryOp::silu, c.temb, c.d_cond, c.d_temb);
    ops::unary_backward(UnaryOp::silu, c.h1, linear_2.backward(c.d_temb, c.linear_2), c.d_h1);
    (void)linear_1.backward(c.d_h1, c.linear_1);
    return proj_in.backward(c.d_text, c.proj_in);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    linear_1.visit_parameters(f, prefix + "time_embedding.linear_1.");
    linear_2.visit_parameters(f, prefix + "time_embedding.linear_2.");
    f(prefix + "connector.latents", latents);
    time_aware_linear.visit_parameters(f, prefix + "connector.time_aware_linear.");
    proj_in.visit_parameters(f, prefix + "connector.proj_in.");
    for (std::size_t i = 0; i < blocks.size(); ++i)
      blocks[i].visit_parameters(f, prefix + "connector.perceiver_blocks." + std::to_string(i) + ".");
  }

  nn::Linear<T, P> linear_1, linear_2;
  nn::Param<T, P> latents;
  nn::Linear<T, P> time_aware_linear, proj_in;
  std::vector<ConnectorBlock<T, P>> blocks;

 private:
  TimestepConnectorConfig cfg_;
};

static_assert(nn::Module<TimestepConnector<float, Cpu>> && TimestepAligner<TimestepConnector<float, Cpu>>);

}  // namespace gluegen::aligners
