#pragma once
// Shared counters for the benchmarks: throughput and peak resident memory (design.md section 6:
// every benchmark reports its memory).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

namespace gluegen::bench {

/// Peak resident set size of this process so far, in MiB.
inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

/// GFLOP/s (flops per iteration) and peak RSS counters.
inline void report(benchmark::State& state, double flops_per_iteration, double bytes_per_iteration = 0) {
  if (flops_per_iteration > 0)
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (bytes_per_iteration > 0)
    state.counters["GB/s"] =
        benchmark::Counter(bytes_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_MiB"] = peak_rss_mib();
}

}  // namespace gluegen::bench
