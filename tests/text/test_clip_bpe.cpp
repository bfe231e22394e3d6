// CLIP's byte-level BPE: normalisation, CLIP's pre-tokenisation pattern, GPT-2's byte characters and
// merging by rank on a hand-made vocabulary; bad files; then the real vocabulary (OpenAI's merge list
// from the open_clip_torch wheel, data/models/clip-bpe) against transformers' CLIPTokenizer on the
// multi-script corpus (tools/make_text_goldens.py wrote the expected ids).
#include <gluegen/text/clip_bpe.hpp>
#include <gluegen/text/tokenizer.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include "support/paths.hpp"

namespace gluegen {
namespace {

using text::ClipBpeTokenizer;
using Pieces = std::vector<std::string>;

const std::filesystem::path kMerges =
    std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models/clip-bpe/bpe_simple_vocab_16e6.txt.gz";

ClipBpeTokenizer tiny() {
  std::unordered_map<std::string, std::int32_t> vocab{{"<|startoftext|>", 0}, {"<|endoftext|>", 1}, {"h", 2},
                                                      {"i</w>", 3},           {"hi</w>", 4},        {"t", 5},
                                                      {"he</w>", 6},          {"the</w>", 7}};
  return ClipBpeTokenizer(vocab, {{"h", "i</w>"}, {"h", "e</w>"}, {"t", "he</w>"}}, {}, "tiny");
}

TEST(ClipBpe, NormalisesSplitsAndMergesByRank) {
  const auto tok = tiny();
  EXPECT_EQ(tok.tokenize("hi"), (Pieces{"hi</w>"}));
  EXPECT_EQ(tok.tokenize("The"), (Pieces{"the</w>"}));  // lower-cased; "h e</w>" (rank 1) before "t he</w>" (rank 2)
  EXPECT_EQ(tok.encode("  HI \t\n hi  "), (std::vector<std::int32_t>{0, 4, 4, 1}));
  // CLIP's pattern: contractions, letter runs, one digit per word, runs of other characters
  EXPECT_EQ(tok.tokenize("it's 2024!?"),
            (Pieces{"i", "t</w>", "'", "s</w>", "2</w>", "0</w>", "2</w>", "4</w>", "!", "?</w>"}));
  // GPT-2's byte characters: UTF-8 bytes of "é" are C3 A9 (printable Latin-1), byte 0x01 maps to U+0101
  EXPECT_EQ(tok.tokenize("\xc3\xa9"), (Pieces{"\xc3\x83", "\xc2\xa9</w>"}));
  EXPECT_EQ(tok.tokenize("\x01"), (Pieces{"\xc4\x81</w>"}));
  // special-token text stays whole; pieces outside the vocabulary are <|endoftext|> (CLIP's unk)
  EXPECT_EQ(tok.encode("hi<|endoftext|>x", false), (std::vector<std::int32_t>{4, 1, 1}));
  EXPECT_EQ(tok.encode("hi hi hi hi", true, 4), (std::vector<std::int32_t>{0, 4, 4, 1}));
  const auto batch = tok.encode_batch({"hi", "hi hi"}, 5, true);
  EXPECT_EQ(batch.input_ids.to_vector(), (std::vector<std::int32_t>{0, 4, 1, 1, 1, 0, 4, 4, 1, 1}));
  EXPECT_EQ(batch.attention_mask.to_vector(), (std::vector<std::int32_t>{1, 1, 1, 0, 0, 1, 1, 1, 1, 0}));
  EXPECT_THROW((void)tok.tokenize("abc\xff"), ValueError);
}

TEST(ClipBpe, BadFilesAreClearErrors) {
  EXPECT_THROW(ClipBpeTokenizer({{"a", 0}}, {{"a", "b"}}, {}, "no specials"), ValueError);
  EXPECT_THROW(ClipBpeTokenizer({{"<|startoftext|>", 0}, {"<|endoftext|>", 5}}, {{"a", "b"}}, {}, "bad id"),
               ValueError);
  EXPECT_THROW(ClipBpeTokenizer::from_openai_merges("/nonexistent/bpe.txt.gz"), FileNotFoundError);
  const auto dir = std::filesystem::temp_directory_path();
  {
    std::ofstream(dir / "gluegen_vocab.json") << R"({"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 2})";
    std::ofstream(dir / "gluegen_merges.txt") << "#version: 0.2\na b\nnot-a-merge\n";
  }
  try {
    ClipBpeTokenizer::from_hf_files(dir / "gluegen_vocab.json", dir / "gluegen_merges.txt");
    FAIL() << "a malformed merges.txt loaded";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "gluegen_vocab.json") << "[1, 2";
  EXPECT_THROW(ClipBpeTokenizer::from_hf_files(dir / "gluegen_vocab.json", dir / "gluegen_merges.txt"), IoError);
  // found by fuzzing: an id of 1e22 reached the JSON library's unchecked conversion to int32 (undefined behaviour)
  for (const char* ids : {R"({"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 11111111111111111111110})",
                          R"({"<|startoftext|>": 0, "<|endoftext|>": 1, "a": 2.5})",
                          R"({"<|startoftext|>": 0, "<|endoftext|>": 1, "a": -4})"}) {
    std::ofstream(dir / "gluegen_vocab.json") << ids;
    std::ofstream(dir / "gluegen_merges.txt") << "#version: 0.2\na b\n";
    EXPECT_THROW(ClipBpeTokenizer::from_hf_files(dir / "gluegen_vocab.json", dir / "gluegen_merges.txt"), IoError)
        << ids;
  }
  if (std::filesystem::exists(kMerges)) {  // a gzip stream cut short
    const std::string gz = [] {
      std::ifstream in(kMerges, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    std::ofstream(dir / "gluegen_cut.txt.gz", std::ios::binary)
        .write(gz.data(), static_cast<std::streamsize>(gz.size() / 2));
    EXPECT_THROW(ClipBpeTokenizer::from_openai_merges(dir / "gluegen_cut.txt.gz"), TruncatedFileError);
  }
  for (const char* f : {"gluegen_vocab.json", "gluegen_merges.txt", "gluegen_cut.txt.gz"})
    std::filesystem::remove(dir / f);
}

TEST(ClipBpe, RealVocabularyMatchesTransformersInManyScripts) {
  if (!std::filesystem::exists(kMerges))
    GTEST_SKIP() << "skipped: " << kMerges
                 << " is missing; scripts/setup.sh fetches it (python3 scripts/fetch_models.py)";
  const auto tok = ClipBpeTokenizer::from_openai_merges(kMerges);
  EXPECT_EQ(tok.vocab_size(), 49408);
  EXPECT_EQ(tok.encode("a photo of a cat"), (std::vector<std::int32_t>{49406, 320, 1125, 539, 320, 2368, 49407}));
  const text::Tokenizer any = tok;
  EXPECT_STREQ(any.kind(), "CLIP BPE");

  std::ifstream sentences(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/sentences.jsonl"),
      expected(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/clip_bpe.jsonl");
  std::size_t n = 0, mismatches = 0;
  for (std::string line, ids; std::getline(sentences, line) && std::getline(expected, ids); ++n) {
    const auto text = nlohmann::json::parse(line).get<std::string>();
    const auto j = nlohmann::json::parse(ids);
    if (tok.encode(text) != j["ids"].get<std::vector<std::int32_t>>() ||
        tok.encode(text, true, 77) != j["ids_trunc77"].get<std::vector<std::int32_t>>())
      if (++mismatches <= 5)
        ADD_FAILURE() << "line " << n << " differs from transformers: " << nlohmann::json(text).dump();
  }
  EXPECT_GE(n, 300u);
  EXPECT_EQ(mismatches, 0u);
}

}  // namespace
}  // namespace gluegen
