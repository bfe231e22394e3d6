#pragma once
// The speech commands (speech_commands.cpp: speak), the audio side of issue 20's speech-to-image route.
#include <gluegen/audio/espeak.hpp>

#include <CLI/CLI.hpp>

#include <functional>

namespace gluegen::cli {

/// Registers the commands; returns a dispatcher to call after parsing (-1: none of these ran).
std::function<int()> add_speech_commands(CLI::App& app);

/// A voice as the CLI names it: "NAME[:WPM[:PITCH]]" ("en-us+f3", "en-029:140", "en-gb:200:70"); a
/// ValueError naming the spec when a number is not one.
audio::SpeechVoice parse_voice(const std::string& spec);
std::vector<audio::SpeechVoice> parse_voices(const std::vector<std::string>& specs);
/// The spec parse_voice reads back: "NAME:WPM:PITCH".
std::string voice_spec(const audio::SpeechVoice& voice);

}  // namespace gluegen::cli
