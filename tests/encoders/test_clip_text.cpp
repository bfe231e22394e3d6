// CLIP's text transformer against transformers' CLIPTextModel (tiny random model from
// tools/make_text_goldens.py, converted by tools/convert_hf.py): final states, end-of-text pooling,
// mean pooling, and each sentence alone. Tolerance: max scaled error 1e-5 (f32 against f64 goldens).
#include <gluegen/encoders/clip_text.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"

namespace gluegen {
namespace {

using encoders::ClipTextConfig;
using encoders::ClipTextEncoder;
using test::all_close;

io::WeightReader text_file(const std::string& name) { return io::WeightReader(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/" + name); }

TEST(ClipTextEncoder, TinyClipMatchesTransformers) {
  const auto weights = text_file("clip_text_tiny.h5");
  const auto io = text_file("clip_text_tiny_io.h5");
  ClipTextEncoder<float, Cpu> encoder(ClipTextConfig::from_json(weights.meta().config));
  encoders::load_clip_text_weights(encoder, weights);
  const auto ids = io.read<std::int32_t>("input_ids"), mask = io.read<std::int32_t>("attention_mask");
  ClipTextEncoder<float, Cpu>::Cache cache;
  const auto out = encoder.forward(ids, mask, cache);
  // The causal mask keeps padding out of every real token's state, so all positions are compared
  // except the padded ones, whose values transformers leaves unmasked on the query side.
  const auto m = mask.to_vector();
  const auto masked = [&](std::vector<float> v) {
    const std::size_t d = v.size() / m.size();
    for (std::size_t i = 0; i < v.size(); ++i)
      if (m[i / d] == 0) v[i] = 0;
    return v;
  };
  EXPECT_TRUE(all_close(masked(out.last_hidden_state.to_vector()), masked(io.read<float>("last_hidden_state").to_vector()), 1e-5));
  EXPECT_TRUE(all_close(out.pooler_output.to_vector(), io.read<float>("pooler_output").to_vector(), 1e-5));
  EXPECT_TRUE(all_close(out.mean_pooled.to_vector(), io.read<float>("mean_pooled").to_vector(), 1e-5));
  const auto lengths = io.read<std::int32_t>("lengths").to_vector();
  const auto all_ids = ids.to_vector();
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    const index_t L = lengths[k], width = ids.size(1);
    const std::vector<std::int32_t> one(all_ids.begin() + static_cast<std::ptrdiff_t>(k) * width,
                                        all_ids.begin() + static_cast<std::ptrdiff_t>(k) * width + L);
    const auto single = encoder.forward(Tensor<std::int32_t, Cpu>::from_host({1, L}, one), Tensor<std::int32_t, Cpu>::full({1, L}, 1), cache);
    EXPECT_TRUE(all_close(single.last_hidden_state.to_vector(), io.read<float>("single." + std::to_string(k) + ".last_hidden_state").to_vector(), 1e-5))
        << "sentence " << k;
    EXPECT_TRUE(all_close(single.pooler_output.to_vector(), io.read<float>("single." + std::to_string(k) + ".pooler_output").to_vector(), 1e-5));
  }
  EXPECT_THROW(encoder.forward(Tensor<std::int32_t, Cpu>::zeros({1, 17}), Tensor<std::int32_t, Cpu>::full({1, 17}, 1), cache), ShapeError);
}

}  // namespace
}  // namespace gluegen
