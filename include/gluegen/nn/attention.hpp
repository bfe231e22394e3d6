#pragma once
// MultiHeadAttention (Vaswani et al. 2017, eq. 1-2), self or cross, with CLIP / Hugging Face names
// q_proj, k_proj, v_proj, out_proj:
//   Attention(Q, K, V) = softmax(Q K^T / sqrt(d_head) + bias + masks) V, per head.
// Inputs: x [B, Lq, E] (queries); context [B, Lk, C] (keys/values; = x for self-attention);
// optional key-padding mask [B, Lk] (1 attend, 0 padding), causal masking (query i sees keys <= i),
// and an additive bias [H, Lq, Lk] (T5's relative position bias), whose gradient is returned too.
// Heads are split as [B, L, H, d] -> [B, H, L, d] (permute + one contiguous copy) so each product is
// one batched GEMM over B*H.
#include <gluegen/nn/linear.hpp>

#include <limits>
#include <optional>

namespace gluegen::nn {

struct AttentionConfig {
  index_t embed_dim = 0;
  index_t num_heads = 1;
  index_t context_dim = 0;  ///< width of the keys/values input; 0 = embed_dim (self-attention)
  bool causal = false;
  bool bias = true;  ///< biases on the q, k, v projections (and on out_proj unless out_bias says otherwise)
  std::optional<bool> out_bias =
      std::nullopt;  ///< bias on out_proj; unset = bias (diffusers: q/k/v without, to_out.0 with)
  std::optional<bool> key_bias = std::nullopt;  ///< bias on k_proj; unset = bias (Whisper: every one but k_proj's:
                                                ///< a key bias adds the same score to every key, which softmax ignores)
  double scale = 0;  ///< score scale; 0 = 1/sqrt(d_head) (T5 uses 1: its scale is folded into the weights)
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class MultiHeadAttention {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;

  struct Cache {
    typename Linear<T, P>::Cache q, k, v, out;
    TensorT qh, kh, vh, scores, probs, oh, o;  // per-head [B*H, L, d] and the merged [B, Lq, E]
    TensorT additive;                          // masks (+ bias) as one additive [B or 1, H or 1, Lq, Lk] term
    TensorT d_o, d_oh, d_probs, d_scores, d_qh, d_kh, d_vh, dq, dk, dv, dx, d_context, d_bias;
    index_t batch = 0, lq = 0, lk = 0;
    bool self = true;
  };

  explicit MultiHeadAttention(const AttentionConfig& cfg, std::uint64_t seed = 0)
      : q_proj(cfg.embed_dim, cfg.embed_dim, {.bias = cfg.bias, .seed = seed, .stream = 0}),
        k_proj(kv_dim(cfg), cfg.embed_dim, {.bias = cfg.key_bias.value_or(cfg.bias), .seed = seed, .stream = 1}),
        v_proj(kv_dim(cfg), cfg.embed_dim, {.bias = cfg.bias, .seed = seed, .stream = 2}),
        out_proj(cfg.embed_dim, cfg.embed_dim, {.bias = cfg.out_bias.value_or(cfg.bias), .seed = seed, .stream = 3}),
        cfg_(cfg) {
    GLUEGEN_CHECK_AS(ShapeError, cfg.num_heads > 0 && cfg.embed_dim % cfg.num_heads == 0,
                     "MultiHeadAttention: embed_dim {} is not divisible by num_heads {}", cfg.embed_dim, cfg.num_heads);
  }

  [[nodiscard]] index_t head_dim() const noexcept { return cfg_.embed_dim / cfg_.num_heads; }
  [[nodiscard]] double score_scale() const noexcept {
    return cfg_.scale > 0 ? cfg_.scale : 1.0 / std::sqrt(static_cast<double>(head_dim()));
  }

  /// Self-attention: x [B, L, E] -> [B, L, E].
  const TensorT& forward(const TensorT& x, Cache& c) { return forward(x, x, nullptr, nullptr, c); }

  /// General form. context may be x itself (self-attention); mask and bias may be null.
  const TensorT& forward(const TensorT& x, const TensorT& context, const TensorT* mask, const TensorT* bias, Cache& c) {
    const index_t B = x.size(0), H = cfg_.num_heads;
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(2) == cfg_.embed_dim,
                     "MultiHeadAttention: x has shape {}, expected [B, Lq, {}]", x.shape(), cfg_.embed_dim);
    GLUEGEN_CHECK_AS(ShapeError, context.rank() == 3 && context.size(0) == B && context.size(2) == kv_dim(cfg_),
                     "MultiHeadAttention: context has shape {}, expected [{}, Lk, {}]", context.shape(), B,
                     kv_dim(cfg_));
    if (c.batch != B || c.lq != x.size(1) || c.lk != context.size(1)) c = Cache{};  // new shapes: new buffers
    c.self = &context == &x ||
             (context.shares_storage_with(x) && context.shape() == x.shape() && context.data() == x.data());
    c.batch = B;
    c.lq = x.size(1);
    c.lk = context.size(1);
    if (mask)
      GLUEGEN_CHECK_AS(ShapeError, mask->shape() == (Shape{B, c.lk}),
                       "MultiHeadAttention: key-padding mask has shape {}, expected [{}, {}]", mask->shape(), B, c.lk);
    if (bias)
      GLUEGEN_CHECK_AS(ShapeError, bias->shape() == (Shape{H, c.lq, c.lk}),
                       "MultiHeadAttention: bias has shape {}, expected [{}, {}, {}]", bias->shape(), H, c.lq, c.lk);
    GLUEGEN_CHECK_AS(ShapeError, !cfg_.causal || c.lq == c.lk,
                     "MultiHeadAttention: causal masking needs Lq == Lk, got {} and {}", c.lq, c.lk);

    split_heads(q_proj.forward(x, c.q), c.lq, c.qh);
    split_heads(k_proj.forward(context, c.k), c.lk, c.kh);
    split_heads(v_proj.forward(context, c.v), c.lk, c.vh);

    ops::matmul(c.qh, c.kh, c.scores, {.trans_b = true, .alpha = score_scale()});  // [B*H, Lq, Lk]
    build_additive(mask, bias, c);
    if (c.additive.defined()) {
      TensorT s4 = c.scores.reshape({B, H, c.lq, c.lk});
      ops::add(s4, c.additive, s4);
    }
    ops::softmax_last(c.scores, c.probs);
    ops::matmul(c.probs, c.vh, c.oh);  // [B*H, Lq, d]
    merge_heads(c.oh, c.lq, c.o);
    return out_proj.forward(c.o, c.out);
  }

