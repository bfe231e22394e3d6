#pragma once
// MixerBlock: the MLP-mixer residual block of MTN / GlueGen (design.md section 1; Tolstikhin et al.
// 2021, eq. 1), on token features X [B, L, D]:
//   U = X + (W2 GELU(W1 LN(X)^T))^T     token mixing: an MLP along the L tokens, per channel
//   Y = U + W4 GELU(W3 LN(U))           channel mixing: an MLP along the D channels, per token
#include <gluegen/nn/feed_forward.hpp>
#include <gluegen/nn/norm.hpp>
#include <gluegen/nn/sequential.hpp>

namespace gluegen::nn {

struct MixerBlockConfig {
  index_t tokens = 0, dim = 0, token_hidden = 0, channel_hidden = 0;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class MixerBlock {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename LayerNorm<T, P>::Cache token_norm, channel_norm;
    typename TransposeLast2<T, P>::Cache to_tokens, from_tokens;
    typename FeedForward<T, P>::Cache token_mlp, channel_mlp;
    TensorT u, y, du, dx;
  };

  explicit MixerBlock(const MixerBlockConfig& cfg, std::uint64_t seed = 0)
      : token_norm(cfg.dim),
        token_mlp(cfg.tokens, cfg.token_hidden, 0, seed, 0),
        channel_norm(cfg.dim),
        channel_mlp(cfg.dim, cfg.channel_hidden, 0, seed, 1),
        cfg_(cfg) {}

  /// x: [B, L, D] with L = tokens and D = dim.
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(1) == cfg_.tokens && x.size(2) == cfg_.dim,
                     "MixerBlock(tokens {}, dim {}): input has shape {}, expected [B, {}, {}]", cfg_.tokens, cfg_.dim,
                     x.shape(), cfg_.tokens, cfg_.dim);
    const TensorT& mixed = from_tokens.forward(
        token_mlp.forward(to_tokens.forward(token_norm.forward(x, c.token_norm), c.to_tokens), c.token_mlp),
        c.from_tokens);
    ops::reset_if_changed(c.u, x.shape());  // a new batch size (a last, smaller batch) reallocates
    ops::reset_if_changed(c.y, x.shape());
    ops::add(x, mixed, c.u);
    ops::add(c.u, channel_mlp.forward(channel_norm.forward(c.u, c.channel_norm), c.channel_mlp), c.y);
    return c.y;
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    ops::reset_if_changed(c.du, dy.shape());
    ops::reset_if_changed(c.dx, dy.shape());
    ops::add(dy, channel_norm.backward(channel_mlp.backward(dy, c.channel_mlp), c.channel_norm), c.du);
    nn::release_backward(channel_mlp, c.channel_mlp);
    nn::release_backward(channel_norm, c.channel_norm);
    const TensorT& dmixed_t = token_mlp.backward(from_tokens.backward(c.du, c.from_tokens), c.token_mlp);
    nn::release_backward(from_tokens, c.from_tokens);
    const TensorT& dmixed = token_norm.backward(to_tokens.backward(dmixed_t, c.to_tokens), c.token_norm);
    nn::release_backward(token_mlp, c.token_mlp);
    nn::release_backward(to_tokens, c.to_tokens);
    ops::add(c.du, dmixed, c.dx);
    nn::release_backward(token_norm, c.token_norm);
    c.du = {};
    return c.dx;
  }
  void release_backward(Cache& c) { c.dx = {}; }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    token_norm.visit_parameters(f, prefix + "token_norm.");
    token_mlp.visit_parameters(f, prefix + "token_mlp.");
    channel_norm.visit_parameters(f, prefix + "channel_norm.");
    channel_mlp.visit_parameters(f, prefix + "channel_mlp.");
  }

  [[nodiscard]] const MixerBlockConfig& config() const noexcept { return cfg_; }

  LayerNorm<T, P> token_norm;
  TransposeLast2<T, P> to_tokens;
  FeedForward<T, P> token_mlp;
  TransposeLast2<T, P> from_tokens;
  LayerNorm<T, P> channel_norm;
  FeedForward<T, P> channel_mlp;

 private:
  MixerBlockConfig cfg_;
};

static_assert(Layer<MixerBlock<float, Cpu>>);

}  // namespace gluegen::nn
