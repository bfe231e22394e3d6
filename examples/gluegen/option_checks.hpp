#pragma once
// Range checks for the command line's numeric options, so `--steps 0`, `--guidance nan` or `--batch -2` is a
// one-line error naming the option before anything loads ("--guidance: 'nan' is not a finite number >= 0"),
// not a run that divides by zero, samples NaN images or loops forever. NaN fails every check: CLI11's own
// Range and PositiveNumber compare with < and let it through.
#include <CLI/CLI.hpp>

#include <cmath>
#include <functional>
#include <string>

namespace gluegen::cli {

/// A validator accepting the numbers `ok` accepts; `what` completes "'x' is not ...".
inline CLI::Validator number_check(const std::string& what, std::function<bool(double)> ok) {
  return CLI::Validator(
      [what, ok](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "'" + text + "' is not a number";
        return ok(value) ? std::string() : "'" + text + "' is not " + what;
      },
      what);
}

/// Counts, sizes and steps: a whole number of at least 1 (the option's type rejects fractions).
inline const CLI::Validator at_least_one = number_check("1 or more", [](double v) { return v >= 1; });
/// Learning rates, decay horizons: finite and above zero.
inline const CLI::Validator positive =
    number_check("a finite number > 0", [](double v) { return std::isfinite(v) && v > 0; });
/// Guidance scales, loss weights, warm-up steps, clip norms where 0 means off: finite and not negative.
inline const CLI::Validator non_negative =
    number_check("a finite number >= 0", [](double v) { return std::isfinite(v) && v >= 0; });
/// Fractions and decays: in [0, 1].
inline const CLI::Validator fraction = number_check("in [0, 1]", [](double v) { return v >= 0 && v <= 1; });
/// Signal-to-noise ratios in dB: any finite number.
inline const CLI::Validator finite = number_check("a finite number", [](double v) { return std::isfinite(v); });

/// A bad command line in one line on stderr, as every other error of the CLI ("gluegen: --steps: '0' is not 1
/// or more (--help lists the options)"), instead of CLI11's two.
inline void one_line_failures(CLI::App& app, const std::string& program) {
  app.failure_message([program](const CLI::App*, const CLI::Error& e) {
    return program + ": " + e.what() + " (--help lists the options)\n";
  });
}

/// The command line this process runs, as a shell would read it back (`gluegen train --run 'my run' ...`): what a
/// file's provenance records made it. Set once by main (record_command_line, with the program's name: argv[0] is
/// wherever the binary was built).
inline std::string& command_line() {
  static std::string line;
  return line;
}
inline void record_command_line(const std::string& program, int argc, const char* const* argv) {
  std::string line = program;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-_=./:,+@%") == std::string::npos;
    std::string quoted = "'";
    for (const char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += " " + (plain ? arg : quoted + "'");
  }
  command_line() = line;
}

}  // namespace gluegen::cli
