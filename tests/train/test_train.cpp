// Feature shards, the batch loader, the evaluator and the trainer (issue 7): round trips, bad input,
// deterministic order, convergence, and bit-exact resume after a kill or a SIGINT.
#include <gluegen/aligners/attention.hpp>
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/train/trainer.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <numeric>
#include <set>

#include "support/synthetic.hpp"

namespace gluegen {
namespace {

namespace fs = std::filesystem;
using test::SyntheticCorpus;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("gluegen_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

fs::path write_corpus(const std::string& name, index_t n, index_t per_shard = 16, DType storage = DType::f32,
                      SyntheticCorpus corpus = {}) {
  const fs::path dir = fresh_dir(name);
  train::FeatureShardWriter out(dir, corpus.spec(storage), per_shard);
  corpus.write(out, 0, n);
  out.finish();
  return dir;
}

TEST(FeatureShards, RoundTripAcrossShardsInAnyOrder) {
  const fs::path dir = write_corpus("roundtrip", 37, 16);
  EXPECT_EQ(train::list_shards(dir).size(), 3u);  // 16 + 16 + 5
  const train::FeatureDataset data(dir);
  ASSERT_EQ(data.size(), 37);
  EXPECT_EQ(data.language(3), "fr");
  EXPECT_EQ(data.language_set(), (std::vector<std::string>{"de", "fr"}));
  EXPECT_EQ(data.texts(20).first, "source sentence 20");

  // Examples 33, 2, 17 (three shards, out of order) against a second corpus written one by one.
  const fs::path single = fresh_dir("roundtrip_single");
  train::FeatureShardWriter out(single, SyntheticCorpus{}.spec(), 100);
  SyntheticCorpus{}.write(out, 0, 37);
  out.finish();
  const train::FeatureDataset reference(single);
  train::AlignmentBatch<float, Cpu> a, b;
  const std::vector<index_t> ids{33, 2, 17};
  data.read(ids, a);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    reference.read(std::vector<index_t>{ids[k]}, b);
    const index_t per = SyntheticCorpus{}.source_len * SyntheticCorpus{}.source_dim;
    const auto av = a.source.to_vector(), bv = b.source.to_vector();
    EXPECT_TRUE(std::equal(bv.begin(), bv.end(), av.begin() + static_cast<std::ptrdiff_t>(k) * per))
        << "example " << ids[k];
    EXPECT_EQ(a.languages[k], b.languages[0]);
  }
  EXPECT_EQ(a.source_mask.shape(), (Shape{3, 6}));
  EXPECT_EQ(a.source_mask.to_vector()[0], 1.0f);
  fs::remove_all(dir);
  fs::remove_all(single);
}

TEST(FeatureShards, HalfPrecisionStorageIsCompressedAndClose) {
  // Rows of realistic size (a chunk per example): 16 x 64 features.
  const SyntheticCorpus wide{.source_len = 16, .source_dim = 64, .target_len = 16, .target_dim = 64};
  const fs::path f32 = write_corpus("f32", 40, 40, DType::f32, wide),
                 f16 = write_corpus("f16", 40, 40, DType::f16, wide);
  EXPECT_LT(fs::file_size(train::shard_path(f16, 0)), fs::file_size(train::shard_path(f32, 0)) * 7 / 10);
  train::AlignmentBatch<float, Cpu> a, b;
  const std::vector<index_t> all{0, 5, 39};
  train::FeatureDataset(f32).read(all, a);
  train::FeatureDataset(f16).read(all, b);
  const auto x = a.target.to_vector(), y = b.target.to_vector();
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], y[i], 1e-3 * (1 + std::abs(x[i])));
  fs::remove_all(f32);
  fs::remove_all(f16);
}

