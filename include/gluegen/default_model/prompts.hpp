#pragma once
// Evaluation prompts as people write them (data/prompts/natural.tsv; gluegen eval-prompts): a TSV of
// language, prompt, class and colour, each prompt naming one default-model item in its own words
// rather than in a caption template. The file is an evaluation set: make-corpus keeps every one of
// its prompts out of the training corpus.
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/default_model/evaluation.hpp>
#include <gluegen/text/unicode.hpp>

#include <sstream>

namespace gluegen::default_model {

struct EvalPrompt {
  std::string language, text;
  int cls = -1, colour = -1;
};

/// The class index of a class name in class_names() ("ankle boot"); -1 when unknown.
[[nodiscard]] inline int class_index(const std::string& name) {
  for (int c = 0; c < kClasses; ++c)
    if (name == class_names()[static_cast<std::size_t>(c)]) return c;
  return -1;
}

[[nodiscard]] inline int colour_index(const std::string& name) {
  for (int c = 0; c < kColours; ++c)
    if (name == colours()[static_cast<std::size_t>(c)].name) return c;
  return -1;
}

/// Reads a prompt file: '#' lines are comments, the first other line is the header
/// "language<TAB>prompt<TAB>class<TAB>colour", then one prompt per line. A bad line is a ValueError
/// naming the file, the line and what is wrong.
[[nodiscard]] inline std::vector<EvalPrompt> read_prompts(const std::filesystem::path& path) {
  std::stringstream in(read_file_bytes(path, "prompt file"));
  std::vector<EvalPrompt> prompts;
  bool header = false;
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> cols;
    std::stringstream fields(line);
    for (std::string f; std::getline(fields, f, '\t');) cols.push_back(f);
    const auto where = fmt::format("{}:{}", path.string(), number);
    GLUEGEN_CHECK_AS(ValueError, cols.size() == 4, "{}: expected 4 tab-separated columns, found {}", where,
                     cols.size());
    if (!header) {
      GLUEGEN_CHECK_AS(ValueError, cols == std::vector<std::string>({"language", "prompt", "class", "colour"}),
                       "{}: the header must be 'language<TAB>prompt<TAB>class<TAB>colour'", where);
      header = true;
      continue;
    }
    try {
      (void)text::decode_utf8(cols[1]);
    } catch (const ValueError& e) {
      GLUEGEN_THROW(ValueError, "{}: {}", where, e.message());
    }
    const EvalPrompt p{cols[0], cols[1], class_index(cols[2]), colour_index(cols[3])};
    GLUEGEN_CHECK_AS(ValueError, !p.language.empty() && !p.text.empty(), "{}: empty language or prompt", where);
    GLUEGEN_CHECK_AS(ValueError, p.cls >= 0,
                     "{}: unknown class '{}' (one of t-shirt, trousers, pullover, dress, coat, "
                     "sandal, shirt, sneaker, bag, ankle boot)",
                     where, cols[2]);
    GLUEGEN_CHECK_AS(ValueError, p.colour >= 0,
                     "{}: unknown colour '{}' (one of red, orange, yellow, green, blue, purple)", where, cols[3]);
    prompts.push_back(p);
  }
  GLUEGEN_CHECK_AS(ValueError, !prompts.empty(), "'{}' holds no prompts", path.string());
  return prompts;
}

/// Every text a general training corpus must not contain: the default model's captions in all its
/// languages and templates (what its decoder and the template-trained aligner saw) and the prompts of
/// `prompt_files` (evaluation sets). gluegen make-corpus keeps every sentence containing one out.
[[nodiscard]] inline std::vector<std::string> corpus_exclusions(const std::vector<std::string>& prompt_files) {
  std::vector<std::string> tags{"en"};
  for (const auto& l : languages()) tags.emplace_back(l.tag);
  std::vector<std::string> texts;
  for (const auto& c : all_captions(tags)) texts.push_back(c.text);
  for (const auto& file : prompt_files)
    for (const auto& p : read_prompts(file)) texts.push_back(p.text);
  return texts;
}

