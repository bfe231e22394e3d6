#pragma once
// Progress output for long work (training, encoding): on a terminal one line redrawn in place; in a
// log file (CI, nohup) a full line at most every `log_interval` so logs stay readable. Shows done/total,
// throughput, ETA and a caller-supplied status (the current losses).
#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace gluegen {

/// "1h02m", "3m05s", "12s"
inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  /// `first` is where a resumed run starts (its throughput counts only this run's work).
  Progress(std::string label, long long total, std::string unit, long long first = 0, bool enabled = true,
           double log_interval_s = 10.0)
      : label_(std::move(label)),
        unit_(std::move(unit)),
        total_(total),
        first_(first),
        enabled_(enabled),
        tty_(::isatty(::fileno(stderr)) != 0),
        interval_(log_interval_s),
        start_(Clock::now()),
        last_(start_) {}

  /// Reports `done` of total. With items_per_unit (e.g. examples per step) the rate is in `items`.
  void update(long long done, const std::string& status, double items_per_unit = 1.0, const std::string& items = "") {
    if (!enabled_) return;
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const bool finished = done >= total_;
    if (!tty_ && !finished && std::chrono::duration<double>(now - last_).count() < interval_) return;
    last_ = now;
    const double rate = elapsed > 0 ? static_cast<double>(done - first_) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1.0;
    const std::string line =
        fmt::format("{} {}/{} {} [{:3.0f}%] {} | {:.1f} {}/s ETA {}", label_, done, total_, unit_,
                    100.0 * static_cast<double>(done) / static_cast<double>(std::max(total_, 1LL)), status,
                    rate * items_per_unit, items.empty() ? unit_ : items, format_duration(eta));
    if (tty_)
      std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), finished ? "\n" : "");
    else
      std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  /// Ends an in-place line early (an interruption), so the next message starts on its own line.
  void interrupt() const {
    if (enabled_ && tty_) std::fprintf(stderr, "\n");
  }

  [[nodiscard]] double elapsed_seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  std::string label_, unit_;
  long long total_, first_;
  bool enabled_, tty_;
  double interval_;
  Clock::time_point start_, last_;
};

}  // namespace gluegen