TEST(FeatureShards, WriterResumesAfterCompleteShards) {
  const fs::path dir = fresh_dir("resume");
  {
    train::FeatureShardWriter out(dir, SyntheticCorpus{}.spec(), 10);
    SyntheticCorpus{}.write(out, 0, 25);  // two complete shards; 5 buffered examples are lost (no finish: a kill)
  }
  train::FeatureShardWriter again(dir, SyntheticCorpus{}.spec(), 10);
  EXPECT_EQ(again.examples_resumed(), 20);
  SyntheticCorpus{}.write(again, 20, 17);
  again.finish();
  const train::FeatureDataset resumed(dir);
  EXPECT_EQ(resumed.size(), 37);
  const fs::path straight = write_corpus("resume_straight", 37, 10);
  train::AlignmentBatch<float, Cpu> a, b;
  resumed.read(std::vector<index_t>{24, 36}, a);
  train::FeatureDataset(straight).read(std::vector<index_t>{24, 36}, b);
  EXPECT_EQ(a.target.to_vector(), b.target.to_vector());
  fs::remove_all(dir);
  fs::remove_all(straight);
}

TEST(FeatureShards, BadInputIsATypedErrorNamingTheShard) {
  const fs::path dir = write_corpus("bad", 12, 8);
  // A writer of another shape on the same directory.
  SyntheticCorpus other;
  other.target_dim = 9;
  EXPECT_THROW(train::FeatureShardWriter(dir, other.spec(), 8), ShapeError);
  // A shard of another shape slipped into the directory.
  const fs::path foreign = write_corpus("bad_foreign", 4, 8);
  {
    train::FeatureShardWriter out(foreign / "wide", other.spec(), 8);
    other.write(out, 0, 3);
    out.finish();
  }
  fs::copy_file(train::shard_path(foreign / "wide", 0), train::shard_path(dir, 2));
  try {
    train::FeatureDataset data(dir);
    ADD_FAILURE() << "a mixed directory opened";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("shard-00002.h5"), std::string::npos) << e.what();
  }
  // Wrong batch shapes and text counts when writing.
  train::FeatureShardWriter out(fresh_dir("bad_add"), SyntheticCorpus{}.spec(), 8);
  const auto s = Tensor<float, Cpu>::zeros({2, 6, 8}), sm = Tensor<float, Cpu>::zeros({2, 6});
  const auto t = Tensor<float, Cpu>::zeros({2, 5, 7}), tm = Tensor<float, Cpu>::zeros({2, 5});
  EXPECT_THROW(out.add(s, sm, Tensor<float, Cpu>::zeros({2, 5, 6}), tm, {"a", "b"}, {"a", "b"}, {"x", "y"}),
               ShapeError);
  EXPECT_THROW(out.add(s, sm, t, tm, {"a"}, {"a", "b"}, {"x", "y"}), ShapeError);
  // No shards at all.
  EXPECT_THROW(train::FeatureDataset(fresh_dir("bad_empty")), FileNotFoundError);
  fs::remove_all(dir);
  fs::remove_all(foreign);
}

