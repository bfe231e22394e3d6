// docs/io.md: writing and reading a model file, and what errors look like.
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/tensor.hpp>

#include <cassert>

int main() {
  using namespace gluegen;
  const auto weight = ops::randn<float, Cpu>({768, 1024}, 1);

  {  // Written to "aligner.h5.tmp.<pid>", renamed to "aligner.h5" by commit().
    io::WeightWriter out("aligner.h5", {.model_type = "gluenet", .config = {{"n_blocks", 5}}});
    out.write("encoder.proj.weight", weight);                  // stored as f32
    out.write("encoder.proj.weight_f16", weight, DType::f16);  // stored as f16, half the bytes
    out.commit();
  }

  const io::WeightReader in("aligner.h5");
  assert(in.meta().config["n_blocks"] == 5);
  const Tensor<float, Cpu> w = in.read<float>("encoder.proj.weight", Shape{768, 1024});  // shape checked
  assert(w.to_vector() == weight.to_vector());

  try {
    (void)in.read<float>("encoder.proj.wieght");
  } catch (const MissingDatasetError& e) {
    // "dataset 'encoder.proj.wieght' not found in 'aligner.h5'; closest: 'encoder.proj.weight', ..."
    assert(e.message().find("closest: 'encoder.proj.weight'") != std::string::npos);
  }
  return 0;
}
