#pragma once
// AttentionAligner: a Perceiver-resampler aligner (Jaegle et al. 2021; Alayrac et al. 2022), the
// attention alternative to GlueNet in aligner comparisons. Lt learned queries cross-attend to the
// projected source tokens through `depth` pre-norm layers,
//   latents = latents + Attention(LN(latents), LN(context), key-padding mask)
//   latents = latents + FeedForward(LN(latents))
// then LayerNorm and a projection to the target width. Its output length is Lt whatever the source
// length, so it maps 128/256 source tokens to CLIP's 77 directly, and padded source tokens are masked.
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/feed_forward.hpp>
#include <gluegen/nn/norm.hpp>

#include <vector>

namespace gluegen::aligners {

struct AttentionAlignerConfig {
  index_t dim_source = 1024, dim = 768, dim_target = 768;
  index_t num_queries = 77;  ///< target token length
  index_t heads = 12, depth = 4, ff_mult = 4;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class ResamplerLayer {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::LayerNorm<T, P>::Cache norm_latents, norm_context, norm_ff;
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    typename nn::FeedForward<T, P>::Cache ff;
    TensorT mid, y, d_mid, d_latents;
  };

  ResamplerLayer(index_t dim, index_t heads, index_t ff_mult, std::uint64_t seed)
      : norm_latents(dim),
        norm_context(dim),
        attn({.embed_dim = dim, .num_heads = heads}, seed),
        norm_ff(dim),
        ff(dim, ff_mult * dim, 0, seed, 1) {}

  /// latents [B, Lt, D], context [B, Ls, D], mask [B, Ls] or null -> [B, Lt, D]
  const TensorT& forward(const TensorT& latents, const TensorT& context, const TensorT* mask, Cache& c) {
    const TensorT& q = norm_latents.forward(latents, c.norm_latents);
    const TensorT& kv = norm_context.forward(context, c.norm_context);
    ops::reset_if_changed(c.mid, latents.shape());  // a new batch size reallocates
    ops::reset_if_changed(c.y, latents.shape());
    ops::add(latents, attn.forward(q, kv, mask, nullptr, c.attn), c.mid);
    ops::add(c.mid, ff.forward(norm_ff.forward(c.mid, c.norm_ff), c.ff), c.y);
    return c.y;
  }

  /// Returns dL/dlatents; dL/dcontext is context_gradient(c) afterwards.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::reset_if_changed(c.d_mid, dy.shape());
    ops::reset_if_changed(c.d_latents, dy.shape());
    ops::add(dy, norm_ff.backward(ff.backward(dy, c.ff), c.norm_ff), c.d_mid);
    ops::add(c.d_mid, norm_latents.backward(attn.backward(c.d_mid, c.attn), c.norm_latents), c.d_latents);
    return c.d_latents;
  }
  const TensorT& context_gradient(Cache& c) { return norm_context.backward(c.attn.d_context, c.norm_context); }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    norm_latents.visit_parameters(f, prefix + "norm_latents.");
    norm_context.visit_parameters(f, prefix + "norm_context.");
    attn.visit_parameters(f, prefix + "attn.");
    norm_ff.visit_parameters(f, prefix + "norm_ff.");
    ff.visit_parameters(f, prefix + "ff.");
  }

  nn::LayerNorm<T, P> norm_latents, norm_context;
  nn::MultiHeadAttention<T, P> attn;
  nn::LayerNorm<T, P> norm_ff;
  nn::FeedForward<T, P> ff;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class AttentionAligner {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::Linear<T, P>::Cache proj_in, proj_out;
    typename nn::LayerNorm<T, P>::Cache norm_out;
    std::vector<typename ResamplerLayer<T, P>::Cache> layers;
    TensorT ones, latents, d_context, d_queries_rows;
  };

  explicit AttentionAligner(const AttentionAlignerConfig& cfg, std::uint64_t seed = 0)
      : queries(Shape{cfg.num_queries, cfg.dim}),
        proj_in(cfg.dim_source, cfg.dim, {.seed = seed, .stream = 0}),
        norm_out(cfg.dim),
        proj_out(cfg.dim, cfg.dim_target, {.seed = seed, .stream = 1}),
        cfg_(cfg) {
    ops::fill_normal(queries.value, seed, T(0), T(1), 7);  // as torch.randn for the learned queries
    for (index_t i = 0; i < cfg.depth; ++i)
      layers.emplace_back(cfg.dim, cfg.heads, cfg.ff_mult, seed + 1 + static_cast<std::uint64_t>(i));
  }

  const TensorT& forward(const TensorT& x, Cache& c) { return forward(x, nullptr, c); }
  /// The Aligner form: padded source tokens are masked out of the cross-attention.
  const TensorT& align(const TensorT& source, const TensorT& source_mask, Cache& c) {
    return forward(source, &source_mask, c);
  }

  /// source [B, Ls, Ds] (+ key-padding mask [B, Ls]) -> aligned [B, Lt, Dt]
  const TensorT& forward(const TensorT& x, const TensorT* mask, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(2) == cfg_.dim_source,
                     "AttentionAligner: source has shape {}, expected [B, Ls, {}]", x.shape(), cfg_.dim_source);
    const index_t B = x.size(0);
    c.layers.resize(layers.size());
    const TensorT& context = proj_in.forward(x, c.proj_in);
    if (!c.ones.defined() || c.ones.size(0) != B) c.ones = TensorT::full({B, 1, 1}, T(1));
    nn::reset_if_changed(c.latents, Shape{B, cfg_.num_queries, cfg_.dim});
    ops::mul(c.ones, queries.value, c.latents);  // the queries, once per batch entry
    const TensorT* h = &c.latents;
    for (std::size_t i = 0; i < layers.size(); ++i) h = &layers[i].forward(*h, context, mask, c.layers[i]);
    return proj_out.forward(norm_out.forward(*h, c.norm_out), c.proj_out);
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT* dh = &norm_out.backward(proj_out.backward(dy, c.proj_out), c.norm_out);
    c.d_context = {};
    for (std::size_t i = layers.size(); i-- > 0;) {
      dh = &layers[i].backward(*dh, c.layers[i]);
      const TensorT& dctx = layers[i].context_gradient(c.layers[i]);
      if (c.d_context.defined())
        ops::add(c.d_context, dctx, c.d_context);
      else
        c.d_context = dctx.clone();
    }
    if (queries.trainable) {  // the queries were broadcast over the batch: their gradient is the batch sum
      TensorT flat = queries.grad_buffer().reshape({cfg_.num_queries * cfg_.dim});
      ops::sum_leading(dh->reshape({dh->size(0), cfg_.num_queries * cfg_.dim}), flat, true);
    }
    return proj_in.backward(c.d_context, c.proj_in);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "queries", queries);
    proj_in.visit_parameters(f, prefix + "proj_in.");
    for (std::size_t i = 0; i < layers.size(); ++i)
      layers[i].visit_parameters(f, prefix + "layers." + std::to_string(i) + ".");
    norm_out.visit_parameters(f, prefix + "norm_out.");
    proj_out.visit_parameters(f, prefix + "proj_out.");
  }

  nn::Param<T, P> queries;
  nn::Linear<T, P> proj_in;
  std::vector<ResamplerLayer<T, P>> layers;
  nn::LayerNorm<T, P> norm_out;
  nn::Linear<T, P> proj_out;

 private:
  AttentionAlignerConfig cfg_;
};

static_assert(nn::Layer<AttentionAligner<float, Cpu>> && Aligner<AttentionAligner<float, Cpu>>);

}  // namespace gluegen::aligners
