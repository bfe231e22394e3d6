// PyTorch parity of the nn modules and losses on the Cpu policy.
#include "nn/golden_suite.hpp"

namespace gluegen::test {
INSTANTIATE_TYPED_TEST_SUITE_P(Cpu, NnGoldens, ::testing::Types<Cpu>);
}  // namespace gluegen::test
