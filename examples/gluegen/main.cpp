// gluegen: the command line of the aligner workflow (issue 7).
//   gluegen encode --corpus TSV --source-model DIR --target-model DIR --out DIR [options]
//   gluegen train --shards DIR --run DIR [--aligner gluenet|attention|linear] [options]
//   gluegen eval  --shards DIR (--run DIR | --aligner FILE [--all]) [--json F] [--markdown F]
//   gluegen convert-weights --in FILE --out FILE [--dtype f16] [--encoder-only]
//   gluegen fashion-captions / train-decoder: the default target model (default_model_commands.cpp)
// `encode` runs a source and a target text encoder (Hugging Face model folders) over a parallel
// corpus into feature shards, resuming after the last complete shard. `train` trains an aligner on feature shards
// (source and target encoder features of a parallel corpus) with held-out evaluation, JSONL metrics, atomic checkpoints
// and exact resume: rerunning the same command continues an interrupted run (`--aligner linear` is the closed-form
// ridge baseline, fitted in one go). `eval` reports alignment MSE, cosine and retrieval R@1/R@5 per language of a
// trained (or converted, tools/convert_gluegen.py) aligner.
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/encoders/speech_encoder.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/train/parallel_corpus.hpp>
#include <gluegen/train/trainer.hpp>

#include "corpus_commands.hpp"
#include "speech_commands.hpp"
#include "default_model_commands.hpp"
#include "model_file_commands.hpp"
#include "option_checks.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <unordered_map>

namespace {

using namespace gluegen;
using cli::at_least_one, cli::fraction, cli::non_negative, cli::positive;

struct EncodeArgs {
  std::string corpus, source_model, target_model, out, storage = "f16";
  index_t source_length = 128, target_length = 77, batch = 32, per_shard = 256;
  int window_seconds = 5;
  bool quiet = false;
};

/// Target features by target text: a corpus that pairs one English sentence with its translation
/// into several languages encodes that sentence once (make-corpus writes it so).
class TargetCache {
 public:
  TargetCache(index_t length, index_t width) : length_(length), width_(width) {}

  /// Features [B, L, D] and mask [B, L] of `texts`, encoding only the ones not seen before.
  template <typename Encoder>
  std::pair<Tensor<float, Cpu>, Tensor<float, Cpu>> encode(Encoder& encoder, const std::vector<std::string>& texts) {
    std::vector<std::string> fresh;
    for (const auto& t : texts)
      if (!rows_.contains(t) && std::find(fresh.begin(), fresh.end(), t) == fresh.end()) fresh.push_back(t);
    if (!fresh.empty()) {
      const auto out = encoder.encode(fresh, length_);
      const auto f = out.last_hidden_state.to_vector(), m = out.mask.to_vector();
      for (std::size_t i = 0; i < fresh.size(); ++i) {
        rows_[fresh[i]] = std::ssize(rows_);
        features_.insert(features_.end(), f.begin() + static_cast<std::ptrdiff_t>(i * length_ * width_),
                         f.begin() + static_cast<std::ptrdiff_t>((i + 1) * length_ * width_));
        mask_.insert(mask_.end(), m.begin() + static_cast<std::ptrdiff_t>(i * length_),
                     m.begin() + static_cast<std::ptrdiff_t>((i + 1) * length_));
      }
    }
    std::vector<float> f, m;
    for (const auto& t : texts) {
      const auto r = static_cast<std::size_t>(rows_.at(t));
      f.insert(f.end(), features_.begin() + static_cast<std::ptrdiff_t>(r * length_ * width_),
               features_.begin() + static_cast<std::ptrdiff_t>((r + 1) * length_ * width_));
      m.insert(m.end(), mask_.begin() + static_cast<std::ptrdiff_t>(r * length_),
               mask_.begin() + static_cast<std::ptrdiff_t>((r + 1) * length_));
    }
    const index_t B = std::ssize(texts);
    return {Tensor<float, Cpu>::from_host({B, length_, width_}, f), Tensor<float, Cpu>::from_host({B, length_}, m)};
  }

