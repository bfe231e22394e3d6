#pragma once
// A speech source for the aligners: WAV-length clips -> Whisper's encoder -> a fixed number of tokens,
// the speech counterpart of HfTextEncoder (same EncoderOutput, so shards, trainers and aligners take
// it unchanged). GlueGen feeds its aligner a fixed-size audio representation (AudioCLIP's 1024-d vector
// as 16 tokens x 64); Whisper gives 50 frames per second instead, so:
//  - the encoder reads a short window (window_seconds, default 5 s: every spoken caption fits) rather
//    than Whisper's 30 s, which costs ~10x less (docs/performance.md) and keeps the frames that hold
//    speech; a clip longer than the window is an error, never silently cut;
//  - the window's frames are average-pooled into `length` tokens of equal duration (250 frames -> 50
//    tokens of 100 ms at the default), which keeps the temporal order the aligner's token mixing needs
//    while cutting the shard size and the aligner's input by the pooling factor.
#include <gluegen/audio/log_mel.hpp>
#include <gluegen/audio/resample.hpp>
#include <gluegen/encoders/whisper.hpp>
#include <gluegen/io/provenance.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace gluegen::encoders {

struct SpeechEncoderOptions {
  int window_seconds = 5;  ///< mel window fed to Whisper (1..30 s); 50 encoder frames per second
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class WhisperSpeechEncoder {
 public:
  using value_type = T;
  using policy = P;

  /// `folder`: a Whisper model (CTranslate2 model.bin or a Hugging Face folder; load_whisper_encoder).
  explicit WhisperSpeechEncoder(const std::filesystem::path& folder, SpeechEncoderOptions opt = {})
      : encoder_(load_whisper_encoder<T, P>(folder)),
        mel_({.n_mels = static_cast<int>(encoder_.config().num_mel_bins), .chunk_seconds = opt.window_seconds}),
        name_(folder.filename().empty() ? folder.parent_path().filename().string() : folder.filename().string()),
        window_(opt.window_seconds) {
    GLUEGEN_CHECK_AS(ValueError,
                     opt.window_seconds >= 1 && 100 * opt.window_seconds <= encoder_.config().max_input_frames(),
                     "WhisperSpeechEncoder: window of {} s is outside 1..{} s", opt.window_seconds,
                     encoder_.config().max_input_frames() / 100);
  }

  [[nodiscard]] index_t width() const noexcept { return encoder_.width(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The name and the SHA-256 of the encoder's weights, as provenance records it (io/provenance.hpp).
  [[nodiscard]] io::ModelIdentity identity() { return {name_, io::weights_sha256(encoder_)}; }
  /// Encoder frames per clip before pooling (50 per second of window).
  [[nodiscard]] index_t frames() const noexcept { return 50 * window_; }
  [[nodiscard]] WhisperEncoder<T, P>& whisper() noexcept { return encoder_; }

  /// clips (any rate: resampled to 16 kHz) -> last_hidden_state [B, length, width] of frames pooled
  /// into `length` equal spans (length must divide frames()), mask all 1, mean_pooled over the tokens.
  EncoderOutput<T, P> encode(const std::vector<audio::Waveform>& clips, index_t length) {
    const index_t F = frames(), D = width(), B = std::ssize(clips);
    GLUEGEN_CHECK_AS(ValueError, B > 0, "WhisperSpeechEncoder: no clips to encode");
    GLUEGEN_CHECK_AS(ShapeError, length > 0 && F % length == 0,
                     "WhisperSpeechEncoder: {} tokens do not divide the {} frames of a {} s window", length, F,
                     window_);
    std::vector<audio::Waveform> at_16k;
    for (std::size_t i = 0; i < clips.size(); ++i) {
      at_16k.push_back(audio::resample(clips[i], mel_.config().sample_rate));
      GLUEGEN_CHECK_AS(ValueError, at_16k.back().seconds() <= window_,
                       "WhisperSpeechEncoder: clip {} lasts {:.2f} s, longer than the {} s window (raise the window)",
                       i, at_16k.back().seconds(), window_);
    }
    const Tensor<float, Cpu> features = mel_.extract_batch(at_16k);
    typename WhisperEncoder<T, P>::Cache cache;
    const std::vector<T> h = encoder_.forward(to_policy(features), cache).to_vector();
    const index_t span = F / length;
    std::vector<T> pooled(static_cast<std::size_t>(B * length * D), T(0));
    for (index_t b = 0; b < B; ++b)
      for (index_t f = 0; f < F; ++f)
        for (index_t d = 0; d < D; ++d)
          pooled[static_cast<std::size_t>((b * length + f / span) * D + d)] +=
              h[static_cast<std::size_t>((b * F + f) * D + d)] / static_cast<T>(span);
    EncoderOutput<T, P> out;
    out.last_hidden_state = Tensor<T, P>::from_host({B, length, D}, pooled);
    out.mask = Tensor<T, P>::full({B, length}, T(1));
    out.mean_pooled = mean_pool(out.last_hidden_state, out.mask);
    return out;
  }

 private:
  static Tensor<T, P> to_policy(const Tensor<float, Cpu>& features) {
    const auto v = features.to_vector();
    return Tensor<T, P>::from_host(features.shape(), std::vector<T>(v.begin(), v.end()));
  }

  WhisperEncoder<T, P> encoder_;
  audio::WhisperFeatureExtractor mel_;
  std::string name_;
  int window_;
};

}  // namespace gluegen::encoders
