// gluegen-ablate: one row of the MTN / GlueGen ablation table (issue 19; docs/ablations.md). Every row trains
// its aligner type on the same feature shards with the same seed, schedule and step count, then measures the
// same things: held-out alignment (MSE, cosine, R@1), parameters, training time and peak memory, one
// prompt's inference latency, and, through pipeline.hpp on the default model (source encoder -> the row's
// aligner -> the untouched decoder), class / colour accuracy and Fréchet distance of generated images.
// LaVi-Bridge's adapter + LoRA and ELLA's connector train through the frozen decoder on its denoising loss
// instead (--captions). The row's name is the one run-time choice, resolved once in run_row; from there on a
// row is its type.
//   gluegen-ablate --row mtn-mse --shards out/ablations/template/shards --out docs/ablations/template/mtn-mse-s0.json
#include <gluegen/aligners/attention.hpp>
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/aligners/linear.hpp>
#include <gluegen/default_model/captions.hpp>
#include <gluegen/default_model/evaluation.hpp>
#include <gluegen/default_model/prompts.hpp>
#include <gluegen/pipeline.hpp>
#include <gluegen/train/denoising_alignment.hpp>
#include <gluegen/train/trainer.hpp>

#include "option_checks.hpp"  // the CLI's numeric option checks (examples/gluegen/)

#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

