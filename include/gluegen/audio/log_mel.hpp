#pragma once
// Whisper's input features: the log-mel spectrogram of a 30 s window of 16 kHz audio, computed as
// transformers' WhisperFeatureExtractor computes it (its numpy path, _np_extract_fbank_features:
// audio_utils.spectrogram + mel_filter_bank), which is what OpenAI's whisper/audio.py
// log_mel_spectrogram does with torch.stft.
//
// Radford et al. 2022 ("Robust Speech Recognition via Large-Scale Weak Supervision"), section 2.2:
// "All audio is re-sampled to 16,000 Hz, and an 80-channel log-magnitude Mel spectrogram
// representation is computed on 25-millisecond windows with a stride of 10 milliseconds. For feature
// normalization, we globally scale the input to be between -1 and 1 with approximately zero mean
// across the pre-training dataset." Hence n_fft = 400 samples (25 ms), hop = 160 (10 ms), 80 mel
// channels (128 for large-v3), and the fixed affine (x + 4) / 4 after an 80 dB floor. The encoder
// sees 30 s chunks (3000 frames), so every clip is padded with zeros or truncated to 30 s first.
//
// Precision: the reference runs in float64 numpy and rounds to float32 in three places: the STFT
// (stored as complex64), the log10 result, and everything after it (float32 numpy). This file does the
// same: the FFT in single precision (FFTW's fftwf), the power, mel projection and log10 in double, the
// floor and scaling in float. Measured parity on real speech: tests/audio/test_audio.cpp.
#include <gluegen/audio/wav.hpp>
#include <gluegen/core/error.hpp>
#include <gluegen/tensor.hpp>

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numbers>
#include <span>
#include <utility>
#include <vector>

namespace gluegen::audio {

/// Whisper's feature settings (transformers' WhisperFeatureExtractor arguments: n_fft, hop_length,
/// feature_size, sampling_rate, chunk_length). The defaults are Whisper tiny .. large-v2's.
struct WhisperFeatureConfig {
  int n_fft = 400;          // 25 ms window at 16 kHz (also the FFT size: no zero padding)
  int hop_length = 160;     // 10 ms stride
  int n_mels = 80;          // 128 for large-v3
  int sample_rate = 16000;  // Hz: the rate the input must already have (resample() first)
  int chunk_seconds = 30;   // the encoder's fixed input window

