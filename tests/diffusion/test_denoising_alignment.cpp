// LaVi-Bridge's adapter + LoRA trained on the denoising loss through a frozen UNet: gradients of the
// adapter and of the UNet's LoRA adapters against central finite differences of the loss itself
// (double), names, and a few AdamW steps lowering the loss.
#include <gluegen/aligners/lavi_bridge.hpp>
#include <gluegen/optim/optimizer.hpp>
#include <gluegen/train/denoising_alignment.hpp>

#include <gtest/gtest.h>

#include "support/gradcheck.hpp"
#include "support/tiny_unet.hpp"

namespace gluegen {
namespace {

using test::Td;

TEST(LaviBridge, AdapterNamesFollowLaviBridge) {
  aligners::LaviBridgeAdapter<float, Cpu> a({.in_dim = 10, .int_dim = 8, .out_dim = 6});
  const auto names = nn::parameter_names(a);
  EXPECT_EQ(names.front(), "norm1.weight");
  for (const char* n : {"ff1.net.0.proj.weight", "ff1.net.2.bias", "norm2.bias", "ff2.net.0.proj.bias", "ff2.net.2.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(nn::count_parameters(a).total, 2 * 10 + (10 * 80 + 80) + (40 * 8 + 8) + 2 * 8 + (8 * 64 + 64) + (32 * 6 + 6));
}

TEST(LaviBridge, AdapterAndUNetLoraGradientsOfTheDenoisingLossMatchFiniteDifferences) {
  aligners::LaviBridgeAdapter<double, Cpu> adapter({.in_dim = 5, .int_dim = 4, .out_dim = 6, .mult = 2}, 3);
  diffusion::UNet2DCondition<double, Cpu> unet(test::tiny_unet_config(), 4);
  std::uint64_t stream = 0;
  unet.visit_parameters([&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 41, 0.0, 0.3, stream++); }, "");
  unet.add_lora({.rank = 2, .alpha = 2, .seed = 5});
  unet.visit_parameters([&](const std::string& n, nn::Param<double, Cpu>& p) {
    if (n.find("lora_B") != std::string::npos) ops::fill_normal(p.value, 43, 0.0, 0.3, stream++);
  }, "");
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
  adapter.visit_parameters([&](const std::string& n, nn::Param<double, Cpu>& p) { EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, "adapter." + n, 6)); }, "");
  index_t lora = 0;
  unet.visit_parameters([&](const std::string& n, nn::Param<double, Cpu>& p) {
    if (!p.trainable) {
      EXPECT_FALSE(p.has_grad()) << n;
      return;
    }
    ++lora;
    EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, n, 4));
  }, "");
  EXPECT_EQ(lora, 4 * 2 * 4 * 2);  // 4 transformer blocks (down 1, mid 1, up 2) x attn1/2 x q/k/v/out x A/B
}

TEST(LaviBridge, AdamWStepsLowerTheDenoisingLoss) {
  aligners::LaviBridgeAdapter<float, Cpu> adapter({.in_dim = 5, .int_dim = 4, .out_dim = 6, .mult = 2}, 3);
  diffusion::UNet2DCondition<float, Cpu> unet(test::tiny_unet_config(), 4);
  unet.add_lora({.rank = 2, .alpha = 2});
  const diffusion::NoiseSchedule schedule(diffusion::SchedulerConfig{});
  const auto source = ops::randn<float, Cpu>({4, 3, 5}, 1), x0 = ops::randn<float, Cpu>({4, 2, 4, 4}, 2);
  const auto draw = train::DenoisingDraw<float, Cpu>::draw(schedule, x0.shape(), 7, 0);  // one fixed batch: the loss must fall
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

}  // namespace
}  // namespace gluegen
