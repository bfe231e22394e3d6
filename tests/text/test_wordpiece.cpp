// WordPiece: the normalisation and splitting rules on a small hand-made vocabulary, then parity
// with transformers' fast BertTokenizer on the real all-MiniLM-L6-v2 vocabulary over a multi-script
// sentence set (tools/make_text_goldens.py wrote the expected ids).
#include <gluegen/text/wordpiece.hpp>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include "support/paths.hpp"

namespace gluegen {
namespace {

using text::WordPieceTokenizer;
using Pieces = std::vector<std::string>;

const std::string kVocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\nun\n##aff\n##able\nhello\nworld\n,\n!\n.\n中\n文\ncafe\nresume\ni\n##i\n";

TEST(WordPiece, GreedyLongestMatchWithContinuations) {
  const WordPieceTokenizer tok(kVocab, {});
  EXPECT_EQ(tok.tokenize("unaffable"), (Pieces{"un", "##aff", "##able"}));
  EXPECT_EQ(tok.tokenize("Hello, World!"), (Pieces{"hello", ",", "world", "!"}));
  EXPECT_EQ(tok.tokenize("unknownword hello"), (Pieces{"[UNK]", "hello"}));  // an unmatched remainder: the whole word
  EXPECT_EQ(tok.encode("hello world"), (std::vector<std::int32_t>{2, 7, 8, 3}));
  EXPECT_EQ(tok.encode("hello world hello", true, 3), (std::vector<std::int32_t>{2, 7, 3}));
  EXPECT_EQ(tok.encode(""), (std::vector<std::int32_t>{2, 3}));
}

TEST(WordPiece, NormalisesLikeBertNormalizer) {
  const WordPieceTokenizer tok(kVocab, {});
  EXPECT_EQ(tok.tokenize("CAFÉ Résumé"), (Pieces{"cafe", "resume"}));  // NFD, drop Mn, lower case
  EXPECT_EQ(tok.tokenize("中文"), (Pieces{"中", "文"}));               // CJK ideographs split
  EXPECT_EQ(tok.tokenize("hello\u200bworld"), (Pieces{"[UNK]"}));  // U+200B (Cf) is dropped, joining one unknown word
  EXPECT_EQ(tok.tokenize("hello\x01\tworld\u3000."),
            (Pieces{"hello", "world", "."}));        // control dropped, tab and U+3000 are spaces
  EXPECT_EQ(tok.tokenize("\u0130"), (Pieces{"i"}));  // İ: NFD I + U+0307, accent stripped, lower-cased
  const WordPieceTokenizer cased(kVocab, {.lowercase = true, .strip_accents = false});
  EXPECT_EQ(cased.tokenize("\u0130"), (Pieces{"[UNK]"}));  // "i\u0307": lower case without stripping keeps the dot
  const WordPieceTokenizer short_words(kVocab, {.max_input_chars_per_word = 5});
  EXPECT_EQ(short_words.tokenize("unaffable hello"), (Pieces{"[UNK]", "hello"}));
}

TEST(WordPiece, BadInputIsAClearError) {
  const WordPieceTokenizer tok(kVocab, {});
  EXPECT_THROW((void)tok.tokenize("abc\xff"), ValueError);
  EXPECT_THROW(WordPieceTokenizer("a\nb\n", {}), ValueError);  // no [UNK], [CLS], ...
  EXPECT_THROW(WordPieceTokenizer::from_file("/nonexistent/vocab.txt"), FileNotFoundError);
  const auto batch = tok.encode_batch({"hello", "hello world !"});
  EXPECT_EQ(batch.input_ids.shape(), (Shape{2, 5}));
  EXPECT_EQ(batch.input_ids.to_vector(), (std::vector<std::int32_t>{2, 7, 3, 0, 0, 2, 7, 8, 10, 3}));
  EXPECT_EQ(batch.attention_mask.to_vector(), (std::vector<std::int32_t>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}));
}

std::vector<std::string> corpus() {
  std::ifstream in(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/sentences.jsonl");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line).get<std::string>());
  return out;
}

TEST(WordPiece, MatchesTransformersOnTheMiniLmVocabularyInManyScripts) {
  const auto tok = WordPieceTokenizer::from_file(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/minilm_vocab.txt", {});
  const auto sentences = corpus();
  ASSERT_GE(sentences.size(), 300u);
  std::ifstream expected(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/wordpiece_minilm.jsonl");
  std::size_t n = 0, mismatches = 0;
  for (std::string line; std::getline(expected, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    const auto ids = tok.encode(sentences.at(n));
    const auto trunc = tok.encode(sentences.at(n), true, 128);
    if (ids != j["ids"].get<std::vector<std::int32_t>>() ||
        trunc != j["ids_trunc128"].get<std::vector<std::int32_t>>()) {
      if (++mismatches <= 5) ADD_FAILURE() << "sentence " << n << ": " << nlohmann::json(sentences[n]).dump();
    }
  }
  EXPECT_EQ(n, sentences.size());
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace gluegen
