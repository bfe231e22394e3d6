// PyTorch parity of the nn modules and losses on the Cuda policy (skipped without a GPU).
#include <gluegen/tensor/cuda.cuh>

#include "nn/golden_suite.hpp"

namespace gluegen::test {
template <>
bool policy_available<Cuda>() {
  return cuda_device_available();
}
INSTANTIATE_TYPED_TEST_SUITE_P(Cuda, NnGoldens, ::testing::Types<Cuda>);
}  // namespace gluegen::test
