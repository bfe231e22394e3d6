#pragma once
// Which policies can run here: Cpu always; a device policy's translation unit specialises this.
#include <gluegen/tensor/kernels.hpp>

namespace gluegen::test {
template <TensorPolicy P>
bool policy_available() {
  return !P::is_device;
}
}  // namespace gluegen::test
