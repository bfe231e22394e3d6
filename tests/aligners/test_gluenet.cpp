// aligners/gluenet.hpp: one GlueNet training step (losses, every gradient, the Adam update and the
// discriminator's running statistics) against a PyTorch re-implementation of the public GlueGen
// training step, and each loss term reaching only the networks it should; the alternating mode's two
// phases against finite differences (double).
#include <gluegen/aligners/attention.hpp>
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/optim/optimizer.hpp>

#include "support/goldens.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"

namespace gluegen::test {
namespace {

using aligners::GlueNet;
using aligners::GlueNetConfig;
using Tf = Tensor<float, Cpu>;

const GlueNetConfig kGlueNetConfig{.num_tok = 5, .dim_source = 6, .dim_target = 8, .mult = 2, .depth = 1};

/// The golden's per-token weights [L] as the [B, L] weights accumulate_gradients takes.
Tf batch_weights(index_t batch) {
  return ops::mul(Tf::full({batch, kGlueNetConfig.num_tok}, 1.0f),
                  nn_goldens().read<float>("gluenet_step.token_weights"));
}

TEST(GlueNet, OneTrainingStepMatchesPyTorch) {
  GlueNet<float, Cpu> net(kGlueNetConfig);
  io::load_parameters(net, nn_goldens(), "gluenet_step.params.", false);  // BatchNorm's buffers start at torch's (0, 1)
  const Tf source = nn_goldens().read<float>("gluenet_step.source"),
           target = nn_goldens().read<float>("gluenet_step.target");
  GlueNet<float, Cpu>::Cache cache;
  nn::zero_grad(net);
  const auto l = net.accumulate_gradients(source, target, batch_weights(3), cache);
  const auto expected = nn_goldens().read<float>("gluenet_step.losses").to_vector();
  EXPECT_TRUE(all_close(std::vector<double>{l.mse, l.rec, l.adv}, expected, 1e-5))
      << l.mse << " " << l.rec << " " << l.adv;
  // Gradients of a 1e4-weighted loss through LayerNorm-free tails: compared relative to their scale.
  net.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        if (p.buffer) return;
        const auto ref = nn_goldens().read<float>("gluenet_step.grads." + name).to_vector();
        double scale = 0;
        for (float v : ref) scale = std::max(scale, static_cast<double>(std::abs(v)));
        std::vector<double> ours, theirs;
        for (float v : p.grad.to_vector()) ours.push_back(v / std::max(scale, 1.0));
        for (float v : ref) theirs.push_back(v / std::max(scale, 1.0));
        EXPECT_TRUE(all_close(ours, theirs, 1e-5)) << name;
      },
      "");
  // The first Linear's bias feeds a BatchNorm, which removes any per-channel shift: its true gradient
  // is exactly zero (torch's holds rounding noise of 4e-11). Adam's first step is about lr * sign(g),
  // so on noise the two frameworks may step either way: that parameter is checked to move by at most
  // lr, every other one against torch at 1e-6.
  const std::string shift_invariant = "discriminator.net.0.bias";
  const auto before = net.discriminator.net.get<0>().bias.value.to_vector();
  EXPECT_LT(std::sqrt(ops::sum_squares(net.discriminator.net.get<0>().bias.grad)), 1e-6);
  optim::Adam<GlueNet<float, Cpu>> adam(net, {.lr = 1e-3});
  adam.step();
  net.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        if (p.buffer) return;  // checked below
        if (name == shift_invariant) {
          const auto after = p.value.to_vector();
          for (std::size_t i = 0; i < after.size(); ++i)
            EXPECT_LE(std::abs(after[i] - before[i]), 1e-3 * (1 + 1e-5)) << name << "[" << i << "]";
          return;
        }
        EXPECT_TRUE(
            all_close(p.value.to_vector(), nn_goldens().read<float>("gluenet_step.stepped." + name).to_vector(), 1e-6))
            << name;
      },
      "");
  auto& bn = net.discriminator.net.get<1>();
  EXPECT_TRUE(all_close(bn.running_mean.value.to_vector(),
                        nn_goldens().read<float>("gluenet_step.running_mean").to_vector(), 1e-6));
  EXPECT_TRUE(all_close(bn.running_var.value.to_vector(),
                        nn_goldens().read<float>("gluenet_step.running_var").to_vector(), 1e-6));
}

