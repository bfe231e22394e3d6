// The audio front end (include/gluegen/audio/): WAV files built byte by byte in every supported layout
// and every malformed way the reader names; libsamplerate resampling of a sine (frequency, amplitude,
// length kept) and of real speech; Whisper's log-mel features against transformers'
// WhisperFeatureExtractor on real espeak-ng speech (tests/data/audio/whisper_log_mel.h5, written by
// tools/make_audio_goldens.py), 80 and 128 mel channels; white noise at a measured SNR.
#include <gluegen/audio/espeak.hpp>
#include <gluegen/audio/log_mel.hpp>
#include <gluegen/audio/noise.hpp>
#include <gluegen/audio/resample.hpp>
#include <gluegen/audio/wav.hpp>
#include <gluegen/io/hdf5_store.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "support/paths.hpp"

namespace gluegen {
namespace {

using ::testing::HasSubstr;

// ---- WAV files as bytes --------------------------------------------------------------------------

std::string le(std::uint64_t v, int n_bytes) {
  std::string out;
  for (int i = 0; i < n_bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}
std::string chunk(std::string_view id, std::string_view body) {
  std::string out = std::string(id) + le(body.size(), 4) + std::string(body);
  if (body.size() % 2 == 1) out += '\0';  // RIFF pad byte
  return out;
}
std::string fmt_body(int tag, int channels, int rate, int bits, int block_align = -1) {
  if (block_align < 0) block_align = channels * bits / 8;
  return le(tag, 2) + le(channels, 2) + le(rate, 4) + le(rate * block_align, 4) + le(block_align, 2) + le(bits, 2);
}
/// WAVEFORMATEXTENSIBLE: the plain 16 bytes, cbSize 22, valid bits, channel mask, sub-format GUID.
std::string extensible_body(int sub_format, int channels, int rate, int bits, int valid_bits) {
  const std::string guid_tail = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xAA\x00\x38\x9B\x71";  // KSDATAFORMAT_SUBTYPE_*
  return fmt_body(0xFFFE, channels, rate, bits) + le(22, 2) + le(valid_bits, 2) + le(channels == 2 ? 3 : 4, 4) +
         le(sub_format, 2) + std::string(guid_tail.data(), 14);
}
std::string riff(const std::vector<std::string>& chunks) {
  std::string body = "WAVE";
  for (const auto& c : chunks) body += c;
  return "RIFF" + le(body.size(), 4) + body;
}
/// Interleaved integer sample codes, `bytes` each, little-endian (two's complement; 8-bit offset by the caller).
std::string pcm(const std::vector<std::int64_t>& codes, int bytes) {
  std::string out;
  for (const auto c : codes) out += le(static_cast<std::uint64_t>(c), bytes);
  return out;
}
template <typename F>
std::string floats(const std::vector<F>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(F));
}

template <typename E, typename F>
void expect_error(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error thrown; expected one containing \"" << part << "\"";
  } catch (const E& e) {
    EXPECT_THAT(e.message(), HasSubstr(part));
  }
}

audio::Waveform parse(const std::string& bytes) { return audio::read_wav_bytes(bytes, "x.wav"); }

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / fmt::format("gluegen-audio-{}-{}", ::getpid(), name);
}

TEST(Wav, RoundTripsSixteenBitMonoThroughBytesAndFiles) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(-32768, 32767);
  audio::Waveform wave{.samples = std::vector<float>(1001), .sample_rate = 16000};
  for (float& x : wave.samples) x = static_cast<float>(code(rng)) / 32768.0f;
  const std::string bytes = audio::encode_wav(wave);
  EXPECT_EQ(bytes.size(), 44u + 2 * 1001);
  const audio::Waveform back = parse(bytes);
  EXPECT_EQ(back.sample_rate, 16000);
  EXPECT_EQ(back.samples, wave.samples);  // multiples of 1/32768 come back exactly

  const auto path = temp_path("round_trip.wav");
  audio::write_wav(path, wave);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));  // written to .tmp, then renamed
  const audio::Waveform from_file = audio::read_wav(path);
  EXPECT_EQ(from_file.samples, wave.samples);
  EXPECT_EQ(from_file.sample_rate, 16000);
  std::filesystem::remove(path);
}

