// CLIP's text transformer against transformers' CLIPTextModel (tiny random model from
// tools/make_text_goldens.py, converted by tools/convert_hf.py): final states, end-of-text pooling,
// mean pooling, and each sentence alone.
#include <gluegen/encoders/clip_text.hpp>

#include "support/encoder_goldens.hpp"

namespace gluegen {
namespace {

using encoders::ClipTextConfig;
using encoders::ClipTextEncoder;

TEST(ClipTextEncoder, TinyClipMatchesTransformers) {
  const auto weights = test::text_golden("clip_text_tiny.h5");
  const auto io = test::text_golden("clip_text_tiny_io.h5");
  ClipTextEncoder<float, Cpu> encoder(ClipTextConfig::from_json(weights.meta().config));
  encoders::load_clip_text_weights(encoder, weights);
  ClipTextEncoder<float, Cpu>::Cache cache;
  const auto out = encoder.forward(io.read<std::int32_t>("input_ids"), io.read<std::int32_t>("attention_mask"), cache);
  test::expect_batch_matches(out, io, "clip_text_tiny");
  EXPECT_TRUE(test::all_close(out.pooler_output.to_vector(), io.read<float>("pooler_output").to_vector(),
                              test::kEncoderTolerance));
  test::expect_singles_match(
      io,
      [&](std::size_t, const Tensor<std::int32_t, Cpu>& one) {
        return encoder.forward(one, Tensor<std::int32_t, Cpu>::full(one.shape(), 1), cache);
      },
      "clip_text_tiny");
  EXPECT_THROW(
      encoder.forward(Tensor<std::int32_t, Cpu>::zeros({1, 17}), Tensor<std::int32_t, Cpu>::full({1, 17}, 1), cache),
      ShapeError);
}

}  // namespace
}  // namespace gluegen
