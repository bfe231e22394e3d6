#pragma once
// The sampler interface every scheduler satisfies (a concept, checked at compile time), and
// AnyScheduler: one of them chosen at run time by diffusers class name and config (a command line's
// --scheduler, a scheduler_config.json), dispatched through std::variant (no virtual calls).
#include <gluegen/diffusion/ddim.hpp>
#include <gluegen/diffusion/ddpm.hpp>
#include <gluegen/diffusion/dpm_solver.hpp>
#include <gluegen/diffusion/euler.hpp>
#include <gluegen/diffusion/pndm.hpp>

#include <concepts>
#include <variant>

namespace gluegen::diffusion {

/// A sampler: timesteps for n steps, the initial noise scale, the model-input scaling, and a step
/// that replaces `sample` with the next one (noise: fresh N(0, I) when stochastic(), else unused).
template <typename S, typename T = float, typename P = Cpu>
concept Scheduler = requires(S& s, const S& cs, index_t n, const Tensor<T, P>& x, Tensor<T, P>& sample) {
  s.set_timesteps(n);
  { cs.timesteps() } -> std::convertible_to<const std::vector<double>&>;
  { cs.init_noise_sigma() } -> std::convertible_to<double>;
  { cs.stochastic() } -> std::convertible_to<bool>;
  { cs.scale_model_input(x, n) } -> std::convertible_to<Tensor<T, P>>;
  s.step(x, n, sample, &x);
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class AnyScheduler {
 public:
  using Variant = std::variant<DdpmScheduler<T, P>, DdimScheduler<T, P>, PndmScheduler<T, P>, EulerScheduler<T, P>,
                               DpmSolverScheduler<T, P>>;

  template <typename S>
    requires Scheduler<S, T, P>
  AnyScheduler(S s, std::string name) : s_(std::move(s)), name_(std::move(name)) {}

  /// By diffusers class name (DDPMScheduler, DDIMScheduler, PNDMScheduler, EulerDiscreteScheduler,
  /// EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler) and its config JSON; `eta` is DDIM's.
  static AnyScheduler from_config(const std::string& class_name, const nlohmann::json& config, double eta = 0.0) {
    const auto cfg = [&](SchedulerConfig defaults) { return SchedulerConfig::from_json(config, defaults); };
    if (class_name == "DDPMScheduler")
      return {DdpmScheduler<T, P>(cfg(DdpmScheduler<T, P>::default_config())), class_name};
    if (class_name == "DDIMScheduler")
      return {DdimScheduler<T, P>(cfg(DdimScheduler<T, P>::default_config()), eta), class_name};
    if (class_name == "PNDMScheduler") {
      GLUEGEN_CHECK_AS(ValueError, config.value("skip_prk_steps", false),
                       "PNDMScheduler: only skip_prk_steps = true (PLMS, Stable Diffusion's setting) is supported");
      return {PndmScheduler<T, P>(cfg(PndmScheduler<T, P>::default_config())), class_name};
    }
    if (class_name == "EulerDiscreteScheduler")
      return {EulerScheduler<T, P>(cfg(EulerScheduler<T, P>::default_config())), class_name};
    if (class_name == "EulerAncestralDiscreteScheduler")
      return {EulerScheduler<T, P>(cfg(EulerScheduler<T, P>::default_config()), true), class_name};
    if (class_name == "DPMSolverMultistepScheduler")
      return {DpmSolverScheduler<T, P>(cfg(DpmSolverScheduler<T, P>::default_config())), class_name};
    GLUEGEN_THROW(ValueError,
                  "unknown scheduler '{}' (DDPMScheduler, DDIMScheduler, PNDMScheduler, EulerDiscreteScheduler, "
                  "EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler)",
                  class_name);
  }

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void set_timesteps(index_t n) {
    std::visit([&](auto& s) { s.set_timesteps(n); }, s_);
  }
  [[nodiscard]] const std::vector<double>& timesteps() const {
    return std::visit([](const auto& s) -> const std::vector<double>& { return s.timesteps(); }, s_);
  }
  [[nodiscard]] double init_noise_sigma() const {
    return std::visit([](const auto& s) { return s.init_noise_sigma(); }, s_);
  }
  [[nodiscard]] bool stochastic() const {
    return std::visit([](const auto& s) { return static_cast<bool>(s.stochastic()); }, s_);
  }
  [[nodiscard]] Tensor<T, P> scale_model_input(const Tensor<T, P>& x, index_t i) const {
    return std::visit([&](const auto& s) { return Tensor<T, P>(s.scale_model_input(x, i)); }, s_);
  }
  void step(const Tensor<T, P>& model_output, index_t i, Tensor<T, P>& sample, const Tensor<T, P>* noise) {
    std::visit([&](auto& s) { s.step(model_output, i, sample, noise); }, s_);
  }
  [[nodiscard]] const NoiseSchedule& schedule() const {
    return std::visit([](const auto& s) -> const NoiseSchedule& { return s.schedule(); }, s_);
  }

 private:
  Variant s_;
  std::string name_;
};

static_assert(Scheduler<DdpmScheduler<>> && Scheduler<DdimScheduler<>> && Scheduler<PndmScheduler<>> &&
              Scheduler<EulerScheduler<>> && Scheduler<DpmSolverScheduler<>> && Scheduler<AnyScheduler<>>);

}  // namespace gluegen::diffusion
