// gluegen's HDF5 model files (io/hdf5_store.hpp), read through libhdf5 as every model loader does: the
// metadata attributes, the dataset list, each dataset's shape, values and (for byte datasets) strings.
#include "fuzz_input.hpp"

#include <gluegen/io/hdf5_store.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    const gluegen::io::WeightReader reader(gluegen::fuzz::as_file(bytes, "model.h5"));
    for (const std::string& name : reader.names()) {
      const gluegen::io::TensorInfo info = reader.info(name);
      if (info.shape.numel() > (gluegen::index_t{1} << 20)) continue;
      try {
        (void)reader.read<float>(name);
      } catch (const gluegen::DTypeError&) {  // a string dataset
        (void)reader.read_strings(name);
      }
    }
  });
}
