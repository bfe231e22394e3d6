#pragma once
// The UNet's spatial transformer (Rombach et al. 2022, sec. 3.3; diffusers Transformer2DModel):
//   tokens = proj_in(GroupNorm(x)) as [B, H*W, C]
//   per BasicTransformerBlock:  t += attn1(norm1(t));  t += attn2(norm2(t), context);  t += ff(norm3(t))
//   y = x + proj_out(tokens) as [B, C, H, W]
// attn1 is self-attention, attn2 cross-attention on the text encoder's states (the conditioning the
// aligner produces), ff = GEGLU(dim, 4 dim) then Linear(4 dim, dim). proj_in / proj_out are 1x1
// convolutions (SD 1.x) or Linear (SD 2.x, use_linear_projection). diffusers' names throughout:
// to_q / to_k / to_v (no bias) and to_out.0 (bias), ff.net.0.proj, ff.net.2.
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/geglu.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/nn/norm.hpp>

#include <variant>
#include <vector>

namespace gluegen::diffusion {

namespace detail {
/// diffusers' Attention names for nn::MultiHeadAttention's projections.
template <nn::Module M, typename F>
void visit_diffusers_attention(M& attn, F&& f, const std::string& prefix) {
  nn::visit_renamed(attn, f, prefix,
                    {{"q_proj.", "to_q."}, {"k_proj.", "to_k."}, {"v_proj.", "to_v."}, {"out_proj.", "to_out.0."}});
}

/// [B, C, H, W] -> [B, H*W, C] (contiguous), and back.
template <ComputeElement T, TensorPolicy P>
void to_tokens(const Tensor<T, P>& x, Tensor<T, P>& out) {
  const index_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  nn::reset_if_changed(out, Shape{B, H * W, C});
  Tensor<T, P> view = out.defined() ? out.reshape({B, H, W, C}) : Tensor<T, P>{};
  ops::copy(x.permute({0, 2, 3, 1}), view);
  out = view.reshape({B, H * W, C});
}
template <ComputeElement T, TensorPolicy P>
void from_tokens(const Tensor<T, P>& t, index_t height, index_t width, Tensor<T, P>& out) {
  const index_t B = t.size(0), C = t.size(2);
  nn::reset_if_changed(out, Shape{B, C, height, width});
  ops::copy(t.contiguous().reshape({B, height, width, C}).permute({0, 3, 1, 2}), out);
}
}  // namespace detail

struct TransformerOptions {
  index_t heads = 8;
  index_t context_dim = 768;  ///< width of the encoder states attn2 attends to
  index_t layers = 1;
  index_t groups = 32;
  bool linear_projection = false;
  double norm_eps = 1e-5;  ///< the blocks' LayerNorms (the input GroupNorm uses 1e-6, as diffusers)
  std::uint64_t seed = 0;
};

/// One transformer layer on tokens [B, L, dim] with cross-attention to context [B, Lk, context_dim].
template <ComputeElement T = float, TensorPolicy P = Cpu>
class BasicTransformerBlock {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::LayerNorm<T, P>::Cache norm1, norm2, norm3;
    typename nn::MultiHeadAttention<T, P>::Cache attn1, attn2;
    typename nn::Geglu<T, P>::Cache ff0;
    typename nn::Linear<T, P>::Cache ff2;
    TensorT h1, h2, y, d_h2, d_h1, dx;
  };

  BasicTransformerBlock(index_t dim, const TransformerOptions& opt, std::uint64_t seed)
      : norm1(dim, T(opt.norm_eps)),
        attn1({.embed_dim = dim, .num_heads = opt.heads, .bias = false, .out_bias = true}, seed),
        norm2(dim, T(opt.norm_eps)),
        attn2(
            {.embed_dim = dim, .num_heads = opt.heads, .context_dim = opt.context_dim, .bias = false, .out_bias = true},
            seed + 1),
        norm3(dim, T(opt.norm_eps)),
        ff_in(dim, 4 * dim, seed + 2),
        ff_out(4 * dim, dim, {.seed = seed + 3}) {}