TEST(Wav, WritingRoundsToNearestAndClips) {
  const audio::Waveform wave{.samples = {1.5f, -2.0f, 0.4f / 32768, 0.6f / 32768, -1.0f}, .sample_rate = 8000};
  const audio::Waveform back = parse(audio::encode_wav(wave));
  EXPECT_EQ(back.samples, (std::vector<float>{32767.0f / 32768, -1.0f, 0.0f, 1.0f / 32768, -1.0f}));
  expect_error<ValueError>([] { (void)audio::encode_wav({.samples = {0.0f}, .sample_rate = 0}); }, "sample rate 0");
  expect_error<ValueError>([] { (void)audio::encode_wav({.samples = {NAN}, .sample_rate = 1}); }, "sample 0 is nan");
}

TEST(Wav, ReadsEveryPcmDepthAndFloat) {
  // 8-bit is unsigned (128 = silence); the others are signed; full scale is 2^(bits - 1).
  auto w8 = parse(riff({chunk("fmt ", fmt_body(1, 1, 8000, 8)), chunk("data", pcm({0, 128, 255, 192}, 1))}));
  EXPECT_EQ(w8.sample_rate, 8000);
  EXPECT_EQ(w8.samples, (std::vector<float>{-1.0f, 0.0f, 127.0f / 128, 0.5f}));
  auto w16 = parse(riff({chunk("fmt ", fmt_body(1, 1, 16000, 16)), chunk("data", pcm({-32768, 0, 16384, 32767}, 2))}));
  EXPECT_EQ(w16.samples, (std::vector<float>{-1.0f, 0.0f, 0.5f, 32767.0f / 32768}));
  auto w24 =
      parse(riff({chunk("fmt ", fmt_body(1, 1, 44100, 24)), chunk("data", pcm({-8388608, -4194304, 1, 8388607}, 3))}));
  EXPECT_EQ(w24.sample_rate, 44100);
  EXPECT_EQ(w24.samples, (std::vector<float>{-1.0f, -0.5f, 1.0f / 8388608, 8388607.0f / 8388608}));
  auto w32 = parse(
      riff({chunk("fmt ", fmt_body(1, 1, 48000, 32)), chunk("data", pcm({INT32_MIN, 1 << 30, -(1 << 29), 0}, 4))}));
  EXPECT_EQ(w32.samples, (std::vector<float>{-1.0f, 0.5f, -0.25f, 0.0f}));
  const std::vector<float> values{-1.0f, 0.25f, 0.1f, 1.5f};  // float files keep what they store, > 1 included
  auto f32 = parse(riff({chunk("fmt ", fmt_body(3, 1, 22050, 32)), chunk("data", floats(values))}));
  EXPECT_EQ(f32.samples, values);
  auto f64 =
      parse(riff({chunk("fmt ", fmt_body(3, 1, 22050, 64)), chunk("data", floats(std::vector<double>{0.1, -0.75}))}));
  EXPECT_EQ(f64.samples, (std::vector<float>{0.1f, -0.75f}));
}

TEST(Wav, AveragesChannelsToMono) {
  // frames (L, R): (16384, 0), (-32768, -32768), (8192, -8192)
  auto stereo = parse(
      riff({chunk("fmt ", fmt_body(1, 2, 16000, 16)), chunk("data", pcm({16384, 0, -32768, -32768, 8192, -8192}, 2))}));
  EXPECT_EQ(stereo.samples, (std::vector<float>{0.25f, -1.0f, 0.0f}));
  auto three = parse(
      riff({chunk("fmt ", fmt_body(3, 3, 16000, 32)), chunk("data", floats(std::vector<float>{0.3f, 0.6f, 0.9f}))}));
  ASSERT_EQ(three.samples.size(), 1u);
  EXPECT_NEAR(three.samples[0], 0.6f, 1e-7);
}

