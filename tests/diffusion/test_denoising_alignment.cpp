// LaVi-Bridge's adapter + LoRA trained on the denoising loss through a frozen UNet: gradients of the
// adapter and of the UNet's LoRA adapters against central finite differences of the loss itself
// (double), names, and a few AdamW steps lowering the loss. LaVi-Bridge's released file layout
// (tools/convert_lavi_bridge.py): T5 + LoRA -> adapter -> UNet + LoRA forward and backward against
// PyTorch (tools/make_lavi_bridge_goldens.py). The LaVi-Bridge trainer's export read back. The full
// setting with LoRA in the language model (T5 or BERT): its gradients through the whole chain against
// finite differences, and its export rebuilding the trained pipeline (for T5 under the release's names).
// ELLA's connector trained the same way (TimestepConnectorUNet): its gradients against finite differences,
// the UNet untouched, and its export read back.
#include <gluegen/aligners/lavi_bridge.hpp>
#include <gluegen/pipeline/lavi_bridge_file.hpp>
#include <gluegen/optim/optimizer.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/train/denoising_alignment.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "support/gradcheck.hpp"
#include "support/reference.hpp"
#include "support/tiny_unet.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using test::Td;

TEST(LaviBridge, AdapterNamesFollowLaviBridge) {
  aligners::LaviBridgeAdapter<float, Cpu> a({.in_dim = 10, .int_dim = 8, .out_dim = 6});
  const auto names = nn::parameter_names(a);
  EXPECT_EQ(names.front(), "norm1.weight");
  for (const char* n :
       {"ff1.net.0.proj.weight", "ff1.net.2.bias", "norm2.bias", "ff2.net.0.proj.bias", "ff2.net.2.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(nn::count_parameters(a).total,
            2 * 10 + (10 * 80 + 80) + (40 * 8 + 8) + 2 * 8 + (8 * 64 + 64) + (32 * 6 + 6));
}

TEST(LaviBridge, AdapterAndUNetLoraGradientsOfTheDenoisingLossMatchFiniteDifferences) {
  aligners::LaviBridgeAdapter<double, Cpu> adapter({.in_dim = 5, .int_dim = 4, .out_dim = 6, .mult = 2}, 3);
  diffusion::UNet2DCondition<double, Cpu> unet(test::tiny_unet_config(), 4);
  std::uint64_t stream = 0;
  unet.visit_parameters(
      [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 41, 0.0, 0.3, stream++); }, "");
  const index_t adapted = unet.add_lora({.rank = 2, .alpha = 2, .seed = 5}, diffusion::UNetLoraTargets::lavi_bridge());
  unet.visit_parameters(
      [&](const std::string& n, nn::Param<double, Cpu>& p) {
        if (n.find("lora_B") != std::string::npos) ops::fill_normal(p.value, 43, 0.0, 0.3, stream++);
      },
      "");
  const diffusion::NoiseSchedule schedule(diffusion::SchedulerConfig{});
  Td source = ops::randn<double, Cpu>({2, 3, 5}, 1);
  const Td x0 = ops::randn<double, Cpu>({2, 2, 4, 4}, 2);
  const auto draw = train::DenoisingDraw<double, Cpu>::draw(schedule, x0.shape(), 7, 0);
  aligners::LaviBridgeAdapter<double, Cpu>::Cache ac;
  diffusion::UNet2DCondition<double, Cpu>::Cache uc;
  nn::zero_grad(adapter);
  nn::zero_grad(unet);
  const double loss0 = train::denoising_loss_step(adapter, ac, unet, uc, schedule, source, x0, draw);
  EXPECT_GT(loss0, 0);
  const Td d_source = ac.n1.dx.clone();
  const auto loss = [&] {
    aligners::LaviBridgeAdapter<double, Cpu>::Cache a2;
    diffusion::UNet2DCondition<double, Cpu>::Cache u2;
    const Td cond = adapter.forward(source, a2).clone();
    const Td xt = schedule.add_noise(x0, draw.noise, draw.timesteps);
    const std::vector<double> t(draw.timesteps.begin(), draw.timesteps.end());
    const auto d = ops::sub(unet.forward(xt, t, cond, u2), draw.noise).to_vector();
    double s = 0;
    for (const double v : d) s += v * v;
    return s / static_cast<double>(d.size());
  };
  EXPECT_NEAR(loss(), loss0, 1e-12);
  EXPECT_TRUE(test::fd_matches(loss, source, d_source, "dL/dsource"));
  adapter.visit_parameters(
      [&](const std::string& n, nn::Param<double, Cpu>& p) {
        EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, "adapter." + n, 6));
      },
      "");
  index_t lora = 0;
  unet.visit_parameters(
      [&](const std::string& n, nn::Param<double, Cpu>& p) {
        if (!p.trainable) {
          EXPECT_FALSE(p.has_grad()) << n;
          return;
        }
        ++lora;
        EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, n, 4));
      },
      "");
  // LaVi-Bridge's targets: 4 transformer blocks (down 1, mid 1, up 2) x (attn1/2 x q/k/v/out + GEGLU),
  // plus every ResnetBlock2D's convolutions and time projection; A and B each.
  EXPECT_GT(adapted, 4 * (2 * 4 + 1));
  EXPECT_EQ(lora, 2 * adapted);
}

