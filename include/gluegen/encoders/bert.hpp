#pragma once
// The BERT family of text encoders (Devlin et al. 2019), config-driven from a Hugging Face
// config.json: BERT and MiniLM (model_type "bert"), RoBERTa and XLM-R / multilingual-e5
// ("roberta", "xlm-roberta"), MPNet / all-mpnet-base-v2 ("mpnet"). Post-LayerNorm transformer layers:
//   h = LN(x + Attention(x, mask [, relative position bias]));  y = LN(h + W2 act(W1 h))
// over embeddings LN(word + position [+ token_type]). Positions are 0..L-1 for BERT; RoBERTa-style
// models (and MPNet) count only real tokens and start after the padding id (HF
// create_position_ids_from_input_ids: cumsum(mask) * mask + padding_idx), so padded and unpadded
// batches give the same features. MPNet (Song et al. 2020) has no token types and adds T5's relative
// position bias (relative_position.hpp; one table for all layers) to every layer's attention scores.
// Parameter names are the HF base model's (embeddings.word_embeddings.weight,
// encoder.layer.0.attention.self.query.weight, MPNet's encoder.layer.0.attention.attn.q.weight, ...),
// so weights load from model.safetensors (io::SafetensorsReader) or a converted HDF5 file
// (tools/convert_hf.py) unchanged.
#include <gluegen/encoders/encoder_output.hpp>
#include <gluegen/encoders/relative_position.hpp>
#include <gluegen/nn/activation.hpp>
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/embedding.hpp>
#include <gluegen/nn/norm.hpp>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace gluegen::encoders {

struct BertConfig {
  std::string model_type = "bert";
  index_t vocab_size = 30522, hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12,
          intermediate_size = 3072;
  index_t max_position_embeddings = 512, type_vocab_size = 2, pad_token_id = 0;
  index_t relative_attention_num_buckets = 32;  ///< MPNet only (its maximum distance is fixed at 128)
  double layer_norm_eps = 1e-12;
  std::string hidden_act = "gelu";
  bool add_pooling_layer = true;

  [[nodiscard]] bool mpnet() const { return model_type == "mpnet"; }
  [[nodiscard]] bool roberta_positions() const {
    return model_type == "roberta" || model_type == "xlm-roberta" || mpnet();
  }
  [[nodiscard]] RelativePositionBuckets buckets() const {
    return {.num_buckets = relative_attention_num_buckets, .max_distance = 128};
  }

  /// From a Hugging Face config.json (keys as transformers writes them; missing ones keep BERT's defaults).
  static BertConfig from_json(const nlohmann::json& j) {
    BertConfig c;
    c.model_type = j.value("model_type", c.model_type);
    GLUEGEN_CHECK_AS(ValueError, c.model_type == "bert" || c.roberta_positions(),
                     "BertEncoder: model_type '{}' is not bert, roberta, xlm-roberta or mpnet", c.model_type);
    c.vocab_size = j.value("vocab_size", c.vocab_size);
    c.hidden_size = j.value("hidden_size", c.hidden_size);
    c.num_hidden_layers = j.value("num_hidden_layers", c.num_hidden_layers);
    c.num_attention_heads = j.value("num_attention_heads", c.num_attention_heads);
    c.intermediate_size = j.value("intermediate_size", c.intermediate_size);
    c.max_position_embeddings = j.value("max_position_embeddings", c.max_position_embeddings);
    c.type_vocab_size = c.mpnet() ? 0 : j.value("type_vocab_size", c.type_vocab_size);  // MPNet has no token types
    c.relative_attention_num_buckets = j.value("relative_attention_num_buckets", c.relative_attention_num_buckets);
    c.pad_token_id = j.value("pad_token_id", c.roberta_positions() ? index_t{1} : index_t{0});
    c.layer_norm_eps = j.value("layer_norm_eps", c.layer_norm_eps);
    c.hidden_act = j.value("hidden_act", c.hidden_act);
    const std::string positions = j.value("position_embedding_type", std::string("absolute"));
    GLUEGEN_CHECK_AS(ValueError, positions == "absolute",
                     "BertEncoder: position_embedding_type '{}' is not supported (absolute only)", positions);
    GLUEGEN_CHECK_AS(ValueError, c.hidden_act == "gelu" || c.hidden_act == "gelu_new" || c.hidden_act == "relu",
                     "BertEncoder: hidden_act '{}' is not supported (gelu, gelu_new, relu)", c.hidden_act);
    return c;
  }
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class BertLayer {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    typename nn::MultiHeadAttention<T, P>::Cache attn;
    typename nn::LayerNorm<T, P>::Cache ln_attn, ln_out;
    typename nn::Linear<T, P>::Cache intermediate, output;
    TensorT sum1, act, sum2, d_u, d_h, dx;
  };

