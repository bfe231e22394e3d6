#pragma once
// LaVi-Bridge's released checkpoints (an adapter/ folder, lora_vis.pt, lora_text.pt), as
// tools/convert_lavi_bridge.py converts them into one HDF5 file:
//   model_type gluegen.lavi_bridge
//   config     {adapter: {in_dim, int_dim, out_dim, mult}, rank, scale, unet_lora_targets,
//               text_encoder_lora_targets, text_encoder, unet_lora_modules, text_encoder_lora_modules}
//   datasets   adapter.<TextAdapter name>, unet.<diffusers layer>.lora_{A,B}.weight,
//              text_encoder.<T5EncoderModel layer>.lora_{A,B}.weight
// LaVi-Bridge's files are unnamed lists in its module walk's order; the converter names every pair
// after the layer it adapts, so here the adapters are injected by name (UNet2DCondition::add_lora
// with the file's targets, T5Encoder::add_lora) and the file must hold exactly the injected set.
// train::LaviBridgeLmUNet exports the same layout from a T5 (exactly the converter's names) or a
// BERT-family language model (text_encoder = its model_type, datasets text_encoder.<BertEncoder layer>...).
// Its LoRA scale is 1 (no alpha / r): alpha = scale * rank. It sits with the pipeline, above the
// aligners, the decoder and the encoders whose LoRA it holds.
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/diffusion/unet.hpp>
#include <gluegen/encoders/bert.hpp>
#include <gluegen/encoders/t5.hpp>

#include <algorithm>
#include <set>

namespace gluegen {

/// The LoRA half of a gluegen.lavi_bridge file's config (the adapter's: load_lavi_bridge_adapter).
struct LaviBridgeFile {
  nn::LoraOptions lora;  ///< rank, and alpha = scale * rank
  diffusion::UNetLoraTargets unet_targets;
  bool text_encoder_lora = false;  ///< LoRA for the language model's self-attention
  std::string text_encoder;        ///< its family: "t5", or a BERT-family model_type
  index_t unet_lora_layers = 0, text_encoder_lora_layers = 0;

