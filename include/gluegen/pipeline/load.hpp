#pragma once
// The one run-time choice of a pipeline, made at the edge: which aligner a file holds. load_pipeline
// reads the files' model_types once and returns the concrete Pipeline type in a std::variant; code
// that uses it visits once (std::visit) and from then on runs composed by type.
//   decoder           a UNet file (gluegen train-decoder, tools/convert_diffusers.py) with its noise record
//   encoder           the decoder's own text encoder: the conditioning when there is no aligner, and
//                     the null conditioning beside one
//   source_encoder    with aligner: the encoder the aligner was trained on: a Hugging Face text encoder,
//                     or a Whisper model, which makes the source spoken prompts (SpokenPromptEncoder,
//                     with `speech`'s voices, rate and noise) and takes recorded clips
//   aligner           gluegen.gluenet (its f), gluegen.translator, gluegen.attention_aligner,
//                     gluegen.linear_aligner, gluegen.timestep_connector, or gluegen.lavi_bridge (its
//                     adapter; its LoRA goes into the decoder and, when it has some, the source encoder)
// The files' provenance records (io/provenance.hpp) are checked against each other and against the
// models loaded: the source encoder and token length the aligner was trained with, the target encoder
// it maps into against the decoder's text encoder, the decoder's text encoder against `encoder`, the
// decoder a LaVi-Bridge or ELLA file adapts. A mismatch is a ModelMismatchError unless allow_mismatch.
#include <gluegen/aligners/identity.hpp>
#include <gluegen/pipeline/lavi_bridge_file.hpp>
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/encoders/spoken_prompts.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/pipeline/pipeline.hpp>

#include <variant>

namespace gluegen {

struct PipelineFiles {
  std::filesystem::path decoder{}, encoder{}, source_encoder{}, aligner{}, vae{};
  std::string scheduler = "DPMSolverMultistepScheduler";
  index_t length = 77;                     ///< tokens per prompt into the decoder's own encoder
  index_t source_length = 77;              ///< tokens per prompt into the source encoder
  encoders::SpokenPromptOptions speech{};  ///< with a Whisper source encoder: how the prompts are spoken
  bool allow_mismatch = false;             ///< use models together that their files say were not trained together

