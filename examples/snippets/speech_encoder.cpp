// docs/audio.md: speech to Whisper encoder features. argv[1]: the repository root, for the committed
// espeak-ng clip and the Whisper base model scripts/fetch_models.py puts in data/models/.
#include <gluegen/audio/log_mel.hpp>
#include <gluegen/audio/resample.hpp>
#include <gluegen/audio/wav.hpp>
#include <gluegen/encoders/whisper.hpp>

#include <cassert>
#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::filesystem::path root = argc > 1 ? argv[1] : ".";

  // CTranslate2's model.bin (f16 weights, widened) or a Hugging Face folder: the format is found here.
  auto whisper = encoders::load_whisper_encoder<float, Cpu>(root / "data/models/whisper-base-ct2");
  assert(whisper.width() == 512 && whisper.config().encoder_layers == 6);

  const audio::Waveform speech = audio::resample(audio::read_wav(root / "tests/data/audio/red_sneaker_en.wav"), 16000);
  const audio::WhisperFeatureExtractor mel;                 // 80 channels, 30 s
  const Tensor<float, Cpu> features = mel.extract(speech);  // [80, 3000]

  // The full 30 s window, as Whisper was trained: 1500 frames of 20 ms.
  encoders::WhisperEncoder<float, Cpu>::Cache cache;
  const Tensor<float, Cpu> frames = whisper.forward(features.reshape({1, 80, 3000}), cache).clone();
  assert(frames.shape() == (Shape{1, 1500, 512}));

  // Or a 4 s window (400 mel frames -> 200 encoder frames), a seventh of the work: the features differ
  // from the 30 s ones, so an aligner must be trained with the window it runs with.
  const audio::WhisperFeatureExtractor mel_4s({.chunk_seconds = 4});
  const Tensor<float, Cpu> short_features = mel_4s.extract(speech);  // [80, 400]
  const auto& short_frames = whisper.forward(short_features.reshape({1, 80, 400}), cache);
  assert(short_frames.shape() == (Shape{1, 200, 512}));
  std::printf("Whisper base: %lld frames of width %lld\n", static_cast<long long>(frames.size(1)),
              static_cast<long long>(frames.size(2)));
  return 0;
}
