#pragma once
// The default target model's commands (default_model_commands.cpp: fashion-captions, train-decoder,
// train-lavi-bridge, train-scorer, generate, eval-images, fashion-corpus), compiled apart from the
// aligner workflow's commands (main.cpp) so the CLI's two halves build in parallel.
#include <CLI/CLI.hpp>

#include <functional>

namespace gluegen::cli {

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
std::function<int()> add_default_model_commands(CLI::App& app);

}  // namespace gluegen::cli