TEST(Wav, ReadsWaveFormatExtensible) {
  auto pcm24 = parse(riff(
      {chunk("fmt ", extensible_body(1, 2, 48000, 24, 24)), chunk("data", pcm({4194304, 0, -8388608, -8388608}, 3))}));
  EXPECT_EQ(pcm24.sample_rate, 48000);
  EXPECT_EQ(pcm24.samples, (std::vector<float>{0.25f, -1.0f}));
  // 20 valid bits left-justified in a 24-bit container read as 24-bit full scale
  auto pcm20 = parse(riff({chunk("fmt ", extensible_body(1, 1, 48000, 24, 20)), chunk("data", pcm({1 << 22}, 3))}));
  EXPECT_EQ(pcm20.samples, (std::vector<float>{0.5f}));
  auto f32 = parse(riff(
      {chunk("fmt ", extensible_body(3, 1, 96000, 32, 32)), chunk("data", floats(std::vector<float>{-0.5f, 0.125f}))}));
  EXPECT_EQ(f32.samples, (std::vector<float>{-0.5f, 0.125f}));
}

TEST(Wav, SkipsUnknownChunksAndOddSizePadding) {
  // LIST (odd size: a pad byte follows), fmt, fact, data with an odd 8-bit length (padded), then a
  // trailing id3 chunk and 3 stray bytes.
  const std::string bytes =
      riff({chunk("LIST", "INFOabcde"), chunk("fmt ", fmt_body(1, 1, 11025, 8)), chunk("fact", le(3, 4)),
            chunk("data", pcm({128, 0, 255}, 1)), chunk("id3 ", "tag")}) +
      "xyz";
  const auto w = parse(bytes);
  EXPECT_EQ(w.sample_rate, 11025);
  EXPECT_EQ(w.samples, (std::vector<float>{0.0f, -1.0f, 127.0f / 128}));
  EXPECT_NEAR(w.seconds(), 3.0 / 11025, 1e-12);
  // a last odd-sized chunk whose pad byte is missing is still read
  std::string unpadded = riff({chunk("fmt ", fmt_body(1, 1, 8000, 8)), chunk("data", pcm({128, 128, 128}, 1))});
  unpadded.pop_back();
  EXPECT_EQ(parse(unpadded).samples.size(), 3u);
}