TEST(LaviBridge, AdamWStepsLowerTheDenoisingLoss) {
  aligners::LaviBridgeAdapter<float, Cpu> adapter({.in_dim = 5, .int_dim = 4, .out_dim = 6, .mult = 2}, 3);
  diffusion::UNet2DCondition<float, Cpu> unet(test::tiny_unet_config(), 4);
  unet.add_lora({.rank = 2, .alpha = 2});
  const diffusion::NoiseSchedule schedule(diffusion::SchedulerConfig{});
  const auto source = ops::randn<float, Cpu>({4, 3, 5}, 1), x0 = ops::randn<float, Cpu>({4, 2, 4, 4}, 2);
  const auto draw =
      train::DenoisingDraw<float, Cpu>::draw(schedule, x0.shape(), 7, 0);  // one fixed batch: the loss must fall
  optim::AdamW<aligners::LaviBridgeAdapter<float, Cpu>> opt_a(adapter, {.lr = 1e-3});
  optim::AdamW<diffusion::UNet2DCondition<float, Cpu>> opt_u(unet, {.lr = 1e-3});
  aligners::LaviBridgeAdapter<float, Cpu>::Cache ac;
  diffusion::UNet2DCondition<float, Cpu>::Cache uc;
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    nn::zero_grad(adapter);
    nn::zero_grad(unet);
    last = train::denoising_loss_step(adapter, ac, unet, uc, schedule, source, x0, draw);
    if (step == 0) first = last;
    opt_a.step();
    opt_u.step();
  }
  EXPECT_LT(last, 0.99 * first);  // 1.371 -> 1.342: the conditioning path (adapter + LoRA) alone lowers the loss
}

