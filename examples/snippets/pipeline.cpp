// GlueGen in one screen: German and Chinese prompts -> multilingual-e5 -> the shipped GlueNet aligner
// -> the shipped decoder, which never saw either language. argv[1]: the repository root.
#include <gluegen/pipeline.hpp>

#include <cassert>
#include <string>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::string models = std::string(argc > 1 ? argv[1] : ".") + "/data/models/";
  using Source = encoders::HfTextEncoder<>;  // e5, MiniLM, XLM-R, MPNet: any BERT-family folder
  using Glue = aligners::TranslatorNoLn<>;   // GlueNet's f
  using Decoder = diffusion::UNet2DCondition<>;

  Pipeline<Source, Glue, Decoder> glued(
      Source(models + "multilingual-e5-small-q4"),
      aligners::load_translator<float, Cpu, false>(io::WeightReader(models + "gluegen-fashion-aligner-e5.h5")),
      diffusion::load_diffusion_decoder(models + "gluegen-fashion-decoder.h5"),  // with the sampler its file records
      {.source_length = 16});
  // guidance pushes away from the decoder's own null: its own encoder (MiniLM) on the empty prompt
  glued.set_null_condition(Source(models + "all-MiniLM-L6-v2").encode({""}, 16).last_hidden_state);

  const std::vector<std::string> prompts{"Turnschuh in Rot", "绿色的手提包"};
  const auto out = glued.generate(prompts, {.steps = 10, .guidance = 4.0, .seed = 0});
  io::write_png("pipeline_snippet.png", io::image_grid(out.images(), prompts, {.columns = 2, .upscale = 3}));
  assert(out.samples.shape() == (Shape{2, 3, 32, 32}));
}