 private:
  index_t length_, width_;
  std::unordered_map<std::string, index_t> rows_;
  std::vector<float> features_, mask_;
};

/// Encodes the corpus with `source` (a text or speech encoder); `inputs(rows)` turns the source column
/// of rows [start, end) into what source.encode takes.
template <typename Source, typename Inputs>
int encode_corpus(const EncodeArgs& a, const std::vector<train::CorpusLine>& corpus, Source& source, Inputs&& inputs) {
  encoders::HfTextEncoder<float, Cpu> target(a.target_model);
  const auto storage = dtype_from_name(a.storage);
  GLUEGEN_CHECK_AS(ValueError, storage && (*storage == DType::f16 || *storage == DType::f32 || *storage == DType::bf16),
                   "--storage must be f16, bf16 or f32, got '{}'", a.storage);
  const train::ShardSpec spec{.source_len = a.source_length,
                              .source_dim = source.width(),
                              .target_len = a.target_length,
                              .target_dim = target.width(),
                              .source_encoder = source.name(),
                              .target_encoder = target.name(),
                              .storage = *storage,
                              .source_sha256 = source.identity().sha256,
                              .target_sha256 = target.identity().sha256};
  train::FeatureShardWriter writer(a.out, spec, a.per_shard);
  const index_t total = std::ssize(corpus), first = writer.examples_resumed();
  GLUEGEN_CHECK_AS(ValueError, first <= total,
                   "'{}' already holds {} examples but the corpus has {} lines: is this the same corpus?", a.out, first,
                   total);
  if (first > 0) fmt::print(stderr, "resuming after {} examples already in {}\n", first, a.out);
  TargetCache targets(a.target_length, target.width());
  Progress progress("encode", total, "examples", first, !a.quiet);
  for (index_t start = first; start < total; start += a.batch) {
    const index_t end = std::min(total, start + a.batch);
    std::vector<std::string> src, tgt, lang;
    for (index_t i = start; i < end; ++i) {
      src.push_back(corpus[static_cast<std::size_t>(i)].source);
      tgt.push_back(corpus[static_cast<std::size_t>(i)].target);
      lang.push_back(corpus[static_cast<std::size_t>(i)].language);
    }
    const auto s = source.encode(inputs(src), a.source_length);
    const auto [t, t_mask] = targets.encode(target, tgt);
    writer.add(s.last_hidden_state, s.mask, t, t_mask, src, tgt, lang);
    progress.update(end, fmt::format("{} shards", writer.shards_written()));
  }
  writer.finish();
  fmt::print("{} examples ({} new) in {} shards at {}: {} x {} ({}) -> {} x {} ({})\n", writer.examples_written(),
             total - first, writer.shards_written(), a.out, spec.source_len, spec.source_dim, spec.source_encoder,
             spec.target_len, spec.target_dim, spec.target_encoder);
  return 0;
}

/// The source encoder is resolved here from its folder: a Whisper model (CTranslate2 model.bin, or a
/// config.json of model_type whisper) reads the corpus's source column as WAV paths, relative to the
/// corpus file; anything else is a Hugging Face text encoder reading it as text.
int encode_command(const EncodeArgs& a) {
  const auto corpus = train::read_parallel_corpus(a.corpus);
  const std::filesystem::path folder = a.source_model;
  if (!encoders::is_whisper_folder(folder)) {
    encoders::HfTextEncoder<float, Cpu> source(folder);
    return encode_corpus(a, corpus, source, [](const std::vector<std::string>& texts) { return texts; });
  }
  encoders::WhisperSpeechEncoder<float, Cpu> source(folder, {.window_seconds = a.window_seconds});
  const std::filesystem::path base = std::filesystem::path(a.corpus).parent_path();
  return encode_corpus(a, corpus, source, [&](const std::vector<std::string>& files) {
    std::vector<audio::Waveform> clips;
    for (const auto& f : files) clips.push_back(audio::read_wav(base / f));
    return clips;
  });
}

struct TrainArgs {
  std::string shards, run, aligner = "gluenet", schedule = "constant";
  // GlueNet (GlueGen's defaults: Translator_noln depth 5, mult 2; loss weights 1e4, 1e4, 0.1)
  index_t depth = 5, mult = 2;
  double lambda_mse = 1e4, lambda_rec = 1e4, lambda_adv = 0.1, disc_mult = 0.25;
  bool mask_padding = false;
  std::string adversarial = "joint";
  // attention aligner
  index_t width = 768, heads = 12, layers = 4, ff_mult = 4;
  // linear (ridge) baseline
  double ridge_lambda = 1e-3;
  int ridge_iterations = 10;
  // optimisation
  std::int64_t steps = 10000, warmup = 0, log_every = 10, eval_every = 500, checkpoint_every = 500;
  index_t batch = 64, held_out = 256;
  double lr = 1e-4, weight_decay = 0.0, clip = 0.0, step_gamma = 0.5;
  std::uint64_t seed = 0, init_seed = 0;
  bool quiet = false;
};

optim::Schedule make_schedule(const TrainArgs& a, index_t batches_per_epoch) {
  if (a.schedule == "constant") return optim::Constant{};
  if (a.schedule == "cosine") return optim::CosineWarmup{.warmup = a.warmup, .total = a.steps};
  if (a.schedule == "linear") return optim::LinearWarmup{.warmup = a.warmup, .total = a.steps};
  return optim::Step{.step_size = std::max<index_t>(1, batches_per_epoch),
                     .gamma = a.step_gamma};  // "epoch-step": GlueGen's StepLR
}

void write_text(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::ofstream out(path);
  GLUEGEN_CHECK_AS(IoError, static_cast<bool>(out << text), "cannot write '{}'", path);
}

/// `meta` with what the aligner was trained on recorded: the shards' encoders and lengths, and this command.
io::ModelMeta with_provenance(io::ModelMeta meta, const train::FeatureDataset& data) {
  meta.provenance = data.spec().provenance();
  meta.provenance["command"] = cli::command_line();
  return meta;
}

template <aligners::TrainableAligner A>
int train_with(A& model, const io::ModelMeta& meta, const train::FeatureDataset& data, const TrainArgs& a) {
  const auto params = nn::count_parameters(model);
  fmt::print("{}: {} parameters; {} examples ({} held out) of {} -> {}\n", meta.model_type, params.total, data.size(),
             a.held_out, data.spec().source_encoder, data.spec().target_encoder);
  const index_t per_epoch = (data.size() - a.held_out) / a.batch;
  train::TrainerOptions opt{.run_dir = a.run,
                            .steps = a.steps,
                            .batch_size = a.batch,
                            .held_out = a.held_out,
                            .seed = a.seed,
                            .adam = {.lr = a.lr, .weight_decay = a.weight_decay},
                            .schedule = make_schedule(a, per_epoch),
                            .max_grad_norm = a.clip,
                            .log_every = a.log_every,
                            .eval_every = a.eval_every,
                            .checkpoint_every = a.checkpoint_every,
                            .progress = !a.quiet};
  train::Trainer trainer(model, data, opt, with_provenance(meta, data));
  const auto result = trainer.run();
  if (result.evaluation)
    fmt::print("\nheld-out evaluation at step {}:\n{}", result.last_step, result.evaluation->to_markdown());
  fmt::print("{} steps in {}; aligner: {}; metrics: {}\n", result.last_step - result.first_step,
             format_duration(result.seconds), trainer.aligner_path().string(), trainer.metrics_path().string());
  return result.interrupted ? 130 : 0;
}

/// The ridge baseline: no steps, no checkpoint. The training examples are read into memory once (the
/// alternations revisit them), the map is fitted in closed form and written with how it was fitted,
/// then evaluated on the same held-out split a trained aligner would be.
int fit_linear(const train::FeatureDataset& data, const TrainArgs& a) {
  const auto& s = data.spec();
  const auto split = train::split_examples(data.size(), a.held_out);
  const aligners::LinearAlignerConfig cfg{
      .num_tok = s.source_len, .num_tok_out = s.target_len, .dim = s.source_dim, .dim_out = s.target_dim};
  aligners::LinearAligner<float, Cpu> model(cfg);
  fmt::print("{}: {} parameters; ridge lambda {}, {} alternations on {} examples ({} held out) of {} -> {}\n",
             aligners::kLinearAlignerModelType, nn::count_parameters(model).total, a.ridge_lambda, a.ridge_iterations,
             split.train.size(), a.held_out, s.source_encoder, s.target_encoder);
  const auto start = std::chrono::steady_clock::now();
  train::AlignmentBatch<float, Cpu> examples;
  data.read(split.train, examples);
  const auto history =
      model.fit(examples.source, examples.target, {.lambda = a.ridge_lambda, .iterations = a.ridge_iterations});
  const std::filesystem::path run(a.run);
  std::filesystem::create_directories(run);
  const nlohmann::json fit{{"lambda", a.ridge_lambda},
                           {"iterations", a.ridge_iterations},
                           {"held_out", a.held_out},
                           {"examples", split.train.size()}};
  io::WeightWriter out(run / "aligner.h5", with_provenance(aligners::linear_aligner_meta(cfg, fit), data));
  io::save_parameters(model, out);
  out.commit();
  const auto metrics = run / "metrics.jsonl";
  train::detail::prepare_metrics(metrics, -1);
  for (std::size_t i = 0; i < history.size(); ++i) {
    fmt::print("alternation {}: training MSE {:.6f}\n", i + 1, history[i]);
    train::detail::append_metrics(metrics, {{"step", i + 1}, {"mse", history[i]}});
  }
  if (a.held_out > 0) {
    aligners::Supervised wrapped(std::move(model));
    const auto report = train::evaluate_aligner(wrapped, data, split.held_out, a.batch);
    train::detail::append_metrics(metrics, {{"step", history.size()}, {"eval", report.to_json()}});
    fmt::print("\nheld-out evaluation:\n{}", report.to_markdown());
  }
  fmt::print("fitted in {}; aligner: {}; metrics: {}\n",
             format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()),
             (run / "aligner.h5").string(), metrics.string());
  return 0;
}

