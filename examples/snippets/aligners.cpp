// docs/aligners.md: GlueGen's Translator at the paper's size, the closed-form ridge baseline fitted on
// a synthetic alignment from 128 source tokens x 64 to 16 target tokens x 32, and two ablations as
// aliases: GlueNet with another f and g, and a plain aligner trained on another loss.
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/aligners/linear.hpp>
#include <gluegen/aligners/translator.hpp>

#include <cassert>
#include <cstdio>

int main() {
  using namespace gluegen;

  // The paper's GlueNet encoder: XLM-R large (1024) -> CLIP ViT-L/14 (768), 77 tokens, 5 blocks.
  aligners::Translator<float, Cpu> gluenet({.num_tok = 77, .dim = 1024, .dim_out = 768, .mult = 2, .depth = 5});
  std::printf("GlueNet encoder: %lld parameters\n", static_cast<long long>(nn::count_parameters(gluenet).total));

  // The baseline: fit A [16, 128] and W [32, 64] in closed form.
  const auto source = ops::randn<float, Cpu>({256, 128, 64}, 1);
  const auto target =
      ops::matmul(ops::matmul(ops::randn<float, Cpu>({16, 128}, 2), source), ops::randn<float, Cpu>({64, 32}, 3));
  aligners::LinearAligner<float, Cpu> ridge({.num_tok = 128, .num_tok_out = 16, .dim = 64, .dim_out = 32});
  const auto mse = ridge.fit(source, target, {.lambda = 1e-3, .iterations = 8});
  std::printf("ridge MSE per alternation: first %.4g, last %.4g\n", mse.front(), mse.back());
  assert(mse.back() < 1e-3 * mse.front());

  aligners::LinearAligner<float, Cpu>::Cache cache;
  const auto& aligned = ridge.forward(source.slice(0, 4), cache);  // [4, 16, 32]
  assert((aligned.shape() == Shape{4, 16, 32}));

  // MTN's LayerNorm ablation: f and g are Translators with their LayerNorm tail, not Translator_noln.
  using GlueNetLn = aligners::GlueNet<float, Cpu, aligners::Translator<float, Cpu>, aligners::Translator<float, Cpu>>;
  GlueNetLn glue({.num_tok = 8,
                  .dim_source = 64,
                  .dim_target = 32,
                  .depth = 3,
                  .lambda_mse = 1,
                  .lambda_rec = 1,
                  .lambda_adv = 0});
  // A loss ablation: the same f trained on each token's direction only (1 - cosine), every position counted.
  using CosineF = aligners::Supervised<aligners::TranslatorNoLn<float, Cpu>, losses::AllTokens<losses::TokenCosine>>;
  CosineF cosine(aligners::TranslatorNoLn<float, Cpu>({.num_tok = 8, .dim = 64, .dim_out = 32, .depth = 3}));
  const auto s = ops::randn<float, Cpu>({4, 8, 64}, 4), t = ops::randn<float, Cpu>({4, 8, 32}, 5);
  const auto ones = Tensor<float, Cpu>::full({4, 8}, 1.0f);
  GlueNetLn::Cache glue_cache;
  CosineF::Cache cosine_cache;
  const auto glue_terms = glue.train_step(s, ones, t, ones, glue_cache);        // mse, rec, adv (0: skipped)
  const auto cosine_terms = cosine.train_step(s, ones, t, ones, cosine_cache);  // cosine
  std::printf("GlueNet (LayerNorm tail): loss %.4g; cosine-trained f: %s %.4g\n", glue_terms.total(),
              cosine_terms.terms.front().first.c_str(), cosine_terms.total());
  assert(cosine_terms.terms.front().first == "cosine" && cosine_terms.total() > 0 && cosine_terms.total() < 2);
  return 0;
}