TEST(LaviBridge, ConvertedReleaseLayoutMatchesPyTorch) {
  const std::string dir = GLUEGEN_TEST_DATA_DIR;
  const io::WeightReader file(dir + "/lavi_bridge_converted.h5"), io(dir + "/lavi_bridge_io.h5"),
      t5_file(dir + "/text/t5_tiny.h5");
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(dir + "/diffusion/unet_sd1.h5"));
  encoders::T5Encoder<float, Cpu> t5(encoders::T5Config::from_json(t5_file.meta().config));
  encoders::load_t5_weights(t5, t5_file);
  auto adapter = aligners::load_lavi_bridge_adapter<float, Cpu>(file);
  const auto ids = io.read<std::int32_t>("input_ids");
  const auto ones = Tensor<std::int32_t, Cpu>::full(ids.shape(), 1);  // LaVi-Bridge passes no attention mask
  const Tensor<float, Cpu> sample = io.read<float>("sample");
  const auto t = io.read<double>("timesteps").to_vector();
  encoders::T5Encoder<float, Cpu>::Cache tc;
  aligners::LaviBridgeAdapter<float, Cpu>::Cache ac;
  diffusion::UNet2DCondition<float, Cpu>::Cache uc;
  // f32 against PyTorch f32: forward within 1e-5, backward within 4e-5 (max |a - b| / (1 + |b|); the
  // generator measured f32 against f64 at 1.7e-6 and 9.1e-6)
  const auto expect_pipeline = [&](const std::string& suffix) {
    const auto feats = t5.forward(ids, ones, tc).last_hidden_state;
    EXPECT_TRUE(test::all_close(feats.to_vector(), io.read<float>("t5_features" + suffix).to_vector(), 1e-5));
    const Tensor<float, Cpu> cond = adapter.forward(feats, ac).clone();
    EXPECT_TRUE(test::all_close(cond.to_vector(), io.read<float>("cond" + suffix).to_vector(), 1e-5));
    EXPECT_TRUE(test::all_close(unet.forward(sample, t, cond, uc).to_vector(),
                                io.read<float>("eps" + suffix).to_vector(), 1e-5));
  };
  expect_pipeline("_base");                          // without LoRA: the base models and the adapter
  EXPECT_EQ(add_lavi_bridge_lora(file, t5), 8);      // 2 blocks x q, k, v, o
  EXPECT_EQ(add_lavi_bridge_lora(file, unet), 160);  // 116 Linear + 44 Conv2d, LaVi-Bridge's walk
  expect_pipeline("");
  nn::zero_grad(adapter);
  nn::zero_grad(unet);
  unet.backward(io.read<float>("dy"), uc);
  EXPECT_TRUE(test::all_close(uc.d_context.to_vector(), io.read<float>("d_cond").to_vector(), 4e-5));
  adapter.backward(uc.d_context, ac);
  adapter.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        EXPECT_TRUE(test::all_close(p.grad.to_vector(), io.read<float>("grads.adapter." + name).to_vector(), 4e-5))
            << name;
      },
      "");
  index_t checked = 0;
  unet.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        if (!p.trainable) return;
        EXPECT_TRUE(test::all_close(p.grad.to_vector(), io.read<float>("grads.unet." + name).to_vector(), 4e-5))
            << name;
        ++checked;
      },
      "");
  EXPECT_EQ(checked, 2 * 160);
}

