#pragma once
// English sentences from WordNet 3.0 (Miller 1995; Debian wordnet-base, /usr/share/wordnet): every
// synset's gloss, split into its definitions and its quoted example sentences. General English written
// by lexicographers, in no way caption text: the source side of GlueGen's general parallel corpus.
#include <gluegen/core/error.hpp>
#include <gluegen/text/unicode.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace gluegen::text {

inline constexpr const char* kDefaultWordNetDir = "/usr/share/wordnet";

struct WordNetSentences {
  std::vector<std::string> definitions, examples;
};

namespace detail {

[[nodiscard]] inline std::string trim_spaces(const std::string& s) {
  const auto b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/// One WordNet gloss "def; def; \"example\"; \"example\" - Author": ';' separates parts outside quotes;
/// a quoted part is an example (an attribution after its closing quote is dropped).
inline void split_gloss(const std::string& gloss, WordNetSentences& out) {
  std::vector<std::string> parts{""};
  bool quoted = false;
  for (const char c : gloss) {
    if (c == '"') quoted = !quoted;
    if (c == ';' && !quoted)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  for (const auto& raw : parts) {
    const std::string part = trim_spaces(raw);
    if (part.empty()) continue;
    if (part.front() != '"') {
      out.definitions.push_back(part);
      continue;
    }
    const auto close = part.find('"', 1);
    const std::string example = trim_spaces(part.substr(1, close == std::string::npos ? std::string::npos : close - 1));
    if (!example.empty()) out.examples.push_back(example);
  }
}

}  // namespace detail

/// The definitions and examples of every synset in `dir`'s data.noun, data.verb, data.adj and
/// data.adv (the files' license header, lines starting with two spaces, is skipped). A missing file
/// names the Debian package; a line without a gloss separator names the file and line.
[[nodiscard]] inline WordNetSentences read_wordnet(const std::filesystem::path& dir = kDefaultWordNetDir) {
  WordNetSentences out;
  for (const char* pos : {"noun", "verb", "adj", "adv"}) {
    const auto path = dir / (std::string("data.") + pos);
    std::ifstream in(path, std::ios::binary);
    GLUEGEN_CHECK_AS(FileNotFoundError, in.good(), "WordNet file '{}' cannot be read (Debian package wordnet-base)",
                     path.string());
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (line.rfind("  ", 0) == 0 || line.empty()) continue;
      const auto bar = line.find(" | ");
      GLUEGEN_CHECK_AS(ValueError, bar != std::string::npos, "{}:{}: a synset line without its gloss ' | '",
                       path.string(), number);
      std::string gloss = line.substr(bar + 3);
      if (!gloss.empty() && gloss.back() == '\r') gloss.pop_back();
      try {
        (void)decode_utf8(gloss);
      } catch (const ValueError& e) {
        GLUEGEN_THROW(ValueError, "{}:{}: {}", path.string(), number, e.message());
      }
      detail::split_gloss(gloss, out);
    }
  }
  return out;
}

}  // namespace gluegen::text
