#pragma once
// GlueNet's encoder f as in the public GlueGen code (salesforce/GlueGen, multilingual-gluenet/
// model.py: translator_base and Translator), with its state_dict names, so its checkpoints load
// unchanged. Each block maps token features X [B, L, D] by
//   U = net_sen(X) (+ X)            a channel MLP: Linear-LN-GELU-Linear-LN-GELU-Linear-LN, D -> D_out
//   Y = net_tok(U^T)^T (+ U)        the same MLP shape over tokens, L -> L_out
// with the residuals when shapes allow. The Translator runs `depth` such blocks in the source width,
// each as x = GELU(block(x) + x), then a tail block to the target width D_out (and, a gluegen
// generalisation, the target token length L_out: with L_out = L this is exactly GlueGen's block).
// Paper configuration (MTN / GlueGen): XLM-R large (1024) -> CLIP ViT-L/14 (768), 77 tokens, mult 2,
// depth 5: about 51M parameters (count_parameters; tested).
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/nn/activation.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/nn/norm.hpp>
#include <gluegen/nn/sequential.hpp>

#include <type_traits>
#include <vector>

namespace gluegen::aligners {

struct TranslatorConfig {
  index_t num_tok = 77;     ///< source token length L
  index_t num_tok_out = 0;  ///< target token length (0: = num_tok, GlueGen's case)
  index_t dim = 1024;       ///< source width D
  index_t dim_out = 768;    ///< target width
  index_t mult = 2;         ///< hidden width = mult * input width
  index_t depth = 5;        ///< residual blocks before the tail (GlueGen: 5; the small variant 3)
  [[nodiscard]] index_t tokens_out() const { return num_tok_out > 0 ? num_tok_out : num_tok; }
};

/// One translator_base block; LayerNorm = false is translator_base_noln (Linear-GELU-Linear-GELU-Linear).
template <ComputeElement T = float, TensorPolicy P = Cpu, bool LayerNorm = true>
class TranslatorBlock {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Mlp = std::conditional_t<
      LayerNorm,
      nn::Sequential<nn::Linear<T, P>, nn::LayerNorm<T, P>, nn::Gelu<T, P>, nn::Linear<T, P>, nn::LayerNorm<T, P>,
                     nn::Gelu<T, P>, nn::Linear<T, P>, nn::LayerNorm<T, P>>,
      nn::Sequential<nn::Linear<T, P>, nn::Gelu<T, P>, nn::Linear<T, P>, nn::Gelu<T, P>, nn::Linear<T, P>>>;
  struct Cache {
    typename Mlp::Cache sen, tok;
    typename nn::TransposeLast2<T, P>::Cache to_tokens, from_tokens;
    TensorT u, v, du, dv, dx;
  };

  TranslatorBlock(index_t tok_in, index_t tok_out, index_t dim_in, index_t dim_out, index_t mult, std::uint64_t seed)
      : net_tok(make_mlp(tok_in, mult * tok_in, tok_out, seed, 0)),
        net_sen(make_mlp(dim_in, mult * dim_in, dim_out, seed, 1)),
        residual_(tok_in == tok_out && dim_in == dim_out),
        tok_in_(tok_in),
        dim_in_(dim_in) {}

  /// x [B, L, D] -> [B, L_out, D_out]
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(1) == tok_in_ && x.size(2) == dim_in_,
                     "TranslatorBlock: input has shape {}, expected [B, {}, {}]", x.shape(), tok_in_, dim_in_);
    const TensorT& s = net_sen.forward(x, c.sen);
    ops::reset_if_changed(c.u, s.shape());  // a new batch size (an evaluation's last batch) reallocates
    if (residual_)
      ops::add(s, x, c.u);
    else
      c.u = s;
    const TensorT& ut = transpose.forward(c.u, c.to_tokens);
    const TensorT& t = net_tok.forward(ut, c.tok);
    ops::reset_if_changed(c.v, t.shape());
    if (residual_)
      ops::add(t, ut, c.v);
    else
      c.v = t;
    return transpose.forward(c.v, c.from_tokens);
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT& dv = transpose.backward(dy, c.from_tokens);
    const TensorT& dut = net_tok.backward(dv, c.tok);
    ops::reset_if_changed(c.dv, dut.shape());
    if (residual_)
      ops::add(dut, dv, c.dv);
    else
      c.dv = dut;  // shares the storage: releasing net_tok below keeps it alive
    transpose.release_backward(c.from_tokens);
    net_tok.release_backward(c.tok);
    const TensorT& du = transpose.backward(c.dv, c.to_tokens);
    c.dv = {};
    const TensorT& dx = net_sen.backward(du, c.sen);
    if (!residual_) {
      transpose.release_backward(c.to_tokens);
      return dx;
    }
    ops::reset_if_changed(c.dx, dx.shape());
    ops::add(dx, du, c.dx);
    transpose.release_backward(c.to_tokens);
    net_sen.release_backward(c.sen);
    return c.dx;
  }
  /// The returned gradient (and anything backward left behind) is no longer needed.
  void release_backward(Cache& c) {
    net_sen.release_backward(c.sen);
    c.dx = {};
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    net_tok.visit_parameters(f, prefix + "net_tok.");
    net_sen.visit_parameters(f, prefix + "net_sen.");
  }

  Mlp net_tok, net_sen;

 private:
  static Mlp make_mlp(index_t in, index_t hidden, index_t out, std::uint64_t seed, std::uint64_t stream) {
    nn::Linear<T, P> first(in, hidden, {.seed = seed, .stream = 3 * stream}),
        second(hidden, hidden, {.seed = seed, .stream = 3 * stream + 1}),
        third(hidden, out, {.seed = seed, .stream = 3 * stream + 2});
    if constexpr (LayerNorm)
      return Mlp(std::move(first), nn::LayerNorm<T, P>(hidden), nn::Gelu<T, P>{}, std::move(second),
                 nn::LayerNorm<T, P>(hidden), nn::Gelu<T, P>{}, std::move(third), nn::LayerNorm<T, P>(out));
    else
      return Mlp(std::move(first), nn::Gelu<T, P>{}, std::move(second), nn::Gelu<T, P>{}, std::move(third));
  }

  nn::TransposeLast2<T, P> transpose;
  bool residual_;
  index_t tok_in_, dim_in_;
};