  explicit BertLayer(const BertConfig& c)
      : attention({.embed_dim = c.hidden_size, .num_heads = c.num_attention_heads}),
        attention_norm(c.hidden_size, static_cast<T>(c.layer_norm_eps)),
        intermediate(c.hidden_size, c.intermediate_size),
        output(c.intermediate_size, c.hidden_size),
        output_norm(c.hidden_size, static_cast<T>(c.layer_norm_eps)),
        act_(c.hidden_act),
        mpnet_names_(c.mpnet()) {}

  /// x [B, L, D], mask [B, L]; position_bias [H, L, L] or null (MPNet's relative position bias).
  const TensorT& forward(const TensorT& x, const TensorT& mask, const TensorT* position_bias, Cache& c) {
    for (TensorT* buffer : {&c.sum1, &c.sum2}) nn::reset_if_changed(*buffer, x.shape());
    nn::reset_if_changed(c.act, x.shape().with_last(intermediate.out_features()));
    ops::add(x, attention.forward(x, x, &mask, position_bias, c.attn), c.sum1);
    const TensorT& h = attention_norm.forward(c.sum1, c.ln_attn);
    const TensorT& u = intermediate.forward(h, c.intermediate);
    if (act_ == "relu")
      ops::relu(u, c.act);
    else
      ops::gelu(u, c.act, act_ == "gelu" ? ops::GeluApproximation::erf : ops::GeluApproximation::tanh);
    ops::add(h, output.forward(c.act, c.output), c.sum2);
    return output_norm.forward(c.sum2, c.ln_out);
  }

  /// dy [B, L, D] -> dL/dx; adds every trainable parameter's gradient (LoRA in the attention
  /// included), so a language model can be adapted through the loss of what it feeds (LaVi-Bridge).
  const TensorT& backward(const TensorT& dy, Cache& c) {
    nn::reset_if_changed(c.d_u, c.act.shape());  // the cache may have served another length before
    for (TensorT* buffer : {&c.d_h, &c.dx}) nn::reset_if_changed(*buffer, c.sum1.shape());
    const TensorT& d_sum2 = output_norm.backward(dy, c.ln_out);  // h feeds the residual and the MLP
    const auto op = act_ == "relu" ? UnaryOp::relu : act_ == "gelu" ? UnaryOp::gelu_erf : UnaryOp::gelu_tanh;
    ops::unary_backward(op, c.intermediate.y, output.backward(d_sum2, c.output), c.d_u);
    ops::add(d_sum2, intermediate.backward(c.d_u, c.intermediate), c.d_h);
    const TensorT& d_sum1 = attention_norm.backward(c.d_h, c.ln_attn);  // x feeds the residual and the attention
    ops::add(d_sum1, attention.backward(d_sum1, c.attn), c.dx);
    return c.dx;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    if (mpnet_names_) {
      nn::visit_renamed(attention, f, prefix,
                        {{"q_proj.", "attention.attn.q."},
                         {"k_proj.", "attention.attn.k."},
                         {"v_proj.", "attention.attn.v."},
                         {"out_proj.", "attention.attn.o."}});
      attention_norm.visit_parameters(f, prefix + "attention.LayerNorm.");
    } else {
      nn::visit_renamed(attention, f, prefix,
                        {{"q_proj.", "attention.self.query."},
                         {"k_proj.", "attention.self.key."},
                         {"v_proj.", "attention.self.value."},
                         {"out_proj.", "attention.output.dense."}});
      attention_norm.visit_parameters(f, prefix + "attention.output.LayerNorm.");
    }
    intermediate.visit_parameters(f, prefix + "intermediate.dense.");
    output.visit_parameters(f, prefix + "output.dense.");
    output_norm.visit_parameters(f, prefix + "output.LayerNorm.");
  }

  nn::MultiHeadAttention<T, P> attention;
  nn::LayerNorm<T, P> attention_norm;
  nn::Linear<T, P> intermediate, output;
  nn::LayerNorm<T, P> output_norm;

