#pragma once
// LaVi-Bridge's adapter (Zhao et al. 2024, "Bridging Different Language Models and Generative Vision
// Models for Text-to-Image Generation", sec. 3.2): the language model's token features pass through
//   x -> ff1(norm1(x)) -> ff2(norm2(.))
// two diffusers FeedForward blocks (GEGLU to 4x width, then a Linear; no residual, the widths
// differ) with LayerNorms before each, into the UNet's cross-attention width. LaVi-Bridge trains it
// together with LoRA in the (frozen) UNet's attention (UNet2DCondition::add_lora) on the denoising
// loss (train/denoising_alignment.hpp), rather than by regressing onto another encoder's features.
// Parameter names as LaVi-Bridge's TextAdapter: norm1, ff1.net.0.proj, ff1.net.2, norm2, ff2...
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/nn/geglu.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/nn/norm.hpp>

namespace gluegen::aligners {

struct LaviBridgeConfig {
  index_t in_dim = 4096;  ///< the language model's width (LaVi-Bridge: Llama-2 4096, T5-Large 1024)
  index_t int_dim = 768;  ///< between the two blocks
  index_t out_dim = 768;  ///< the UNet's cross_attention_dim
  index_t mult = 4;       ///< FeedForward's hidden multiplier
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class LaviBridgeAdapter {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::LayerNorm<T, P>::Cache n1, n2;
    typename nn::Geglu<T, P>::Cache g1, g2;
    typename nn::Linear<T, P>::Cache l1, l2;
  };

  explicit LaviBridgeAdapter(const LaviBridgeConfig& cfg, std::uint64_t seed = 0)
      : norm1(cfg.in_dim),
        ff1_in(cfg.in_dim, cfg.mult * cfg.in_dim, seed),
        ff1_out(cfg.mult * cfg.in_dim, cfg.int_dim, {.seed = seed + 1}),
        norm2(cfg.int_dim),
        ff2_in(cfg.int_dim, cfg.mult * cfg.int_dim, seed + 2),
        ff2_out(cfg.mult * cfg.int_dim, cfg.out_dim, {.seed = seed + 3}),
        cfg_(cfg) {}

  [[nodiscard]] const LaviBridgeConfig& config() const noexcept { return cfg_; }

  /// x [B, L, in_dim] -> [B, L, out_dim]
  /// The Aligner form: the mask is not needed (LaVi-Bridge's adapter attends over every token it is given).
  const TensorT& align(const TensorT& source, const TensorT& /*source_mask*/, Cache& c) { return forward(source, c); }
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 3 && x.size(2) == cfg_.in_dim,
                     "LaviBridgeAdapter: input has shape {}, expected [B, L, {}]", x.shape(), cfg_.in_dim);
    const TensorT& h = ff1_out.forward(ff1_in.forward(norm1.forward(x, c.n1), c.g1), c.l1);
    return ff2_out.forward(ff2_in.forward(norm2.forward(h, c.n2), c.g2), c.l2);
  }
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT& dh = norm2.backward(ff2_in.backward(ff2_out.backward(dy, c.l2), c.g2), c.n2);
    return norm1.backward(ff1_in.backward(ff1_out.backward(dh, c.l1), c.g1), c.n1);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    norm1.visit_parameters(f, prefix + "norm1.");
    ff1_in.visit_parameters(f, prefix + "ff1.net.0.");
    ff1_out.visit_parameters(f, prefix + "ff1.net.2.");
    norm2.visit_parameters(f, prefix + "norm2.");
    ff2_in.visit_parameters(f, prefix + "ff2.net.0.");
    ff2_out.visit_parameters(f, prefix + "ff2.net.2.");
  }

  nn::LayerNorm<T, P> norm1;
  nn::Geglu<T, P> ff1_in;
  nn::Linear<T, P> ff1_out;
  nn::LayerNorm<T, P> norm2;
  nn::Geglu<T, P> ff2_in;
  nn::Linear<T, P> ff2_out;

 private:
  LaviBridgeConfig cfg_;
};

static_assert(nn::Layer<LaviBridgeAdapter<float, Cpu>> && Aligner<LaviBridgeAdapter<float, Cpu>>);

}  // namespace gluegen::aligners
