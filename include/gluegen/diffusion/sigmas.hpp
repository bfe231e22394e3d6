#pragma once
// The noise-level (sigma) view of the schedule that Euler and DPM-Solver samplers use (Karras et al.
// 2022, sec. 2): x_t / sqrt(abar_t) = x_0 + sigma_t eps with sigma_t = sqrt((1 - abar_t) / abar_t).
// Inference sigmas are interpolated at (possibly fractional) timesteps as diffusers does (numpy.interp
// on float32 sigmas), or spaced as Karras et al. eq. 5 (rho = 7) and mapped back to timesteps.
#include <gluegen/diffusion/noise_schedule.hpp>

#include <algorithm>

namespace gluegen::diffusion {

/// sigma_t for every training timestep, float32 like diffusers.
[[nodiscard]] inline std::vector<float> training_sigmas(const NoiseSchedule& s) {
  std::vector<float> out;
  out.reserve(s.alphas_cumprod().size());
  for (const float a : s.alphas_cumprod()) out.push_back(std::sqrt((1.0f - a) / a));
  return out;
}

/// numpy.interp(t, arange(len(sigmas)), sigmas).
[[nodiscard]] inline double interpolate_sigma(const std::vector<float>& sigmas, double t) {
  const double last = static_cast<double>(sigmas.size() - 1);
  if (t <= 0) return sigmas.front();
  if (t >= last) return sigmas.back();
  const auto lo = static_cast<std::size_t>(std::floor(t));
  const double w = t - static_cast<double>(lo);
  return static_cast<double>(sigmas[lo]) + w * (static_cast<double>(sigmas[lo + 1]) - static_cast<double>(sigmas[lo]));
}

/// The fractional timestep of a sigma: linear interpolation in log sigma (diffusers' _sigma_to_t).
[[nodiscard]] inline double sigma_to_timestep(double sigma, const std::vector<float>& sigmas) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  std::size_t low = 0;  // the last index whose log sigma is <= log_sigma, at most len - 2
  for (std::size_t i = 0; i < sigmas.size(); ++i)
    if (std::log(static_cast<double>(sigmas[i])) <= log_sigma) low = i;
  low = std::min(low, sigmas.size() - 2);
  const double l = std::log(static_cast<double>(sigmas[low])), h = std::log(static_cast<double>(sigmas[low + 1]));
  const double w = std::clamp((l - log_sigma) / (l - h), 0.0, 1.0);
  return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

/// Karras et al. 2022 eq. 5: sigma_i = (sigma_max^(1/rho) + i / (n - 1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho.
[[nodiscard]] inline std::vector<double> karras_sigmas(double sigma_max, double sigma_min, index_t n,
                                                       double rho = 7.0) {
  std::vector<double> out(static_cast<std::size_t>(n));
  const double hi = std::pow(sigma_max, 1 / rho), lo = std::pow(sigma_min, 1 / rho);
  for (index_t i = 0; i < n; ++i) {
    const double ramp = n == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(n - 1);
    out[static_cast<std::size_t>(i)] = std::pow(hi + ramp * (lo - hi), rho);
  }
  return out;
}

/// Inference timesteps (float, largest first) and sigmas (one more: the final sigma) for Euler-type
/// samplers: spacing as the config says, not rounded for linspace (diffusers' EulerDiscreteScheduler).
struct SigmaSteps {
  std::vector<double> timesteps;
  std::vector<double> sigmas;
};

[[nodiscard]] inline SigmaSteps euler_sigma_steps(const NoiseSchedule& s, index_t n) {
  const auto& cfg = s.config();
  const index_t T = cfg.num_train_timesteps;
  GLUEGEN_CHECK_AS(ValueError, n >= 1 && n <= T, "set_timesteps: {} inference steps for {} training timesteps", n, T);
  SigmaSteps out;
  if (cfg.timestep_spacing == "linspace") {
    for (index_t i = n; i-- > 0;)
      out.timesteps.push_back(static_cast<float>(
          n == 1 ? 0.0 : static_cast<double>(T - 1) * static_cast<double>(i) / static_cast<double>(n - 1)));
  } else {
    for (const index_t t : s.spaced_timesteps(n)) out.timesteps.push_back(static_cast<double>(t));
  }
  const std::vector<float> train = training_sigmas(s);
  if (cfg.use_karras_sigmas) {
    std::vector<double> interp;
    for (const double t : out.timesteps) interp.push_back(interpolate_sigma(train, t));
    out.sigmas = karras_sigmas(interp.front(), interp.back(), n);
    for (std::size_t i = 0; i < out.sigmas.size(); ++i)
      out.timesteps[i] = static_cast<float>(sigma_to_timestep(out.sigmas[i], train));
  } else {
    for (const double t : out.timesteps) out.sigmas.push_back(interpolate_sigma(train, t));
  }
  out.sigmas.push_back(cfg.final_sigma_zero ? 0.0 : static_cast<double>(train.front()));
  for (double& v : out.sigmas) v = static_cast<float>(v);  // diffusers keeps sigmas in float32
  return out;
}

}  // namespace gluegen::diffusion
