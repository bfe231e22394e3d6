#pragma once
// The default target model's commands (issue 8): build its caption features with the real
// all-MiniLM-L6-v2, and train its pixel-space decoder on Fashion-MNIST scenes.
//   gluegen fashion-captions --encoder DIR --out FILE [--length 16]
//   gluegen train-decoder --captions FILE --run DIR [--steps N ...]   (resumes an existing run)
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/diffusion/scheduler.hpp>
#include <gluegen/train/fashion_data.hpp>

#include <CLI/CLI.hpp>

namespace gluegen::cli {

struct CaptionArgs {
  std::string encoder, out;
  index_t length = 16, batch = 64;
  bool quiet = false;
};

inline int fashion_captions_command(const CaptionArgs& a) {
  encoders::HfTextEncoder<float, Cpu> encoder(a.encoder);
  const auto captions = train::fashion::all_captions();
  const auto n = static_cast<index_t>(captions.size());
  Tensor<float, Cpu> features(Shape{n, a.length, encoder.width()});
  std::vector<std::string> texts;
  std::vector<std::int32_t> cls, colour;
  Progress progress("encode captions", n, "captions", 0, !a.quiet);
  for (index_t i = 0; i < n; i += a.batch) {
    const index_t end = std::min(n, i + a.batch);
    std::vector<std::string> chunk;
    for (index_t k = i; k < end; ++k) chunk.push_back(captions[static_cast<std::size_t>(k)].text);
    const auto out = encoder.encode(chunk, a.length);
    Tensor<float, Cpu> dst = features.slice(i, end);
    ops::copy(out.last_hidden_state, dst);
    progress.update(end, "");
  }
  for (const auto& c : captions) {
    texts.push_back(c.text);
    cls.push_back(c.cls);
    colour.push_back(c.colour);
  }
  io::WeightWriter w(a.out, {.model_type = train::fashion::kCaptionsModelType,
                             .config = {{"encoder", encoder.name()}, {"length", a.length}, {"width", encoder.width()}, {"captions", n}}});
  w.write("features", features, DType::f16);
  w.write_strings("text", texts);
  w.write("class", Tensor<std::int32_t, Cpu>::from_host({n}, cls));
  w.write("colour", Tensor<std::int32_t, Cpu>::from_host({n}, colour));
  w.commit();
  std::printf("%lld captions x %lld tokens x %lld (%s) -> %s\n", static_cast<long long>(n), static_cast<long long>(a.length),
              static_cast<long long>(encoder.width()), encoder.name().c_str(), a.out.c_str());
  return 0;
}

struct DecoderArgs {
  std::string captions, run, fashion_dir = train::fashion::kDefaultFashionDir, prediction = "epsilon";
  std::vector<index_t> channels{32, 64, 64};
  index_t heads = 4, layers = 1, batch = 32;
  std::int64_t steps = 20000, warmup = 500, log_every = 50, checkpoint_every = 250;
  double lr = 2e-4, ema = 0.999, dropout = 0.1, clip = 1.0;
  std::uint64_t seed = 0;
  bool quiet = false;
};

/// The default decoder: pixel space 3x32x32, no attention at full resolution, cross-attention on
/// the caption features at 16x16 and 8x8 (an SD-style UNet in miniature).
inline diffusion::UNet2DConditionConfig default_decoder_config(const DecoderArgs& a, index_t context_dim) {
  diffusion::UNet2DConditionConfig c;
  c.sample_size = train::fashion::kSide;
  c.in_channels = c.out_channels = 3;
  c.block_out_channels = a.channels;
  const auto n = a.channels.size();
  c.down_block_types.assign(n, "CrossAttnDownBlock2D");
  c.down_block_types.front() = "DownBlock2D";
  c.up_block_types.assign(n, "CrossAttnUpBlock2D");
  c.up_block_types.back() = "UpBlock2D";
  c.layers_per_block = a.layers;
  c.heads.assign(n, a.heads);
  c.transformer_layers_per_block.assign(n, 1);
  c.norm_num_groups = 8;
  c.cross_attention_dim = context_dim;
  c.validate();
  return c;
}

/// The noise schedule the default decoder trains and samples with (DDPM's linear betas).
inline diffusion::SchedulerConfig decoder_noise(const std::string& prediction) {
  auto s = diffusion::SchedulerConfig::from_json(nlohmann::json{{"prediction_type", prediction == "v" ? "v_prediction" : "epsilon"}},
                                                 diffusion::DdpmScheduler<>::default_config());
  s.clip_sample = false;
  return s;
}

inline int train_decoder_command(const DecoderArgs& a) {
  auto captions = train::fashion::CaptionFeatures<float>::load(a.captions);
  const index_t context_dim = captions.features.size(2);
  train::fashion::SceneCaptionData<float> data(train::fashion::FashionMnist::load(a.fashion_dir, true), std::move(captions), a.dropout);
  diffusion::UNet2DCondition<float, Cpu> unet(default_decoder_config(a, context_dim), a.seed);
  if (!a.quiet)
    std::fprintf(stderr, "decoder: %.2f M parameters, channels %s, context %lld x %lld (%s)\n", nn::count_parameters(unet).total / 1e6,
                 fmt::format("{}", fmt::join(a.channels, "/")).c_str(), static_cast<long long>(data.captions().features.size(1)),
                 static_cast<long long>(context_dim), data.captions().encoder.c_str());
  train::DecoderTrainer<float, Cpu, train::fashion::SceneCaptionData<float>> trainer(
      unet, decoder_noise(a.prediction), data,
      {.run_dir = a.run, .steps = a.steps, .batch = a.batch, .lr = a.lr, .warmup = a.warmup, .grad_clip = a.clip, .ema_decay = a.ema,
       .log_every = a.log_every, .checkpoint_every = a.checkpoint_every, .seed = a.seed, .progress = !a.quiet});
  const double loss = trainer.run();
  std::printf("step %lld: loss %.5f; decoder (EMA weights) in %s\n", static_cast<long long>(trainer.step()), loss, trainer.model_path().c_str());
  return 0;
}

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
inline std::function<int()> add_decoder_commands(CLI::App& app) {
  auto cap = std::make_shared<CaptionArgs>();
  auto* cap_cmd = app.add_subcommand("fashion-captions", "encode every caption of the default model's scenes with a text encoder");
  cap_cmd->add_option("--encoder", cap->encoder, "text encoder: a Hugging Face model folder (all-MiniLM-L6-v2)")->required()->check(CLI::ExistingDirectory);
  cap_cmd->add_option("--out", cap->out, "caption features file (.h5)")->required();
  cap_cmd->add_option("--length", cap->length, "tokens per caption (padded / truncated)")->capture_default_str();
  cap_cmd->add_flag("--quiet", cap->quiet, "no progress line");

  auto dec = std::make_shared<DecoderArgs>();
  auto* dec_cmd = app.add_subcommand("train-decoder", "train the default pixel-space decoder on Fashion-MNIST scenes (resumes a run directory)");
  dec_cmd->add_option("--captions", dec->captions, "caption features (gluegen fashion-captions)")->required()->check(CLI::ExistingFile);
  dec_cmd->add_option("--run", dec->run, "run directory: checkpoint.h5, decoder.h5, metrics.jsonl")->required();
  dec_cmd->add_option("--fashion-dir", dec->fashion_dir, "Fashion-MNIST IDX files (Debian dataset-fashion-mnist)")->capture_default_str();
  dec_cmd->add_option("--channels", dec->channels, "block_out_channels")->capture_default_str();
  dec_cmd->add_option("--heads", dec->heads, "attention heads per level")->capture_default_str();
  dec_cmd->add_option("--layers", dec->layers, "layers_per_block")->capture_default_str();
  dec_cmd->add_option("--prediction", dec->prediction, "training target")->check(CLI::IsMember({"epsilon", "v"}))->capture_default_str();
  dec_cmd->add_option("--steps", dec->steps, "total optimizer steps")->capture_default_str();
  dec_cmd->add_option("--batch", dec->batch, "images per step")->capture_default_str();
  dec_cmd->add_option("--lr", dec->lr, "AdamW learning rate")->capture_default_str();
  dec_cmd->add_option("--warmup", dec->warmup, "linear warm-up steps")->capture_default_str();
  dec_cmd->add_option("--ema", dec->ema, "EMA decay of the exported weights")->capture_default_str();
  dec_cmd->add_option("--caption-dropout", dec->dropout, "fraction of empty captions (classifier-free guidance)")->capture_default_str();
  dec_cmd->add_option("--clip-grad", dec->clip, "global gradient-norm clip (0: off)")->capture_default_str();
  dec_cmd->add_option("--log-every", dec->log_every, "steps between metrics lines")->capture_default_str();
  dec_cmd->add_option("--checkpoint-every", dec->checkpoint_every, "steps between checkpoints")->capture_default_str();
  dec_cmd->add_option("--seed", dec->seed, "initialisation and data seed")->capture_default_str();
  dec_cmd->add_flag("--quiet", dec->quiet, "no progress line");

  return [=]() -> int {
    if (cap_cmd->parsed()) return fashion_captions_command(*cap);
    if (dec_cmd->parsed()) return train_decoder_command(*dec);
    return -1;
  };
}

}  // namespace gluegen::cli
