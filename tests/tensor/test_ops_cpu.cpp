// The tensor-op suite on the Cpu policy, in f32 and f64.
#include "tensor/ops_suite.hpp"

namespace gluegen::test {
using CpuConfigs = ::testing::Types<Config<Cpu, float>, Config<Cpu, double>>;
INSTANTIATE_TYPED_TEST_SUITE_P(Cpu, OpsTest, CpuConfigs);

// Freed blocks of 1 MiB and more wait in the Cpu policy's cache for the next allocation of their
// size (a training step's transient backward buffers); smaller ones and those past the cap do not.
TEST(CpuBlockCache, ReusesFreedLargeBlocksUpToItsLimit) {
  auto& cache = detail::CpuBlockCache::instance();
  const std::size_t limit = cache.limit();
  cache.set_limit(0);  // start empty
  cache.set_limit(limit);
  constexpr index_t n = index_t{1} << 19;  // 2 MiB of floats
  constexpr std::size_t bytes = n * sizeof(float);
  const float* first = nullptr;
  {
    const auto t = Tensor<float, Cpu>::full({n}, 1.0f);
    first = t.data();
  }
  EXPECT_EQ(cache.idle_bytes(), bytes);
  {
    const auto t = Tensor<float, Cpu>::full({n}, 2.0f);
    EXPECT_EQ(t.data(), first);
    EXPECT_EQ(cache.idle_bytes(), 0u);
    EXPECT_EQ(t.to_vector()[static_cast<std::size_t>(n - 1)], 2.0f);
  }
  { const auto small = Tensor<float, Cpu>::full({1000}, 1.0f); }
  EXPECT_EQ(cache.idle_bytes(), bytes);  // the small block went to the heap
  cache.set_limit(bytes / 2);            // frees what is over the cap
  EXPECT_EQ(cache.idle_bytes(), 0u);
  { const auto t = Tensor<float, Cpu>::full({n}, 3.0f); }
  EXPECT_EQ(cache.idle_bytes(), 0u);  // over the cap: back to the system
  cache.set_limit(limit);
}

}  // namespace gluegen::test
