// The research API (include/gluegen/pipeline.hpp): the glued pipeline equals the low-level calls it
// composes bit for bit on the shipped models; images do not depend on the batch size; a decoder file's
// noise record configures the sampler, so epsilon and v decoders both sample their data; a latent
// decoder goes through its VAE; a timestep-aware aligner runs at every step; features encoded already
// condition as their prompts do; spoken prompts go through the real Whisper tiny.en and the glue as
// the clips they render; load_pipeline resolves the files' types (a Whisper source: spoken prompts) and
// rejects what it cannot build.
#include <gluegen/diffusion/ddim.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/pipeline.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include "support/reference.hpp"
#include "support/tiny_unet.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using Tf = Tensor<float, Cpu>;
using Encoder = encoders::HfTextEncoder<float, Cpu>;
using UNet = diffusion::UNet2DCondition<float, Cpu>;

const std::string kModels = std::string(GLUEGEN_SOURCE_DIR) + "/data/models/";
const std::string kDiffusion = std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/";

bool bitwise_equal(const Tf& a, const Tf& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

/// The starting noise the decoder is specified to draw for images [first, last) of shape [C, side, side]:
/// image k's from Philox (seed, stream k), written out here independently of the library's code.
Tf image_noise(index_t first, index_t last, index_t C, index_t side, std::uint64_t seed) {
  Tf noise(Shape{last - first, C, side, side});
  for (index_t k = first; k < last; ++k) {
    Tf row = noise.slice(k - first, k - first + 1);
    ops::copy(ops::randn<float, Cpu>({1, C, side, side}, seed, static_cast<std::uint64_t>(k)), row);
  }
  return noise;
}

TEST(Pipeline, GluedGenerationIsTheLowLevelCompositionBitForBit) {
  const std::vector<std::string> prompts{"Turnschuh in Rot", "绿色的手提包", "botín de color amarillo"};
  const GenerateOptions opt{.steps = 5, .guidance = 4.0, .seed = 3, .batch = 2};
  // the pipeline: e5 -> the shipped GlueNet f -> the shipped decoder, MiniLM's "" as the null
  using Glued = Pipeline<Encoder, aligners::TranslatorNoLn<float, Cpu>, UNet>;
  Glued glued(Encoder(kModels + "multilingual-e5-small-q4"),
              aligners::load_translator<float, Cpu, false>(io::WeightReader(kModels + "gluegen-fashion-aligner-e5.h5")),
              diffusion::load_diffusion_decoder(kModels + "gluegen-fashion-decoder.h5"), {.source_length = 16});
  glued.set_null_condition(Encoder(kModels + "all-MiniLM-L6-v2").encode({""}, 16).last_hidden_state.clone());
  const Tf images = glued.generate(prompts, opt).samples;
  ASSERT_EQ(images.shape(), (Shape{3, 3, 32, 32}));

  // the same by hand: encode, align, and sample each batch from noise keyed by (seed, image)
  Encoder e5(kModels + "multilingual-e5-small-q4");
  auto f = aligners::load_translator<float, Cpu, false>(io::WeightReader(kModels + "gluegen-fashion-aligner-e5.h5"));
  aligners::TranslatorNoLn<float, Cpu>::Cache fc;
  const auto s = e5.encode(prompts, 16);
  const Tf cond = f.forward(s.last_hidden_state, fc).clone();
  const Tf null = Encoder(kModels + "all-MiniLM-L6-v2").encode({""}, 16).last_hidden_state.clone();
  const io::WeightReader decoder_file(kModels + "gluegen-fashion-decoder.h5");
  auto unet = diffusion::load_unet<float, Cpu>(decoder_file);
  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config(
      "DPMSolverMultistepScheduler",
      {{"beta_schedule", "linear"}, {"beta_start", 0.0001}, {"beta_end", 0.02}, {"clip_sample", false}});
  for (index_t first = 0; first < 3; first += 2) {
    const index_t last = std::min<index_t>(3, first + 2);
    const Tf noise = image_noise(first, last, 3, 32, 3);
    const Tf x = diffusion::sample(unet, scheduler, cond.slice(first, last).contiguous(), &null, noise,
                                   {.steps = 5, .guidance_scale = 4.0});
    EXPECT_TRUE(bitwise_equal(images.slice(first, last).contiguous(), x)) << "images " << first << ".." << last;
  }
}

TEST(DiffusionDecoder, ImagesDoNotDependOnTheBatchSize) {
  for (const char* sampler : {"DPMSolverMultistepScheduler", "EulerAncestralDiscreteScheduler", "DDPMScheduler"}) {
    auto decoder = diffusion::load_diffusion_decoder(kDiffusion + "unet_sd1.h5", sampler);
    const Conditioning<float, Cpu> c{ops::randn<float, Cpu>({5, 3, 12}, 1), ops::randn<float, Cpu>({1, 3, 12}, 2)};
    const Tf one = decoder.generate(c, {.steps = 4, .seed = 9, .batch = 1}).samples;
    const Tf three = decoder.generate(c, {.steps = 4, .seed = 9, .batch = 3}).samples;
    // the same noise per image whatever the batch; only the batched arithmetic's rounding differs
    EXPECT_TRUE(test::all_close(one.to_vector(), three.to_vector(), 1e-3)) << sampler;
    const Tf other_seed = decoder.generate(c, {.steps = 4, .seed = 10, .batch = 3}).samples;
    EXPECT_FALSE(test::all_close(one.to_vector(), other_seed.to_vector(), 1e-2)) << sampler;
  }
}

/// The exact denoiser of Gaussian data x0 ~ N(0, sigma^2 I) (any conditioning): for x_t = a x0 + s eps
/// (a = sqrt(abar_t), s = sqrt(1 - abar_t)), E[x0 | x_t] = a sigma^2 x_t / (a^2 sigma^2 + s^2), with
/// eps = (x_t - a x0) / s and v = a eps - s x0 (Salimans & Ho 2022, sec. 4). Its probability-flow ODE
/// maps the starting noise z at timestep T to sigma z / sqrt(a_T^2 sigma^2 + s_T^2): a sampler
/// configured for the prediction it makes must land there.
class GaussianDenoiser {
 public:
  using value_type = float;
  using policy = Cpu;
  struct Cache {
    Tf out;
  };
  GaussianDenoiser(double sigma, diffusion::Prediction prediction)
      : sigma_(sigma), prediction_(prediction), schedule_(noise()) {}

  const Tf& forward(const Tf& x, std::span<const double> t, const Tf&, Cache& c) {
    const double abar = schedule_.alpha_bar(static_cast<index_t>(t[0])), a = std::sqrt(abar), s = std::sqrt(1 - abar);
    const auto xv = x.to_vector();
    std::vector<float> out(xv.size());
    for (std::size_t i = 0; i < xv.size(); ++i) {
      const double x0 = a * sigma_ * sigma_ * xv[i] / (a * a * sigma_ * sigma_ + s * s), eps = (xv[i] - a * x0) / s;
      out[i] = static_cast<float>(prediction_ == diffusion::Prediction::v ? a * eps - s * x0 : eps);
    }
    c.out = Tf::from_host(x.shape(), out);
    return c.out;
  }
  template <typename F>
  void visit_parameters(F&&, const std::string&) {}
  [[nodiscard]] index_t sample_channels() const { return 2; }
  [[nodiscard]] index_t sample_size() const { return 4; }
  [[nodiscard]] index_t context_dim() const { return 4; }
  [[nodiscard]] diffusion::SchedulerConfig noise() const { return diffusion::training_noise(prediction_); }
  /// Where the ODE takes noise z from timestep t_start.
  [[nodiscard]] std::vector<float> ode_end(const Tf& z, double t_start) const {
    const double abar = schedule_.alpha_bar(static_cast<index_t>(t_start));
    const double k = sigma_ / std::sqrt(abar * sigma_ * sigma_ + 1 - abar);
    std::vector<float> out = z.to_vector();
    for (auto& v : out) v = static_cast<float>(k * v);
    return out;
  }

 private:
  double sigma_;
  diffusion::Prediction prediction_;
  diffusion::NoiseSchedule schedule_;
};
static_assert(diffusion::Denoiser<GaussianDenoiser>);

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  return m;
}

