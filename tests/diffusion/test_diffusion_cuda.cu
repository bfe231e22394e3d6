// The diffusion decoder on the Cuda policy (skipped without a GPU): the converted SD-layout UNet
// against diffusers' forward and backward, and the guided DDIM + VAE pipeline against the Cpu
// policy. Tolerances: the goldens' own (4x diffusers' f32-vs-f64 gap) times 10 for cuBLAS's
// different summation order through 30+ layers.
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/diffusion/sampling.hpp>
#include <gluegen/tensor/cuda.cuh>

#include <gtest/gtest.h>

#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

#define SKIP_WITHOUT_GPU() \
  if (!cuda_device_available()) GTEST_SKIP() << "skipped: no CUDA device"

const std::string kDir = std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/";

TEST(CudaDiffusion, UNetMatchesDiffusers) {
  SKIP_WITHOUT_GPU();
  const io::WeightReader model(kDir + "unet_sd1.h5"), io(kDir + "unet_sd1_io.h5");
  auto unet = diffusion::load_unet<float, Cuda>(model);
  const double tol_fwd = 10 * io.number_attribute("", "tol_forward").value(),
               tol_bwd = 10 * io.number_attribute("", "tol_backward").value();
  const auto t = io.read<double>("timesteps").to_vector();
  diffusion::UNet2DCondition<float, Cuda>::Cache cache;
  const auto y =
      unet.forward(io.read<float, Cuda>("sample"), t, io.read<float, Cuda>("encoder_hidden_states"), cache).to_vector();
  EXPECT_TRUE(test::all_close(y, io.read<float>("out").to_vector(), tol_fwd));
  nn::zero_grad(unet);
  EXPECT_TRUE(test::all_close(unet.backward(io.read<float, Cuda>("dy"), cache).to_vector(),
                              io.read<float>("d_sample").to_vector(), tol_bwd));
  EXPECT_TRUE(
      test::all_close(cache.d_context.to_vector(), io.read<float>("d_encoder_hidden_states").to_vector(), tol_bwd));
  unet.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cuda>& p) {
        EXPECT_TRUE(test::all_close(p.grad.to_vector(), io.read<float>("grads." + name).to_vector(), tol_bwd)) << name;
      },
      "");
}

TEST(CudaDiffusion, GuidedPipelineMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const io::WeightReader golden(kDir + "pipeline_cfg.h5");
  const auto cls = golden.string_attribute("", "scheduler_class").value();
  const auto cfg = diffusion::parse_diffusers_json(golden.string_attribute("", "scheduler_config").value());
  auto unet = diffusion::load_unet<float, Cuda>(io::WeightReader(kDir + "unet_sd1.h5"));
  auto vae = diffusion::load_vae<float, Cuda>(io::WeightReader(kDir + "vae_tiny.h5"));
  auto scheduler = diffusion::AnyScheduler<float, Cuda>::from_config(cls, cfg);
  const auto uncond = golden.read<float, Cuda>("negative_prompt_embeds");
  const auto latents = diffusion::sample(
      unet, scheduler, golden.read<float, Cuda>("prompt_embeds"), &uncond, golden.read<float, Cuda>("latents_in"),
      {.steps = 10, .guidance_scale = golden.number_attribute("", "guidance_scale").value()});
  const double tol = 10 * golden.number_attribute("", "tol_forward").value();
  EXPECT_TRUE(test::all_close(latents.to_vector(), golden.read<float>("latents_out").to_vector(), tol));
  diffusion::AutoencoderKL<float, Cuda>::DecodeCache dec;
  EXPECT_TRUE(test::all_close(vae.decode(ops::scale(latents, float(1 / vae.config().scaling_factor)), dec).to_vector(),
                              golden.read<float>("image").to_vector(), tol));
}

}  // namespace
}  // namespace gluegen
