#pragma once
// Diffusion models from gluegen HDF5 files written by tools/convert_diffusers.py (or by gluegen's own
// training): root attribute model_type "diffusers.UNet2DConditionModel" / "diffusers.AutoencoderKL",
// config = the diffusers config.json, one dataset per parameter under diffusers' state_dict names.
// A decoder file also records what sampling it needs: the dataset `scheduler_config` holds the
// scheduler_config.json keys of the noise schedule it was trained on and of its prediction target
// (epsilon / v / x0), so a sampler is configured from the file rather than from the caller's guess.
#include <gluegen/core/json_config.hpp>
#include <gluegen/diffusion/noise_schedule.hpp>
#include <gluegen/diffusion/unet.hpp>
#include <gluegen/diffusion/vae.hpp>
#include <gluegen/io/parameters.hpp>

namespace gluegen::diffusion {

inline constexpr const char* kUNetModelType = "diffusers.UNet2DConditionModel";
inline constexpr const char* kVaeModelType = "diffusers.AutoencoderKL";
inline constexpr const char* kSchedulerConfigDataset = "scheduler_config";

/// The noise schedule gluegen's decoder trainer uses: DDPM's 1000 linear betas 1e-4 .. 0.02 (Ho et al.
/// 2020, sec. 4), no clipping of the predicted sample (pixel-space decoders here, latents elsewhere).
[[nodiscard]] inline SchedulerConfig training_noise(Prediction prediction = Prediction::epsilon) {
  SchedulerConfig c;
  c.prediction = prediction;
  c.clip_sample = false;
  return c;
}

/// The scheduler_config.json keys that define a trained model's noise schedule and target; a
/// sampler reads them over its class defaults (AnyScheduler::from_config).
[[nodiscard]] inline nlohmann::json scheduler_record(const SchedulerConfig& c) {
  return {{"num_train_timesteps", c.num_train_timesteps},
          {"beta_start", c.beta_start},
          {"beta_end", c.beta_end},
          {"beta_schedule", c.beta_schedule},
          {"prediction_type", prediction_type_name(c.prediction)},
          {"clip_sample", c.clip_sample}};
}

inline void write_scheduler_record(io::WeightWriter& out, const SchedulerConfig& c) {
  out.write_strings(kSchedulerConfigDataset, {scheduler_record(c).dump()});
}

/// What a decoder file says its sampler needs. `recorded` is false for files written before the
/// record existed; those were all trained with training_noise() (epsilon), which is then returned.
struct SchedulerRecord {
  nlohmann::json config;
  bool recorded = false;
};

[[nodiscard]] inline SchedulerRecord read_scheduler_record(const io::WeightReader& in) {
  if (!in.contains(kSchedulerConfigDataset)) return {scheduler_record(training_noise()), false};
  const auto text = in.read_strings(kSchedulerConfigDataset);
  GLUEGEN_CHECK_AS(IoError, text.size() == 1, "'{}': dataset '{}' must hold one JSON text, it holds {}",
                   in.path().string(), kSchedulerConfigDataset, text.size());
  nlohmann::json j = nlohmann::json::parse(text.front(), nullptr, false);
  GLUEGEN_CHECK_AS(IoError, j.is_object(), "'{}': dataset '{}' is not a JSON object: {}", in.path().string(),
                   kSchedulerConfigDataset, text.front());
  (void)SchedulerConfig::from_json(j, {});  // unsupported keys fail here, naming the key
  return {std::move(j), true};
}

namespace detail {
inline void require_model_type(const io::WeightReader& in, const char* expected) {
  GLUEGEN_CHECK_AS(IoError, in.meta().model_type == expected, "'{}' holds a '{}' model, expected '{}'",
                   in.path().string(),
                   in.meta().model_type.empty() ? std::string("(no model_type)") : in.meta().model_type, expected);
}
}  // namespace detail

/// The UNet of a converted diffusers folder; every parameter must be present with its shape.
template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] UNet2DCondition<T, P> load_unet(const io::WeightReader& in) {
  detail::require_model_type(in, kUNetModelType);
  UNet2DCondition<T, P> unet(config_from_json<UNet2DConditionConfig>(in.meta().config, in.path().string()));
  io::load_parameters(unet, in);
  return unet;
}

template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] AutoencoderKL<T, P> load_vae(const io::WeightReader& in) {
  detail::require_model_type(in, kVaeModelType);
  AutoencoderKL<T, P> vae(config_from_json<AutoencoderKLConfig>(in.meta().config, in.path().string()));
  io::load_parameters(vae, in);
  return vae;
}

/// Writes a UNet with its diffusers config in the same layout and the noise schedule it samples with,
/// atomically (a model gluegen trained loads back unchanged).
template <ComputeElement T, TensorPolicy P>
void save_unet(UNet2DCondition<T, P>& unet, const nlohmann::json& diffusers_config, const std::filesystem::path& path,
               const SchedulerConfig& noise, std::optional<DType> storage = std::nullopt) {
  io::WeightWriter out(path, {.model_type = kUNetModelType, .config = diffusers_config});
  io::save_parameters(unet, out, "", storage);
  write_scheduler_record(out, noise);
  out.commit();
}

}  // namespace gluegen::diffusion