TEST(DiffusionDecoder, EpsilonAndVDecodersSampleTheirDataWithTheirRecordedSampler) {
  const Conditioning<float, Cpu> c{Tf::full({3, 1, 4}, 0.f), Tf::full({1, 1, 4}, 0.f)};
  const Tf z = image_noise(0, 3, 2, 4, 0);
  const auto other = [](diffusion::Prediction p) {
    return p == diffusion::Prediction::v ? diffusion::Prediction::epsilon : diffusion::Prediction::v;
  };
  // 50 steps: DPM-Solver++(2M) is second order (measured 7e-4), DDIM first order (8e-2)
  const std::vector<std::pair<const char*, double>> samplers{{"DPMSolverMultistepScheduler", 5e-3},
                                                             {"DDIMScheduler", 0.1}};
  for (const auto prediction : {diffusion::Prediction::epsilon, diffusion::Prediction::v})
    for (const auto& [sampler, tolerance] : samplers) {
      GaussianDenoiser model(0.5, prediction);
      const auto sample = [&](diffusion::Prediction configured) {
        diffusion::DiffusionDecoder<GaussianDenoiser> decoder(
            model, diffusion::AnyScheduler<float, Cpu>::from_config(
                       sampler, diffusion::scheduler_record(diffusion::training_noise(configured))));
        const Tf x = decoder.generate(c, {.steps = 50, .guidance = 1.0}).samples;
        return max_abs_diff(x.to_vector(), model.ode_end(z, decoder.sampler.timesteps().front()));
      };
      const double right = sample(prediction), wrong = sample(other(prediction));
      EXPECT_LT(right, tolerance) << diffusion::prediction_type_name(prediction) << " decoder, " << sampler;
      // read as the other target, the same model lands elsewhere: the record is what makes it right
      EXPECT_GT(wrong, 0.5) << diffusion::prediction_type_name(prediction) << " decoder, " << sampler;
      std::printf("%s decoder, %s: max |x - ODE end| %.4f with its recorded sampler, %.4f read as %s\n",
                  diffusion::prediction_type_name(prediction), sampler, right, wrong,
                  diffusion::prediction_type_name(other(prediction)));
    }
}

