// aligners/translator.hpp: GlueGen's Translator (the GlueNet encoder) against a PyTorch
// re-implementation of the public code with the same state_dict keys, finite differences,
// parameter counts of the paper's configurations, and convergence on a synthetic alignment.
#include <gluegen/aligners/translator.hpp>
#include <gluegen/io/parameters.hpp>

#include "support/goldens.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"
#include "support/train.hpp"

namespace gluegen::test {
namespace {

using aligners::Translator;
using aligners::TranslatorConfig;

/// Loads a golden case into `translator` and compares y, dx and every parameter gradient with torch's.
template <typename M>
void expect_matches_golden(M& translator, const std::string& name, double tol = 1e-5) {
  io::load_parameters(translator, nn_goldens(),
                      name + ".params.");  // blocks.0.net_sen.0.weight, ..., tail.net_tok.7.bias
  typename M::Cache cache;
  const auto y = translator.forward(nn_goldens().read<float>(name + ".x"), cache).clone();
  EXPECT_TRUE(all_close(y.to_vector(), nn_goldens().read<float>(name + ".y").to_vector(), tol)) << name;
  nn::zero_grad(translator);
  const auto dx = translator.backward(nn_goldens().read<float>(name + ".dy"), cache).clone();
  EXPECT_TRUE(all_close(dx.to_vector(), nn_goldens().read<float>(name + ".dx").to_vector(), tol)) << name;
  translator.visit_parameters(
      [&](const std::string& param, nn::Param<float, Cpu>& p) {
        EXPECT_TRUE(all_close(p.grad.to_vector(), nn_goldens().read<float>(name + ".grads." + param).to_vector(), tol))
            << name << " " << param;
      },
      "");
}

/// The same case computed in f64 from the same (f32) weights and inputs: the exact answer both f32
/// implementations round differently.
template <typename M64, typename M32>
void expect_close_to_f64(M64& exact, M32& ours, const std::string& name, double tol) {
  io::load_parameters(exact, nn_goldens(), name + ".params.");
  typename M64::Cache cache;
  (void)exact.forward(nn_goldens().read<double>(name + ".x"), cache);
  nn::zero_grad(exact);
  (void)exact.backward(nn_goldens().read<double>(name + ".dy"), cache);
  std::vector<std::vector<double>> reference;
  exact.visit_parameters([&](const std::string&, auto& p) { reference.push_back(p.grad.to_vector()); }, "");
  std::size_t i = 0;
  ours.visit_parameters([&](const std::string& param,
                            auto& p) { EXPECT_TRUE(all_close(p.grad.to_vector(), reference[i++], tol)) << param; },
                        "");
}

TEST(Translator, MatchesPyTorchGlueGenWithItsCheckpointNames) {
  Translator<float, Cpu> gluegen({.num_tok = 5, .dim = 6, .dim_out = 4, .depth = 2});
  expect_matches_golden(gluegen, "gluegen_translator");
  Translator<float, Cpu> lenmap({.num_tok = 5, .num_tok_out = 3, .dim = 6, .dim_out = 4, .depth = 1});
  expect_matches_golden(lenmap, "gluegen_translator_lenmap");
  // The released checkpoints' variant. Its LayerNorm-free tail lets activations grow, so f32 rounding
  // shows: measured against the same model run in f64 (same f32 weights and inputs), torch's f32
  // gradients are within 1.2e-5 (scaled) and gluegen's within 1e-5 (checked here), on different sides,
  // and the two differ by up to 2.1e-5. So: gluegen against the exact f64 result at 1e-5, and parity
  // with torch at 3e-5.
  aligners::TranslatorNoLn<float, Cpu> noln({.num_tok = 5, .dim = 6, .dim_out = 4, .depth = 1});
  expect_matches_golden(noln, "gluegen_translator_noln", 3e-5);
  aligners::TranslatorNoLn<double, Cpu> noln64({.num_tok = 5, .dim = 6, .dim_out = 4, .depth = 1});
  expect_close_to_f64(noln64, noln, "gluegen_translator_noln", 1e-5);
  EXPECT_EQ(nn::parameter_names(noln).back(), "tail.net_sen.4.bias");
}

TEST(Translator, GradientsMatchFiniteDifferences) {
  Translator<double, Cpu> translator({.num_tok = 4, .num_tok_out = 3, .dim = 5, .dim_out = 3, .depth = 2}, 3);
  expect_layer_gradients(translator, {2, 4, 5}, 80, "Translator");
  Translator<double, Cpu> square({.num_tok = 4, .dim = 5, .dim_out = 5, .depth = 1}, 4);  // residual tail
  expect_layer_gradients(square, {1, 4, 5}, 81, "Translator (residual tail)");
  aligners::TranslatorNoLn<double, Cpu> noln({.num_tok = 4, .dim = 5, .dim_out = 3, .depth = 1}, 5);
  expect_layer_gradients(noln, {2, 4, 5}, 82, "Translator_noln");
}

// One cache serves batches of different sizes (an evaluation's last, partial batch), forward and
// backward, with the results of a fresh cache.
TEST(Translator, CachesFollowAChangingBatchSize) {
  Translator<float, Cpu> t({.num_tok = 5, .dim = 6, .dim_out = 6, .depth = 2});
  Translator<float, Cpu>::Cache reused, fresh;
  (void)t.forward(ops::randn<float, Cpu>({4, 5, 6}, 1), reused);
  (void)t.backward(ops::randn<float, Cpu>({4, 5, 6}, 2), reused);
  const auto x = ops::randn<float, Cpu>({3, 5, 6}, 3);
  EXPECT_EQ(t.forward(x, reused).to_vector(), t.forward(x, fresh).to_vector());
  EXPECT_EQ(t.backward(x, reused).to_vector(), t.backward(x, fresh).to_vector());
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
  const Tf mix = ops::scale(ops::randn<float, Cpu>({L, L}, 2), 0.4f),
           map = ops::scale(ops::randn<float, Cpu>({Ds, Dt}, 3), 0.3f);
  const Tf mapped =
      ops::matmul(ops::matmul(source.transpose_last2(), mix, {.trans_b = true}).transpose_last2(), map);  // [N, L, Dt]
  const Tf target = ops::layer_norm(mapped.transpose_last2().contiguous(), Tf::full({L}, 1.0f), Tf::zeros({L}))
                        .transpose_last2()
                        .contiguous();
  Translator<float, Cpu> translator({.num_tok = L, .dim = Ds, .dim_out = Dt, .depth = 1}, 5);
  const auto [first, last] = train_mse(translator, source, target, 1e-2, 400);
  RecordProperty("final_mse", fmt::format("{:.9g}", last));  // bit-reproducible: compared across runs in CI logs
  EXPECT_LT(last, first / 100) << "L_mse " << first << " -> " << last;
}

}  // namespace
}  // namespace gluegen::test
