#pragma once
// DPM-Solver++(2M) (Lu et al. 2022b, Alg. 2: multistep, data prediction, midpoint second-order term),
// as diffusers' DPMSolverMultistepScheduler with algorithm_type "dpmsolver++". In half-log-SNR time
// lambda = log(alpha / sigma), with alpha_t = 1 / sqrt(sigma^2 + 1) and sigma_t = sigma alpha_t for
// the sampler's sigma, and x0_hat the data prediction at each step:
//   first order   x' = (sigma_t' / sigma_t) x - alpha_t' (e^{-h} - 1) D0,                h = lambda' - lambda
//   second order  x' = (sigma_t' / sigma_t) x - alpha_t' (e^{-h} - 1) (D0 + D1 / 2),     D1 = (D0 - D_prev) h / h_prev
// The first step is first order (no history), and so is the last (lower_order_final, or a final sigma
// of zero); with fewer than 15 steps the second-to-last step is also kept at order <= 2.
#include <gluegen/diffusion/sigmas.hpp>

#include <optional>

namespace gluegen::diffusion {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class DpmSolverScheduler {
 public:
  static SchedulerConfig default_config() {
    SchedulerConfig c;
    c.timestep_spacing = "linspace";
    c.clip_sample = false;
    return c;
  }
  explicit DpmSolverScheduler(const SchedulerConfig& cfg = default_config()) : schedule_(cfg) {
    GLUEGEN_CHECK_AS(ValueError, cfg.solver_order == 1 || cfg.solver_order == 2,
                     "DpmSolverScheduler: solver_order {} is not supported (1 or 2)", cfg.solver_order);
  }

  [[nodiscard]] const NoiseSchedule& schedule() const noexcept { return schedule_; }

  void set_timesteps(index_t n) {
    const auto& cfg = schedule_.config();
    const index_t train_steps = cfg.num_train_timesteps;
    GLUEGEN_CHECK_AS(ValueError, n >= 1 && n <= train_steps,
                     "set_timesteps: {} inference steps for {} training timesteps", n, train_steps);
    // diffusers spaces n + 1 points and drops the last (t = 0) for linspace and leading
    std::vector<double> ts;
    if (cfg.timestep_spacing == "linspace") {
      for (index_t i = n; i >= 1; --i)
        ts.push_back(
            std::nearbyint(static_cast<double>(train_steps - 1) * static_cast<double>(i) / static_cast<double>(n)));
    } else if (cfg.timestep_spacing == "leading") {
      const index_t ratio = train_steps / (n + 1);
      for (index_t i = n; i >= 1; --i) ts.push_back(static_cast<double>(i * ratio + cfg.steps_offset));
    } else {
      for (const index_t t : schedule_.spaced_timesteps(n)) ts.push_back(static_cast<double>(t));
    }
    const std::vector<float> train = training_sigmas(schedule_);
    sigmas_.clear();
    if (cfg.use_karras_sigmas) {  // over the whole training range, then back to (rounded) timesteps
      sigmas_ = karras_sigmas(train.back(), train.front(), n);
      for (std::size_t i = 0; i < ts.size(); ++i) {
        const double t = sigma_to_timestep(sigmas_[i], train);
        ts[i] = cfg.beta_schedule == "squaredcos_cap_v2" ? t : std::nearbyint(t);
      }
    } else {
      for (const double t : ts) sigmas_.push_back(interpolate_sigma(train, t));
    }
    sigmas_.push_back(cfg.final_sigma_zero ? 0.0 : static_cast<double>(train.front()));
    for (double& s : sigmas_) s = static_cast<float>(s);
    timesteps_.clear();  // int64 in diffusers: a fractional Karras timestep is truncated
    for (const double t : ts) timesteps_.push_back(std::trunc(t));
    history_.reset();
    lower_order_nums_ = 0;
  }
  [[nodiscard]] const std::vector<double>& timesteps() const noexcept { return timesteps_; }
  [[nodiscard]] const std::vector<double>& sigmas() const noexcept { return sigmas_; }
  [[nodiscard]] double init_noise_sigma() const noexcept { return 1.0; }
  [[nodiscard]] static constexpr bool stochastic() noexcept { return false; }
  [[nodiscard]] Tensor<T, P> scale_model_input(const Tensor<T, P>& sample, index_t) const { return sample; }

  void step(const Tensor<T, P>& model_output, index_t i, Tensor<T, P>& sample, const Tensor<T, P>* /*noise*/) {
    const auto n = static_cast<index_t>(timesteps_.size());
    GLUEGEN_CHECK_AS(ValueError, i >= 0 && i < n, "DpmSolverScheduler::step: step {} of {} (call set_timesteps)", i, n);
    const auto& cfg = schedule_.config();
    const bool final_first_order =
        i == n - 1 && (cfg.euler_at_final || (cfg.lower_order_final && n < 15) || cfg.final_sigma_zero);
    const auto [alpha_s, sigma_s] = alpha_sigma(sigmas_[static_cast<std::size_t>(i)]);
    Tensor<T, P> x0;  // the data prediction D0
    switch (cfg.prediction) {
      case Prediction::epsilon:
        x0 = lincomb<T, P>({{1 / alpha_s, &sample}, {-sigma_s / alpha_s, &model_output}});
        break;
      case Prediction::v:
        x0 = lincomb<T, P>({{alpha_s, &sample}, {-sigma_s, &model_output}});
        break;
      case Prediction::sample:
        x0 = model_output.clone();
        break;
    }
    const double sigma_next = sigmas_[static_cast<std::size_t>(i + 1)];
    Tensor<T, P> next;
    if (sigma_next == 0) {
      next = x0;  // sigma_t' = 0: alpha_t' = 1, e^{-h} = 0, x' = x0_hat
    } else {
      const auto [alpha_t, sigma_t] = alpha_sigma(sigma_next);
      const double h = lambda(alpha_t, sigma_t) - lambda(alpha_s, sigma_s), em1 = std::expm1(-h);
      if (cfg.solver_order == 1 || lower_order_nums_ < 1 || final_first_order) {
        next = lincomb<T, P>({{sigma_t / sigma_s, &sample}, {-alpha_t * em1, &x0}});
      } else {
        const auto [alpha_p, sigma_p] = alpha_sigma(sigmas_[static_cast<std::size_t>(i - 1)]);
        const double h_prev = lambda(alpha_s, sigma_s) - lambda(alpha_p, sigma_p), inv_r = h / h_prev;
        // D0 + D1 / 2 with D1 = (D0 - D_prev) / r0
        next = lincomb<T, P>({{sigma_t / sigma_s, &sample},
                              {-alpha_t * em1 * (1 + 0.5 * inv_r), &x0},
                              {alpha_t * em1 * 0.5 * inv_r, &*history_}});
      }
    }
    history_ = std::move(x0);
    if (lower_order_nums_ < cfg.solver_order) ++lower_order_nums_;
    sample = std::move(next);
  }

 private:
  static std::pair<double, double> alpha_sigma(double sigma) {
    const double alpha = 1 / std::sqrt(sigma * sigma + 1);
    return {alpha, sigma * alpha};
  }
  static double lambda(double alpha, double sigma) { return std::log(alpha) - std::log(sigma); }

  NoiseSchedule schedule_;
  std::vector<double> timesteps_, sigmas_;
  std::optional<Tensor<T, P>> history_;
  index_t lower_order_nums_ = 0;
};

}  // namespace gluegen::diffusion