TEST(DecoderFile, RecordsTheNoiseScheduleItSamplesWith) {
  const auto dir = std::filesystem::temp_directory_path() / "gluegen_pipeline_test";
  std::filesystem::create_directories(dir);
  UNet unet(test::tiny_unet_config(), 1);
  diffusion::save_unet(unet, unet.config().to_json(), dir / "v.h5",
                       diffusion::training_noise(diffusion::Prediction::v));
  const auto decoder = diffusion::load_diffusion_decoder(dir / "v.h5", "DDIMScheduler");
  EXPECT_EQ(decoder.sampler.schedule().config().prediction, diffusion::Prediction::v);
  EXPECT_FALSE(decoder.sampler.schedule().config().clip_sample);
  const auto record = diffusion::read_scheduler_record(io::WeightReader(dir / "v.h5"));
  EXPECT_TRUE(record.recorded);
  EXPECT_EQ(record.config.at("prediction_type"), "v_prediction");
  // a file from before the record: gluegen's training default (epsilon, linear betas)
  const auto legacy = diffusion::read_scheduler_record(io::WeightReader(kDiffusion + "unet_sd1.h5"));
  EXPECT_FALSE(legacy.recorded);
  EXPECT_EQ(legacy.config, diffusion::scheduler_record(diffusion::training_noise()));
  // a record that is not a scheduler config names the file and the dataset
  {
    io::WeightWriter bad(dir / "bad.h5", {.model_type = diffusion::kUNetModelType, .config = unet.config().to_json()});
    io::save_parameters(unet, bad);
    bad.write_strings(diffusion::kSchedulerConfigDataset, {"not json"});
    bad.commit();
  }
  try {
    (void)diffusion::load_diffusion_decoder(dir / "bad.h5");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.h5': dataset 'scheduler_config' is not a JSON object"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(DiffusionDecoder, LatentDecoderDecodesThroughItsVae) {
  auto decoder =
      diffusion::load_diffusion_decoder(kDiffusion + "unet_sd1.h5", "DDIMScheduler", kDiffusion + "vae_tiny.h5");
  const Conditioning<float, Cpu> c{ops::randn<float, Cpu>({2, 3, 12}, 1), ops::randn<float, Cpu>({1, 3, 12}, 2)};
  const Tf images = decoder.generate(c, {.steps = 3, .seed = 4}).samples;
  // by hand: the latents of the same noise, divided by the scaling factor, through the VAE decoder
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(kDiffusion + "unet_sd1.h5"));
  auto vae = diffusion::load_vae<float, Cpu>(io::WeightReader(kDiffusion + "vae_tiny.h5"));
  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config(
      "DDIMScheduler", diffusion::scheduler_record(diffusion::training_noise()));
  const Tf noise = image_noise(0, 2, 4, 16, 4);
  const Tf latents = diffusion::sample(unet, scheduler, c.cond, &c.uncond, noise, {.steps = 3, .guidance_scale = 4.0});
  diffusion::AutoencoderKL<float, Cpu>::DecodeCache dc;
  const Tf expected = vae.decode(ops::scale(latents, float(1 / vae.config().scaling_factor)), dc);
  EXPECT_EQ(images.shape(), expected.shape());
  EXPECT_TRUE(bitwise_equal(images, expected));
}

