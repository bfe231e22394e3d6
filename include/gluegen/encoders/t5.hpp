#pragma once
// The T5 encoder (Raffel et al. 2020), the language model behind LaVi-Bridge's T5 variants and
// ELLA, config-driven from a Hugging Face config.json (T5, flan-T5, mT5 encoders). Pre-RMSNorm
// layers without biases:
//   h = h + O(Attention(RMS(h); scores = Q K^T + position bias + padding mask, no 1/sqrt(d)))
//   h = h + wo(act(wi RMS(h)))          relu, or gated: gelu_tanh(wi_0 x) * wi_1 x ("gated-gelu")
// then final_layer_norm. The position bias (relative_position.hpp) is a learned scalar per head and
// relative-position bucket, held by the first block and shared by all. Names are HF's
// (shared.weight, encoder.block.0.layer.0.SelfAttention.q.weight, ...). backward() differentiates
// everything but that bias table (which must be frozen), so LaVi-Bridge's LoRA in the attention trains.
#include <gluegen/encoders/bert.hpp>
#include <gluegen/encoders/relative_position.hpp>

#include <limits>

namespace gluegen::encoders {

struct T5Config {
  index_t vocab_size = 32128, d_model = 512, d_kv = 64, d_ff = 2048, num_layers = 6, num_heads = 8;
  index_t relative_attention_num_buckets = 32, relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  std::string feed_forward_proj = "relu";

  [[nodiscard]] bool gated() const { return feed_forward_proj.starts_with("gated-"); }

  static T5Config from_json(const nlohmann::json& j) {
    T5Config c;
    c.vocab_size = j.value("vocab_size", c.vocab_size);
    c.d_model = j.value("d_model", c.d_model);
    c.d_kv = j.value("d_kv", c.d_kv);
    c.d_ff = j.value("d_ff", c.d_ff);
    c.num_layers = j.value("num_layers", c.num_layers);
    c.num_heads = j.value("num_heads", c.num_heads);
    c.relative_attention_num_buckets = j.value("relative_attention_num_buckets", c.relative_attention_num_buckets);
    c.relative_attention_max_distance = j.value("relative_attention_max_distance", c.relative_attention_max_distance);
    c.layer_norm_epsilon = j.value("layer_norm_epsilon", c.layer_norm_epsilon);
    c.feed_forward_proj = j.value("feed_forward_proj", c.feed_forward_proj);
    GLUEGEN_CHECK_AS(ValueError, c.feed_forward_proj == "relu" || c.feed_forward_proj == "gated-gelu",
                     "T5Encoder: feed_forward_proj '{}' is not supported (relu, gated-gelu)", c.feed_forward_proj);
    GLUEGEN_CHECK_AS(ValueError, c.num_heads * c.d_kv == c.d_model,
                     "T5Encoder: num_heads x d_kv = {} x {} must equal d_model {}", c.num_heads, c.d_kv, c.d_model);
    return c;
  }

  [[nodiscard]] RelativePositionBuckets buckets() const {
    return {.num_buckets = relative_attention_num_buckets, .max_distance = relative_attention_max_distance};
  }
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class T5Block {
 public:
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::RMSNorm<T, P>::Cache ln_attn, ln_ff;
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    typename nn::Linear<T, P>::Cache wi, wi_0, wi_1, wo;
    TensorT h, act, gate, out;
    TensorT d_gate, d_up, d_u, dm, dh, dx;  // backward only
  };

  explicit T5Block(const T5Config& c)
      : attention_norm(c.d_model, static_cast<T>(c.layer_norm_epsilon)),
        attention({.embed_dim = c.d_model, .num_heads = c.num_heads, .bias = false, .scale = 1.0}),
        ff_norm(c.d_model, static_cast<T>(c.layer_norm_epsilon)),
        wi(c.d_model, c.d_ff, {.bias = false}),
        wi_1(c.d_model, c.d_ff, {.bias = false}),
        wo(c.d_ff, c.d_model, {.bias = false}),
        gated_(c.gated()) {}