 private:
  std::string act_;
  bool mpnet_names_;
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class BertEncoder {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Ids = Tensor<std::int32_t, P>;
  struct Cache {
    typename nn::Embedding<T, P>::Cache word, position, token_type;
    typename nn::LayerNorm<T, P>::Cache ln;
    std::vector<typename BertLayer<T, P>::Cache> layers;
    typename nn::Linear<T, P>::Cache pooler;
    TensorT sum;
    Shape ids_shape;
  };

  explicit BertEncoder(const BertConfig& c)
      : word_embeddings(c.vocab_size, c.hidden_size),
        position_embeddings(c.max_position_embeddings, c.hidden_size),
        embedding_norm(c.hidden_size, static_cast<T>(c.layer_norm_eps)),
        pooler(c.hidden_size, c.hidden_size),
        cfg_(c) {
    if (c.type_vocab_size > 0) token_type_embeddings.emplace(c.type_vocab_size, c.hidden_size);
    if (c.mpnet()) relative_attention_bias.emplace(c.relative_attention_num_buckets, c.num_attention_heads);
    for (index_t i = 0; i < c.num_hidden_layers; ++i) layers.emplace_back(c);
  }

  [[nodiscard]] const BertConfig& config() const noexcept { return cfg_; }
  /// Models saved without the pooler (sentence-transformers, e5) drop it: no pooler_output, no names.
  void set_pooling_layer(bool on) noexcept { cfg_.add_pooling_layer = on; }

  /// input_ids and attention_mask [B, L] (token_type_ids optional, zeros by default; none for MPNet).
  EncoderOutput<T, P> forward(const Tensor<std::int32_t, Cpu>& input_ids,
                              const Tensor<std::int32_t, Cpu>& attention_mask, Cache& c,
                              const Tensor<std::int32_t, Cpu>* token_type_ids = nullptr) {
    GLUEGEN_CHECK_AS(ShapeError, !token_type_ids || token_type_ids->shape() == input_ids.shape(),
                     "BertEncoder: token_type_ids {} differ from input_ids {}", token_type_ids->shape(),
                     input_ids.shape());
    GLUEGEN_CHECK_AS(ValueError, !token_type_ids || token_type_embeddings,
                     "BertEncoder: token_type_ids given, but this {} model has no token types", cfg_.model_type);
    const auto t =
        check_tokens<T>("BertEncoder", input_ids, attention_mask, cfg_.vocab_size, cfg_.max_position_embeddings);
    const index_t B = t.batch, L = t.length;
    const auto& ids = t.ids;
    std::vector<std::int32_t> positions(ids.size());
    for (index_t b = 0; b < B; ++b) {
      std::int32_t running = 0;
      for (index_t l = 0; l < L; ++l) {
        const auto k = static_cast<std::size_t>(b * L + l);
        // RoBERTa numbers the non-padding ids (HF looks at the ids, not the attention mask) after
        // the padding id; BERT numbers every position.
        const bool counted = ids[k] != cfg_.pad_token_id;
        running += counted;
        const auto pad = static_cast<std::int32_t>(cfg_.pad_token_id);
        positions[k] = cfg_.roberta_positions() ? (counted ? running + pad : pad) : static_cast<std::int32_t>(l);
        GLUEGEN_CHECK_AS(ShapeError, positions[k] < cfg_.max_position_embeddings,
                         "BertEncoder: {} tokens exceed max_position_embeddings {}", L, cfg_.max_position_embeddings);
      }
    }
    const Ids ids_p = Ids::from_host(input_ids.shape(), ids), pos_p = Ids::from_host(input_ids.shape(), positions);
    nn::reset_if_changed(c.sum, Shape{B, L, cfg_.hidden_size});
    c.ids_shape = input_ids.shape();
    ops::add(word_embeddings.forward(ids_p, c.word), position_embeddings.forward(pos_p, c.position), c.sum);
    if (token_type_embeddings) {
      const Ids types = token_type_ids ? Ids::from_host(input_ids.shape(), token_type_ids->to_vector())
                                       : Ids::zeros(input_ids.shape());
      ops::add(c.sum, token_type_embeddings->forward(types, c.token_type), c.sum);
    }
    // MPNet's bias counts positions 0..L-1 (not the padding-aware ids above): with right padding the
    // real tokens see the same distances either way.
    std::optional<TensorT> position_bias;
    if (relative_attention_bias) position_bias = cfg_.buckets().bias(*relative_attention_bias, L);
    EncoderOutput<T, P> out;
    out.mask = TensorT::from_host({B, L}, t.mask);
    c.layers.resize(layers.size());
    const TensorT* h = &embedding_norm.forward(c.sum, c.ln);
    for (std::size_t i = 0; i < layers.size(); ++i)
      h = &layers[i].forward(*h, out.mask, position_bias ? &*position_bias : nullptr, c.layers[i]);
    out.last_hidden_state = h->clone();
    out.mean_pooled = mean_pool(out.last_hidden_state, out.mask);
    if (cfg_.add_pooling_layer) {
      const TensorT cls = out.last_hidden_state.permute({1, 0, 2}).select(0).contiguous();  // [B, D]: the first token
      std::vector<T> pooled = pooler.forward(cls, c.pooler).to_vector();
      for (T& v : pooled) v = std::tanh(v);
      out.pooler_output = TensorT::from_host({B, cfg_.hidden_size}, pooled);
    }
    return out;
  }

  /// Freezes the encoder and injects LoRA into every self-attention's query, key, value and output
  /// projections (LaVi-Bridge adapts the language model's attention). Returns the adapted layers.
  index_t add_lora(const nn::LoraOptions& opt) {
    nn::freeze(*this);
    index_t n = 0;
    for (auto& l : layers)
      n += l.attention.add_lora(
          {.rank = opt.rank, .alpha = opt.alpha, .seed = opt.seed + static_cast<std::uint64_t>(n)});
    return n;
  }

  /// dL/d last_hidden_state [B, L, D] (of the last forward) -> every trainable parameter's gradient,
  /// the embeddings included. The pooler output is not differentiated, and MPNet's relative-position
  /// table must be frozen (add_lora freezes it).
  void backward(const TensorT& d_last_hidden_state, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError,
                     (d_last_hidden_state.shape() == Shape{c.ids_shape[0], c.ids_shape[1], cfg_.hidden_size}),
                     "BertEncoder backward: the gradient has shape {}, the last forward gave [{}, {}, {}]",
                     d_last_hidden_state.shape(), c.ids_shape[0], c.ids_shape[1], cfg_.hidden_size);
    GLUEGEN_CHECK_AS(ValueError, !relative_attention_bias || !relative_attention_bias->weight.trainable,
                     "BertEncoder backward: MPNet's relative-position table is not differentiated; freeze it");
    const TensorT* d = &d_last_hidden_state;
    for (std::size_t i = layers.size(); i-- > 0;) d = &layers[i].backward(*d, c.layers[i]);
    const TensorT& d_sum = embedding_norm.backward(*d, c.ln);
    word_embeddings.backward(d_sum, c.word);
    position_embeddings.backward(d_sum, c.position);
    if (token_type_embeddings) token_type_embeddings->backward(d_sum, c.token_type);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    word_embeddings.visit_parameters(f, prefix + "embeddings.word_embeddings.");
    position_embeddings.visit_parameters(f, prefix + "embeddings.position_embeddings.");
    if (token_type_embeddings) token_type_embeddings->visit_parameters(f, prefix + "embeddings.token_type_embeddings.");
    embedding_norm.visit_parameters(f, prefix + "embeddings.LayerNorm.");
    for (std::size_t i = 0; i < layers.size(); ++i)
      layers[i].visit_parameters(f, prefix + "encoder.layer." + std::to_string(i) + ".");
    if (relative_attention_bias)
      relative_attention_bias->visit_parameters(f, prefix + "encoder.relative_attention_bias.");
    if (cfg_.add_pooling_layer) pooler.visit_parameters(f, prefix + "pooler.dense.");
  }

