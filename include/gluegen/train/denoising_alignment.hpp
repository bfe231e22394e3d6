#pragma once
// Training an aligner through a frozen diffusion decoder (LaVi-Bridge, ELLA): the aligner's output is
// the UNet's conditioning, and the loss is the decoder's own denoising objective (Ho et al. 2020,
// eq. 14): L = mean ||eps_theta(x_t, t, f(S)) - eps||^2 (or the v target), so dL/df(S) comes back
// through the UNet's cross-attention (cache.d_context) into the aligner's backward. Trainable LoRA
// adapters in the UNet (UNet2DCondition::add_lora) receive their gradients in the same pass.
#include <gluegen/diffusion/noise_schedule.hpp>
#include <gluegen/diffusion/unet.hpp>
#include <gluegen/losses/regression.hpp>

#include <random>

namespace gluegen::train {

/// One sample of the denoising loss's randomness: timesteps per example and the noise.
template <ComputeElement T, TensorPolicy P>
struct DenoisingDraw {
  std::vector<index_t> timesteps;
  Tensor<T, P> noise;

  static DenoisingDraw draw(const diffusion::NoiseSchedule& s, const Shape& x0_shape, std::uint64_t seed, std::uint64_t step) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + step);
    std::uniform_int_distribution<index_t> pick(0, s.num_train_timesteps() - 1);
    DenoisingDraw d{std::vector<index_t>(static_cast<std::size_t>(x0_shape[0])), ops::randn<T, P>(x0_shape, seed + 1, step)};
    for (auto& t : d.timesteps) t = pick(rng);
    return d;
  }
};

/// Forward and backward of the denoising loss for aligner `a` (any Layer: source [B, L, D] -> the
/// UNet's conditioning) through `unet`; accumulates gradients into every trainable parameter of
/// both. Returns the loss. x0: clean samples (pixels or VAE latents times scaling_factor).
template <nn::Layer A, ComputeElement T, TensorPolicy P>
  requires std::same_as<typename A::value_type, T> && std::same_as<typename A::policy, P>
double denoising_loss_step(A& aligner, typename A::Cache& aligner_cache, diffusion::UNet2DCondition<T, P>& unet,
                           typename diffusion::UNet2DCondition<T, P>::Cache& unet_cache, const diffusion::NoiseSchedule& schedule,
                           const Tensor<T, P>& source, const Tensor<T, P>& x0, const DenoisingDraw<T, P>& draw) {
  const Tensor<T, P>& cond = aligner.forward(source, aligner_cache);
  const Tensor<T, P> xt = schedule.add_noise(x0, draw.noise, draw.timesteps);
  const Tensor<T, P> target =
      schedule.config().prediction == diffusion::Prediction::v ? schedule.velocity(x0, draw.noise, draw.timesteps) : draw.noise;
  const std::vector<double> t(draw.timesteps.begin(), draw.timesteps.end());
  Tensor<T, P> d;
  const double loss = losses::mse(unet.forward(xt, t, cond, unet_cache), target, d);
  unet.backward(d, unet_cache);
  aligner.backward(unet_cache.d_context, aligner_cache);
  return loss;
}

}  // namespace gluegen::train
