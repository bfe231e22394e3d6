#pragma once
// The forward noising process every sampler shares (Ho et al. 2020, eq. 4):
//   x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,   abar_t = prod_{s <= t} (1 - beta_s)
// with diffusers' beta schedules (linear, scaled_linear = SD's, squaredcos_cap_v2 = Nichol & Dhariwal
// 2021 eq. 17), its timestep spacings (leading / trailing / linspace, Lin et al. 2024 table 2) and its
// prediction types (epsilon; v = sqrt(abar) eps - sqrt(1 - abar) x_0, Salimans & Ho 2022; sample).
// The schedule is computed in float32 in diffusers' operation order (torch.linspace, then cumprod), so
// samplers reproduce diffusers' coefficients to the last bit that matters.
#include <gluegen/core/error.hpp>
#include <gluegen/tensor.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <regex>
#include <span>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace gluegen::diffusion {

enum class Prediction { epsilon, v, sample };

/// diffusers' prediction_type string.
[[nodiscard]] inline const char* prediction_type_name(Prediction p) noexcept {
  return p == Prediction::epsilon ? "epsilon" : p == Prediction::v ? "v_prediction" : "sample";
}

/// Parses a diffusers config text. Python's json writes -inf as the bare token -Infinity (DPM-Solver's
/// lambda_min_clipped), which JSON parsers reject; non-finite tokens become null (= "not set").
[[nodiscard]] inline nlohmann::json parse_diffusers_json(const std::string& text) {
  static const std::regex non_finite(R"((:\s*)-?(Infinity|NaN))");
  try {
    return nlohmann::json::parse(std::regex_replace(text, non_finite, "$1null"));
  } catch (const nlohmann::json::exception& e) {
    GLUEGEN_THROW(ValueError, "diffusers config: not valid JSON: {}", e.what());
  }
}

/// The keys of a diffusers scheduler_config.json that gluegen's samplers read. Defaults are each
/// scheduler class's own (see its default_config()); from_json overrides what the file sets.
struct SchedulerConfig {
  index_t num_train_timesteps = 1000;
  double beta_start = 0.0001, beta_end = 0.02;
  std::string beta_schedule = "linear";  ///< linear, scaled_linear, squaredcos_cap_v2
  Prediction prediction = Prediction::epsilon;
  std::string timestep_spacing = "leading";  ///< leading, trailing, linspace
  index_t steps_offset = 0;
  bool clip_sample = true;
  double clip_sample_range = 1.0;
  bool set_alpha_to_one = true;    ///< DDIM / PNDM: abar before the first step is 1 (else abar_0)
  bool use_karras_sigmas = false;  ///< Euler / DPM-Solver: Karras et al. 2022 eq. 5 sigma spacing
  bool final_sigma_zero = true;    ///< final_sigmas_type "zero" (else "sigma_min")
  index_t solver_order = 2;        ///< DPM-Solver++
  bool lower_order_final = true;
  bool euler_at_final = false;

