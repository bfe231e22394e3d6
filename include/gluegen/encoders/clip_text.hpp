#pragma once
// CLIP's text transformer (Radford et al. 2021), the conditioning encoder of Stable Diffusion 1.x
// and GlueGen's target space, config-driven from a Hugging Face config.json (CLIPTextModel, or the
// text_config of a CLIPModel). Pre-LayerNorm causal layers over token + position embeddings:
//   h = h + Attention(LN1(h), causal + padding mask);  h = h + fc2(act(fc1(LN2(h))))
// then final_layer_norm. act is quick_gelu (x sigmoid(1.702 x), OpenAI's CLIP) or gelu. The pooled
// output is the final state at the end-of-text token: the first position holding eos_token_id, or,
// for configs with the legacy eos_token_id 2, the position of the largest id (transformers' rule;
// OpenAI's end-of-text id is the vocabulary's largest). Names are HF's (embeddings.token_embedding,
// encoder.layers.0.self_attn.q_proj, ...), with or without the "text_model." prefix.
#include <gluegen/encoders/bert.hpp>

namespace gluegen::encoders {

struct ClipTextConfig {
  index_t vocab_size = 49408, hidden_size = 768, intermediate_size = 3072, num_hidden_layers = 12,
          num_attention_heads = 12;
  index_t max_position_embeddings = 77, eos_token_id = 2;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";

  static ClipTextConfig from_json(const nlohmann::json& full) {
    const nlohmann::json& j = full.contains("text_config") ? full["text_config"] : full;
    ClipTextConfig c;
    c.vocab_size = j.value("vocab_size", c.vocab_size);
    c.hidden_size = j.value("hidden_size", c.hidden_size);
    c.intermediate_size = j.value("intermediate_size", c.intermediate_size);
    c.num_hidden_layers = j.value("num_hidden_layers", c.num_hidden_layers);
    c.num_attention_heads = j.value("num_attention_heads", c.num_attention_heads);
    c.max_position_embeddings = j.value("max_position_embeddings", c.max_position_embeddings);
    c.eos_token_id = j.value("eos_token_id", c.eos_token_id);
    c.layer_norm_eps = j.value("layer_norm_eps", c.layer_norm_eps);
    c.hidden_act = j.value("hidden_act", c.hidden_act);
    GLUEGEN_CHECK_AS(ValueError, c.hidden_act == "quick_gelu" || c.hidden_act == "gelu",
                     "ClipTextEncoder: hidden_act '{}' is not supported", c.hidden_act);
    return c;
  }
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class ClipTextLayer {
 public:
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::LayerNorm<T, P>::Cache ln1, ln2;
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    typename nn::Linear<T, P>::Cache fc1, fc2;
    TensorT h, act, scaled, out;
  };

  explicit ClipTextLayer(const ClipTextConfig& c)
      : layer_norm1(c.hidden_size, static_cast<T>(c.layer_norm_eps)),
        self_attn({.embed_dim = c.hidden_size, .num_heads = c.num_attention_heads, .causal = true}),
        layer_norm2(c.hidden_size, static_cast<T>(c.layer_norm_eps)),
        fc1(c.hidden_size, c.intermediate_size),
        fc2(c.intermediate_size, c.hidden_size),
        quick_(c.hidden_act == "quick_gelu") {}

  const TensorT& forward(const TensorT& x, const TensorT& mask, Cache& c) {
    for (TensorT* buffer : {&c.h, &c.out}) nn::reset_if_changed(*buffer, x.shape());
    for (TensorT* buffer : {&c.act, &c.scaled}) nn::reset_if_changed(*buffer, x.shape().with_last(fc1.out_features()));
    const TensorT& n1 = layer_norm1.forward(x, c.ln1);
    ops::add(x, self_attn.forward(n1, n1, &mask, nullptr, c.attn), c.h);
    const TensorT& u = fc1.forward(layer_norm2.forward(c.h, c.ln2), c.fc1);
    if (quick_) {  // x sigmoid(1.702 x) = SiLU(1.702 x) / 1.702
      ops::scale(u, T(1.702), c.scaled);
      ops::silu(c.scaled, c.act);
      ops::scale(c.act, T(1) / T(1.702), c.act);
    } else {
      ops::gelu(u, c.act);
    }
    ops::add(c.h, fc2.forward(c.act, c.fc2), c.out);
    return c.out;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    layer_norm1.visit_parameters(f, prefix + "layer_norm1.");
    self_attn.visit_parameters(f, prefix + "self_attn.");
    layer_norm2.visit_parameters(f, prefix + "layer_norm2.");
    fc1.visit_parameters(f, prefix + "mlp.fc1.");
    fc2.visit_parameters(f, prefix + "mlp.fc2.");
  }