  /// x [B, L, D], additive [1, H, L, L] position bias; mask [B, L].
  const TensorT& forward(const TensorT& x, const TensorT& mask, const TensorT& position_bias, Cache& c) {
    for (TensorT* buffer : {&c.h, &c.out}) nn::reset_if_changed(*buffer, x.shape());
    for (TensorT* buffer : {&c.act, &c.gate}) nn::reset_if_changed(*buffer, x.shape().with_last(wi.out_features()));
    const TensorT& n = attention_norm.forward(x, c.ln_attn);
    ops::add(x, attention.forward(n, n, &mask, &position_bias, c.attn), c.h);
    const TensorT& m = ff_norm.forward(c.h, c.ln_ff);
    if (gated_) {
      ops::gelu(wi.forward(m, c.wi_0), c.gate, ops::GeluApproximation::tanh);  // gelu_new
      ops::mul(c.gate, wi_1.forward(m, c.wi_1), c.act);
    } else {
      ops::relu(wi.forward(m, c.wi), c.act);
    }
    ops::add(c.h, wo.forward(c.act, c.wo), c.out);
    return c.out;
  }

  /// dL/dout (of the last forward) -> dL/dx; the relative position bias gets no gradient here (the
  /// encoder requires it frozen).
  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT& d_act = wo.backward(dy, c.wo);
    if (gated_) {  // act = gelu(u0) * up: d gate = d act * up, d up = d act * gelu(u0)
      ops::mul(d_act, c.wi_1.y, c.d_gate);
      ops::mul(d_act, c.gate, c.d_up);
      ops::unary_backward(UnaryOp::gelu_tanh, c.wi_0.y, c.d_gate, c.d_u);
      ops::add(wi.backward(c.d_u, c.wi_0), wi_1.backward(c.d_up, c.wi_1), c.dm);
      wi.release_backward(c.wi_0);
      wi_1.release_backward(c.wi_1);
    } else {
      ops::unary_backward(UnaryOp::relu, c.wi.y, d_act, c.d_u);
      ops::copy(wi.backward(c.d_u, c.wi), c.dm);
      wi.release_backward(c.wi);
    }
    wo.release_backward(c.wo);
    ops::add(dy, ff_norm.backward(c.dm, c.ln_ff), c.dh);  // h feeds the residual and the feed-forward
    ff_norm.release_backward(c.ln_ff);
    ops::add(c.dh, attention_norm.backward(attention.backward(c.dh, c.attn), c.ln_attn), c.dx);
    attention_norm.release_backward(c.ln_attn);
    c.d_gate = c.d_up = c.d_u = c.dm = c.dh = {};
    return c.dx;
  }

