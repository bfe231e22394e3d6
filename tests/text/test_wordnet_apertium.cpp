// WordNet's glosses split into definitions and examples (a hand-made database in tests/data/wordnet
// with the real files' layout, then the real Debian wordnet-base), and Apertium run for real: a batch
// of lines translates line for line as each line does alone, and missing pairs name their package.
#include <gluegen/text/apertium.hpp>
#include <gluegen/text/wordnet.hpp>

#include <gtest/gtest.h>

#include "support/paths.hpp"

namespace gluegen {
namespace {

using Lines = std::vector<std::string>;

TEST(WordNet, SplitsGlossesIntoDefinitionsAndQuotedExamples) {
  const auto wn = text::read_wordnet(test::test_data_dir() + "/wordnet");
  EXPECT_EQ(wn.definitions, (Lines{"that which is perceived or known or inferred to have its own distinct existence "
                                   "(living or nonliving)",
                                   "a close-fitting pullover shirt", "draw air into, and expel out of, the lungs",
                                   "(usually followed by `to') having the necessary means or skill to do something",
                                   "by a small margin"}));
  // a ';' inside quotes stays in its example; an attribution after the closing quote is dropped
  EXPECT_EQ(wn.examples,
            (Lines{"she wore a red shirt; it was warm", "a red sneaker", "I can breathe better when the air is clean",
                   "able to swim", "they escaped barely", "he was barely out of it"}));
}

TEST(WordNet, MissingFilesAndBadLinesAreClearErrors) {
  try {
    (void)text::read_wordnet(test::test_data_dir() + "/no-such-dir");
    FAIL() << "no error";
  } catch (const FileNotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("data.noun' cannot be read (Debian package wordnet-base)"), std::string::npos)
        << e.what();
  }
  const auto dir = std::filesystem::temp_directory_path() / "gluegen-wordnet-bad";
  std::filesystem::create_directories(dir);
  for (const char* pos : {"noun", "verb", "adj", "adv"})
    std::ofstream(dir / (std::string("data.") + pos)) << "00001740 03 n 01 entity 0 000 no gloss here\n";
  try {
    (void)text::read_wordnet(dir);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("data.noun:1: a synset line without its gloss"), std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(WordNet, TheRealDatabaseHasOverAHundredThousandSentences) {
  if (!std::filesystem::exists(std::string(text::kDefaultWordNetDir) + "/data.noun"))
    GTEST_SKIP() << "skipped: Debian wordnet-base is not installed (scripts/setup.sh installs it)";
  const auto wn = text::read_wordnet();
  EXPECT_GT(wn.definitions.size(), 130000u);
  EXPECT_GT(wn.examples.size(), 45000u);
}

bool apertium_has(const std::string& mode) {
  try {
    (void)text::Apertium(mode, "");
    return true;
  } catch (const MissingDependencyError&) {
    return false;
  }
}

TEST(Apertium, UnknownLanguagesAndOneWayPairsAreValueErrors) {
  EXPECT_THROW((void)text::apertium_pair("xx"), ValueError);
  EXPECT_STREQ(text::apertium_pair("hbs").package, "apertium-hbs-eng");
  try {
    (void)text::Apertium::from_english("eu");
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("apertium-eu-en translates Basque -> English only"), std::string::npos)
        << e.what();
  }
}

TEST(Apertium, AMissingPairNamesItsDebianPackage) {
  if (text::detail::find_on_path("apertium").empty()) GTEST_SKIP() << "skipped: apertium is not installed";
  try {
    (void)text::Apertium("xxx-yyy", "apertium-xxx-yyy");
    FAIL() << "no error";
  } catch (const MissingDependencyError& e) {
    EXPECT_NE(std::string(e.what()).find("no mode 'xxx-yyy' (its language pair is not installed): apt-get install "
                                         "apertium-xxx-yyy"),
              std::string::npos)
        << e.what();
  }
}

TEST(Apertium, ABatchTranslatesLineForLineAsEachLineAlone) {
  if (!apertium_has("eng-spa")) GTEST_SKIP() << "skipped: apertium-eng-spa is not installed (scripts/setup.sh)";
  const auto mt = text::Apertium::from_english("es");
  // Unterminated lines whose words Apertium's transfer used to move across line breaks (seen on
  // WordNet: "primary or simple" came back as "primaria o uva", "grape" taken from the next line).
  const Lines lines{"an old woman",
                    "primary or simple",
                    "high quality grape brandy distilled in the Cognac district of France",
                    "receive an academic degree upon completion of one's studies",
                    "machinery that processes materials by grinding or crushing",
                    "Is it raining?",
                    "a\ttab and a\nbreak"};
  const auto batch = mt.translate(lines);
  ASSERT_EQ(batch.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto alone = mt.translate({lines[i]});
    EXPECT_EQ(batch[i], alone.at(0)) << lines[i];
  }
  EXPECT_EQ(batch[0], "una mujer vieja");
  EXPECT_EQ(batch[1], "primario o sencillo");
  EXPECT_EQ(batch[5].back(), '?');
  EXPECT_TRUE(mt.translate({}).empty());
  if (apertium_has("spa-eng")) {
    EXPECT_EQ(text::Apertium::to_english("es").translate({"una camisa roja"})[0], "a red shirt");
  }
}

}  // namespace
}  // namespace gluegen
