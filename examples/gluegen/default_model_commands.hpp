#pragma once
// The default target model's commands (issue 8): caption features with the real all-MiniLM-L6-v2,
// the pixel-space decoder trained on Fashion-MNIST scenes, its scorer, generation and evaluation.
//   gluegen fashion-captions --encoder DIR --out FILE [--length 16] [--languages en,de,...]
//   gluegen train-decoder --captions FILE --run DIR [--steps N ...]   (resumes an existing run)
//   gluegen train-lavi-bridge --decoder FILE --captions FILE --run DIR [--rank 8 ...] [--language-model DIR]
//                             (LaVi-Bridge: adapter + LoRA; with --language-model, LoRA in it too)
//   gluegen train-scorer --out FILE [--epochs 3]
//   gluegen generate --decoder FILE (--encoder DIR | --source-encoder DIR --aligner FILE) --prompt TEXT... --out PNG
//   gluegen eval-images --decoder FILE --scorer FILE (--captions FILE | [--language xx] --encoder DIR |
//                       --language xx --source-encoder DIR --aligner FILE) --out DIR
//   gluegen fashion-corpus --out TSV [--languages en,de,fr,es,zh]   (GlueGen's multilingual experiment)
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/train/denoising_alignment.hpp>
#include <gluegen/eval/fashion_classifier.hpp>
#include <gluegen/eval/frechet.hpp>
#include <gluegen/diffusion/sampling.hpp>
#include <gluegen/io/png.hpp>
#include <gluegen/losses/adversarial.hpp>
#include <gluegen/diffusion/scheduler.hpp>
#include <gluegen/train/fashion_data.hpp>

#include <CLI/CLI.hpp>

#include <map>

namespace gluegen::cli {

struct CaptionArgs {
  std::string encoder, out;
  std::vector<std::string> languages{"en"};
  index_t length = 16, batch = 64;
  bool quiet = false;
};

inline int fashion_captions_command(const CaptionArgs& a) {
  encoders::HfTextEncoder<float, Cpu> encoder(a.encoder);
  const auto captions = train::fashion::all_captions(a.languages);
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
                             .config = {{"encoder", encoder.name()}, {"length", a.length}, {"width", encoder.width()}, {"captions", n},
                                        {"languages", a.languages}}});
  w.write("features", features, DType::f16);
  w.write_strings("text", texts);
  w.write("class", Tensor<std::int32_t, Cpu>::from_host({n}, cls));
  w.write("colour", Tensor<std::int32_t, Cpu>::from_host({n}, colour));
  w.commit();
  std::printf("%lld captions x %lld tokens x %lld (%s) -> %s\n", static_cast<long long>(n), static_cast<long long>(a.length),
              static_cast<long long>(encoder.width()), encoder.name().c_str(), a.out.c_str());
  return 0;
}

struct CorpusArgs {
  std::string out;
  std::vector<std::string> languages{"en", "de", "fr", "es", "zh"};
  bool include_held_out = false;
};

/// A parallel corpus for GlueGen's multilingual experiment (TSV: source text, target text, language):
/// every English caption paired with itself, and each other language's captions paired with the
/// English caption of the same class and colour. The held-out combinations are left out unless asked.
inline int fashion_corpus_command(const CorpusArgs& a) {
  namespace fm = train::fashion;
  std::filesystem::create_directories(std::filesystem::absolute(a.out).parent_path());
  const std::string tmp = a.out + ".partial";
  std::ofstream out(tmp);
  std::map<std::string, index_t> lines;
  for (const auto& tag : a.languages) {
    if (tag == "en") {
      for (const auto& c : fm::all_captions())
        if (c.cls >= 0 && (a.include_held_out || !fm::held_out(c.cls, c.colour))) out << c.text << '\t' << c.text << "\ten\n", ++lines[tag];
      continue;
    }
    const auto& language = fm::language(tag);
    for (int cls = 0; cls < fm::kClasses; ++cls)
      for (int col = 0; col < fm::kColours; ++col)
        if (a.include_held_out || !fm::held_out(cls, col))
          for (int t = 0; t < static_cast<int>(language.templates.size()); ++t)
            out << fm::caption_in(tag, t, cls, col) << '\t' << fm::caption_in("en", 0, cls, col) << '\t' << tag << '\n', ++lines[tag];
  }
  out.close();
  GLUEGEN_CHECK_AS(IoError, !out.fail(), "cannot write '{}'", tmp);
  std::filesystem::rename(tmp, a.out);
  for (const auto& [tag, n] : lines) std::printf("%s: %lld lines\n", tag.c_str(), static_cast<long long>(n));
  std::printf("-> %s\n", a.out.c_str());
  return 0;
}

struct DecoderArgs {
  std::string captions, run, fashion_dir = train::fashion::kDefaultFashionDir, prediction = "epsilon";
  std::vector<index_t> channels{32, 64, 64};
  index_t heads = 4, layers = 1, batch = 32;
  std::int64_t steps = 20000, warmup = 500, log_every = 50, checkpoint_every = 250;
  double lr = 2e-4, ema = 0.999, dropout = 0.1, clip = 1.0, min_snr_gamma = 5.0;
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
       .min_snr_gamma = a.min_snr_gamma, .log_every = a.log_every, .checkpoint_every = a.checkpoint_every, .seed = a.seed, .progress = !a.quiet});
  const double loss = trainer.run();
  std::printf("step %lld: loss %.5f; decoder (EMA weights) in %s\n", static_cast<long long>(trainer.step()), loss, trainer.model_path().c_str());
  return 0;
}

