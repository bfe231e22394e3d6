#pragma once
// GlueGen's general parallel corpus (MTN trains on WikiMatrix and machine-translated text, none of it
// evaluation prompts): general English sentences, machine-translated out of English by Apertium into
// each language, written as the TSV `gluegen encode` reads (source text, English text, language) and
// split by English sentence into train and held-out, so a held-out sentence is unseen in every
// language. Resumable: each language's translations are appended one batch at a time, and a rerun of
// the same command continues after the last complete line.
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/core/progress.hpp>
#include <gluegen/core/shape.hpp>
#include <gluegen/core/strings.hpp>
#include <gluegen/text/apertium.hpp>
#include <gluegen/text/unicode.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <fstream>
#include <random>
#include <set>
#include <unordered_set>

namespace gluegen::train {

/// One line of a parallel corpus: the source (text, or a WAV path for a speech source), the target text.
struct CorpusLine {
  std::string source, target, language;
};

/// A parallel corpus TSV (source, target, language per line; what `gluegen encode` reads), checked whole
/// before anything uses it: a bad line is a ValueError naming the file, the line and the column.
[[nodiscard]] inline std::vector<CorpusLine> read_parallel_corpus(const std::string& path) {
  std::ifstream in(path);
  GLUEGEN_CHECK_AS(FileNotFoundError, in.good(), "corpus '{}' cannot be read", path);
  std::vector<CorpusLine> lines;
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> cols = split_fields(line, '\t');
    GLUEGEN_CHECK_AS(ValueError, cols.size() == 3,
                     "{}:{}: expected 3 tab-separated columns (source text, target text, language), found {}", path,
                     number, cols.size());
    for (int c = 0; c < 3; ++c) {
      GLUEGEN_CHECK_AS(ValueError, !cols[static_cast<std::size_t>(c)].empty(), "{}:{}: the {} column is empty", path,
                       number,
                       c == 0   ? "source text"
                       : c == 1 ? "target text"
                                : "language");
      try {
        (void)text::decode_utf8(cols[static_cast<std::size_t>(c)]);
      } catch (const ValueError& e) {
        GLUEGEN_THROW(ValueError, "{}:{}: {}", path, number, e.message());
      }
    }
    lines.push_back({cols[0], cols[1], cols[2]});
  }
  GLUEGEN_CHECK_AS(ValueError, !lines.empty(), "corpus '{}' has no lines", path);
  return lines;
}

/// Lower-case ASCII words without punctuation, one space apart: what counts as the same sentence when
/// deduplicating and when keeping excluded texts out ("A red sneaker." == "a red sneaker").
[[nodiscard]] inline std::vector<std::string> normalized_words(const std::string& s) {
  std::vector<std::string> words{""};
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isspace(c) || (c < 128 && std::ispunct(c) && c != '\'' && c != '-')) {
      if (!words.back().empty()) words.emplace_back();
    } else {
      words.back() += static_cast<char>(c < 128 ? std::tolower(c) : c);
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

[[nodiscard]] inline std::string join_words(const std::vector<std::string>& words, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) out += (i > begin ? " " : "") + words[i];
  return out;
}

/// `s` as one normalized string: its normalized_words one space apart.
[[nodiscard]] inline std::string normalized_text(const std::string& s) {
  const auto words = normalized_words(s);
  return join_words(words, 0, words.size());
}

/// Texts that must never enter a corpus (an evaluation's prompts, a model's caption templates): a
/// sentence is excluded when any run of its words equals one of them, after normalized_words.
class ExcludedTexts {
 public:
  explicit ExcludedTexts(const std::vector<std::string>& texts) {
    for (const auto& t : texts)
      if (const auto w = normalized_words(t); !w.empty()) {
        texts_.insert(join_words(w, 0, w.size()));
        longest_ = std::max(longest_, w.size());
      }
  }
  [[nodiscard]] bool contains_any(const std::string& sentence) const {
    return contains_any(normalized_words(sentence));
  }
  /// The same for a sentence already split by normalized_words.
  [[nodiscard]] bool contains_any(const std::vector<std::string>& w) const {
    for (std::size_t b = 0; b < w.size(); ++b)
      for (std::size_t e = b + 1; e <= std::min(w.size(), b + longest_); ++e)
        if (texts_.contains(join_words(w, b, e))) return true;
    return false;
  }
  [[nodiscard]] std::size_t size() const noexcept { return texts_.size(); }