/// Which networks each term trains: L_mse only the encoder, L_rec encoder and decoder, L_adv the
/// encoder (reversed) and the discriminator.
TEST(GlueNet, EachLossTermReachesOnlyItsNetworks) {
  const Tf source = ops::randn<float, Cpu>({2, 5, 6}, 1), target = ops::randn<float, Cpu>({2, 5, 8}, 2),
           weights = Tf::full({2, 5}, 1.0f);
  struct Term {
    double mse, rec, adv;
    bool encoder, decoder, discriminator;
  };
  for (const Term& t :
       {Term{1, 0, 0, true, false, false}, Term{0, 1, 0, true, true, false}, Term{0, 0, 1, true, false, true}}) {
    GlueNetConfig cfg = kGlueNetConfig;
    cfg.lambda_mse = t.mse, cfg.lambda_rec = t.rec, cfg.lambda_adv = t.adv;
    GlueNet<float, Cpu> net(cfg, 3);
    GlueNet<float, Cpu>::Cache cache;
    nn::zero_grad(net);
    (void)net.accumulate_gradients(source, target, weights, cache);
    const auto touched = [&](const std::string& prefix) {
      double sq = 0;
      net.visit_parameters(
          [&](const std::string& name, nn::Param<float, Cpu>& p) {
            if (name.starts_with(prefix) && p.has_grad()) sq += ops::sum_squares(p.grad);
          },
          "");
      return sq > 0;
    };
    EXPECT_EQ(touched("encoder."), t.encoder) << t.mse << t.rec << t.adv;
    EXPECT_EQ(touched("decoder."), t.decoder) << t.mse << t.rec << t.adv;
    EXPECT_EQ(touched("discriminator."), t.discriminator) << t.mse << t.rec << t.adv;
  }
}

// Alternating mode: the discriminator phase reaches only the discriminator; the aligner phase's
// non-saturating adversarial term reaches the encoder through a frozen discriminator (no reversal),
// and both match finite differences of their losses.
TEST(GlueNet, AlternatingPhasesHaveTheirOwnGradients) {
  using Gd = GlueNet<double, Cpu>;
  GlueNetConfig cfg = kGlueNetConfig;
  cfg.lambda_mse = 0, cfg.lambda_rec = 0, cfg.lambda_adv = 0.7, cfg.alternating = true;
  Gd net(cfg, 3);
  Td source = ops::randn<double, Cpu>({3, 5, 6}, 1), target = ops::randn<double, Cpu>({3, 5, 8}, 2);
  const Td weights = Td::full({3, 5}, 1.0);
  Gd::Cache cache;
  const auto touched = [&](const std::string& prefix) {
    bool any = false;
    net.visit_parameters(
        [&](const std::string& name, nn::Param<double, Cpu>& p) { any |= name.starts_with(prefix) && p.has_grad(); },
        "");
    return any;
  };
  // the discriminator's phase: lambda_adv (NLL(D(T), real) + NLL(D(f(S)), aligned)), f(S) fixed
  nn::zero_grad(net);
  const double d_loss = net.discriminator_step(source, target, cache).total();
  EXPECT_FALSE(touched("encoder."));
  EXPECT_TRUE(touched("discriminator."));
  const auto disc_loss = [&] {
    Gd::Cache c;
    Gd probe = net;  // shares the weights (and gradient storage: frozen, so it writes none)
    nn::freeze(probe);
    return probe.discriminator_step(source, target, c).total();
  };
  EXPECT_NEAR(disc_loss(), d_loss, 1e-12);
  net.visit_parameters(
      [&](const std::string& name, nn::Param<double, Cpu>& p) {
        if (name.starts_with("discriminator.") && p.trainable) {
          EXPECT_TRUE(fd_matches(disc_loss, p.value, p.grad, name, 24));
        }
      },
      "");
  // the aligner's phase: lambda_adv NLL(D(f(S)), real), the discriminator frozen meanwhile, trainable after
  nn::zero_grad(net);
  const double g_loss = net.accumulate_gradients(source, target, weights, cache).adv;
  EXPECT_TRUE(touched("encoder."));
  EXPECT_FALSE(touched("discriminator."));
  EXPECT_TRUE(net.discriminator.net.get<0>().weight.trainable);
  const auto gen_loss = [&] {
    Gd::Cache c;
    Gd probe = net;
    nn::freeze(probe);
    return probe.accumulate_gradients(source, target, weights, c).adv;
  };
  EXPECT_NEAR(gen_loss(), g_loss, 1e-12);
  net.visit_parameters(
      [&](const std::string& name, nn::Param<double, Cpu>& p) {
        if (name.starts_with("encoder.") && p.has_grad()) {
          EXPECT_TRUE(fd_matches(gen_loss, p.value, p.grad, name, 12));
        }
      },
      "");
  // the joint (GlueGen) form refuses a discriminator phase
  cfg.alternating = false;
  Gd joint(cfg, 3);
  EXPECT_FALSE(joint.alternating());
  EXPECT_THROW((void)joint.discriminator_step(source, target, cache), ValueError);
}

