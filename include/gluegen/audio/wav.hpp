#pragma once
// WAV files: RIFF/WAVE reading (PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE of
// either) to mono float samples, and 16-bit PCM mono writing.
//
// The reader walks the RIFF chunks in order (skipping LIST, fact, cue... and the pad byte after an
// odd-sized chunk, as the RIFF spec requires), takes the first `fmt ` and `data` chunks, and checks
// every declared size against the bytes that are there before it reads or allocates anything. A file
// the reader cannot decode is a typed Error naming the file and what is wrong with it:
//   TruncatedFileError  a chunk (data included) that declares more bytes than remain
//   ValueError          not RIFF/WAVE, no fmt / data chunk, an unsupported format tag or bit depth,
//                       zero channels or sample rate, a block align that disagrees with channels x
//                       bits, a data size that is not a whole number of frames, NaN / Inf samples
//   FileNotFoundError   read_wav on a path that cannot be read
#include <gluegen/core/error.hpp>
#include <gluegen/core/file_bytes.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gluegen::audio {

/// Mono audio: PCM files give samples in [-1, 1) (full scale = 1); float files give what they store.
struct Waveform {
  std::vector<float> samples;  // [n_samples]
  int sample_rate = 0;         // Hz

  [[nodiscard]] double seconds() const noexcept {
    return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
  }
};

namespace detail {

static_assert(std::endian::native == std::endian::little, "the WAV reader copies little-endian samples as they are");

inline constexpr std::uint16_t kFormatPcm = 1;
inline constexpr std::uint16_t kFormatFloat = 3;
inline constexpr std::uint16_t kFormatExtensible = 0xFFFE;

/// A name for the format tags one meets in the wild, so the error says what the file is.
inline std::string_view format_tag_name(std::uint16_t tag) {
  switch (tag) {
    case 1:
      return "PCM";
    case 2:
      return "ADPCM";
    case 3:
      return "IEEE float";
    case 6:
      return "A-law";
    case 7:
      return "mu-law";
    case 0x11:
      return "IMA ADPCM";
    case 0x31:
      return "GSM 6.10";
    case 0x50:
      return "MPEG";
    case 0x55:
      return "MP3";
    case 0xFFFE:
      return "extensible";
    default:
      return "unknown";
  }
}

/// A chunk id as text, bytes outside printable ASCII as \xNN (a corrupt file's ids are garbage).
inline std::string printable_id(std::string_view id) {
  std::string out;
  for (const char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      out += fmt::format("\\x{:02X}", u);
    }
  }
  return out;
}

struct WavFormat {
  std::uint16_t tag = 0;  // kFormatPcm or kFormatFloat (an extensible file's sub-format)
  int channels = 0;
  int sample_rate = 0;
  int bits = 0;  // the container width: a 20-bit sample in a 24-bit container is read as 24-bit
  int block_align = 0;
};

