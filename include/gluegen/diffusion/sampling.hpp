#pragma once
// The sampling loop of text-to-image diffusion with classifier-free guidance (Ho & Salimans 2022,
// eq. 6): eps = eps(x, empty) + w (eps(x, text) - eps(x, empty)), the conditional and unconditional
// passes batched into one UNet call as diffusers' StableDiffusionPipeline does ([uncond; cond]).
// w <= 1 runs the conditional pass alone. Stochastic samplers draw their noise from Philox keyed by
// (seed, step), so a seed reproduces an image exactly on the CPU policy.
#include <gluegen/core/progress.hpp>
#include <gluegen/diffusion/scheduler.hpp>
#include <gluegen/diffusion/unet.hpp>

#include <array>
#include <functional>
#include <type_traits>

namespace gluegen::diffusion {

struct SamplingOptions {
  index_t steps = 30;
  double guidance_scale = 5.0;  ///< w; <= 1 disables guidance (one UNet pass per step)
  std::uint64_t seed = 0;       ///< for the stochastic samplers' per-step noise
};

/// Called after every step with (step index, number of steps, the timestep, the current latents).
template <ComputeElement T, TensorPolicy P>
using StepCallback = std::function<void(index_t, index_t, double, const Tensor<T, P>&)>;

/// Denoises `latents` (N(0, I) noise [B, C, h, w], scaled here by the scheduler's init_noise_sigma)
/// conditioned on `cond` [B, L, D]; `uncond` [B or 1, L', D] is the empty / negative prompt's encoding
/// (L' = L: they are batched together), needed when guidance_scale > 1. Returns the final latents.
template <ComputeElement T, TensorPolicy P, typename S>
  requires Scheduler<S, T, P>
[[nodiscard]] Tensor<T, P> sample(UNet2DCondition<T, P>& unet, S& scheduler, const Tensor<T, P>& cond, const Tensor<T, P>* uncond, Tensor<T, P> latents,
                                  const SamplingOptions& opt, const std::type_identity_t<StepCallback<T, P>>& on_step = {}) {
  const index_t B = latents.size(0);
  const bool guided = opt.guidance_scale > 1.0;
  GLUEGEN_CHECK_AS(ShapeError, cond.rank() == 3 && cond.size(0) == B, "sample: conditioning has shape {}, expected [{}, L, D] (one per latent)",
                   cond.shape(), B);
  Tensor<T, P> context = cond;
  if (guided) {
    GLUEGEN_CHECK_AS(ValueError, uncond != nullptr, "sample: guidance_scale {} > 1 needs the unconditional (empty prompt) encoding", opt.guidance_scale);
    GLUEGEN_CHECK_AS(ShapeError, uncond->rank() == 3 && (uncond->size(0) == 1 || uncond->size(0) == B) && uncond->size(1) == cond.size(1) &&
                                     uncond->size(2) == cond.size(2),
                     "sample: unconditional encoding has shape {}, expected [1 or {}, {}, {}]", uncond->shape(), B, cond.size(1), cond.size(2));
    Tensor<T, P> neg = *uncond;
    if (neg.size(0) != B) {  // one empty prompt for the whole batch
      Tensor<T, P> repeated(Shape{B, cond.size(1), cond.size(2)});
      for (index_t b = 0; b < B; ++b) {
        Tensor<T, P> row = repeated.slice(b, b + 1);
        ops::copy(neg, row);
      }
      neg = repeated;
    }
    context = Tensor<T, P>{};
    ops::concat(neg, cond, 0, context);
  }
  scheduler.set_timesteps(opt.steps);
  latents = ops::scale(latents, T(scheduler.init_noise_sigma()));
  const auto& ts = scheduler.timesteps();
  const auto n = static_cast<index_t>(ts.size());
  typename UNet2DCondition<T, P>::Cache cache;
  Tensor<T, P> doubled, eps_uncond, eps_cond, noise;
  for (index_t i = 0; i < n; ++i) {
    const Tensor<T, P> scaled = scheduler.scale_model_input(latents, i);
    const std::array<double, 1> t{ts[static_cast<std::size_t>(i)]};
    Tensor<T, P> eps;
    if (guided) {
      ops::concat(scaled, scaled, 0, doubled);
      ops::split(unet.forward(doubled, t, context, cache), 0, B, eps_uncond, eps_cond);
      eps = ops::sub(eps_cond, eps_uncond);  // eps_u + w (eps_c - eps_u), in diffusers' order
      ops::scale(eps, T(opt.guidance_scale), eps);
      ops::add(eps, eps_uncond, eps);
    } else {
      eps = unet.forward(scaled, t, context, cache);
    }
    if (scheduler.stochastic()) noise = ops::randn<T, P>(latents.shape(), opt.seed, static_cast<std::uint64_t>(i));
    scheduler.step(eps, i, latents, scheduler.stochastic() ? &noise : nullptr);
    if (on_step) on_step(i, n, t[0], latents);
  }
  return latents;
}

}  // namespace gluegen::diffusion
