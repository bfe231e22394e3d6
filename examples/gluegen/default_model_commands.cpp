// The default target model's commands (issue 8): caption features with the real all-MiniLM-L6-v2,
// the pixel-space decoder trained on Fashion-MNIST scenes, its scorer, generation and evaluation.
//   gluegen fashion-captions --encoder DIR --out FILE [--length 16] [--languages en,de,...]
//   gluegen train-decoder --captions FILE --run DIR [--steps N ...]   (resumes an existing run)
//   gluegen train-lavi-bridge --decoder FILE --captions FILE --run DIR [--rank 8 ...] [--language-model DIR]
//                             (LaVi-Bridge: adapter + LoRA; with --language-model, LoRA in it too)
//   gluegen train-scorer --out FILE [--epochs 3]
//   gluegen generate --decoder FILE (--encoder DIR [--translate xx] | --source-encoder DIR --aligner FILE)
//                    (--prompt TEXT... | --audio WAV...) --out PNG
//   (a Whisper --source-encoder speaks each prompt with --voices [--audio-rate HZ] [--snr DB], or reads --audio)
//   gluegen eval-images --decoder FILE --scorer FILE (--captions FILE | [--language xx] --encoder DIR [--translate xx]
//                       | --language xx --source-encoder DIR --aligner FILE) --out DIR
//   gluegen eval-prompts --decoder FILE --scorer FILE --prompts TSV (--encoder DIR [--translate] | --source-encoder
//                        DIR --aligner FILE) --out DIR   (prompts as people write them, per language)
//   gluegen fashion-corpus --out TSV [--languages en,de,fr,es,zh]   (GlueGen's multilingual experiment)
#include "default_model_commands.hpp"
#include "option_checks.hpp"

#include "speech_commands.hpp"

#include <gluegen/default_model/evaluation.hpp>
#include <gluegen/core/strings.hpp>
#include <gluegen/default_model/prompts.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/losses/adversarial.hpp>
#include <gluegen/pipeline.hpp>
#include <gluegen/text/apertium.hpp>
#include <gluegen/train/denoising_alignment.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <limits>
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
  const auto captions = default_model::all_captions(a.languages);
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
  std::filesystem::create_directories(std::filesystem::absolute(a.out).parent_path());
  io::WeightWriter w(a.out, {.model_type = default_model::kCaptionsModelType,
                             .config = {{"encoder", encoder.name()},
                                        {"length", a.length},
                                        {"width", encoder.width()},
                                        {"captions", n},
                                        {"languages", a.languages}},
                             .provenance = {{"text_encoder", encoder.identity().to_json()},
                                            {"text_length", a.length},
                                            {"command", command_line()}}});
  w.write("features", features, DType::f16);
  w.write_strings("text", texts);
  w.write("class", Tensor<std::int32_t, Cpu>::from_host({n}, cls));
  w.write("colour", Tensor<std::int32_t, Cpu>::from_host({n}, colour));
  w.commit();
  std::printf("%lld captions x %lld tokens x %lld (%s) -> %s\n", static_cast<long long>(n),
              static_cast<long long>(a.length), static_cast<long long>(encoder.width()), encoder.name().c_str(),
              a.out.c_str());
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
  namespace fm = default_model;
  std::filesystem::create_directories(std::filesystem::absolute(a.out).parent_path());
  const std::string tmp = a.out + ".partial";
  std::ofstream out(tmp);
  std::map<std::string, index_t> lines;
  for (const auto& tag : a.languages) {
    if (tag == "en") {
      for (const auto& c : fm::all_captions())
        if (c.cls >= 0 && (a.include_held_out || !fm::held_out(c.cls, c.colour)))
          out << c.text << '\t' << c.text << "\ten\n", ++lines[tag];
      continue;
    }
    const auto& language = fm::language(tag);
    for (int cls = 0; cls < fm::kClasses; ++cls)
      for (int col = 0; col < fm::kColours; ++col)
        if (a.include_held_out || !fm::held_out(cls, col))
          for (int t = 0; t < static_cast<int>(language.templates.size()); ++t)
            out << fm::caption_in(tag, t, cls, col) << '\t' << fm::caption_in("en", 0, cls, col) << '\t' << tag << '\n',
                ++lines[tag];
  }
  out.close();
  GLUEGEN_CHECK_AS(IoError, !out.fail(), "cannot write '{}'", tmp);
  std::filesystem::rename(tmp, a.out);
  for (const auto& [tag, n] : lines) std::printf("%s: %lld lines\n", tag.c_str(), static_cast<long long>(n));
  std::printf("-> %s\n", a.out.c_str());
  return 0;
}