TEST(Wav, MalformedFilesGiveTypedErrorsNamingTheProblem) {
  const std::string fmt16 = chunk("fmt ", fmt_body(1, 1, 16000, 16));
  expect_error<ValueError>([] { (void)parse("RIFX" + le(4, 4) + "WAVE"); },
                           "'x.wav' is not a WAV file: it starts with 'RIFX'");
  expect_error<ValueError>([] { (void)parse("RIFF" + le(4, 4) + "AVI "); }, "RIFF file of type 'AVI ', not 'WAVE'");
  expect_error<TruncatedFileError>([] { (void)parse("RIF"); }, "'x.wav' is truncated: RIFF header");
  // a data chunk that declares more than the file holds: rejected before anything is allocated
  expect_error<TruncatedFileError>(
      [&] { (void)parse(riff({fmt16}) + "data" + le(1000000, 4) + std::string(5000, '\0')); },
      "'x.wav': data chunk declares 1000000 bytes but 5000 remain");
  expect_error<TruncatedFileError>([] { (void)parse(riff({}) + "fmt " + le(16, 4) + "12345"); },
                                   "'x.wav' is truncated: chunk 'fmt ' (16 bytes at byte 20)");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(2, 1, 16000, 4)), chunk("data", "ab")}));
      },
      "'x.wav': format tag 2 (ADPCM) is not supported (PCM 1, float 3, extensible 0xFFFE are)");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(0x55, 1, 16000, 0)), chunk("data", "")}));
      },
      "format tag 85 (MP3) is not supported");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", extensible_body(6, 1, 8000, 8, 8)), chunk("data", "a")}));
      },
      "WAVE_FORMAT_EXTENSIBLE sub-format 6 (A-law) is not supported");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(0xFFFE, 1, 8000, 16)), chunk("data", "")}));
      },
      "WAVE_FORMAT_EXTENSIBLE fmt chunk is 16 bytes, needs at least 40");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(1, 1, 16000, 12, 2)), chunk("data", "ab")}));
      },
      "12-bit PCM is not supported (8, 16, 24, 32 are)");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(3, 1, 16000, 16)), chunk("data", "ab")}));
      },
      "16-bit float is not supported (32, 64 are)");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(1, 0, 16000, 16, 2)), chunk("data", "ab")}));
      },
      "'x.wav': fmt chunk declares zero channels");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(1, 1, 0, 16)), chunk("data", "ab")}));
      },
      "sample rate of 0 Hz");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", fmt_body(1, 2, 16000, 16, 2)), chunk("data", "abcd")}));
      },
      "block align 2 does not match 2 channel(s) of 16-bit samples (4 bytes per frame)");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("fmt ", std::string(14, '\1')), chunk("data", "ab")}));
      },
      "fmt chunk is 14 bytes, needs at least 16");
  expect_error<ValueError>(
      [&] {
        (void)parse(riff({fmt16, chunk("data", "abc")}));
      },
      "data chunk of 3 bytes is not a multiple of the 2-byte frame size");
  expect_error<ValueError>(
      [] {
        (void)parse(riff({chunk("LIST", "INFO"), chunk("data", "ab")}));
      },
      "'x.wav' has no fmt chunk");
  expect_error<ValueError>([&] { (void)parse(riff({fmt16, chunk("LIST", "INFO")})); }, "'x.wav' has no data chunk");
  expect_error<ValueError>(
      [] {
        (void)parse(
            riff({chunk("fmt ", fmt_body(3, 1, 100, 32)), chunk("data", floats(std::vector<float>{0.0f, INFINITY}))}));
      },
      "'x.wav': sample 1 (at 0.010 s) is not finite");
  expect_error<FileNotFoundError>([] { (void)audio::read_wav(temp_path("missing.wav")); }, "WAV file '");
}

TEST(Wav, ReadsEspeakSpeech) {
  const auto wave = audio::read_wav(GLUEGEN_TEST_DATA_DIR + "/audio/red_sneaker_en.wav");
  EXPECT_EQ(wave.sample_rate, 22050);  // espeak-ng's native rate
  EXPECT_EQ(wave.samples.size(), 44786u);
  float peak = 0.0f;
  for (const float x : wave.samples) peak = std::max(peak, std::abs(x));
  EXPECT_GT(peak, 0.1f);
  EXPECT_LE(peak, 1.0f);
}

// ---- speech synthesis (eSpeak NG, in-process) ----------------------------------------------------

// The library renders what the espeak-ng command line rendered into the committed clip (same voice,
// default speed and pitch), sample for sample.
TEST(Speak, MatchesTheEspeakNgCommandLine) {
  const auto cli = audio::read_wav(GLUEGEN_TEST_DATA_DIR + "/audio/red_sneaker_en.wav");
  const auto ours = audio::speak("a red sneaker on a blue background", {.name = "en-us"});
  EXPECT_EQ(ours.sample_rate, 22050);
  ASSERT_EQ(ours.samples.size(), cli.samples.size());
  EXPECT_EQ(ours.samples, cli.samples);
}

// eSpeak NG's synthesizer state carries over: speaking a text again gives a clip some milliseconds
// longer or shorter (the same sentence, within 3% of its length: 1.2% seen), not the same samples.
TEST(Speak, CarriesStateFromSentenceToSentence) {
  const auto first = audio::speak("a green bag", {.name = "en-us"});
  const auto again = audio::speak("a green bag", {.name = "en-us"});
  EXPECT_NEAR(static_cast<double>(again.samples.size()), static_cast<double>(first.samples.size()),
              0.03 * static_cast<double>(first.samples.size()));
  EXPECT_NE(again.samples, first.samples);
}

