#pragma once
// The configuration of a UNet2DCondition: the keys of diffusers' UNet2DConditionModel config.json
// (SD 1.x / 2.x and smaller pixel-space models), read from JSON so a converted diffusers folder
// builds the same network. Keys gluegen does not implement are errors naming key and value, never
// silently ignored (a model built without them would give other images).
#include <gluegen/core/error.hpp>
#include <gluegen/core/shape.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace gluegen::diffusion {

struct UNet2DConditionConfig {
  index_t sample_size = 64;  ///< latent (or pixel) height = width the model was trained at (informational)
  index_t in_channels = 4, out_channels = 4;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  std::vector<std::string> down_block_types{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                            "DownBlock2D"};
  std::vector<std::string> up_block_types{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                          "CrossAttnUpBlock2D"};
  bool mid_block_cross_attn = true;  ///< mid_block_type "UNetMidBlock2DCrossAttn" (true) or null (no mid block)
  std::vector<index_t> block_out_channels{320, 640, 1280, 1280};
  index_t layers_per_block = 2;
  index_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  index_t cross_attention_dim = 768;
  /// Attention heads per block. diffusers' config calls this attention_head_dim in SD 1.x / 2.x files
  /// (a historical misnomer it keeps for compatibility); num_attention_heads overrides it when set.
  std::vector<index_t> heads{8, 8, 8, 8};
  std::vector<index_t> transformer_layers_per_block{1, 1, 1, 1};
  bool use_linear_projection = false;  ///< SD 2.x: proj_in / proj_out are Linear, not 1x1 Conv2d

  [[nodiscard]] index_t levels() const noexcept { return static_cast<index_t>(block_out_channels.size()); }
  [[nodiscard]] index_t time_embed_dim() const noexcept { return 4 * block_out_channels.front(); }
  /// Total down-sampling factor: the sample's height and width must be multiples of it.
  [[nodiscard]] index_t downsample_factor() const noexcept { return index_t{1} << (levels() - 1); }
  [[nodiscard]] static bool has_cross_attention(const std::string& block_type) {
    return block_type.starts_with("CrossAttn");
  }

  void validate() const {
    const auto n = block_out_channels.size();
    GLUEGEN_CHECK_AS(
        ValueError,
        n >= 1 && down_block_types.size() == n && up_block_types.size() == n && heads.size() == n &&
            transformer_layers_per_block.size() == n,
        "UNet2DConditionConfig: block_out_channels ({}), down_block_types ({}), up_block_types ({}), heads ({}) and "
        "transformer_layers_per_block ({}) must have one entry per level",
        n, down_block_types.size(), up_block_types.size(), heads.size(), transformer_layers_per_block.size());
    for (const auto& t : down_block_types)
      GLUEGEN_CHECK_AS(ValueError, t == "CrossAttnDownBlock2D" || t == "DownBlock2D",
                       "UNet2DConditionConfig: down block type '{}' is not supported "
                       "(CrossAttnDownBlock2D, DownBlock2D)",
                       t);
    for (const auto& t : up_block_types)
      GLUEGEN_CHECK_AS(ValueError, t == "CrossAttnUpBlock2D" || t == "UpBlock2D",
                       "UNet2DConditionConfig: up block type '{}' is not supported "
                       "(CrossAttnUpBlock2D, UpBlock2D)",
                       t);
    for (std::size_t i = 0; i < n; ++i) {
      const index_t c = block_out_channels[i];
      GLUEGEN_CHECK_AS(ValueError, c > 0 && c % norm_num_groups == 0,
                       "UNet2DConditionConfig: block_out_channels[{}] = {} is not a multiple of "
                       "norm_num_groups {}",
                       i, c, norm_num_groups);
      GLUEGEN_CHECK_AS(ValueError, heads[i] > 0 && c % heads[i] == 0,
                       "UNet2DConditionConfig: block_out_channels[{}] = {} does not split into {} heads", i, c,
                       heads[i]);
    }
    GLUEGEN_CHECK_AS(ValueError, in_channels > 0 && out_channels > 0 && layers_per_block > 0 && cross_attention_dim > 0,
                     "UNet2DConditionConfig: in_channels {}, out_channels {}, layers_per_block {} and "
                     "cross_attention_dim {} must be positive",
                     in_channels, out_channels, layers_per_block, cross_attention_dim);
  }

  /// The diffusers config.json of this UNet (what save_pretrained writes, less defaults), so a file
  /// gluegen writes records a config diffusers' UNet2DConditionModel.from_config accepts.
  [[nodiscard]] nlohmann::json to_json() const {
    return {{"_class_name", "UNet2DConditionModel"},
            {"sample_size", sample_size},
            {"in_channels", in_channels},
            {"out_channels", out_channels},
            {"flip_sin_to_cos", flip_sin_to_cos},
            {"freq_shift", freq_shift},
            {"down_block_types", down_block_types},
            {"up_block_types", up_block_types},
            {"mid_block_type", mid_block_cross_attn ? nlohmann::json("UNetMidBlock2DCrossAttn") : nlohmann::json()},
            {"block_out_channels", block_out_channels},
            {"layers_per_block", layers_per_block},
            {"norm_num_groups", norm_num_groups},
            {"norm_eps", norm_eps},
            {"cross_attention_dim", cross_attention_dim},
            {"attention_head_dim", heads},
            {"transformer_layers_per_block", transformer_layers_per_block},
            {"use_linear_projection", use_linear_projection},
            {"act_fn", "silu"}};
  }

