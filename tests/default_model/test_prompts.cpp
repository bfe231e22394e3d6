// Prompts as people write them: the prompt-file reader's errors, the shipped natural-prompt set
// (languages, sizes, none a training caption), the corpus exclusions (every caption of every language,
// every evaluation prompt) and the per-language report's arithmetic.
#include <gluegen/default_model/prompts.hpp>
#include <gluegen/train/parallel_corpus.hpp>

#include <gtest/gtest.h>

#include <map>

#include "support/paths.hpp"

namespace gluegen {
namespace {

namespace fm = default_model;

std::string natural_prompts() { return test::source_dir() + "/data/prompts/natural.tsv"; }

std::string prompt_error(const std::string& body) {
  const auto path = std::filesystem::temp_directory_path() / "gluegen_prompts_bad.tsv";
  std::ofstream(path) << body;
  try {
    (void)fm::read_prompts(path);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "no error";
}

TEST(EvalPrompts, BadPromptFilesNameTheLineAndTheProblem) {
  const std::string header = "language\tprompt\tclass\tcolour\n";
  EXPECT_NE(prompt_error("lang\tprompt\tclass\tcolour\n").find(":1: the header must be"), std::string::npos);
  EXPECT_NE(prompt_error("# comment\n" + header + "es\tuna camisa roja\tshirt\n").find(":3: expected 4 tab-separated"),
            std::string::npos);
  EXPECT_NE(prompt_error(header + "es\tunos zapatos\tshoe\tred\n").find(":2: unknown class 'shoe'"), std::string::npos);
  EXPECT_NE(prompt_error(header + "es\tcamisa rosa\tshirt\tpink\n").find(":2: unknown colour 'pink'"),
            std::string::npos);
  const auto utf8 = prompt_error(header + "es\t\xff\xfe\tshirt\tred\n");
  EXPECT_NE(utf8.find(":2: invalid UTF-8"), std::string::npos) << utf8;
  EXPECT_NE(prompt_error(header).find("holds no prompts"), std::string::npos);
}

TEST(EvalPrompts, TheNaturalSetCoversCorpusAndUnseenLanguagesWithoutTrainingCaptions) {
  const auto prompts = fm::read_prompts(natural_prompts());
  std::map<std::string, std::vector<std::pair<int, int>>> items;
  for (const auto& p : prompts) items[p.language].emplace_back(p.cls, p.colour);
  for (const char* l : {"en", "es", "ca", "gl", "eo", "de", "fr", "it", "zh"}) {
    ASSERT_TRUE(items.contains(l)) << l;
    EXPECT_GE(items[l].size(), 20u) << l;
    EXPECT_EQ(items[l], items["en"]) << l << ": every language names the same items, in the same order";
  }
  std::set<std::string> captions;
  for (const auto& c : fm::all_captions({"en", "de", "fr", "es", "zh", "it"}))
    captions.insert(train::normalized_text(c.text));
  for (const auto& p : prompts)
    EXPECT_FALSE(captions.contains(train::normalized_text(p.text))) << p.text << " is a training caption";
}

TEST(EvalPrompts, TheCorpusExclusionsCoverEveryCaptionAndEveryEvaluationPrompt) {
  const train::ExcludedTexts excluded(fm::corpus_exclusions({natural_prompts()}));
  for (const auto& c : fm::all_captions({"en", "de", "fr", "es", "zh", "it"})) {
    if (c.text.empty()) continue;
    EXPECT_TRUE(excluded.contains_any("as in " + c.text + ".")) << c.text;
  }
  for (const auto& p : fm::read_prompts(natural_prompts())) EXPECT_TRUE(excluded.contains_any(p.text)) << p.text;
  EXPECT_FALSE(excluded.contains_any("a close-fitting garment worn in cold weather"));
}

TEST(EvalPrompts, TheReportCountsPerLanguageAndOverall) {
  const std::vector<fm::EvalPrompt> prompts{
      {"es", "camisa roja", 6, 0}, {"es", "bolso azul", 8, 4}, {"de", "rote Tasche", 8, 0}};
  auto combos = fm::prompt_combos(prompts);
  const std::array<std::array<index_t, 3>, 3> ok{{{2, 2, 2}, {1, 2, 1}, {0, 1, 0}}};  // class, colour, both of 2
  for (std::size_t k = 0; k < combos.size(); ++k)
    combos[k].n = 2, combos[k].class_ok = ok[k][0], combos[k].colour_ok = ok[k][1], combos[k].both_ok = ok[k][2];
  EXPECT_FALSE(combos[1].held_out);
  EXPECT_TRUE(combos[2].held_out);  // bag x red is held out of the decoder's training
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::vector<float> features(6 * 128), real(300 * 128);
  for (auto& f : features) f = normal(rng);
  for (auto& f : real) f = normal(rng);
  const fm::EvalSettings settings{.decoder = "d.h5",
                                  .language = "",
                                  .conditioning = "test",
                                  .scheduler = "DDIM",
                                  .steps = 2,
                                  .per_prompt = 2,
                                  .guidance = 1,
                                  .seed = 0};
  const auto [report, md] = fm::prompt_report(settings, prompts, {"red shirt", "blue bag", "rote Tasche"}, combos,
                                              features, {.real_features = real});
  EXPECT_DOUBLE_EQ(report["languages"]["es"]["class_accuracy"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(report["languages"]["es"]["both_correct"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(report["languages"]["de"]["colour_accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(report["languages"]["all"]["both_correct"].get<double>(), 0.5);
  EXPECT_EQ(report["languages"]["all"]["images"].get<int>(), 6);
  EXPECT_EQ(report["prompts"][1]["conditioned_on"], "blue bag");
  EXPECT_NE(md.find("| es | 2 | 4 | 75.0% | 100.0% | 75.0% |"), std::string::npos) << md;
}

}  // namespace
}  // namespace gluegen