struct DecoderArgs {
  std::string captions, run, fashion_dir = default_model::kDefaultFashionDir, prediction = "epsilon";
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
  c.sample_size = default_model::kSide;
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

/// The noise schedule the default decoder trains with (recorded in its file for sampling).
inline diffusion::SchedulerConfig decoder_noise(const std::string& prediction) {
  return diffusion::training_noise(prediction == "v" ? diffusion::Prediction::v : diffusion::Prediction::epsilon);
}

/// What a model trained on a captions file records: the file's text encoder and length under the keys given (a
/// decoder's own text_encoder; a LaVi-Bridge adapter's source_encoder), and this command.
inline nlohmann::json captions_provenance(const nlohmann::json& captions, const char* encoder_key,
                                          const char* length_key) {
  nlohmann::json record{{"command", command_line()}};
  if (captions.is_object() && captions.contains("text_encoder")) record[encoder_key] = captions.at("text_encoder");
  if (captions.is_object() && captions.contains("text_length")) record[length_key] = captions.at("text_length");
  return record;
}

inline int train_decoder_command(const DecoderArgs& a) {
  auto captions = default_model::CaptionFeatures<float>::load(a.captions);
  const auto provenance = captions_provenance(captions.provenance, "text_encoder", "text_length");
  const index_t context_dim = captions.features.size(2);
  default_model::SceneCaptionData<float> data(default_model::FashionMnist::load(a.fashion_dir, true),
                                              std::move(captions), a.dropout);
  diffusion::UNet2DCondition<float, Cpu> unet(default_decoder_config(a, context_dim), a.seed);
  if (!a.quiet)
    std::fprintf(stderr, "decoder: %.2f M parameters, channels %s, context %lld x %lld (%s)\n",
                 nn::count_parameters(unet).total / 1e6, fmt::format("{}", fmt::join(a.channels, "/")).c_str(),
                 static_cast<long long>(data.captions().features.size(1)), static_cast<long long>(context_dim),
                 data.captions().encoder.c_str());
  train::DecoderTrainer<float, Cpu, default_model::SceneCaptionData<float>> trainer(
      unet, decoder_noise(a.prediction), data,
      {.run_dir = a.run,
       .steps = a.steps,
       .batch = a.batch,
       .lr = a.lr,
       .warmup = a.warmup,
       .grad_clip = a.clip,
       .ema_decay = a.ema,
       .min_snr_gamma = a.min_snr_gamma,
       .log_every = a.log_every,
       .checkpoint_every = a.checkpoint_every,
       .seed = a.seed,
       .progress = !a.quiet,
       .provenance = provenance});
  const double loss = trainer.run();
  std::printf("step %lld: loss %.5f; decoder (EMA weights) in %s\n", static_cast<long long>(trainer.step()), loss,
              trainer.model_path().c_str());
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
  auto captions = default_model::CaptionFeatures<float>::load(t.captions);
  const index_t source_dim = captions.features.size(2);
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(a.decoder));
  auto provenance = captions_provenance(captions.provenance, "source_encoder", "source_length");
  provenance["decoder"] =  // the frozen UNet the LoRA adapts, before it has any
      io::ModelIdentity{std::filesystem::path(a.decoder).stem().string(), io::weights_sha256(unet)}.to_json();
  const index_t width = unet.config().cross_attention_dim;
  train::LaviBridgeUNet<float, Cpu> bridge(
      aligners::LaviBridgeAdapter<float, Cpu>(
          {.in_dim = source_dim, .int_dim = a.int_dim > 0 ? a.int_dim : source_dim, .out_dim = width}, t.seed),
      std::move(unet), {.rank = a.rank, .alpha = static_cast<double>(a.rank), .seed = t.seed});
  const auto describe = [&](auto& model, index_t text_layers, const std::string& encoder) {
    if (t.quiet) return;
    const auto counts = nn::count_parameters(model);
    std::fprintf(stderr,
                 "LaVi-Bridge: adapter %lld -> %lld -> %lld, LoRA rank %lld in %lld decoder layers%s; %.3f M of %.2f M "
                 "parameters train (%s)\n",
                 static_cast<long long>(source_dim), static_cast<long long>(bridge.aligner.config().int_dim),
                 static_cast<long long>(width), static_cast<long long>(a.rank),
                 static_cast<long long>(bridge.lora_layers()),
                 text_layers > 0 ? fmt::format(" and {} language-model layers", text_layers).c_str() : "",
                 counts.trainable / 1e6, counts.total / 1e6, encoder.c_str());
  };
  const train::DecoderTrainerOptions options{.run_dir = t.run,
                                             .export_file = "aligner.h5",
                                             .progress_label = "train lavi-bridge",
                                             .steps = t.steps,
                                             .batch = t.batch,
                                             .lr = t.lr,
                                             .warmup = t.warmup,
                                             .grad_clip = t.clip,
                                             .ema_decay = t.ema,
                                             .min_snr_gamma = t.min_snr_gamma,
                                             .log_every = t.log_every,
                                             .checkpoint_every = t.checkpoint_every,
                                             .seed = t.seed,
                                             .progress = !t.quiet,
                                             .provenance = provenance};
  const auto finish = [](const auto& trainer, double loss) {
    std::printf("step %lld: loss %.5f; adapter + LoRA (EMA weights) in %s\n", static_cast<long long>(trainer.step()),
                loss, trainer.model_path().c_str());
    return 0;
  };
  auto images = default_model::FashionMnist::load(t.fashion_dir, true);
  if (a.language_model.empty()) {  // the adapter reads the captions file's features
    default_model::SceneCaptionData<float> data(std::move(images), std::move(captions), t.dropout);
    describe(bridge, 0, data.captions().encoder);
    train::DecoderTrainer<float, Cpu, default_model::SceneCaptionData<float>, train::LaviBridgeUNet<float, Cpu>>
        trainer(bridge, decoder_noise(t.prediction), data, options);
    const double loss = trainer.run();
    return finish(trainer, loss);
  }
  // the language model runs in every step on the captions' token ids, as the captions file tokenized them
  encoders::HfTextEncoder<float, Cpu> lm(a.language_model);
  GLUEGEN_CHECK_AS(
      ValueError, lm.name() == captions.encoder && lm.width() == source_dim,
      "--language-model '{}' ({} wide) is not the encoder '{}' ({} wide) the captions file {} was made with",
      a.language_model, lm.width(), captions.encoder, source_dim, t.captions);
  using Data = default_model::SceneCaptionData<float, default_model::CaptionTokens>;
  Data data(std::move(images), default_model::CaptionTokens::tokenize(captions, lm.tokenizer()), t.dropout);
  train::LaviBridgeLmUNet<float, Cpu> model(std::move(lm.model()), std::move(bridge));
  describe(model, model.text_encoder_lora_layers(), data.captions().encoder);
  train::DecoderTrainer<float, Cpu, Data, train::LaviBridgeLmUNet<float, Cpu>> trainer(
      model, decoder_noise(t.prediction), data, options);
  const double loss = trainer.run();
  return finish(trainer, loss);
}

