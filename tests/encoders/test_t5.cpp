// The T5 encoder against transformers' T5EncoderModel (tiny random models, gated-gelu and relu, from
// tools/make_text_goldens.py, converted by tools/convert_hf.py): final states on the real tokens,
// mean pooling, each sentence alone, and the relative-position buckets. Its backward (with and
// without LoRA) against central finite differences in double.
#include <gluegen/encoders/t5.hpp>

#include "support/encoder_goldens.hpp"
#include "support/encoder_gradients.hpp"

namespace gluegen {
namespace {

using encoders::T5Config;
using encoders::T5Encoder;

void check_model(const std::string& name) {
  const auto weights = test::text_golden(name + ".h5");
  const auto io = test::text_golden(name + "_io.h5");
  T5Encoder<float, Cpu> encoder(T5Config::from_json(weights.meta().config));
  encoders::load_t5_weights(encoder, weights);
  T5Encoder<float, Cpu>::Cache cache;
  test::expect_batch_matches(
      encoder.forward(io.read<std::int32_t>("input_ids"), io.read<std::int32_t>("attention_mask"), cache), io, name);
  test::expect_singles_match(
      io,
      [&](std::size_t, const Tensor<std::int32_t, Cpu>& one) {
        return encoder.forward(one, Tensor<std::int32_t, Cpu>::full(one.shape(), 1), cache);
      },
      name);
}

TEST(T5Encoder, TinyGatedGeluMatchesTransformers) { check_model("t5_tiny"); }
TEST(T5Encoder, TinyReluMatchesTransformers) { check_model("t5_relu_tiny"); }

// Buckets of T5's default (32 buckets, max distance 128), hand-computed from the definition:
// keys before the query use buckets 0..15, after it 16..31; exact for |k - q| < 8, then logarithmic.
TEST(T5Encoder, RelativePositionBuckets) {
  const auto c = T5Config{.relative_attention_num_buckets = 32, .relative_attention_max_distance = 128}.buckets();
  EXPECT_EQ(c.bucket(5, 5), 0);
  EXPECT_EQ(c.bucket(5, 4), 1);
  EXPECT_EQ(c.bucket(4, 5), 17);
  EXPECT_EQ(c.bucket(10, 3), 7);
  EXPECT_EQ(c.bucket(10, 2), 8);    // 8 + floor(log(8/8) / log(16) * 8) = 8
  EXPECT_EQ(c.bucket(0, 16), 26);   // 16 + 8 + floor(log(2) / log(16) * 8) = 16 + 10
  EXPECT_EQ(c.bucket(200, 0), 15);  // clamped to the last bucket of its direction
  EXPECT_EQ(c.bucket(0, 500), 31);
}

// Every trainable parameter of the full encoder, then every LoRA tensor, for both feed-forward
// forms (the position bias frozen, as add_lora leaves it: a trainable one is an error).
TEST(T5Encoder, GradientsMatchFiniteDifferencesWithAndWithoutLora) {
  for (const char* name : {"t5_tiny", "t5_relu_tiny"}) {
    for (const bool lora : {false, true}) {
      SCOPED_TRACE(std::string(name) + (lora ? " with LoRA" : ""));
      T5Encoder<double, Cpu> encoder(T5Config::from_json(test::text_golden(std::string(name) + ".h5").meta().config));
      if (!lora) {
        const auto [ids, mask] = test::padded_token_batch();
        T5Encoder<double, Cpu>::Cache c;
        const auto y = encoder.forward(ids, mask, c).last_hidden_state;
        EXPECT_THROW(encoder.backward(y, c), ValueError);
      }
      const index_t checked = test::expect_encoder_gradients_match(
          encoder, lora, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.");
      if (lora) {
        EXPECT_EQ(checked, 2 * 4 * encoder.config().num_layers);
      }
      T5Encoder<double, Cpu>::Cache c;
      const auto [ids, mask] = test::padded_token_batch();
      (void)encoder.forward(ids, mask, c);
      EXPECT_THROW(encoder.backward(ops::randn<double, Cpu>({2, 4, encoder.config().d_model}, 1), c), ShapeError);
    }
  }
}

}  // namespace
}  // namespace gluegen