  /// Reads a diffusers scheduler config over `defaults`; options gluegen does not implement are
  /// ValueErrors naming the key, so a sampler never silently differs from the one configured.
  static SchedulerConfig from_json(const nlohmann::json& j, SchedulerConfig c) {
    if (j.is_null()) return from_json(nlohmann::json::object(), c);  // no config: the class defaults
    GLUEGEN_CHECK_AS(ValueError, j.is_object(), "scheduler config: expected a JSON object, got {}", j.dump());
    const auto unsupported = [&](const char* key, const nlohmann::json& ok) {
      GLUEGEN_CHECK_AS(ValueError, !j.contains(key) || j.at(key).is_null() || j.at(key) == ok,
                       "scheduler config: {} = {} is not supported (only {})", key, j.at(key).dump(), ok.dump());
    };
    try {
      c.num_train_timesteps = j.value("num_train_timesteps", c.num_train_timesteps);
      c.beta_start = j.value("beta_start", c.beta_start);
      c.beta_end = j.value("beta_end", c.beta_end);
      c.beta_schedule = j.value("beta_schedule", c.beta_schedule);
      if (j.contains("prediction_type")) {
        const auto p = j.at("prediction_type").get<std::string>();
        GLUEGEN_CHECK_AS(ValueError, p == "epsilon" || p == "v_prediction" || p == "sample",
                         "scheduler config: prediction_type '{}' is not supported (epsilon, v_prediction, sample)", p);
        c.prediction = p == "epsilon" ? Prediction::epsilon : p == "v_prediction" ? Prediction::v : Prediction::sample;
      }
      c.timestep_spacing = j.value("timestep_spacing", c.timestep_spacing);
      c.steps_offset = j.value("steps_offset", c.steps_offset);
      c.clip_sample = j.value("clip_sample", c.clip_sample);
      c.clip_sample_range = j.value("clip_sample_range", c.clip_sample_range);
      c.set_alpha_to_one = j.value("set_alpha_to_one", c.set_alpha_to_one);
      c.use_karras_sigmas = j.value("use_karras_sigmas", c.use_karras_sigmas);
      if (j.contains("final_sigmas_type")) {
        const auto f = j.at("final_sigmas_type").get<std::string>();
        GLUEGEN_CHECK_AS(ValueError, f == "zero" || f == "sigma_min",
                         "scheduler config: final_sigmas_type '{}' is not supported (zero, sigma_min)", f);
        c.final_sigma_zero = f == "zero";
      }
      c.solver_order = j.value("solver_order", c.solver_order);
      c.lower_order_final = j.value("lower_order_final", c.lower_order_final);
      c.euler_at_final = j.value("euler_at_final", c.euler_at_final);
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(ValueError, "scheduler config: malformed: {}", e.what());
    }
    unsupported("trained_betas", nullptr);
    unsupported("thresholding", false);
    unsupported("rescale_betas_zero_snr", false);
    unsupported("use_exponential_sigmas", false);
    unsupported("use_beta_sigmas", false);
    unsupported("use_lu_lambdas", false);
    unsupported("use_flow_sigmas", false);
    unsupported("timestep_type", "discrete");
    unsupported("interpolation_type", "linear");
    unsupported("algorithm_type", "dpmsolver++");
    unsupported("solver_type", "midpoint");
    unsupported("variance_type", "fixed_small");
    GLUEGEN_CHECK_AS(ValueError,
                     !j.contains("lambda_min_clipped") || !j.at("lambda_min_clipped").is_number() ||
                         std::isinf(j.at("lambda_min_clipped").get<double>()),
                     "scheduler config: lambda_min_clipped is not supported (only -inf)");
    GLUEGEN_CHECK_AS(
        ValueError,
        c.beta_schedule == "linear" || c.beta_schedule == "scaled_linear" || c.beta_schedule == "squaredcos_cap_v2",
        "scheduler config: beta_schedule '{}' is not supported (linear, scaled_linear, squaredcos_cap_v2)",
        c.beta_schedule);
    GLUEGEN_CHECK_AS(
        ValueError,
        c.timestep_spacing == "leading" || c.timestep_spacing == "trailing" || c.timestep_spacing == "linspace",
        "scheduler config: timestep_spacing '{}' is not supported (leading, trailing, linspace)", c.timestep_spacing);
    GLUEGEN_CHECK_AS(ValueError, c.num_train_timesteps >= 2, "scheduler config: num_train_timesteps {} must be >= 2",
                     c.num_train_timesteps);
    return c;
  }
};