TEST(LaviBridge, ConvertedFileRefusesAnotherModel) {
  const io::WeightReader file(std::string(GLUEGEN_TEST_DATA_DIR) + "/lavi_bridge_converted.h5");
  diffusion::UNet2DCondition<float, Cpu> other(test::tiny_unet_config(), 1);
  EXPECT_THROW(add_lavi_bridge_lora(file, other), ShapeError);  // its layer count differs
  const io::WeightReader not_lavi(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/unet_sd1.h5");
  EXPECT_THROW(((void)aligners::load_lavi_bridge_adapter<float, Cpu>(not_lavi)), IoError);
  // as an aligner file, the adapter maps the text encoder's 32 channels to the UNet's 12
  const auto x = ops::randn<float, Cpu>({1, 7, 32}, 1), mask = Tensor<float, Cpu>::full({1, 7}, 1.0f);
  const auto shape = aligners::visit_aligner_file<float, Cpu>(file, [&](auto& a) {
    typename std::remove_cvref_t<decltype(a)>::Cache c;
    return a.align(x, mask, c).shape();
  });
  EXPECT_EQ(shape, (Shape{1, 7, 12}));
}

/// Synthetic scenes for the trainer: x0 [B, 2, 4, 4] and source features [B, 3, 5].
struct SyntheticSourceData {
  train::DecoderBatch<float, Cpu> batch(index_t n, std::mt19937_64& rng) {
    const auto s = rng();
    return {ops::randn<float, Cpu>({n, 2, 4, 4}, s), ops::randn<float, Cpu>({n, 3, 5}, s + 1)};
  }
  nlohmann::json describe() const { return {{"synthetic", true}}; }
};

/// Three steps at batch 2 into `run`, no EMA (so the export is the trained weights), no progress output.
train::DecoderTrainerOptions three_quiet_steps(const std::filesystem::path& run) {
  return {.run_dir = run,
          .export_file = "aligner.h5",
          .steps = 3,
          .batch = 2,
          .lr = 1e-2,
          .warmup = 1,
          .ema_decay = 0,
          .log_every = 1,
          .checkpoint_every = 100,
          .progress = false};
}

TEST(LaviBridge, TrainerExportsAFileThatRebuildsTheTrainedPipeline) {
  const auto run = std::filesystem::temp_directory_path() / "gluegen_lavi_trainer";
  std::filesystem::remove_all(run);
  const diffusion::UNet2DCondition<float, Cpu> base(test::tiny_unet_config(), 4);
  train::LaviBridgeUNet<float, Cpu> model(
      aligners::LaviBridgeAdapter<float, Cpu>({.in_dim = 5, .int_dim = 4, .out_dim = 6, .mult = 2}, 3), base,
      {.rank = 2, .alpha = 2});
  SyntheticSourceData data;
  diffusion::SchedulerConfig noise;
  train::DecoderTrainer<float, Cpu, SyntheticSourceData, train::LaviBridgeUNet<float, Cpu>> trainer(
      model, noise, data, three_quiet_steps(run));
  trainer.run();
  // EMA decay 0: the export is the trained weights; a fresh copy of the base UNet with the file's LoRA
  // and adapter gives the trained model's prediction
  const io::WeightReader file(trainer.model_path());
  auto adapter = aligners::load_lavi_bridge_adapter<float, Cpu>(file);
  auto unet = diffusion::UNet2DCondition<float, Cpu>(test::tiny_unet_config(), 4);
  EXPECT_EQ(add_lavi_bridge_lora(file, unet), model.lora_layers());
  const auto x = ops::randn<float, Cpu>({2, 2, 4, 4}, 9), src = ops::randn<float, Cpu>({2, 3, 5}, 10);
  const std::vector<double> t{500.0, 20.0};
  train::LaviBridgeUNet<float, Cpu>::Cache mc;
  aligners::LaviBridgeAdapter<float, Cpu>::Cache ac;
  diffusion::UNet2DCondition<float, Cpu>::Cache uc;
  const auto trained = model.forward(x, t, src, mc).to_vector();
  EXPECT_TRUE(
      test::all_close(unet.forward(x, t, adapter.forward(src, ac), uc).to_vector(), trained, 2e-3));  // f16 storage
  // the base UNet's weights stayed frozen; the LoRA moved
  diffusion::UNet2DCondition<float, Cpu> plain(test::tiny_unet_config(), 4);
  diffusion::UNet2DCondition<float, Cpu>::Cache pc;
  aligners::LaviBridgeAdapter<float, Cpu>::Cache ac2;
  EXPECT_FALSE(test::all_close(plain.forward(x, t, adapter.forward(src, ac2), pc).to_vector(), trained, 1e-4));
  index_t lora_tensors = 0;
  model.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        lora_tensors += name.find(".lora_") != std::string::npos;
        EXPECT_EQ(p.trainable, name.starts_with("adapter.") || name.find(".lora_") != std::string::npos) << name;
      },
      "");
  EXPECT_EQ(lora_tensors, 2 * model.lora_layers());
  std::filesystem::remove_all(run);
}

const aligners::TimestepConnectorConfig kTinyConnector{
    .time_channel = 8, .time_embed_dim = 6, .width = 6, .layers = 1, .heads = 2, .num_latents = 3, .input_dim = 5};