/// ELLA's connector, recording every call's timesteps (the pipeline must call it at each step).
struct RecordingConnector : aligners::TimestepConnector<float, Cpu> {
  using aligners::TimestepConnector<float, Cpu>::TimestepConnector;
  const Tf& align(const Tf& source, const Tf& mask, std::span<const double> t, Cache& c) {
    seen.push_back(t[0]);
    return aligners::TimestepConnector<float, Cpu>::align(source, mask, t, c);
  }
  std::vector<double> seen;
};
static_assert(aligners::TimestepAligner<RecordingConnector>);

TEST(Pipeline, TimestepAwareAlignerRunsAtEveryDenoisingStep) {
  const aligners::TimestepConnectorConfig cfg{.time_channel = 8,
                                              .time_embed_dim = 12,
                                              .width = 12,
                                              .layers = 1,
                                              .heads = 2,
                                              .num_latents = 4,
                                              .input_dim = 384};
  Pipeline<Encoder, RecordingConnector, UNet> p(
      Encoder(kModels + "all-MiniLM-L6-v2"), RecordingConnector(cfg, 7),
      diffusion::load_diffusion_decoder(kDiffusion + "unet_sd1.h5", "DDIMScheduler"), {.source_length = 8});
  const std::vector<std::string> prompts{"a red sneaker", "a blue bag", "a green dress"};
  const Tf images = p.generate(prompts, {.steps = 4, .seed = 1, .batch = 2}).samples;
  const auto& ts = p.decoder.sampler.timesteps();
  ASSERT_EQ(ts.size(), 4u);
  ASSERT_EQ(p.aligner.seen.size(), 8u);  // 2 batches x 4 steps
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(p.aligner.seen[i], ts[i % 4]);
  // each step's conditioning is the connector at that step's timestep: the static condition() at a
  // fixed t differs between timesteps, so the aligner really changes over the trajectory
  const auto early = p.condition(prompts, ts.front()), late = p.condition(prompts, ts.back());
  EXPECT_EQ(early.cond.shape(), (Shape{3, 4, 12}));
  EXPECT_FALSE(bitwise_equal(early.cond, late.cond));
  // and the images are those of a loop that recomputes it by hand (the first batch)
  Encoder minilm(kModels + "all-MiniLM-L6-v2");
  const auto all = minilm.encode({"a red sneaker", "a blue bag", "a green dress", ""}, 8);
  Tf rows, mask;  // the first batch's prompts and the empty prompt, as the pipeline lays them out
  ops::concat(all.last_hidden_state.slice(0, 2).contiguous(), all.last_hidden_state.slice(3, 4).contiguous(), 0, rows);
  ops::concat(all.mask.slice(0, 2).contiguous(), all.mask.slice(3, 4).contiguous(), 0, mask);
  aligners::TimestepConnector<float, Cpu> tsc(cfg, 7);
  aligners::TimestepConnector<float, Cpu>::Cache tc;
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(kDiffusion + "unet_sd1.h5"));
  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config(
      "DDIMScheduler", diffusion::scheduler_record(diffusion::training_noise()));
  const Tf noise = image_noise(0, 2, 4, 16, 1);
  Tf context;
  const Tf x = diffusion::denoise(
      unet, scheduler,
      [&](index_t, double t) -> const Tf& {
        const std::vector<double> t3(3, t);
        const Tf aligned = tsc.align(rows, mask, t3, tc).clone();
        diffusion::guided_context(aligned.slice(0, 2).contiguous(), aligned.slice(2, 3).contiguous(), context);
        return context;
      },
      noise, {.steps = 4, .guidance_scale = 4.0}, [](index_t, const Shape& shape) { return Tf(shape); });
  EXPECT_TRUE(bitwise_equal(images.slice(0, 2).contiguous(), x));
}