int train_command(const TrainArgs& a) {
  const train::FeatureDataset data(a.shards);
  const auto& s = data.spec();
  if (a.aligner == "linear") return fit_linear(data, a);
  if (a.aligner == "gluenet") {
    const aligners::GlueNetConfig cfg{.num_tok = s.source_len,
                                      .num_tok_target = s.target_len,
                                      .dim_source = s.source_dim,
                                      .dim_target = s.target_dim,
                                      .mult = a.mult,
                                      .depth = a.depth,
                                      .disc_mult = a.disc_mult,
                                      .lambda_mse = a.lambda_mse,
                                      .lambda_rec = a.lambda_rec,
                                      .lambda_adv = a.lambda_adv,
                                      .mask_target_padding = a.mask_padding,
                                      .alternating = a.adversarial == "alternating"};
    aligners::GlueNet<float, Cpu> model(cfg, a.init_seed);
    return train_with(model, aligners::gluenet_meta(cfg), data, a);
  }
  const aligners::AttentionAlignerConfig cfg{.dim_source = s.source_dim,
                                             .dim = a.width,
                                             .dim_target = s.target_dim,
                                             .num_queries = s.target_len,
                                             .heads = a.heads,
                                             .depth = a.layers,
                                             .ff_mult = a.ff_mult};
  aligners::Supervised model(aligners::AttentionAligner<float, Cpu>(cfg, a.init_seed));
  return train_with(model, aligners::attention_aligner_meta(cfg), data, a);
}