TEST(FeatureShards, NonFiniteFeaturesNameTheRow) {
  const fs::path dir = fresh_dir("nan");
  train::FeatureShardWriter out(dir, SyntheticCorpus{}.spec(), 8);
  auto t = Tensor<float, Cpu>::zeros({3, 5, 7});
  std::vector<float> tv(3 * 5 * 7, 0.5f);
  tv[2 * 35 + 3] = std::numeric_limits<float>::quiet_NaN();
  out.add(Tensor<float, Cpu>::zeros({3, 6, 8}), Tensor<float, Cpu>::full({3, 6}, 1.f),
          Tensor<float, Cpu>::from_host({3, 5, 7}, tv), Tensor<float, Cpu>::full({3, 5}, 1.f), {"a", "b", "c"},
          {"a", "b", "c"}, {"en", "en", "en"});
  out.finish();
  const train::FeatureDataset data(dir);
  train::AlignmentBatch<float, Cpu> batch;
  data.read(std::vector<index_t>{0, 1}, batch);  // the rows before are fine
  try {
    data.read(std::vector<index_t>{1, 2}, batch);
    ADD_FAILURE() << "NaN features were read";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("first in row 2"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(BatchLoader, SeededEpochsCoverEveryExampleAndRestoreExactly) {
  const fs::path dir = write_corpus("loader", 30, 16);
  const train::FeatureDataset data(dir);
  const train::Split split = train::split_examples(30, 6);
  EXPECT_EQ(split.train.size(), 24u);
  std::set<index_t> all(split.train.begin(), split.train.end());
  all.insert(split.held_out.begin(), split.held_out.end());
  EXPECT_EQ(all.size(), 30u);  // disjoint and complete
  EXPECT_EQ(train::split_examples(30, 6).held_out, split.held_out);

  train::BatchLoader loader(data, split.train, 8, 3);
  EXPECT_EQ(loader.batches_per_epoch(), 3);
  train::AlignmentBatch<float, Cpu> batch;
  std::multiset<index_t> epoch0, epoch1;
  std::vector<index_t> order0;
  for (int i = 0; i < 3; ++i) {
    loader.next(batch);
    epoch0.insert(batch.examples.begin(), batch.examples.end());
    order0.insert(order0.end(), batch.examples.begin(), batch.examples.end());
  }
  EXPECT_EQ(epoch0, std::multiset<index_t>(split.train.begin(), split.train.end()));
  loader.next(batch);  // epoch 1, batch 0
  const train::LoaderState mid = loader.state();
  EXPECT_EQ(mid.epoch, 1);
  loader.next(batch);
  const std::vector<index_t> expected = batch.examples;
  train::BatchLoader restored(data, split.train, 8, 3);
  restored.restore(mid);
  restored.next(batch);
  EXPECT_EQ(batch.examples, expected);
  // Another seed gives another order.
  train::BatchLoader other(data, split.train, 8, 4);
  std::vector<index_t> order_other;
  for (int i = 0; i < 3; ++i) {
    other.next(batch);
    order_other.insert(order_other.end(), batch.examples.begin(), batch.examples.end());
  }
  EXPECT_NE(order0, order_other);
  EXPECT_THROW(train::BatchLoader(data, split.train, 25, 0), ValueError);
  fs::remove_all(dir);
}

TEST(AlignmentEvaluator, PerfectAndShuffledAlignments) {
  const auto target = ops::randn<float, Cpu>({6, 4, 5}, 3);
  const auto mask = Tensor<float, Cpu>::full({6, 4}, 1.f);
  const std::vector<std::string> langs{"de", "fr", "de", "fr", "de", "fr"};
  eval::AlignmentEvaluator perfect;
  perfect.add(target, target, mask, langs);
  const auto r = perfect.report();
  EXPECT_EQ(r.all.sentences, 6);
  EXPECT_NEAR(r.all.mse, 0.0, 1e-12);
  EXPECT_NEAR(r.all.cosine, 1.0, 1e-6);
  EXPECT_EQ(r.all.recall_at_1, 1.0);
  EXPECT_EQ(r.languages.at("de").sentences, 3);

  // Aligned = the target of the next sentence: never retrieves its own at rank 1 (generic random
  // vectors), but R@5 among 6 can. MSE equals the mean squared difference, computed here directly.
  std::vector<float> t = target.to_vector(), shifted(t.size());
  for (index_t i = 0; i < 6; ++i) std::copy_n(t.begin() + ((i + 1) % 6) * 20, 20, shifted.begin() + i * 20);
  eval::AlignmentEvaluator wrong;
  wrong.add(Tensor<float, Cpu>::from_host({6, 4, 5}, shifted), target, mask, langs);
  const auto w = wrong.report();
  EXPECT_EQ(w.all.recall_at_1, 0.0);
  double se = 0;
  for (std::size_t i = 0; i < t.size(); ++i) se += (double(t[i]) - shifted[i]) * (double(t[i]) - shifted[i]);
  EXPECT_NEAR(w.all.mse, se / double(t.size()), 1e-6);
  EXPECT_NE(w.to_markdown().find("| all | 6 |"), std::string::npos) << w.to_markdown();
  EXPECT_EQ(w.to_json()["languages"]["fr"]["sentences"], 3);

  eval::AlignmentEvaluator empty_mask;
  EXPECT_THROW(empty_mask.add(target, target, Tensor<float, Cpu>::zeros({6, 4}), langs), ValueError);
  EXPECT_THROW(eval::AlignmentEvaluator{}.report(), ValueError);
}

// A tiny GlueNet for the synthetic corpus: 6 source tokens x 8 -> 5 target tokens x 7.
aligners::GlueNet<float, Cpu> tiny_gluenet(bool alternating = false) {
  return aligners::GlueNet<float, Cpu>({.num_tok = 6,
                                        .num_tok_target = 5,
                                        .dim_source = 8,
                                        .dim_target = 7,
                                        .mult = 2,
                                        .depth = 1,
                                        .lambda_mse = 1.0,
                                        .lambda_rec = 0.1,
                                        .lambda_adv = 0.01,
                                        .alternating = alternating},
                                       5);
}
io::ModelMeta tiny_meta() { return {.model_type = "gluegen.gluenet", .config = {{"test", "tiny"}}}; }

train::TrainerOptions options(const fs::path& run, std::int64_t steps) {
  return {.run_dir = run,
          .steps = steps,
          .batch_size = 8,
          .held_out = 8,
          .seed = 1,
          .adam = {.lr = 3e-3},
          .max_grad_norm = 10.0,
          .log_every = 2,
          .eval_every = 4,
          .checkpoint_every = 4,
          .progress = false};
}

/// The mean of the first n (n > 0) or last -n values: single-batch losses are noisy.
double mean_of(const std::vector<double>& v, int n) {
  const auto k = static_cast<std::ptrdiff_t>(std::abs(n));
  return n > 0 ? std::accumulate(v.begin(), v.begin() + k, 0.0) / double(k)
               : std::accumulate(v.end() - k, v.end(), 0.0) / double(k);
}

std::vector<std::vector<float>> parameters_of(aligners::GlueNet<float, Cpu>& m) {
  std::vector<std::vector<float>> out;
  m.visit_parameters([&](const std::string&, auto& p) { out.push_back(p.value.to_vector()); }, "");
  return out;
}

TEST(Trainer, GlueNetLearnsTheSyntheticMapAndRetrievesHeldOutSentences) {
  const fs::path data_dir = write_corpus("trainer_converge", 400, 100), run = fresh_dir("trainer_converge_run");
  const train::FeatureDataset data(data_dir);
  auto model = tiny_gluenet();
  std::vector<double> mse;
  auto opt = options(run, 600);
  opt.held_out = 40;
  opt.eval_every = 600;
  opt.on_step = [&](const train::StepReport& r) { mse.push_back(r.losses.terms[0].second); };
  train::Trainer trainer(model, data, opt, tiny_meta());
  const auto result = trainer.run();
  ASSERT_EQ(result.last_step, 600);
  ASSERT_TRUE(result.evaluation.has_value());
  EXPECT_LT(mean_of(mse, -10), mean_of(mse, 10) / 20) << "first " << mean_of(mse, 10) << " last " << mean_of(mse, -10);
  EXPECT_GE(result.evaluation->all.recall_at_1, 0.85) << result.evaluation->to_markdown();
  EXPECT_GT(result.evaluation->all.cosine, 0.9) << result.evaluation->to_markdown();
  // The run directory: checkpoint, exported aligner, metrics lines for logs and the evaluation.
  EXPECT_TRUE(fs::exists(trainer.checkpoint_path()));
  const io::WeightReader aligner(trainer.aligner_path());
  EXPECT_EQ(aligner.meta().model_type, "gluegen.gluenet");
  EXPECT_TRUE(aligner.contains("discriminator.net.1.running_var"));
  std::ifstream metrics(trainer.metrics_path());
  int lines = 0, evals = 0;
  for (std::string line; std::getline(metrics, line); ++lines) evals += nlohmann::json::parse(line).contains("eval");
  EXPECT_EQ(lines, 301);
  EXPECT_EQ(evals, 1);
  fs::remove_all(data_dir);
  fs::remove_all(run);
}

TEST(Trainer, ResumeAfterAKillIsBitExact) {
  const fs::path data_dir = write_corpus("trainer_resume", 48, 16);
  const train::FeatureDataset data(data_dir);
  const fs::path straight_run = fresh_dir("resume_straight_run"), killed_run = fresh_dir("resume_killed_run");
  auto straight = tiny_gluenet();
  train::Trainer(straight, data, options(straight_run, 14), tiny_meta()).run();

  {  // killed at step 7: the last checkpoint is step 4
    auto model = tiny_gluenet();
    auto opt = options(killed_run, 14);
    opt.on_step = [](const train::StepReport& r) {
      if (r.step == 7) throw std::runtime_error("killed");
    };
    EXPECT_THROW(train::Trainer(model, data, opt, tiny_meta()).run(), std::runtime_error);
  }
  auto resumed = tiny_gluenet();
  resumed.encoder.tail.net_sen.get<0>().weight.value =
      ops::randn<float, Cpu>({16, 8}, 99);  // overwritten by the checkpoint
  train::Trainer again(resumed, data, options(killed_run, 14), tiny_meta());
  const auto result = again.run();
  EXPECT_EQ(result.first_step, 4);
  EXPECT_EQ(result.last_step, 14);
  EXPECT_EQ(parameters_of(resumed), parameters_of(straight));  // bit-identical, BatchNorm statistics included
  // The metrics of the replayed steps 5..7 are not duplicated.
  std::ifstream a(straight_run / "metrics.jsonl"), b(killed_run / "metrics.jsonl");
  std::vector<std::int64_t> steps_a, steps_b;
  for (std::string line; std::getline(a, line);) steps_a.push_back(nlohmann::json::parse(line)["step"]);
  for (std::string line; std::getline(b, line);) steps_b.push_back(nlohmann::json::parse(line)["step"]);
  EXPECT_EQ(steps_a, steps_b);
  fs::remove_all(data_dir);
  fs::remove_all(straight_run);
  fs::remove_all(killed_run);
}

// Alternating discriminator / aligner steps: two optimizers, both phases' losses in every metrics
// line, the discriminator trained only in its phase, and resume after a kill still bit-exact.
TEST(Trainer, AlternatingAdversarialStepsResumeBitExactly) {
  const fs::path data_dir = write_corpus("trainer_alternating", 48, 16);
  const train::FeatureDataset data(data_dir);
  const fs::path straight_run = fresh_dir("alt_straight_run"), killed_run = fresh_dir("alt_killed_run");
  auto straight = tiny_gluenet(true);
  const auto initial = parameters_of(straight);
  std::vector<double> disc;
  auto opt = options(straight_run, 14);
  opt.on_step = [&](const train::StepReport& r) {
    ASSERT_EQ(r.losses.terms.back().first, "disc");
    disc.push_back(r.losses.terms.back().second);
  };
  train::Trainer(straight, data, opt, tiny_meta()).run();
  EXPECT_EQ(disc.size(), 14u);
  for (const double d : disc) EXPECT_GT(d, 0);
  EXPECT_NE(parameters_of(straight), initial);
  const io::WeightReader checkpoint(straight_run / "checkpoint.h5");
  EXPECT_TRUE(checkpoint.contains("optimizer_d.discriminator.net.0.weight.exp_avg"));
  EXPECT_FALSE(checkpoint.contains("optimizer_d.encoder.tail.net_sen.0.weight.exp_avg"));
  EXPECT_FALSE(checkpoint.contains("optimizer.discriminator.net.0.weight.exp_avg"));
  std::ifstream metrics(straight_run / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("eval")) {
      EXPECT_TRUE(j.contains("disc") && j.contains("adv") && j.contains("mse")) << line;
    }
  }
  {  // killed at step 7: the last checkpoint is step 4
    auto model = tiny_gluenet(true);
    auto killed = options(killed_run, 14);
    killed.on_step = [](const train::StepReport& r) {
      if (r.step == 7) throw std::runtime_error("killed");
    };
    EXPECT_THROW(train::Trainer(model, data, killed, tiny_meta()).run(), std::runtime_error);
  }
  auto resumed = tiny_gluenet(true);
  const auto result = train::Trainer(resumed, data, options(killed_run, 14), tiny_meta()).run();
  EXPECT_EQ(result.first_step, 4);
  EXPECT_EQ(parameters_of(resumed), parameters_of(straight));
  fs::remove_all(data_dir);
  fs::remove_all(straight_run);
  fs::remove_all(killed_run);
}

TEST(Trainer, SigintWritesACheckpointAndTheRunResumes) {
  const fs::path data_dir = write_corpus("trainer_sigint", 48, 16);
  const train::FeatureDataset data(data_dir);
  const fs::path straight_run = fresh_dir("sigint_straight"), run = fresh_dir("sigint_run");
  auto straight = tiny_gluenet();
  train::Trainer(straight, data, options(straight_run, 10), tiny_meta()).run();
  auto model = tiny_gluenet();
  auto opt = options(run, 10);
  opt.on_step = [](const train::StepReport& r) {
    if (r.step == 5) std::raise(SIGINT);  // as a user's Ctrl-C: the handler only records it
  };
  const auto first = train::Trainer(model, data, opt, tiny_meta()).run();
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.last_step, 5);
  auto resumed = tiny_gluenet();
  const auto second = train::Trainer(resumed, data, options(run, 10), tiny_meta()).run();
  EXPECT_EQ(second.first_step, 5);
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(parameters_of(resumed), parameters_of(straight));
  fs::remove_all(data_dir);
  fs::remove_all(straight_run);
  fs::remove_all(run);
}

TEST(Trainer, DivergenceStopsWithTheLastGoodCheckpointIntact) {
  const fs::path data_dir = write_corpus("trainer_nan", 48, 16), run = fresh_dir("nan_run");
  const train::FeatureDataset data(data_dir);
  auto model = tiny_gluenet();
  auto opt = options(run, 20);
  opt.on_step = [&](const train::StepReport& r) {
    if (r.step == 5)
      model.encoder.tail.net_sen.get<0>().weight.value =
          Tensor<float, Cpu>::full({16, 8}, std::numeric_limits<float>::infinity());
  };
  try {
    train::Trainer(model, data, opt, tiny_meta()).run();
    ADD_FAILURE() << "a diverged run finished";
  } catch (const DivergedError& e) {
    EXPECT_NE(std::string(e.what()).find("diverged at step 6"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("checkpoint.h5' is intact"), std::string::npos) << e.what();
  }
  const io::WeightReader checkpoint(run / "checkpoint.h5");  // rejects non-finite values on read
  EXPECT_EQ(checkpoint.read<double>("trainer.state").to_vector()[0], 4.0);
  auto fresh = tiny_gluenet();
  io::load_parameters(fresh, checkpoint, "model.");
  fs::remove_all(data_dir);
  fs::remove_all(run);
}

TEST(Trainer, RefusesToResumeAnotherConfiguration) {
  const fs::path data_dir = write_corpus("trainer_mismatch", 40, 16), run = fresh_dir("mismatch_run");
  const train::FeatureDataset data(data_dir);
  auto model = tiny_gluenet();
  train::Trainer(model, data, options(run, 4), tiny_meta()).run();
  auto other = tiny_gluenet();
  auto opt = options(run, 8);
  opt.batch_size = 4;
  EXPECT_THROW(train::Trainer(other, data, opt, tiny_meta()).run(), ValueError);
  EXPECT_THROW(train::Trainer(other, data, options(run, 8),
                              io::ModelMeta{.model_type = "gluegen.gluenet", .config = {{"depth", 2}}})
                   .run(),
               ValueError);
  fs::remove_all(data_dir);
  fs::remove_all(run);
}

TEST(Trainer, TrainsAnAttentionAlignerThroughTheSupervisedObjective) {
  const fs::path data_dir = write_corpus("trainer_attention", 64, 32), run = fresh_dir("attention_run");
  const train::FeatureDataset data(data_dir);
  aligners::Supervised model(aligners::AttentionAligner<float, Cpu>(
      {.dim_source = 8, .dim = 16, .dim_target = 7, .num_queries = 5, .heads = 2, .depth = 1, .ff_mult = 2}, 3));
  std::vector<double> mse;
  auto opt = options(run, 400);
  opt.on_step = [&](const train::StepReport& r) { mse.push_back(r.losses.total()); };
  train::Trainer(model, data, opt, {.model_type = "gluegen.attention_aligner"}).run();
  EXPECT_LT(mean_of(mse, -10), mean_of(mse, 10) / 4) << "first " << mean_of(mse, 10) << " last " << mean_of(mse, -10);
  fs::remove_all(data_dir);
  fs::remove_all(run);
}

}  // namespace
}  // namespace gluegen
