// UNet2DCondition: gradients against central finite differences in double on a tiny config with
// every block type, forward + backward against diffusers' UNet2DConditionModel on the same weights
// (tools/make_diffusion_goldens.py), and bad input.
#include <gluegen/diffusion/model_files.hpp>

#include <gtest/gtest.h>

#include <set>

#include "support/gradcheck.hpp"
#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using diffusion::UNet2DCondition;
using diffusion::UNet2DConditionConfig;
using test::Td;

UNet2DConditionConfig tiny_config(bool linear_projection) {
  UNet2DConditionConfig c;
  c.in_channels = 2;
  c.out_channels = 3;
  c.block_out_channels = {4, 8};
  c.down_block_types = {"CrossAttnDownBlock2D", "DownBlock2D"};
  c.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D"};
  c.layers_per_block = 1;
  c.norm_num_groups = 2;
  c.cross_attention_dim = 6;
  c.heads = {2, 2};
  c.transformer_layers_per_block = {1, 2};
  c.use_linear_projection = linear_projection;
  return c;
}

void check_gradients(bool linear_projection) {
  UNet2DCondition<double, Cpu> unet(tiny_config(linear_projection), 5);
  std::uint64_t stream = 0;  // every parameter random and non-trivial
  unet.visit_parameters(
      [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 23, 0.0, 0.4, stream++); }, "");
  Td x = ops::randn<double, Cpu>({2, 2, 4, 4}, 1), ctx = ops::randn<double, Cpu>({2, 3, 6}, 2);
  const std::vector<double> t{999.0, 37.5};
  UNet2DCondition<double, Cpu>::Cache cache;
  const Td y = unet.forward(x, t, ctx, cache).clone();
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 4}));
  const Td dy = ops::randn<double, Cpu>(y.shape(), 3);
  nn::zero_grad(unet);
  const Td dx = unet.backward(dy, cache).clone();
  const Td dctx = cache.d_context.clone();
  const auto loss = [&] {
    UNet2DCondition<double, Cpu>::Cache fresh;
    return test::dot(unet.forward(x, t, ctx, fresh), dy);
  };
  EXPECT_TRUE(test::fd_matches(loss, x, dx, "dL/dsample"));
  EXPECT_TRUE(test::fd_matches(loss, ctx, dctx, "dL/dencoder_hidden_states"));
  index_t checked = 0;
  unet.visit_parameters(
      [&](const std::string& name, nn::Param<double, Cpu>& p) {
        EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, name, 6));
        ++checked;
      },
      "");
  EXPECT_GT(checked, 100);
}

TEST(UNet2DCondition, GradientsMatchFiniteDifferencesConvProjection) { check_gradients(false); }
TEST(UNet2DCondition, GradientsMatchFiniteDifferencesLinearProjection) { check_gradients(true); }