TEST(Speak, SpeedPitchAndVoiceChangeTheAudio) {
  const std::string text = "ein roter Turnschuh auf blauem Hintergrund";
  const auto normal = audio::speak(text, {.name = "de"});
  const auto slow = audio::speak(text, {.name = "de", .words_per_minute = 120});
  const double ratio = static_cast<double>(slow.samples.size()) / static_cast<double>(normal.samples.size());
  EXPECT_GT(ratio, 1.25);  // 175 / 120 = 1.46 for the words; pauses do not all stretch
  EXPECT_LT(ratio, 1.6);
  EXPECT_NE(audio::speak(text, {.name = "de", .pitch = 80}).samples, normal.samples);
  EXPECT_NE(audio::speak(text, {.name = "de+f3"}).samples, normal.samples);
  EXPECT_FALSE(audio::speak(text, {.name = "en-gb"}).samples.empty());  // a language, not a voice name
}

TEST(Speak, BadVoicesSettingsAndTextAreErrors) {
  const auto message = [](const std::string& text, const audio::SpeechVoice& voice) {
    try {
      (void)audio::speak(text, voice);
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message("hello", {.name = "xx-nowhere"}), HasSubstr("no voice 'xx-nowhere'"));
  EXPECT_THAT(message("hello", {.words_per_minute = 500}), HasSubstr("speed 500 wpm (80..450)"));
  EXPECT_THAT(message("hello", {.pitch = -1}), HasSubstr("pitch -1"));
  EXPECT_THAT(message("", {}), HasSubstr("the text is empty"));
  EXPECT_EQ(audio::speak("hello", {}).sample_rate, 22050);  // a failed call leaves the synthesizer usable
}

// ---- resampling ----------------------------------------------------------------------------------

/// Amplitude of the `hz` component of x[begin, end) (sampled at `rate`), from its projections on sin
/// and cos, and the share of x's energy that component holds.
std::pair<double, double> tone(const std::vector<float>& x, int rate, double hz, std::size_t begin, std::size_t end) {
  double s = 0, c = 0, energy = 0;
  for (std::size_t t = begin; t < end; ++t) {
    const double phase = 2 * std::numbers::pi * hz * static_cast<double>(t) / rate;
    s += x[t] * std::sin(phase);
    c += x[t] * std::cos(phase);
    energy += static_cast<double>(x[t]) * x[t];
  }
  const double n = static_cast<double>(end - begin);
  const double amplitude = 2.0 / n * std::hypot(s, c);
  return {amplitude, (amplitude * amplitude / 2 * n) / energy};
}

TEST(Resample, SineKeepsFrequencyAmplitudeAndDuration) {
  audio::Waveform in{.samples = std::vector<float>(22050 * 2), .sample_rate = 22050};  // 2 s
  for (std::size_t t = 0; t < in.samples.size(); ++t)
    in.samples[t] = 0.5f * static_cast<float>(std::sin(2 * std::numbers::pi * 441.0 * static_cast<double>(t) / 22050));
  const audio::Waveform out = audio::resample(in, 16000);
  EXPECT_EQ(out.sample_rate, 16000);
  EXPECT_NEAR(static_cast<double>(out.samples.size()), 32000.0, 2.0);  // the length ratio is the rate ratio
  // away from the edges (the filter's ramp-in / flush), the tone is the same tone at the same amplitude
  const auto [amplitude, share] = tone(out.samples, 16000, 441.0, 1600, 30400);
  EXPECT_NEAR(amplitude, 0.5, 1e-4);
  EXPECT_GT(share, 0.99999);  // all the energy is at 441 Hz: no shift, no aliases
  const auto [off_amplitude, off_share] = tone(out.samples, 16000, 441.0 * 22050 / 16000, 1600, 30400);
  EXPECT_LT(off_amplitude, 0.01);  // had the samples been played at the wrong rate, the tone would be here
  (void)off_share;
}

TEST(Resample, SameRateCopiesAndBadRatesAreErrors) {
  const audio::Waveform in{.samples = {0.1f, -0.2f, 0.3f}, .sample_rate = 16000};
  const auto same = audio::resample(in, 16000);
  EXPECT_EQ(same.samples, in.samples);
  EXPECT_EQ(audio::resample({.samples = {}, .sample_rate = 8000}, 16000).samples.size(), 0u);
  expect_error<ValueError>([&] { (void)audio::resample(in, 0); }, "target sample rate 0 Hz is not positive");
  expect_error<ValueError>([] { (void)audio::resample({.samples = {0.0f}, .sample_rate = -1}, 16000); },
                           "input's sample rate -1 Hz");
  expect_error<ValueError>([&] { (void)audio::resample(in, 16000 * 300); }, "SRC ratio outside [1/256, 256] range");
}

TEST(Resample, EspeakSpeechTo16kHzAgreesWithSox) {
  // Two different band-limited converters (libsamplerate's best sinc, sox's -r 16000) on the same
  // speech: the same length and nearly the same samples.
  const auto ours = audio::resample(audio::read_wav(GLUEGEN_TEST_DATA_DIR + "/audio/red_sneaker_en.wav"), 16000);
  const auto sox = audio::read_wav(GLUEGEN_TEST_DATA_DIR + "/audio/red_sneaker_en_16k.wav");
  ASSERT_EQ(sox.sample_rate, 16000);
  EXPECT_NEAR(static_cast<double>(ours.samples.size()), static_cast<double>(sox.samples.size()), 2.0);
  double dot = 0, a2 = 0, b2 = 0, max_diff = 0;
  for (std::size_t t = 0; t < std::min(ours.samples.size(), sox.samples.size()); ++t) {
    dot += static_cast<double>(ours.samples[t]) * sox.samples[t];
    a2 += static_cast<double>(ours.samples[t]) * ours.samples[t];
    b2 += static_cast<double>(sox.samples[t]) * sox.samples[t];
    max_diff = std::max(max_diff, static_cast<double>(std::abs(ours.samples[t] - sox.samples[t])));
  }
  const double correlation = dot / std::sqrt(a2 * b2);
  std::printf("libsamplerate vs sox on red_sneaker_en: correlation %.7f, max abs diff %.3g\n", correlation, max_diff);
  EXPECT_GT(correlation, 0.9999);
  EXPECT_LT(max_diff, 0.01);
}

// ---- Whisper log-mel -----------------------------------------------------------------------------

const io::WeightReader& audio_goldens() {
  static const io::WeightReader reader(GLUEGEN_TEST_DATA_DIR + "/audio/whisper_log_mel.h5");
  return reader;
}

const audio::WhisperFeatureExtractor& extractor(int n_mels) {
  static const audio::WhisperFeatureExtractor e80({.n_mels = 80});
  static const audio::WhisperFeatureExtractor e128({.n_mels = 128});
  return n_mels == 80 ? e80 : e128;
}

double max_abs_diff(const Tensor<float, Cpu>& a, const Tensor<float, Cpu>& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double out = 0.0;
  for (index_t i = 0; i < a.numel(); ++i) out = std::max(out, static_cast<double>(std::abs(a.data()[i] - b.data()[i])));
  return out;
}

constexpr const char* kClips[] = {"red_sneaker_en", "roter_turnschuh_de"};
const char* const kClipFiles[] = {"red_sneaker_en_16k.wav", "roter_turnschuh_de_16k.wav"};

// transformers' numpy path works in float64 and rounds to float32 at the STFT and after log10; ours
// rounds the FFT's input and arithmetic to float32 as well (FFTW single precision). The difference is
// float32 rounding of log10 values near 1 (~1e-7) plus the FFT's, which matters only in the quietest
// bins (measured up to 4.2e-5): 1e-4 leaves room for other FFTW builds. Its torch path (torch.stft in
// float32, the extractor's default when torch is installed) differs from its numpy path by up to 3.2e-5.
constexpr double kNumpyTolerance = 1e-4;
constexpr double kTorchTolerance = 1e-4;

TEST(WhisperLogMel, MatchesTransformersOnRealSpeech) {
  for (int n_mels : {80, 128}) {
    for (int c = 0; c < 2; ++c) {
      const auto wave = audio::read_wav(GLUEGEN_TEST_DATA_DIR + "/audio/" + kClipFiles[c]);
      const auto golden_samples = audio_goldens().read<float>(std::string(kClips[c]) + ".samples");
      ASSERT_EQ(static_cast<index_t>(wave.samples.size()), golden_samples.numel());
      EXPECT_EQ(wave.samples, golden_samples.to_vector()) << "our WAV reader and Python's wave module disagree";

      const auto features = extractor(n_mels).extract(wave);
      ASSERT_EQ(features.shape(), (Shape{n_mels, 3000}));
      const std::string name = fmt::format("{}.log_mel_{}", kClips[c], n_mels);
      const double vs_numpy = max_abs_diff(features, audio_goldens().read<float>(name));
      const double vs_torch = max_abs_diff(features, audio_goldens().read<float>(name + "_torch"));
      std::printf("%-20s n_mels %3d: max abs error vs transformers numpy path %.3g, torch path %.3g\n", kClips[c],
                  n_mels, vs_numpy, vs_torch);
      EXPECT_LE(vs_numpy, kNumpyTolerance) << name;
      EXPECT_LE(vs_torch, kTorchTolerance) << name;
    }
  }
}

TEST(WhisperLogMel, BatchIsTheClipsOneByOne) {
  std::vector<audio::Waveform> waves;
  for (const char* file : kClipFiles) waves.push_back(audio::read_wav(GLUEGEN_TEST_DATA_DIR + "/audio/" + file));
  const auto& e = extractor(80);
  const auto batch = e.extract_batch(waves);
  ASSERT_EQ(batch.shape(), (Shape{2, 80, 3000}));
  for (index_t b = 0; b < 2; ++b) {
    const auto single = e.extract(waves[static_cast<std::size_t>(b)]).to_vector();
    const std::vector<float> row(batch.data() + b * 80 * 3000, batch.data() + (b + 1) * 80 * 3000);
    EXPECT_EQ(row, single) << "clip " << b;  // each clip scaled by its own maximum
  }
  expect_error<ValueError>([&] { (void)e.extract_batch({}); }, "no waveforms");
}

TEST(WhisperLogMel, TruncatesToThirtySeconds) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  audio::Waveform long_clip{.samples = std::vector<float>(16000 * 31), .sample_rate = 16000};
  for (float& x : long_clip.samples) x = noise(rng);
  audio::Waveform first_30s{.samples = {long_clip.samples.begin(), long_clip.samples.begin() + 16000 * 30},
                            .sample_rate = 16000};
  const auto& e = extractor(80);
  EXPECT_EQ(e.extract(long_clip).to_vector(), e.extract(first_30s).to_vector());
}

