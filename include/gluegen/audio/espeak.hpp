#pragma once
// Spoken prompts for users without recordings, and the speech corpus of issue 20: text rendered by
// eSpeak NG (Debian libespeak-ng-dev; a formant synthesizer with voices for about 100 languages),
// in-process through its C API rather than a subprocess per sentence. Voices are named as espeak-ng's
// -v option names them ("en-us", "de", "fr+f3": a language and an optional variant such as m1..m7,
// f1..f5, croak, whisper); speed is in words per minute (80..450, espeak-ng's default 175), pitch and
// pitch range on its 0..100 scale (default 50). The library keeps one global synthesizer, so every
// call takes a process-wide lock: render in one thread per process, or in several processes. That
// synthesizer carries state (glottal phase, pitch) from sentence to sentence and cannot be reset, so a
// clip depends on what the process spoke before it; the same sequence of calls gives the same clips.
#include <gluegen/audio/wav.hpp>
#include <gluegen/core/error.hpp>

#include <espeak-ng/speak_lib.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace gluegen::audio {

struct SpeechVoice {
  std::string name = "en-us";  ///< espeak-ng voice, optionally with a variant: "de", "en-us+f3"
  int words_per_minute = 175;
  int pitch = 50;        ///< 0..100
  int pitch_range = 50;  ///< 0..100: how much the pitch moves (0 = monotone)
};

/// Renders `text` (UTF-8) with `voice` into mono samples at espeak-ng's rate (22050 Hz). Unknown voices,
/// out-of-range settings and an empty text are ValueErrors naming them.
inline Waveform speak(const std::string& text, const SpeechVoice& voice = {}) {
  GLUEGEN_CHECK_AS(ValueError, !text.empty(), "speak: the text is empty");
  GLUEGEN_CHECK_AS(ValueError,
                   voice.words_per_minute >= espeakRATE_MINIMUM && voice.words_per_minute <= espeakRATE_MAXIMUM &&
                       voice.pitch >= 0 && voice.pitch <= 100 && voice.pitch_range >= 0 && voice.pitch_range <= 100,
                   "speak: voice '{}' has speed {} wpm (80..450), pitch {} and pitch range {} (0..100)", voice.name,
                   voice.words_per_minute, voice.pitch, voice.pitch_range);
  static std::mutex lock;
  const std::lock_guard guard(lock);
  static const int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
  GLUEGEN_CHECK_AS(IoError, rate > 0, "speak: espeak-ng did not initialise (is espeak-ng-data installed?)");
  // espeak-ng calls back with each chunk of samples; a null chunk ends the sentence.
  espeak_SetSynthCallback([](short* chunk, int n, espeak_EVENT* events) {
    if (chunk != nullptr && n > 0) {
      auto* out = static_cast<std::vector<float>*>(events->user_data);
      for (int i = 0; i < n; ++i) out->push_back(static_cast<float>(chunk[i]) / 32768.0F);
    }
    return 0;
  });
  // As the espeak-ng command line: a voice by name or file ("en-us", "gmw/en"), else by language ("en-gb").
  bool found = espeak_SetVoiceByName(voice.name.c_str()) == EE_OK;
  if (!found) {
    espeak_VOICE by_language{};
    by_language.languages = voice.name.c_str();
    found = espeak_SetVoiceByProperties(&by_language) == EE_OK;
  }
  GLUEGEN_CHECK_AS(ValueError, found,
                   "speak: espeak-ng has no voice '{}' (espeak-ng --voices lists them; variants as 'en-us+f3')",
                   voice.name);
  espeak_SetParameter(espeakRATE, voice.words_per_minute, 0);
  espeak_SetParameter(espeakPITCH, voice.pitch, 0);
  espeak_SetParameter(espeakRANGE, voice.pitch_range, 0);
  Waveform out{.samples = {}, .sample_rate = rate};
  const espeak_ERROR status =
      espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8 | espeakENDPAUSE, nullptr,
                   &out.samples);  // ENDPAUSE: the final clause's pause, as the command line renders it
  GLUEGEN_CHECK_AS(IoError, status == EE_OK && espeak_Synchronize() == EE_OK,
                   "speak: espeak-ng failed (code {}) on '{}' with voice '{}'", static_cast<int>(status), text,
                   voice.name);
  GLUEGEN_CHECK_AS(ValueError, !out.samples.empty(), "speak: espeak-ng rendered no audio for '{}' (voice '{}')", text,
                   voice.name);
  return out;
}

}  // namespace gluegen::audio