 private:
  std::unordered_set<std::string> texts_;
  std::size_t longest_ = 0;
};

struct ParallelCorpusOptions {
  std::vector<std::string> languages{"es", "ca", "gl", "eo", "hbs"};
  index_t sentences = 21000;  ///< English sentences drawn from the candidates
  index_t held_out = 1000;    ///< of them, kept out of train.tsv in every language
  index_t min_words = 3, max_words = 14;
  index_t batch = 2000;  ///< lines per apertium run
  std::uint64_t seed = 0;
  bool progress = true;
};

/// The English sentences a corpus is built from: candidates within the word range, none containing an
/// excluded text, deduplicated (normalized), in a seeded random order; the first `held_out` are the
/// held-out split. Also counts what was dropped, for the record.
struct EnglishSelection {
  std::vector<std::string> sentences;
  index_t candidates = 0, out_of_range = 0, excluded = 0, duplicates = 0;
};

[[nodiscard]] inline EnglishSelection select_english(const std::vector<std::string>& candidates,
                                                     const ExcludedTexts& excluded, const ParallelCorpusOptions& o) {
  EnglishSelection s;
  s.candidates = std::ssize(candidates);
  std::unordered_set<std::string> seen;
  for (const auto& c : candidates) {
    const auto words = normalized_words(c);
    const auto n = std::ssize(words);
    if (n < o.min_words || n > o.max_words) {
      ++s.out_of_range;
    } else if (excluded.contains_any(words)) {
      ++s.excluded;
    } else if (!seen.insert(join_words(words, 0, words.size())).second) {
      ++s.duplicates;
    } else {
      s.sentences.push_back(c);
    }
  }
  std::mt19937_64 rng(o.seed);
  std::shuffle(s.sentences.begin(), s.sentences.end(), rng);
  GLUEGEN_CHECK_AS(ValueError, std::ssize(s.sentences) >= o.sentences,
                   "only {} usable English sentences of {} candidates ({} outside {}..{} words, {} excluded, {} "
                   "duplicates); {} asked for",
                   s.sentences.size(), candidates.size(), s.out_of_range, o.min_words, o.max_words, s.excluded,
                   s.duplicates, o.sentences);
  GLUEGEN_CHECK_AS(ValueError, o.held_out >= 0 && o.held_out < o.sentences, "cannot hold out {} of {} sentences",
                   o.held_out, o.sentences);
  s.sentences.resize(static_cast<std::size_t>(o.sentences));
  return s;
}

namespace detail {

[[nodiscard]] inline std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path, std::ios::binary);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The complete lines of a file appended to batch by batch: a line cut short by a crash is removed.
inline index_t complete_lines(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return 0;
  std::string bytes = read_file_bytes(path, "partial translation");
  const auto keep = bytes.rfind('\n') == std::string::npos ? 0 : bytes.rfind('\n') + 1;
  if (keep != bytes.size()) std::filesystem::resize_file(path, keep);
  return static_cast<index_t>(std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep), '\n'));
}

}  // namespace detail

