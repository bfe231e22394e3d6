#pragma once
// PLMS, the pseudo linear multi-step sampler (Liu et al. 2022, eq. 12 with the transfer part eq. 11),
// as diffusers' PNDMScheduler with skip_prk_steps (Stable Diffusion's setting): a 4th-order
// Adams-Bashforth combination of the last model outputs, warmed up by one second-order step that
// evaluates the model twice at the first timestep (hence n + 1 timesteps for n steps).
#include <gluegen/diffusion/noise_schedule.hpp>

#include <deque>
#include <optional>

namespace gluegen::diffusion {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class PndmScheduler {
 public:
  static SchedulerConfig default_config() {
    SchedulerConfig c;
    c.set_alpha_to_one = false;
    return c;
  }
  explicit PndmScheduler(const SchedulerConfig& cfg = default_config()) : schedule_(cfg) {}

  [[nodiscard]] const NoiseSchedule& schedule() const noexcept { return schedule_; }
  void set_timesteps(index_t n) {
    std::vector<index_t> d = schedule_.spaced_timesteps(n);  // descending
    steps_.clear();
    steps_.push_back(d.front());
    if (n > 1) steps_.push_back(d[1]);  // the warm-up repeats the second timestep
    steps_.insert(steps_.end(), d.begin() + 1, d.end());
    timesteps_.assign(steps_.begin(), steps_.end());
    ratio_ = schedule_.config().num_train_timesteps / n;
    ets_.clear();
    cur_sample_.reset();
    counter_ = 0;
  }
  [[nodiscard]] const std::vector<double>& timesteps() const noexcept { return timesteps_; }
  [[nodiscard]] double init_noise_sigma() const noexcept { return 1.0; }
  [[nodiscard]] static constexpr bool stochastic() noexcept { return false; }
  [[nodiscard]] Tensor<T, P> scale_model_input(const Tensor<T, P>& sample, index_t) const { return sample; }

  void step(const Tensor<T, P>& model_output, index_t i, Tensor<T, P>& sample, const Tensor<T, P>* /*noise*/) {
    GLUEGEN_CHECK_AS(ValueError, i == counter_ && i < static_cast<index_t>(steps_.size()),
                     "PndmScheduler::step: steps must run in order 0..{} (got {}, expected {}; call set_timesteps)",
                     steps_.size() - 1, i, counter_);
    index_t t = steps_[static_cast<std::size_t>(i)], prev = t - ratio_;
    if (counter_ != 1) {
      if (ets_.size() > 3) ets_.pop_front();
      ets_.push_back(model_output.clone());
    } else {  // the warm-up's second evaluation: step from the first timestep again
      prev = t;
      t = t + ratio_;
    }
    Tensor<T, P> combined;
    const Tensor<T, P>* x = &sample;
    const auto n = ets_.size();
    if (n == 1 && counter_ == 0) {
      combined = model_output;
      cur_sample_ = sample.clone();
    } else if (n == 1 && counter_ == 1) {
      combined = lincomb<T, P>({{0.5, &model_output}, {0.5, &ets_.back()}});
      x = &*cur_sample_;
    } else if (n == 2) {
      combined = lincomb<T, P>({{1.5, &ets_[1]}, {-0.5, &ets_[0]}});
    } else if (n == 3) {
      combined = lincomb<T, P>({{23.0 / 12, &ets_[2]}, {-16.0 / 12, &ets_[1]}, {5.0 / 12, &ets_[0]}});
    } else {
      combined =
          lincomb<T, P>({{55.0 / 24, &ets_[3]}, {-59.0 / 24, &ets_[2]}, {37.0 / 24, &ets_[1]}, {-9.0 / 24, &ets_[0]}});
    }
    Tensor<T, P> next = previous_sample(*x, t, prev, combined);
    if (n == 1 && counter_ == 1) cur_sample_.reset();
    sample = std::move(next);
    ++counter_;
  }

 private:
  /// Liu et al. 2022 eq. 11 (the transfer part phi), in diffusers' arrangement.
  Tensor<T, P> previous_sample(const Tensor<T, P>& x, index_t t, index_t prev, const Tensor<T, P>& out) const {
    const auto& cfg = schedule_.config();
    const double a_t = schedule_.alpha_bar(t),
                 a_prev = prev >= 0 ? schedule_.alpha_bar(prev) : (cfg.set_alpha_to_one ? 1.0 : schedule_.alpha_bar(0));
    const double b_t = 1 - a_t, b_prev = 1 - a_prev;
    GLUEGEN_CHECK_AS(ValueError, cfg.prediction != Prediction::sample,
                     "PndmScheduler: prediction_type 'sample' is not supported (epsilon, v_prediction)");
    Tensor<T, P> eps =
        cfg.prediction == Prediction::v ? lincomb<T, P>({{std::sqrt(a_t), &out}, {std::sqrt(b_t), &x}}) : out;
    const double denom = a_t * std::sqrt(b_prev) + std::sqrt(a_t * b_t * a_prev);
    return lincomb<T, P>({{std::sqrt(a_prev / a_t), &x}, {-(a_prev - a_t) / denom, &eps}});
  }

  NoiseSchedule schedule_;
  index_t ratio_ = 0, counter_ = 0;
  std::vector<index_t> steps_;
  std::vector<double> timesteps_;
  std::deque<Tensor<T, P>> ets_;
  std::optional<Tensor<T, P>> cur_sample_;
};

}  // namespace gluegen::diffusion
