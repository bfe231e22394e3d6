// The general parallel corpus: excluded texts never enter it (any run of a sentence's words that
// equals one, whatever its case and punctuation), the English selection is deterministic and counted,
// and a corpus built with the real Apertium splits train / held-out by English sentence and resumes
// a half-written translation exactly.
#include <gluegen/train/parallel_corpus.hpp>

#include <gtest/gtest.h>

namespace gluegen {
namespace {

using Lines = std::vector<std::string>;

TEST(ParallelCorpus, ExcludedTextsMatchAnyRunOfWordsIgnoringCaseAndPunctuation) {
  EXPECT_EQ(train::normalized_words("  A red, Sneaker!  "), (Lines{"a", "red", "sneaker"}));
  EXPECT_EQ(train::normalized_words("one's T-shirt"), (Lines{"one's", "t-shirt"}));
  const train::ExcludedTexts excluded({"a red sneaker", "Turnschuh in Rot", "红色的运动鞋", ""});
  EXPECT_EQ(excluded.size(), 3u);
  EXPECT_TRUE(excluded.contains_any("A red sneaker."));
  EXPECT_TRUE(excluded.contains_any("she wore a RED sneaker to school"));
  EXPECT_TRUE(excluded.contains_any("Ein Turnschuh in Rot, bitte"));
  EXPECT_TRUE(excluded.contains_any("红色的运动鞋"));
  EXPECT_FALSE(excluded.contains_any("a red sneakers"));  // words, not substrings
  EXPECT_FALSE(excluded.contains_any("a red shoe and a sneaker"));
}

TEST(ParallelCorpus, SelectionDropsExcludedShortLongAndRepeatedSentencesDeterministically) {
  Lines candidates{"a red sneaker on the shelf", "too short", "a sentence that is far too long to be kept here",
                   "the cat sat on the mat", "The cat sat on the mat!"};
  for (int i = 0; i < 20; ++i) candidates.push_back("general sentence number " + std::to_string(i));
  const train::ExcludedTexts excluded({"a red sneaker"});
  const train::ParallelCorpusOptions o{.sentences = 12, .held_out = 3, .max_words = 8};
  const auto s = train::select_english(candidates, excluded, o);
  EXPECT_EQ(s.candidates, 25);
  EXPECT_EQ(s.out_of_range, 2);
  EXPECT_EQ(s.excluded, 1);
  EXPECT_EQ(s.duplicates, 1);
  ASSERT_EQ(s.sentences.size(), 12u);
  for (const auto& sentence : s.sentences) EXPECT_FALSE(excluded.contains_any(sentence)) << sentence;
  EXPECT_EQ(train::select_english(candidates, excluded, o).sentences, s.sentences);
  EXPECT_NE(train::select_english(candidates, excluded, {.sentences = 12, .held_out = 3, .max_words = 8, .seed = 1})
                .sentences,
            s.sentences);
  EXPECT_THROW((void)train::select_english(candidates, excluded, {.sentences = 30, .max_words = 8}), ValueError);
}

TEST(ParallelCorpus, BuildsWithApertiumSplitsByEnglishSentenceAndResumes) {
  try {
    (void)text::Apertium::from_english("es");
    (void)text::Apertium::from_english("eo");
  } catch (const MissingDependencyError& e) {
    GTEST_SKIP() << "skipped: " << e.what();
  }
  Lines candidates;
  for (const char* s : {"the weather is cold today", "an old woman", "a large house by the river", "primary or simple",
                        "they escaped barely", "a small margin of error", "the children play in the garden",
                        "water boils at a high temperature"})
    candidates.emplace_back(s);
  const train::ParallelCorpusOptions o{
      .languages = {"es", "eo"}, .sentences = 8, .held_out = 2, .batch = 3, .progress = false};
  const auto english = train::select_english(candidates, train::ExcludedTexts({}), o);
  const auto dir = std::filesystem::temp_directory_path() / "gluegen-parallel-corpus";
  std::filesystem::remove_all(dir);
  const auto record = train::build_parallel_corpus(english, dir, o);
  EXPECT_EQ(
      record["languages"]["es"]["train_pairs"].get<int>() + record["languages"]["es"]["held_out_pairs"].get<int>(), 8);
  const auto train_tsv = read_file_bytes(dir / "train.tsv", "train"), held = read_file_bytes(dir / "held-out.tsv", "h");
  for (std::size_t i = 0; i < english.sentences.size(); ++i) {
    const auto& e = english.sentences[i];
    EXPECT_EQ(i < 2, held.find('\t' + e + '\t') != std::string::npos) << e;
    EXPECT_EQ(i >= 2, train_tsv.find('\t' + e + '\t') != std::string::npos) << e;
  }
  EXPECT_NE(held.find("\tes\n"), std::string::npos);
  EXPECT_NE(held.find("\teo\n"), std::string::npos);

  // a crash mid-line in the second language: the rerun drops the cut line and ends with the same files
  const auto eo = read_file_bytes(dir / "eo.txt", "eo");
  std::filesystem::resize_file(dir / "eo.txt", eo.find('\n', eo.size() / 2) - 3);
  std::filesystem::remove(dir / "train.tsv");
  (void)train::build_parallel_corpus(english, dir, o);
  EXPECT_EQ(read_file_bytes(dir / "eo.txt", "eo"), eo);
  EXPECT_EQ(read_file_bytes(dir / "train.tsv", "train"), train_tsv);

  // another selection in the same directory is refused rather than mixed in
  auto other = english;
  std::swap(other.sentences[0], other.sentences[1]);
  EXPECT_THROW((void)train::build_parallel_corpus(other, dir, o), ValueError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gluegen