struct EvalArgs {
  std::string shards, run, aligner, json, markdown;
  bool all = false;
  index_t held_out = 256, batch = 64;
};

int eval_command(EvalArgs a) {
  const train::FeatureDataset data(a.shards);
  if (!a.run.empty()) {  // the run's aligner on the run's own held-out split
    const std::filesystem::path run(a.run), checkpoint = run / "checkpoint.h5";
    a.aligner = (run / "aligner.h5").string();
    if (std::filesystem::exists(checkpoint)) {
      a.held_out = io::WeightReader(checkpoint).meta().config.at("trainer").at("held_out").get<index_t>();
    } else {  // a fitted (ridge) aligner records its split itself
      const io::WeightReader fitted(a.aligner);
      GLUEGEN_CHECK_AS(FileNotFoundError, fitted.meta().config.contains("fit"),
                       "'{}' has no checkpoint.h5 and '{}' records no held-out split", a.run, a.aligner);
      a.held_out = fitted.meta().config.at("fit").at("held_out").get<index_t>();
    }
  }
  GLUEGEN_CHECK_AS(ValueError, !a.aligner.empty(), "gluegen eval: give --run DIR or --aligner FILE");
  std::vector<index_t> examples;
  if (a.all) {
    for (index_t i = 0; i < data.size(); ++i) examples.push_back(i);
  } else {
    examples = train::split_examples(data.size(), a.held_out).held_out;
  }
  const io::WeightReader in(a.aligner);
  const std::string& type = in.meta().model_type;
  const eval::AlignmentReport report = aligners::visit_aligner_file<float, Cpu>(
      in, [&](auto& model) { return train::evaluate_aligner(model, data, examples, a.batch); });
  const std::string md = fmt::format("Alignment of {} ({}) on {} {} examples of {}:\n\n{}", a.aligner, type,
                                     examples.size(), a.all ? "(all)" : "held-out", a.shards, report.to_markdown());
  fmt::print("{}", md);
  write_text(a.json, report.to_json().dump(2) + "\n");
  write_text(a.markdown, md);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gluegen: train and evaluate aligners that glue a new encoder onto a text-to-image model"};
  cli::one_line_failures(app, "gluegen");
  app.require_subcommand(1);

  EncodeArgs en;
  auto* encode_cmd =
      app.add_subcommand("encode", "encode a parallel corpus (TSV: source, target, language) into feature shards");
  encode_cmd->add_option("--corpus", en.corpus, "TSV file: source text, target text, language tag per line")
      ->required()
      ->check(CLI::ExistingFile);
  encode_cmd
      ->add_option("--source-model", en.source_model,
                   "source encoder: a Hugging Face text model folder, or a Whisper model folder (the corpus's source "
                   "column then names WAV files, relative to the corpus)")
      ->required()
      ->check(CLI::ExistingDirectory);
  encode_cmd->add_option("--target-model", en.target_model, "target encoder: a Hugging Face model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  encode_cmd->add_option("--out", en.out, "shard directory (an existing one is resumed)")->required();
  encode_cmd->add_option("--source-length", en.source_length, "source tokens per sentence (padded / truncated)")
      ->check(at_least_one)
      ->capture_default_str();
  encode_cmd->add_option("--target-length", en.target_length, "target tokens per sentence (padded / truncated)")
      ->check(at_least_one)
      ->capture_default_str();
  encode_cmd->add_option("--batch", en.batch, "sentences per encoder call")->check(at_least_one)->capture_default_str();
  encode_cmd->add_option("--window", en.window_seconds, "Whisper sources: seconds of audio per clip (1..30)")
      ->check(at_least_one)
      ->capture_default_str();
  encode_cmd->add_option("--examples-per-shard", en.per_shard, "examples per shard file")
      ->check(at_least_one)
      ->capture_default_str();
  encode_cmd->add_option("--storage", en.storage, "feature dtype in the shards: f16, bf16, f32")->capture_default_str();
  encode_cmd->add_flag("--quiet", en.quiet, "no progress line");

  TrainArgs t;
  auto* train_cmd =
      app.add_subcommand("train", "train an aligner on feature shards (resumes an existing run directory)");
  train_cmd->add_option("--shards", t.shards, "feature shard directory (gluegen encode)")
      ->required()
      ->check(CLI::ExistingPath);
  train_cmd->add_option("--run", t.run, "run directory: checkpoint.h5, aligner.h5, metrics.jsonl")->required();
  train_cmd->add_option("--aligner", t.aligner, "aligner type")
      ->check(CLI::IsMember({"gluenet", "attention", "linear"}))
      ->capture_default_str();
  train_cmd->add_option("--depth", t.depth, "GlueNet mixer blocks")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--mult", t.mult, "GlueNet MLP width multiplier")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--lambda-mse", t.lambda_mse, "weight of the element-wise loss")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--lambda-rec", t.lambda_rec, "weight of the reconstruction loss (0: off)")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--lambda-adv", t.lambda_adv, "weight of the adversarial loss (0: off)")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--disc-mult", t.disc_mult, "discriminator hidden width / target width")
      ->check(positive)
      ->capture_default_str();
  train_cmd->add_flag("--mask-padding", t.mask_padding, "GlueNet: count only real target tokens in L_mse");
  train_cmd
      ->add_option("--adversarial", t.adversarial,
                   "GlueNet: joint (GlueGen: one step through gradient reversal) or alternating (discriminator step, "
                   "then aligner step)")
      ->check(CLI::IsMember({"joint", "alternating"}))
      ->capture_default_str();
  train_cmd->add_option("--width", t.width, "attention aligner width")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--heads", t.heads, "attention aligner heads")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--layers", t.layers, "attention aligner layers")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--ff-mult", t.ff_mult, "attention aligner feed-forward multiplier")
      ->check(at_least_one)
      ->capture_default_str();
  train_cmd->add_option("--ridge-lambda", t.ridge_lambda, "linear: ridge penalty on the token and channel maps")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd
      ->add_option("--ridge-iterations", t.ridge_iterations, "linear: alternations between the token and channel maps")
      ->check(at_least_one)
      ->capture_default_str();
  train_cmd->add_option("--steps", t.steps, "total optimizer steps")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--batch", t.batch, "batch size")->check(at_least_one)->capture_default_str();
  train_cmd->add_option("--lr", t.lr, "AdamW learning rate")->check(positive)->capture_default_str();
  train_cmd->add_option("--weight-decay", t.weight_decay, "AdamW decoupled weight decay")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--schedule", t.schedule, "learning-rate schedule")
      ->check(CLI::IsMember({"constant", "cosine", "linear", "epoch-step"}))
      ->capture_default_str();
  train_cmd->add_option("--warmup", t.warmup, "warmup steps (cosine, linear)")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--step-gamma", t.step_gamma, "epoch-step decay per epoch (GlueGen: 0.5)")
      ->check(fraction)
      ->capture_default_str();
  train_cmd->add_option("--clip-grad", t.clip, "clip the global gradient norm (0: off)")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--held-out", t.held_out, "examples kept for evaluation")
      ->check(non_negative)
      ->capture_default_str();
  train_cmd->add_option("--eval-every", t.eval_every, "steps between held-out evaluations")
      ->check(at_least_one)
      ->capture_default_str();
  train_cmd->add_option("--checkpoint-every", t.checkpoint_every, "steps between checkpoints")
      ->check(at_least_one)
      ->capture_default_str();
  train_cmd->add_option("--log-every", t.log_every, "steps between metrics lines")
      ->check(at_least_one)
      ->capture_default_str();
  train_cmd->add_option("--seed", t.seed, "data order seed")->capture_default_str();
  train_cmd->add_option("--init-seed", t.init_seed, "parameter initialisation seed")->capture_default_str();
  train_cmd->add_flag("--quiet", t.quiet, "no progress line");

  EvalArgs e;
  auto* eval_cmd = app.add_subcommand("eval", "alignment MSE, cosine and retrieval R@1/R@5 per language");
  eval_cmd->add_option("--shards", e.shards, "feature shard directory")->required()->check(CLI::ExistingPath);
  auto* run_opt = eval_cmd->add_option("--run", e.run, "a training run directory (its aligner on its held-out split)");
  eval_cmd->add_option("--aligner", e.aligner, "an aligner file (aligner.h5, or converted by tools/convert_gluegen.py)")
      ->excludes(run_opt);
  eval_cmd->add_flag("--all", e.all, "evaluate on every example, not the held-out split");
  eval_cmd->add_option("--held-out", e.held_out, "size of the held-out split (as in training)")
      ->check(non_negative)
      ->capture_default_str();
  eval_cmd->add_option("--batch", e.batch, "batch size")->check(at_least_one)->capture_default_str();
  eval_cmd->add_option("--json", e.json, "write the report as JSON");
  eval_cmd->add_option("--markdown", e.markdown, "write the report as a Markdown table");

  const auto model_file_commands = gluegen::cli::add_model_file_commands(app);
  const auto default_model_commands = gluegen::cli::add_default_model_commands(app);
  const auto corpus_commands = gluegen::cli::add_corpus_commands(app);
  const auto speech_commands = gluegen::cli::add_speech_commands(app);

  CLI11_PARSE(app, argc, argv);
  cli::record_command_line("gluegen", argc, argv);
  try {
    if (const int rc = model_file_commands(); rc >= 0) return rc;
    if (const int rc = default_model_commands(); rc >= 0) return rc;
    if (const int rc = corpus_commands(); rc >= 0) return rc;
    if (const int rc = speech_commands(); rc >= 0) return rc;
    if (encode_cmd->parsed()) return encode_command(en);
    if (train_cmd->parsed()) return train_command(t);
    return eval_command(e);
  } catch (const gluegen::Error& err) {
    fmt::print(stderr, "gluegen: {}\n", err.what());
    return 1;
  } catch (const std::exception& err) {  // a library's own exception (filesystem, allocation): still one line
    fmt::print(stderr, "gluegen: {}\n", err.what());
    return 1;
  }
}