/// A converted diffusers UNet against diffusers' own forward and autograd backward on the same weights
/// and inputs; tolerances are the file's (4x the float32-vs-float64 discrepancy diffusers itself shows).
void check_against_diffusers(const std::string& name) {
  const io::WeightReader model(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/" + name + ".h5");
  const io::WeightReader io(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/" + name + "_io.h5");
  auto unet = diffusion::load_unet<float, Cpu>(model);
  const double tol_fwd = io.number_attribute("", "tol_forward").value(),
               tol_bwd = io.number_attribute("", "tol_backward").value();
  EXPECT_LE(tol_fwd, 1e-4);
  EXPECT_LE(tol_bwd, 1e-3);
  const auto t = io.read<double>("timesteps").to_vector();
  UNet2DCondition<float, Cpu>::Cache cache;
  const auto y = unet.forward(io.read<float>("sample"), t, io.read<float>("encoder_hidden_states"), cache).to_vector();
  EXPECT_TRUE(test::all_close(y, io.read<float>("out").to_vector(), tol_fwd)) << name << " forward";
  nn::zero_grad(unet);
  EXPECT_TRUE(test::all_close(unet.backward(io.read<float>("dy"), cache).to_vector(),
                              io.read<float>("d_sample").to_vector(), tol_bwd))
      << name;
  EXPECT_TRUE(
      test::all_close(cache.d_context.to_vector(), io.read<float>("d_encoder_hidden_states").to_vector(), tol_bwd))
      << name;
  index_t n = 0;
  unet.visit_parameters(
      [&](const std::string& param, nn::Param<float, Cpu>& p) {
        EXPECT_TRUE(test::all_close(p.grad.to_vector(), io.read<float>("grads." + param).to_vector(), tol_bwd))
            << name << ": " << param;
        ++n;
      },
      "");
  EXPECT_EQ(static_cast<std::size_t>(n), model.names().size());
}

TEST(UNet2DCondition, Sd1LayoutMatchesDiffusers) { check_against_diffusers("unet_sd1"); }
TEST(UNet2DCondition, Sd2PixelSpaceLayoutMatchesDiffusers) { check_against_diffusers("unet_sd2px"); }

TEST(UNet2DCondition, MissingWeightIsNamed) {
  const io::WeightReader vae(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/vae_tiny.h5");
  EXPECT_THROW((void)(diffusion::load_unet<float, Cpu>(vae)), IoError);
}

TEST(UNet2DCondition, LoraGradientsMatchFiniteDifferences) {
  // diffusers' targets (attention projections), then LaVi-Bridge's (plus GEGLU and ResNet layers).
  for (const auto targets : {diffusion::UNetLoraTargets{}, diffusion::UNetLoraTargets::lavi_bridge()}) {
    SCOPED_TRACE(targets.resnets ? "LaVi-Bridge targets" : "attention targets");
    UNet2DCondition<double, Cpu> unet(tiny_config(false), 5);
    std::uint64_t stream = 0;
    unet.visit_parameters(
        [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 29, 0.0, 0.4, stream++); }, "");
    Td x = ops::randn<double, Cpu>({2, 2, 4, 4}, 1), ctx = ops::randn<double, Cpu>({2, 3, 6}, 2);
    const std::vector<double> t{999.0, 37.5};
    UNet2DCondition<double, Cpu>::Cache plain;
    const auto before = unet.forward(x, t, ctx, plain).to_vector();
    const index_t adapted = unet.add_lora({.rank = 2, .alpha = 4, .seed = 7}, targets);
    // 5 transformer blocks (down 1, mid 2, up 2) x attn1/attn2 x q/k/v/out; LaVi-Bridge adds their 5
    // GEGLUs and the 8 ResnetBlock2Ds' conv1, time_emb_proj, conv2, plus the conv_shortcut of the 5
    // whose widths change (down 1: 4 -> 8; all 4 up-block resnets, whose inputs carry the skips).
    EXPECT_EQ(adapted, targets.resnets ? 5 * (2 * 4 + 1) + 8 * 3 + 5 : 5 * 2 * 4);
    std::set<std::string> names;
    unet.visit_parameters([&](const std::string& name, nn::Param<double, Cpu>&) { names.insert(name); }, "");
    for (const char* n :
         {"mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.lora_A.weight",
          "down_blocks.0.resnets.0.conv1.lora_B.weight", "up_blocks.0.resnets.0.time_emb_proj.lora_A.weight",
          "up_blocks.0.resnets.0.conv_shortcut.lora_A.weight"}) {
      EXPECT_EQ(names.contains(n), targets.resnets) << n;
    }
    UNet2DCondition<double, Cpu>::Cache cache;
    EXPECT_EQ(unet.forward(x, t, ctx, cache).to_vector(), before);  // B = 0: the adapted UNet starts as the base
    const auto counts = nn::count_parameters(unet);
    EXPECT_GT(counts.trainable, 0);
    EXPECT_LT(counts.trainable, counts.total / 2);
    unet.visit_parameters(
        [&](const std::string& name, nn::Param<double, Cpu>& p) {
          if (name.find("lora_") != std::string::npos)
            ops::fill_normal(p.value, 31, 0.0, 0.4, stream++);  // B != 0: dL/dA is not trivially 0
          else
            EXPECT_FALSE(p.trainable) << name;
        },
        "");
    const Td y = unet.forward(x, t, ctx, cache).clone();
    const Td dy = ops::randn<double, Cpu>(y.shape(), 3);
    nn::zero_grad(unet);
    const Td dctx = (unet.backward(dy, cache), cache.d_context.clone());
    const auto loss = [&] {
      UNet2DCondition<double, Cpu>::Cache fresh;
      return test::dot(unet.forward(x, t, ctx, fresh), dy);
    };
    EXPECT_TRUE(test::fd_matches(loss, ctx, dctx, "dL/dencoder_hidden_states"));
    index_t checked = 0;
    unet.visit_parameters(
        [&](const std::string& name, nn::Param<double, Cpu>& p) {
          if (!p.trainable) {
            EXPECT_FALSE(p.has_grad()) << name;
            return;
          }
          EXPECT_NE(name.find(".lora_"), std::string::npos) << name;
          EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, name, 6));
          ++checked;
        },
        "");
    EXPECT_EQ(checked, 2 * adapted);
  }
}