TEST(Pipeline, EncodedFeaturesConditionAsTheirPromptsDo) {
  using Glued = Pipeline<Encoder, aligners::TranslatorNoLn<float, Cpu>, UNet>;
  Glued glued(Encoder(kModels + "multilingual-e5-small-q4"),
              aligners::load_translator<float, Cpu, false>(io::WeightReader(kModels + "gluegen-fashion-aligner-e5.h5")),
              diffusion::load_diffusion_decoder(kModels + "gluegen-fashion-decoder.h5"), {.source_length = 16});
  const std::vector<std::string> prompts{"Turnschuh in Rot", "robe de couleur bleu"};
  const auto features = Encoder(kModels + "multilingual-e5-small-q4").encode(prompts, 16);
  try {  // no prompt to put the empty one beside: the decoder's own null is needed
    (void)glued.condition(features);
    ADD_FAILURE() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("needs the decoder's null conditioning"), std::string::npos) << e.what();
  }
  glued.set_null_condition(Encoder(kModels + "all-MiniLM-L6-v2").encode({""}, 16).last_hidden_state.clone());
  const auto by_prompt = glued.condition(prompts), by_features = glued.condition(features);
  EXPECT_TRUE(bitwise_equal(by_prompt.cond, by_features.cond));
  EXPECT_TRUE(bitwise_equal(by_prompt.uncond, by_features.uncond));
  const GenerateOptions opt{.steps = 2, .seed = 5};
  EXPECT_TRUE(bitwise_equal(glued.generate(prompts, opt).samples, glued.generate(features, opt).samples));
  auto wrong = features;
  wrong.last_hidden_state = features.last_hidden_state.slice(0, 1).contiguous();
  EXPECT_THROW((void)glued.condition(wrong), ShapeError);  // rows of features and mask disagree
}

using Spoken = encoders::SpokenPromptEncoder<float, Cpu>;
const std::string kWhisperTiny = kModels + "whisper-tiny.en-ct2";

/// A random GlueNet f from Whisper tiny.en's 50 pooled tokens x 384 to the decoder's 16 x 384.
const aligners::TranslatorConfig kSpeechTranslator{
    .num_tok = 50, .num_tok_out = 16, .dim = 384, .dim_out = 384, .depth = 1};
aligners::TranslatorNoLn<float, Cpu> speech_translator() {
  return aligners::TranslatorNoLn<float, Cpu>(kSpeechTranslator, 11);
}

TEST(SpokenPromptEncoder, SpeaksEachPromptInTheNextVoiceAndEncodesTheClips) {
  const encoders::SpokenPromptOptions opt{.voices = {{.name = "en-us"}, {.name = "en-gb+f3", .words_per_minute = 120}}};
  Spoken spoken(kWhisperTiny, opt);
  EXPECT_EQ(spoken.width(), 384);
  const auto clips = spoken.render({"a red sneaker", "a red sneaker", "", "a red sneaker"});
  ASSERT_EQ(clips.size(), 4u);
  EXPECT_EQ(spoken.spoken(), 3) << "the empty prompt takes no turn";
  EXPECT_EQ(clips[2].samples, std::vector<float>(16000, 0.0F)) << "the empty prompt is a second of silence";
  for (const auto& c : clips) EXPECT_EQ(c.sample_rate, 16000);
  // prompt n is voices[n % 2]: 120 words per minute against 175 makes the second clip longer
  EXPECT_GT(clips[1].seconds(), 1.2 * clips[0].seconds());
  EXPECT_NEAR(clips[3].seconds(), clips[0].seconds(), 0.01) << "the first voice again";
  const auto out = spoken.encode({"a red sneaker", "a blue bag"}, 50);
  EXPECT_EQ(out.last_hidden_state.shape(), (Shape{2, 50, 384}));
  EXPECT_EQ(spoken.spoken(), 5);
  const auto again = spoken.encode_clips(clips, 50);
  EXPECT_TRUE(bitwise_equal(again.last_hidden_state, spoken.encode_clips(clips, 50).last_hidden_state));
  // degraded: a telephone-band rate, and white noise at 5 dB, other noise for every prompt
  Spoken noisy(kWhisperTiny, {.sample_rate = 8000, .snr_db = 5, .noise_seed = 2});
  const auto band = noisy.render({"a red sneaker"}).front();
  EXPECT_EQ(band.sample_rate, 8000);
  EXPECT_NEAR(band.seconds(), clips[0].seconds(), 0.01);
  EXPECT_THROW(Spoken(kWhisperTiny, {.voices = {}}), ValueError);
  EXPECT_THROW(Spoken(kWhisperTiny, {.sample_rate = 4000}), ValueError);
}

