// Speech side of a GlueGen pipeline on the Cpu policy: Whisper's log-mel features of 30 s of 16 kHz
// audio (the committed espeak-ng caption, zero-padded as Whisper pads it) and the real Whisper
// tiny.en / base encoder forwards on them (scripts/fetch_models.py's CTranslate2 model.bin files), at
// the full 3000 frames and at a 4 s window (400 frames). compare_pytorch.py runs transformers'
// WhisperFeatureExtractor / WhisperEncoder and ctranslate2's encode() on the same inputs in the same run.
#include <gluegen/audio/log_mel.hpp>
#include <gluegen/audio/wav.hpp>
#include <gluegen/encoders/whisper.hpp>

#include <benchmark/benchmark.h>

namespace {

using namespace gluegen;

const std::filesystem::path kRoot = GLUEGEN_SOURCE_DIR;

audio::Waveform speech() { return audio::read_wav(kRoot / "tests/data/audio/red_sneaker_en_16k.wav"); }

void BM_WhisperLogMel(benchmark::State& state) {
  const audio::WhisperFeatureExtractor mel;
  const audio::Waveform wave = speech();
  for (auto _ : state) benchmark::DoNotOptimize(mel.extract(wave).data());
  state.counters["audio s/s"] = benchmark::Counter(30.0, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WhisperLogMel)->Unit(benchmark::kMillisecond)->UseRealTime();

// Args: model (0 tiny.en, 1 base), mel frames (3000 = 30 s, 400 = 4 s).
void BM_WhisperEncode(benchmark::State& state) {
  const char* folder = state.range(0) == 0 ? "whisper-tiny.en-ct2" : "whisper-base-ct2";
  auto encoder = encoders::load_whisper_encoder<float, Cpu>(kRoot / "data/models" / folder);
  const int seconds = static_cast<int>(state.range(1) / 100);
  const audio::WhisperFeatureExtractor mel({.chunk_seconds = seconds});
  const Tensor<float, Cpu> features = mel.extract(speech()).reshape({1, 80, state.range(1)});
  encoders::WhisperEncoder<float, Cpu>::Cache cache;
  for (auto _ : state) benchmark::DoNotOptimize(encoder.forward(features, cache).data());
  state.counters["audio s/s"] = benchmark::Counter(seconds, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WhisperEncode)
    ->ArgsProduct({{0, 1}, {3000, 400}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
