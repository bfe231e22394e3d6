// The run-time choice at the edge: load_pipeline reads the files' model_types once and returns the
// concrete pipeline type in a std::variant; std::visit runs it, composed by type from there on.
// argv[1]: the repository root.
#include <gluegen/pipeline.hpp>

#include <cassert>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::string models = std::string(argc > 1 ? argv[1] : ".") + "/data/models/";
  AnyPipeline pipeline =
      load_pipeline({.decoder = models + "gluegen-fashion-decoder.h5",
                     .encoder = models + "all-MiniLM-L6-v2",  // the decoder's own: the null conditioning
                     .source_encoder = models + "multilingual-e5-small-q4",
                     .aligner = models + "gluegen-fashion-aligner-e5.h5",  // any aligner file, LaVi-Bridge's too
                     .length = 16,
                     .source_length = 16});
  const auto images = std::visit(
      [](auto& p) {
        return p.generate({"robe de couleur bleu"}, {.steps = 6, .on_progress = [](const GenerateProgress& g) {
                                                       std::printf("step %lld/%lld\n",
                                                                   static_cast<long long>(g.step + 1),
                                                                   static_cast<long long>(g.steps));
                                                     }});
      },
      pipeline);
  assert(std::holds_alternative<HfPipeline<aligners::TranslatorNoLn<>>>(pipeline) && images.size() == 1);
}
