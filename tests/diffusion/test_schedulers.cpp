// Samplers against diffusers' schedulers over full 10-step loops (tools/make_diffusion_goldens.py):
// the same config, initial noise, model outputs (0.5 * scaled input + a stored residual, so errors in
// the sample feed back) and per-step noise; every intermediate sample must match to 1e-5.
#include <gluegen/diffusion/scheduler.hpp>
#include <gluegen/io/hdf5_store.hpp>

#include <gtest/gtest.h>

#include <set>

#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using diffusion::AnyScheduler;
using Tf = Tensor<float, Cpu>;

const io::WeightReader& goldens() {
  static const io::WeightReader reader(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/schedulers.h5");
  return reader;
}

std::vector<std::string> loop_cases() {
  std::set<std::string> cases;
  for (const auto& name : goldens().names())
    if (name.ends_with(".samples")) cases.insert(name.substr(0, name.size() - 8));
  return {cases.begin(), cases.end()};
}

class SchedulerLoop : public ::testing::TestWithParam<std::string> {};

TEST_P(SchedulerLoop, MatchesDiffusersStepByStep) {
  const std::string g = GetParam();
  const auto& f = goldens();
  const auto class_name = f.string_attribute(g, "class_name").value();
  const auto config = diffusion::parse_diffusers_json(f.string_attribute(g, "config").value());
  const double eta = f.number_attribute(g, "eta").value_or(0.0);
  auto s = AnyScheduler<float, Cpu>::from_config(class_name, config, eta);
  s.set_timesteps(static_cast<index_t>(f.number_attribute(g, "num_inference_steps").value()));
  const auto expected_t = f.read<double>(g + ".timesteps").to_vector();
  ASSERT_EQ(s.timesteps().size(), expected_t.size()) << class_name;
  for (std::size_t i = 0; i < expected_t.size(); ++i)
    EXPECT_NEAR(s.timesteps()[i], expected_t[i], 1e-3) << g << " timestep " << i;
  const double sigma0 = f.read<double>(g + ".init_noise_sigma").to_vector().front();
  EXPECT_NEAR(s.init_noise_sigma(), sigma0, 1e-6 * sigma0) << g;

  const Tf samples = f.read<float>(g + ".samples"), residual = f.read<float>(g + ".residual"),
           noise = f.read<float>(g + ".noise");
  Tf sample = ops::scale(f.read<float>(g + ".x_T"), float(s.init_noise_sigma()));
  EXPECT_TRUE(test::all_close(sample.to_vector(), samples.select(0).to_vector(), 1e-6)) << g << " initial sample";
  for (index_t i = 0; i < static_cast<index_t>(expected_t.size()); ++i) {
    const Tf out = ops::add(ops::scale(s.scale_model_input(sample, i), 0.5f), residual.select(i).contiguous());
    const Tf z = noise.select(i).contiguous();
    s.step(out, i, sample, &z);
    ASSERT_TRUE(test::all_close(sample.to_vector(), samples.select(i + 1).to_vector(), 1e-5))
        << g << " (" << class_name << ") after step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Diffusers, SchedulerLoop, ::testing::ValuesIn(loop_cases()),
                         [](const auto& info) { return info.param; });

TEST(NoiseSchedule, AddNoiseAndVelocityMatchDiffusers) {
  const auto& f = goldens();
  const auto ts = f.read<double>("ddpm_add_noise.timesteps").to_vector();
  std::vector<index_t> t(ts.begin(), ts.end());
  const diffusion::NoiseSchedule schedule(diffusion::SchedulerConfig::from_json(
      diffusion::parse_diffusers_json(f.string_attribute("ddpm_add_noise", "config").value()),
      diffusion::SchedulerConfig{}));
  const Tf x0 = f.read<float>("ddpm_add_noise.x0"), noise = f.read<float>("ddpm_add_noise.noise");
  EXPECT_TRUE(test::all_close(schedule.add_noise(x0, noise, t).to_vector(),
                              f.read<float>("ddpm_add_noise.noisy").to_vector(), 1e-6));
  EXPECT_TRUE(test::all_close(schedule.velocity(x0, noise, t).to_vector(),
                              f.read<float>("ddpm_add_noise.velocity").to_vector(), 1e-6));
}

TEST(Schedulers, RejectUnsupportedOptionsByName) {
  const auto expect_message = [](const std::string& cls, const nlohmann::json& cfg, const std::string& needle) {
    try {
      (void)AnyScheduler<float, Cpu>::from_config(cls, cfg);
      ADD_FAILURE() << cls << " accepted " << cfg.dump();
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_message("LMSDiscreteScheduler", {}, "unknown scheduler");
  expect_message("DDIMScheduler", {{"thresholding", true}}, "thresholding");
  expect_message("DDIMScheduler", {{"beta_schedule", "sigmoid"}}, "beta_schedule");
  expect_message("PNDMScheduler", {{"skip_prk_steps", false}}, "skip_prk_steps");
  expect_message("DPMSolverMultistepScheduler", {{"algorithm_type", "sde-dpmsolver++"}}, "algorithm_type");
  expect_message("DDPMScheduler", {{"prediction_type", "flow"}}, "prediction_type");
  auto ddim = AnyScheduler<float, Cpu>::from_config("DDIMScheduler", {});
  EXPECT_THROW(ddim.set_timesteps(0), ValueError);
  EXPECT_THROW(ddim.set_timesteps(1001), ValueError);
}

}  // namespace
}  // namespace gluegen
