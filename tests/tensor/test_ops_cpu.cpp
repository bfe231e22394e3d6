// The tensor-op suite on the Cpu policy, in f32 and f64.
#include "tensor/ops_suite.hpp"

namespace gluegen::test {
using CpuConfigs = ::testing::Types<Config<Cpu, float>, Config<Cpu, double>>;
INSTANTIATE_TYPED_TEST_SUITE_P(Cpu, OpsTest, CpuConfigs);
}  // namespace gluegen::test