inline WavFormat parse_fmt_chunk(std::string_view body, const std::string& name) {
  GLUEGEN_CHECK_AS(ValueError, body.size() >= 16, "'{}': fmt chunk is {} bytes, needs at least 16", name, body.size());
  ByteCursor in(body, name);
  WavFormat f;
  f.tag = in.take<std::uint16_t>("format tag");
  f.channels = in.take<std::uint16_t>("channel count");
  f.sample_rate = static_cast<int>(std::min<std::uint32_t>(in.take<std::uint32_t>("sample rate"), INT32_MAX));
  (void)in.take<std::uint32_t>("byte rate");  // derived (rate x block align); writers get it wrong, nobody needs it
  f.block_align = in.take<std::uint16_t>("block align");
  f.bits = in.take<std::uint16_t>("bits per sample");
  if (f.tag == kFormatExtensible) {
    // WAVEFORMATEXTENSIBLE: cbSize (>= 22), valid bits, channel mask, then the sub-format GUID whose
    // first two bytes are the plain format tag (KSDATAFORMAT_SUBTYPE_PCM = 0x0001, _IEEE_FLOAT = 0x0003).
    GLUEGEN_CHECK_AS(ValueError, body.size() >= 40,
                     "'{}': WAVE_FORMAT_EXTENSIBLE fmt chunk is {} bytes, needs at least 40", name, body.size());
    const auto extra = in.take<std::uint16_t>("extension size");
    GLUEGEN_CHECK_AS(ValueError, extra >= 22, "'{}': WAVE_FORMAT_EXTENSIBLE extension is {} bytes, needs 22", name,
                     extra);
    const auto valid_bits = in.take<std::uint16_t>("valid bits per sample");
    GLUEGEN_CHECK_AS(ValueError, valid_bits <= f.bits, "'{}': {} valid bits do not fit a {}-bit sample container", name,
                     valid_bits, f.bits);
    (void)in.take<std::uint32_t>("channel mask");  // speaker positions: irrelevant once averaged to mono
    const auto sub_format = in.take<std::uint16_t>("sub-format GUID");
    GLUEGEN_CHECK_AS(ValueError, sub_format == kFormatPcm || sub_format == kFormatFloat,
                     "'{}': WAVE_FORMAT_EXTENSIBLE sub-format {} ({}) is not supported (PCM 1, float 3 are)", name,
                     sub_format, format_tag_name(sub_format));
    f.tag = sub_format;
  } else {
    GLUEGEN_CHECK_AS(ValueError, f.tag == kFormatPcm || f.tag == kFormatFloat,
                     "'{}': format tag {} ({}) is not supported (PCM 1, float 3, extensible 0xFFFE are)", name, f.tag,
                     format_tag_name(f.tag));
  }
  GLUEGEN_CHECK_AS(ValueError, f.channels > 0, "'{}': fmt chunk declares zero channels", name);
  GLUEGEN_CHECK_AS(ValueError, f.sample_rate > 0, "'{}': fmt chunk declares a sample rate of 0 Hz", name);
  if (f.tag == kFormatPcm) {
    GLUEGEN_CHECK_AS(ValueError, f.bits == 8 || f.bits == 16 || f.bits == 24 || f.bits == 32,
                     "'{}': {}-bit PCM is not supported (8, 16, 24, 32 are)", name, f.bits);
  } else {
    GLUEGEN_CHECK_AS(ValueError, f.bits == 32 || f.bits == 64, "'{}': {}-bit float is not supported (32, 64 are)", name,
                     f.bits);
  }
  const int frame_bytes = f.channels * (f.bits / 8);
  GLUEGEN_CHECK_AS(ValueError, f.block_align == frame_bytes,
                   "'{}': block align {} does not match {} channel(s) of {}-bit samples ({} bytes per frame)", name,
                   f.block_align, f.channels, f.bits, frame_bytes);
  return f;
}

