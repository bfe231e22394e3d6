// Text-to-image sampling with a converted diffusers UNet and VAE: classifier-free guidance with
// DPM-Solver++(2M), then the VAE decoder and a PNG. argv[1]: the repository root.
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/diffusion/sampling.hpp>
#include <gluegen/io/png.hpp>

#include <cassert>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace gluegen;
  using Tf = Tensor<float, Cpu>;
  const std::string dir = std::string(argc > 1 ? argv[1] : ".") + "/tests/data/diffusion/";

  // Models converted by tools/convert_diffusers.py (here: tiny random SD-layout test models).
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(dir + "unet_sd1.h5"));
  auto vae = diffusion::load_vae<float, Cpu>(io::WeightReader(dir + "vae_tiny.h5"));

  // Any diffusers scheduler by class name and scheduler_config.json content.
  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config(
      "DPMSolverMultistepScheduler",
      {{"beta_schedule", "scaled_linear"}, {"beta_start", 0.00085}, {"beta_end", 0.012}});

  // Conditioning [B, L, cross_attention_dim]: a text encoder's (or an aligner's) output; here random.
  const Tf cond = ops::randn<float, Cpu>({2, 5, unet.config().cross_attention_dim}, 1);
  const Tf empty = ops::randn<float, Cpu>({1, 5, unet.config().cross_attention_dim}, 2);  // the "" prompt
  const Tf noise = ops::randn<float, Cpu>({2, unet.config().in_channels, 16, 16}, 3);

  const Tf latents = diffusion::sample(
      unet, scheduler, cond, &empty, noise, {.steps = 20, .guidance_scale = 5.0},
      [](index_t i, index_t n, double t, const Tf&) { std::printf("step %ld/%ld t=%g\n", i + 1, n, t); });

  diffusion::AutoencoderKL<float, Cpu>::DecodeCache cache;
  const Tf images =
      vae.decode(ops::scale(latents, float(1 / vae.config().scaling_factor)), cache);  // [2, 3, 32, 32] in [-1, 1]
  assert(images.shape() == (Shape{2, 3, 32, 32}));

  std::vector<io::Image> cells{io::to_image(images.select(0)), io::to_image(images.select(1))};
  io::write_png("diffusion_snippet.png",
                io::image_grid(cells, {"first prompt", "second prompt"}, {.columns = 2, .upscale = 4}));
  assert(io::read_png("diffusion_snippet.png").width > 0);
}
