#pragma once
// gluegen's research API: source encoder -> aligner -> diffusion decoder, composed by type
// (docs/pipeline.md). Pipeline<Source, Aligner, Denoiser, Sampler> and the concepts its parts
// satisfy (encoders::TextEncoder, aligners::Aligner / TimestepAligner, diffusion::Denoiser), and
// load_pipeline, which reads model files and returns the concrete pipeline type in a variant.
#include <gluegen/aligners/identity.hpp>
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/aligners/router.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/encoders/tokenized_encoder.hpp>
#include <gluegen/pipeline/load.hpp>
#include <gluegen/pipeline/pipeline.hpp>
