#pragma once
// What every training run shares, whatever it trains: the run directory's metrics.jsonl (trimmed to
// the checkpoint's step on resume, so replayed steps are not logged twice), the checkpoint model type,
// and SIGINT / SIGTERM turned into "checkpoint and stop" requests.
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace gluegen::train {

inline constexpr const char* kCheckpointModelType = "gluegen.checkpoint";

namespace detail {
inline std::atomic<int>& stop_signal() {
  static std::atomic<int> signal{0};
  return signal;
}
extern "C" inline void record_stop_signal(int sig) { stop_signal().store(sig); }

/// Starts a run's metrics file: empty for a fresh run (resumed_step < 0); for a resumed one, the lines
/// up to the checkpoint's step (later ones came from steps that will be replayed).
inline void prepare_metrics(const std::filesystem::path& path, std::int64_t resumed_step) {
  std::vector<std::string> keep;
  if (resumed_step >= 0) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.value("step", std::int64_t{0}) <= resumed_step) keep.push_back(line);
    }
  }
  std::ofstream out(path, std::ios::trunc);
  for (const auto& line : keep) out << line << '\n';
}
inline void append_metrics(const std::filesystem::path& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::app);
  out << j.dump() << '\n';
}

/// Routes SIGINT and SIGTERM to a flag while alive; the previous handlers come back on destruction.
class StopSignals {
 public:
  StopSignals() {
    stop_signal().store(0);
    struct sigaction act {};
    act.sa_handler = record_stop_signal;
    sigemptyset(&act.sa_mask);
    sigaction(SIGINT, &act, &old_int_);
    sigaction(SIGTERM, &act, &old_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  [[nodiscard]] static int received() { return stop_signal().load(); }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};
}  // namespace detail

}  // namespace gluegen::train