/// One scored prompt per entry of `prompts` (a held_out flag where the class x colour combination was
/// held out of the decoder's training), for score_images.
[[nodiscard]] inline std::vector<ComboScore> prompt_combos(const std::vector<EvalPrompt>& prompts) {
  std::vector<ComboScore> combos;
  for (const auto& p : prompts) combos.push_back({p.cls, p.colour, held_out(p.cls, p.colour)});
  return combos;
}

/// metrics.json and metrics.md of gluegen eval-prompts: class, colour and both-correct accuracy and the
/// Fréchet distance per language and over all prompts, and every prompt's counts (with what the decoder's
/// encoder read, where a translation came between). `conditioned_on[i]` is prompt i's text as encoded.
inline std::pair<nlohmann::json, std::string> prompt_report(
    const EvalSettings& a, const std::vector<EvalPrompt>& prompts, const std::vector<std::string>& conditioned_on,
    const std::vector<ComboScore>& combos, const std::vector<float>& features, const ScorerCeiling& ceiling) {
  constexpr index_t kFeatures = 128;
  const auto real_fit = eval::fit_gaussian(ceiling.real_features, kFeatures);
  std::vector<std::string> groups;
  for (const auto& p : prompts)
    if (std::find(groups.begin(), groups.end(), p.language) == groups.end()) groups.push_back(p.language);
  groups.emplace_back("all");
  nlohmann::json report{{"decoder", a.decoder},     {"conditioning", a.conditioning},
                        {"scheduler", a.scheduler}, {"steps", a.steps},
                        {"guidance", a.guidance},   {"per_prompt", a.per_prompt},
                        {"seed", a.seed},           {"languages", nlohmann::json::object()}};
  std::string md = fmt::format(
      "Prompts through {}; {} images each, {} {} steps, guidance {}.\n\n| language | prompts | images | class acc. "
      "| colour acc. | both | Fréchet distance |\n|---|---:|---:|---:|---:|---:|---:|\n",
      a.conditioning, a.per_prompt, a.scheduler, a.steps, a.guidance);
  for (const auto& g : groups) {
    index_t n_prompts = 0, N = 0, c1 = 0, c2 = 0, c3 = 0;
    std::vector<float> group;
    for (std::size_t k = 0; k < prompts.size(); ++k) {
      if (g != "all" && prompts[k].language != g) continue;
      const ComboScore& s = combos[k];
      ++n_prompts, N += s.n, c1 += s.class_ok, c2 += s.colour_ok, c3 += s.both_ok;
      const auto begin = features.begin() + static_cast<std::ptrdiff_t>(k) * a.per_prompt * kFeatures;
      group.insert(group.end(), begin, begin + a.per_prompt * kFeatures);
    }
    const double fd = eval::frechet_distance(eval::fit_gaussian(group, kFeatures), real_fit);
    const auto pct = [&](index_t k) { return static_cast<double>(k) / static_cast<double>(N); };
    report["languages"][g] = {{"prompts", n_prompts},      {"images", N},
                              {"class_accuracy", pct(c1)}, {"colour_accuracy", pct(c2)},
                              {"both_correct", pct(c3)},   {"frechet_distance", fd}};
    md += fmt::format("| {} | {} | {} | {:.1f}% | {:.1f}% | {:.1f}% | {:.1f} |\n", g, n_prompts, N, 100 * pct(c1),
                      100 * pct(c2), 100 * pct(c3), fd);
  }
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t k = 0; k < prompts.size(); ++k)
    rows.push_back({{"language", prompts[k].language},
                    {"prompt", prompts[k].text},
                    {"conditioned_on", conditioned_on[k]},
                    {"class", class_names()[static_cast<std::size_t>(prompts[k].cls)]},
                    {"colour", colours()[static_cast<std::size_t>(prompts[k].colour)].name},
                    {"held_out", combos[k].held_out},
                    {"images", combos[k].n},
                    {"class_ok", combos[k].class_ok},
                    {"colour_ok", combos[k].colour_ok},
                    {"both_ok", combos[k].both_ok}});
  report["prompts"] = rows;
  md += fmt::format(
      "\nFréchet distance over each row's images against the 10000 real test items' scorer features; "
      "with fewer images than the 128 features it is biased upwards, so compare it within a language "
      "only.\n");
  return {report, md};
}

}  // namespace gluegen::default_model