TEST(Pipeline, SpokenPromptsGenerateThroughWhisperAndTheGlue) {
  using SpokenGlue = Pipeline<Spoken, aligners::TranslatorNoLn<float, Cpu>, UNet>;
  const Tf null = Encoder(kModels + "all-MiniLM-L6-v2").encode({""}, 16).last_hidden_state.clone();
  SpokenGlue p(Spoken(kWhisperTiny, {.voices = {{.name = "en-us"}, {.name = "en-029"}}}), speech_translator(),
               diffusion::load_diffusion_decoder(kModels + "gluegen-fashion-decoder.h5"),
               {.source_length = 50, .null_condition = null});
  const std::vector<std::string> prompts{"a green dress", "an orange bag"};
  const GenerateOptions o{.steps = 2, .seed = 9};
  const Tf images = p.generate(prompts, o).samples;
  EXPECT_EQ(images.shape(), (Shape{2, 3, 32, 32}));
  EXPECT_EQ(p.source.spoken(), 2);
  // recorded clips: the same composition, from the clips' features
  const auto clips = p.source.render(prompts);
  const auto features = p.source.encode_clips(clips, 50);
  const Tf from_clips = p.generate(features, o).samples;
  const auto c = p.condition(features);
  EXPECT_TRUE(bitwise_equal(from_clips, p.decoder.generate(c, o).samples));
  EXPECT_EQ(c.cond.shape(), (Shape{2, 16, 384}));
  EXPECT_TRUE(bitwise_equal(c.uncond, null));
}

