// Built against an *installed* gluegen (find_package), by scripts/test.sh: proves the package config,
// the installed headers and the exported dependencies work outside this source tree.
#include <gluegen/audio/log_mel.hpp>
#include <gluegen/audio/resample.hpp>
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/tensor.hpp>

#include <filesystem>
#include <vector>

int main() {
  using namespace gluegen;
  const auto x = ops::randn<float, Cpu>({4, 8}, 1);
  const auto y = ops::layer_norm(ops::matmul(x, x.transpose_last2()), Tensor<float, Cpu>::full({4}, 1.0f),
                                 Tensor<float, Cpu>::zeros({4}));
  const auto path = std::filesystem::temp_directory_path() / "gluegen_consumer.h5";
  {
    io::WeightWriter w(path, {.model_type = "consumer"});
    w.write("y", y);
    w.commit();
  }
  const bool same = io::WeightReader(path).read<float>("y").to_vector() == y.to_vector();
  std::filesystem::remove(path);
  // the audio front end's libraries (libsamplerate, FFTW) come through the package config too
  const audio::Waveform tone{.samples = std::vector<float>(2205, 0.25f), .sample_rate = 22050};
  const auto features = audio::whisper_log_mel(audio::resample(tone, 16000));  // [80, 3000]
  const bool audio_ok = features.shape() == Shape{80, 3000};
  fmt::print("gluegen consumer: installed package works ({} round trip {}, log-mel {})\n", y.shape(),
             same ? "exact" : "MISMATCH", features.shape());
  return same && audio_ok ? 0 : 1;
}
