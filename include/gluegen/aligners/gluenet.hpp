#pragma once
// GlueNet, trained as the public GlueGen code trains it (salesforce/GlueGen,
// multilingual-gluenet/train_gluenet_multi.py; design.md section 1):
//   f = encoder: source tokens [B, L, Ds] -> target space [B, L, Dt]   (Translator_noln)
//   g = decoder: target space -> source space                          (Translator_noln)
//   D = token-wise domain discriminator behind gradient reversal (eta 0.1)
//   L = lambda_mse mean(w (f(S) - T)^2) + lambda_rec mean((g(f(S)) - S)^2)
//     + lambda_adv (NLL(D(T), real) + NLL(D(f(S)), aligned))
// with GlueGen's weights 1e4, 1e4, 0.1 by default. One optimizer updates all three networks: the
// discriminator learns to tell real target tokens from aligned ones, and through the reversed
// gradient the encoder learns to make them indistinguishable.
// With `alternating`, the adversarial game is played as a GAN's alternating updates instead
// (Goodfellow et al. 2014, Alg. 1, with the non-saturating generator loss of sec. 3): a discriminator
// step on NLL(D(T), real) + NLL(D(f(S)), aligned) with f(S) held fixed (discriminator_step), then
// an aligner step on lambda_mse L_mse + lambda_rec L_rec + lambda_adv NLL(D(f(S)), real), the
// discriminator frozen and no gradient reversal; the trainer gives each phase its own optimizer.
#include <gluegen/aligners/aligner.hpp>
#include <gluegen/aligners/translator.hpp>
#include <gluegen/losses/adversarial.hpp>
#include <gluegen/losses/regression.hpp>
#include <gluegen/nn/batch_norm.hpp>
#include <gluegen/nn/log_softmax.hpp>

#include <concepts>
#include <utility>
#include <vector>

namespace gluegen::aligners {

/// GlueGen's Discriminator: GradientReversal, then net = Linear(D, D*mult), BatchNorm1d, ReLU,
/// Linear(., classes), LogSoftmax: names net.0, net.1, net.3 as its state_dict.
template <ComputeElement T = float, TensorPolicy P = Cpu>
class Discriminator {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Net =
      nn::Sequential<nn::Linear<T, P>, nn::BatchNorm1d<T, P>, nn::Relu<T, P>, nn::Linear<T, P>, nn::LogSoftmax<T, P>>;
  struct Cache {
    typename nn::GradientReversal<T, P>::Cache reverse;
    typename Net::Cache net;
  };

  Discriminator(index_t dim, index_t classes, double mult, T eta, std::uint64_t seed)
      : net(nn::Linear<T, P>(dim, inner(dim, mult), {.seed = seed, .stream = 0}),
            nn::BatchNorm1d<T, P>(inner(dim, mult)), nn::Relu<T, P>{},
            nn::Linear<T, P>(inner(dim, mult), classes, {.seed = seed, .stream = 1}), nn::LogSoftmax<T, P>{}),
        reverse(eta) {}

  /// tokens [N, D] -> log-probabilities [N, classes]
  const TensorT& forward(const TensorT& tokens, Cache& c) {
    return net.forward(reverse.forward(tokens, c.reverse), c.net);
  }
  /// Returns -eta times the input gradient (the reversal).
  const TensorT& backward(const TensorT& d_logp, Cache& c) {
    const TensorT& dx = reverse.backward(net.backward(d_logp, c.net), c.reverse);
    net.release_backward(c.net);
    return dx;
  }
  void release_backward(Cache& c) { reverse.release_backward(c.reverse); }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    net.visit_parameters(f, prefix + "net.");
  }

  Net net;
  nn::GradientReversal<T, P> reverse;

 private:
  static index_t inner(index_t dim, double mult) {
    const auto n = static_cast<index_t>(static_cast<double>(dim) * mult);
    GLUEGEN_CHECK_AS(ValueError, n >= 1, "Discriminator: width {} x mult {} leaves no hidden unit", dim, mult);
    return n;
  }
};

