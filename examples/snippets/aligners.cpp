// docs/aligners.md: GlueGen's Translator at the paper's size, and the closed-form ridge baseline
// fitted on a synthetic alignment from 128 source tokens x 64 to 16 target tokens x 32.
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
  return 0;
}