struct LaviBridgeArgs {
  std::string decoder;
  DecoderArgs train = [] {  // a fresh adapter on a trained decoder: shorter, with a higher rate
    DecoderArgs d;
    d.steps = 1500;
    d.warmup = 100;
    d.lr = 1e-3;
    return d;
  }();
  index_t rank = 8, int_dim = 0;  ///< int_dim 0: the source encoder's width
  std::string language_model;     ///< set: run it in each step with LoRA in its attention (from the captions' texts)
};

/// LaVi-Bridge on the default decoder (Zhao et al. 2024, sec. 3.2): a fresh adapter maps a source
/// encoder's caption features into the frozen decoder's conditioning, and LoRA in the decoder's
/// attention, GEGLU and ResNet layers adapts it, both trained on the decoder's own denoising loss.
inline int train_lavi_bridge_command(const LaviBridgeArgs& a) {
  const DecoderArgs& t = a.train;
  auto captions = train::fashion::CaptionFeatures<float>::load(t.captions);
  const index_t source_dim = captions.features.size(2);
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(a.decoder));
  const index_t width = unet.config().cross_attention_dim;
  train::LaviBridgeUNet<float, Cpu> bridge(aligners::LaviBridgeAdapter<float, Cpu>({.in_dim = source_dim, .int_dim = a.int_dim > 0 ? a.int_dim : source_dim,
                                                                                     .out_dim = width}, t.seed),
                                           std::move(unet), {.rank = a.rank, .alpha = static_cast<double>(a.rank), .seed = t.seed});
  const auto describe = [&](auto& model, index_t text_layers, const std::string& encoder) {
    if (t.quiet) return;
    const auto counts = nn::count_parameters(model);
    std::fprintf(stderr, "LaVi-Bridge: adapter %lld -> %lld -> %lld, LoRA rank %lld in %lld decoder layers%s; %.3f M of %.2f M parameters train (%s)\n",
                 static_cast<long long>(source_dim), static_cast<long long>(bridge.adapter.config().int_dim), static_cast<long long>(width),
                 static_cast<long long>(a.rank), static_cast<long long>(bridge.lora_layers()),
                 text_layers > 0 ? fmt::format(" and {} language-model layers", text_layers).c_str() : "", counts.trainable / 1e6, counts.total / 1e6,
                 encoder.c_str());
  };
  const train::DecoderTrainerOptions options{
      .run_dir = t.run, .export_file = "aligner.h5", .progress_label = "train lavi-bridge", .steps = t.steps, .batch = t.batch, .lr = t.lr,
      .warmup = t.warmup, .grad_clip = t.clip, .ema_decay = t.ema, .min_snr_gamma = t.min_snr_gamma, .log_every = t.log_every,
      .checkpoint_every = t.checkpoint_every, .seed = t.seed, .progress = !t.quiet};
  const auto finish = [](const auto& trainer, double loss) {
    std::printf("step %lld: loss %.5f; adapter + LoRA (EMA weights) in %s\n", static_cast<long long>(trainer.step()), loss, trainer.model_path().c_str());
    return 0;
  };
  auto images = train::fashion::FashionMnist::load(t.fashion_dir, true);
  if (a.language_model.empty()) {  // the adapter reads the captions file's features
    train::fashion::SceneCaptionData<float> data(std::move(images), std::move(captions), t.dropout);
    describe(bridge, 0, data.captions().encoder);
    train::DecoderTrainer<float, Cpu, train::fashion::SceneCaptionData<float>, train::LaviBridgeUNet<float, Cpu>> trainer(
        bridge, decoder_noise(t.prediction), data, options);
    const double loss = trainer.run();
    return finish(trainer, loss);
  }
  // the language model runs in every step on the captions' token ids, as the captions file tokenized them
  encoders::HfTextEncoder<float, Cpu> lm(a.language_model);
  GLUEGEN_CHECK_AS(ValueError, lm.name() == captions.encoder && lm.width() == source_dim,
                   "--language-model '{}' ({} wide) is not the encoder '{}' ({} wide) the captions file {} was made with", a.language_model, lm.width(),
                   captions.encoder, source_dim, t.captions);
  using Data = train::fashion::SceneCaptionData<float, train::fashion::CaptionTokens>;
  Data data(std::move(images), train::fashion::CaptionTokens::tokenize(captions, lm.tokenizer()), t.dropout);
  train::LaviBridgeLmUNet<float, Cpu> model(std::move(lm.model()), std::move(bridge));
  describe(model, model.text_encoder_lora_layers(), data.captions().encoder);
  train::DecoderTrainer<float, Cpu, Data, train::LaviBridgeLmUNet<float, Cpu>> trainer(model, decoder_noise(t.prediction), data, options);
  const double loss = trainer.run();
  return finish(trainer, loss);
}

struct ScorerArgs {
  std::string out, fashion_dir = train::fashion::kDefaultFashionDir;
  index_t epochs = 3, batch = 64;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  bool quiet = false;
};