  [[nodiscard]] int n_samples() const noexcept { return chunk_seconds * sample_rate; }
  /// Frames per chunk: the centred STFT gives n_samples / hop + 1; the last one is dropped (as
  /// Whisper does with stft[..., :-1]) so 30 s is exactly 3000 frames.
  [[nodiscard]] int n_frames() const noexcept { return (n_samples() + 2 * (n_fft / 2) - n_fft) / hop_length; }
  [[nodiscard]] int n_freqs() const noexcept { return n_fft / 2 + 1; }
};

namespace detail {

/// FFTW's planner (plan creation and destruction) is not thread-safe; fftwf_execute_* on an existing
/// plan is. Every plan in gluegen is made and destroyed under this one mutex.
inline std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

struct FftwBuffer {
  void operator()(void* p) const noexcept { fftwf_free(p); }
};
template <typename T>
using FftwArray = std::unique_ptr<T[], FftwBuffer>;

template <typename T>
FftwArray<T> fftw_alloc(int n) {
  auto* p = static_cast<T*>(fftwf_malloc(sizeof(T) * static_cast<std::size_t>(n)));
  GLUEGEN_CHECK(p != nullptr, "fftwf_malloc of {} bytes failed", sizeof(T) * static_cast<std::size_t>(n));
  return FftwArray<T>(p);
}

struct FftwPlanDeleter {
  void operator()(fftwf_plan_s* plan) const noexcept {
    const std::lock_guard lock(fftw_planner_mutex());
    fftwf_destroy_plan(plan);
  }
};
using FftwPlan = std::unique_ptr<fftwf_plan_s, FftwPlanDeleter>;

/// numpy.linspace(start, stop, num) element for element: start + i * step, the last one exactly stop.
inline std::vector<double> linspace(double start, double stop, int num) {
  std::vector<double> out(static_cast<std::size_t>(num));
  const double step = (stop - start) / (num - 1);
  for (int i = 0; i < num; ++i) out[static_cast<std::size_t>(i)] = i * step + start;
  out.back() = stop;
  return out;
}

// The Slaney mel scale (Auditory Toolbox; librosa's htk=False; transformers' mel_scale="slaney"):
// linear below 1 kHz (3 mels per 200 Hz), logarithmic above (27 mels per factor 6.4).
inline double hertz_to_mel_slaney(double hz) {
  const double logstep = 27.0 / std::log(6.4);
  return hz >= 1000.0 ? 15.0 + std::log(hz / 1000.0) * logstep : 3.0 * hz / 200.0;
}
inline double mel_to_hertz_slaney(double mel) {
  const double logstep = std::log(6.4) / 27.0;
  return mel >= 15.0 ? 1000.0 * std::exp(logstep * (mel - 15.0)) : 200.0 * mel / 3.0;
}

}  // namespace detail

/// Computes Whisper log-mel features. One object holds the window, the mel filters and the FFTW plan
/// (made once, FFTW_ESTIMATE); extract() is const and may be called from several threads at once.
/// Requirements: the waveform has config().sample_rate and at least one sample.
class WhisperFeatureExtractor {
 public:
  explicit WhisperFeatureExtractor(WhisperFeatureConfig config = {}) : config_(config) {
    const auto& c = config_;
    GLUEGEN_CHECK_AS(ValueError, c.n_fft >= 2 && c.hop_length > 0 && c.n_mels > 0 && c.sample_rate > 0,
                     "WhisperFeatureConfig: n_fft {}, hop_length {}, n_mels {}, sample_rate {} must be positive "
                     "(n_fft >= 2)",
                     c.n_fft, c.hop_length, c.n_mels, c.sample_rate);
    GLUEGEN_CHECK_AS(ValueError, c.chunk_seconds > 0 && c.n_samples() > c.n_fft,
                     "WhisperFeatureConfig: a {} s chunk at {} Hz is shorter than one {}-sample window",
                     c.chunk_seconds, c.sample_rate, c.n_fft);
    make_window();
    make_mel_filters();
    auto in = detail::fftw_alloc<float>(c.n_fft);
    auto out = detail::fftw_alloc<fftwf_complex>(c.n_freqs());
    const std::lock_guard lock(detail::fftw_planner_mutex());
    // FFTW_ESTIMATE: no trial runs (they would overwrite the arrays and take ~ms); later calls use the
    // new-array interface with buffers from fftwf_malloc, so they have the planning arrays' alignment.
    plan_.reset(fftwf_plan_dft_r2c_1d(c.n_fft, in.get(), out.get(), FFTW_ESTIMATE));
    GLUEGEN_CHECK(plan_ != nullptr, "FFTW could not plan a real FFT of size {}", c.n_fft);
  }

  [[nodiscard]] const WhisperFeatureConfig& config() const noexcept { return config_; }
  /// The periodic Hann window, [n_fft].
  [[nodiscard]] const std::vector<double>& window() const noexcept { return window_; }
  /// The Slaney-normalised mel filter bank, row-major [n_mels, n_fft / 2 + 1] (transformers' mel_filters.T).
  [[nodiscard]] const std::vector<double>& mel_filters() const noexcept { return filters_; }

  /// The features of one clip: [n_mels, n_frames] (80 x 3000 by default).
  [[nodiscard]] Tensor<float, Cpu> extract(const Waveform& wave) const {
    Tensor<float, Cpu> out(Shape{config_.n_mels, config_.n_frames()});
    extract_into(wave, out.data());
    return out;
  }

