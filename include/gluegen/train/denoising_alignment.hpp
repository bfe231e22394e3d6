#pragma once
// Training an aligner through a frozen diffusion decoder (LaVi-Bridge, ELLA): the aligner's output is
// the UNet's conditioning, and the loss is the decoder's own denoising objective (Ho et al. 2020,
// eq. 14): L = mean ||eps_theta(x_t, t, f(S)) - eps||^2 (or the v target), so dL/df(S) comes back
// through the UNet's cross-attention (cache.d_context) into the aligner's backward. Trainable LoRA
// adapters in the UNet (UNet2DCondition::add_lora) receive their gradients in the same pass, and, with
// the language model in the loop (LaviBridgeLmUNet), LoRA in its attention too. ELLA's timestep-aware
// connector trains the same way (TimestepConnectorUNet), its conditioning a function of the timestep.
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/aligners/timestep_connector.hpp>
#include <gluegen/pipeline/lavi_bridge_file.hpp>
#include <gluegen/encoders/bert.hpp>
#include <gluegen/encoders/t5.hpp>
#include <gluegen/diffusion/noise_schedule.hpp>
#include <gluegen/diffusion/unet.hpp>
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/losses/regression.hpp>
#include <gluegen/train/decoder_trainer.hpp>

#include <random>

namespace gluegen::train {

/// One sample of the denoising loss's randomness: timesteps per example and the noise.
template <ComputeElement T, TensorPolicy P>
struct DenoisingDraw {
  std::vector<index_t> timesteps;
  Tensor<T, P> noise;

  static DenoisingDraw draw(const diffusion::NoiseSchedule& s, const Shape& x0_shape, std::uint64_t seed,
                            std::uint64_t step) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + step);
    std::uniform_int_distribution<index_t> pick(0, s.num_train_timesteps() - 1);
    DenoisingDraw d{std::vector<index_t>(static_cast<std::size_t>(x0_shape[0])),
                    ops::randn<T, P>(x0_shape, seed + 1, step)};
    for (auto& t : d.timesteps) t = pick(rng);
    return d;
  }
};

/// Forward and backward of the denoising loss for aligner `a` (any Layer: source [B, L, D] -> the
/// UNet's conditioning) through `unet`; accumulates gradients into every trainable parameter of
/// both. Returns the loss. x0: clean samples (pixels or VAE latents times scaling_factor).
template <nn::Layer A, ComputeElement T, TensorPolicy P>
  requires std::same_as<typename A::value_type, T> && std::same_as<typename A::policy, P>
double denoising_loss_step(A& aligner, typename A::Cache& aligner_cache, diffusion::UNet2DCondition<T, P>& unet,
                           typename diffusion::UNet2DCondition<T, P>::Cache& unet_cache,
                           const diffusion::NoiseSchedule& schedule, const Tensor<T, P>& source, const Tensor<T, P>& x0,
                           const DenoisingDraw<T, P>& draw) {
  const Tensor<T, P>& cond = aligner.forward(source, aligner_cache);
  const Tensor<T, P> xt = schedule.add_noise(x0, draw.noise, draw.timesteps);
  const Tensor<T, P> target = schedule.config().prediction == diffusion::Prediction::v
                                  ? schedule.velocity(x0, draw.noise, draw.timesteps)
                                  : draw.noise;
  const std::vector<double> t(draw.timesteps.begin(), draw.timesteps.end());
  Tensor<T, P> d;
  const double loss = losses::mse(unet.forward(xt, t, cond, unet_cache), target, d);
  unet.backward(d, unet_cache);
  aligner.backward(unet_cache.d_context, aligner_cache);
  return loss;
}

