#pragma once
// A size-keyed cache of large host blocks behind the Cpu policy's allocator (for host memory what
// PyTorch's caching allocator is for device memory). Backward buffers are transient: a layer's
// dL/dx is freed once the layer below has consumed it (nn::release_backward), so a deep model holds
// a few of them at a time instead of one per layer. Without a cache each of those frees would hand
// the pages back to the system (glibc serves blocks above its mmap threshold, at most 32 MiB, with
// mmap), and the next step would fault them in again; with it, the next allocation of the same size
// takes the freed block. Blocks under kMinBytes go to the heap directly, and the idle bytes held are
// capped (limit()): past the cap a freed block goes back to the system.
#include <cstddef>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace gluegen::detail {

class CpuBlockCache {
 public:
  static constexpr std::size_t kMinBytes = std::size_t{1} << 20;
  static constexpr std::size_t kDefaultLimit = std::size_t{2} << 30;
  /// 64-byte alignment: see AlignedAllocator (cpu.hpp).
  static constexpr std::align_val_t kAlignment{64};

  /// The process's cache. Never destroyed: tensors in static storage free into it during exit.
  static CpuBlockCache& instance() {
    static auto* cache = new CpuBlockCache;
    return *cache;
  }

  void* allocate(std::size_t bytes) {
    if (bytes >= kMinBytes) {
      const std::lock_guard lock(mutex_);
      if (const auto it = idle_.find(bytes); it != idle_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        idle_bytes_ -= bytes;
        return p;
      }
    }
    return ::operator new(bytes, kAlignment);
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    if (bytes >= kMinBytes) {
      const std::lock_guard lock(mutex_);
      if (idle_bytes_ + bytes <= limit_) {
        try {
          idle_[bytes].push_back(p);
          idle_bytes_ += bytes;
          return;
        } catch (const std::bad_alloc&) {  // no room to remember it: free it instead
        }
      }
    }
    ::operator delete(p, kAlignment);
  }

  /// Bytes held idle, ready for reuse.
  [[nodiscard]] std::size_t idle_bytes() {
    const std::lock_guard lock(mutex_);
    return idle_bytes_;
  }
  [[nodiscard]] std::size_t limit() {
    const std::lock_guard lock(mutex_);
    return limit_;
  }
  /// Caps the idle bytes (0 turns caching off), freeing idle blocks beyond the new cap.
  void set_limit(std::size_t bytes) {
    const std::lock_guard lock(mutex_);
    limit_ = bytes;
    for (auto it = idle_.begin(); it != idle_.end() && idle_bytes_ > limit_; ++it)
      while (!it->second.empty() && idle_bytes_ > limit_) {
        ::operator delete(it->second.back(), kAlignment);
        it->second.pop_back();
        idle_bytes_ -= it->first;
      }
  }

 private:
  CpuBlockCache() = default;

  std::mutex mutex_;
  std::unordered_map<std::size_t, std::vector<void*>> idle_;
  std::size_t idle_bytes_ = 0, limit_ = kDefaultLimit;
};

}  // namespace gluegen::detail