  /// The features of several clips, each padded / truncated and scaled on its own (its own 80 dB
  /// floor, as the reference's per-example loop): [B, n_mels, n_frames].
  [[nodiscard]] Tensor<float, Cpu> extract_batch(std::span<const Waveform> waves) const {
    GLUEGEN_CHECK_AS(ValueError, !waves.empty(), "WhisperFeatureExtractor::extract_batch: no waveforms");
    const index_t per_clip = static_cast<index_t>(config_.n_mels) * config_.n_frames();
    Tensor<float, Cpu> out(Shape{static_cast<index_t>(waves.size()), config_.n_mels, config_.n_frames()});
    for (std::size_t b = 0; b < waves.size(); ++b)
      extract_into(waves[b], out.data() + static_cast<index_t>(b) * per_clip);
    return out;
  }

 private:
  // window_function(n_fft, "hann", periodic=True) = numpy.hanning(n_fft + 1)[:-1], written as numpy
  // writes hanning (0.5 + 0.5 cos(pi k / (M - 1)), k = 1 - M, 3 - M, ...) so the values agree to the bit.
  // Periodic, not symmetric: that is what torch.hann_window (Whisper's STFT) gives.
  void make_window() {
    const int m = config_.n_fft + 1;
    window_.resize(static_cast<std::size_t>(config_.n_fft));
    for (int i = 0; i < config_.n_fft; ++i) {
      const double k = static_cast<double>(1 - m + 2 * i);
      window_[static_cast<std::size_t>(i)] = 0.5 + 0.5 * std::cos(std::numbers::pi * k / (m - 1));
    }
  }

  // mel_filter_bank(num_frequency_bins = n_fft/2 + 1, num_mel_filters = n_mels, min_frequency = 0,
  // max_frequency = 8000, norm = "slaney", mel_scale = "slaney"): triangles between n_mels + 2 points
  // equally spaced in mel, each scaled by 2 / (its width in Hz) so every channel has about the same
  // energy (Slaney's normalisation; librosa.filters.mel(norm="slaney")). 8000 Hz is the Nyquist
  // frequency of Whisper's 16 kHz input; transformers fixes it rather than deriving it.
  void make_mel_filters() {
    const int n_freqs = config_.n_freqs(), n_mels = config_.n_mels;
    const std::vector<double> fft_freqs = detail::linspace(0.0, config_.sample_rate / 2, n_freqs);
    std::vector<double> hz =
        detail::linspace(detail::hertz_to_mel_slaney(0.0), detail::hertz_to_mel_slaney(8000.0), n_mels + 2);
    for (double& f : hz) f = detail::mel_to_hertz_slaney(f);
    filters_.assign(static_cast<std::size_t>(n_mels) * n_freqs, 0.0);
    ranges_.assign(static_cast<std::size_t>(n_mels), {n_freqs, 0});
    for (int m = 0; m < n_mels; ++m) {
      const double enorm = 2.0 / (hz[m + 2] - hz[m]);
      for (int k = 0; k < n_freqs; ++k) {
        const double down = -(hz[m] - fft_freqs[k]) / (hz[m + 1] - hz[m]);
        const double up = (hz[m + 2] - fft_freqs[k]) / (hz[m + 2] - hz[m + 1]);
        const double v = std::max(0.0, std::min(down, up)) * enorm;
        filters_[static_cast<std::size_t>(m) * n_freqs + k] = v;
        if (v != 0.0) ranges_[m] = {std::min(ranges_[m].first, k), k + 1};
      }
      if (ranges_[m].first >= ranges_[m].second) ranges_[m] = {0, 0};  // an empty filter (too many mels)
    }
  }