struct ScorerArgs {
  std::string out, fashion_dir = default_model::kDefaultFashionDir;
  index_t epochs = 3, batch = 64;
  double lr = 1e-3;
  std::uint64_t seed = 0;
  bool quiet = false;
};

inline int train_scorer_command(const ScorerArgs& a) {
  const auto train = default_model::FashionMnist::load(a.fashion_dir, true),
             test = default_model::FashionMnist::load(a.fashion_dir, false);
  default_model::FashionClassifier<float, Cpu> net(a.seed);
  optim::AdamW<default_model::FashionClassifier<float, Cpu>> adam(net, {.lr = a.lr, .weight_decay = 1e-4});
  default_model::FashionClassifier<float, Cpu>::Cache cache;
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
      adam.set_lr(optim::learning_rate(optim::CosineAnnealing{.t_max = a.epochs * steps_per_epoch},
                                       epoch * steps_per_epoch + s, a.lr));
      adam.step();
      if ((s + 1) % 50 == 0 || s + 1 == steps_per_epoch)
        progress.update(s + 1, fmt::format("loss {:.4f}", loss_sum / static_cast<double>(s + 1)));
    }
    test_acc = default_model::accuracy(classify(net, test_items), test.labels);
    std::printf("epoch %lld: train loss %.4f, test accuracy %.2f%% (10000 real test images)\n",
                static_cast<long long>(epoch + 1), loss_sum / static_cast<double>(steps_per_epoch), 100 * test_acc);
  }
  io::WeightWriter w(a.out, {.model_type = default_model::kFashionClassifierModelType,
                             .config = {{"test_accuracy", test_acc}, {"epochs", a.epochs}}});
  io::save_parameters(net, w);
  w.commit();
  std::printf("scorer -> %s\n", a.out.c_str());
  return 0;
}

struct SampleArgs {
  std::string scheduler = "DPMSolverMultistepScheduler";
  index_t steps = 25, batch = 32;
  double guidance = 4.0;
  std::uint64_t seed = 0;
};

/// Where a decoder's conditioning comes from: its own text encoder (`encoder`), or GlueGen's glued
/// pipeline, a source encoder whose token features an aligner maps into the decoder's space.
struct ConditionArgs {
  std::string encoder, source_encoder, aligner, translate;
  index_t length = 16, source_length = 16;
  // a Whisper source encoder: the voices that speak the prompts, in turn, and how the speech is degraded
  std::vector<std::string> voices;
  int audio_rate = 16000, speech_window = 5;
  double snr_db = std::numeric_limits<double>::infinity();
  bool allow_mismatch = false;  ///< models the files say were not trained together (PipelineFiles::allow_mismatch)

  [[nodiscard]] bool glued() const { return !aligner.empty(); }
  [[nodiscard]] bool spoken() const { return glued() && encoders::is_whisper_folder(source_encoder); }
  [[nodiscard]] encoders::SpokenPromptOptions speech() const {
    encoders::SpokenPromptOptions o{
        .sample_rate = audio_rate, .snr_db = snr_db, .speech = {.window_seconds = speech_window}};
    if (!voices.empty()) o.voices = parse_voices(voices);
    return o;
  }
};

/// The machine-translation baseline (MTN's M2M100 row): each text translated into English by Apertium
/// from `languages[i]` ("en": as it is), for the decoder's own encoder. Each distinct text is
/// translated once, in one apertium run per language.
inline std::vector<std::string> translate_to_english(const std::vector<std::string>& texts,
                                                     const std::vector<std::string>& languages) {
  std::map<std::string, std::vector<std::string>> todo;
  for (std::size_t i = 0; i < texts.size(); ++i)
    if (languages[i] != "en" && std::ranges::find(todo[languages[i]], texts[i]) == todo[languages[i]].end())
      todo[languages[i]].push_back(texts[i]);
  std::map<std::pair<std::string, std::string>, std::string> english;
  for (const auto& [language, unique] : todo) {
    const auto translated = text::Apertium::to_english(language).translate(unique);
    for (std::size_t k = 0; k < unique.size(); ++k) english[{language, unique[k]}] = translated[k];
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < texts.size(); ++i)
    out.push_back(languages[i] == "en" ? texts[i] : english.at({languages[i], texts[i]}));
  return out;
}

inline PipelineFiles pipeline_files(const std::string& decoder, const ConditionArgs& c, const SampleArgs& s) {
  return {.decoder = decoder,
          .encoder = c.encoder,
          .source_encoder = c.source_encoder,
          .aligner = c.aligner,
          .scheduler = s.scheduler,
          .length = c.length,
          .source_length = c.source_length,
          .speech = c.speech(),
          .allow_mismatch = c.allow_mismatch};
}

