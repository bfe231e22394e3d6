#pragma once
// Diffusion models from gluegen HDF5 files written by tools/convert_diffusers.py (or by gluegen's own
// training): root attribute model_type "diffusers.UNet2DConditionModel" / "diffusers.AutoencoderKL",
// config = the diffusers config.json, one dataset per parameter under diffusers' state_dict names.
#include <gluegen/diffusion/unet.hpp>
#include <gluegen/diffusion/vae.hpp>

namespace gluegen::diffusion {

inline constexpr const char* kUNetModelType = "diffusers.UNet2DConditionModel";
inline constexpr const char* kVaeModelType = "diffusers.AutoencoderKL";

namespace detail {
inline void require_model_type(const io::WeightReader& in, const char* expected) {
  GLUEGEN_CHECK_AS(IoError, in.meta().model_type == expected, "'{}' holds a '{}' model, expected '{}'", in.path().string(),
                   in.meta().model_type.empty() ? std::string("(no model_type)") : in.meta().model_type, expected);
}
}  // namespace detail

/// The UNet of a converted diffusers folder; every parameter must be present with its shape.
template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] UNet2DCondition<T, P> load_unet(const io::WeightReader& in) {
  detail::require_model_type(in, kUNetModelType);
  UNet2DCondition<T, P> unet(UNet2DConditionConfig::from_json(in.meta().config));
  nn::load_parameters(unet, in);
  return unet;
}

template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] AutoencoderKL<T, P> load_vae(const io::WeightReader& in) {
  detail::require_model_type(in, kVaeModelType);
  AutoencoderKL<T, P> vae(AutoencoderKLConfig::from_json(in.meta().config));
  nn::load_parameters(vae, in);
  return vae;
}

/// Writes a UNet with its diffusers config in the same layout, atomically (a model gluegen trained
/// loads back unchanged).
template <ComputeElement T, TensorPolicy P>
void save_unet(UNet2DCondition<T, P>& unet, const nlohmann::json& diffusers_config, const std::filesystem::path& path,
               std::optional<DType> storage = std::nullopt) {
  io::WeightWriter out(path, {.model_type = kUNetModelType, .config = diffusers_config});
  nn::save_parameters(unet, out, "", storage);
  out.commit();
}

}  // namespace gluegen::diffusion
