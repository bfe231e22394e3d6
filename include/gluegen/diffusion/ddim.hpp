#pragma once
// DDIM (Song et al. 2021, eq. 12), as diffusers' DDIMScheduler:
//   x_{t'} = sqrt(abar_t') x0_hat + sqrt(1 - abar_t' - s^2) eps_hat + s z,
//   s = eta sqrt((1 - abar_t') / (1 - abar_t)) sqrt(1 - abar_t / abar_t'),   t' = t - T / n.
// eta = 0 is the deterministic sampler; eta = 1 matches DDPM's variance.
#include <gluegen/diffusion/noise_schedule.hpp>

namespace gluegen::diffusion {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class DdimScheduler {
 public:
  static SchedulerConfig default_config() { return {}; }  // linear, clip_sample, set_alpha_to_one, leading
  explicit DdimScheduler(const SchedulerConfig& cfg = default_config(), double eta = 0.0) : schedule_(cfg), eta_(eta) {
    GLUEGEN_CHECK_AS(ValueError, eta >= 0, "DdimScheduler: eta {} must be >= 0", eta);
  }

  [[nodiscard]] const NoiseSchedule& schedule() const noexcept { return schedule_; }
  void set_timesteps(index_t n) {
    steps_ = schedule_.spaced_timesteps(n);
    timesteps_.assign(steps_.begin(), steps_.end());
    n_ = n;
  }
  [[nodiscard]] const std::vector<double>& timesteps() const noexcept { return timesteps_; }
  [[nodiscard]] double init_noise_sigma() const noexcept { return 1.0; }
  [[nodiscard]] bool stochastic() const noexcept { return eta_ > 0; }
  [[nodiscard]] Tensor<T, P> scale_model_input(const Tensor<T, P>& sample, index_t) const { return sample; }

  void step(const Tensor<T, P>& model_output, index_t i, Tensor<T, P>& sample, const Tensor<T, P>* noise) {
    GLUEGEN_CHECK_AS(ValueError, i >= 0 && i < static_cast<index_t>(steps_.size()),
                     "DdimScheduler::step: step {} of {} (call set_timesteps)", i, steps_.size());
    const auto& cfg = schedule_.config();
    const index_t t = steps_[static_cast<std::size_t>(i)], prev = t - cfg.num_train_timesteps / n_;
    const double a_t = schedule_.alpha_bar(t);
    const double a_prev = prev >= 0 ? schedule_.alpha_bar(prev) : (cfg.set_alpha_to_one ? 1.0 : schedule_.alpha_bar(0));
    Tensor<T, P> x0 = predict_original(cfg.prediction, model_output, sample, a_t);
    const Tensor<T, P> eps = predict_noise(cfg.prediction, model_output, sample, a_t);
    if (cfg.clip_sample) ops::clamp(x0, T(-cfg.clip_sample_range), T(cfg.clip_sample_range), x0);
    const double variance = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev), sigma = eta_ * std::sqrt(variance);
    Tensor<T, P> next =
        lincomb<T, P>({{std::sqrt(a_prev), &x0}, {std::sqrt(std::max(1 - a_prev - sigma * sigma, 0.0)), &eps}});
    if (eta_ > 0) {
      GLUEGEN_CHECK_AS(ValueError, noise && noise->shape() == sample.shape(),
                       "DdimScheduler::step: eta > 0 needs noise of shape {}", sample.shape());
      ops::axpy(T(sigma), *noise, next);
    }
    sample = std::move(next);
  }

 private:
  NoiseSchedule schedule_;
  double eta_;
  index_t n_ = 0;
  std::vector<index_t> steps_;
  std::vector<double> timesteps_;
};

}  // namespace gluegen::diffusion
