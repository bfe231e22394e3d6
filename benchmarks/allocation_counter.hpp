#pragma once
// A global operator new / delete that counts heap allocations and bytes, for the benchmarks' allocs/iter
// counters (design.md section 6 asks for no allocation in a steady-state training step). Include it in
// exactly one translation unit of a benchmark program: it replaces the program's allocator.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace gluegen::bench {
inline std::atomic<long> g_allocations{0}, g_allocated_bytes{0};
}  // namespace gluegen::bench

void* operator new(std::size_t n) {
  gluegen::bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
  gluegen::bench::g_allocated_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// Tensor storage (64-byte aligned) comes through here.
void* operator new(std::size_t n, std::align_val_t al) {
  gluegen::bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
  gluegen::bench::g_allocated_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
  if (void* p = std::aligned_alloc(
          static_cast<std::size_t>(al),
          (n + static_cast<std::size_t>(al) - 1) / static_cast<std::size_t>(al) * static_cast<std::size_t>(al)))
    return p;
  throw std::bad_alloc();
}
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace gluegen::bench {
/// Allocations and MB allocated per iteration since (before, bytes_before), as benchmark counters.
inline void report_allocations(benchmark::State& state, long before, long bytes_before) {
  const auto iters = static_cast<double>(state.iterations());
  state.counters["allocs/iter"] = static_cast<double>(g_allocations.load() - before) / iters;
  state.counters["MB alloc/iter"] = static_cast<double>(g_allocated_bytes.load() - bytes_before) / iters / 1e6;
}
}  // namespace gluegen::bench
