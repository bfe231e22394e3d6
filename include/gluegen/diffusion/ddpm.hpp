#pragma once
// DDPM ancestral sampling (Ho et al. 2020, Alg. 2 / eq. 6-7) on a spaced subset of the training
// timesteps, as diffusers' DDPMScheduler with variance_type "fixed_small":
//   x_{t'} = c0 x0_hat + c1 x_t + sigma z,   c0 = sqrt(abar_t') beta_t / (1 - abar_t),
//   c1 = sqrt(alpha_t) (1 - abar_t') / (1 - abar_t),  sigma^2 = (1 - abar_t') / (1 - abar_t) beta_t,
// with alpha_t = abar_t / abar_t' and beta_t = 1 - alpha_t for the jump t -> t'. Training uses the
// schedule's add_noise / velocity.
#include <gluegen/diffusion/noise_schedule.hpp>

namespace gluegen::diffusion {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class DdpmScheduler {
 public:
  static SchedulerConfig default_config() { return {}; }  // linear 1e-4..0.02, clip_sample, leading
  explicit DdpmScheduler(const SchedulerConfig& cfg = default_config()) : schedule_(cfg) {}

  [[nodiscard]] const NoiseSchedule& schedule() const noexcept { return schedule_; }
  void set_timesteps(index_t n) {
    const auto ts = schedule_.spaced_timesteps(n);
    steps_ = ts;
    timesteps_.assign(ts.begin(), ts.end());
  }
  [[nodiscard]] const std::vector<double>& timesteps() const noexcept { return timesteps_; }
  [[nodiscard]] double init_noise_sigma() const noexcept { return 1.0; }
  [[nodiscard]] static constexpr bool stochastic() noexcept { return true; }
  [[nodiscard]] Tensor<T, P> scale_model_input(const Tensor<T, P>& sample, index_t) const { return sample; }

  /// sample <- x_{t'} from the model output at step i; noise [like sample] is z (unused at t = 0).
  void step(const Tensor<T, P>& model_output, index_t i, Tensor<T, P>& sample, const Tensor<T, P>* noise) {
    GLUEGEN_CHECK_AS(ValueError, i >= 0 && i < static_cast<index_t>(steps_.size()),
                     "DdpmScheduler::step: step {} of {} (call set_timesteps)", i, steps_.size());
    const index_t t = steps_[static_cast<std::size_t>(i)];
    const index_t prev = i + 1 < static_cast<index_t>(steps_.size()) ? steps_[static_cast<std::size_t>(i + 1)] : -1;
    const double a_t = schedule_.alpha_bar(t), a_prev = prev >= 0 ? schedule_.alpha_bar(prev) : 1.0;
    const double alpha = a_t / a_prev, beta = 1 - alpha;
    const auto& cfg = schedule_.config();
    Tensor<T, P> x0 = predict_original(cfg.prediction, model_output, sample, a_t);
    if (cfg.clip_sample) ops::clamp(x0, T(-cfg.clip_sample_range), T(cfg.clip_sample_range), x0);
    Tensor<T, P> next = lincomb<T, P>(
        {{std::sqrt(a_prev) * beta / (1 - a_t), &x0}, {std::sqrt(alpha) * (1 - a_prev) / (1 - a_t), &sample}});
    if (t > 0) {
      GLUEGEN_CHECK_AS(ValueError, noise && noise->shape() == sample.shape(),
                       "DdpmScheduler::step: needs noise of shape {}", sample.shape());
      const double variance = std::max((1 - a_prev) / (1 - a_t) * beta, 1e-20);
      ops::axpy(T(std::sqrt(variance)), *noise, next);
    }
    sample = std::move(next);
  }

 private:
  NoiseSchedule schedule_;
  std::vector<index_t> steps_;
  std::vector<double> timesteps_;
};

}  // namespace gluegen::diffusion