TEST(WhisperLogMel, ATonePeaksInItsMelChannel) {
  audio::Waveform wave{.samples = std::vector<float>(16000), .sample_rate = 16000};
  for (std::size_t t = 0; t < wave.samples.size(); ++t)
    wave.samples[t] =
        0.3f * static_cast<float>(std::sin(2 * std::numbers::pi * 1000.0 * static_cast<double>(t) / 16000));
  const auto& e = extractor(80);
  const auto features = e.extract(wave);  // [80, 3000]
  int best = 0;
  for (int m = 0; m < 80; ++m)
    if (features.data()[m * 3000 + 50] > features.data()[best * 3000 + 50]) best = m;
  // the channel whose triangle peaks nearest 1 kHz (on the Slaney scale 1 kHz is mel 15 of 0 .. 45.2)
  const auto& f = e.mel_filters();
  const int bin_1k = 1000 * 400 / 16000;  // bin 25
  int expected = 0;
  for (int m = 0; m < 80; ++m)
    if (f[static_cast<std::size_t>(m) * 201 + bin_1k] > f[static_cast<std::size_t>(expected) * 201 + bin_1k])
      expected = m;
  EXPECT_EQ(best, expected);
  EXPECT_NEAR(features.data()[best * 3000 + 50], features.data()[best * 3000 + 60], 1e-3);  // a steady tone
  // the padding after 1 s sits on the 80 dB floor: (max - 8 + 4) / 4 = the clip's maximum - 2
  float top = -1e9f;
  for (index_t i = 0; i < features.numel(); ++i) top = std::max(top, features.data()[i]);
  EXPECT_FLOAT_EQ(features.data()[0 * 3000 + 2999], top - 2.0f);
}