/// One sample at `p` (f.bits wide) as a double in full-scale units.
inline double decode_sample(const char* p, const WavFormat& f) {
  if (f.tag == kFormatFloat) {
    if (f.bits == 32) {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  switch (f.bits) {
    case 8:
      return (static_cast<int>(static_cast<unsigned char>(*p)) - 128) / 128.0;  // 8-bit WAV is unsigned
    case 16: {
      std::int16_t v;
      std::memcpy(&v, p, 2);
      return v / 32768.0;
    }
    case 24: {  // three bytes, little-endian, sign-extended through the top byte
      const auto b = reinterpret_cast<const unsigned char*>(p);
      const auto u = static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
                     (static_cast<std::uint32_t>(b[2]) << 16);
      const std::int32_t v = static_cast<std::int32_t>(u << 8) >> 8;
      return v / 8388608.0;
    }
    default: {
      std::int32_t v;
      std::memcpy(&v, p, 4);
      return v / 2147483648.0;
    }
  }
}

}  // namespace detail

/// Decodes a WAV file image; `name` (a path, or any label) names it in the errors.
inline Waveform read_wav_bytes(std::string_view bytes, const std::string& name = "<memory>") {
  ByteCursor in(bytes, name);
  const std::string_view riff = in.take_bytes(4, "RIFF header");
  GLUEGEN_CHECK_AS(ValueError, riff == "RIFF", "'{}' is not a WAV file: it starts with '{}', not 'RIFF'", name,
                   detail::printable_id(riff));
  // The RIFF size is not trusted: streaming writers leave it 0 or 0xFFFFFFFF. The chunks are walked to
  // the end of the bytes instead, each chunk's own size checked.
  (void)in.take<std::uint32_t>("RIFF size");
  const std::string_view wave = in.take_bytes(4, "WAVE form type");
  GLUEGEN_CHECK_AS(ValueError, wave == "WAVE", "'{}' is a RIFF file of type '{}', not 'WAVE'", name,
                   detail::printable_id(wave));

  std::optional<detail::WavFormat> format;
  std::optional<std::string_view> data;
  while (in.remaining() >= 8 && !(format && data)) {  // fewer than 8 bytes left: trailing junk, not a chunk
    const std::string id(in.take_bytes(4, "chunk id"));
    const auto size = in.take<std::uint32_t>("chunk size");
    if (id == "data") {
      GLUEGEN_CHECK_AS(TruncatedFileError, size <= in.remaining(), "'{}': data chunk declares {} bytes but {} remain",
                       name, size, in.remaining());
    }
    const std::string_view body = in.take_bytes(size, fmt::format("chunk '{}'", detail::printable_id(id)));
    if (size % 2 == 1 && in.remaining() > 0) (void)in.take_bytes(1, "chunk pad byte");  // RIFF word alignment
    if (id == "fmt " && !format) {
      format = detail::parse_fmt_chunk(body, name);
    } else if (id == "data" && !data) {
      data = body;
    }  // LIST (INFO tags), fact, cue, bext, id3, ...: metadata the samples do not need
  }
  GLUEGEN_CHECK_AS(ValueError, format.has_value(), "'{}' has no fmt chunk (not a valid WAV file)", name);
  GLUEGEN_CHECK_AS(ValueError, data.has_value(), "'{}' has no data chunk (not a valid WAV file)", name);

  const detail::WavFormat& f = *format;
  const auto frame_bytes = static_cast<std::size_t>(f.block_align);
  GLUEGEN_CHECK_AS(ValueError, data->size() % frame_bytes == 0,
                   "'{}': data chunk of {} bytes is not a multiple of the {}-byte frame size ({} channel(s), {}-bit)",
                   name, data->size(), frame_bytes, f.channels, f.bits);
  const std::size_t n_frames = data->size() / frame_bytes;
  const std::size_t sample_bytes = static_cast<std::size_t>(f.bits / 8);
  Waveform out{.samples = std::vector<float>(n_frames), .sample_rate = f.sample_rate};
  for (std::size_t t = 0; t < n_frames; ++t) {
    const char* frame = data->data() + t * frame_bytes;
    double sum = 0.0;  // mono = the mean of the channels (what ffmpeg / librosa's to_mono do)
    for (int c = 0; c < f.channels; ++c) sum += detail::decode_sample(frame + c * sample_bytes, f);
    const double mono = sum / f.channels;
    GLUEGEN_CHECK_AS(ValueError, std::isfinite(mono), "'{}': sample {} (at {:.3f} s) is not finite", name, t,
                     static_cast<double>(t) / f.sample_rate);
    out.samples[t] = static_cast<float>(mono);
  }
  return out;
}

/// Reads a WAV file (see read_wav_bytes).
inline Waveform read_wav(const std::filesystem::path& path) {
  const std::string bytes = read_file_bytes(path, "WAV file");
  return read_wav_bytes(bytes, path.string());
}

/// The bytes of a 16-bit PCM mono WAV file holding `wave`: samples scaled by 32768, rounded to nearest
/// and clipped to [-32768, 32767], so read_wav_bytes(encode_wav(w)) gives back any sample that is a
/// multiple of 1/32768 exactly.
inline std::string encode_wav(const Waveform& wave) {
  GLUEGEN_CHECK_AS(ValueError, wave.sample_rate > 0, "encode_wav: sample rate {} Hz is not positive", wave.sample_rate);
  const std::uint64_t data_bytes = 2 * static_cast<std::uint64_t>(wave.samples.size());
  GLUEGEN_CHECK_AS(ValueError, data_bytes <= 0xFFFFFFFFull - 36, "encode_wav: {} samples do not fit a WAV file",
                   wave.samples.size());
  std::string out;
  out.reserve(44 + data_bytes);
  const auto put = [&out](auto v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    out.append(b, sizeof v);
  };
  out += "RIFF";
  put(static_cast<std::uint32_t>(36 + data_bytes));
  out += "WAVEfmt ";
  put(std::uint32_t{16});
  put(detail::kFormatPcm);
  put(std::uint16_t{1});                                  // channels
  put(static_cast<std::uint32_t>(wave.sample_rate));      // sample rate
  put(static_cast<std::uint32_t>(wave.sample_rate * 2));  // byte rate
  put(std::uint16_t{2});                                  // block align
  put(std::uint16_t{16});                                 // bits per sample
  out += "data";
  put(static_cast<std::uint32_t>(data_bytes));
  for (std::size_t t = 0; t < wave.samples.size(); ++t) {
    const float x = wave.samples[t];
    GLUEGEN_CHECK_AS(ValueError, std::isfinite(x), "encode_wav: sample {} is {}", t, x);
    put(static_cast<std::int16_t>(std::clamp(std::nearbyint(static_cast<double>(x) * 32768.0), -32768.0, 32767.0)));
  }
  return out;
}

/// Writes `wave` as a 16-bit PCM mono WAV file (encode_wav), atomically: to `path`.tmp, then renamed,
/// so a reader never sees half a file and a failed write leaves an existing `path` intact.
inline void write_wav(const std::filesystem::path& path, const Waveform& wave) {
  write_file_atomically(path, encode_wav(wave), "WAV file");
}

}  // namespace gluegen::audio
