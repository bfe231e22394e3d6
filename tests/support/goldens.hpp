#pragma once
// The PyTorch golden file written by tools/make_nn_goldens.py (opened once per test binary).
#include <gluegen/io/hdf5_store.hpp>
#include "support/paths.hpp"

namespace gluegen::test {
inline const io::WeightReader& nn_goldens() {
  static const io::WeightReader reader(std::string(GLUEGEN_TEST_DATA_DIR) + "/nn_goldens.h5");
  return reader;
}
}  // namespace gluegen::test