  /// From a diffusers config.json (UNet2DConditionModel); unsupported options are ValueErrors.
  static UNet2DConditionConfig from_json(const nlohmann::json& j) {
    UNet2DConditionConfig c;
    const auto n_default =
        j.contains("block_out_channels") ? j.at("block_out_channels").size() : c.block_out_channels.size();
    const auto per_level = [&](const char* key, std::vector<index_t> fallback) {
      if (!j.contains(key) || j.at(key).is_null()) return fallback;
      if (j.at(key).is_number_integer()) return std::vector<index_t>(n_default, j.at(key).get<index_t>());
      return j.at(key).get<std::vector<index_t>>();
    };
    const auto require = [&](const char* key, const nlohmann::json& supported) {
      GLUEGEN_CHECK_AS(ValueError, !j.contains(key) || j.at(key) == supported,
                       "UNet2DConditionConfig: {} = {} is not supported (only {})", key, j.at(key).dump(),
                       supported.dump());
    };
    try {
      c.sample_size = j.value("sample_size", c.sample_size);
      c.in_channels = j.value("in_channels", c.in_channels);
      c.out_channels = j.value("out_channels", c.out_channels);
      c.flip_sin_to_cos = j.value("flip_sin_to_cos", c.flip_sin_to_cos);
      c.freq_shift = j.value("freq_shift", c.freq_shift);
      c.down_block_types = j.value("down_block_types", c.down_block_types);
      c.up_block_types = j.value("up_block_types", c.up_block_types);
      if (j.contains("mid_block_type")) {
        const auto& m = j.at("mid_block_type");
        GLUEGEN_CHECK_AS(ValueError, m.is_null() || m == "UNetMidBlock2DCrossAttn",
                         "UNet2DConditionConfig: mid_block_type {} is not supported "
                         "(UNetMidBlock2DCrossAttn or null)",
                         m.dump());
        c.mid_block_cross_attn = !m.is_null();
      }
      c.block_out_channels = j.value("block_out_channels", c.block_out_channels);
      GLUEGEN_CHECK_AS(ValueError, !j.contains("layers_per_block") || j.at("layers_per_block").is_number_integer(),
                       "UNet2DConditionConfig: layers_per_block {} per block is not supported (one integer)",
                       j.value("layers_per_block", nlohmann::json{}).dump());
      c.layers_per_block = j.value("layers_per_block", c.layers_per_block);
      c.norm_num_groups = j.value("norm_num_groups", c.norm_num_groups);
      c.norm_eps = j.value("norm_eps", c.norm_eps);
      GLUEGEN_CHECK_AS(ValueError,
                       !j.contains("cross_attention_dim") || j.at("cross_attention_dim").is_number_integer(),
                       "UNet2DConditionConfig: cross_attention_dim {} per block is not supported (one integer)",
                       j.value("cross_attention_dim", nlohmann::json{}).dump());
      c.cross_attention_dim = j.value("cross_attention_dim", c.cross_attention_dim);
      // diffusers: num_attention_heads = num_attention_heads or attention_head_dim (both are head counts)
      c.heads = per_level("num_attention_heads", per_level("attention_head_dim", std::vector<index_t>(n_default, 8)));
      c.transformer_layers_per_block = per_level("transformer_layers_per_block", std::vector<index_t>(n_default, 1));
      c.use_linear_projection = j.value("use_linear_projection", c.use_linear_projection);
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(ValueError, "UNet2DConditionConfig: malformed config: {}", e.what());
    }
    require("act_fn", "silu");
    require("time_embedding_type", "positional");
    require("resnet_time_scale_shift", "default");
    require("center_input_sample", false);
    require("only_cross_attention", false);
    require("dual_cross_attention", false);
    require("conv_in_kernel", 3);
    require("conv_out_kernel", 3);
    require("resnet_skip_time_act", false);
    require("resnet_out_scale_factor", 1.0);
    require("dropout", 0.0);  // training dropout inside the UNet is not implemented
    require("reverse_transformer_layers_per_block", nullptr);
    for (const char* key : {"class_embed_type", "addition_embed_type", "encoder_hid_dim", "time_cond_proj_dim",
                            "num_class_embeds", "projection_class_embeddings_input_dim", "time_embedding_act_fn",
                            "timestep_post_act", "time_embedding_dim", "attention_type_override"})
      GLUEGEN_CHECK_AS(ValueError, !j.contains(key) || j.at(key).is_null(),
                       "UNet2DConditionConfig: {} = {} is not supported (only null)", key, j.at(key).dump());
    GLUEGEN_CHECK_AS(ValueError, !j.contains("attention_type") || j.at("attention_type") == "default",
                     "UNet2DConditionConfig: attention_type {} is not supported (only \"default\")",
                     j.value("attention_type", nlohmann::json{}).dump());
    c.validate();
    return c;
  }
};

}  // namespace gluegen::diffusion