  static LaviBridgeFile read(const io::WeightReader& in) {
    aligners::detail::expect_model_type(in, aligners::kLaviBridgeModelType);
    LaviBridgeFile f;
    const auto rank = aligners::detail::config_value<index_t>(in, "rank");
    f.lora = {.rank = rank, .alpha = aligners::detail::config_value<double>(in, "scale") * static_cast<double>(rank)};
    const auto targets = aligners::detail::config_value<std::vector<std::string>>(in, "unet_lora_targets");
    const auto has = [&](std::string_view t) { return std::ranges::find(targets, t) != targets.end(); };
    f.unet_targets = {.attention = has("Attention"), .feed_forward = has("GEGLU"), .resnets = has("ResnetBlock2D")};
    for (const auto& t : targets)
      GLUEGEN_CHECK_AS(ValueError, t == "Attention" || t == "GEGLU" || t == "ResnetBlock2D",
                       "'{}': unknown UNet LoRA target '{}' (known: Attention, GEGLU, ResnetBlock2D)",
                       in.path().string(), t);
    f.text_encoder_lora =
        !aligners::detail::config_value<std::vector<std::string>>(in, "text_encoder_lora_targets").empty();
    f.text_encoder = aligners::detail::config_value<std::string>(in, "text_encoder");
    f.unet_lora_layers = aligners::detail::config_value<index_t>(in, "unet_lora_modules");
    f.text_encoder_lora_layers = aligners::detail::config_value<index_t>(in, "text_encoder_lora_modules");
    return f;
  }
};

/// The language-model half of a trained LaVi-Bridge file: the model's family (LaviBridgeFile::text_encoder),
/// the module kinds adapted, and how many layers.
struct LaviBridgeTextLora {
  std::string encoder;
  std::vector<std::string> targets;
  index_t layers = 0;
};

/// The language-model half for `layers` LoRA layers in a T5 or BERT-family encoder.
template <ComputeElement T, TensorPolicy P>
LaviBridgeTextLora lavi_bridge_text_lora(const encoders::T5Encoder<T, P>&, index_t layers) {
  return {.encoder = "t5", .targets = {"T5Attention"}, .layers = layers};
}
template <ComputeElement T, TensorPolicy P>
LaviBridgeTextLora lavi_bridge_text_lora(const encoders::BertEncoder<T, P>& e, index_t layers) {
  return {.encoder = e.config().model_type, .targets = {"BertSelfAttention"}, .layers = layers};
}

/// The root attributes of a gluegen.lavi_bridge file (what the converter writes, and what
/// `gluegen train-lavi-bridge` exports).
[[nodiscard]] inline io::ModelMeta lavi_bridge_meta(const aligners::LaviBridgeConfig& adapter,
                                                    const nn::LoraOptions& lora, diffusion::UNetLoraTargets targets,
                                                    index_t unet_layers, const LaviBridgeTextLora& text = {}) {
  nlohmann::json unet_targets = nlohmann::json::array();
  if (targets.attention) unet_targets.push_back("Attention");
  if (targets.feed_forward) unet_targets.push_back("GEGLU");
  if (targets.resnets) unet_targets.push_back("ResnetBlock2D");
  return {.model_type = aligners::kLaviBridgeModelType,
          .config = {{"adapter",
                      {{"in_dim", adapter.in_dim},
                       {"int_dim", adapter.int_dim},
                       {"out_dim", adapter.out_dim},
                       {"mult", adapter.mult}}},
                     {"rank", lora.rank},
                     {"scale", lora.alpha / static_cast<double>(lora.rank)},
                     {"unet_lora_targets", unet_targets},
                     {"text_encoder_lora_targets", text.targets},
                     {"text_encoder", text.encoder},
                     {"unet_lora_modules", unet_layers},
                     {"text_encoder_lora_modules", text.layers}}};
}

namespace detail {
/// Loads the LoRA tensors of `model` (just injected: `layers` adapters) from `in` under `prefix`;
/// the file's datasets under `prefix` must be exactly those, so a checkpoint converted for another
/// model shape fails here, naming what differs.
template <typename M>
void load_lora_exactly(M& model, index_t layers, index_t expected_layers, const io::WeightReader& in,
                       const std::string& prefix, const char* what) {
  GLUEGEN_CHECK_AS(ShapeError, layers == expected_layers,
                   "'{}' holds LoRA for {} {} layers, but this {} has {} such layers (converted for another model?)",
                   in.path().string(), expected_layers, what, what, layers);
  std::set<std::string> injected;
  model.visit_parameters(
      [&](const std::string& name, auto& p) {
        if (!name.ends_with("lora_A.weight") && !name.ends_with("lora_B.weight")) return;
        in.read_into(prefix + name, p.value);
        injected.insert(prefix + name);
      },
      "");
  for (const auto& name : in.names())
    GLUEGEN_CHECK_AS(ShapeError, !name.starts_with(prefix) || injected.contains(name),
                     "'{}': dataset '{}' belongs to no {} layer this model adapts", in.path().string(), name, what);
}
}  // namespace detail

/// Injects the file's UNet LoRA into `unet` (which it freezes) and loads it. Returns the adapted layer count.
template <ComputeElement T, TensorPolicy P>
index_t add_lavi_bridge_lora(const io::WeightReader& in, diffusion::UNet2DCondition<T, P>& unet) {
  const auto f = LaviBridgeFile::read(in);
  const index_t n = unet.add_lora(f.lora, f.unet_targets);
  detail::load_lora_exactly(unet, n, f.unet_lora_layers, in, "unet.", "UNet");
  return n;
}

/// Injects the file's language-model LoRA into a T5 or BERT-family encoder of the family it was
/// made for (which it freezes) and loads it. Returns the adapted layer count.
template <typename E>
  requires requires(const E& e) { lavi_bridge_text_lora(e, index_t{0}); }
index_t add_lavi_bridge_lora(const io::WeightReader& in, E& text_encoder) {
  const auto f = LaviBridgeFile::read(in);
  const std::string family = lavi_bridge_text_lora(std::as_const(text_encoder), 0).encoder;
  GLUEGEN_CHECK_AS(ValueError, f.text_encoder_lora, "'{}' holds no text-encoder LoRA", in.path().string());
  GLUEGEN_CHECK_AS(ValueError, f.text_encoder == family,
                   "'{}' holds LoRA for a '{}' language model, not for this '{}' one", in.path().string(),
                   f.text_encoder, family);
  const index_t n = text_encoder.add_lora(f.lora);
  detail::load_lora_exactly(text_encoder, n, f.text_encoder_lora_layers, in, "text_encoder.", "language model");
  return n;
}

}  // namespace gluegen