  // One clip into out [n_mels, n_frames].
  void extract_into(const Waveform& wave, float* out) const {
    const auto& c = config_;
    GLUEGEN_CHECK_AS(ValueError, wave.sample_rate == c.sample_rate,
                     "WhisperFeatureExtractor expects {} Hz audio, got {}: resample first (audio::resample)",
                     c.sample_rate, wave.sample_rate);
    GLUEGEN_CHECK_AS(ValueError, !wave.samples.empty(),
                     "WhisperFeatureExtractor: the waveform is empty (0 samples at {} Hz)", wave.sample_rate);
    const int n = c.n_samples(), half = c.n_fft / 2, n_freqs = c.n_freqs(), n_frames = c.n_frames();
    // The 30 s chunk: the clip, zero-padded or truncated (the encoder's input length is fixed).
    std::vector<float> chunk(static_cast<std::size_t>(n), 0.0f);
    std::copy_n(wave.samples.begin(), std::min<std::size_t>(wave.samples.size(), chunk.size()), chunk.begin());
    // center=True, pad_mode="reflect": n_fft / 2 mirrored samples each side (the edge sample not
    // repeated, numpy's "reflect"), so frame t is centred on sample t * hop.
    const auto at = [&](int j) -> double {
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      return chunk[static_cast<std::size_t>(j)];
    };

    std::vector<float> log_spec(static_cast<std::size_t>(c.n_mels) * n_frames);
#pragma omp parallel
    {
      auto in = detail::fftw_alloc<float>(c.n_fft);
      auto spectrum = detail::fftw_alloc<fftwf_complex>(n_freqs);
      std::vector<double> power(static_cast<std::size_t>(n_freqs));
#pragma omp for schedule(static)
      for (int t = 0; t < n_frames; ++t) {
        const int start = t * c.hop_length - half;
        for (int i = 0; i < c.n_fft; ++i) in[i] = static_cast<float>(at(start + i) * window_[i]);
        fftwf_execute_dft_r2c(plan_.get(), in.get(), spectrum.get());
        // power=2.0: |X|^2, from the single-precision spectrum (the reference's complex64), in double.
        for (int k = 0; k < n_freqs; ++k) {
          const double re = spectrum[k][0], im = spectrum[k][1];
          power[k] = re * re + im * im;
        }
        // Mel projection (only each filter's nonzero bins), mel_floor 1e-10 (log10 of 0 is -inf;
        // -100 dB is below anything the 80 dB floor keeps), log10 ("log-magnitude" in the paper),
        // rounded to float32 as the reference's spectrogram(dtype=np.float32).
        for (int m = 0; m < c.n_mels; ++m) {
          const double* filter = filters_.data() + static_cast<std::size_t>(m) * n_freqs;
          double mel = 0.0;
          for (int k = ranges_[m].first; k < ranges_[m].second; ++k) mel += filter[k] * power[k];
          log_spec[static_cast<std::size_t>(m) * n_frames + t] = static_cast<float>(std::log10(std::max(mel, 1e-10)));
        }
      }
    }
    // Dynamic range: nothing more than 8 decades (80 dB) below the clip's loudest bin, so silence and
    // padding do not dominate; then (x + 4) / 4 maps the clip's range [max - 8, max] with max near 0..2
    // to about [-1, 1] (the paper's global scaling). Both in float32, as the reference does them.
    const float floor = *std::max_element(log_spec.begin(), log_spec.end()) - 8.0f;
    for (std::size_t i = 0; i < log_spec.size(); ++i) out[i] = (std::max(log_spec[i], floor) + 4.0f) / 4.0f;
  }

  WhisperFeatureConfig config_;
  std::vector<double> window_;               // [n_fft]
  std::vector<double> filters_;              // [n_mels, n_freqs]
  std::vector<std::pair<int, int>> ranges_;  // per mel channel: its nonzero bins [first, second)
  detail::FftwPlan plan_;
};

/// One-off convenience: WhisperFeatureExtractor(config).extract(wave), [n_mels, n_frames]. Plans an FFT
/// each call; keep an extractor for repeated use.
inline Tensor<float, Cpu> whisper_log_mel(const Waveform& wave, const WhisperFeatureConfig& config = {}) {
  return WhisperFeatureExtractor(config).extract(wave);
}

}  // namespace gluegen::audio
