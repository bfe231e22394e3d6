#pragma once
// Aligner model files: the config JSON each aligner writes into its HDF5 file (root attribute
// `config`, next to `model_type`), and loaders that build the aligner from a file alone. These are
// the files the trainer exports (run_dir/aligner.h5) and that tools/convert_gluegen.py writes from
// the public GlueGen checkpoints (`torch.save(adapter.state_dict())` of Translator_noln), whose
// parameter names our modules already use.
//   gluegen.translator  {num_tok, num_tok_out, dim, dim_out, mult, depth, layer_norm}
//   gluegen.gluenet     {num_tok, [num_tok_target], dim_source, dim_target, mult, depth, disc_mult, eta,
//                        lambda_mse, lambda_rec, lambda_adv, [alternating]}; tensors under encoder., decoder.,
//                        discriminator.
//   gluegen.attention_aligner {dim_source, dim, dim_target, num_queries, heads, depth, ff_mult}
//   gluegen.timestep_connector {time_channel, time_embed_dim, width, layers, heads, num_latents, input_dim}
//                        (ELLA's TSC; tools/convert_ella.py)
//   gluegen.linear_aligner {num_tok, num_tok_out, dim, dim_out, [fit: how it was fitted]}
//   gluegen.lavi_bridge  {adapter: {in_dim, int_dim, out_dim, mult}, rank, scale, ...}; tensors under
//                        adapter. (here) and the decoder's LoRA under unet. (pipeline/lavi_bridge_file.hpp)
#include <gluegen/aligners/aligner.hpp>
#include <gluegen/aligners/attention.hpp>
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/aligners/lavi_bridge.hpp>
#include <gluegen/aligners/linear.hpp>
#include <gluegen/aligners/timestep_connector.hpp>
#include <gluegen/aligners/translator.hpp>
#include <gluegen/io/parameters.hpp>

#include <filesystem>