/// betas and abar_t of a config, in float32 as diffusers computes them.
class NoiseSchedule {
 public:
  explicit NoiseSchedule(const SchedulerConfig& cfg) : cfg_(cfg) {
    const auto n = static_cast<std::size_t>(cfg.num_train_timesteps);
    std::vector<float> betas(n);
    if (cfg.beta_schedule == "squaredcos_cap_v2") {
      // Nichol & Dhariwal 2021, eq. 17: abar(t) = cos((t + s) / (1 + s) * pi / 2)^2, s = 0.008; beta <= 0.999
      const auto abar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * std::numbers::pi / 2), 2); };
      for (std::size_t i = 0; i < n; ++i)
        betas[i] = static_cast<float>(
            std::min(1 - abar(static_cast<double>(i + 1) / n) / abar(static_cast<double>(i) / n), 0.999));
    } else if (cfg.beta_schedule == "scaled_linear") {  // linear in sqrt(beta), then squared
      betas = linspace_f32(std::sqrt(cfg.beta_start), std::sqrt(cfg.beta_end), n);
      for (float& b : betas) b = b * b;
    } else {
      betas = linspace_f32(cfg.beta_start, cfg.beta_end, n);
    }
    alphas_cumprod_.resize(n);
    float prod = 1.0f;
    for (std::size_t i = 0; i < n; ++i) alphas_cumprod_[i] = prod *= 1.0f - betas[i];
    betas_.assign(betas.begin(), betas.end());
  }

  [[nodiscard]] const SchedulerConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] index_t num_train_timesteps() const noexcept { return cfg_.num_train_timesteps; }
  [[nodiscard]] double beta(index_t t) const { return betas_.at(static_cast<std::size_t>(t)); }
  /// abar_t (float32 values, widened).
  [[nodiscard]] double alpha_bar(index_t t) const {
    GLUEGEN_CHECK_AS(ValueError, t >= 0 && t < cfg_.num_train_timesteps,
                     "NoiseSchedule: timestep {} is outside [0, {})", t, cfg_.num_train_timesteps);
    return alphas_cumprod_[static_cast<std::size_t>(t)];
  }
  [[nodiscard]] const std::vector<float>& alphas_cumprod() const noexcept { return alphas_cumprod_; }

  /// `n` inference timesteps, largest first, with the config's spacing and offset (DDPM / DDIM / PNDM).
  [[nodiscard]] std::vector<index_t> spaced_timesteps(index_t n) const {
    const index_t T = cfg_.num_train_timesteps;
    GLUEGEN_CHECK_AS(ValueError, n >= 1 && n <= T, "set_timesteps: {} inference steps for {} training timesteps", n, T);
    std::vector<index_t> ts(static_cast<std::size_t>(n));
    if (cfg_.timestep_spacing == "leading") {
      const index_t ratio = T / n;
      for (index_t i = 0; i < n; ++i) ts[static_cast<std::size_t>(n - 1 - i)] = i * ratio + cfg_.steps_offset;
    } else if (cfg_.timestep_spacing == "trailing") {  // round(arange(T, 0, -T / n)) - 1
      const double ratio = static_cast<double>(T) / static_cast<double>(n);
      for (index_t i = 0; i < n; ++i)
        ts[static_cast<std::size_t>(i)] = static_cast<index_t>(std::nearbyint(static_cast<double>(T) - i * ratio)) - 1;
    } else {  // round(linspace(0, T - 1, n)), reversed
      for (index_t i = 0; i < n; ++i)
        ts[static_cast<std::size_t>(n - 1 - i)] =
            static_cast<index_t>(std::nearbyint(n == 1 ? 0.0 : static_cast<double>(T - 1) * i / (n - 1)));
    }
    return ts;
  }

  /// x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, per sample (timesteps [B]) — DDPM training inputs.
  template <ComputeElement T, TensorPolicy P>
  [[nodiscard]] Tensor<T, P> add_noise(const Tensor<T, P>& x0, const Tensor<T, P>& noise,
                                       std::span<const index_t> timesteps) const {
    return per_sample(x0, noise, timesteps, [&](index_t t) {
      const double a = alpha_bar(t);
      return std::pair{std::sqrt(a), std::sqrt(1 - a)};
    });
  }
  /// v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0 (Salimans & Ho 2022, sec. 4): the v-prediction target.
  template <ComputeElement T, TensorPolicy P>
  [[nodiscard]] Tensor<T, P> velocity(const Tensor<T, P>& x0, const Tensor<T, P>& noise,
                                      std::span<const index_t> timesteps) const {
    return per_sample(x0, noise, timesteps, [&](index_t t) {
      const double a = alpha_bar(t);
      return std::pair{-std::sqrt(1 - a), std::sqrt(a)};
    });
  }

 private:
  /// torch.linspace(start, end, n, dtype=float32) on the CPU: float arithmetic, filled from both ends.
  static std::vector<float> linspace_f32(double start_d, double end_d, std::size_t n) {
    const float start = static_cast<float>(start_d), end = static_cast<float>(end_d);
    const float step = (end - start) / static_cast<float>(n - 1);
    std::vector<float> v(n);
    const std::size_t half = n / 2;
    for (std::size_t i = 0; i < n; ++i)
      v[i] = i < half ? start + step * static_cast<float>(i) : end - step * static_cast<float>(n - i - 1);
    return v;
  }

  template <ComputeElement T, TensorPolicy P, typename Coefs>
  static Tensor<T, P> per_sample(const Tensor<T, P>& a, const Tensor<T, P>& b, std::span<const index_t> timesteps,
                                 Coefs&& coefs) {
    GLUEGEN_CHECK_AS(ShapeError,
                     a.shape() == b.shape() && a.rank() >= 1 && static_cast<index_t>(timesteps.size()) == a.size(0),
                     "NoiseSchedule: x0 {} and noise {} must have one shape, with one timestep per sample ({} given)",
                     a.shape(), b.shape(), timesteps.size());
    Tensor<T, P> out(a.shape());
    for (index_t i = 0; i < a.size(0); ++i) {
      const auto [ca, cb] = coefs(timesteps[static_cast<std::size_t>(i)]);
      Tensor<T, P> row = out.slice(i, i + 1);
      ops::scale(a.slice(i, i + 1), T(ca), row);
      ops::axpy(T(cb), b.slice(i, i + 1), row);
    }
    return out;
  }

  SchedulerConfig cfg_;
  std::vector<double> betas_;
  std::vector<float> alphas_cumprod_;
};

