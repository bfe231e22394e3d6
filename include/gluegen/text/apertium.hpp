#pragma once
// Machine translation through Apertium (Forcada et al. 2011), Debian's rule-based MT system: the real
// `apertium` program and its language-pair packages, run as a subprocess on a batch of lines. It
// translates GlueGen's parallel corpus out of English (`gluegen make-corpus`) and is the
// translate-then-encode baseline every GlueGen table compares against (MTN's M2M100 row):
// prompt -> English -> the decoder's own text encoder.
#include <gluegen/core/error.hpp>
#include <gluegen/text/unicode.hpp>

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace gluegen {

/// An external program gluegen runs (apertium and its language pairs) is not installed or cannot be
/// started; the message names the Debian package that provides it.
class MissingDependencyError : public Error {
 public:
  explicit MissingDependencyError(const std::string& message,
                                  std::source_location where = std::source_location::current())
      : Error(message, where) {}
};

}  // namespace gluegen

namespace gluegen::text {

/// An English <-> X pair: its Apertium modes (empty where Debian's pair translates one way only) and
/// the Debian package that installs them.
struct ApertiumPair {
  const char* language;  ///< the tag gluegen uses (ISO 639-1, hbs for Serbo-Croatian)
  const char* name;
  const char* from_english;
  const char* to_english;
  const char* package;
};

inline const std::vector<ApertiumPair>& apertium_pairs() {
  static const std::vector<ApertiumPair> pairs{
      {"es", "Spanish", "eng-spa", "spa-eng", "apertium-eng-spa"},
      {"ca", "Catalan", "eng-cat", "cat-eng", "apertium-eng-cat"},
      {"gl", "Galician", "en-gl", "gl-en", "apertium-en-gl"},
      {"eo", "Esperanto", "en-eo", "eo-en", "apertium-eo-en"},
      {"hbs", "Serbo-Croatian", "eng-hbs", "hbs-eng", "apertium-hbs-eng"},
      {"eu", "Basque", "", "eu-en", "apertium-eu-en"},
      {"is", "Icelandic", "", "isl-eng", "apertium-isl-eng"},
      {"mk", "Macedonian", "", "mkd-eng", "apertium-mkd-eng"},
  };
  return pairs;
}

/// The pair of `language`; a ValueError listing the known ones otherwise.
[[nodiscard]] inline const ApertiumPair& apertium_pair(const std::string& language) {
  std::string known;
  for (const auto& p : apertium_pairs()) {
    if (language == p.language) return p;
    known += fmt::format("{}{} ({})", known.empty() ? "" : ", ", p.language, p.name);
  }
  GLUEGEN_THROW(ValueError, "no Apertium pair with English for language '{}' (known: {})", language, known);
}

namespace detail {

/// The full path of `program` on $PATH, or "" when it is not there.
[[nodiscard]] inline std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

/// A file in the temporary directory that is removed with this object.
struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& what) {
    static std::atomic<unsigned> counter{0};
    path = std::filesystem::temp_directory_path() /
           fmt::format("gluegen-{}-{}-{}.txt", ::getpid(), counter.fetch_add(1), what);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
  [[nodiscard]] std::string read() const {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
};

/// Runs argv (argv[0] a full path) with stdin from /dev/null and stdout, stderr into files; returns
/// the exit status (-1 when it did not exit normally). posix_spawn, not system(): no shell parses
/// the arguments.
inline int run_program(const std::vector<std::string>& argv, const TempFile& out, const TempFile& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  GLUEGEN_CHECK_AS(MissingDependencyError, spawned == 0, "cannot start '{}': {}", argv[0], std::strerror(spawned));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    GLUEGEN_CHECK_AS(Error, errno == EINTR, "waiting for '{}': {}", argv[0], std::strerror(errno));
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace detail

/// One Apertium mode (e.g. "spa-eng"), checked when constructed: a missing `apertium` program or a
/// mode no installed pair provides is a MissingDependencyError naming the Debian package.
class Apertium {
 public:
  Apertium(std::string mode, std::string package) : mode_(std::move(mode)), package_(std::move(package)) {
    program_ = detail::find_on_path("apertium");
    GLUEGEN_CHECK_AS(MissingDependencyError, !program_.empty(),
                     "machine translation needs the 'apertium' program on PATH: apt-get install apertium {}", package_);
    const detail::TempFile out("modes"), err("modes-err");
    const int status = detail::run_program({program_, "-l"}, out, err);
    std::stringstream modes(out.read());
    bool found = false;
    for (std::string m; modes >> m;) found = found || m == mode_;
    GLUEGEN_CHECK_AS(MissingDependencyError, status == 0 && found,
                     "Apertium has no mode '{}' (its language pair is not installed): apt-get install {}", mode_,
                     package_);
  }

  /// English -> `language` and `language` -> English.
  [[nodiscard]] static Apertium from_english(const std::string& language) {
    const auto& p = apertium_pair(language);
    GLUEGEN_CHECK_AS(ValueError, *p.from_english, "Debian's Apertium pair {} translates {} -> English only", p.package,
                     p.name);
    return {p.from_english, p.package};
  }
  [[nodiscard]] static Apertium to_english(const std::string& language) {
    const auto& p = apertium_pair(language);
    return {p.to_english, p.package};
  }

  [[nodiscard]] const std::string& mode() const noexcept { return mode_; }

  /// Translates each line in one apertium run; `-u` drops the '*' Apertium puts before words it does
  /// not know (they pass through untranslated). Apertium's structural transfer moves words across line
  /// breaks (a batch of unterminated lines comes back shifted by a word here and there) but never
  /// across a sentence end, so a line without final punctuation is sent with a '.' that is taken off
  /// its translation again, and the capital Apertium then gives the next line's first word is undone
  /// where the line began in lower case. Tabs and line breaks inside a line become spaces.
  [[nodiscard]] std::vector<std::string> translate(const std::vector<std::string>& lines) const {
    if (lines.empty()) return {};
    const detail::TempFile in("in"), out("out"), err("err");
    std::vector<bool> terminated;
    {
      std::ofstream f(in.path, std::ios::binary);
      for (std::string line : lines) {
        std::replace_if(
            line.begin(), line.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
        const auto last = line.find_last_not_of(' ');
        terminated.push_back(last != std::string::npos &&
                             std::string_view(".!?").find(line[last]) != std::string::npos);
        f << line << (terminated.back() ? "" : ".") << '\n';
      }
      GLUEGEN_CHECK_AS(IoError, f.good(), "cannot write the translation input '{}'", in.path.string());
    }
    const int status = detail::run_program({program_, "-u", mode_, in.path.string()}, out, err);
    GLUEGEN_CHECK_AS(Error, status == 0, "apertium {} failed (exit status {}): {}", mode_, status, err.read());
    std::vector<std::string> result;
    std::stringstream text(out.read());
    for (std::string line; std::getline(text, line);) result.push_back(line);
    GLUEGEN_CHECK_AS(Error, result.size() == lines.size(), "apertium {} returned {} lines for {}", mode_, result.size(),
                     lines.size());
    for (std::size_t i = 0; i < result.size(); ++i) {
      std::string& r = result[i];
      if (!terminated[i] && !r.empty() && r.back() == '.') r.pop_back();
      if (!lines[i].empty() && std::islower(static_cast<unsigned char>(lines[i].front()))) r = lower_first(r);
    }
    return result;
  }

 private:
  /// `s` with its first code point in lower case ("Una mujer" -> "una mujer", "Émile" -> "émile").
  [[nodiscard]] static std::string lower_first(const std::string& s) {
    if (s.empty()) return s;
    auto cps = decode_utf8(s);
    cps[0] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cps[0])));
    return encode_utf8(cps);
  }

  std::string mode_, package_, program_;
};

}  // namespace gluegen::text