namespace gluegen::aligners {

inline constexpr const char* kTranslatorModelType = "gluegen.translator";
inline constexpr const char* kGlueNetModelType = "gluegen.gluenet";
inline constexpr const char* kAttentionAlignerModelType = "gluegen.attention_aligner";
inline constexpr const char* kTimestepConnectorModelType = "gluegen.timestep_connector";
inline constexpr const char* kLinearAlignerModelType = "gluegen.linear_aligner";
inline constexpr const char* kLaviBridgeModelType = "gluegen.lavi_bridge";

namespace detail {
/// Reads `key` of a model file's config, naming the file and key when it is missing or mistyped.
template <typename V>
V config_value(const io::WeightReader& in, const char* key) {
  try {
    return in.meta().config.at(key).get<V>();
  } catch (const nlohmann::json::exception& e) {
    GLUEGEN_THROW(IoError, "the config of '{}' ({}) has no valid '{}': {}", in.path().string(), in.meta().model_type,
                  key, e.what());
  }
}
inline void expect_model_type(const io::WeightReader& in, const char* type) {
  GLUEGEN_CHECK_AS(IoError, in.meta().model_type == type, "'{}' holds a '{}' model, expected '{}'", in.path().string(),
                   in.meta().model_type, type);
}
}  // namespace detail

template <bool TailLayerNorm>
[[nodiscard]] io::ModelMeta translator_meta(const TranslatorConfig& c) {
  return {.model_type = kTranslatorModelType,
          .config = {{"num_tok", c.num_tok},
                     {"num_tok_out", c.tokens_out()},
                     {"dim", c.dim},
                     {"dim_out", c.dim_out},
                     {"mult", c.mult},
                     {"depth", c.depth},
                     {"layer_norm", TailLayerNorm}}};
}

[[nodiscard]] inline io::ModelMeta gluenet_meta(const GlueNetConfig& c) {
  nlohmann::json j{{"num_tok", c.num_tok},
                   {"dim_source", c.dim_source},
                   {"dim_target", c.dim_target},
                   {"mult", c.mult},
                   {"depth", c.depth},
                   {"disc_mult", c.disc_mult},
                   {"eta", c.eta},
                   {"lambda_mse", c.lambda_mse},
                   {"lambda_rec", c.lambda_rec},
                   {"lambda_adv", c.lambda_adv}};
  if (c.num_tok_target > 0 && c.num_tok_target != c.num_tok) j["num_tok_target"] = c.num_tok_target;
  if (c.alternating) j["alternating"] = true;  // absent: GlueGen's joint step (files from before the option)
  return {.model_type = kGlueNetModelType, .config = j};
}

[[nodiscard]] inline io::ModelMeta attention_aligner_meta(const AttentionAlignerConfig& c) {
  return {.model_type = kAttentionAlignerModelType,
          .config = {{"dim_source", c.dim_source},
                     {"dim", c.dim},
                     {"dim_target", c.dim_target},
                     {"num_queries", c.num_queries},
                     {"heads", c.heads},
                     {"depth", c.depth},
                     {"ff_mult", c.ff_mult}}};
}

/// The Translator stored in `in`. TailLayerNorm must match the file's `layer_norm` (GlueGen's
/// released multilingual checkpoints are Translator_noln: load them as TranslatorNoLn).
template <ComputeElement T = float, TensorPolicy P = Cpu, bool TailLayerNorm = false>
[[nodiscard]] Translator<T, P, TailLayerNorm> load_translator(const io::WeightReader& in) {
  detail::expect_model_type(in, kTranslatorModelType);
  const bool layer_norm = detail::config_value<bool>(in, "layer_norm");
  GLUEGEN_CHECK_AS(ValueError, layer_norm == TailLayerNorm,
                   "'{}' holds a Translator {} a LayerNorm tail; load it as {}", in.path().string(),
                   layer_norm ? "with" : "without", layer_norm ? "Translator" : "TranslatorNoLn");
  const TranslatorConfig cfg{.num_tok = detail::config_value<index_t>(in, "num_tok"),
                             .num_tok_out = detail::config_value<index_t>(in, "num_tok_out"),
                             .dim = detail::config_value<index_t>(in, "dim"),
                             .dim_out = detail::config_value<index_t>(in, "dim_out"),
                             .mult = detail::config_value<index_t>(in, "mult"),
                             .depth = detail::config_value<index_t>(in, "depth")};
  Translator<T, P, TailLayerNorm> model(cfg);
  io::load_parameters(model, in);
  return model;
}

[[nodiscard]] inline GlueNetConfig gluenet_config(const io::WeightReader& in) {
  detail::expect_model_type(in, kGlueNetModelType);
  GlueNetConfig c{.num_tok = detail::config_value<index_t>(in, "num_tok"),
                  .dim_source = detail::config_value<index_t>(in, "dim_source"),
                  .dim_target = detail::config_value<index_t>(in, "dim_target"),
                  .mult = detail::config_value<index_t>(in, "mult"),
                  .depth = detail::config_value<index_t>(in, "depth"),
                  .disc_mult = detail::config_value<double>(in, "disc_mult"),
                  .eta = detail::config_value<double>(in, "eta"),
                  .lambda_mse = detail::config_value<double>(in, "lambda_mse"),
                  .lambda_rec = detail::config_value<double>(in, "lambda_rec"),
                  .lambda_adv = detail::config_value<double>(in, "lambda_adv")};
  if (in.meta().config.contains("num_tok_target"))
    c.num_tok_target = detail::config_value<index_t>(in, "num_tok_target");
  if (in.meta().config.contains("alternating")) c.alternating = detail::config_value<bool>(in, "alternating");
  return c;
}

/// The GlueNet (encoder f, decoder g, discriminator with its BatchNorm statistics) stored in `in`.
template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] GlueNet<T, P> load_gluenet(const io::WeightReader& in) {
  GlueNet<T, P> model(gluenet_config(in));
  io::load_parameters(model, in);
  return model;
}

template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] AttentionAligner<T, P> load_attention_aligner(const io::WeightReader& in) {
  detail::expect_model_type(in, kAttentionAlignerModelType);
  AttentionAligner<T, P> model({.dim_source = detail::config_value<index_t>(in, "dim_source"),
                                .dim = detail::config_value<index_t>(in, "dim"),
                                .dim_target = detail::config_value<index_t>(in, "dim_target"),
                                .num_queries = detail::config_value<index_t>(in, "num_queries"),
                                .heads = detail::config_value<index_t>(in, "heads"),
                                .depth = detail::config_value<index_t>(in, "depth"),
                                .ff_mult = detail::config_value<index_t>(in, "ff_mult")});
  io::load_parameters(model, in);
  return model;
}

[[nodiscard]] inline io::ModelMeta timestep_connector_meta(const TimestepConnectorConfig& c) {
  return {.model_type = kTimestepConnectorModelType,
          .config = {{"time_channel", c.time_channel},
                     {"time_embed_dim", c.time_embed_dim},
                     {"width", c.width},
                     {"layers", c.layers},
                     {"heads", c.heads},
                     {"num_latents", c.num_latents},
                     {"input_dim", c.input_dim}}};
}