struct GlueNetConfig {
  index_t num_tok = 77;        ///< source token length
  index_t num_tok_target = 0;  ///< target token length (0: = num_tok, GlueGen's case; e.g. 128 XLM-R tokens -> 77)
  index_t dim_source = 1024, dim_target = 768, mult = 2, depth = 5;
  double disc_mult = 0.25, eta = 0.1;
  double lambda_mse = 1e4, lambda_rec = 1e4, lambda_adv = 0.1;  ///< GlueGen's loss weights
  /// false: every target token weighs 1 in L_mse, as GlueGen (the UNet attends to all 77 CLIP
  /// positions, padding included); true: only real tokens (target_mask) count.
  bool mask_target_padding = false;
  /// false: GlueGen's joint step through gradient reversal; true: alternating discriminator and
  /// aligner steps (see the top of this file).
  bool alternating = false;
  [[nodiscard]] index_t target_tokens() const { return num_tok_target > 0 ? num_tok_target : num_tok; }
  /// f: source tokens -> target space (Translator_noln); what inference keeps of a GlueNet.
  [[nodiscard]] TranslatorConfig encoder_config() const {
    return {.num_tok = num_tok,
            .num_tok_out = target_tokens(),
            .dim = dim_source,
            .dim_out = dim_target,
            .mult = mult,
            .depth = depth};
  }
};

struct GlueNetLosses {
  double mse = 0, rec = 0, adv = 0;  ///< each already multiplied by its lambda
  [[nodiscard]] double total() const { return mse + rec + adv; }
};

/// What GlueNet needs of f and g: a Layer (forward, backward) of its element type and policy.
template <typename M, typename T, typename P>
concept GlueNetPart = nn::Layer<M> && std::same_as<typename M::value_type, T> && std::same_as<typename M::policy, P>;

template <ComputeElement T = float, TensorPolicy P = Cpu, GlueNetPart<T, P> F = TranslatorNoLn<T, P>,
          GlueNetPart<T, P> G = F>
class GlueNet {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Encoder = F;
  using Decoder = G;
  struct Cache {
    typename F::Cache encoder;
    typename G::Cache decoder;
    typename Discriminator<T, P>::Cache real, fake;
    TensorT d_mse, d_rec, d_real, d_fake, d_aligned, ones;
    std::vector<int> real_labels, fake_labels;
  };
  /// The parameters of the alternating mode's discriminator phase.
  static constexpr const char* kDiscriminatorPrefix = "discriminator.";

  /// f and g built from the configuration (translators: GlueGen's networks).
  explicit GlueNet(const GlueNetConfig& cfg, std::uint64_t seed = 0)
    requires std::constructible_from<F, TranslatorConfig, std::uint64_t> &&
             std::constructible_from<G, TranslatorConfig, std::uint64_t>
      : GlueNet(F(cfg.encoder_config(), seed),
                G(TranslatorConfig{.num_tok = cfg.target_tokens(),
                                   .num_tok_out = cfg.num_tok,
                                   .dim = cfg.dim_target,
                                   .dim_out = cfg.dim_source,
                                   .mult = cfg.mult,
                                   .depth = cfg.depth},
                  seed + 100),
                cfg, seed) {}
  /// Any f: [B, num_tok, dim_source] -> [B, target_tokens, dim_target] and g back; cfg's token counts,
  /// widths and loss weights apply, its mult and depth describe f and g only when they are translators.
  GlueNet(F encoder_, G decoder_, const GlueNetConfig& cfg, std::uint64_t seed = 0)
      : encoder(std::move(encoder_)),
        decoder(std::move(decoder_)),
        discriminator(cfg.dim_target, 2, cfg.disc_mult, static_cast<T>(cfg.eta), seed + 200),
        cfg_(cfg) {}

