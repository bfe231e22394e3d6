#pragma once
// The one run-time choice of a pipeline, made at the edge: which aligner a file holds. load_pipeline
// reads the files' model_types once and returns the concrete Pipeline type in a std::variant; code
// that uses it visits once (std::visit) and from then on runs composed by type.
//   decoder           a UNet file (gluegen train-decoder, tools/convert_diffusers.py) with its noise record
//   encoder           the decoder's own text encoder: the conditioning when there is no aligner, and
//                     the null conditioning beside one
//   source_encoder    with aligner: the encoder the aligner was trained on
//   aligner           gluegen.gluenet (its f), gluegen.translator, gluegen.attention_aligner,
//                     gluegen.linear_aligner, gluegen.timestep_connector, or gluegen.lavi_bridge (its
//                     adapter; its LoRA goes into the decoder and, when it has some, the source encoder)
#include <gluegen/aligners/identity.hpp>
#include <gluegen/pipeline/lavi_bridge_file.hpp>
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/pipeline/pipeline.hpp>

#include <variant>

namespace gluegen {

struct PipelineFiles {
  std::filesystem::path decoder{}, encoder{}, source_encoder{}, aligner{}, vae{};
  std::string scheduler = "DPMSolverMultistepScheduler";
  index_t length = 77;         ///< tokens per prompt into the decoder's own encoder
  index_t source_length = 77;  ///< tokens per prompt into the source encoder

  [[nodiscard]] bool glued() const { return !aligner.empty(); }
};

/// A pipeline over a Hugging Face BERT-family source encoder and a UNet, with aligner A.
template <typename A>
using HfPipeline = Pipeline<encoders::HfTextEncoder<float, Cpu>, A, diffusion::UNet2DCondition<float, Cpu>>;

using AnyPipeline =
    std::variant<HfPipeline<aligners::Identity<float, Cpu>>, HfPipeline<aligners::TranslatorNoLn<float, Cpu>>,
                 HfPipeline<aligners::Translator<float, Cpu>>, HfPipeline<aligners::AttentionAligner<float, Cpu>>,
                 HfPipeline<aligners::LinearAligner<float, Cpu>>, HfPipeline<aligners::LaviBridgeAdapter<float, Cpu>>,
                 HfPipeline<aligners::TimestepConnector<float, Cpu>>>;

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
}  // namespace detail

/// The decoder with the files' sampler, and a pipeline over the aligner file's type (Identity without one).
[[nodiscard]] inline AnyPipeline load_pipeline(const PipelineFiles& files) {
  using Encoder = encoders::HfTextEncoder<float, Cpu>;
  GLUEGEN_CHECK_AS(ValueError, files.glued() || !files.encoder.empty(),
                   "a pipeline needs the decoder's own text encoder, or a source encoder and an aligner");
  GLUEGEN_CHECK_AS(ValueError, !files.glued() || !files.source_encoder.empty(),
                   "the aligner '{}' needs the source encoder it was trained on", files.aligner.string());
  auto decoder = diffusion::load_diffusion_decoder<float, Cpu>(files.decoder, files.scheduler, files.vae);
  if (!files.glued())
    return HfPipeline<aligners::Identity<float, Cpu>>(Encoder(files.encoder), {}, std::move(decoder),
                                                      {.source_length = files.length});
  const io::WeightReader in(files.aligner);
  Encoder source(files.source_encoder);
  if (in.meta().model_type ==
      aligners::kLaviBridgeModelType) {  // LaVi-Bridge adapts the decoder, and maybe the language model
    add_lavi_bridge_lora(in, decoder.denoiser);
    if (LaviBridgeFile::read(in).text_encoder_lora) add_lavi_bridge_lora(in, source.model());
  }
  PipelineOptions<float, Cpu> options{.source_length = files.source_length};
  if (!files.encoder.empty())
    options.null_condition = Encoder(files.encoder).encode({""}, files.length).last_hidden_state.clone();
  return detail::visit_inference_aligner(in, [&](auto aligner) -> AnyPipeline {
    return HfPipeline<decltype(aligner)>(std::move(source), std::move(aligner), std::move(decoder), std::move(options));
  });
}

}  // namespace gluegen