template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] TimestepConnector<T, P> load_timestep_connector(const io::WeightReader& in) {
  detail::expect_model_type(in, kTimestepConnectorModelType);
  TimestepConnector<T, P> model({.time_channel = detail::config_value<index_t>(in, "time_channel"),
                                 .time_embed_dim = detail::config_value<index_t>(in, "time_embed_dim"),
                                 .width = detail::config_value<index_t>(in, "width"),
                                 .layers = detail::config_value<index_t>(in, "layers"),
                                 .heads = detail::config_value<index_t>(in, "heads"),
                                 .num_latents = detail::config_value<index_t>(in, "num_latents"),
                                 .input_dim = detail::config_value<index_t>(in, "input_dim")});
  io::load_parameters(model, in);
  return model;
}

/// `fit` records how the map was fitted (ridge lambda, alternations, held-out split), so `gluegen
/// eval --run` evaluates it on the same held-out examples.
[[nodiscard]] inline io::ModelMeta linear_aligner_meta(const LinearAlignerConfig& c,
                                                       const nlohmann::json& fit = nullptr) {
  nlohmann::json j{{"num_tok", c.num_tok}, {"num_tok_out", c.num_tok_out}, {"dim", c.dim}, {"dim_out", c.dim_out}};
  if (!fit.is_null()) j["fit"] = fit;
  return {.model_type = kLinearAlignerModelType, .config = j};
}

template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] LinearAligner<T, P> load_linear_aligner(const io::WeightReader& in) {
  detail::expect_model_type(in, kLinearAlignerModelType);
  LinearAligner<T, P> model({.num_tok = detail::config_value<index_t>(in, "num_tok"),
                             .num_tok_out = detail::config_value<index_t>(in, "num_tok_out"),
                             .dim = detail::config_value<index_t>(in, "dim"),
                             .dim_out = detail::config_value<index_t>(in, "dim_out")});
  io::load_parameters(model, in);
  return model;
}

/// The adapter of a gluegen.lavi_bridge file (LaVi-Bridge's TextAdapter). Its UNet LoRA goes into the
/// decoder with add_lavi_bridge_lora (pipeline/lavi_bridge_file.hpp).
template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] LaviBridgeAdapter<T, P> load_lavi_bridge_adapter(const io::WeightReader& in) {
  detail::expect_model_type(in, kLaviBridgeModelType);
  const auto j = detail::config_value<nlohmann::json>(in, "adapter");
  LaviBridgeConfig cfg;
  try {
    cfg = {.in_dim = j.at("in_dim").get<index_t>(),
           .int_dim = j.at("int_dim").get<index_t>(),
           .out_dim = j.at("out_dim").get<index_t>(),
           .mult = j.at("mult").get<index_t>()};
  } catch (const nlohmann::json::exception& e) {
    GLUEGEN_THROW(IoError, "the config of '{}' has no valid adapter sizes: {}", in.path().string(), e.what());
  }
  LaviBridgeAdapter<T, P> adapter(cfg);
  io::load_parameters(adapter, in, "adapter.");
  return adapter;
}

/// Loads whichever aligner `in` holds (a GlueNet, a Translator with or without its LayerNorm tail, an
/// attention aligner, a linear (ridge) one: what `gluegen train` writes or tools/convert_gluegen.py converts; a
/// LaVi-Bridge adapter, whose decoder LoRA the caller adds with add_lavi_bridge_lora) and returns f(aligner), the
/// aligner as a TrainableAligner (regression-only ones wrapped in Supervised).
template <ComputeElement T = float, TensorPolicy P = Cpu, typename F>
decltype(auto) visit_aligner_file(const io::WeightReader& in, F&& f) {
  const std::string& type = in.meta().model_type;
  if (type == kGlueNetModelType) {
    auto a = load_gluenet<T, P>(in);
    return f(a);
  }
  if (type == kTranslatorModelType && in.meta().config.value("layer_norm", false)) {
    Supervised a(load_translator<T, P, true>(in));
    return f(a);
  }
  if (type == kTranslatorModelType) {
    Supervised a(load_translator<T, P, false>(in));
    return f(a);
  }
  if (type == kLinearAlignerModelType) {
    Supervised a(load_linear_aligner<T, P>(in));
    return f(a);
  }
  if (type == kLaviBridgeModelType) {
    Supervised a(load_lavi_bridge_adapter<T, P>(in));
    return f(a);
  }
  GLUEGEN_CHECK_AS(ValueError, type == kAttentionAlignerModelType,
                   "'{}' holds a '{}', not an aligner (gluegen.gluenet, gluegen.translator, gluegen.attention_aligner, "
                   "gluegen.linear_aligner, "
                   "gluegen.lavi_bridge){}",
                   in.path().string(), type, type == "gluegen.checkpoint" ? "; pass the run's aligner.h5" : "");
  Supervised a(load_attention_aligner<T, P>(in));
  return f(a);
}

}  // namespace gluegen::aligners
