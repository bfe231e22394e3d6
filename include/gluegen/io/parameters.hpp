#pragma once
// A module's parameters in a weight file: every parameter and buffer at its state_dict name under a
// prefix, so a checkpoint gluegen writes and a converted PyTorch / Hugging Face one read the same way.
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/nn/module.hpp>

#include <optional>
#include <string>

namespace gluegen::io {

/// Writes every parameter and buffer as `prefix + name` (storage dtype defaults to the compute type).
template <nn::Module M>
void save_parameters(M& m, WeightWriter& out, const std::string& prefix = "",
                     std::optional<DType> storage = std::nullopt) {
  m.visit_parameters([&](const std::string& name, auto& p) { out.write(prefix + name, p.value, storage); }, "");
}

/// Reads every parameter (and, unless with_buffers is false, every buffer) from `prefix + name`,
/// checking shapes. Strict: a missing dataset is a MissingDatasetError naming it (with the closest
/// names in the file). with_buffers = false reads files of parameters only (torch's
/// named_parameters()), leaving buffers at their initial values.
template <nn::Module M>
void load_parameters(M& m, const WeightReader& in, const std::string& prefix = "", bool with_buffers = true) {
  m.visit_parameters(
      [&](const std::string& name, auto& p) {
        if (with_buffers || !p.buffer) in.read_into(prefix + name, p.value);
      },
      "");
}

}  // namespace gluegen::io