/// The sampling options, with `bar` advanced as each batch of images finishes.
inline GenerateOptions generate_options(const SampleArgs& s, Progress& bar) {
  return {.steps = s.steps,
          .guidance = s.guidance,
          .seed = s.seed,
          .batch = s.batch,
          .on_progress = [&bar](const GenerateProgress& p) {
            if (p.step + 1 == p.steps) bar.update(p.last, "");
          }};
}

/// One image per prompt through the files' pipeline.
inline Tensor<float, Cpu> generate_with(const PipelineFiles& files, const std::vector<std::string>& texts,
                                        const SampleArgs& s, bool progress) {
  auto pipeline = load_pipeline(files);
  Progress bar("generate", static_cast<index_t>(texts.size()), "images", 0, progress);
  return std::visit([&](auto& p) { return p.generate(texts, generate_options(s, bar)).samples; }, pipeline);
}

struct GenerateArgs {
  std::string decoder, out = "generated.png";
  ConditionArgs condition;
  std::vector<std::string> prompts, audio;
  index_t per_prompt = 4;
  SampleArgs sample;
  bool quiet = false;
};

/// The texts the decoder is conditioned on: `texts`, or with --translate their English translations.
inline std::vector<std::string> conditioning_texts(const ConditionArgs& c, const std::vector<std::string>& texts) {
  if (c.translate.empty()) return texts;
  GLUEGEN_CHECK_AS(ValueError, !c.glued(), "--translate feeds the decoder's own --encoder: leave out --aligner");
  return translate_to_english(texts, std::vector<std::string>(texts.size(), c.translate));
}

/// The grid of `images` captioned, and where it went with which sampler.
inline void write_generated(const GenerateArgs& a, const GeneratedImages<float, Cpu>& images,
                            const std::vector<std::string>& captions) {
  io::write_png(a.out,
                io::image_grid(images.images(), captions, {.columns = a.per_prompt, .upscale = 3, .caption_lines = 2}));
  const auto record = diffusion::read_scheduler_record(io::WeightReader(a.decoder));
  std::printf(
      "%lld images -> %s (%s, %s %s)\n", static_cast<long long>(images.size()), a.out.c_str(),
      a.sample.scheduler.c_str(), record.config.at("prediction_type").get<std::string>().c_str(),
      record.recorded ? "as the decoder file records" : "by default: the decoder file records no noise schedule");
}

/// A WAV file's caption in a grid: what `gluegen speak` said into it, "text (voice)", when the index.tsv
/// beside it lists it; else its name.
inline std::string clip_caption(const std::filesystem::path& file) {
  const auto index = file.parent_path() / "index.tsv";
  std::string caption = file.filename().string();
  if (!std::filesystem::exists(index)) return caption;
  std::stringstream in(read_file_bytes(index, "speech index"));
  for (std::string line; std::getline(in, line);) {
    const std::vector<std::string> cols = split_fields(line, '\t');
    if (cols.size() == 4 && cols[0] == caption) return cols[3] + " (" + cols[2].substr(0, cols[2].find(':')) + ")";
  }
  return caption;
}

/// Recorded speech: each WAV file per_prompt times through Whisper -> the aligner -> the decoder.
inline int generate_audio_command(const GenerateArgs& a) {
  GLUEGEN_CHECK_AS(ValueError, a.condition.spoken(),
                   "--audio needs a Whisper --source-encoder and the --aligner trained on it");
  GLUEGEN_CHECK_AS(ValueError, !a.condition.encoder.empty(),
                   "--audio needs the decoder's own --encoder: its empty prompt is the null conditioning");
  std::vector<audio::Waveform> clips;
  std::vector<std::string> captions;
  for (const auto& file : a.audio) {
    const audio::Waveform clip = audio::read_wav(file);
    const std::string caption = clip_caption(file);
    for (index_t k = 0; k < a.per_prompt; ++k) clips.push_back(clip), captions.push_back(caption);
  }
  auto pipeline = load_pipeline(pipeline_files(a.decoder, a.condition, a.sample));
  Progress bar("generate", std::ssize(clips), "images", 0, !a.quiet);
  const GeneratedImages<float, Cpu> images{std::visit(
      [&](auto& p) -> Tensor<float, Cpu> {
        if constexpr (requires { p.source.encode_clips(clips, a.condition.source_length); })
          return p.generate(p.source.encode_clips(clips, a.condition.source_length), generate_options(a.sample, bar))
              .samples;
        else
          GLUEGEN_THROW(ValueError, "--audio needs a Whisper --source-encoder");
      },
      pipeline)};
  write_generated(a, images, captions);
  return 0;
}

inline int generate_command(const GenerateArgs& a) {
  GLUEGEN_CHECK_AS(ValueError, a.prompts.empty() != a.audio.empty(), "generate: give --prompt or --audio (not both)");
  if (!a.audio.empty()) return generate_audio_command(a);
  std::vector<std::string> texts;
  for (const auto& p : a.prompts)
    for (index_t k = 0; k < a.per_prompt; ++k) texts.push_back(p);
  const auto conditioned = conditioning_texts(a.condition, texts);
  const GeneratedImages<float, Cpu> images{
      generate_with(pipeline_files(a.decoder, a.condition, a.sample), conditioned, a.sample, !a.quiet)};
  std::vector<std::string> captions;
  for (std::size_t i = 0; i < texts.size(); ++i)
    captions.push_back(texts[i] == conditioned[i] ? texts[i] : texts[i] + " -> " + conditioned[i]);
  if (!a.condition.translate.empty())
    for (std::size_t i = 0; i < texts.size(); i += static_cast<std::size_t>(a.per_prompt))
      std::printf("apertium %s: \"%s\" -> \"%s\"\n", a.condition.translate.c_str(), texts[i].c_str(),
                  conditioned[i].c_str());
  write_generated(a, images, captions);
  return 0;
}

