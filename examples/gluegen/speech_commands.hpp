#pragma once
// The speech commands (speech_commands.cpp: speak), the audio side of issue 20's speech-to-image route.
#include <CLI/CLI.hpp>

#include <functional>

namespace gluegen::cli {

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
std::function<int()> add_speech_commands(CLI::App& app);

}  // namespace gluegen::cli
