#pragma once
// What every training run shares, whatever it trains (the aligner Trainer, the DecoderTrainer): the
// run directory (checkpoint.h5, the exported model, metrics.jsonl trimmed to the checkpoint's step on
// resume, so replayed steps are not logged twice), the checkpoint model type, and the step loop, with
// checkpoints every K updates, at the last one, and on SIGINT / SIGTERM, which stop the run after it.
#include <gluegen/core/progress.hpp>

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
  struct sigaction old_int_ {
  }, old_term_{};
};
}  // namespace detail

/// A training run's directory.
class RunDir {
 public:
  /// `export_file`: the trained model's file name inside the directory (aligner.h5, decoder.h5).
  RunDir(std::filesystem::path dir, std::string export_file)
      : dir_(std::move(dir)), export_file_(std::move(export_file)) {
    GLUEGEN_CHECK_AS(ValueError, !dir_.empty(), "no run directory given");
    std::filesystem::create_directories(dir_);
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return dir_; }
  [[nodiscard]] std::filesystem::path checkpoint() const { return dir_ / "checkpoint.h5"; }
  [[nodiscard]] std::filesystem::path model() const { return dir_ / export_file_; }
  [[nodiscard]] std::filesystem::path metrics() const { return dir_ / "metrics.jsonl"; }
  [[nodiscard]] bool has_checkpoint() const { return std::filesystem::exists(checkpoint()); }
  /// What a diverged run still has, for its error message: the checkpoint it can resume from, if any.
  [[nodiscard]] std::string last_good_checkpoint() const {
    return has_checkpoint() ? fmt::format("The last good checkpoint '{}' is intact", checkpoint().string())
                            : std::string("No checkpoint was written yet");
  }

  /// Starts metrics.jsonl: empty for a fresh run (resumed_step < 0), else its lines up to that step.
  void begin_metrics(std::int64_t resumed_step) const { detail::prepare_metrics(metrics(), resumed_step); }
  void log(const nlohmann::json& j) const { detail::append_metrics(metrics(), j); }

 private:
  std::filesystem::path dir_;
  std::string export_file_;
};

/// The loop every trainer runs: one_step() makes one update (advancing `step`) with its logging;
/// save() writes the checkpoint every `checkpoint_every` updates, after the last one, and when
/// SIGINT / SIGTERM arrive, which then stop the run. Returns whether a signal stopped it.
template <typename OneStep, typename Save>
bool run_steps(std::int64_t& step, std::int64_t steps, std::int64_t checkpoint_every, const RunDir& run,
               Progress& progress, OneStep&& one_step, Save&& save) {
  detail::StopSignals signals;
  while (step < steps) {
    one_step();
    const int sig = detail::StopSignals::received();
    if (step % checkpoint_every == 0 || step == steps || sig != 0) save();
    if (sig != 0) {
      progress.interrupt();
      std::fprintf(
          stderr, "stopped by signal %d at step %lld; checkpoint written to %s; run the same command again to resume\n",
          sig, static_cast<long long>(step), run.checkpoint().c_str());
      return true;
    }
  }
  return false;
}

}  // namespace gluegen::train
