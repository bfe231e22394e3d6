#pragma once
// The commands on model files themselves (model_file_commands.cpp):
//   gluegen inspect FILE [--stats]                      what a file holds, its provenance record included
//   gluegen convert-weights --in FILE --out FILE [--dtype f16] [--encoder-only]
//   gluegen record-provenance --file FILE [--source-encoder DIR] [--target-encoder DIR] [--text-encoder DIR]
//                             [--decoder FILE] [--source-length N] [--target-length N] [--text-length N]
//                             [--made-by TEXT]      (for files made before gluegen recorded provenance)
#include <CLI/CLI.hpp>

#include <functional>

namespace gluegen::cli {

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
std::function<int()> add_model_file_commands(CLI::App& app);

}  // namespace gluegen::cli