  [[nodiscard]] bool glued() const { return !aligner.empty(); }
};

/// A pipeline on the CPU over source encoder E and a UNet, with aligner A.
template <typename E, typename A>
using CpuPipeline = Pipeline<E, A, diffusion::UNet2DCondition<float, Cpu>>;
/// ... over a Hugging Face BERT-family source encoder.
template <typename A>
using HfPipeline = CpuPipeline<encoders::HfTextEncoder<float, Cpu>, A>;
/// ... over spoken prompts (or recorded clips) through Whisper.
template <typename A>
using SpeechPipeline = CpuPipeline<encoders::SpokenPromptEncoder<float, Cpu>, A>;

/// Every aligner type a file can hold, over each source encoder type Es.
template <typename... Es>
using PipelineOver = std::variant<
    CpuPipeline<Es, aligners::Identity<float, Cpu>>..., CpuPipeline<Es, aligners::TranslatorNoLn<float, Cpu>>...,
    CpuPipeline<Es, aligners::Translator<float, Cpu>>..., CpuPipeline<Es, aligners::AttentionAligner<float, Cpu>>...,
    CpuPipeline<Es, aligners::LinearAligner<float, Cpu>>...,
    CpuPipeline<Es, aligners::LaviBridgeAdapter<float, Cpu>>...,
    CpuPipeline<Es, aligners::TimestepConnector<float, Cpu>>...>;

using AnyPipeline = PipelineOver<encoders::HfTextEncoder<float, Cpu>, encoders::SpokenPromptEncoder<float, Cpu>>;

namespace detail {
/// Calls f with the aligner `in` holds, loaded for inference: aligners::visit_aligner_file's, unwrapped
/// (GlueNet: its encoder f; Supervised<A>: A), and ELLA's connector, which that visitor does not load.
template <typename F>
decltype(auto) visit_inference_aligner(const io::WeightReader& in, F&& f) {
  if (in.meta().model_type == aligners::kTimestepConnectorModelType)
    return f(aligners::load_timestep_connector<float, Cpu>(in));
  return aligners::visit_aligner_file<float, Cpu>(in, [&](auto& a) -> decltype(auto) {
    if constexpr (requires { a.encoder; })
      return f(std::move(a.encoder));
    else
      return f(std::move(a.aligner));
  });
}

using CpuDecoder = diffusion::DiffusionDecoder<diffusion::UNet2DCondition<float, Cpu>>;

/// The decoder's own text encoder, checked against the encoder and length the decoder file records.
inline encoders::HfTextEncoder<float, Cpu> decoder_text_encoder(const PipelineFiles& files,
                                                                const nlohmann::json& decoder_record) {
  encoders::HfTextEncoder<float, Cpu> encoder(files.encoder);
  if (!files.allow_mismatch) {
    if (io::ModelIdentity::recorded(decoder_record, "text_encoder"))
      io::check_recorded_identity(files.decoder, decoder_record, "text_encoder", "text encoder", encoder.identity());
    io::check_recorded_length(files.decoder, decoder_record, "text_length", "--length", files.length);
  }
  return encoder;
}

/// An aligner's record against the source encoder it is given and the decoder it is to condition.
template <typename E>
void check_aligner_record(const PipelineFiles& files, const io::WeightReader& in, E& source, CpuDecoder& decoder,
                          const nlohmann::json& decoder_record) {
  if (files.allow_mismatch) return;
  const nlohmann::json& record = in.meta().provenance;
  if (io::ModelIdentity::recorded(record, "source_encoder"))
    io::check_recorded_identity(files.aligner, record, "source_encoder", "source encoder", source.identity());
  io::check_recorded_length(files.aligner, record, "source_length", "--source-length", files.source_length);
  if (io::ModelIdentity::recorded(record, "decoder"))
    io::check_recorded_identity(files.aligner, record, "decoder", "decoder",
                                {files.decoder.stem().string(), io::weights_sha256(decoder.denoiser)});
  const auto target = io::ModelIdentity::recorded(record, "target_encoder");
  const auto decoder_text = io::ModelIdentity::recorded(decoder_record, "text_encoder");
  GLUEGEN_CHECK_AS(ModelMismatchError, !target || !decoder_text || target->sha256 == decoder_text->sha256,
                   "'{}' maps into the features of the target encoder {}, but the decoder '{}' was trained on those of "
                   "{}; pass the decoder it was trained for, or {}",
                   files.aligner.string(), target->describe(), files.decoder.string(), decoder_text->describe(),
                   io::kAllowMismatchHint);
}

/// The glued pipeline over `source`: the aligner file's type, LaVi-Bridge's LoRA injected.
template <typename E>
AnyPipeline load_glued(const PipelineFiles& files, E source, CpuDecoder decoder, const nlohmann::json& decoder_record) {
  const io::WeightReader in(files.aligner);
  check_aligner_record(files, in, source, decoder, decoder_record);
  if (in.meta().model_type ==
      aligners::kLaviBridgeModelType) {  // LaVi-Bridge adapts the decoder, and maybe the language model
    add_lavi_bridge_lora(in, decoder.denoiser);
    if (LaviBridgeFile::read(in).text_encoder_lora) {
      if constexpr (requires { add_lavi_bridge_lora(in, source.model()); })
        add_lavi_bridge_lora(in, source.model());
      else
        GLUEGEN_THROW(ValueError, "'{}' holds LoRA for a language model; the source encoder '{}' is not one",
                      files.aligner.string(), files.source_encoder.string());
    }
  }
  PipelineOptions<float, Cpu> options{.source_length = files.source_length};
  if (!files.encoder.empty())
    options.null_condition =
        decoder_text_encoder(files, decoder_record).encode({""}, files.length).last_hidden_state.clone();
  return visit_inference_aligner(in, [&](auto aligner) -> AnyPipeline {
    return CpuPipeline<E, decltype(aligner)>(std::move(source), std::move(aligner), std::move(decoder),
                                             std::move(options));
  });
}
}  // namespace detail

/// The decoder with the files' sampler, and a pipeline over the source encoder's kind (a Whisper
/// folder: spoken prompts) and the aligner file's type (Identity without one).
[[nodiscard]] inline AnyPipeline load_pipeline(const PipelineFiles& files) {
  using Encoder = encoders::HfTextEncoder<float, Cpu>;
  GLUEGEN_CHECK_AS(ValueError, files.glued() || !files.encoder.empty(),
                   "a pipeline needs the decoder's own text encoder, or a source encoder and an aligner");
  GLUEGEN_CHECK_AS(ValueError, !files.glued() || !files.source_encoder.empty(),
                   "the aligner '{}' needs the source encoder it was trained on", files.aligner.string());
  auto decoder = diffusion::load_diffusion_decoder<float, Cpu>(files.decoder, files.scheduler, files.vae);
  const nlohmann::json decoder_record = io::WeightReader(files.decoder).meta().provenance;
  if (!files.glued())
    return HfPipeline<aligners::Identity<float, Cpu>>(detail::decoder_text_encoder(files, decoder_record), {},
                                                      std::move(decoder), {.source_length = files.length});
  if (encoders::is_whisper_folder(files.source_encoder))
    return detail::load_glued(files, encoders::SpokenPromptEncoder<float, Cpu>(files.source_encoder, files.speech),
                              std::move(decoder), decoder_record);
  return detail::load_glued(files, Encoder(files.source_encoder), std::move(decoder), decoder_record);
}

}  // namespace gluegen
