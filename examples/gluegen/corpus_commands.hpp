#pragma once
// The general parallel corpus command (corpus_commands.cpp: make-corpus), GlueGen's training data
// for a multilingual aligner that is not built from the evaluation's captions.
#include <CLI/CLI.hpp>

#include <functional>

namespace gluegen::cli {

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
std::function<int()> add_corpus_commands(CLI::App& app);

}  // namespace gluegen::cli