/// out = sum_i coef_i * x_i (a new tensor; the samplers' updates are all such combinations).
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> lincomb(std::initializer_list<std::pair<double, const Tensor<T, P>*>> terms) {
  Tensor<T, P> out;
  bool first = true;
  for (const auto& [coef, x] : terms) {
    if (first)
      ops::scale(*x, T(coef), out);
    else
      ops::axpy(T(coef), *x, out);
    first = false;
  }
  return out;
}

/// x0 and eps implied by a model output at abar (Ho et al. 2020 eq. 15; v: Salimans & Ho 2022 eq. 9):
///   epsilon: x0 = (x - sqrt(1 - abar) out) / sqrt(abar)      v: x0 = sqrt(abar) x - sqrt(1 - abar) out
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> predict_original(Prediction p, const Tensor<T, P>& out, const Tensor<T, P>& x, double abar) {
  const double a = std::sqrt(abar), b = std::sqrt(1 - abar);
  switch (p) {
    case Prediction::epsilon:
      return lincomb<T, P>({{1 / a, &x}, {-b / a, &out}});
    case Prediction::v:
      return lincomb<T, P>({{a, &x}, {-b, &out}});
    case Prediction::sample:
      break;
  }
  return out.clone();
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> predict_noise(Prediction p, const Tensor<T, P>& out, const Tensor<T, P>& x, double abar) {
  const double a = std::sqrt(abar), b = std::sqrt(1 - abar);
  switch (p) {
    case Prediction::epsilon:
      break;
    case Prediction::v:
      return lincomb<T, P>({{a, &out}, {b, &x}});
    case Prediction::sample:
      return lincomb<T, P>({{1 / b, &x}, {-a / b, &out}});
  }
  return out.clone();
}

}  // namespace gluegen::diffusion