  [[nodiscard]] const GlueNetConfig& config() const noexcept { return cfg_; }

  /// Inference: source features [B, L, Ds] -> aligned features [B, L, Dt].
  const TensorT& align(const TensorT& source, Cache& c) { return encoder.forward(source, c.encoder); }
  /// The TrainableAligner form: the mixer's token MLP sees fixed positions, so the mask is not needed.
  const TensorT& align(const TensorT& source, const TensorT& /*source_mask*/, Cache& c) { return align(source, c); }

  /// The TrainableAligner step: accumulate_gradients with all-ones or target-mask token weights.
  LossTerms train_step(const TensorT& source, const TensorT& /*source_mask*/, const TensorT& target,
                       const TensorT& target_mask, Cache& c) {
    const TensorT* weights = &target_mask;
    if (!cfg_.mask_target_padding) {
      if (!c.ones.defined() || c.ones.shape() != target_mask.shape()) c.ones = TensorT::full(target_mask.shape(), T(1));
      weights = &c.ones;
    }
    const GlueNetLosses l = accumulate_gradients(source, target, *weights, c);
    return {{{"mse", l.mse}, {"rec", l.rec}, {"adv", l.adv}}};
  }

  /// Training mode: BatchNorm uses batch statistics (and updates its running ones).
  void set_training(bool flag) { discriminator.net.template get<1>().training = flag; }

  /// One training step's forward and backward: adds every network's gradient (call zero_grad first,
  /// an optimizer step after). weights [B, L] weigh the element-wise loss per token (GlueGen's
  /// token norms; ones for a plain mean). Returns the weighted loss terms.
  GlueNetLosses accumulate_gradients(const TensorT& source, const TensorT& target, const TensorT& weights, Cache& c) {
    const index_t lt = cfg_.target_tokens();
    GLUEGEN_CHECK_AS(ShapeError,
                     target.rank() == 3 && target.size(0) == source.size(0) && target.size(1) == lt &&
                         target.size(2) == cfg_.dim_target,
                     "GlueNet: target has shape {}, expected [{}, {}, {}]", target.shape(), source.size(0), lt,
                     cfg_.dim_target);
    const index_t tokens = source.size(0) * lt;
    GlueNetLosses l;
    const TensorT& aligned = encoder.forward(source, c.encoder);
    l.mse = cfg_.lambda_mse * losses::weighted_mse(aligned, target, weights, c.d_mse);
    ops::scale(c.d_mse, static_cast<T>(cfg_.lambda_mse), c.d_aligned);
    // A term whose weight is 0 is skipped, not computed and multiplied by 0: L_mse alone then costs
    // the encoder only (the decoder and the discriminator would double a step's time).
    if (cfg_.lambda_rec != 0) {
      const TensorT& reconstructed = decoder.forward(aligned, c.decoder);
      l.rec = cfg_.lambda_rec * losses::mse(reconstructed, source, c.d_rec);
      ops::scale(c.d_rec, static_cast<T>(cfg_.lambda_rec), c.d_rec);
      ops::add(c.d_aligned, decoder.backward(c.d_rec, c.decoder), c.d_aligned);
      nn::release_backward(decoder, c.decoder);
    }
    if (cfg_.lambda_adv != 0 && cfg_.alternating) {
      // the generator's non-saturating loss: aligned tokens labelled real, through the frozen discriminator
      c.real_labels.assign(static_cast<std::size_t>(tokens), 0);
      const TensorT& logp = discriminator.net.forward(aligned.reshape({tokens, cfg_.dim_target}), c.fake.net);
      l.adv = cfg_.lambda_adv * losses::nll(logp, c.real_labels, c.d_fake);
      nn::freeze(discriminator);
      ops::add(c.d_aligned,
               discriminator.net.backward(ops::scale(c.d_fake, static_cast<T>(cfg_.lambda_adv)), c.fake.net)
                   .reshape(c.d_aligned.shape()),
               c.d_aligned);
      discriminator.net.release_backward(c.fake.net);
      nn::set_trainable(discriminator, true);
    } else if (cfg_.lambda_adv != 0) {
      c.real_labels.assign(static_cast<std::size_t>(tokens), 0);
      c.fake_labels.assign(static_cast<std::size_t>(tokens), 1);
      const TensorT& real_logp = discriminator.forward(target.contiguous().reshape({tokens, cfg_.dim_target}), c.real);
      const double adv_real = losses::nll(real_logp, c.real_labels, c.d_real);
      const TensorT& fake_logp = discriminator.forward(aligned.reshape({tokens, cfg_.dim_target}), c.fake);
      l.adv = cfg_.lambda_adv * (adv_real + losses::nll(fake_logp, c.fake_labels, c.d_fake));
      const T adv = static_cast<T>(cfg_.lambda_adv);
      (void)discriminator.backward(ops::scale(c.d_real, adv), c.real);  // the real tokens need no input gradient
      discriminator.release_backward(c.real);
      ops::add(c.d_aligned, discriminator.backward(ops::scale(c.d_fake, adv), c.fake).reshape(c.d_aligned.shape()),
               c.d_aligned);
      discriminator.release_backward(c.fake);
    }
    (void)encoder.backward(c.d_aligned, c.encoder);  // the source needs no gradient
    nn::release_backward(encoder, c.encoder);
    return l;
  }

