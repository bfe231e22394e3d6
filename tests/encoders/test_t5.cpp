// The T5 encoder against transformers' T5EncoderModel (tiny random models, gated-gelu and relu, from
// tools/make_text_goldens.py, converted by tools/convert_hf.py): final states on the real tokens,
// mean pooling, each sentence alone, and the relative-position buckets.
#include <gluegen/encoders/t5.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"

namespace gluegen {
namespace {

using encoders::T5Config;
using encoders::T5Encoder;
using test::all_close;

io::WeightReader text_file(const std::string& name) { return io::WeightReader(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/" + name); }

void check_model(const std::string& name) {
  const auto weights = text_file(name + ".h5");
  const auto io = text_file(name + "_io.h5");
  T5Encoder<float, Cpu> encoder(T5Config::from_json(weights.meta().config));
  encoders::load_t5_weights(encoder, weights);
  const auto ids = io.read<std::int32_t>("input_ids"), mask = io.read<std::int32_t>("attention_mask");
  T5Encoder<float, Cpu>::Cache cache;
  const auto out = encoder.forward(ids, mask, cache);
  const auto m = mask.to_vector();
  const auto masked = [&](std::vector<float> v) {
    const std::size_t d = v.size() / m.size();
    for (std::size_t i = 0; i < v.size(); ++i)
      if (m[i / d] == 0) v[i] = 0;
    return v;
  };
  EXPECT_TRUE(all_close(masked(out.last_hidden_state.to_vector()), masked(io.read<float>("last_hidden_state").to_vector()), 1e-5)) << name;
  EXPECT_TRUE(all_close(out.mean_pooled.to_vector(), io.read<float>("mean_pooled").to_vector(), 1e-5)) << name;
  const auto lengths = io.read<std::int32_t>("lengths").to_vector();
  const auto all_ids = ids.to_vector();
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    const index_t L = lengths[k], width = ids.size(1);
    const std::vector<std::int32_t> one(all_ids.begin() + static_cast<std::ptrdiff_t>(k) * width,
                                        all_ids.begin() + static_cast<std::ptrdiff_t>(k) * width + L);
    const auto single = encoder.forward(Tensor<std::int32_t, Cpu>::from_host({1, L}, one), Tensor<std::int32_t, Cpu>::full({1, L}, 1), cache);
    EXPECT_TRUE(all_close(single.last_hidden_state.to_vector(), io.read<float>("single." + std::to_string(k) + ".last_hidden_state").to_vector(), 1e-5))
        << name << " sentence " << k;
  }
}

TEST(T5Encoder, TinyGatedGeluMatchesTransformers) { check_model("t5_tiny"); }
TEST(T5Encoder, TinyReluMatchesTransformers) { check_model("t5_relu_tiny"); }

// Buckets of T5's default (32 buckets, max distance 128), hand-computed from the definition:
// keys before the query use buckets 0..15, after it 16..31; exact for |k - q| < 8, then logarithmic.
TEST(T5Encoder, RelativePositionBuckets) {
  const T5Config c{.relative_attention_num_buckets = 32, .relative_attention_max_distance = 128};
  EXPECT_EQ(c.bucket(5, 5), 0);
  EXPECT_EQ(c.bucket(5, 4), 1);
  EXPECT_EQ(c.bucket(4, 5), 17);
  EXPECT_EQ(c.bucket(10, 3), 7);
  EXPECT_EQ(c.bucket(10, 2), 8);    // 8 + floor(log(8/8) / log(16) * 8) = 8
  EXPECT_EQ(c.bucket(0, 16), 26);   // 16 + 8 + floor(log(2) / log(16) * 8) = 16 + 10
  EXPECT_EQ(c.bucket(200, 0), 15);  // clamped to the last bucket of its direction
  EXPECT_EQ(c.bucket(0, 500), 31);
}

}  // namespace
}  // namespace gluegen
