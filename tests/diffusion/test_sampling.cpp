// The whole text-to-image loop: classifier-free guidance over 10 DDIM steps with the tiny SD-layout
// UNet, then the VAE decoder, against diffusers' StableDiffusionPipeline on the same weights, latents
// and prompt embeddings (tools/make_diffusion_goldens.py).
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/diffusion/sampling.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using Tf = Tensor<float, Cpu>;

TEST(Sampling, GuidedDdimPipelineMatchesDiffusers) {
  const std::string dir = std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/";
  const io::WeightReader golden(dir + "pipeline_cfg.h5");
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(dir + "unet_sd1.h5"));
  auto vae = diffusion::load_vae<float, Cpu>(io::WeightReader(dir + "vae_tiny.h5"));
  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config(
      golden.string_attribute("", "scheduler_class").value(),
      diffusion::parse_diffusers_json(golden.string_attribute("", "scheduler_config").value()));
  const Tf uncond = golden.read<float>("negative_prompt_embeds");
  const diffusion::SamplingOptions opt{
      .steps = static_cast<index_t>(golden.number_attribute("", "num_inference_steps").value()),
      .guidance_scale = golden.number_attribute("", "guidance_scale").value()};
  const Tf per_step = golden.read<float>("latents_per_step");
  const double tol = golden.number_attribute("", "tol_forward").value();
  index_t calls = 0;
  const Tf latents = diffusion::sample(
      unet, scheduler, golden.read<float>("prompt_embeds"), &uncond, golden.read<float>("latents_in"), opt,
      [&](index_t i, index_t n, double, const Tf& x) {
        EXPECT_EQ(n, 10);
        EXPECT_TRUE(test::all_close(x.to_vector(), per_step.select(i).to_vector(), tol)) << "after step " << i;
        ++calls;
      });
  EXPECT_EQ(calls, 10);
  EXPECT_TRUE(test::all_close(latents.to_vector(), golden.read<float>("latents_out").to_vector(), tol));
  diffusion::AutoencoderKL<float, Cpu>::DecodeCache dec;
  const Tf image = vae.decode(ops::scale(latents, float(1 / vae.config().scaling_factor)), dec);
  EXPECT_TRUE(test::all_close(image.to_vector(), golden.read<float>("image").to_vector(), tol));
}

TEST(Sampling, RejectsMissingOrMisshapedUnconditionalEncoding) {
  const std::string dir = std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/";
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(dir + "unet_sd1.h5"));
  diffusion::DdimScheduler<float, Cpu> ddim;
  const Tf cond = Tf::zeros({1, 5, 12}), latents = Tf::zeros({1, 4, 16, 16});
  EXPECT_THROW((void)diffusion::sample(unet, ddim, cond, static_cast<const Tf*>(nullptr), latents,
                                       {.steps = 2, .guidance_scale = 3}),
               ValueError);
  const Tf bad = Tf::zeros({1, 4, 12});
  EXPECT_THROW((void)diffusion::sample(unet, ddim, cond, &bad, latents, {.steps = 2, .guidance_scale = 3}), ShapeError);
  // guidance 1: a single conditional pass, no unconditional encoding needed
  EXPECT_EQ(
      diffusion::sample(unet, ddim, cond, static_cast<const Tf*>(nullptr), latents, {.steps = 2, .guidance_scale = 1})
          .shape(),
      latents.shape());
}

}  // namespace
}  // namespace gluegen
