// docs/audio.md: a WAV file to Whisper's log-mel features. argv[1]: the repository root, for the
// committed espeak-ng clip (22050 Hz speech: "a red sneaker on a blue background").
#include <gluegen/audio/log_mel.hpp>
#include <gluegen/audio/resample.hpp>
#include <gluegen/audio/wav.hpp>

#include <cassert>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::filesystem::path root = argc > 1 ? argv[1] : ".";

  // Any PCM / float / extensible WAV, any channel count: mono float samples at the file's rate.
  const audio::Waveform speech = audio::read_wav(root / "tests/data/audio/red_sneaker_en.wav");
  std::printf("%zu samples at %d Hz (%.2f s)\n", speech.samples.size(), speech.sample_rate, speech.seconds());

  // Whisper wants 16 kHz: libsamplerate's best sinc converter.
  const audio::Waveform speech_16k = audio::resample(speech, 16000);
  assert(speech_16k.sample_rate == 16000);

  // One extractor per configuration (it owns the FFTW plan); extract() is const and thread-safe.
  const audio::WhisperFeatureExtractor whisper;                     // n_fft 400, hop 160, 80 mels, 30 s
  const Tensor<float, Cpu> features = whisper.extract(speech_16k);  // [80, 3000]
  assert(features.shape() == (Shape{80, 3000}));

  // large-v3's 128 channels; a batch [B, 128, 3000], each clip padded to 30 s and scaled on its own.
  const audio::WhisperFeatureExtractor whisper_v3({.n_mels = 128});
  const std::vector<audio::Waveform> clips{speech_16k, speech_16k};
  assert(whisper_v3.extract_batch(clips).shape() == (Shape{2, 128, 3000}));

  // 16-bit PCM mono out (written to "tone.wav.tmp", then renamed) and back.
  audio::Waveform tone{.samples = std::vector<float>(8000), .sample_rate = 16000};
  for (std::size_t t = 0; t < tone.samples.size(); ++t)
    tone.samples[t] =
        0.5f * static_cast<float>(std::sin(2 * std::numbers::pi * 440.0 * static_cast<double>(t) / 16000));
  audio::write_wav("tone.wav", tone);
  assert(audio::read_wav("tone.wav").samples.size() == 8000);

  try {
    (void)whisper.extract(speech);  // still 22050 Hz
  } catch (const ValueError& e) {
    // "WhisperFeatureExtractor expects 16000 Hz audio, got 22050: resample first (audio::resample)"
    assert(e.message().find("resample first") != std::string::npos);
  }
  return 0;
}