  nn::Embedding<T, P> word_embeddings, position_embeddings;
  std::optional<nn::Embedding<T, P>> token_type_embeddings;    ///< absent for MPNet
  std::optional<nn::Embedding<T, P>> relative_attention_bias;  ///< MPNet's [buckets, heads] table
  nn::LayerNorm<T, P> embedding_norm;
  std::vector<BertLayer<T, P>> layers;
  nn::Linear<T, P> pooler;

 private:
  BertConfig cfg_;
};

/// Loads every parameter of `encoder` from a weight source with read_into(name, tensor) and
/// contains(name) (io::SafetensorsReader, io::WeightReader). Checkpoints of task models carry the
/// base model under a prefix ("bert.", "roberta."); it is found from the word embeddings. A model
/// saved without a pooler (sentence-transformers, e5) loads with add_pooling_layer = false.
template <typename Reader, ComputeElement T, TensorPolicy P>
void load_bert_weights(BertEncoder<T, P>& encoder, const Reader& weights) {
  std::string prefix;
  for (const char* p : {"", "bert.", "roberta.", "mpnet.", "model."})
    if (weights.contains(std::string(p) + "embeddings.word_embeddings.weight")) {
      prefix = p;
      break;
    }
  encoder.set_pooling_layer(weights.contains(prefix + "pooler.dense.weight"));
  read_weights(encoder, weights, prefix);
}

}  // namespace gluegen::encoders
