// The same pipeline with the attention aligner (a Perceiver resampler) instead of GlueNet's f: one
// alias changes, and the rest is the same program. The aligner here is freshly initialised (train it
// with `gluegen train --aligner attention`); the program measures what the swap costs per prompt.
#include <gluegen/pipeline.hpp>

#include <cassert>
#include <chrono>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::string models = std::string(argc > 1 ? argv[1] : ".") + "/data/models/";
  using Source = encoders::HfTextEncoder<>;
  using Glue = aligners::AttentionAligner<>;  // was aligners::TranslatorNoLn<>
  using Decoder = diffusion::UNet2DCondition<>;

  Glue glue({.dim_source = 384, .dim = 256, .dim_target = 384, .num_queries = 16, .heads = 4, .depth = 2});
  Pipeline<Source, Glue, Decoder> glued(Source(models + "multilingual-e5-small-q4"), std::move(glue),
                                        diffusion::load_diffusion_decoder(models + "gluegen-fashion-decoder.h5"),
                                        {.source_length = 16});
  glued.set_null_condition(Source(models + "all-MiniLM-L6-v2").encode({""}, 16).last_hidden_state);

  const auto start = std::chrono::steady_clock::now();
  const auto c = glued.condition({"Turnschuh in Rot", "绿色的手提包"});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("conditioning %s for 2 prompts in %.1f ms (e5 + attention aligner)\n",
              fmt::format("{}", c.cond.shape()).c_str(), ms);
  assert(c.cond.shape() == (Shape{2, 16, 384}) && c.uncond.shape() == (Shape{1, 16, 384}));
  assert(glued.generate({"Turnschuh in Rot"}, {.steps = 2}).samples.shape() == (Shape{1, 3, 32, 32}));
}