TEST(TimestepConnectorUNet, ConnectorGradientsOfTheDenoisingLossMatchFiniteDifferences) {
  diffusion::UNet2DCondition<double, Cpu> unet(test::tiny_unet_config(), 4);
  train::TimestepConnectorUNet<double, Cpu> model(aligners::TimestepConnector<double, Cpu>(kTinyConnector, 3),
                                                  std::move(unet));
  Td source = ops::randn<double, Cpu>({2, 3, 5}, 1);
  const Td xt = ops::randn<double, Cpu>({2, 2, 4, 4}, 2), target = ops::randn<double, Cpu>({2, 2, 4, 4}, 3);
  const std::vector<double> t{700.0, 30.0};  // each example its own timestep, so its own conditioning
  train::TimestepConnectorUNet<double, Cpu>::Cache cache;
  nn::zero_grad(model);
  Td d;
  const double loss0 = losses::mse(model.forward(xt, t, source, cache), target, d);
  const Td d_source = model.backward(d, cache).clone();
  const auto loss = [&] {
    train::TimestepConnectorUNet<double, Cpu>::Cache c;
    Td scratch;
    return static_cast<double>(losses::mse(model.forward(xt, t, source, c), target, scratch));
  };
  EXPECT_NEAR(loss(), loss0, 1e-12);
  EXPECT_TRUE(test::fd_matches(loss, source, d_source, "dL/dsource"));
  index_t trained = 0;
  model.visit_parameters(
      [&](const std::string& n, nn::Param<double, Cpu>& p) {
        if (n.starts_with("unet.")) {
          EXPECT_FALSE(p.trainable || p.has_grad()) << n;  // the decoder stays frozen
          return;
        }
        ++trained;
        EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, n, 4));
      },
      "");
  EXPECT_GT(trained, 10);
  // a connector narrower than the UNet's cross-attention
  aligners::TimestepConnectorConfig narrow = kTinyConnector;
  narrow.width = narrow.time_embed_dim = 4;
  const auto mismatched = [&] {
    return train::TimestepConnectorUNet<double, Cpu>(
        aligners::TimestepConnector<double, Cpu>(narrow),
        diffusion::UNet2DCondition<double, Cpu>(test::tiny_unet_config(), 4));
  };
  EXPECT_THROW((void)mismatched(), ShapeError);
}

TEST(TimestepConnectorUNet, TrainerExportsTheConnectorALoaderRebuilds) {
  const auto run = std::filesystem::temp_directory_path() / "gluegen_ella_trainer";
  std::filesystem::remove_all(run);
  train::TimestepConnectorUNet<float, Cpu> model(aligners::TimestepConnector<float, Cpu>(kTinyConnector, 3),
                                                 diffusion::UNet2DCondition<float, Cpu>(test::tiny_unet_config(), 4));
  const auto before = model.aligner.latents.value.clone();
  SyntheticSourceData data;
  train::DecoderTrainer<float, Cpu, SyntheticSourceData, train::TimestepConnectorUNet<float, Cpu>> trainer(
      model, diffusion::SchedulerConfig{}, data, three_quiet_steps(run));
  trainer.run();
  EXPECT_FALSE(test::all_close(model.aligner.latents.value.to_vector(), before.to_vector(), 1e-6));
  const io::WeightReader file(trainer.model_path());
  auto connector = aligners::load_timestep_connector<float, Cpu>(file);
  const auto src = ops::randn<float, Cpu>({2, 3, 5}, 10);
  const std::vector<double> t{500.0, 20.0};
  aligners::TimestepConnector<float, Cpu>::Cache a, b;
  EXPECT_TRUE(
      test::all_close(connector.forward(src, t, a).to_vector(), model.aligner.forward(src, t, b).to_vector(), 1e-6));
  std::filesystem::remove_all(run);
}