namespace {

using namespace gluegen;
using cli::at_least_one, cli::non_negative, cli::positive;

// The aliases an ablation changes (MTN's networks are GlueNet's f and g; the loss of a plain aligner is a type).
using GlueNetNoLn = aligners::GlueNet<float, Cpu>;  // GlueGen's Translator_noln f and g
using GlueNetLn = aligners::GlueNet<float, Cpu, aligners::Translator<float, Cpu>, aligners::Translator<float, Cpu>>;
using AllTokensMse = losses::AllTokens<losses::TokenMse>;
using TranslatorCosine =
    aligners::Supervised<aligners::TranslatorNoLn<float, Cpu>, losses::AllTokens<losses::TokenCosine>>;
using Attention = aligners::Supervised<aligners::AttentionAligner<float, Cpu>, AllTokensMse>;

struct Args {
  std::string row, shards, held_out_shards, run, out, decoder, source_encoder, encoder, scorer, prompts, language,
      captions;
  std::vector<std::string> languages;
  std::int64_t steps = 600, warmup = 50;
  index_t batch = 64, held_out = 300, per_prompt = 1, ridge_examples = 20480, sample_steps = 25;
  double lr = 1e-3, clip = 1.0;
  std::uint64_t seed = 0;
  bool quiet = false;
  std::string command;  ///< the command line, recorded in the row
};

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

/// Median wall time of one prompt's conditioning from its source features (the aligner alone; a timestep-aware
/// one at one timestep, which sampling pays at every step), in milliseconds.
template <typename A>
  requires aligners::Aligner<A> || aligners::TimestepAligner<A>
double conditioning_latency_ms(A& aligner, const train::ShardSpec& s) {
  const auto x = ops::randn<float, Cpu>({1, s.source_len, s.source_dim}, 7);
  const auto mask = Tensor<float, Cpu>::full({1, s.source_len}, 1.0f);
  const std::vector<double> t{500.0};
  typename A::Cache cache;
  std::vector<double> ms;
  for (int i = 0; i < 53; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if constexpr (aligners::TimestepAligner<A>)
      (void)aligner.align(x, mask, t, cache);
    else
      (void)aligner.align(x, mask, cache);
    if (i >= 3)
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::ranges::nth_element(ms, ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2));
  return ms[ms.size() / 2];
}

/// per_prompt images of every text through `pipeline`, with a progress line.
template <typename Pipe>
Tensor<float, Cpu> generate(Pipe& pipeline, const std::vector<std::string>& prompts, const Args& a) {
  std::vector<std::string> texts;
  for (const auto& p : prompts)
    for (index_t k = 0; k < a.per_prompt; ++k) texts.push_back(p);
  Progress bar("generate", static_cast<index_t>(texts.size()), "images", 0, !a.quiet);
  const GenerateOptions options{
      .steps = a.sample_steps, .guidance = 4.0, .seed = a.seed, .on_progress = [&](const auto& p) {
        if (p.step + 1 == p.steps) bar.update(p.last, "");
      }};
  return pipeline.generate(texts, options).samples;
}

/// The images a pipeline makes on the default model: the caption-template prompts of --language and the
/// hand-written prompts of --prompts, scored by the shipped scorer.
template <typename Pipe>
nlohmann::json score_pipeline(Pipe& pipeline, const Args& a) {
  using namespace default_model;
  auto scorer = load_scorer(a.scorer);
  const auto ceiling = scorer_ceiling(scorer, FashionMnist::load(kDefaultFashionDir, false));
  const EvalSettings settings{.decoder = a.decoder,
                              .language = a.language,
                              .conditioning = "glued: " + a.source_encoder + " + " + a.row,
                              .scheduler = "DPMSolverMultistepScheduler",
                              .steps = a.sample_steps,
                              .per_prompt = a.per_prompt,
                              .guidance = 4.0,
                              .seed = a.seed};
  nlohmann::json out = nlohmann::json::object();
  if (!a.language.empty()) {
    auto [combos, prompts] = eval_prompts(a.language);
    const auto images = generate(pipeline, prompts, a);
    auto report = eval_report(settings, combos, prompts, score_images(images, scorer, combos, a.per_prompt), ceiling);
    report.first.erase("combinations");
    out["template"] = report.first;
  }
  if (!a.prompts.empty()) {
    std::vector<EvalPrompt> prompts;
    std::vector<std::string> texts;
    for (auto& p : read_prompts(a.prompts))
      if (a.languages.empty() || std::ranges::find(a.languages, p.language) != a.languages.end())
        texts.push_back(p.text), prompts.push_back(std::move(p));
    auto combos = prompt_combos(prompts);
    const auto images = generate(pipeline, texts, a);
    auto report =
        prompt_report(settings, prompts, texts, combos, score_images(images, scorer, combos, a.per_prompt), ceiling);
    report.first["prompt_file"] = a.prompts;
    out["natural"] = report.first;
  }
  return out;
}

/// The row's aligner between the source encoder and the default decoder, the decoder's own null beside it.
template <aligners::Aligner A>
nlohmann::json images_of(A aligner, const Args& a, const train::ShardSpec& s) {
  using Encoder = encoders::HfTextEncoder<float, Cpu>;
  PipelineOptions<float, Cpu> options{.source_length = s.source_len};
  options.null_condition = Encoder(a.encoder).encode({""}, s.target_len).last_hidden_state.clone();
  HfPipeline<A> pipeline(Encoder(a.source_encoder), std::move(aligner),
                         diffusion::load_diffusion_decoder<float, Cpu>(a.decoder, "DPMSolverMultistepScheduler"),
                         std::move(options));
  return score_pipeline(pipeline, a);
}

/// Writes the row's JSON and prints its summary.
int write_row(const Args& a, const nlohmann::json& row) {
  std::filesystem::create_directories(std::filesystem::path(a.out).parent_path());
  std::ofstream(a.out) << row.dump(2) << '\n';
  const std::string alignment =
      row["alignment"].is_null()
          ? std::string("no target features")
          : fmt::format("held-out MSE {:.4g}, cosine {:.4f}, R@1 {:.3f}", row["alignment"]["all"]["mse"].get<double>(),
                        row["alignment"]["all"]["cosine"].get<double>(),
                        row["alignment"]["all"]["recall_at_1"].get<double>());
  fmt::print("{}: {}; {} parameters at inference, {:.3g} ms per prompt{} -> {}\n", a.row, alignment,
             row["parameters"]["inference"].get<std::int64_t>(), row["latency_ms"].get<double>(),
             row.contains("images") ? "; images scored" : "", a.out);
  return 0;
}

/// What every row measures once its aligner is trained: alignment on the held-out examples, the inference
/// part's size and latency, and its images. Writes the row's JSON.
template <aligners::TrainableAligner Trained, typename InferenceOf>
int measure(const Args& a, const train::FeatureDataset& data, Trained& trained, InferenceOf&& inference_of,
            nlohmann::json row) {
  trained.set_training(false);
  if (!a.held_out_shards.empty()) {
    const train::FeatureDataset held_out(a.held_out_shards);
    std::vector<index_t> all(static_cast<std::size_t>(held_out.size()));
    std::iota(all.begin(), all.end(), 0);
    row["alignment"] = train::evaluate_aligner(trained, held_out, all, a.batch).to_json();
    row["alignment_on"] = a.held_out_shards;
  } else {
    row["alignment"] =
        train::evaluate_aligner(trained, data, train::split_examples(data.size(), a.held_out).held_out, a.batch)
            .to_json();
    row["alignment_on"] = fmt::format("a fixed random {} examples of {}, held out of training", a.held_out, a.shards);
  }
  row["peak_rss_mib"] = peak_rss_mib();
  auto inference = inference_of(trained);  // what a pipeline keeps of the trained aligner
  row["parameters"]["inference"] = nn::count_parameters(inference).total;
  row["latency_ms"] = conditioning_latency_ms(inference, data.spec());
  if (!a.decoder.empty()) row["images"] = images_of(std::move(inference), a, data.spec());
  return write_row(a, row);
}

nlohmann::json row_json(const Args& a, const train::FeatureDataset& data, const std::string& type) {
  return {{"row", a.row},
          {"type", type},
          {"shards", a.shards},
          {"seed", a.seed},
          {"steps", a.steps},
          {"batch", a.batch},
          {"clip", a.clip},
          {"examples", data.size()},
          {"data", data.spec().to_json()},
          {"command", a.command}};
}

/// Trains `model` with the shared recipe (AdamW, cosine decay after warm-up) and measures it.
template <aligners::TrainableAligner M, typename Inference>
int train_and_measure(const Args& a, const train::FeatureDataset& data, M& model, const io::ModelMeta& meta,
                      nlohmann::json row, std::int64_t trained_parameters, Inference&& inference_of, double lr,
                      const optim::Schedule& schedule) {
  const index_t held_out = a.held_out_shards.empty() ? a.held_out : 0;
  train::Trainer trainer(model, data,
                         {.run_dir = a.run,
                          .steps = a.steps,
                          .batch_size = a.batch,
                          .held_out = held_out,
                          .seed = a.seed,
                          .adam = {.lr = lr},
                          .schedule = schedule,
                          .max_grad_norm = a.clip,
                          .log_every = 25,
                          .eval_every = a.steps,
                          .checkpoint_every = std::max<std::int64_t>(a.steps / 4, 1),
                          .progress = !a.quiet},
                         meta);
  const auto result = trainer.run();
  if (result.interrupted) return 130;
  row["train_seconds"] = result.seconds;
  row["resumed_from_step"] = result.first_step;
  row["lr"] = lr;
  row["parameters"] = {{"trained", trained_parameters}};
  return measure(a, data, model, inference_of, std::move(row));
}

aligners::GlueNetConfig gluenet_config(const train::ShardSpec& s, index_t depth, double rec, double adv) {
  return {.num_tok = s.source_len,
          .num_tok_target = s.target_len,
          .dim_source = s.source_dim,
          .dim_target = s.target_dim,
          .depth = depth,
          .lambda_mse = 1,
          .lambda_rec = rec,
          .lambda_adv = adv};
}

/// A GlueNet row: only the networks whose loss term is on train (a zero-weighted term is skipped).
template <typename G>
int gluenet_row(const Args& a, const train::FeatureDataset& data, const aligners::GlueNetConfig& cfg,
                const std::string& type, double lr, const optim::Schedule& schedule) {
  G model(cfg, a.seed);
  const std::int64_t trained = nn::count_parameters(model.encoder).total +
                               (cfg.lambda_rec != 0 ? nn::count_parameters(model.decoder).total : 0) +
                               (cfg.lambda_adv != 0 ? nn::count_parameters(model.discriminator).total : 0);
  auto row = row_json(a, data, type);
  row["config"] = aligners::gluenet_meta(cfg).config;
  return train_and_measure(
      a, data, model, aligners::gluenet_meta(cfg), std::move(row), trained, [](G& m) { return std::move(m.encoder); },
      lr, schedule);
}

template <typename S>
int supervised_row(const Args& a, const train::FeatureDataset& data, S model, const io::ModelMeta& meta,
                   const std::string& type) {
  auto row = row_json(a, data, type);
  row["config"] = meta.config;
  const auto trained = nn::count_parameters(model).total;
  return train_and_measure(
      a, data, model, meta, std::move(row), trained, [](S& m) { return std::move(m.aligner); }, a.lr,
      optim::CosineWarmup{.warmup = a.warmup, .total = a.steps});
}

/// The closed-form baseline: ridge maps fitted on the first ridge_examples training examples.
int ridge_row(const Args& a, const train::FeatureDataset& data) {
  const auto& s = data.spec();
  const aligners::LinearAlignerConfig cfg{
      .num_tok = s.source_len, .num_tok_out = s.target_len, .dim = s.source_dim, .dim_out = s.target_dim};
  aligners::LinearAligner<float, Cpu> model(cfg);
  auto examples = train::split_examples(data.size(), a.held_out_shards.empty() ? a.held_out : 0).train;
  examples.resize(std::min(examples.size(), static_cast<std::size_t>(a.ridge_examples)));
  const auto start = std::chrono::steady_clock::now();
  train::AlignmentBatch<float, Cpu> batch;
  data.read(examples, batch);
  (void)model.fit(batch.source, batch.target, {.lambda = 1e-3, .iterations = 10});
  auto row = row_json(a, data, "aligners::LinearAligner<float, Cpu> (ridge, lambda 1e-3, 10 alternations)");
  row["train_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  row["fitted_examples"] = examples.size();
  row["parameters"] = {{"trained", nn::count_parameters(model).total}};
  batch = {};
  aligners::Supervised wrapped(std::move(model));
  return measure(
      a, data, wrapped, [](auto& w) { return std::move(w.aligner); }, std::move(row));
}

/// A row trained through the frozen decoder on its own denoising loss over the scenes and their source-encoder
/// caption features (--captions, gluegen fashion-captions): batch 32 as gluegen train-lavi-bridge, no EMA, the
/// shared schedule and clip. It has no target features, so no alignment metrics; its images come from the
/// exported file through load_pipeline, the null conditioning through the glue (caption dropout trained it on
/// the source encoder's empty caption).
template <typename Model, typename MakeModel>
int denoising_row(const Args& a, const std::string& type, MakeModel&& make_model) {
  GLUEGEN_CHECK_AS(ValueError, !a.captions.empty() && !a.decoder.empty(),
                   "the {} row needs --captions (source-encoder caption features) and --decoder", a.row);
  auto captions = default_model::CaptionFeatures<float>::load(a.captions);
  const train::ShardSpec source{.source_len = captions.features.size(1), .source_dim = captions.features.size(2)};
  const io::WeightReader decoder_file(a.decoder);
  const auto noise = diffusion::SchedulerConfig::from_json(diffusion::read_scheduler_record(decoder_file).config,
                                                           diffusion::training_noise());
  Model model = make_model(diffusion::load_unet<float, Cpu>(decoder_file), source.source_dim);
  nlohmann::json row{
      {"row", a.row}, {"type", type}, {"captions", a.captions}, {"seed", a.seed},       {"steps", a.steps},
      {"batch", 32},  {"lr", a.lr},   {"clip", a.clip},         {"command", a.command}, {"alignment", nullptr}};
  // what trains is what inference adds to the decoder (the adapter and its LoRA, or the connector)
  const auto trained = nn::count_parameters(model).trainable;
  row["parameters"] = {{"trained", trained}, {"inference", trained}};
  default_model::SceneCaptionData<float> data(
      default_model::FashionMnist::load(default_model::kDefaultFashionDir, true), std::move(captions), 0.1);
  train::DecoderTrainer<float, Cpu, default_model::SceneCaptionData<float>, Model> trainer(
      model, noise, data,
      {.run_dir = a.run,
       .export_file = "aligner.h5",
       .progress_label = "train " + a.row,
       .steps = a.steps,
       .batch = 32,
       .lr = a.lr,
       .warmup = a.warmup,
       .grad_clip = a.clip,
       .ema_decay = 0,
       .min_snr_gamma = 5,
       .log_every = 25,
       .checkpoint_every = std::max<std::int64_t>(a.steps / 4, 1),
       .seed = a.seed,
       .progress = !a.quiet});
  const auto start = std::chrono::steady_clock::now();
  (void)trainer.run();
  row["train_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  row["peak_rss_mib"] = peak_rss_mib();
  auto pipeline = load_pipeline({.decoder = a.decoder,
                                 .source_encoder = a.source_encoder,
                                 .aligner = trainer.model_path(),
                                 .length = 16,
                                 .source_length = source.source_len});
  row["latency_ms"] = std::visit([&](auto& p) { return conditioning_latency_ms(p.aligner, source); }, pipeline);
  row["images"] = std::visit([&](auto& p) { return score_pipeline(p, a); }, pipeline);
  return write_row(a, row);
}

/// LaVi-Bridge (Zhao et al. 2024, sec. 3.2): a fresh adapter and LoRA (rank 8) in the frozen decoder.
int lavi_bridge_row(const Args& a) {
  return denoising_row<train::LaviBridgeUNet<float, Cpu>>(
      a, "train::LaviBridgeUNet (LaviBridgeAdapter + LoRA rank 8)",
      [&](diffusion::UNet2DCondition<float, Cpu> unet, index_t source_dim) {
        const index_t width = unet.config().cross_attention_dim;
        return train::LaviBridgeUNet<float, Cpu>(
            aligners::LaviBridgeAdapter<float, Cpu>({.in_dim = source_dim, .int_dim = source_dim, .out_dim = width},
                                                    a.seed),
            std::move(unet), {.rank = 8, .alpha = 8.0, .seed = a.seed});
      });
}

/// ELLA (Hu et al. 2024): the timestep-aware connector, 2 blocks at the decoder's width, one latent per
/// decoder token (16), the frozen decoder untouched.
int ella_row(const Args& a) {
  return denoising_row<train::TimestepConnectorUNet<float, Cpu>>(
      a, "train::TimestepConnectorUNet (TimestepConnector, 2 blocks)",
      [&](diffusion::UNet2DCondition<float, Cpu> unet, index_t source_dim) {
        const index_t width = unet.config().cross_attention_dim;
        return train::TimestepConnectorUNet<float, Cpu>(
            aligners::TimestepConnector<float, Cpu>({.time_embed_dim = width,
                                                     .width = width,
                                                     .layers = 2,
                                                     .heads = width / 64,
                                                     .num_latents = 16,
                                                     .input_dim = source_dim},
                                                    a.seed),
            std::move(unet));
      });
}

int run_row(const Args& a) {
  if (a.row == "lavi-bridge") return lavi_bridge_row(a);
  if (a.row == "ella-connector") return ella_row(a);
  const train::FeatureDataset data(a.shards);
  const auto& s = data.spec();
  const optim::Schedule cosine = optim::CosineWarmup{.warmup = a.warmup, .total = a.steps};
  // MTN's loss ablation: L_mse, + L_rec, + L_adv, at GlueGen's ratio of weights (1e4 : 1e4 : 0.1) ...
  if (a.row == "mtn-mse") return gluenet_row<GlueNetNoLn>(a, data, gluenet_config(s, 5, 0, 0), "GlueNet", a.lr, cosine);
  if (a.row == "mtn-mse-rec")
    return gluenet_row<GlueNetNoLn>(a, data, gluenet_config(s, 5, 1, 0), "GlueNet", a.lr, cosine);
  if (a.row == "mtn-mse-rec-adv")
    return gluenet_row<GlueNetNoLn>(a, data, gluenet_config(s, 5, 1, 1e-5), "GlueNet", a.lr, cosine);
  // ... and GlueGen's own recipe: the weights as they are, Adam at a constant 1e-4
  if (a.row == "mtn-gluegen-recipe") {
    auto cfg = gluenet_config(s, 5, 1e4, 0.1);
    cfg.lambda_mse = 1e4;
    return gluenet_row<GlueNetNoLn>(a, data, cfg, "GlueNet", 1e-4, optim::Constant{});
  }
  // MTN's depth (3 against 5 residual modules) with and without the LayerNorm tail
  if (a.row == "mtn-depth3")
    return gluenet_row<GlueNetNoLn>(a, data, gluenet_config(s, 3, 0, 0), "GlueNet", a.lr, cosine);
  if (a.row == "mtn-ln-depth3")
    return gluenet_row<GlueNetLn>(a, data, gluenet_config(s, 3, 0, 0), "GlueNet<float, Cpu, Translator, Translator>",
                                  a.lr, cosine);
  if (a.row == "mtn-ln-depth5")
    return gluenet_row<GlueNetLn>(a, data, gluenet_config(s, 5, 0, 0), "GlueNet<float, Cpu, Translator, Translator>",
                                  a.lr, cosine);
  // the loss as a type: f trained on the direction of each token only
  if (a.row == "translator-cosine") {
    const aligners::TranslatorConfig cfg = gluenet_config(s, 5, 0, 0).encoder_config();
    return supervised_row(a, data, TranslatorCosine(aligners::TranslatorNoLn<float, Cpu>(cfg, a.seed)),
                          aligners::translator_meta<false>(cfg), "Supervised<TranslatorNoLn, AllTokens<TokenCosine>>");
  }
  // the other aligner families
  if (a.row == "attention") {
    const aligners::AttentionAlignerConfig cfg{.dim_source = s.source_dim,
                                               .dim = s.target_dim,
                                               .dim_target = s.target_dim,
                                               .num_queries = s.target_len,
                                               .heads = 6,
                                               .depth = 2,
                                               .ff_mult = 4};
    return supervised_row(a, data, Attention(aligners::AttentionAligner<float, Cpu>(cfg, a.seed)),
                          aligners::attention_aligner_meta(cfg), "Supervised<AttentionAligner, AllTokens<TokenMse>>");
  }
  GLUEGEN_CHECK_AS(ValueError, a.row == "ridge",
                   "unknown row '{}' (mtn-mse, mtn-mse-rec, mtn-mse-rec-adv, mtn-gluegen-recipe, mtn-depth3, "
                   "mtn-ln-depth3, mtn-ln-depth5, translator-cosine, attention, ridge, lavi-bridge, ella-connector)",
                   a.row);
  return ridge_row(a, data);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gluegen-ablate: train, measure and score one row of the aligner ablation table"};
  cli::one_line_failures(app, "gluegen-ablate");
  Args a;
  for (int i = 0; i < argc; ++i) a.command += (i ? " " : "") + std::string(i ? argv[i] : "gluegen-ablate");
  app.add_option("--row", a.row, "the row (its aligner type and configuration)")->required();
  app.add_option("--shards", a.shards, "training feature shards (gluegen encode; every row but lavi-bridge)");
  app.add_option("--captions", a.captions, "lavi-bridge: source-encoder caption features (gluegen fashion-captions)");
  app.add_option("--held-out-shards", a.held_out_shards, "evaluate alignment here (default: a split of --shards)");
  app.add_option("--run", a.run, "run directory (checkpoints; a rerun resumes)")->required();
  app.add_option("--out", a.out, "the row's JSON")->required();
  app.add_option("--steps", a.steps)->check(at_least_one)->capture_default_str();
  app.add_option("--warmup", a.warmup)->check(non_negative)->capture_default_str();
  app.add_option("--batch", a.batch)->check(at_least_one)->capture_default_str();
  app.add_option("--held-out", a.held_out, "examples of --shards kept out of training")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--lr", a.lr, "peak learning rate (mtn-gluegen-recipe keeps GlueGen's 1e-4)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--clip", a.clip, "global gradient-norm clip (0: none)")->check(non_negative)->capture_default_str();
  app.add_option("--seed", a.seed, "initialisation, data order and image noise")->capture_default_str();
  app.add_option("--ridge-examples", a.ridge_examples, "examples the ridge row fits on")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--decoder", a.decoder, "the default decoder: score generated images (leave out to skip)");
  app.add_option("--source-encoder", a.source_encoder, "the encoder the shards' sources came from");
  app.add_option("--encoder", a.encoder, "the decoder's own encoder (its null conditioning)");
  app.add_option("--scorer", a.scorer, "the default model's scorer");
  app.add_option("--language", a.language, "score the caption-template prompts of this language");
  app.add_option("--prompts", a.prompts, "score these hand-written prompts (a prompt file)");
  app.add_option("--languages", a.languages, "of --prompts, only these languages")->delimiter(',');
  app.add_option("--per-prompt", a.per_prompt, "images per prompt")->check(at_least_one)->capture_default_str();
  app.add_option("--sample-steps", a.sample_steps, "DPM-Solver++ steps per image")
      ->check(at_least_one)
      ->capture_default_str();
  app.add_flag("--quiet", a.quiet);
  CLI11_PARSE(app, argc, argv);
  try {
    GLUEGEN_CHECK_AS(ValueError,
                     a.decoder.empty() || (!a.source_encoder.empty() && !a.encoder.empty() && !a.scorer.empty()),
                     "--decoder needs --source-encoder, --encoder and --scorer");
    return run_row(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gluegen-ablate: %s\n", e.what());
    return 1;
  }
}