/// Items [n, 1, 28, 28] in [0, 1] from bytes.
inline Tensor<float, Cpu> items_tensor(const train::fashion::FashionMnist& d, std::span<const index_t> rows) {
  constexpr index_t px = train::fashion::kItemSide * train::fashion::kItemSide;
  std::vector<float> v(rows.size() * px);
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (index_t k = 0; k < px; ++k) v[r * px + static_cast<std::size_t>(k)] = d.image(rows[r])[k] / 255.0f;
  return Tensor<float, Cpu>::from_host({static_cast<index_t>(rows.size()), 1, 28, 28}, v);
}

/// Classifies [n, 1, 28, 28] items; fills the predicted class and (optionally) penultimate features.
inline std::vector<int> classify(eval::FashionClassifier<float, Cpu>& net, const Tensor<float, Cpu>& items, std::vector<float>* features = nullptr,
                                 index_t batch = 256) {
  std::vector<int> out;
  eval::FashionClassifier<float, Cpu>::Cache cache;
  for (index_t i = 0; i < items.size(0); i += batch) {
    const index_t end = std::min(items.size(0), i + batch);
    const auto logp = net.forward(items.slice(i, end).contiguous(), cache).to_vector();
    for (index_t r = 0; r < end - i; ++r) {
      const auto* row = logp.data() + r * 10;
      out.push_back(static_cast<int>(std::max_element(row, row + 10) - row));
    }
    if (features) {
      const auto f = net.features(cache).to_vector();
      features->insert(features->end(), f.begin(), f.end());
    }
  }
  return out;
}

inline double accuracy(const std::vector<int>& predicted, std::span<const std::uint8_t> labels) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) ok += predicted[i] == labels[i];
  return static_cast<double>(ok) / static_cast<double>(predicted.size());
}

inline int train_scorer_command(const ScorerArgs& a) {
  const auto train = train::fashion::FashionMnist::load(a.fashion_dir, true), test = train::fashion::FashionMnist::load(a.fashion_dir, false);
  eval::FashionClassifier<float, Cpu> net(a.seed);
  optim::AdamW<eval::FashionClassifier<float, Cpu>> adam(net, {.lr = a.lr, .weight_decay = 1e-4});
  eval::FashionClassifier<float, Cpu>::Cache cache;
  std::vector<index_t> all_test(static_cast<std::size_t>(test.count));
  std::iota(all_test.begin(), all_test.end(), 0);
  const Tensor<float, Cpu> test_items = items_tensor(test, all_test);
  double test_acc = 0;
  const index_t steps_per_epoch = train.count / a.batch;
  for (index_t epoch = 0; epoch < a.epochs; ++epoch) {
    const auto order = rng::random_permutation(train.count, a.seed, static_cast<std::uint64_t>(epoch));
    Progress progress(fmt::format("scorer epoch {}/{}", epoch + 1, a.epochs), steps_per_epoch, "steps", 0, !a.quiet);
    double loss_sum = 0;
    for (index_t s = 0; s < steps_per_epoch; ++s) {
      std::vector<index_t> rows(order.begin() + s * a.batch, order.begin() + (s + 1) * a.batch);
      std::vector<int> labels;
      for (const index_t r : rows) labels.push_back(train.labels[static_cast<std::size_t>(r)]);
      nn::zero_grad(net);
      Tensor<float, Cpu> d_logp;
      loss_sum += losses::nll(net.forward(items_tensor(train, rows), cache), labels, d_logp);
      net.backward(d_logp, cache);
      adam.set_lr(a.lr * 0.5 * (1 + std::cos(std::numbers::pi * static_cast<double>(epoch * steps_per_epoch + s) / static_cast<double>(a.epochs * steps_per_epoch))));
      adam.step();
      if ((s + 1) % 50 == 0 || s + 1 == steps_per_epoch) progress.update(s + 1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(s + 1)));
    }
    test_acc = accuracy(classify(net, test_items), test.labels);
    std::printf("epoch %lld: train loss %.4f, test accuracy %.2f%% (10000 real test images)\n", static_cast<long long>(epoch + 1),
                loss_sum / static_cast<double>(steps_per_epoch), 100 * test_acc);
  }
  io::WeightWriter w(a.out, {.model_type = eval::kFashionClassifierModelType, .config = {{"test_accuracy", test_acc}, {"epochs", a.epochs}}});
  nn::save_parameters(net, w);
  w.commit();
  std::printf("scorer -> %s\n", a.out.c_str());
  return 0;
}

inline eval::FashionClassifier<float, Cpu> load_scorer(const std::string& path) {
  const io::WeightReader in(path);
  GLUEGEN_CHECK_AS(IoError, in.meta().model_type == eval::kFashionClassifierModelType, "'{}' is not a scorer (model_type '{}')", path, in.meta().model_type);
  eval::FashionClassifier<float, Cpu> net;
  nn::load_parameters(net, in);
  return net;
}

struct SampleArgs {
  std::string scheduler = "DPMSolverMultistepScheduler";
  index_t steps = 25, batch = 32;
  double guidance = 4.0;
  std::uint64_t seed = 0;
};