/// The tiny random BERT and T5 of the text goldens (vocab 120, width 32, 2 layers) with their weights.
template <ComputeElement T>
encoders::BertEncoder<T, Cpu> tiny_bert() {
  const io::WeightReader weights(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/bert_tiny.h5");
  encoders::BertEncoder<T, Cpu> bert(encoders::BertConfig::from_json(weights.meta().config));
  encoders::load_bert_weights(bert, weights);
  return bert;
}
template <ComputeElement T>
encoders::T5Encoder<T, Cpu> tiny_t5() {
  const io::WeightReader weights(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/t5_tiny.h5");
  encoders::T5Encoder<T, Cpu> t5(encoders::T5Config::from_json(weights.meta().config));
  encoders::load_t5_weights(t5, weights);
  return t5;
}

/// Two captions of 5 tokens, the second padded.
text::TokenBatch tiny_tokens(std::uint64_t seed = 0) {
  std::vector<std::int32_t> ids{2, 17, 33, 41, 3, 2, 25, 3, 0, 0};
  for (std::size_t i = 1; i < 4 && seed != 0; ++i) ids[i] = static_cast<std::int32_t>(4 + (seed * 31 + i * 17) % 100);
  return {Tensor<std::int32_t, Cpu>::from_host({2, 5}, ids),
          Tensor<std::int32_t, Cpu>::from_host({2, 5}, std::vector<std::int32_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0})};
}

TEST(LaviBridge, LanguageModelLoraGradientsThroughAdapterAndUNetMatchFiniteDifferences) {
  const auto check = [](auto language_model, const char* name) {
    SCOPED_TRACE(name);
    using Model = train::LaviBridgeLmUNet<double, Cpu, decltype(language_model)>;
    diffusion::UNet2DCondition<double, Cpu> unet(test::tiny_unet_config(), 4);
    std::uint64_t stream = 0;
    unet.visit_parameters(
        [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 41, 0.0, 0.3, stream++); }, "");
    Model model(std::move(language_model),
                train::LaviBridgeUNet<double, Cpu>(
                    aligners::LaviBridgeAdapter<double, Cpu>({.in_dim = 32, .int_dim = 4, .out_dim = 6, .mult = 2}, 3),
                    std::move(unet), {.rank = 2, .alpha = 2, .seed = 5}));
    EXPECT_EQ(model.text_encoder_lora_layers(), 4 * 2);  // q, k, v, out in both layers
    model.visit_parameters(
        [&](const std::string& n, nn::Param<double, Cpu>& p) {
          if (n.find("lora_B") != std::string::npos)
            ops::fill_normal(p.value, 43, 0.0, 0.3, stream++);  // B = 0 would hide dL/dA
        },
        "");
    const diffusion::NoiseSchedule schedule(diffusion::SchedulerConfig{});
    const auto tokens = tiny_tokens();
    const test::Td x0 = ops::randn<double, Cpu>({2, 2, 4, 4}, 2);
    const auto draw = train::DenoisingDraw<double, Cpu>::draw(schedule, x0.shape(), 7, 0);
    const test::Td xt = schedule.add_noise(x0, draw.noise, draw.timesteps);
    const std::vector<double> t(draw.timesteps.begin(), draw.timesteps.end());
    const auto loss = [&] {
      typename Model::Cache c;
      const auto d = ops::sub(model.forward(xt, t, tokens, c), draw.noise).to_vector();
      double s = 0;
      for (const double v : d) s += v * v;
      return s / static_cast<double>(d.size());
    };
    typename Model::Cache cache;
    test::Td dy;
    nn::zero_grad(model);
    const double loss0 = losses::mse(model.forward(xt, t, tokens, cache), draw.noise, dy);
    model.backward(dy, cache);
    EXPECT_NEAR(loss(), loss0, 1e-12);
    index_t text_lora = 0, trainable = 0;
    model.visit_parameters(
        [&](const std::string& n, nn::Param<double, Cpu>& p) {
          if (!p.trainable) {
            EXPECT_FALSE(p.has_grad()) << n;
            return;
          }
          ++trainable;
          if (n.starts_with("text_encoder.")) {
            ++text_lora;
            EXPECT_NE(n.find(".lora_"), std::string::npos) << n;
            EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, n, 6));
          } else if (n.starts_with("adapter.") ||
                     trainable % 7 == 0) {  // the UNet's LoRA: its own test checks them all
            EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, n, 3));
          }
        },
        "");
    EXPECT_EQ(text_lora, 2 * model.text_encoder_lora_layers());
    EXPECT_EQ(trainable, text_lora + static_cast<index_t>(nn::parameter_names(model.bridge.aligner).size()) +
                             2 * model.bridge.lora_layers());
  };
  check(tiny_bert<double>(), "BERT");
  check(tiny_t5<double>(), "T5");
}

/// Synthetic scenes with token ids for the trainer: x0 [B, 2, 4, 4] and two 5-token captions.
struct SyntheticTokenData {
  train::DecoderBatch<float, Cpu, text::TokenBatch> batch(index_t n, std::mt19937_64& rng) {
    EXPECT_EQ(n, 2);
    const auto s = rng();
    return {ops::randn<float, Cpu>({n, 2, 4, 4}, s), tiny_tokens(s % 97 + 1)};
  }
  nlohmann::json describe() const { return {{"synthetic_tokens", true}}; }
};