/// An aligner trained through a frozen diffusion decoder: its output, at the diffusion timestep of each
/// example when it takes one (ELLA), is the UNet's conditioning. A TrainableDenoiser, so DecoderTrainer
/// trains it on the decoder's own denoising loss: the backward goes through the UNet's cross-attention
/// into the aligner, and reaches whatever in the UNet is still trainable (LaVi-Bridge's LoRA).
template <nn::Module A>
class AlignedDenoiser {
 public:
  using value_type = typename A::value_type;
  using policy = typename A::policy;
  using UNet = diffusion::UNet2DCondition<value_type, policy>;
  struct Cache {
    typename A::Cache aligner;
    typename UNet::Cache unet;
  };

  /// `aligner_prefix` names the aligner's parameters in checkpoints and exported files.
  AlignedDenoiser(A aligner_, UNet unet_, std::string aligner_prefix)
      : aligner(std::move(aligner_)), unet(std::move(unet_)), aligner_prefix_(std::move(aligner_prefix)) {}

  /// xt [B, C, H, W] at timesteps t, source features [B, L, D] -> the UNet's prediction.
  const Tensor<value_type, policy>& forward(const Tensor<value_type, policy>& xt, std::span<const double> t,
                                            const Tensor<value_type, policy>& source, Cache& c) {
    if constexpr (requires { aligner.forward(source, t, c.aligner); }) {
      return unet.forward(xt, t, aligner.forward(source, t, c.aligner), c.unet);
    } else {
      return unet.forward(xt, t, aligner.forward(source, c.aligner), c.unet);
    }
  }
  /// -> dL/dsource; gradients reach the aligner and the UNet's trainable parameters.
  const Tensor<value_type, policy>& backward(const Tensor<value_type, policy>& dy, Cache& c) {
    unet.backward(dy, c.unet);
    return aligner.backward(c.unet.d_context, c.aligner);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    aligner.visit_parameters(f, prefix + aligner_prefix_);
    unet.visit_parameters(f, prefix + "unet.");
  }

  A aligner;
  UNet unet;

 protected:
  /// The aligner must produce the UNet's cross-attention width.
  void check_width(index_t aligner_width, const char* what) const {
    GLUEGEN_CHECK_AS(ShapeError, aligner_width == unet.config().cross_attention_dim,
                     "{}: the aligner outputs {} channels, the UNet attends to {}", what, aligner_width,
                     unet.config().cross_attention_dim);
  }

 private:
  std::string aligner_prefix_;
};

/// LaVi-Bridge's trained pair (Zhao et al. 2024, sec. 3.2): the adapter turns a source encoder's token
/// features into the conditioning of a frozen UNet with LoRA injected (UNetLoraTargets::lavi_bridge()
/// by default); only the adapter and the LoRA tensors train. Parameter names adapter.* and unet.* are
/// those of a converted LaVi-Bridge file, which is what it exports.
template <ComputeElement T, TensorPolicy P>
class LaviBridgeUNet : public AlignedDenoiser<aligners::LaviBridgeAdapter<T, P>> {
 public:
  using Base = AlignedDenoiser<aligners::LaviBridgeAdapter<T, P>>;
  using Adapter = aligners::LaviBridgeAdapter<T, P>;

  /// Freezes `unet` and injects LoRA into it.
  LaviBridgeUNet(Adapter adapter, typename Base::UNet unet, const nn::LoraOptions& lora,
                 diffusion::UNetLoraTargets targets = diffusion::UNetLoraTargets::lavi_bridge())
      : Base(std::move(adapter), std::move(unet), "adapter."),
        lora_(lora),
        targets_(targets),
        layers_(this->unet.add_lora(lora, targets)) {
    this->check_width(this->aligner.config().out_dim, "LaviBridgeUNet");
  }

  [[nodiscard]] index_t lora_layers() const noexcept { return layers_; }
  [[nodiscard]] const nn::LoraOptions& lora() const noexcept { return lora_; }
  [[nodiscard]] io::ModelMeta meta(const LaviBridgeTextLora& text = {}) const {
    return lavi_bridge_meta(this->aligner.config(), lora_, targets_, layers_, text);
  }