/// train.tsv and held-out.tsv from the translations under `dir`, sentence by sentence across the
/// languages (so encode's repeated English targets come together): a translation that is empty or
/// equal to its English (nothing was translated) is dropped, and so is a repeated source text of a
/// language. Returns corpus.json's record, which it also writes.
inline nlohmann::json write_corpus_splits(const EnglishSelection& english, const std::filesystem::path& dir,
                                          const ParallelCorpusOptions& o, const nlohmann::json& seconds) {
  const index_t n = std::ssize(english.sentences);
  std::vector<std::vector<std::string>> translations;
  for (const auto& language : o.languages) {
    translations.push_back(detail::read_lines(dir / (language + ".txt")));
    GLUEGEN_CHECK_AS(ValueError, std::ssize(translations.back()) == n, "'{}' has {} lines for {} English sentences",
                     (dir / (language + ".txt")).string(), translations.back().size(), n);
  }
  nlohmann::json record{{"english",
                         {{"source", "WordNet 3.0 definitions and examples"},
                          {"candidates", english.candidates},
                          {"outside_word_range", english.out_of_range},
                          {"excluded", english.excluded},
                          {"duplicates", english.duplicates},
                          {"sentences", n},
                          {"held_out_sentences", o.held_out},
                          {"words", {o.min_words, o.max_words}},
                          {"seed", o.seed}}},
                        {"languages", nlohmann::json::object()}};
  std::string train, held_out;
  std::vector<std::unordered_set<std::string>> seen(o.languages.size());
  std::vector<std::array<index_t, 4>> counts(o.languages.size());  // train, held-out, untranslated, repeated
  for (index_t i = 0; i < n; ++i)
    for (std::size_t l = 0; l < o.languages.size(); ++l) {
      const std::string& source = translations[l][static_cast<std::size_t>(i)];
      const std::string& target = english.sentences[static_cast<std::size_t>(i)];
      auto& c = counts[l];
      if (source.find_first_not_of(' ') == std::string::npos || source == target) {
        ++c[2];
      } else if (!seen[l].insert(source).second) {
        ++c[3];
      } else {
        const bool held = i < o.held_out;
        (held ? held_out : train) += source + '\t' + target + '\t' + o.languages[l] + '\n';
        ++c[held ? 1 : 0];
      }
    }
  write_file_atomically(dir / "train.tsv", train, "corpus file");
  write_file_atomically(dir / "held-out.tsv", held_out, "corpus file");
  for (std::size_t l = 0; l < o.languages.size(); ++l) {
    const auto& p = text::apertium_pair(o.languages[l]);
    record["languages"][o.languages[l]] = {{"name", p.name},
                                           {"apertium_mode", p.from_english},
                                           {"debian_package", p.package},
                                           {"train_pairs", counts[l][0]},
                                           {"held_out_pairs", counts[l][1]},
                                           {"untranslated_dropped", counts[l][2]},
                                           {"repeated_dropped", counts[l][3]},
                                           {"bytes", std::filesystem::file_size(dir / (o.languages[l] + ".txt"))},
                                           {"translation_seconds", seconds.value(o.languages[l], 0.0)}};
  }
  record["train_tsv_bytes"] = train.size();
  record["held_out_tsv_bytes"] = held_out.size();
  write_file_atomically(dir / "corpus.json", record.dump(2) + '\n', "corpus file");
  return record;
}

/// Translates `english` (select_english's order, held-out first) into every language under `dir`
/// (english.txt, <language>.txt line by line, then train.tsv, held-out.tsv and corpus.json with the
/// counts, sizes and time per language). A rerun with the same English resumes; another English
/// selection in the same directory is an error rather than a silently mixed corpus.
inline nlohmann::json build_parallel_corpus(const EnglishSelection& english, const std::filesystem::path& dir,
                                            const ParallelCorpusOptions& o) {
  std::filesystem::create_directories(dir);
  const auto english_path = dir / "english.txt";
  std::string english_text;
  for (const auto& s : english.sentences) english_text += s + '\n';
  if (std::filesystem::exists(english_path))
    GLUEGEN_CHECK_AS(ValueError, read_file_bytes(english_path, "corpus English") == english_text,
                     "'{}' holds another English selection (other options or WordNet): use a new directory",
                     english_path.string());
  else
    write_file_atomically(english_path, english_text, "corpus file");

  const auto times_path = dir / "seconds.json";
  nlohmann::json seconds = std::filesystem::exists(times_path)
                               ? nlohmann::json::parse(read_file_bytes(times_path, "corpus timings"))
                               : nlohmann::json::object();
  const index_t n = std::ssize(english.sentences);
  for (const auto& language : o.languages) {
    const auto mt = text::Apertium::from_english(language);
    const auto path = dir / (language + ".txt");
    const index_t first = detail::complete_lines(path);
    Progress bar("translate en->" + language + " (apertium " + mt.mode() + ")", n, "sentences", first, o.progress);
    std::ofstream out(path, std::ios::binary | std::ios::app);
    for (index_t start = first; start < n; start += o.batch) {
      const auto t0 = std::chrono::steady_clock::now();
      const index_t end = std::min(n, start + o.batch);
      const std::vector<std::string> chunk(english.sentences.begin() + start, english.sentences.begin() + end);
      for (const auto& line : mt.translate(chunk)) out << line << '\n';
      out.flush();
      GLUEGEN_CHECK_AS(IoError, out.good(), "cannot append to '{}'", path.string());
      seconds[language] =
          seconds.value(language, 0.0) + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      write_file_atomically(times_path, seconds.dump(), "corpus file");
      bar.update(end, "");
    }
  }
  return write_corpus_splits(english, dir, o, seconds);
}

}  // namespace gluegen::train
