// gluegen_inspect: what a gluegen (or any HDF5) model file holds.
//   gluegen_inspect model.h5 [--stats]
// Prints model_type, format, config, and each tensor's name, shape, dtype and size (text datasets: how many
// strings); with --stats
// also min / max / mean / std of each tensor (read in f64).
#include <gluegen/io/hdf5_store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

int main(int argc, char** argv) try {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    fmt::print("usage: gluegen_inspect MODEL.h5 [--stats]\n");
    return argc < 2 ? 2 : 0;
  }
  const bool stats = argc > 2 && std::strcmp(argv[2], "--stats") == 0;
  const gluegen::io::WeightReader reader(argv[1], {.reject_nonfinite = false});
  const auto& meta = reader.meta();
  fmt::print("file        {}\nmodel_type  {}\nformat      {}\nconfig      {}\n\n", reader.path().string(),
             meta.model_type.empty() ? "(none)" : meta.model_type, meta.gluegen_format, meta.config.dump());
  std::size_t width = 4, total = 0, bytes = 0;
  const auto names = reader.names();
  for (const auto& n : names) width = std::max(width, n.size());
  std::size_t tensors = 0;
  for (const auto& name : names) {
    gluegen::io::TensorInfo info;
    try {
      info = reader.info(name);
    } catch (const gluegen::DTypeError&) {  // text: a decoder's scheduler_config, a captions file's prompts
      const auto texts = reader.read_strings(name);
      fmt::print("{:<{}}  {:<18} {:<5} {:>12}\n", name, width, fmt::format("[{}]", texts.size()), "text", texts.size());
      continue;
    }
    ++tensors;
    const auto count = static_cast<std::size_t>(info.shape.numel());
    total += count;
    bytes += count * gluegen::dtype_size(info.dtype);
    fmt::print("{:<{}}  {:<18} {:<5} {:>12}", name, width, fmt::format("{}", info.shape),
               gluegen::dtype_name(info.dtype), count);
    if (stats && count > 0) {
      const auto v = reader.read<double>(name).to_vector();
      double mean = 0, sq = 0;
      for (double x : v) mean += x / static_cast<double>(v.size());
      for (double x : v) sq += (x - mean) * (x - mean) / static_cast<double>(v.size());
      const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      fmt::print("  min {:+.4e} max {:+.4e} mean {:+.4e} std {:.4e}", *lo, *hi, mean, std::sqrt(sq));
    }
    fmt::print("\n");
  }
  fmt::print("\n{} tensors, {} parameters, {:.2f} MiB stored\n", tensors, total,
             static_cast<double>(bytes) / (1 << 20));
  return 0;
} catch (const gluegen::Error& e) {
  fmt::print(stderr, "gluegen_inspect: {}\n", e.what());
  return 1;
}