 private:
  nn::LoraOptions lora_;
  diffusion::UNetLoraTargets targets_;
  index_t layers_;
};

/// ELLA's trained part (Hu et al. 2024, sec. 3.2): the timestep-aware connector maps a source encoder's
/// token features, at the diffusion timestep of each example, into the conditioning of a frozen UNet; only
/// the connector trains. Its parameters keep ELLA's own names (time_embedding.*, connector.*). It exports
/// gluegen.timestep_connector, which load_pipeline runs at every sampling step.
template <ComputeElement T, TensorPolicy P>
class TimestepConnectorUNet : public AlignedDenoiser<aligners::TimestepConnector<T, P>> {
 public:
  using Base = AlignedDenoiser<aligners::TimestepConnector<T, P>>;

  /// Freezes `unet`.
  TimestepConnectorUNet(aligners::TimestepConnector<T, P> connector, typename Base::UNet unet)
      : Base(std::move(connector), std::move(unet), "") {
    this->check_width(this->aligner.config().width, "TimestepConnectorUNet");
    nn::freeze(this->unet);
  }
};

template <ComputeElement T, TensorPolicy P>
nlohmann::json denoiser_config(const TimestepConnectorUNet<T, P>& m) {
  return {{"unet", m.unet.config().to_json()},
          {"timestep_connector", aligners::timestep_connector_meta(m.aligner.config()).config}};
}

/// The gluegen.timestep_connector file: the connector alone (the frozen UNet is the decoder file's).
template <ComputeElement T, TensorPolicy P, typename ValueOf>
void export_denoiser(TimestepConnectorUNet<T, P>& m, const std::filesystem::path& path,
                     const diffusion::SchedulerConfig& /*noise*/, const nlohmann::json& provenance,
                     ValueOf&& value_of) {
  io::ModelMeta meta = aligners::timestep_connector_meta(m.aligner.config());
  meta.provenance = provenance;
  io::WeightWriter out(path, meta);
  m.aligner.visit_parameters([&](const std::string& name, auto& p) { out.write(name, value_of(name, p)); }, "");
  out.commit();
}

namespace detail {
/// A language model's identity in checkpoints (the width is what the adapter must take).
template <ComputeElement T, TensorPolicy P>
nlohmann::json language_model_json(const encoders::BertEncoder<T, P>& m) {
  const auto& c = m.config();
  return {{"model_type", c.model_type},
          {"vocab_size", c.vocab_size},
          {"hidden_size", c.hidden_size},
          {"layers", c.num_hidden_layers}};
}
template <ComputeElement T, TensorPolicy P>
nlohmann::json language_model_json(const encoders::T5Encoder<T, P>& m) {
  const auto& c = m.config();
  return {{"model_type", "t5"}, {"vocab_size", c.vocab_size}, {"hidden_size", c.d_model}, {"layers", c.num_layers}};
}
}  // namespace detail

/// LaVi-Bridge's full setting (Zhao et al. 2024, sec. 3.2): the language model (T5, as LaVi-Bridge's
/// T5 variants, or the BERT family) runs in every step with LoRA in its self-attention (q, k, v,
/// out), so the caption tokens go language model -> adapter -> UNet and the denoising loss's
/// gradient comes back through all three; the language model's and the UNet's weights stay frozen.
/// Its batches carry token ids (Context). Exported names: those of LaviBridgeUNet plus
/// text_encoder.<layer>.lora_{A,B}.weight (for T5 exactly a converted release's), one LoRA rank for
/// both models as the release has.
template <ComputeElement T, TensorPolicy P, typename LanguageModel = encoders::BertEncoder<T, P>>
  requires requires(const LanguageModel& m) { detail::language_model_json(m); }