/// What eval-images and eval-prompts share: the decoder and its conditioning, the sampler, the scorer
/// and where the report goes.
struct ScoredImagesArgs {
  std::string decoder, scorer, out, fashion_dir = default_model::kDefaultFashionDir;
  ConditionArgs condition;
  index_t per_prompt = 0, grid_per_prompt = 0;
  SampleArgs sample;
  bool quiet = false;
};

struct EvalImagesArgs : ScoredImagesArgs {
  std::string captions, language = "en";
};

/// What a report says the images were conditioned on.
inline std::string conditioning_name(const ConditionArgs& c) {
  if (c.spoken())
    return fmt::format("spoken by {} at {} Hz{}; glued: {} + {}{}",
                       c.voices.empty() ? "en-us" : fmt::format("{}", fmt::join(c.voices, ",")), c.audio_rate,
                       std::isfinite(c.snr_db) ? fmt::format(", white noise at {} dB SNR", c.snr_db) : "",
                       c.source_encoder, c.aligner, c.encoder.empty() ? "" : "; null from " + c.encoder);
  if (c.glued())
    return "glued: " + c.source_encoder + " + " + c.aligner + (c.encoder.empty() ? "" : "; null from " + c.encoder);
  return (c.translate.empty() ? "" : "apertium " + c.translate + " -> English -> ") + c.encoder;
}

/// per_prompt images of every prompt: from the precomputed English caption features (the decoder's
/// training conditioning) when --captions is given, else through the files' pipeline.
inline Tensor<float, Cpu> eval_images(const EvalImagesArgs& a, const std::vector<std::string>& prompts) {
  std::vector<std::string> texts;
  for (const auto& text : prompts)
    for (index_t k = 0; k < a.per_prompt; ++k) texts.push_back(text);
  if (a.captions.empty())
    return generate_with(pipeline_files(a.decoder, a.condition, a.sample), conditioning_texts(a.condition, texts),
                         a.sample, !a.quiet);
  GLUEGEN_CHECK_AS(
      ValueError,
      a.language == "en" && a.condition.encoder.empty() && !a.condition.glued() && a.condition.translate.empty(),
      "--captions holds English features; for --language, --encoder, --aligner or --translate leave it "
      "out");
  const auto captions = default_model::CaptionFeatures<float>::load(a.captions);
  std::vector<index_t> rows;
  for (const auto& text : texts) {
    const index_t row = captions.find(text);
    GLUEGEN_CHECK_AS(ValueError, row >= 0, "'{}' has no caption '{}'", a.captions, text);
    rows.push_back(row);
  }
  const std::array<index_t, 1> empty{captions.find("")};
  auto decoder = diffusion::load_diffusion_decoder<float, Cpu>(a.decoder, a.sample.scheduler);
  Progress bar("generate", static_cast<index_t>(texts.size()), "images", 0, !a.quiet);
  return decoder.generate({captions.gather(rows), captions.gather(empty)}, generate_options(a.sample, bar)).samples;
}

inline int eval_images_command(const EvalImagesArgs& a) {
  using namespace default_model;
  auto scorer = load_scorer(a.scorer);
  auto [combos, prompts] = eval_prompts(a.language);
  const Tensor<float, Cpu> images = eval_images(a, prompts);
  const std::vector<float> features = score_images(images, scorer, combos, a.per_prompt);
  const auto& c = a.condition;
  const default_model::EvalSettings settings{.decoder = a.decoder,
                                             .language = a.language,
                                             .conditioning = a.captions.empty() ? conditioning_name(c) : a.captions,
                                             .scheduler = a.sample.scheduler,
                                             .steps = a.sample.steps,
                                             .per_prompt = a.per_prompt,
                                             .guidance = a.sample.guidance,
                                             .seed = a.sample.seed};
  const auto [report, md] =
      eval_report(settings, combos, prompts, features,
                  scorer_ceiling(scorer, default_model::FashionMnist::load(a.fashion_dir, false)));
  std::filesystem::create_directories(a.out);
  std::ofstream(std::filesystem::path(a.out) / "metrics.json") << report.dump(2) << '\n';
  std::ofstream(std::filesystem::path(a.out) / "metrics.md") << md;
  write_eval_grid(std::filesystem::path(a.out) / "grid.png", images, combos, prompts, a.per_prompt, a.grid_per_prompt);
  std::printf("%s\nmetrics.json, metrics.md and grid.png in %s\n", md.c_str(), a.out.c_str());
  return 0;
}

struct EvalPromptsArgs : ScoredImagesArgs {
  std::string prompts;
  std::vector<std::string> languages;
  bool translate = false;
};

