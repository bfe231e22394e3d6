#pragma once
// Euler samplers on the probability-flow ODE in sigma (Karras et al. 2022, Alg. 1 with one Euler step
// and no churn), as diffusers' EulerDiscreteScheduler, and the ancestral variant
// (EulerAncestralDiscreteScheduler; k-diffusion's sample_euler_ancestral), which steps down to
// sigma_down and adds fresh noise of sigma_up:
//   x0_hat = x - sigma eps_hat (epsilon) or the v-parameterised estimate;  d = (x - x0_hat) / sigma
//   Euler:      x' = x + d (sigma' - sigma)
//   ancestral:  sigma_up = sqrt(sigma'^2 (sigma^2 - sigma'^2) / sigma^2), sigma_down = sqrt(sigma'^2 - sigma_up^2)
//               x' = x + d (sigma_down - sigma) + sigma_up z
// The model sees x / sqrt(sigma^2 + 1) (scale_model_input), the variance-preserving input it was trained on.
#include <gluegen/diffusion/sigmas.hpp>

namespace gluegen::diffusion {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class EulerScheduler {
 public:
  static SchedulerConfig default_config() {
    SchedulerConfig c;
    c.timestep_spacing = "linspace";
    return c;
  }
  explicit EulerScheduler(const SchedulerConfig& cfg = default_config(), bool ancestral = false)
      : schedule_(cfg), ancestral_(ancestral) {
    GLUEGEN_CHECK_AS(ValueError, !(ancestral && cfg.use_karras_sigmas),
                     "EulerScheduler: the ancestral variant has no Karras sigmas in diffusers");
  }

  [[nodiscard]] const NoiseSchedule& schedule() const noexcept { return schedule_; }
  void set_timesteps(index_t n) { steps_ = euler_sigma_steps(schedule_, n); }
  [[nodiscard]] const std::vector<double>& timesteps() const noexcept { return steps_.timesteps; }
  [[nodiscard]] const std::vector<double>& sigmas() const noexcept { return steps_.sigmas; }
  /// The initial latents' scale: sigma_max, or sqrt(sigma_max^2 + 1) for "leading" spacing (diffusers' rule).
  [[nodiscard]] double init_noise_sigma() const {
    GLUEGEN_CHECK(!steps_.sigmas.empty(), "EulerScheduler: call set_timesteps first");
    const double max_sigma = static_cast<float>(*std::max_element(steps_.sigmas.begin(), steps_.sigmas.end()));
    const auto& spacing = schedule_.config().timestep_spacing;
    return spacing == "linspace" || spacing == "trailing" ? max_sigma
                                                          : static_cast<float>(std::sqrt(max_sigma * max_sigma + 1));
  }
  [[nodiscard]] bool stochastic() const noexcept { return ancestral_; }
  [[nodiscard]] Tensor<T, P> scale_model_input(const Tensor<T, P>& sample, index_t i) const {
    const double sigma = sigma_at(i);
    return ops::scale(sample, T(1 / std::sqrt(sigma * sigma + 1)));
  }

  void step(const Tensor<T, P>& model_output, index_t i, Tensor<T, P>& sample, const Tensor<T, P>* noise) {
    const double sigma = sigma_at(i), sigma_next = steps_.sigmas[static_cast<std::size_t>(i + 1)];
    Tensor<T, P> x0;
    switch (schedule_.config().prediction) {
      case Prediction::epsilon:
        x0 = lincomb<T, P>({{1.0, &sample}, {-sigma, &model_output}});
        break;
      case Prediction::v:  // x0 = c_skip x + c_out v with c_skip = 1 / (sigma^2 + 1), c_out = -sigma / sqrt(sigma^2 +
                           // 1)
        x0 =
            lincomb<T, P>({{-sigma / std::sqrt(sigma * sigma + 1), &model_output}, {1 / (sigma * sigma + 1), &sample}});
        break;
      case Prediction::sample:
        x0 = model_output;
        break;
    }
    double target = sigma_next, up = 0;
    if (ancestral_) {
      up = std::sqrt(sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next) / (sigma * sigma));
      target = std::sqrt(sigma_next * sigma_next - up * up);
    }
    // x + (x - x0) / sigma * (target - sigma)
    const double r = (target - sigma) / sigma;
    Tensor<T, P> next = lincomb<T, P>({{1 + r, &sample}, {-r, &x0}});
    if (ancestral_) {
      GLUEGEN_CHECK_AS(ValueError, noise && noise->shape() == sample.shape(),
                       "EulerScheduler (ancestral)::step: needs noise of shape {}", sample.shape());
      ops::axpy(T(up), *noise, next);
    }
    sample = std::move(next);
  }

 private:
  [[nodiscard]] double sigma_at(index_t i) const {
    GLUEGEN_CHECK_AS(ValueError, i >= 0 && i + 1 < static_cast<index_t>(steps_.sigmas.size()),
                     "EulerScheduler: step {} of {} (call set_timesteps)", i, steps_.timesteps.size());
    return steps_.sigmas[static_cast<std::size_t>(i)];
  }

  NoiseSchedule schedule_;
  bool ancestral_;
  SigmaSteps steps_;
};

}  // namespace gluegen::diffusion