/// TailLayerNorm = false is GlueGen's Translator_noln, the variant of its released multilingual
/// checkpoints and of its reconstruction decoder: LayerNorm-free tail, so outputs are not normalised.
template <ComputeElement T = float, TensorPolicy P = Cpu, bool TailLayerNorm = true>
class Translator {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    std::vector<typename TranslatorBlock<T, P>::Cache> blocks;
    std::vector<typename nn::Gelu<T, P>::Cache> gelus;
    std::vector<TensorT> sums, d_hidden;
    typename TranslatorBlock<T, P, TailLayerNorm>::Cache tail;
  };

  explicit Translator(const TranslatorConfig& cfg, std::uint64_t seed = 0)
      : tail(validated(cfg).num_tok, cfg.tokens_out(), cfg.dim, cfg.dim_out, cfg.mult,
             seed + static_cast<std::uint64_t>(cfg.depth)),
        cfg_(cfg) {
    for (index_t i = 0; i < cfg.depth; ++i)
      blocks.emplace_back(cfg.num_tok, cfg.num_tok, cfg.dim, cfg.dim, cfg.mult, seed + static_cast<std::uint64_t>(i));
  }

  [[nodiscard]] const TranslatorConfig& config() const noexcept { return cfg_; }

  /// source features [B, L, D] -> aligned features [B, L_out, D_out]
  /// The Aligner form: the mask is not needed (the token MLP sees fixed positions, and GlueGen pads with the encoder's
  /// own padding features).
  const TensorT& align(const TensorT& source, const TensorT& /*source_mask*/, Cache& c) { return forward(source, c); }
  const TensorT& forward(const TensorT& x, Cache& c) {
    const std::size_t depth = blocks.size();
    c.blocks.resize(depth);
    c.gelus.resize(depth);
    c.sums.resize(depth);
    c.d_hidden.resize(depth);
    const TensorT* h = &x;
    for (std::size_t i = 0; i < depth; ++i) {
      ops::reset_if_changed(c.sums[i], h->shape());
      ops::add(blocks[i].forward(*h, c.blocks[i]), *h, c.sums[i]);  // x = GELU(block(x) + x)
      h = &gelu.forward(c.sums[i], c.gelus[i]);
    }
    return tail.forward(*h, c.tail);
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT* dh = &tail.backward(dy, c.tail);
    for (std::size_t i = blocks.size(); i-- > 0;) {
      const TensorT& ds = gelu.backward(*dh, c.gelus[i]);
      if (i + 1 == blocks.size())
        tail.release_backward(c.tail);  // *dh consumed
      else
        c.d_hidden[i + 1] = {};
      ops::reset_if_changed(c.d_hidden[i], ds.shape());
      ops::add(blocks[i].backward(ds, c.blocks[i]), ds, c.d_hidden[i]);
      blocks[i].release_backward(c.blocks[i]);
      gelu.release_backward(c.gelus[i]);
      dh = &c.d_hidden[i];
    }
    return *dh;
  }
  void release_backward(Cache& c) {
    tail.release_backward(c.tail);
    for (auto& d : c.d_hidden) d = {};
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    for (std::size_t i = 0; i < blocks.size(); ++i)
      blocks[i].visit_parameters(f, prefix + "blocks." + std::to_string(i) + ".");
    tail.visit_parameters(f, prefix + "tail.");
  }

  std::vector<TranslatorBlock<T, P>> blocks;
  TranslatorBlock<T, P, TailLayerNorm> tail;

 private:
  /// Checked before any member is built, so a bad configuration is one clear ValueError.
  static const TranslatorConfig& validated(const TranslatorConfig& cfg) {
    GLUEGEN_CHECK_AS(
        ValueError,
        cfg.num_tok > 0 && cfg.tokens_out() > 0 && cfg.dim > 0 && cfg.dim_out > 0 && cfg.mult > 0 && cfg.depth >= 0,
        "Translator: invalid configuration (tokens {} -> {}, dim {} -> {}, mult {}, depth {})", cfg.num_tok,
        cfg.tokens_out(), cfg.dim, cfg.dim_out, cfg.mult, cfg.depth);
    return cfg;
  }

  nn::Gelu<T, P> gelu;
  TranslatorConfig cfg_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
using TranslatorNoLn = Translator<T, P, false>;

static_assert(nn::Layer<TranslatorBlock<float, Cpu>> && nn::Layer<Translator<float, Cpu>> &&
              nn::Layer<TranslatorNoLn<float, Cpu>>);
static_assert(Aligner<Translator<float, Cpu>> && Aligner<TranslatorNoLn<float, Cpu>>);

}  // namespace gluegen::aligners