/// Prompts as people write them (a prompt file: language, prompt, class, colour), per_prompt images each
/// through one route (the decoder's own encoder, the glue, or --translate: Apertium into English, then
/// the decoder's encoder), scored per language.
inline int eval_prompts_command(const EvalPromptsArgs& a) {
  using namespace default_model;
  std::vector<EvalPrompt> prompts;
  for (auto& p : read_prompts(a.prompts))
    if (a.languages.empty() || std::ranges::find(a.languages, p.language) != a.languages.end())
      prompts.push_back(std::move(p));
  GLUEGEN_CHECK_AS(ValueError, !prompts.empty(), "'{}' has no prompts in the languages {}", a.prompts,
                   fmt::join(a.languages, ", "));
  std::vector<std::string> texts, languages;
  for (const auto& p : prompts) texts.push_back(p.text), languages.push_back(p.language);
  GLUEGEN_CHECK_AS(ValueError, !a.translate || !a.condition.glued(),
                   "--translate feeds the decoder's own --encoder: leave out --aligner");
  const auto conditioned = a.translate ? translate_to_english(texts, languages) : texts;
  std::vector<std::string> repeated;
  for (const auto& t : conditioned)
    for (index_t k = 0; k < a.per_prompt; ++k) repeated.push_back(t);
  const auto images = generate_with(pipeline_files(a.decoder, a.condition, a.sample), repeated, a.sample, !a.quiet);
  auto scorer = load_scorer(a.scorer);
  auto combos = prompt_combos(prompts);
  const auto features = score_images(images, scorer, combos, a.per_prompt);
  auto c = a.condition;
  if (a.translate) c.translate = "(each prompt's language)";
  const EvalSettings settings{.decoder = a.decoder,
                              .language = fmt::format("{}", fmt::join(a.languages, ",")),
                              .conditioning = conditioning_name(c),
                              .scheduler = a.sample.scheduler,
                              .steps = a.sample.steps,
                              .per_prompt = a.per_prompt,
                              .guidance = a.sample.guidance,
                              .seed = a.sample.seed};
  auto [report, md] = prompt_report(settings, prompts, conditioned, combos, features,
                                    scorer_ceiling(scorer, FashionMnist::load(a.fashion_dir, false)));
  report["prompt_file"] = a.prompts;
  std::filesystem::create_directories(a.out);
  std::ofstream(std::filesystem::path(a.out) / "metrics.json") << report.dump(2) << '\n';
  std::ofstream(std::filesystem::path(a.out) / "metrics.md") << md;
  const index_t per_cell = std::min(a.grid_per_prompt, a.per_prompt);
  std::vector<io::Image> cells;
  std::vector<std::string> labels;
  for (std::size_t k = 0; k < prompts.size(); ++k)
    for (index_t i = 0; i < per_cell; ++i) {
      cells.push_back(io::to_image(images.select(static_cast<index_t>(k) * a.per_prompt + i)));
      labels.push_back(prompts[k].language + ": " + prompts[k].text +
                       (conditioned[k] == prompts[k].text ? "" : " -> " + conditioned[k]));
    }
  io::write_png(std::filesystem::path(a.out) / "grid.png",
                io::image_grid(cells, labels, {.columns = per_cell * 4, .upscale = 3, .caption_lines = 4}));
  std::printf("%s\nmetrics.json, metrics.md and grid.png in %s\n", md.c_str(), a.out.c_str());
  return 0;
}