class LaviBridgeLmUNet {
 public:
  using value_type = T;
  using policy = P;
  using Context = text::TokenBatch;
  using Bridge = LaviBridgeUNet<T, P>;
  struct Cache {
    typename LanguageModel::Cache lm;
    typename Bridge::Cache bridge;
    Tensor<T, P> features;
  };

  /// Freezes `language_model` and injects LoRA into its attention, with the bridge's rank and alpha.
  LaviBridgeLmUNet(LanguageModel language_model, Bridge bridge)
      : text_encoder(std::move(language_model)),
        bridge(std::move(bridge)),
        text_layers_(text_encoder.add_lora({.rank = this->bridge.lora().rank,
                                            .alpha = this->bridge.lora().alpha,
                                            .seed = this->bridge.lora().seed + 0x5EEDull})) {
    const auto width = detail::language_model_json(text_encoder).at("hidden_size").template get<index_t>();
    GLUEGEN_CHECK_AS(ShapeError, width == this->bridge.aligner.config().in_dim,
                     "LaviBridgeLmUNet: the language model outputs {} channels, the adapter takes {}", width,
                     this->bridge.aligner.config().in_dim);
  }

  [[nodiscard]] index_t text_encoder_lora_layers() const noexcept { return text_layers_; }
  [[nodiscard]] io::ModelMeta meta() const { return bridge.meta(lavi_bridge_text_lora(text_encoder, text_layers_)); }

  /// xt [B, C, H, W], caption tokens [B, L] -> the UNet's prediction.
  const Tensor<T, P>& forward(const Tensor<T, P>& xt, std::span<const double> t, const text::TokenBatch& tokens,
                              Cache& c) {
    c.features = text_encoder.forward(tokens.input_ids, tokens.attention_mask, c.lm).last_hidden_state;
    return bridge.forward(xt, t, c.features, c.bridge);
  }
  /// -> dL/d the language model's features; gradients reach its LoRA, the adapter and the UNet's LoRA.
  const Tensor<T, P>& backward(const Tensor<T, P>& dy, Cache& c) {
    const Tensor<T, P>& d_features = bridge.backward(dy, c.bridge);
    text_encoder.backward(d_features, c.lm);
    return d_features;
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    bridge.visit_parameters(f, prefix);
    text_encoder.visit_parameters(f, prefix + "text_encoder.");
  }

  LanguageModel text_encoder;
  Bridge bridge;

 private:
  index_t text_layers_;
};

template <ComputeElement T, TensorPolicy P>
nlohmann::json denoiser_config(const LaviBridgeUNet<T, P>& m) {
  return {{"unet", m.unet.config().to_json()}, {"lavi_bridge", m.meta().config}};
}
template <ComputeElement T, TensorPolicy P, typename LanguageModel>
nlohmann::json denoiser_config(const LaviBridgeLmUNet<T, P, LanguageModel>& m) {
  return {{"unet", m.bridge.unet.config().to_json()},
          {"lavi_bridge", m.meta().config},
          {"language_model", detail::language_model_json(m.text_encoder)}};
}

/// The gluegen.lavi_bridge file: the adapter and the LoRA tensors (the frozen UNet is the decoder
/// file's, the frozen language model the source encoder's), f16 storage as the exported decoder. The
/// noise schedule is the decoder file's, recorded there.
template <typename M, typename ValueOf>
  requires requires(const M& m) {
    { m.meta() } -> std::same_as<io::ModelMeta>;  // LaviBridgeUNet, LaviBridgeLmUNet
  }
void export_denoiser(M& m, const std::filesystem::path& path, const diffusion::SchedulerConfig& /*noise*/,
                     const nlohmann::json& provenance, ValueOf&& value_of) {
  io::ModelMeta meta = m.meta();
  meta.provenance = provenance;
  io::WeightWriter out(path, meta);
  m.visit_parameters(
      [&](const std::string& name, auto& p) {
        if (p.trainable) out.write(name, value_of(name, p), DType::f16);
      },
      "");
  out.commit();
}

}  // namespace gluegen::train