  const TensorT& forward(const TensorT& x, const TensorT& context, Cache& c) {
    const TensorT& n1 = norm1.forward(x, c.norm1);
    residual(x, attn1.forward(n1, n1, nullptr, nullptr, c.attn1), c.h1);
    residual(c.h1, attn2.forward(norm2.forward(c.h1, c.norm2), context, nullptr, nullptr, c.attn2), c.h2);
    residual(c.h2, ff_out.forward(ff_in.forward(norm3.forward(c.h2, c.norm3), c.ff0), c.ff2), c.y);
    return c.y;
  }

  /// dy -> dx; dL/dcontext is left in c.attn2.d_context.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    residual(dy, norm3.backward(ff_in.backward(ff_out.backward(dy, c.ff2), c.ff0), c.norm3), c.d_h2);
    residual(c.d_h2, norm2.backward(attn2.backward(c.d_h2, c.attn2), c.norm2), c.d_h1);
    residual(c.d_h1, norm1.backward(attn1.backward(c.d_h1, c.attn1), c.norm1), c.dx);
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    norm1.visit_parameters(f, prefix + "norm1.");
    detail::visit_diffusers_attention(attn1, f, prefix + "attn1.");
    norm2.visit_parameters(f, prefix + "norm2.");
    detail::visit_diffusers_attention(attn2, f, prefix + "attn2.");
    norm3.visit_parameters(f, prefix + "norm3.");
    ff_in.visit_parameters(f, prefix + "ff.net.0.");
    ff_out.visit_parameters(f, prefix + "ff.net.2.");
  }

  nn::LayerNorm<T, P> norm1;
  nn::MultiHeadAttention<T, P> attn1;
  nn::LayerNorm<T, P> norm2;
  nn::MultiHeadAttention<T, P> attn2;
  nn::LayerNorm<T, P> norm3;
  nn::Geglu<T, P> ff_in;
  nn::Linear<T, P> ff_out;

 private:
  static void residual(const TensorT& a, const TensorT& b, TensorT& out) {
    nn::reset_if_changed(out, a.shape());
    ops::add(a, b, out);
  }
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Transformer2D {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Projection = std::variant<nn::Conv2d<T, P>, nn::Linear<T, P>>;
  struct Cache {
    typename nn::GroupNorm<T, P>::Cache norm;
    typename nn::Conv2d<T, P>::Cache conv_in, conv_out;
    typename nn::Linear<T, P>::Cache lin_in, lin_out;
    std::vector<typename BasicTransformerBlock<T, P>::Cache> blocks;
    TensorT tokens, spatial, y, d_tokens, d_spatial, d_context, dx;
    index_t height = 0, width = 0;
  };

  Transformer2D(index_t channels, const TransformerOptions& opt)
      : norm(opt.groups, channels, T(1e-6)),
        proj_in(make_projection(channels, opt, 0)),
        proj_out(make_projection(channels, opt, 1)),
        opt_(opt) {
    GLUEGEN_CHECK_AS(ShapeError, opt.heads > 0 && channels % opt.heads == 0,
                     "Transformer2D: {} channels do not split into {} heads", channels, opt.heads);
    for (index_t i = 0; i < opt.layers; ++i)
      transformer_blocks.emplace_back(channels, opt, opt.seed + 10 * static_cast<std::uint64_t>(i + 1));
  }

  /// x [B, C, H, W], context [B, Lk, context_dim] -> [B, C, H, W].
  const TensorT& forward(const TensorT& x, const TensorT& context, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 4, "Transformer2D: input has shape {}, expected [B, C, H, W]", x.shape());
    GLUEGEN_CHECK_AS(ShapeError,
                     context.rank() == 3 && context.size(0) == x.size(0) && context.size(2) == opt_.context_dim,
                     "Transformer2D: encoder states have shape {}, expected [{}, L, {}] (cross_attention_dim)",
                     context.shape(), x.size(0), opt_.context_dim);
    c.height = x.size(2);
    c.width = x.size(3);
    c.blocks.resize(transformer_blocks.size());
    const TensorT& normed = norm.forward(x, c.norm);
    const TensorT* t = &c.tokens;
    if (auto* conv = std::get_if<nn::Conv2d<T, P>>(&proj_in)) {
      detail::to_tokens(conv->forward(normed, c.conv_in), c.tokens);
    } else {
      detail::to_tokens(normed, c.tokens);
      t = &std::get<nn::Linear<T, P>>(proj_in).forward(c.tokens, c.lin_in);
    }
    for (std::size_t i = 0; i < transformer_blocks.size(); ++i)
      t = &transformer_blocks[i].forward(*t, context, c.blocks[i]);
    const TensorT* out = &c.spatial;
    if (auto* conv = std::get_if<nn::Conv2d<T, P>>(&proj_out)) {
      detail::from_tokens(*t, c.height, c.width, c.spatial);
      out = &conv->forward(c.spatial, c.conv_out);
    } else {
      detail::from_tokens(std::get<nn::Linear<T, P>>(proj_out).forward(*t, c.lin_out), c.height, c.width, c.spatial);
    }
    nn::reset_if_changed(c.y, x.shape());
    ops::add(*out, x, c.y);
    return c.y;
  }

  /// dy -> dx; c.d_context = dL/dcontext summed over the blocks.
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT* d = &c.d_tokens;
    if (auto* conv = std::get_if<nn::Conv2d<T, P>>(&proj_out)) {
      detail::to_tokens(conv->backward(dy, c.conv_out), c.d_tokens);
    } else {
      detail::to_tokens(dy, c.d_tokens);
      d = &std::get<nn::Linear<T, P>>(proj_out).backward(c.d_tokens, c.lin_out);
    }
    for (std::size_t i = transformer_blocks.size(); i-- > 0;) {
      d = &transformer_blocks[i].backward(*d, c.blocks[i]);
      const TensorT& dctx = c.blocks[i].attn2.d_context;
      if (i + 1 == transformer_blocks.size())
        ops::copy(dctx, fresh(c.d_context, dctx.shape()));
      else
        ops::add(c.d_context, dctx, c.d_context);
    }
    if (auto* conv = std::get_if<nn::Conv2d<T, P>>(&proj_in)) {
      detail::from_tokens(*d, c.height, c.width, c.d_spatial);
      d = &conv->backward(c.d_spatial, c.conv_in);
    } else {
      detail::from_tokens(std::get<nn::Linear<T, P>>(proj_in).backward(*d, c.lin_in), c.height, c.width, c.d_spatial);
      d = &c.d_spatial;
    }
    const TensorT& dx_norm = norm.backward(*d, c.norm);
    nn::reset_if_changed(c.dx, dy.shape());
    ops::add(dx_norm, dy, c.dx);
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    norm.visit_parameters(f, prefix + "norm.");
    std::visit([&](auto& p) { p.visit_parameters(f, prefix + "proj_in."); }, proj_in);
    for (std::size_t i = 0; i < transformer_blocks.size(); ++i)
      transformer_blocks[i].visit_parameters(f, prefix + "transformer_blocks." + std::to_string(i) + ".");
    std::visit([&](auto& p) { p.visit_parameters(f, prefix + "proj_out."); }, proj_out);
  }

  nn::GroupNorm<T, P> norm;
  Projection proj_in;
  std::vector<BasicTransformerBlock<T, P>> transformer_blocks;
  Projection proj_out;

 private:
  static Projection make_projection(index_t channels, const TransformerOptions& opt, std::uint64_t stream) {
    if (opt.linear_projection) return nn::Linear<T, P>(channels, channels, {.seed = opt.seed, .stream = stream});
    return nn::Conv2d<T, P>(channels, channels, 1, {.seed = opt.seed, .stream = stream});
  }
  static TensorT& fresh(TensorT& t, const Shape& shape) {
    nn::reset_if_changed(t, shape);
    return t;
  }

  TransformerOptions opt_;
};

static_assert(nn::Module<Transformer2D<float, Cpu>>);

}  // namespace gluegen::diffusion
