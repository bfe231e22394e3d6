// The default target model's pieces: IDX reading, scenes and captions, the colour and intensity
// recovery the scorer relies on, the Fréchet distance, the scorer's gradients, scene / caption
// batches as features or token ids, and the decoder trainer's exact resume.
#include <gluegen/default_model/captions.hpp>
#include <gluegen/default_model/scorer.hpp>
#include <gluegen/diffusion/ddpm.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/eval/frechet.hpp>

#include <gtest/gtest.h>

#include <set>

#include "support/gradcheck.hpp"
#include "support/paths.hpp"
#include "support/tiny_unet.hpp"

namespace gluegen {
namespace {

namespace fm = default_model;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("gluegen_dm_" + name);
}

void write_gz(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ReadsGzipAndRejectsBadFiles) {
  std::vector<std::uint8_t> bytes{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
  write_gz(temp_path("ok.gz"), bytes);
  const auto a = io::read_idx(temp_path("ok.gz"));
  EXPECT_EQ(a.shape, (Shape{2, 1, 3}));
  EXPECT_EQ(a.data, (std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}));
  bytes.pop_back();
  write_gz(temp_path("short.gz"), bytes);
  EXPECT_THROW((void)io::read_idx(temp_path("short.gz")), TruncatedFileError);
  write_gz(temp_path("magic.gz"), {1, 2, 3, 4});
  EXPECT_THROW((void)io::read_idx(temp_path("magic.gz")), IoError);
  write_gz(temp_path("type.gz"), {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_THROW((void)io::read_idx(temp_path("type.gz")), IoError);
  EXPECT_THROW((void)io::read_idx(temp_path("missing.gz")), FileNotFoundError);
  // found by fuzzing: extents that multiply past 2^63, and 2^40 declared elements behind a 20-byte file, were a
  // signed overflow and a terabyte allocation; they are typed errors before anything is allocated
  write_gz(temp_path("absurd.gz"),
           {0, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255});
  EXPECT_THROW((void)io::read_idx(temp_path("absurd.gz")), IoError);
  write_gz(temp_path("huge.gz"), {0, 0, 8, 2, 0, 16, 0, 0, 0, 16, 0, 0, 7, 7, 7, 7});
  EXPECT_THROW((void)io::read_idx(temp_path("huge.gz")), TruncatedFileError);
}

TEST(FashionScenes, CaptionsCoverEveryCombinationWithGrammaticalArticles) {
  const auto caps = fm::all_captions();
  EXPECT_EQ(caps.size(), 10u * 6 * 6 * 3 * 3 + 1);
  EXPECT_EQ(caps.back().text, "");
  std::set<std::string> texts;
  for (const auto& c : caps) texts.insert(c.text);
  EXPECT_EQ(texts.size(), caps.size());  // no duplicates
  for (const char* s : {"a red sneaker", "an orange sneaker", "an emerald dress", "a photo of an amber bag",
                        "pair of trousers, violet", "a picture of an ankle boot in cobalt", "an image of a golden tee"})
    EXPECT_TRUE(texts.count(s)) << s;
  EXPECT_FALSE(texts.count("a orange sneaker"));
  int held = 0;
  std::set<int> held_colours;
  for (int cls = 0; cls < fm::kClasses; ++cls) {
    int per_class = 0;
    for (int col = 0; col < fm::kColours; ++col)
      if (fm::held_out(cls, col)) ++held, ++per_class, held_colours.insert(col);
    EXPECT_EQ(per_class, 1) << fm::class_names()[static_cast<std::size_t>(cls)];
  }
  EXPECT_EQ(held, 10);
  EXPECT_EQ(held_colours.size(), 6u);
}

TEST(FashionScenes, MultilingualCaptionsCoverEveryCombinationOnce) {
  namespace fm = default_model;
  EXPECT_EQ(fm::caption_in("en", 0, 7, 0), "a red sneaker");
  EXPECT_EQ(fm::caption_in("de", 0, 7, 0), "Turnschuh in Rot");
  EXPECT_EQ(fm::caption_in("fr", 1, 3, 4), "photo : robe de couleur bleu");
  EXPECT_EQ(fm::caption_in("zh", 0, 8, 3), "绿色的手提包");
  for (const auto& language : fm::languages())
    for (int t = 0; t < 2; ++t) {
      std::set<std::string> distinct;
      for (int cls = 0; cls < fm::kClasses; ++cls)
        for (int col = 0; col < fm::kColours; ++col) distinct.insert(fm::caption_in(language.tag, t, cls, col));
      EXPECT_EQ(distinct.size(), static_cast<std::size_t>(fm::kClasses * fm::kColours))
          << language.name << " template " << t;
    }
  // code-mixed: A's template and object, B's colour
  EXPECT_EQ(fm::caption_in("de+en", 0, 7, 0), "Turnschuh in red");
  EXPECT_EQ(fm::caption_in("zh+en", 0, 8, 3), "green的手提包");
  EXPECT_EQ(fm::caption_in("en+de", 0, 7, 0), "a Rot sneaker");
  EXPECT_THROW((void)fm::caption_in("de+de", 0, 0, 0), ValueError);
  EXPECT_THROW((void)fm::caption_in("de+xx", 0, 0, 0), ValueError);
  try {
    (void)fm::caption_in("xx", 0, 0, 0);
    FAIL() << "an unknown language tag was accepted";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("de, fr"), std::string::npos) << e.what();
  }
}

TEST(FashionScenes, IntensityAndColourAreRecoveredFromScenes) {
  std::vector<std::uint8_t> item(28 * 28, 0);
  for (int y = 6; y < 22; ++y)
    for (int x = 8; x < 20; ++x) item[static_cast<std::size_t>(y * 28 + x)] = static_cast<std::uint8_t>(100 + 5 * x);
  std::vector<float> scene(3 * 32 * 32), back(28 * 28);
  for (int col = 0; col < fm::kColours; ++col) {
    fm::render_scene(item.data(), col, scene.data());
    EXPECT_EQ(fm::scene_colour(scene.data()), col) << fm::colours()[static_cast<std::size_t>(col)].name;
    fm::scene_intensity(scene.data(), back.data());
    for (int i = 0; i < 28 * 28; ++i)
      ASSERT_NEAR(back[static_cast<std::size_t>(i)], item[static_cast<std::size_t>(i)] / 255.0f, 1e-6);
  }
  EXPECT_FLOAT_EQ(scene[0], -1.0f);  // black border
  std::vector<float> black(3 * 32 * 32, -1.0f);
  EXPECT_EQ(fm::scene_colour(black.data()), -1);
}

// The same generator draws the same images and caption rows whether the captions come as features
// (each row's feature is its row number here) or as token ids (LaVi-Bridge with the language model
// in the loop): the token rows are the tokenizer's output for the captions the features name.
TEST(SceneCaptionData, FeatureAndTokenBatchesDrawTheSameRows) {
  fm::FashionMnist images;
  images.count = 10;
  images.labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  images.images.resize(10 * fm::kItemSide * fm::kItemSide);
  for (std::size_t i = 0; i < images.images.size(); ++i) images.images[i] = static_cast<std::uint8_t>((i * 37) % 251);
  fm::CaptionFeatures<float> captions;
  for (const auto& c : fm::all_captions({"en"})) {
    captions.text.push_back(c.text);
    captions.cls.push_back(c.cls);
    captions.colour.push_back(c.colour);
  }
  const auto n = static_cast<index_t>(captions.text.size());
  std::vector<float> rows(static_cast<std::size_t>(n * 6));
  for (index_t r = 0; r < n; ++r) std::fill_n(rows.begin() + r * 6, 6, static_cast<float>(r));
  captions.features = Tensor<float, Cpu>::from_host({n, 6, 1}, rows);
  captions.encoder = "bert_tiny";
  const encoders::HfTextEncoder<float, Cpu> bert(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/bert_tiny.h5");
  fm::SceneCaptionData<float> features(images, captions, 0.3);
  fm::SceneCaptionData<float, fm::CaptionTokens> tokens(images, fm::CaptionTokens::tokenize(captions, bert.tokenizer()),
                                                        0.3);
  EXPECT_EQ(tokens.describe()["context"], (nlohmann::json{{"tokens", 6}}));
  EXPECT_EQ(features.describe()["context"], (nlohmann::json{6, 1}));
  std::mt19937_64 rng_f(5), rng_t(5);
  const auto fb = features.batch(12, rng_f);
  const auto tb = tokens.batch(12, rng_t);
  EXPECT_EQ(fb.x0.to_vector(), tb.x0.to_vector());
  const auto drawn = fb.context.to_vector();
  std::vector<std::string> texts;
  bool empty_drawn = false;
  for (index_t b = 0; b < 12; ++b) {
    texts.push_back(captions.text[static_cast<std::size_t>(drawn[static_cast<std::size_t>(b * 6)])]);
    empty_drawn |= texts.back().empty();
  }
  EXPECT_TRUE(empty_drawn);  // caption dropout 0.3 over 12 draws (this seed)
  const auto expected = bert.tokenizer().encode_batch(texts, 6, true);
  EXPECT_EQ(tb.context.input_ids.to_vector(), expected.input_ids.to_vector());
  EXPECT_EQ(tb.context.attention_mask.to_vector(), expected.attention_mask.to_vector());
}

TEST(Frechet, MatchesTheClosedFormForDiagonalGaussians) {
  // 1-D: d^2 = (m1 - m2)^2 + (s1 - s2)^2; identical samples: 0
  std::vector<float> a, b;
  for (int i = 0; i < 1000; ++i) {
    const float u = static_cast<float>(i % 2 ? 1 : -1);
    a.push_back(1.0f + 2.0f * u);
    b.push_back(-0.5f + 0.5f * u);
  }
  const auto fa = eval::fit_gaussian(a, 1), fb = eval::fit_gaussian(b, 1);
  const double sa = std::sqrt(fa.cov(0, 0)), sb = std::sqrt(fb.cov(0, 0));
  EXPECT_NEAR(eval::frechet_distance(fa, fb), 1.5 * 1.5 + (sa - sb) * (sa - sb), 1e-9);
  EXPECT_NEAR(eval::frechet_distance(fa, fa), 0.0, 1e-9);
  EXPECT_THROW((void)eval::fit_gaussian({1.0f}, 1), ValueError);
}

TEST(FashionClassifier, GradientsMatchFiniteDifferences) {
  default_model::FashionClassifier<double, Cpu> net(3);
  test::Td x = ops::rand<double, Cpu>({2, 1, 28, 28}, 1);
  default_model::FashionClassifier<double, Cpu>::Cache cache;
  const test::Td y = net.forward(x, cache).clone();
  const test::Td dy = ops::randn<double, Cpu>(y.shape(), 2);
  nn::zero_grad(net);
  net.backward(dy, cache);
  const auto loss = [&] {
    default_model::FashionClassifier<double, Cpu>::Cache fresh;
    return test::dot(net.forward(x, fresh), dy);
  };
  net.visit_parameters(
      [&](const std::string& name, nn::Param<double, Cpu>& p) {
        EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, name, 8));
      },
      "");
  EXPECT_EQ(net.features(cache).shape(), (Shape{2, 128}));
}

/// Random scenes and contexts from the step's generator: enough to exercise the trainer.
struct SyntheticDecoderData {
  train::DecoderBatch<float, Cpu> batch(index_t n, std::mt19937_64& rng) {
    const std::uint64_t s = rng();
    return {ops::randn<float, Cpu>({n, 2, 8, 8}, s, 0), ops::randn<float, Cpu>({n, 3, 6}, s, 1)};
  }
  [[nodiscard]] nlohmann::json describe() const { return {{"synthetic", true}}; }
};

std::vector<std::vector<float>> params_of(diffusion::UNet2DCondition<float, Cpu>& u) {
  std::vector<std::vector<float>> out;
  u.visit_parameters([&](const std::string&, nn::Param<float, Cpu>& p) { out.push_back(p.value.to_vector()); }, "");
  return out;
}

TEST(DecoderTrainer, ResumesBitIdenticallyAndRefusesOtherRuns) {
  const auto noise = diffusion::DdpmScheduler<>::default_config();
  SyntheticDecoderData data;
  const auto dir_a = temp_path("run_a"), dir_b = temp_path("run_b");
  std::filesystem::remove_all(dir_a);
  std::filesystem::remove_all(dir_b);
  const train::DecoderTrainerOptions base{.run_dir = {},
                                          .steps = 6,
                                          .batch = 3,
                                          .lr = 1e-3,
                                          .warmup = 2,
                                          .log_every = 1,
                                          .checkpoint_every = 100,
                                          .progress = false};
  auto opt_a = base;
  opt_a.run_dir = dir_a;
  diffusion::UNet2DCondition<float, Cpu> straight(test::tiny_unet_config(), 1);
  const double loss = train::DecoderTrainer<float, Cpu, SyntheticDecoderData>(straight, noise, data, opt_a).run();
  EXPECT_TRUE(std::isfinite(loss));

  auto opt_b = base;
  opt_b.run_dir = dir_b;
  opt_b.steps = 3;
  diffusion::UNet2DCondition<float, Cpu> first(test::tiny_unet_config(), 1);
  train::DecoderTrainer<float, Cpu, SyntheticDecoderData>(first, noise, data, opt_b).run();
  opt_b.steps = 6;
  diffusion::UNet2DCondition<float, Cpu> resumed(test::tiny_unet_config(),
                                                 99);  // other init: the checkpoint must overwrite it
  train::DecoderTrainer<float, Cpu, SyntheticDecoderData> second(resumed, noise, data, opt_b);
  second.run();
  EXPECT_EQ(second.step(), 6);
  EXPECT_EQ(params_of(resumed), params_of(straight));
  // the exported EMA decoder loads as a diffusers-named UNet
  auto exported = diffusion::load_unet<float, Cpu>(io::WeightReader(dir_b / "decoder.h5"));
  EXPECT_EQ(exported.config().block_out_channels, (std::vector<index_t>{4, 8}));
  // metrics: one line per step, none duplicated by the resume
  std::ifstream metrics(dir_b / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, 6);
  // a different model cannot resume this run
  auto other = test::tiny_unet_config();
  other.block_out_channels = {4, 4};
  diffusion::UNet2DCondition<float, Cpu> wrong(other, 1);
  using Trainer = train::DecoderTrainer<float, Cpu, SyntheticDecoderData>;
  EXPECT_THROW(Trainer(wrong, noise, data, opt_b).run(), ValueError);
}

// Min-SNR-gamma: with gamma above every timestep's SNR the epsilon weights min(SNR, gamma) / SNR are all
// 1, which is the uniform loss; a small gamma reweights the batch and so takes another step.
TEST(DecoderTrainer, MinSnrWeightingReducesToTheSimpleLossForLargeGamma) {
  const auto noise = diffusion::DdpmScheduler<>::default_config();
  SyntheticDecoderData data;
  const auto one_step = [&](double gamma, const char* name) {
    const auto dir = temp_path(name);
    std::filesystem::remove_all(dir);
    diffusion::UNet2DCondition<float, Cpu> unet(test::tiny_unet_config(), 1);
    train::DecoderTrainer<float, Cpu, SyntheticDecoderData>(unet, noise, data,
                                                            {.run_dir = dir,
                                                             .steps = 1,
                                                             .batch = 4,
                                                             .lr = 1e-2,
                                                             .warmup = 1,
                                                             .min_snr_gamma = gamma,
                                                             .checkpoint_every = 100,
                                                             .progress = false})
        .run();
    return params_of(unet);
  };
  const auto simple = one_step(0, "snr_off"), huge = one_step(1e12, "snr_huge"), small = one_step(1, "snr_small");
  double diff_huge = 0, diff_small = 0;
  for (std::size_t i = 0; i < simple.size(); ++i)
    for (std::size_t k = 0; k < simple[i].size(); ++k) {
      diff_huge = std::max(diff_huge, static_cast<double>(std::abs(simple[i][k] - huge[i][k])));
      diff_small = std::max(diff_small, static_cast<double>(std::abs(simple[i][k] - small[i][k])));
    }
  EXPECT_LT(diff_huge, 1e-6);
  EXPECT_GT(diff_small, 1e-4);
  diffusion::UNet2DCondition<float, Cpu> unet(test::tiny_unet_config(), 1);
  EXPECT_THROW((train::DecoderTrainer<float, Cpu, SyntheticDecoderData>(
                   unet, noise, data, {.run_dir = temp_path("snr_bad"), .min_snr_gamma = -1})),
               ValueError);
}

}  // namespace
}  // namespace gluegen