// f and g are type parameters: GlueNet with Translator's LayerNorm tail (MTN's LayerNorm ablation) and one
// whose f is an attention aligner (built from modules) train every network their loss terms reach, with
// gradients that match finite differences (double).
TEST(GlueNet, TakesOtherEncodersAndDecoders) {
  using Ln = GlueNet<double, Cpu, aligners::Translator<double, Cpu>, aligners::Translator<double, Cpu>>;
  GlueNetConfig cfg = kGlueNetConfig;
  cfg.lambda_mse = 1, cfg.lambda_rec = 0.5, cfg.lambda_adv = 0;
  Ln ln(cfg, 3);
  static_assert(std::same_as<Ln::Encoder, aligners::Translator<double, Cpu>>);
  using Attn = aligners::AttentionAligner<double, Cpu>;
  GlueNet<double, Cpu, Attn, aligners::TranslatorNoLn<double, Cpu>> attn(
      Attn({.dim_source = 6, .dim = 8, .dim_target = 8, .num_queries = 5, .heads = 2, .depth = 1, .ff_mult = 2}, 4),
      aligners::TranslatorNoLn<double, Cpu>(
          {.num_tok = 5, .num_tok_out = 5, .dim = 8, .dim_out = 6, .mult = 2, .depth = 1}, 5),
      cfg);
  Td source = ops::randn<double, Cpu>({2, 5, 6}, 1), target = ops::randn<double, Cpu>({2, 5, 8}, 2);
  const Td weights = Td::full({2, 5}, 1.0);
  const auto check = [&](auto& net, const std::string& what) {
    using Net = std::remove_reference_t<decltype(net)>;
    typename Net::Cache cache;
    nn::zero_grad(net);
    (void)net.accumulate_gradients(source, target, weights, cache);
    const auto loss = [&] {
      typename Net::Cache c;
      Net probe = net;
      nn::freeze(probe);
      return probe.accumulate_gradients(source, target, weights, c).total();
    };
    int checked = 0;
    net.visit_parameters(
        [&](const std::string& name, nn::Param<double, Cpu>& p) {
          if (name.starts_with("discriminator.")) return;
          ASSERT_TRUE(p.has_grad()) << what << " " << name;
          if (checked++ % 5 == 0) EXPECT_TRUE(fd_matches(loss, p.value, p.grad, what + " " + name, 6));
        },
        "");
    EXPECT_GT(checked, 10) << what;
  };
  check(ln, "LayerNorm tail");
  check(attn, "attention f");
}

TEST(GlueNet, RejectsMismatchedTargets) {
  GlueNet<float, Cpu> net(kGlueNetConfig);
  GlueNet<float, Cpu>::Cache cache;
  EXPECT_THROW((void)net.accumulate_gradients(ops::randn<float, Cpu>({2, 5, 6}, 1),
                                              ops::randn<float, Cpu>({2, 5, 7}, 2), Tf::full({2, 5}, 1.0f), cache),
               ShapeError);
}

}  // namespace
}  // namespace gluegen::test