  /// The alternating mode's discriminator phase: accumulates the discriminator's gradient of
  /// lambda_adv (NLL(D(T), real) + NLL(D(f(S)), aligned)), f(S) held fixed (no gradient reaches f).
  /// Returns the loss as the term "disc".
  LossTerms discriminator_step(const TensorT& source, const TensorT& target, Cache& c) {
    GLUEGEN_CHECK_AS(ValueError, cfg_.alternating && cfg_.lambda_adv != 0,
                     "GlueNet::discriminator_step: needs alternating = true and lambda_adv != 0");
    const index_t tokens = target.size(0) * target.size(1);
    const TensorT& aligned = encoder.forward(source, c.encoder);  // no backward: f(S) is held fixed
    c.real_labels.assign(static_cast<std::size_t>(tokens), 0);
    c.fake_labels.assign(static_cast<std::size_t>(tokens), 1);
    const T adv = static_cast<T>(cfg_.lambda_adv);
    double loss =
        losses::nll(discriminator.net.forward(target.contiguous().reshape({tokens, cfg_.dim_target}), c.real.net),
                    c.real_labels, c.d_real);
    (void)discriminator.net.backward(ops::scale(c.d_real, adv), c.real.net);
    discriminator.net.release_backward(c.real.net);
    loss += losses::nll(discriminator.net.forward(aligned.reshape({tokens, cfg_.dim_target}), c.fake.net),
                        c.fake_labels, c.d_fake);
    (void)discriminator.net.backward(ops::scale(c.d_fake, adv), c.fake.net);
    discriminator.net.release_backward(c.fake.net);
    return {{{"disc", cfg_.lambda_adv * loss}}};
  }
  /// Whether training alternates discriminator and aligner steps (the trainer asks).
  [[nodiscard]] bool alternating() const noexcept { return cfg_.alternating && cfg_.lambda_adv != 0; }

  template <typename Visit>
  void visit_parameters(Visit&& f, const std::string& prefix) {
    encoder.visit_parameters(f, prefix + "encoder.");
    decoder.visit_parameters(f, prefix + "decoder.");
    discriminator.visit_parameters(f, prefix + "discriminator.");
  }

  F encoder;
  G decoder;
  Discriminator<T, P> discriminator;

 private:
  GlueNetConfig cfg_;
};

static_assert(TrainableAligner<GlueNet<float, Cpu>> && TrainableAligner<GlueNet<float, Cpu, Translator<float, Cpu>>>);

}  // namespace gluegen::aligners
