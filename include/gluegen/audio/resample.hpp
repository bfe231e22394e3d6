#pragma once
// Sample-rate conversion through libsamplerate (Erik de Castro Lopo's Secret Rabbit Code; Debian
// libsamplerate0-dev): a band-limited sinc interpolator, not a hand-written filter. Whisper and the
// other speech encoders want 16 kHz; espeak-ng renders 22050 Hz, files come at 44.1 / 48 kHz.
#include <gluegen/audio/wav.hpp>
#include <gluegen/core/error.hpp>

#include <samplerate.h>

#include <cmath>
#include <vector>

namespace gluegen::audio {

/// `in` at `target_rate` Hz: a copy when the rate already matches, otherwise libsamplerate's
/// SRC_SINC_BEST_QUALITY converter over the whole clip (src_simple: the clip is one block, its end
/// flushed), about samples x target / source samples long. A ValueError for a non-positive rate or a
/// ratio libsamplerate refuses (outside [1/256, 256]), with its src_strerror message.
inline Waveform resample(const Waveform& in, int target_rate) {
  GLUEGEN_CHECK_AS(ValueError, in.sample_rate > 0, "resample: the input's sample rate {} Hz is not positive",
                   in.sample_rate);
  GLUEGEN_CHECK_AS(ValueError, target_rate > 0, "resample: the target sample rate {} Hz is not positive", target_rate);
  if (in.sample_rate == target_rate || in.samples.empty()) {
    return Waveform{.samples = in.samples, .sample_rate = target_rate};
  }
  const double ratio = static_cast<double>(target_rate) / in.sample_rate;
  GLUEGEN_CHECK_AS(ValueError, src_is_valid_ratio(ratio) != 0,
                   "resample: {} Hz -> {} Hz failed: libsamplerate: SRC ratio outside [1/256, 256] range",
                   in.sample_rate, target_rate);
  // src_simple writes at most output_frames; a little slack over n x ratio covers its rounding.
  std::vector<float> out(static_cast<std::size_t>(std::ceil(static_cast<double>(in.samples.size()) * ratio)) + 16);
  SRC_DATA data{};
  data.data_in = in.samples.data();
  data.data_out = out.data();
  data.input_frames = static_cast<long>(in.samples.size());
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = ratio;
  const int status = src_simple(&data, SRC_SINC_BEST_QUALITY, /*channels=*/1);
  GLUEGEN_CHECK_AS(ValueError, status == 0, "resample: {} Hz -> {} Hz failed: libsamplerate: {}", in.sample_rate,
                   target_rate, src_strerror(status));
  out.resize(static_cast<std::size_t>(data.output_frames_gen));
  return Waveform{.samples = std::move(out), .sample_rate = target_rate};
}

}  // namespace gluegen::audio
