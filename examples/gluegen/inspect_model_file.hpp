#pragma once
// What a gluegen (or any HDF5) model file holds, printed: model_type, format, config, the provenance
// record (io/provenance.hpp), and each dataset's name, shape, dtype and size (text datasets: how many
// strings); with `stats` also min / max / mean / std of each tensor (read in f64). `gluegen inspect`
// and the stand-alone gluegen_inspect both print it.
#include <gluegen/io/hdf5_store.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace gluegen::cli {

/// A provenance record, one key per line: models as "name  sha256 <digest>", the rest as JSON.
inline void print_provenance(const nlohmann::json& record) {
  if (!record.is_object() || record.empty()) {
    fmt::print("provenance  (none recorded: nothing is checked when this file is loaded with other models)\n");
    return;
  }
  fmt::print("provenance\n");
  const auto line = [](const std::string& key, const nlohmann::json& value) {
    if (value.is_object() && value.contains("name"))
      fmt::print("  {:<15} {}  sha256 {}\n", key, value.at("name").get<std::string>(),
                 value.value("sha256", std::string("(not recorded)")));
    else
      fmt::print("  {:<15} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  };
  // the models first, then their lengths, then how the file was made (JSON objects keep no order of their own)
  const std::vector<std::string> order{"source_encoder", "target_encoder", "text_encoder",
                                       "decoder",        "source_length",  "target_length",
                                       "text_length",    "command",        "recorded_by"};
  for (const auto& key : order)
    if (record.contains(key)) line(key, record.at(key));
  for (const auto& [key, value] : record.items())
    if (std::ranges::find(order, key) == order.end()) line(key, value);
}

inline void print_tensor_stats(const io::WeightReader& reader, const std::string& name) {
  const auto v = reader.read<double>(name).to_vector();
  double mean = 0, sq = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) sq += (x - mean) * (x - mean) / static_cast<double>(v.size());
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  fmt::print("  min {:+.4e} max {:+.4e} mean {:+.4e} std {:.4e}", *lo, *hi, mean, std::sqrt(sq));
}

inline int inspect_model_file(const std::filesystem::path& path, bool stats) {
  const io::WeightReader reader(path, {.reject_nonfinite = false});
  const auto& meta = reader.meta();
  fmt::print("file        {}\nmodel_type  {}\nformat      {}\nconfig      {}\n", reader.path().string(),
             meta.model_type.empty() ? "(none)" : meta.model_type, meta.gluegen_format, meta.config.dump());
  print_provenance(meta.provenance);
  fmt::print("\n");
  std::size_t width = 4, total = 0, bytes = 0, tensors = 0;
  const auto names = reader.names();
  for (const auto& n : names) width = std::max(width, n.size());
  for (const auto& name : names) {
    if (reader.holds_text(name)) {  // a decoder's scheduler_config, a captions file's prompts
      const auto texts = reader.read_strings(name);
      fmt::print("{:<{}}  {:<18} {:<5} {:>12}\n", name, width, fmt::format("[{}]", texts.size()), "text", texts.size());
      continue;
    }
    const io::TensorInfo info = reader.info(name);
    ++tensors;
    const auto count = static_cast<std::size_t>(info.shape.numel());
    total += count;
    bytes += count * dtype_size(info.dtype);
    fmt::print("{:<{}}  {:<18} {:<5} {:>12}", name, width, fmt::format("{}", info.shape), dtype_name(info.dtype),
               count);
    if (stats && count > 0) print_tensor_stats(reader, name);
    fmt::print("\n");
  }
  fmt::print("\n{} tensors, {} parameters, {:.2f} MiB stored\n", tensors, total,
             static_cast<double>(bytes) / (1 << 20));
  return 0;
}

}  // namespace gluegen::cli