/// Generates one image per conditioning row (cond [N, L, D]); image i's starting noise depends only
/// on (seed, i), so results do not depend on the batch size. Returns [N, 3, 32, 32] in [-1, 1].
inline Tensor<float, Cpu> generate_images(diffusion::UNet2DCondition<float, Cpu>& unet, const Tensor<float, Cpu>& cond,
                                          const Tensor<float, Cpu>& uncond, const SampleArgs& a, bool progress) {
  const index_t n = cond.size(0), C = unet.config().in_channels, S = unet.config().sample_size;
  Tensor<float, Cpu> out(Shape{n, C, S, S});
  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config(a.scheduler, {{"beta_schedule", "linear"}, {"beta_start", 0.0001},
                                                                                 {"beta_end", 0.02}, {"clip_sample", false}});
  Progress bar("generate", n, "images", 0, progress);
  for (index_t i = 0; i < n; i += a.batch) {
    const index_t end = std::min(n, i + a.batch);
    Tensor<float, Cpu> noise(Shape{end - i, C, S, S});
    for (index_t k = i; k < end; ++k) {
      Tensor<float, Cpu> row = noise.slice(k - i, k - i + 1);
      ops::copy(ops::randn<float, Cpu>({1, C, S, S}, a.seed, static_cast<std::uint64_t>(k)), row);
    }
    const Tensor<float, Cpu> x = diffusion::sample(unet, scheduler, cond.slice(i, end).contiguous(), &uncond, noise,
                                                   {.steps = a.steps, .guidance_scale = a.guidance, .seed = a.seed + static_cast<std::uint64_t>(i)});
    Tensor<float, Cpu> dst = out.slice(i, end);
    ops::copy(x, dst);
    bar.update(end, "");
  }
  return out;
}

/// Where a decoder's conditioning comes from: its own text encoder (`encoder`), or GlueGen's glued
/// pipeline, a source encoder whose token features an aligner maps into the decoder's space.
struct ConditionArgs {
  std::string encoder, source_encoder, aligner;
  index_t length = 16, source_length = 16;

  [[nodiscard]] bool glued() const { return !aligner.empty(); }
};

/// Conditioning [B, L, D] for `texts` and the unconditional row [1, L, D], checked against the
/// decoder's cross-attention width. The unconditional row is the decoder's own null conditioning, its
/// encoder on the empty prompt (what caption dropout trained it on), whenever `encoder` is given, also
/// in the glued pipeline; without it, the empty prompt goes through the glued path.
inline std::pair<Tensor<float, Cpu>, Tensor<float, Cpu>> encode_condition(const ConditionArgs& a, std::vector<std::string> texts, index_t width) {
  GLUEGEN_CHECK_AS(ValueError, a.glued() || !a.encoder.empty(), "give the decoder's text encoder (--encoder) or a source encoder and an aligner");
  GLUEGEN_CHECK_AS(ValueError, !a.glued() || !a.source_encoder.empty(), "--aligner needs --source-encoder, the encoder it was trained on");
  const auto own = [&](const std::vector<std::string>& t) {
    return encoders::HfTextEncoder<float, Cpu>(a.encoder).encode(t, a.length).last_hidden_state.clone();
  };
  // the empty prompt rides in the prompts' batch unless it comes from the decoder's own encoder beside the glue
  const bool null_in_batch = !a.glued() || a.encoder.empty();
  if (null_in_batch) texts.emplace_back();
  Tensor<float, Cpu> all;
  if (a.glued()) {
    const io::WeightReader file(a.aligner);
    encoders::HfTextEncoder<float, Cpu> source(a.source_encoder);
    if (file.meta().model_type == aligners::kLaviBridgeModelType && aligners::LaviBridgeFile::read(file).text_encoder_lora)
      aligners::add_lavi_bridge_lora(file, source.model());  // LaVi-Bridge trained LoRA in the language model too
    const auto s = source.encode(texts, a.source_length);
    all = aligners::visit_aligner_file<float, Cpu>(file, [&](auto& aligner) {
      aligner.set_training(false);
      typename std::remove_cvref_t<decltype(aligner)>::Cache cache;
      return aligner.align(s.last_hidden_state, s.mask, cache).clone();
    });
  } else {
    all = own(texts);
  }
  const index_t n = all.size(0) - (null_in_batch ? 1 : 0);
  const Tensor<float, Cpu> cond = all.slice(0, n).contiguous();
  const Tensor<float, Cpu> uncond = null_in_batch ? all.slice(n, n + 1).contiguous() : own({""});
  for (const auto* t : {&cond, &uncond})
    GLUEGEN_CHECK_AS(ValueError, t->rank() == 3 && t->size(2) == width, "the decoder attends to {}-wide features; {} gives {}", width,
                     a.glued() ? a.aligner : a.encoder, t->shape());
  return {cond, uncond};
}

/// The decoder; with a LaVi-Bridge aligner file, with that file's LoRA injected (the adapter alone
/// conditions the decoder it was trained with, LoRA included).
inline diffusion::UNet2DCondition<float, Cpu> load_decoder(const std::string& decoder, const ConditionArgs& c) {
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(decoder));
  if (c.glued()) {
    const io::WeightReader aligner(c.aligner);
    if (aligner.meta().model_type == aligners::kLaviBridgeModelType) aligners::add_lavi_bridge_lora(aligner, unet);
  }
  return unet;
}

struct GenerateArgs {
  std::string decoder, out = "generated.png";
  ConditionArgs condition;
  std::vector<std::string> prompts;
  index_t per_prompt = 4;
  SampleArgs sample;
  bool quiet = false;
};