std::function<int()> add_default_model_commands(CLI::App& app) {
  auto cap = std::make_shared<CaptionArgs>();
  auto* cap_cmd =
      app.add_subcommand("fashion-captions", "encode every caption of the default model's scenes with a text encoder");
  cap_cmd->add_option("--encoder", cap->encoder, "text encoder: a Hugging Face model folder (all-MiniLM-L6-v2)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cap_cmd->add_option("--out", cap->out, "caption features file (.h5)")->required();
  cap_cmd->add_option("--length", cap->length, "tokens per caption (padded / truncated)")
      ->check(at_least_one)
      ->capture_default_str();
  cap_cmd
      ->add_option("--languages", cap->languages,
                   "caption languages: en, de, fr, es, zh, it (en: every synonym; others: their templates)")
      ->delimiter(',')
      ->capture_default_str();
  cap_cmd->add_flag("--quiet", cap->quiet, "no progress line");

  // the denoising-loss training options train-decoder and train-lavi-bridge share
  const auto add_training_options = [](CLI::App* cmd, DecoderArgs& d) {
    cmd->add_option("--captions", d.captions, "caption features (gluegen fashion-captions)")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--fashion-dir", d.fashion_dir, "Fashion-MNIST IDX files (Debian dataset-fashion-mnist)")
        ->capture_default_str();
    cmd->add_option("--prediction", d.prediction, "training target")
        ->check(CLI::IsMember({"epsilon", "v"}))
        ->capture_default_str();
    cmd->add_option("--steps", d.steps, "total optimizer steps")->check(at_least_one)->capture_default_str();
    cmd->add_option("--batch", d.batch, "images per step")->check(at_least_one)->capture_default_str();
    cmd->add_option("--lr", d.lr, "AdamW learning rate")->check(positive)->capture_default_str();
    cmd->add_option("--warmup", d.warmup, "linear warm-up steps")->check(non_negative)->capture_default_str();
    cmd->add_option("--ema", d.ema, "EMA decay of the exported weights")->check(fraction)->capture_default_str();
    cmd->add_option("--caption-dropout", d.dropout, "fraction of empty captions (classifier-free guidance)")
        ->check(fraction)
        ->capture_default_str();
    cmd->add_option("--min-snr-gamma", d.min_snr_gamma, "Min-SNR-gamma loss weighting (0: uniform)")
        ->check(non_negative)
        ->capture_default_str();
    cmd->add_option("--clip-grad", d.clip, "global gradient-norm clip (0: off)")
        ->check(non_negative)
        ->capture_default_str();
    cmd->add_option("--log-every", d.log_every, "steps between metrics lines")
        ->check(at_least_one)
        ->capture_default_str();
    cmd->add_option("--checkpoint-every", d.checkpoint_every, "steps between checkpoints")
        ->check(at_least_one)
        ->capture_default_str();
    cmd->add_option("--seed", d.seed, "initialisation and data seed")->capture_default_str();
    cmd->add_flag("--quiet", d.quiet, "no progress line");
  };
  auto dec = std::make_shared<DecoderArgs>();
  auto* dec_cmd = app.add_subcommand(
      "train-decoder", "train the default pixel-space decoder on Fashion-MNIST scenes (resumes a run directory)");
  add_training_options(dec_cmd, *dec);
  dec_cmd->add_option("--run", dec->run, "run directory: checkpoint.h5, decoder.h5, metrics.jsonl")->required();
  dec_cmd->add_option("--channels", dec->channels, "block_out_channels")->check(at_least_one)->capture_default_str();
  dec_cmd->add_option("--heads", dec->heads, "attention heads per level")->check(at_least_one)->capture_default_str();
  dec_cmd->add_option("--layers", dec->layers, "layers_per_block")->check(at_least_one)->capture_default_str();

  auto lavi = std::make_shared<LaviBridgeArgs>();
  auto* lavi_cmd = app.add_subcommand("train-lavi-bridge",
                                      "LaVi-Bridge: train an adapter + LoRA gluing a source encoder's caption features "
                                      "onto a frozen decoder (resumes)");
  lavi_cmd->add_option("--decoder", lavi->decoder, "the frozen decoder (UNet, gluegen HDF5)")
      ->required()
      ->check(CLI::ExistingFile);
  add_training_options(lavi_cmd, lavi->train);
  lavi_cmd
      ->add_option("--run", lavi->train.run, "run directory: checkpoint.h5, aligner.h5 (adapter + LoRA), metrics.jsonl")
      ->required();
  lavi_cmd->add_option("--rank", lavi->rank, "LoRA rank (LaVi-Bridge: 32 for SD's UNet)")
      ->check(at_least_one)
      ->capture_default_str();
  lavi_cmd->add_option("--int-dim", lavi->int_dim, "the adapter's middle width (0: the source width)")
      ->check(non_negative)
      ->capture_default_str();
  lavi_cmd
      ->add_option("--language-model", lavi->language_model,
                   "train LoRA in this language model's attention too (LaVi-Bridge's full setting): it runs in every "
                   "step on the captions' "
                   "texts; the encoder the captions file was made with")
      ->check(CLI::ExistingDirectory);

  auto sc = std::make_shared<ScorerArgs>();
  auto* sc_cmd = app.add_subcommand("train-scorer", "train the Fashion-MNIST classifier that scores generated images");
  sc_cmd->add_option("--out", sc->out, "scorer file (.h5)")->required();
  sc_cmd->add_option("--fashion-dir", sc->fashion_dir, "Fashion-MNIST IDX files")->capture_default_str();
  sc_cmd->add_option("--epochs", sc->epochs, "passes over the 60000 training images")
      ->check(at_least_one)
      ->capture_default_str();
  sc_cmd->add_option("--batch", sc->batch, "images per step")->check(at_least_one)->capture_default_str();
  sc_cmd->add_option("--lr", sc->lr, "AdamW peak learning rate (cosine decay)")->check(positive)->capture_default_str();
  sc_cmd->add_option("--seed", sc->seed, "initialisation and order seed")->capture_default_str();
  sc_cmd->add_flag("--quiet", sc->quiet, "no progress line");

  const auto sampling = [](CLI::App* cmd, SampleArgs& s) {
    cmd->add_option("--scheduler", s.scheduler, "diffusers scheduler class")->capture_default_str();
    cmd->add_option("--steps", s.steps, "sampling steps")->check(at_least_one)->capture_default_str();
    cmd->add_option("--guidance", s.guidance, "classifier-free guidance scale")
        ->check(non_negative)
        ->capture_default_str();
    cmd->add_option("--batch", s.batch, "images per UNet call")->check(at_least_one)->capture_default_str();
    cmd->add_option("--seed", s.seed, "noise seed")->capture_default_str();
  };
  auto gen = std::make_shared<GenerateArgs>();
  auto* gen_cmd = app.add_subcommand(
      "generate", "generate images from prompts: a decoder with its own text encoder, or glued to a source encoder");
  gen_cmd->add_option("--decoder", gen->decoder, "decoder file (UNet, gluegen HDF5)")
      ->required()
      ->check(CLI::ExistingFile);
  const auto conditioning = [](CLI::App* cmd, ConditionArgs& c) {
    cmd->add_option("--encoder", c.encoder,
                    "the decoder's own text encoder (with --aligner: only for the empty prompt, the decoder's null)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--source-encoder", c.source_encoder, "GlueGen: a source text encoder glued on by --aligner")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--aligner", c.aligner,
                    "GlueGen: an aligner file (gluegen train) mapping the source encoder into the decoder's space")
        ->check(CLI::ExistingFile);
    cmd->add_option("--source-length", c.source_length, "source tokens per prompt (as the aligner was trained)")
        ->check(at_least_one)
        ->capture_default_str();
    cmd->add_option("--voices", c.voices,
                    "a Whisper --source-encoder: espeak-ng voices speaking the prompts in turn (NAME[:WPM[:PITCH]])")
        ->delimiter(',');
    cmd->add_option("--audio-rate", c.audio_rate, "a Whisper --source-encoder: the spoken prompts' sample rate in Hz")
        ->check(at_least_one)
        ->capture_default_str();
    cmd->add_option("--snr", c.snr_db, "a Whisper --source-encoder: white noise at this SNR in dB (default: clean)")
        ->check(finite);
    cmd->add_option("--speech-window", c.speech_window, "a Whisper --source-encoder: seconds of audio it reads")
        ->check(at_least_one)
        ->capture_default_str();
    cmd->add_flag("--allow-mismatch", c.allow_mismatch,
                  "use the models together even where their files record other ones (an ablation on purpose)");
  };
  const auto translation = [](CLI::App* cmd, ConditionArgs& c) {
    cmd->add_option("--translate", c.translate,
                    "the translation baseline: Apertium translates the prompts from this language (es, ca, gl, eo, "
                    "hbs, eu, is, mk) into English for --encoder");
  };
  conditioning(gen_cmd, gen->condition);
  translation(gen_cmd, gen->condition);
  gen_cmd->add_option("--prompt", gen->prompts, "prompt (repeatable)");
  gen_cmd->add_option("--audio", gen->audio, "a WAV file of speech (repeatable; a Whisper --source-encoder)")
      ->check(CLI::ExistingFile);
  gen_cmd->add_option("--per-prompt", gen->per_prompt, "images per prompt")->check(at_least_one)->capture_default_str();
  gen_cmd->add_option("--out", gen->out, "PNG grid")->capture_default_str();
  sampling(gen_cmd, gen->sample);
  gen_cmd->add_flag("--quiet", gen->quiet, "no progress line");

  auto corpus = std::make_shared<CorpusArgs>();
  auto* corpus_cmd =
      app.add_subcommand("fashion-corpus", "a parallel caption corpus (TSV) in several languages for gluegen encode");
  corpus_cmd->add_option("--out", corpus->out, "TSV file")->required();
  corpus_cmd->add_option("--languages", corpus->languages, "en, de, fr, es, zh, it")
      ->delimiter(',')
      ->capture_default_str();
  corpus_cmd->add_flag("--include-held-out", corpus->include_held_out,
                       "also the class x colour combinations held out of training");

  // the options eval-images and eval-prompts share, with their own defaults for the image counts
  const auto scored_images = [&](CLI::App* cmd, ScoredImagesArgs& a, const std::string& out, index_t per_prompt,
                                 index_t grid_per_prompt) {
    a.out = out, a.per_prompt = per_prompt, a.grid_per_prompt = grid_per_prompt;
    cmd->add_option("--decoder", a.decoder, "decoder file")->required()->check(CLI::ExistingFile);
    cmd->add_option("--scorer", a.scorer, "scorer file (gluegen train-scorer)")->required()->check(CLI::ExistingFile);
    conditioning(cmd, a.condition);
    cmd->add_option("--fashion-dir", a.fashion_dir, "Fashion-MNIST IDX files")->capture_default_str();
    cmd->add_option("--per-prompt", a.per_prompt, "images per prompt")->check(at_least_one)->capture_default_str();
    cmd->add_option("--grid-per-prompt", a.grid_per_prompt, "images per prompt in grid.png")
        ->check(non_negative)
        ->capture_default_str();
    cmd->add_option("--out", a.out, "output directory: metrics.json, metrics.md, grid.png")->capture_default_str();
    sampling(cmd, a.sample);
    cmd->add_flag("--quiet", a.quiet, "no progress line");
  };
  auto ev = std::make_shared<EvalImagesArgs>();
  auto* ev_cmd = app.add_subcommand(
      "eval-images", "class / colour accuracy and Fréchet distance of generated scenes, held-in vs held-out");
  scored_images(ev_cmd, *ev, "eval-images", 8, 4);
  ev_cmd->add_option("--captions", ev->captions, "precomputed English caption features (gluegen fashion-captions)")
      ->check(CLI::ExistingFile);
  ev_cmd
      ->add_option("--language", ev->language,
                   "prompt language: en, de, fr, es, zh, it, or code-mixed A+B (A's words, B's colour: de+en)")
      ->capture_default_str();
  translation(ev_cmd, ev->condition);

  auto ep = std::make_shared<EvalPromptsArgs>();
  auto* ep_cmd = app.add_subcommand(
      "eval-prompts", "class / colour accuracy per language of images generated from a prompt file (TSV)");
  scored_images(ep_cmd, *ep, "eval-prompts", 4, 2);
  ep_cmd->add_option("--prompts", ep->prompts, "prompt file: language, prompt, class, colour (data/prompts/)")
      ->required()
      ->check(CLI::ExistingFile);
  ep_cmd->add_option("--languages", ep->languages, "only these languages of the file (default: all)")->delimiter(',');
  ep_cmd->add_flag("--translate", ep->translate,
                   "the translation baseline: Apertium translates each prompt from its language into English "
                   "for --encoder");

  return [=]() -> int {
    if (ep_cmd->parsed()) return eval_prompts_command(*ep);
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