TEST(UNet2DCondition, NamesFollowDiffusers) {
  UNet2DCondition<float, Cpu> unet(tiny_config(false));
  const auto names = nn::parameter_names(unet);
  for (const char* expected :
       {"conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
        "down_blocks.0.resnets.0.time_emb_proj.weight", "down_blocks.0.attentions.0.proj_in.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_out.0.bias",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight", "down_blocks.0.downsamplers.0.conv.weight",
        "mid_block.attentions.0.transformer_blocks.1.norm3.weight", "mid_block.resnets.1.conv2.weight",
        "up_blocks.0.resnets.1.conv_shortcut.weight", "up_blocks.0.upsamplers.0.conv.weight",
        "up_blocks.1.attentions.1.proj_out.bias", "conv_norm_out.weight", "conv_out.bias"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  EXPECT_EQ(std::find(names.begin(), names.end(), "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"),
            names.end());
}

TEST(UNet2DCondition, RejectsBadInput) {
  UNet2DCondition<float, Cpu> unet(tiny_config(false));
  UNet2DCondition<float, Cpu>::Cache cache;
  const std::vector<double> t{10.0};
  const auto ctx = Tensor<float, Cpu>::zeros({1, 3, 6});
  EXPECT_THROW(unet.forward(Tensor<float, Cpu>::zeros({1, 2, 5, 4}), t, ctx, cache),
               ShapeError);  // not a multiple of 2
  EXPECT_THROW(unet.forward(Tensor<float, Cpu>::zeros({1, 3, 4, 4}), t, ctx, cache), ShapeError);  // channels
  EXPECT_THROW(unet.forward(Tensor<float, Cpu>::zeros({1, 2, 4, 4}), t, Tensor<float, Cpu>::zeros({1, 3, 7}), cache),
               ShapeError);
  const std::vector<double> three{1.0, 2.0, 3.0};
  EXPECT_THROW(
      unet.forward(Tensor<float, Cpu>::zeros({2, 2, 4, 4}), three, Tensor<float, Cpu>::zeros({2, 3, 6}), cache),
      ShapeError);
  try {
    unet.forward(Tensor<float, Cpu>::zeros({1, 2, 4, 4}), t, Tensor<float, Cpu>::zeros({1, 3, 7}), cache);
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("cross_attention_dim"), std::string::npos) << e.what();
  }
  auto bad = tiny_config(false);
  bad.down_block_types[1] = "AttnDownBlock2D";
  EXPECT_THROW(UNet2DCondition<float> u(bad), ValueError);
  EXPECT_THROW(UNet2DConditionConfig::from_json(nlohmann::json{{"class_embed_type", "timestep"}}), ValueError);
}

}  // namespace
}  // namespace gluegen