  /// dy [B, Lq, E] -> dx; also fills c.d_context (cross-attention) and c.d_bias (when a bias was given).
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const index_t B = c.batch, H = cfg_.num_heads;
    split_heads(out_proj.backward(dy, c.out), c.lq, c.d_oh);
    ops::matmul(c.d_oh, c.vh, c.d_probs, {.trans_b = true});  // [B*H, Lq, Lk]
    ops::matmul(c.probs, c.d_oh, c.d_vh, {.trans_a = true});  // [B*H, Lk, d]
    ops::softmax_backward(c.probs, c.d_probs, c.d_scores);
    if (bias_given_) {  // d bias = sum over the batch of d scores
      TensorT flat =
          c.d_bias.defined() && c.d_bias.numel() == H * c.lq * c.lk ? c.d_bias.reshape({H * c.lq * c.lk}) : TensorT{};
      ops::sum_leading(c.d_scores.reshape({B, H * c.lq * c.lk}), flat, false);
      c.d_bias = flat.reshape({H, c.lq, c.lk});
    }
    const double scale = score_scale();
    ops::matmul(c.d_scores, c.kh, c.d_qh, {.alpha = scale});
    ops::matmul(c.d_scores, c.qh, c.d_kh, {.trans_a = true, .alpha = scale});
    merge_heads(c.d_qh, c.lq, c.dq);
    merge_heads(c.d_kh, c.lk, c.dk);
    merge_heads(c.d_vh, c.lk, c.dv);
    const TensorT& dx_q = q_proj.backward(c.dq, c.q);
    const TensorT& dctx_k = k_proj.backward(c.dk, c.k);
    const TensorT& dctx_v = v_proj.backward(c.dv, c.v);
    ops::add(dctx_k, dctx_v, c.d_context);
    if (c.self) {
      ops::add(dx_q, c.d_context, c.dx);
    } else {
      ops::copy(dx_q, c.dx);
    }
    return c.dx;
  }

