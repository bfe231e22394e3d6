#pragma once
// Degraded test audio for the speech route (issue 20): white Gaussian noise at a stated
// signal-to-noise ratio. The noise is a pure function of (seed, stream, sample index), Philox as every
// random fill in gluegen, so a noisy test set is the same on every machine and every run.
#include <gluegen/audio/wav.hpp>
#include <gluegen/core/error.hpp>
#include <gluegen/core/rng.hpp>

#include <cmath>
#include <cstdint>
#include <limits>

namespace gluegen::audio {

/// `wave` plus white Gaussian noise of power P_signal / 10^(snr_db / 10), P_signal the clip's mean
/// square; sample i of the noise is rng::normal_at(seed, stream, i). An infinite SNR is the clean clip,
/// so callers pass an "off" setting through; a silent clip comes back as it is too (no signal power to
/// measure the ratio against).
inline Waveform add_white_noise(Waveform wave, double snr_db, std::uint64_t seed, std::uint64_t stream = 0) {
  GLUEGEN_CHECK_AS(ValueError, !std::isnan(snr_db) && snr_db != -std::numeric_limits<double>::infinity(),
                   "add_white_noise: the SNR must be a number or +infinity (clean), got {} dB", snr_db);
  if (std::isinf(snr_db)) return wave;
  double power = 0;
  for (const float s : wave.samples) power += static_cast<double>(s) * s;
  if (power == 0) return wave;
  power /= static_cast<double>(wave.samples.size());
  const double sigma = std::sqrt(power / std::pow(10.0, snr_db / 10.0));
  for (std::size_t i = 0; i < wave.samples.size(); ++i)
    wave.samples[i] += static_cast<float>(sigma * rng::normal_at(seed, stream, i));
  return wave;
}

}  // namespace gluegen::audio
