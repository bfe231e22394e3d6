// aligners/translator.hpp: GlueGen's Translator (the GlueNet encoder) against a PyTorch
// re-implementation of the public code with the same state_dict keys, finite differences,
// parameter counts of the paper's configurations, and convergence on a synthetic alignment.
#include <gluegen/aligners/translator.hpp>
#include <gluegen/losses/regression.hpp>
#include <gluegen/optim/optimizer.hpp>

#include "support/goldens.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"

namespace gluegen::test {
namespace {

using aligners::Translator;
using aligners::TranslatorConfig;

TEST(Translator, MatchesPyTorchGlueGenWithItsCheckpointNames) {
  for (const auto& [name, cfg] : {std::pair<std::string, TranslatorConfig>{"gluegen_translator", {.num_tok = 5, .dim = 6, .dim_out = 4, .depth = 2}},
                                  {"gluegen_translator_lenmap", {.num_tok = 5, .num_tok_out = 3, .dim = 6, .dim_out = 4, .depth = 1}}}) {
    Translator<float, Cpu> translator(cfg);
    nn::load_parameters(translator, nn_goldens(), name + ".params.");  // blocks.0.net_sen.0.weight, ..., tail.net_tok.7.bias
    Translator<float, Cpu>::Cache cache;
    const auto y = translator.forward(nn_goldens().read<float>(name + ".x"), cache).clone();
    EXPECT_TRUE(all_close(y.to_vector(), nn_goldens().read<float>(name + ".y").to_vector(), 1e-5)) << name;
    nn::zero_grad(translator);
    const auto dx = translator.backward(nn_goldens().read<float>(name + ".dy"), cache).clone();
    EXPECT_TRUE(all_close(dx.to_vector(), nn_goldens().read<float>(name + ".dx").to_vector(), 1e-5)) << name;
    translator.visit_parameters([&](const std::string& param, nn::Param<float, Cpu>& p) {
      EXPECT_TRUE(all_close(p.grad.to_vector(), nn_goldens().read<float>(name + ".grads." + param).to_vector(), 1e-5)) << name << " " << param;
    }, "");
  }
}

TEST(Translator, GradientsMatchFiniteDifferences) {
  Translator<double, Cpu> translator({.num_tok = 4, .num_tok_out = 3, .dim = 5, .dim_out = 3, .depth = 2}, 3);
  expect_layer_gradients(translator, {2, 4, 5}, 80, "Translator");
  Translator<double, Cpu> square({.num_tok = 4, .dim = 5, .dim_out = 5, .depth = 1}, 4);  // residual tail
  expect_layer_gradients(square, {1, 4, 5}, 81, "Translator (residual tail)");
}

TEST(Translator, PaperConfigurationsHaveThePublishedSizes) {
  // Counted from the PyTorch re-implementation (tools/make_nn_goldens.py, Translator) with the same
  // configurations. The GlueGen paper reports about 51M for the 5-block XLM-R-large -> CLIP model.
  Translator<float, Cpu> large({.num_tok = 77, .dim = 1024, .dim_out = 768, .depth = 5});
  EXPECT_EQ(nn::count_parameters(large).total, 50190274);
  Translator<float, Cpu> small({.num_tok = 77, .dim = 1024, .dim_out = 768, .depth = 3});
  EXPECT_EQ(nn::count_parameters(small).total, 33285164);
  const auto names = nn::parameter_names(large);
  EXPECT_EQ(names.size(), 144u);
  EXPECT_EQ(names.front(), "blocks.0.net_tok.0.weight");
  EXPECT_EQ(names.back(), "tail.net_sen.7.bias");
  EXPECT_THROW((Translator<float, Cpu>({.num_tok = 0})), ValueError);
  Translator<float, Cpu>::Cache cache;
  EXPECT_THROW((void)small.forward(Tensor<float, Cpu>::zeros({2, 76, 1024}), cache), ShapeError);
}

// On a synthetic task with a known map (tokens mixed by M, channels mapped by W), AdamW drives the
// element-wise loss L_mse down by more than 100x. The target is normalised over tokens per channel as
// the Translator's last LayerNorm normalises its output (CLIP's features are layer-normalised too):
// an unnormalised linear target cannot be represented and plateaus at about 25x.
TEST(Translator, LearnsASyntheticAlignment) {
  using Tf = Tensor<float, Cpu>;
  constexpr index_t N = 32, L = 6, Ds = 12, Dt = 8;
  const Tf source = ops::randn<float, Cpu>({N, L, Ds}, 1);
  const Tf mix = ops::scale(ops::randn<float, Cpu>({L, L}, 2), 0.4f), map = ops::scale(ops::randn<float, Cpu>({Ds, Dt}, 3), 0.3f);
  const Tf mapped = ops::matmul(ops::matmul(source.transpose_last2(), mix, {.trans_b = true}).transpose_last2(), map);  // [N, L, Dt]
  const Tf target = ops::layer_norm(mapped.transpose_last2().contiguous(), Tf::full({L}, 1.0f), Tf::zeros({L})).transpose_last2().contiguous();
  Translator<float, Cpu> translator({.num_tok = L, .dim = Ds, .dim_out = Dt, .depth = 1}, 5);
  Translator<float, Cpu>::Cache cache;
  optim::AdamW<Translator<float, Cpu>> opt(translator, {.lr = 1e-2});
  Tf grad;
  float first = 0, last = 0;
  for (int step = 0; step < 400; ++step) {
    nn::zero_grad(translator);
    last = losses::mse(translator.forward(source, cache), target, grad);
    if (step == 0) first = last;
    (void)translator.backward(grad, cache);
    opt.step();
  }
  EXPECT_LT(last, first / 100) << "L_mse " << first << " -> " << last;
}

}  // namespace
}  // namespace gluegen::test
