// gluegen make-corpus: GlueGen's general parallel corpus (docs/results.md).
//   gluegen make-corpus --out DIR [--languages es,ca,gl,eo,hbs] [--sentences 21000] [--held-out 1000]
//                       [--exclude-prompts data/prompts/natural.tsv]
// English sentences from WordNet's definitions and examples, none containing a caption of the default
// model (any template, any language) or an evaluation prompt, machine-translated by Apertium.
#include "corpus_commands.hpp"
#include "option_checks.hpp"

#include <gluegen/default_model/prompts.hpp>
#include <gluegen/text/wordnet.hpp>
#include <gluegen/train/parallel_corpus.hpp>

#include <memory>

namespace gluegen::cli {

struct MakeCorpusArgs {
  std::string out, wordnet = text::kDefaultWordNetDir;
  std::vector<std::string> exclude_prompts;
  train::ParallelCorpusOptions options;
  bool quiet = false;
};

inline int make_corpus_command(MakeCorpusArgs a) {
  a.options.progress = !a.quiet;
  const train::ExcludedTexts excluded(default_model::corpus_exclusions(a.exclude_prompts));
  const auto wordnet = text::read_wordnet(a.wordnet);
  std::vector<std::string> candidates = wordnet.definitions;
  candidates.insert(candidates.end(), wordnet.examples.begin(), wordnet.examples.end());
  const auto english = train::select_english(candidates, excluded, a.options);
  std::printf(
      "WordNet: %zu definitions + %zu examples; %lld usable sentences of %lld-%lld words "
      "(%lld excluded as containing one of %zu caption / prompt texts, %lld duplicates); %lld drawn\n",
      wordnet.definitions.size(), wordnet.examples.size(),
      static_cast<long long>(english.candidates - english.out_of_range - english.excluded - english.duplicates),
      static_cast<long long>(a.options.min_words), static_cast<long long>(a.options.max_words),
      static_cast<long long>(english.excluded), excluded.size(), static_cast<long long>(english.duplicates),
      static_cast<long long>(a.options.sentences));
  const auto record = train::build_parallel_corpus(english, a.out, a.options);
  for (const auto& [tag, l] : record["languages"].items())
    std::printf("%s (%s): %lld train + %lld held-out pairs, %.0f s\n", tag.c_str(),
                l["name"].get<std::string>().c_str(), l["train_pairs"].get<long long>(),
                l["held_out_pairs"].get<long long>(), l["translation_seconds"].get<double>());
  std::printf("-> %s/train.tsv, held-out.tsv, corpus.json\n", a.out.c_str());
  return 0;
}

std::function<int()> add_corpus_commands(CLI::App& app) {
  auto mc = std::make_shared<MakeCorpusArgs>();
  auto& o = mc->options;
  auto* cmd = app.add_subcommand("make-corpus",
                                 "a general parallel corpus: WordNet's English machine-translated by Apertium "
                                 "(resumes an existing directory)");
  cmd->add_option("--out", mc->out, "corpus directory: train.tsv, held-out.tsv, corpus.json")->required();
  cmd->add_option("--wordnet", mc->wordnet, "WordNet 3.0 database (Debian wordnet-base)")->capture_default_str();
  cmd->add_option("--languages", o.languages, "target languages (Apertium pairs out of English: es, ca, gl, eo, hbs)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--sentences", o.sentences, "English sentences drawn")->check(at_least_one)->capture_default_str();
  cmd->add_option("--held-out", o.held_out, "of them, held out in every language")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_option("--min-words", o.min_words, "shortest sentence kept")->check(at_least_one)->capture_default_str();
  cmd->add_option("--max-words", o.max_words, "longest sentence kept")->check(at_least_one)->capture_default_str();
  cmd->add_option("--batch", o.batch, "lines per apertium run")->check(at_least_one)->capture_default_str();
  cmd->add_option("--seed", o.seed, "sentence selection seed")->capture_default_str();
  cmd->add_option("--exclude-prompts", mc->exclude_prompts,
                  "evaluation prompt files (TSV) whose prompts must not enter the corpus")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--quiet", mc->quiet, "no progress line");
  return [=]() -> int { return cmd->parsed() ? make_corpus_command(*mc) : -1; };
}

}  // namespace gluegen::cli