TEST(LaviBridge, LanguageModelTrainerExportsAFileThatRebuildsTheTrainedPipeline) {
  const auto check = [](auto language_model, auto fresh_language_model, const char* family) {
    SCOPED_TRACE(family);
    using LM = decltype(language_model);
    using Model = train::LaviBridgeLmUNet<float, Cpu, LM>;
    const auto run = std::filesystem::temp_directory_path() / (std::string("gluegen_lavi_lm_trainer_") + family);
    std::filesystem::remove_all(run);
    Model model(std::move(language_model),
                train::LaviBridgeUNet<float, Cpu>(
                    aligners::LaviBridgeAdapter<float, Cpu>({.in_dim = 32, .int_dim = 4, .out_dim = 6, .mult = 2}, 3),
                    diffusion::UNet2DCondition<float, Cpu>(test::tiny_unet_config(), 4), {.rank = 2, .alpha = 2}));
    SyntheticTokenData data;
    train::DecoderTrainer<float, Cpu, SyntheticTokenData, Model> trainer(model, diffusion::SchedulerConfig{}, data,
                                                                         three_quiet_steps(run));
    trainer.run();
    // a fresh language model, adapter and UNet with the file's LoRA give the trained model's features and prediction
    const io::WeightReader file(trainer.model_path());
    EXPECT_EQ(LaviBridgeFile::read(file).text_encoder, family);
    LM lm = fresh_language_model();
    EXPECT_EQ(add_lavi_bridge_lora(file, lm), model.text_encoder_lora_layers());
    auto adapter = aligners::load_lavi_bridge_adapter<float, Cpu>(file);
    diffusion::UNet2DCondition<float, Cpu> unet(test::tiny_unet_config(), 4);
    add_lavi_bridge_lora(file, unet);
    const auto x = ops::randn<float, Cpu>({2, 2, 4, 4}, 9);
    const std::vector<double> t{500.0, 20.0};
    const auto tokens = tiny_tokens(5);
    typename Model::Cache mc;
    const auto trained = model.forward(x, t, tokens, mc).to_vector();
    typename LM::Cache lc;
    aligners::LaviBridgeAdapter<float, Cpu>::Cache ac;
    diffusion::UNet2DCondition<float, Cpu>::Cache uc;
    const auto features = lm.forward(tokens.input_ids, tokens.attention_mask, lc).last_hidden_state;
    EXPECT_TRUE(test::all_close(features.to_vector(), mc.features.to_vector(), 2e-3));  // f16 storage
    EXPECT_TRUE(test::all_close(unet.forward(x, t, adapter.forward(features, ac), uc).to_vector(), trained, 2e-3));
    // the language model's LoRA moved: without it the features differ
    LM plain = fresh_language_model();
    typename LM::Cache pc;
    EXPECT_FALSE(
        test::all_close(plain.forward(tokens.input_ids, tokens.attention_mask, pc).last_hidden_state.to_vector(),
                        mc.features.to_vector(), 1e-3));
    std::filesystem::remove_all(run);
    std::vector<std::string> names;
    for (const auto& n : file.names())
      if (n.starts_with("text_encoder.")) names.push_back(n);
    return names;
  };
  (void)check(
      tiny_bert<float>(), [] { return tiny_bert<float>(); }, "bert");
  // T5: the exported names are exactly those tools/convert_lavi_bridge.py gives a release's lora_text.pt
  const auto t5_names = check(
      tiny_t5<float>(), [] { return tiny_t5<float>(); }, "t5");
  const io::WeightReader converted(std::string(GLUEGEN_TEST_DATA_DIR) + "/lavi_bridge_converted.h5");
  std::vector<std::string> release_names;
  for (const auto& n : converted.names())
    if (n.starts_with("text_encoder.")) release_names.push_back(n);
  std::ranges::sort(release_names);
  auto sorted = t5_names;
  std::ranges::sort(sorted);
  EXPECT_EQ(sorted, release_names);
  // a file's language-model LoRA goes only into its family
  auto bert = tiny_bert<float>();
  EXPECT_THROW(add_lavi_bridge_lora(converted, bert), ValueError);  // T5 LoRA
}

}  // namespace
}  // namespace gluegen