/// load_pipeline(f) fails with a gluegen::Error whose message contains `expected`.
void expect_load_error(const PipelineFiles& f, const std::string& expected) {
  try {
    (void)load_pipeline(f);
    ADD_FAILURE() << "expected an error containing: " << expected;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(LoadPipeline, ResolvesTheAlignerFilesTypeOnce) {
  const PipelineFiles own{
      .decoder = kModels + "gluegen-fashion-decoder.h5", .encoder = kModels + "all-MiniLM-L6-v2", .length = 16};
  using Own = HfPipeline<aligners::Identity<float, Cpu>>;
  using Glued = HfPipeline<aligners::TranslatorNoLn<float, Cpu>>;
  EXPECT_TRUE(std::holds_alternative<Own>(load_pipeline(own)));
  PipelineFiles glued = own;
  glued.source_encoder = kModels + "multilingual-e5-small-q4";
  glued.aligner = kModels + "gluegen-fashion-aligner-e5.h5";
  glued.source_length = 16;  // as the aligner was trained (its provenance record says so)
  auto p = load_pipeline(glued);
  ASSERT_TRUE(std::holds_alternative<Glued>(p));
  EXPECT_TRUE(std::get<Glued>(p).options().null_condition.defined());  // MiniLM's ""
  PipelineFiles no_source = glued;
  no_source.source_encoder.clear();
  expect_load_error(no_source, "needs the source encoder it was trained on");
  PipelineFiles not_an_aligner = glued;
  not_an_aligner.aligner = kModels + "gluegen-fashion-scorer.h5";
  expect_load_error(not_an_aligner, "gluegen-fashion-scorer.h5' holds a 'gluegen.fashion_classifier', not an aligner");
  PipelineFiles nothing = own;
  nothing.encoder.clear();
  expect_load_error(nothing, "needs the decoder's own text encoder, or a source encoder and an aligner");
}

TEST(LoadPipeline, RefusesModelsTheirFilesSayWereNotTrainedTogether) {
  const PipelineFiles glued{.decoder = kModels + "gluegen-fashion-decoder.h5",
                            .encoder = kModels + "all-MiniLM-L6-v2",
                            .source_encoder = kModels + "multilingual-e5-small-q4",
                            .aligner = kModels + "gluegen-fashion-aligner-e5.h5",
                            .length = 16,
                            .source_length = 16};
  // MiniLM is as wide as e5: without the record this pairing generated (wrong) images
  PipelineFiles minilm_source = glued;
  minilm_source.source_encoder = kModels + "all-MiniLM-L6-v2";
  expect_load_error(minilm_source,
                    "gluegen-fashion-aligner-e5.h5' was trained with the source encoder 'multilingual-e5-small-q4'");
  minilm_source.allow_mismatch = true;
  using Glued = HfPipeline<aligners::TranslatorNoLn<float, Cpu>>;
  EXPECT_TRUE(std::holds_alternative<Glued>(load_pipeline(minilm_source)));
  PipelineFiles short_source = glued;
  short_source.source_length = 8;
  expect_load_error(short_source, "was trained with 16 tokens per prompt (--source-length 16), not 8");
  PipelineFiles e5_as_own{.decoder = glued.decoder, .encoder = glued.source_encoder, .length = 16};
  expect_load_error(e5_as_own, "gluegen-fashion-decoder.h5' was trained with the text encoder 'all-MiniLM-L6-v2'");
  PipelineFiles short_own = e5_as_own;
  short_own.encoder = glued.encoder;
  short_own.length = 8;
  expect_load_error(short_own, "(--length 16), not 8");
  // an aligner into another encoder's space than the one the decoder was trained on
  const auto other_target = std::filesystem::temp_directory_path() / fmt::format("gluegen_other_{}.h5", ::getpid());
  {
    const io::WeightReader in(glued.aligner);
    io::ModelMeta meta = in.meta();
    meta.provenance["target_encoder"] = io::ModelIdentity{"clip-text", std::string(64, '0')}.to_json();
    io::WeightWriter out(other_target, meta);
    for (const auto& name : in.names()) out.write(name, in.read<float>(name));
    out.commit();
  }
  PipelineFiles other = glued;
  other.aligner = other_target;
  expect_load_error(other,
                    "maps into the features of the target encoder 'clip-text' (sha256 000000000000), but the "
                    "decoder '" +
                        glued.decoder.string() + "' was trained on those of 'all-MiniLM-L6-v2'");
  std::filesystem::remove(other_target);
}

TEST(LoadPipeline, AWhisperSourceEncoderSpeaksThePrompts) {
  const auto file = std::filesystem::temp_directory_path() / fmt::format("gluegen_speech_aligner_{}.h5", ::getpid());
  {
    auto f = speech_translator();
    io::WeightWriter w(file, aligners::translator_meta<false>(kSpeechTranslator));
    io::save_parameters(f, w);
    w.commit();
  }
  PipelineFiles files{.decoder = kModels + "gluegen-fashion-decoder.h5",
                      .encoder = kModels + "all-MiniLM-L6-v2",
                      .source_encoder = kWhisperTiny,
                      .aligner = file,
                      .length = 16,
                      .source_length = 50};
  files.speech.voices = {{.name = "en-gb-scotland", .words_per_minute = 150}};
  auto p = load_pipeline(files);
  using Speech = SpeechPipeline<aligners::TranslatorNoLn<float, Cpu>>;
  ASSERT_TRUE(std::holds_alternative<Speech>(p));
  const auto& speech = std::get<Speech>(p);
  EXPECT_EQ(speech.source.options().voices.at(0).name, "en-gb-scotland");
  EXPECT_EQ(speech.source.options().voices.at(0).words_per_minute, 150);
  EXPECT_TRUE(speech.options().null_condition.defined());
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace gluegen