  nn::LayerNorm<T, P> layer_norm1;
  nn::MultiHeadAttention<T, P> self_attn;
  nn::LayerNorm<T, P> layer_norm2;
  nn::Linear<T, P> fc1, fc2;

 private:
  bool quick_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class ClipTextEncoder {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Ids = Tensor<std::int32_t, P>;
  struct Cache {
    typename nn::Embedding<T, P>::Cache token, position;
    std::vector<typename ClipTextLayer<T, P>::Cache> layers;
    typename nn::LayerNorm<T, P>::Cache final_ln;
    TensorT sum;
  };

  explicit ClipTextEncoder(const ClipTextConfig& c)
      : token_embedding(c.vocab_size, c.hidden_size),
        position_embedding(c.max_position_embeddings, c.hidden_size),
        final_layer_norm(c.hidden_size, static_cast<T>(c.layer_norm_eps)),
        cfg_(c) {
    for (index_t i = 0; i < c.num_hidden_layers; ++i) layers.emplace_back(c);
  }

  [[nodiscard]] const ClipTextConfig& config() const noexcept { return cfg_; }

  /// input_ids, attention_mask [B, L] -> last_hidden_state (after final_layer_norm), mask, the
  /// end-of-text states as pooler_output, and the masked mean.
  EncoderOutput<T, P> forward(const Tensor<std::int32_t, Cpu>& input_ids,
                              const Tensor<std::int32_t, Cpu>& attention_mask, Cache& c) {
    const auto t =
        check_tokens<T>("ClipTextEncoder", input_ids, attention_mask, cfg_.vocab_size, cfg_.max_position_embeddings);
    const index_t B = t.batch, L = t.length, D = cfg_.hidden_size;
    const auto& ids = t.ids;
    std::vector<std::int32_t> positions(ids.size());
    std::vector<index_t> eos(static_cast<std::size_t>(B), -1);
    for (index_t b = 0; b < B; ++b) {
      std::int32_t best = -1;
      for (index_t l = 0; l < L; ++l) {
        const auto k = static_cast<std::size_t>(b * L + l);
        positions[k] = static_cast<std::int32_t>(l);
        if (cfg_.eos_token_id == 2 ? ids[k] > best
                                   : (eos[static_cast<std::size_t>(b)] < 0 && ids[k] == cfg_.eos_token_id)) {
          best = ids[k];
          eos[static_cast<std::size_t>(b)] = l;
        }
      }
      GLUEGEN_CHECK_AS(ValueError, eos[static_cast<std::size_t>(b)] >= 0,
                       "ClipTextEncoder: sequence {} has no end-of-text token {}", b, cfg_.eos_token_id);
    }
    nn::reset_if_changed(c.sum, Shape{B, L, D});
    ops::add(token_embedding.forward(Ids::from_host(input_ids.shape(), ids), c.token),
             position_embedding.forward(Ids::from_host(input_ids.shape(), positions), c.position), c.sum);
    EncoderOutput<T, P> out;
    out.mask = TensorT::from_host({B, L}, t.mask);
    c.layers.resize(layers.size());
    const TensorT* h = &c.sum;
    for (std::size_t i = 0; i < layers.size(); ++i) h = &layers[i].forward(*h, out.mask, c.layers[i]);
    out.last_hidden_state = final_layer_norm.forward(*h, c.final_ln).clone();
    out.mean_pooled = mean_pool(out.last_hidden_state, out.mask);
    const auto states = out.last_hidden_state.to_vector();
    std::vector<T> pooled(static_cast<std::size_t>(B * D));
    for (index_t b = 0; b < B; ++b)
      std::copy_n(states.begin() + (b * L + eos[static_cast<std::size_t>(b)]) * D, D, pooled.begin() + b * D);
    out.pooler_output = TensorT::from_host({B, D}, pooled);
    return out;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    token_embedding.visit_parameters(f, prefix + "embeddings.token_embedding.");
    position_embedding.visit_parameters(f, prefix + "embeddings.position_embedding.");
    for (std::size_t i = 0; i < layers.size(); ++i)
      layers[i].visit_parameters(f, prefix + "encoder.layers." + std::to_string(i) + ".");
    final_layer_norm.visit_parameters(f, prefix + "final_layer_norm.");
  }

  nn::Embedding<T, P> token_embedding, position_embedding;
  std::vector<ClipTextLayer<T, P>> layers;
  nn::LayerNorm<T, P> final_layer_norm;

 private:
  ClipTextConfig cfg_;
};

/// Loads a CLIP text encoder's weights from a safetensors or HDF5 source, with or without "text_model.".
template <typename Reader, ComputeElement T, TensorPolicy P>
void load_clip_text_weights(ClipTextEncoder<T, P>& encoder, const Reader& weights) {
  read_weights(encoder, weights, weights.contains("text_model.embeddings.token_embedding.weight") ? "text_model." : "");
}

}  // namespace gluegen::encoders
