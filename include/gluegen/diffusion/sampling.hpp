#pragma once
// The sampling loop of text-to-image diffusion with classifier-free guidance (Ho & Salimans 2022,
// eq. 6): eps = eps(x, empty) + w (eps(x, text) - eps(x, empty)), the conditional and unconditional
// passes batched into one UNet call as diffusers' StableDiffusionPipeline does ([uncond; cond]).
// w <= 1 runs the conditional pass alone. Stochastic samplers draw their noise from Philox keyed by
// (seed, step), so a seed reproduces an image exactly on the CPU policy. Any Denoiser samples.
#include <gluegen/core/progress.hpp>
#include <gluegen/diffusion/scheduler.hpp>
#include <gluegen/diffusion/denoiser.hpp>

#include <array>
#include <functional>

namespace gluegen::diffusion {

struct SamplingOptions {
  index_t steps = 30;
  double guidance_scale = 5.0;  ///< w; <= 1 disables guidance (one UNet pass per step)
  std::uint64_t seed = 0;       ///< for the stochastic samplers' per-step noise
};

/// Called after every step with (step index, number of steps, the timestep, the current latents).
template <ComputeElement T, TensorPolicy P>
using StepCallback = std::function<void(index_t, index_t, double, const Tensor<T, P>&)>;

/// The conditioning of a guided batch, [2B, L, D]: the unconditional rows (`uncond` [1 or B, L, D],
/// repeated when it is one row for all) and then `cond` [B, L, D], in diffusers' order.
template <ComputeElement T, TensorPolicy P>
void guided_context(const Tensor<T, P>& cond, const Tensor<T, P>& uncond, Tensor<T, P>& context) {
  const index_t B = cond.size(0);
  GLUEGEN_CHECK_AS(ShapeError,
                   uncond.rank() == 3 && (uncond.size(0) == 1 || uncond.size(0) == B) &&
                       uncond.size(1) == cond.size(1) && uncond.size(2) == cond.size(2),
                   "sample: unconditional encoding has shape {}, expected [1 or {}, {}, {}]", uncond.shape(), B,
                   cond.size(1), cond.size(2));
  Tensor<T, P> neg = uncond;
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

/// The denoising loop over any Denoiser. context_at(i, t) gives step i's conditioning at timestep t:
/// [B, L, D], or when guided the [2B, L, D] of guided_context (a timestep-aware aligner recomputes it
/// every step; a fixed conditioning returns the same tensor). noise_at(i, shape) draws the fresh
/// N(0, I) noise of a stochastic sampler's step i. Returns the final latents.
template <diffusion::Denoiser M, typename S, typename ContextAt, typename NoiseAt>
  requires Scheduler<S, typename M::value_type, typename M::policy>
[[nodiscard]] Tensor<typename M::value_type, typename M::policy> denoise(
    M& model, S& scheduler, ContextAt&& context_at, Tensor<typename M::value_type, typename M::policy> latents,
    const SamplingOptions& opt, NoiseAt&& noise_at,
    const StepCallback<typename M::value_type, typename M::policy>& on_step = {}) {
  using T = typename M::value_type;
  using TensorT = Tensor<T, typename M::policy>;
  const index_t B = latents.size(0);
  const bool guided = opt.guidance_scale > 1.0;
  scheduler.set_timesteps(opt.steps);
  latents = ops::scale(latents, T(scheduler.init_noise_sigma()));
  const auto& ts = scheduler.timesteps();
  const auto n = static_cast<index_t>(ts.size());
  typename M::Cache cache;
  TensorT doubled, eps_uncond, eps_cond, noise;
  for (index_t i = 0; i < n; ++i) {
    const TensorT scaled = scheduler.scale_model_input(latents, i);
    const std::array<double, 1> t{ts[static_cast<std::size_t>(i)]};
    const TensorT& context = context_at(i, t[0]);
    TensorT eps;
    if (guided) {
      ops::concat(scaled, scaled, 0, doubled);
      ops::split(model.forward(doubled, t, context, cache), 0, B, eps_uncond, eps_cond);
      eps = ops::sub(eps_cond, eps_uncond);  // eps_u + w (eps_c - eps_u), in diffusers' order
      ops::scale(eps, T(opt.guidance_scale), eps);
      ops::add(eps, eps_uncond, eps);
    } else {
      eps = model.forward(scaled, t, context, cache);
    }
    if (scheduler.stochastic()) noise = noise_at(i, latents.shape());
    scheduler.step(eps, i, latents, scheduler.stochastic() ? &noise : nullptr);
    if (on_step) on_step(i, n, t[0], latents);
  }
  return latents;
}

/// Denoises `latents` (N(0, I) noise [B, C, h, w], scaled here by the scheduler's init_noise_sigma)
/// conditioned on `cond` [B, L, D]; `uncond` [B or 1, L', D] is the empty / negative prompt's encoding
/// (L' = L: they are batched together), needed when guidance_scale > 1. Returns the final latents.
template <diffusion::Denoiser M, typename S>
  requires Scheduler<S, typename M::value_type, typename M::policy>
[[nodiscard]] Tensor<typename M::value_type, typename M::policy> sample(
    M& model, S& scheduler, const Tensor<typename M::value_type, typename M::policy>& cond,
    const Tensor<typename M::value_type, typename M::policy>* uncond,
    Tensor<typename M::value_type, typename M::policy> latents, const SamplingOptions& opt,
    const StepCallback<typename M::value_type, typename M::policy>& on_step = {}) {
  using TensorT = Tensor<typename M::value_type, typename M::policy>;
  const index_t B = latents.size(0);
  GLUEGEN_CHECK_AS(ShapeError, cond.rank() == 3 && cond.size(0) == B,
                   "sample: conditioning has shape {}, expected [{}, L, D] (one per latent)", cond.shape(), B);
  TensorT context = cond;
  if (opt.guidance_scale > 1.0) {
    GLUEGEN_CHECK_AS(ValueError, uncond != nullptr,
                     "sample: guidance_scale {} > 1 needs the unconditional (empty prompt) encoding",
                     opt.guidance_scale);
    guided_context(cond, *uncond, context);
  }
  return denoise(
      model, scheduler, [&](index_t, double) -> const TensorT& { return context; }, std::move(latents), opt,
      [&](index_t i, const Shape& shape) {
        return ops::randn<typename M::value_type, typename M::policy>(shape, opt.seed, static_cast<std::uint64_t>(i));
      },
      on_step);
}

}  // namespace gluegen::diffusion
