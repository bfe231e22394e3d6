// WAV files (audio/wav.hpp) from bytes, then resampled to Whisper's 16 kHz as `generate --audio` does
// (short clips only: the sinc converter's cost grows with the clip, not with what the fuzzer explores).
#include "fuzz_input.hpp"

#include <gluegen/audio/resample.hpp>
#include <gluegen/audio/wav.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    const gluegen::audio::Waveform wave = gluegen::audio::read_wav_bytes(bytes, "fuzz.wav");
    if (wave.samples.size() <= 2048) (void)gluegen::audio::resample(wave, 16000);
  });
}