inline int generate_command(const GenerateArgs& a) {
  auto unet = load_decoder(a.decoder, a.condition);
  std::vector<std::string> texts;
  for (const auto& p : a.prompts)
    for (index_t k = 0; k < a.per_prompt; ++k) texts.push_back(p);
  const auto [cond, uncond] = encode_condition(a.condition, texts, unet.config().cross_attention_dim);
  const Tensor<float, Cpu> images = generate_images(unet, cond, uncond, a.sample, !a.quiet);
  std::vector<io::Image> cells;
  for (index_t i = 0; i < images.size(0); ++i) cells.push_back(io::to_image(images.select(i)));
  io::write_png(a.out, io::image_grid(cells, texts, {.columns = a.per_prompt, .upscale = 3, .caption_lines = 2}));
  std::printf("%zu images -> %s\n", cells.size(), a.out.c_str());
  return 0;
}

struct EvalImagesArgs {
  std::string decoder, scorer, captions, language = "en", out = "eval-images", fashion_dir = train::fashion::kDefaultFashionDir;
  ConditionArgs condition;
  index_t per_prompt = 8, grid_per_prompt = 4;
  SampleArgs sample;
  bool quiet = false;
};

struct ComboScore {
  int cls, colour;
  bool held_out;
  index_t n = 0, class_ok = 0, colour_ok = 0, both_ok = 0;
};