  void release_backward(Cache& c) { c.dx = {}; }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    nn::visit_renamed(attention, f, prefix + "layer.0.SelfAttention.",
                      {{"q_proj.", "q."}, {"k_proj.", "k."}, {"v_proj.", "v."}, {"out_proj.", "o."}});
    attention_norm.visit_parameters(f, prefix + "layer.0.layer_norm.");
    if (gated_) {
      wi.visit_parameters(f, prefix + "layer.1.DenseReluDense.wi_0.");
      wi_1.visit_parameters(f, prefix + "layer.1.DenseReluDense.wi_1.");
    } else {
      wi.visit_parameters(f, prefix + "layer.1.DenseReluDense.wi.");
    }
    wo.visit_parameters(f, prefix + "layer.1.DenseReluDense.wo.");
    ff_norm.visit_parameters(f, prefix + "layer.1.layer_norm.");
  }

  nn::RMSNorm<T, P> attention_norm;
  nn::MultiHeadAttention<T, P> attention;
  nn::RMSNorm<T, P> ff_norm;
  nn::Linear<T, P> wi, wi_1, wo;  ///< wi is wi_0 in the gated form

 private:
  bool gated_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class T5Encoder {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Ids = Tensor<std::int32_t, P>;
  struct Cache {
    typename nn::Embedding<T, P>::Cache embed;
    std::vector<typename T5Block<T, P>::Cache> blocks;
    typename nn::RMSNorm<T, P>::Cache final_ln;
    Shape ids_shape;
  };

  explicit T5Encoder(const T5Config& c)
      : shared(c.vocab_size, c.d_model),
        relative_attention_bias(c.relative_attention_num_buckets, c.num_heads),
        final_layer_norm(c.d_model, static_cast<T>(c.layer_norm_epsilon)),
        cfg_(c) {
    for (index_t i = 0; i < c.num_layers; ++i) blocks.emplace_back(c);
  }

  [[nodiscard]] const T5Config& config() const noexcept { return cfg_; }

  /// Freezes the encoder and injects LoRA into every self-attention's q, k, v and o (LaVi-Bridge
  /// adapts the language model's T5Attention layers; names <layer>.lora_A.weight / lora_B.weight).
  /// Returns the number of adapted layers.
  index_t add_lora(const nn::LoraOptions& opt) {
    nn::freeze(*this);
    index_t n = 0;
    for (auto& b : blocks)
      n += b.attention.add_lora(
          {.rank = opt.rank, .alpha = opt.alpha, .seed = opt.seed + static_cast<std::uint64_t>(n)});
    return n;
  }

  EncoderOutput<T, P> forward(const Tensor<std::int32_t, Cpu>& input_ids,
                              const Tensor<std::int32_t, Cpu>& attention_mask, Cache& c) {
    // T5's relative positions have no length limit.
    const auto t =
        check_tokens<T>("T5Encoder", input_ids, attention_mask, cfg_.vocab_size, std::numeric_limits<index_t>::max());
    const index_t B = t.batch, L = t.length;
    const TensorT position_bias = cfg_.buckets().bias(relative_attention_bias, L);  // [H, L, L], shared by all blocks
    EncoderOutput<T, P> out;
    out.mask = TensorT::from_host({B, L}, t.mask);
    c.blocks.resize(blocks.size());
    const TensorT* h = &shared.forward(Ids::from_host(input_ids.shape(), t.ids), c.embed);
    for (std::size_t i = 0; i < blocks.size(); ++i) h = &blocks[i].forward(*h, out.mask, position_bias, c.blocks[i]);
    out.last_hidden_state = final_layer_norm.forward(*h, c.final_ln).clone();
    out.mean_pooled = mean_pool(out.last_hidden_state, out.mask);
    c.ids_shape = input_ids.shape();
    return out;
  }

  /// dL/d last_hidden_state [B, L, D] (of the last forward) -> every trainable parameter's gradient,
  /// the shared embedding included. The relative position bias table must be frozen (add_lora
  /// freezes it).
  void backward(const TensorT& d_last_hidden_state, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, (d_last_hidden_state.shape() == Shape{c.ids_shape[0], c.ids_shape[1], cfg_.d_model}),
                     "T5Encoder backward: the gradient has shape {}, the last forward gave [{}, {}, {}]",
                     d_last_hidden_state.shape(), c.ids_shape[0], c.ids_shape[1], cfg_.d_model);
    GLUEGEN_CHECK_AS(ValueError, !relative_attention_bias.weight.trainable,
                     "T5Encoder backward: the relative position bias is not differentiated; freeze it");
    const TensorT* d = &final_layer_norm.backward(d_last_hidden_state, c.final_ln);
    for (std::size_t i = blocks.size(); i-- > 0;) {
      const TensorT& dx = blocks[i].backward(*d, c.blocks[i]);
      if (i + 1 == blocks.size())
        final_layer_norm.release_backward(c.final_ln);
      else
        blocks[i + 1].release_backward(c.blocks[i + 1]);
      d = &dx;
    }
    shared.backward(*d, c.embed);
    if (!blocks.empty())
      blocks.front().release_backward(c.blocks.front());
    else
      final_layer_norm.release_backward(c.final_ln);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    shared.visit_parameters(f, prefix + "shared.");
    for (std::size_t i = 0; i < blocks.size(); ++i)
      blocks[i].visit_parameters(f, prefix + "encoder.block." + std::to_string(i) + ".");
    relative_attention_bias.visit_parameters(f,
                                             prefix + "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.");
    final_layer_norm.visit_parameters(f, prefix + "encoder.final_layer_norm.");
  }

  nn::Embedding<T, P> shared;
  std::vector<T5Block<T, P>> blocks;
  nn::Embedding<T, P> relative_attention_bias;  ///< [buckets, heads]
  nn::RMSNorm<T, P> final_layer_norm;

 private:
  T5Config cfg_;
};

/// Loads a T5 encoder from a safetensors or HDF5 source. Checkpoints that store the tied embedding
/// as encoder.embed_tokens.weight instead of shared.weight are read from there.
template <typename Reader, ComputeElement T, TensorPolicy P>
void load_t5_weights(T5Encoder<T, P>& encoder, const Reader& weights) {
  encoder.visit_parameters(
      [&](const std::string& name, auto& param) {
        if (name == "shared.weight" && !weights.contains(name) && weights.contains("encoder.embed_tokens.weight"))
          weights.read_into("encoder.embed_tokens.weight", param.value);
        else
          weights.read_into(name, param.value);
      },
      "");
}

}  // namespace gluegen::encoders
