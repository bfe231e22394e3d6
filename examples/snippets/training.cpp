// docs/training.md: feature shards in, a trained GlueNet and its held-out report out. The features
// here are a synthetic parallel corpus with a known map (T = S B); `gluegen encode` writes the same
// shards from real encoders.
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/train/trainer.hpp>

#include <cassert>
#include <cstdio>

int main() {
  using namespace gluegen;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "gluegen_snippet_training";
  fs::remove_all(dir);

  // 1. Shards: source features [8 tokens x 16], target [8 x 12], masks, texts, language tags.
  const train::ShardSpec spec{.source_len = 8,
                              .source_dim = 16,
                              .target_len = 8,
                              .target_dim = 12,
                              .source_encoder = "synthetic-source",
                              .target_encoder = "synthetic-target"};
  train::FeatureShardWriter writer(dir / "shards", spec, /*examples_per_shard=*/64);
  const auto map = ops::scale(ops::randn<float, Cpu>({16, 12}, 1), 0.25f);
  for (int batch = 0; batch < 10; ++batch) {
    const auto source = ops::randn<float, Cpu>({16, 8, 16}, 100 + batch);
    const auto mask = Tensor<float, Cpu>::full({16, 8}, 1.0f);
    std::vector<std::string> text(16, "a sentence"), lang(16, batch % 2 ? "de" : "fr");
    writer.add(source, mask, ops::matmul(source, map), mask, text, text, lang);
  }
  writer.finish();  // 160 examples in 3 shards

  // 2. Train GlueNet (encoder, decoder, discriminator) with held-out evaluation and checkpoints.
  const train::FeatureDataset data(dir / "shards");
  const aligners::GlueNetConfig cfg{.num_tok = 8,
                                    .dim_source = 16,
                                    .dim_target = 12,
                                    .mult = 2,
                                    .depth = 1,
                                    .lambda_mse = 1.0,
                                    .lambda_rec = 0.1,
                                    .lambda_adv = 0.01};
  aligners::GlueNet<float, Cpu> model(cfg);
  train::Trainer trainer(model, data,
                         {.run_dir = dir / "run",
                          .steps = 300,
                          .batch_size = 16,
                          .held_out = 32,
                          .adam = {.lr = 3e-3},
                          .eval_every = 150,
                          .checkpoint_every = 100,
                          .progress = false},
                         aligners::gluenet_meta(cfg));
  const auto result = trainer.run();  // rerunning resumes from dir/run/checkpoint.h5
  std::printf("%s", result.evaluation->to_markdown().c_str());
  assert(result.evaluation->all.recall_at_1 > 0.9);

  // 3. The exported aligner loads from its file alone.
  auto aligner = aligners::load_gluenet<float, Cpu>(io::WeightReader(trainer.aligner_path()));
  aligners::GlueNet<float, Cpu>::Cache cache;
  assert((aligner.align(ops::randn<float, Cpu>({1, 8, 16}, 7), cache).shape() == Shape{1, 8, 12}));
  fs::remove_all(dir);
  return 0;
}