inline int eval_images_command(const EvalImagesArgs& a) {
  namespace fm = train::fashion;
  auto unet = load_decoder(a.decoder, a.condition);
  auto scorer = load_scorer(a.scorer);
  const auto test = fm::FashionMnist::load(a.fashion_dir, false);
  // one prompt per class x colour: the first template with the first synonyms ("a red sneaker"), or
  // the first template of --language ("Turnschuh in Rot")
  std::vector<ComboScore> combos;
  std::vector<std::string> prompts;
  for (int cls = 0; cls < fm::kClasses; ++cls)
    for (int col = 0; col < fm::kColours; ++col) {
      combos.push_back({cls, col, fm::held_out(cls, col)});
      prompts.push_back(fm::caption_in(a.language, 0, cls, col));
    }
  Tensor<float, Cpu> cond, uncond;
  if (!a.captions.empty()) {  // the precomputed English caption features (the decoder's training conditioning)
    GLUEGEN_CHECK_AS(ValueError, a.language == "en" && a.condition.encoder.empty() && !a.condition.glued(),
                     "--captions holds English features; for --language, --encoder or --aligner leave it out");
    const auto captions = fm::CaptionFeatures<float>::load(a.captions);
    std::vector<index_t> rows;
    for (const auto& text : prompts) {
      const index_t row = captions.find(text);
      GLUEGEN_CHECK_AS(ValueError, row >= 0, "'{}' has no caption '{}'", a.captions, text);
      for (index_t k = 0; k < a.per_prompt; ++k) rows.push_back(row);
    }
    cond = captions.gather(rows);
    const std::array<index_t, 1> empty{captions.find("")};
    uncond = captions.gather(empty);
  } else {
    std::vector<std::string> texts;
    for (const auto& text : prompts)
      for (index_t k = 0; k < a.per_prompt; ++k) texts.push_back(text);
    std::tie(cond, uncond) = encode_condition(a.condition, texts, unet.config().cross_attention_dim);
  }
  const Tensor<float, Cpu> images = generate_images(unet, cond, uncond, a.sample, !a.quiet);

  // score: class from the scorer on the recovered intensity, colour from the foreground hue
  const index_t n = images.size(0), px = fm::kItemSide * fm::kItemSide, sp = 3 * fm::kSide * fm::kSide;
  const auto pixels = images.to_vector();
  std::vector<float> items(static_cast<std::size_t>(n * px));
  std::vector<int> colour_pred(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    fm::scene_intensity(pixels.data() + i * sp, items.data() + i * px);
    colour_pred[static_cast<std::size_t>(i)] = fm::scene_colour(pixels.data() + i * sp);
  }
  std::vector<float> gen_features;
  const auto class_pred = classify(scorer, Tensor<float, Cpu>::from_host({n, 1, 28, 28}, items), &gen_features);
  std::vector<float> features_in, features_out;
  for (std::size_t c = 0; c < combos.size(); ++c)
    for (index_t k = 0; k < a.per_prompt; ++k) {
      const auto i = static_cast<std::size_t>(static_cast<index_t>(c) * a.per_prompt + k);
      ComboScore& s = combos[c];
      const bool cls_ok = class_pred[i] == s.cls, col_ok = colour_pred[i] == s.colour;
      ++s.n;
      s.class_ok += cls_ok;
      s.colour_ok += col_ok;
      s.both_ok += cls_ok && col_ok;
      auto& dst = s.held_out ? features_out : features_in;
      dst.insert(dst.end(), gen_features.begin() + static_cast<std::ptrdiff_t>(i * 128), gen_features.begin() + static_cast<std::ptrdiff_t>((i + 1) * 128));
    }
  // the reference: real test items (the scorer sees intensity only, so the colour does not matter)
  std::vector<index_t> all_test(static_cast<std::size_t>(test.count));
  std::iota(all_test.begin(), all_test.end(), 0);
  std::vector<float> real_features;
  const double ceiling = accuracy(classify(scorer, items_tensor(test, all_test), &real_features), test.labels);
  // colour ceiling: the hue rule on real scenes of every held-out combination
  index_t colour_real_ok = 0, colour_real_n = 0;
  std::vector<float> scene(static_cast<std::size_t>(sp));
  for (index_t i = 0; i < test.count; i += 10) {
    const int cls = test.labels[static_cast<std::size_t>(i)];
    for (int col = 0; col < fm::kColours; ++col)
      if (fm::held_out(cls, col)) {
        fm::render_scene(test.image(i), col, scene.data());
        colour_real_ok += fm::scene_colour(scene.data()) == col;
        ++colour_real_n;
      }
  }
  const auto real_fit = eval::fit_gaussian(real_features, 128);
  nlohmann::json report{{"decoder", a.decoder}, {"language", a.language},
                        {"conditioning", a.condition.glued() ? "glued: " + a.condition.source_encoder + " + " + a.condition.aligner +
                                                                (a.condition.encoder.empty() ? "" : "; null from " + a.condition.encoder)
                                         : a.captions.empty() ? a.condition.encoder : a.captions},
                        {"scheduler", a.sample.scheduler}, {"steps", a.sample.steps}, {"guidance", a.sample.guidance},
                        {"per_prompt", a.per_prompt}, {"seed", a.sample.seed},
                        {"scorer_ceiling", {{"class_accuracy_real_test", ceiling},
                                            {"colour_accuracy_real_held_out_scenes", static_cast<double>(colour_real_ok) / static_cast<double>(colour_real_n)}}}};
  std::string md = fmt::format("| prompts | images | class acc. | colour acc. | both | Fréchet distance (scorer features) |\n|---|---:|---:|---:|---:|---:|\n");
  for (const bool held_out : {false, true}) {
    index_t N = 0, c1 = 0, c2 = 0, c3 = 0;
    for (const auto& s : combos)
      if (s.held_out == held_out) N += s.n, c1 += s.class_ok, c2 += s.colour_ok, c3 += s.both_ok;
    const auto& feats = held_out ? features_out : features_in;
    const double fd = eval::frechet_distance(eval::fit_gaussian(feats, 128), real_fit);
    const auto pct = [&](index_t k) { return static_cast<double>(k) / static_cast<double>(N); };
    const std::string name = held_out ? "held_out" : "held_in";
    report[name] = {{"images", N}, {"class_accuracy", pct(c1)}, {"colour_accuracy", pct(c2)}, {"both_correct", pct(c3)}, {"frechet_distance", fd}};
    md += fmt::format("| {} ({} combinations) | {} | {:.1f}% | {:.1f}% | {:.1f}% | {:.2f} |\n", held_out ? "held-out" : "held-in", held_out ? 10 : 50, N,
                      100 * pct(c1), 100 * pct(c2), 100 * pct(c3), fd);
  }
  md = fmt::format("Prompts: {} ({}), e.g. \"{}\"; {} images each, {} {} steps, guidance {}.\n\n", a.language,
                   report["conditioning"].get<std::string>(), prompts[7 * fm::kColours], a.per_prompt, a.sample.scheduler, a.sample.steps,
                   a.sample.guidance) + md;
  md += fmt::format("\nScorer ceiling: {:.2f}% class accuracy on the 10000 real test items; {:.2f}% colour accuracy on real held-out scenes.\n",
                    100 * ceiling, 100.0 * static_cast<double>(colour_real_ok) / static_cast<double>(colour_real_n));
  nlohmann::json per_combo = nlohmann::json::array();
  for (const auto& s : combos)
    per_combo.push_back({{"class", fm::class_names()[static_cast<std::size_t>(s.cls)]}, {"colour", fm::colours()[static_cast<std::size_t>(s.colour)].name},
                         {"held_out", s.held_out}, {"images", s.n}, {"class_ok", s.class_ok}, {"colour_ok", s.colour_ok}, {"both_ok", s.both_ok}});
  report["combinations"] = per_combo;
  std::filesystem::create_directories(a.out);
  std::ofstream(std::filesystem::path(a.out) / "metrics.json") << report.dump(2) << '\n';
  std::ofstream(std::filesystem::path(a.out) / "metrics.md") << md;
  // the grid: held-out combinations first, then one held-in prompt per class
  std::vector<io::Image> cells;
  std::vector<std::string> labels;
  const auto add_combo = [&](std::size_t c) {
    for (index_t k = 0; k < std::min(a.grid_per_prompt, a.per_prompt); ++k) {
      cells.push_back(io::to_image(images.select(static_cast<index_t>(c) * a.per_prompt + k)));
      labels.push_back((combos[c].held_out ? "[held-out] " : "") + prompts[c]);
    }
  };
  for (std::size_t c = 0; c < combos.size(); ++c)
    if (combos[c].held_out) add_combo(c);
  for (int cls = 0; cls < fm::kClasses; ++cls)
    for (int k = 0; k < fm::kColours; ++k)
      if (const int col = (cls + 1 + k) % fm::kColours; !fm::held_out(cls, col)) {  // a different colour per class
        add_combo(static_cast<std::size_t>(cls * fm::kColours + col));
        break;
      }
  io::write_png(std::filesystem::path(a.out) / "grid.png", io::image_grid(cells, labels, {.columns = std::min(a.grid_per_prompt, a.per_prompt) * 2,
                                                                                          .upscale = 3, .caption_lines = 3}));
  std::printf("%s\nmetrics.json, metrics.md and grid.png in %s\n", md.c_str(), a.out.c_str());
  return 0;
}

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
inline std::function<int()> add_default_model_commands(CLI::App& app) {
  auto cap = std::make_shared<CaptionArgs>();
  auto* cap_cmd = app.add_subcommand("fashion-captions", "encode every caption of the default model's scenes with a text encoder");
  cap_cmd->add_option("--encoder", cap->encoder, "text encoder: a Hugging Face model folder (all-MiniLM-L6-v2)")->required()->check(CLI::ExistingDirectory);
  cap_cmd->add_option("--out", cap->out, "caption features file (.h5)")->required();
  cap_cmd->add_option("--length", cap->length, "tokens per caption (padded / truncated)")->capture_default_str();
  cap_cmd->add_option("--languages", cap->languages, "caption languages: en, de, fr, es, zh, it (en: every synonym; others: their templates)")
      ->delimiter(',')->capture_default_str();
  cap_cmd->add_flag("--quiet", cap->quiet, "no progress line");

  // the denoising-loss training options train-decoder and train-lavi-bridge share
  const auto add_training_options = [](CLI::App* cmd, DecoderArgs& d) {
    cmd->add_option("--captions", d.captions, "caption features (gluegen fashion-captions)")->required()->check(CLI::ExistingFile);
    cmd->add_option("--fashion-dir", d.fashion_dir, "Fashion-MNIST IDX files (Debian dataset-fashion-mnist)")->capture_default_str();
    cmd->add_option("--prediction", d.prediction, "training target")->check(CLI::IsMember({"epsilon", "v"}))->capture_default_str();
    cmd->add_option("--steps", d.steps, "total optimizer steps")->capture_default_str();
    cmd->add_option("--batch", d.batch, "images per step")->capture_default_str();
    cmd->add_option("--lr", d.lr, "AdamW learning rate")->capture_default_str();
    cmd->add_option("--warmup", d.warmup, "linear warm-up steps")->capture_default_str();
    cmd->add_option("--ema", d.ema, "EMA decay of the exported weights")->capture_default_str();
    cmd->add_option("--caption-dropout", d.dropout, "fraction of empty captions (classifier-free guidance)")->capture_default_str();
    cmd->add_option("--min-snr-gamma", d.min_snr_gamma, "Min-SNR-gamma loss weighting (0: uniform)")->capture_default_str();
    cmd->add_option("--clip-grad", d.clip, "global gradient-norm clip (0: off)")->capture_default_str();
    cmd->add_option("--log-every", d.log_every, "steps between metrics lines")->capture_default_str();
    cmd->add_option("--checkpoint-every", d.checkpoint_every, "steps between checkpoints")->capture_default_str();
    cmd->add_option("--seed", d.seed, "initialisation and data seed")->capture_default_str();
    cmd->add_flag("--quiet", d.quiet, "no progress line");
  };
  auto dec = std::make_shared<DecoderArgs>();
  auto* dec_cmd = app.add_subcommand("train-decoder", "train the default pixel-space decoder on Fashion-MNIST scenes (resumes a run directory)");
  add_training_options(dec_cmd, *dec);
  dec_cmd->add_option("--run", dec->run, "run directory: checkpoint.h5, decoder.h5, metrics.jsonl")->required();
  dec_cmd->add_option("--channels", dec->channels, "block_out_channels")->capture_default_str();
  dec_cmd->add_option("--heads", dec->heads, "attention heads per level")->capture_default_str();
  dec_cmd->add_option("--layers", dec->layers, "layers_per_block")->capture_default_str();

  auto lavi = std::make_shared<LaviBridgeArgs>();
  auto* lavi_cmd = app.add_subcommand("train-lavi-bridge",
                                      "LaVi-Bridge: train an adapter + LoRA gluing a source encoder's caption features onto a frozen decoder (resumes)");
  lavi_cmd->add_option("--decoder", lavi->decoder, "the frozen decoder (UNet, gluegen HDF5)")->required()->check(CLI::ExistingFile);
  add_training_options(lavi_cmd, lavi->train);
  lavi_cmd->add_option("--run", lavi->train.run, "run directory: checkpoint.h5, aligner.h5 (adapter + LoRA), metrics.jsonl")->required();
  lavi_cmd->add_option("--rank", lavi->rank, "LoRA rank (LaVi-Bridge: 32 for SD's UNet)")->capture_default_str();
  lavi_cmd->add_option("--int-dim", lavi->int_dim, "the adapter's middle width (0: the source width)")->capture_default_str();
  lavi_cmd->add_option("--language-model", lavi->language_model,
                       "train LoRA in this language model's attention too (LaVi-Bridge's full setting): it runs in every step on the captions' "
                       "texts; the encoder the captions file was made with")
      ->check(CLI::ExistingDirectory);

  auto sc = std::make_shared<ScorerArgs>();
  auto* sc_cmd = app.add_subcommand("train-scorer", "train the Fashion-MNIST classifier that scores generated images");
  sc_cmd->add_option("--out", sc->out, "scorer file (.h5)")->required();
  sc_cmd->add_option("--fashion-dir", sc->fashion_dir, "Fashion-MNIST IDX files")->capture_default_str();
  sc_cmd->add_option("--epochs", sc->epochs, "passes over the 60000 training images")->capture_default_str();
  sc_cmd->add_option("--batch", sc->batch, "images per step")->capture_default_str();
  sc_cmd->add_option("--lr", sc->lr, "AdamW peak learning rate (cosine decay)")->capture_default_str();
  sc_cmd->add_option("--seed", sc->seed, "initialisation and order seed")->capture_default_str();
  sc_cmd->add_flag("--quiet", sc->quiet, "no progress line");

  const auto sampling = [](CLI::App* cmd, SampleArgs& s) {
    cmd->add_option("--scheduler", s.scheduler, "diffusers scheduler class")->capture_default_str();
    cmd->add_option("--steps", s.steps, "sampling steps")->capture_default_str();
    cmd->add_option("--guidance", s.guidance, "classifier-free guidance scale")->capture_default_str();
    cmd->add_option("--batch", s.batch, "images per UNet call")->capture_default_str();
    cmd->add_option("--seed", s.seed, "noise seed")->capture_default_str();
  };
  auto gen = std::make_shared<GenerateArgs>();
  auto* gen_cmd = app.add_subcommand("generate", "generate images from prompts: a decoder with its own text encoder, or glued to a source encoder");
  gen_cmd->add_option("--decoder", gen->decoder, "decoder file (UNet, gluegen HDF5)")->required()->check(CLI::ExistingFile);
  const auto conditioning = [](CLI::App* cmd, ConditionArgs& c) {
    cmd->add_option("--encoder", c.encoder, "the decoder's own text encoder (with --aligner: only for the empty prompt, the decoder's null)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--source-encoder", c.source_encoder, "GlueGen: a source text encoder glued on by --aligner")->check(CLI::ExistingDirectory);
    cmd->add_option("--aligner", c.aligner, "GlueGen: an aligner file (gluegen train) mapping the source encoder into the decoder's space")
        ->check(CLI::ExistingFile);
    cmd->add_option("--source-length", c.source_length, "source tokens per prompt (as the aligner was trained)")->capture_default_str();
  };
  conditioning(gen_cmd, gen->condition);
  gen_cmd->add_option("--prompt", gen->prompts, "prompt (repeatable)")->required();
  gen_cmd->add_option("--per-prompt", gen->per_prompt, "images per prompt")->capture_default_str();
  gen_cmd->add_option("--out", gen->out, "PNG grid")->capture_default_str();
  sampling(gen_cmd, gen->sample);
  gen_cmd->add_flag("--quiet", gen->quiet, "no progress line");

  auto corpus = std::make_shared<CorpusArgs>();
  auto* corpus_cmd = app.add_subcommand("fashion-corpus", "a parallel caption corpus (TSV) in several languages for gluegen encode");
  corpus_cmd->add_option("--out", corpus->out, "TSV file")->required();
  corpus_cmd->add_option("--languages", corpus->languages, "en, de, fr, es, zh, it")->delimiter(',')->capture_default_str();
  corpus_cmd->add_flag("--include-held-out", corpus->include_held_out, "also the class x colour combinations held out of training");

  auto ev = std::make_shared<EvalImagesArgs>();
  auto* ev_cmd = app.add_subcommand("eval-images", "class / colour accuracy and Fréchet distance of generated scenes, held-in vs held-out");
  ev_cmd->add_option("--decoder", ev->decoder, "decoder file")->required()->check(CLI::ExistingFile);
  ev_cmd->add_option("--scorer", ev->scorer, "scorer file (gluegen train-scorer)")->required()->check(CLI::ExistingFile);
  ev_cmd->add_option("--captions", ev->captions, "precomputed English caption features (gluegen fashion-captions)")->check(CLI::ExistingFile);
  ev_cmd->add_option("--language", ev->language, "prompt language: en, de, fr, es, zh, it, or code-mixed A+B (A's words, B's colour: de+en)")->capture_default_str();
  conditioning(ev_cmd, ev->condition);
  ev_cmd->add_option("--fashion-dir", ev->fashion_dir, "Fashion-MNIST IDX files")->capture_default_str();
  ev_cmd->add_option("--per-prompt", ev->per_prompt, "images per class x colour prompt")->capture_default_str();
  ev_cmd->add_option("--grid-per-prompt", ev->grid_per_prompt, "images per prompt in grid.png")->capture_default_str();
  ev_cmd->add_option("--out", ev->out, "output directory: metrics.json, metrics.md, grid.png")->capture_default_str();
  sampling(ev_cmd, ev->sample);
  ev_cmd->add_flag("--quiet", ev->quiet, "no progress line");

  return [=]() -> int {
    if (cap_cmd->parsed()) return fashion_captions_command(*cap);
    if (dec_cmd->parsed()) return train_decoder_command(*dec);
    if (lavi_cmd->parsed()) return train_lavi_bridge_command(*lavi);
    if (sc_cmd->parsed()) return train_scorer_command(*sc);
    if (gen_cmd->parsed()) return generate_command(*gen);
    if (ev_cmd->parsed()) return eval_images_command(*ev);
    if (corpus_cmd->parsed()) return fashion_corpus_command(*corpus);
    return -1;
  };
}

}  // namespace gluegen::cli