  /// LoRA in the four projections (q, k, v, out; seeds opt.seed + 0..3), the weights frozen: a
  /// language model's attention as LaVi-Bridge adapts it. Returns the adapted layers (4).
  index_t add_lora(const LoraOptions& opt) {
    std::uint64_t k = 0;
    for (auto* proj : {&q_proj, &k_proj, &v_proj, &out_proj})
      proj->add_lora({.rank = opt.rank, .alpha = opt.alpha, .seed = opt.seed + k++});
    return 4;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    q_proj.visit_parameters(f, prefix + "q_proj.");
    k_proj.visit_parameters(f, prefix + "k_proj.");
    v_proj.visit_parameters(f, prefix + "v_proj.");
    out_proj.visit_parameters(f, prefix + "out_proj.");
  }

  Linear<T, P> q_proj, k_proj, v_proj, out_proj;

 private:
  static index_t kv_dim(const AttentionConfig& cfg) { return cfg.context_dim > 0 ? cfg.context_dim : cfg.embed_dim; }

  /// [B, L, H*d] -> [B*H, L, d]
  void split_heads(const TensorT& t, index_t len, TensorT& out) const {
    const index_t B = t.size(0), H = cfg_.num_heads, d = head_dim();
    if (out.defined() && out.shape() != Shape{B * H, len, d}) out = {};
    TensorT dst = out.defined() ? out.reshape({B, H, len, d}) : TensorT{};
    ops::copy(t.contiguous().reshape({B, len, H, d}).permute({0, 2, 1, 3}), dst);
    out = dst.reshape({B * H, len, d});
  }
  /// [B*H, L, d] -> [B, L, H*d]
  void merge_heads(const TensorT& t, index_t len, TensorT& out) const {
    const index_t H = cfg_.num_heads, d = head_dim(), B = t.size(0) / H;
    if (out.defined() && out.shape() != Shape{B, len, H * d}) out = {};
    TensorT dst = out.defined() ? out.reshape({B, len, H, d}) : TensorT{};
    ops::copy(t.reshape({B, H, len, d}).permute({0, 2, 1, 3}), dst);
    out = dst.reshape({B, len, H * d});
  }

  /// Padding and causal masks become large negative additive terms (exp underflows to exactly 0;
  /// unlike -inf, a fully masked row stays finite), added to the bias when there is one.
  void build_additive(const TensorT* mask, const TensorT* bias, Cache& c) {
    bias_given_ = bias != nullptr;
    c.additive = {};
    const index_t B = c.batch, H = cfg_.num_heads;
    constexpr T kMasked = T(-1e9);
    if (bias) c.additive = bias->reshape({1, H, c.lq, c.lk});
    if (cfg_.causal) {
      std::vector<T> causal(static_cast<std::size_t>(c.lq * c.lk), T(0));
      for (index_t i = 0; i < c.lq; ++i)
        for (index_t j = i + 1; j < c.lk; ++j) causal[static_cast<std::size_t>(i * c.lk + j)] = kMasked;
      const TensorT term = TensorT::from_host({1, 1, c.lq, c.lk}, causal);
      c.additive = c.additive.defined() ? ops::add(c.additive, term) : term;
    }
    if (mask) {  // (mask - 1) * 1e9: 0 where attended, -1e9 on padding
      const TensorT term = ops::affine(*mask, -kMasked, kMasked).reshape({B, 1, 1, c.lk});
      c.additive = c.additive.defined() ? ops::add(c.additive, term) : term;
    }
  }

  AttentionConfig cfg_;
  bool bias_given_ = false;
};

static_assert(Layer<MultiHeadAttention<float, Cpu>>);

}  // namespace gluegen::nn