TEST(WhisperLogMel, RejectsEmptyAudioAndTheWrongRate) {
  const auto& e = extractor(80);
  expect_error<ValueError>([&] { (void)e.extract({.samples = {}, .sample_rate = 16000}); }, "the waveform is empty");
  expect_error<ValueError>(
      [&] {
        (void)e.extract({.samples = {0.0f, 0.1f}, .sample_rate = 22050});
      },
      "expects 16000 Hz audio, got 22050: resample first");
  expect_error<ValueError>([] { audio::WhisperFeatureExtractor bad({.hop_length = 0}); }, "hop_length 0");
  const auto one_off = audio::whisper_log_mel({.samples = {0.5f, -0.5f}, .sample_rate = 16000}, {.n_mels = 128});
  EXPECT_EQ(one_off.shape(), (Shape{128, 3000}));
}

// ---- noise -------------------------------------------------------------------------------------

TEST(WhiteNoise, HasTheStatedSnrAndIsTheSameEveryRun) {
  audio::Waveform tone{std::vector<float>(16000), 16000};
  for (std::size_t i = 0; i < tone.samples.size(); ++i)
    tone.samples[i] =
        0.3F * static_cast<float>(std::sin(2 * std::numbers::pi * 440.0 * static_cast<double>(i) / 16000));
  for (const double snr : {0.0, 10.0, 20.0}) {
    const audio::Waveform noisy = audio::add_white_noise(tone, snr, 7, 3);
    ASSERT_EQ(noisy.samples.size(), tone.samples.size());
    EXPECT_EQ(noisy.sample_rate, 16000);
    double signal = 0, noise = 0, correlation = 0;
    for (std::size_t i = 0; i < tone.samples.size(); ++i) {
      const double n = static_cast<double>(noisy.samples[i]) - tone.samples[i];
      signal += static_cast<double>(tone.samples[i]) * tone.samples[i], noise += n * n;
      if (i > 0) correlation += n * (static_cast<double>(noisy.samples[i - 1]) - tone.samples[i - 1]);
    }
    // 16000 Gaussian samples: the measured power is within a few percent (0.2 dB) of the stated one
    EXPECT_NEAR(10 * std::log10(signal / noise), snr, 0.2) << snr << " dB";
    EXPECT_LT(std::abs(correlation / noise), 0.05) << "white: neighbouring samples uncorrelated";
    EXPECT_EQ(noisy.samples, audio::add_white_noise(tone, snr, 7, 3).samples);
    EXPECT_NE(noisy.samples, audio::add_white_noise(tone, snr, 7, 4).samples) << "another stream, other noise";
  }
  const audio::Waveform silence{std::vector<float>(100, 0.0F), 16000};
  EXPECT_EQ(audio::add_white_noise(silence, 10, 0).samples, silence.samples);
  EXPECT_EQ(audio::add_white_noise(tone, std::numeric_limits<double>::infinity(), 0).samples, tone.samples);
  EXPECT_THROW((void)audio::add_white_noise(tone, std::nan(""), 0), ValueError);
  EXPECT_THROW((void)audio::add_white_noise(tone, -std::numeric_limits<double>::infinity(), 0), ValueError);
}

}  // namespace
}  // namespace gluegen
