#pragma once
// Spoken prompts as a text encoder: each prompt is rendered by eSpeak NG with one of a list of voices,
// optionally degraded (a lower sample rate, white noise at an SNR), and encoded by a
// WhisperSpeechEncoder. It satisfies encoders::TextEncoder, so a Pipeline, eval-images and eval-prompts
// take speech where they take text: the same prompts, scored the same way, through the speech route
// (issue 20: images from held-out voices against the text route). Recorded clips go through
// encode_clips instead.
//   Voices are taken in turn over every prompt this encoder has spoken (prompt n: voices[n % k]), so a
// prompt repeated k times in a row is spoken once by each voice; noise for prompt n is Philox stream n
// of noise_seed. The empty prompt (a pipeline's null row when it has no null conditioning of its own)
// is one second of silence, no speech, and takes no turn.
//   eSpeak NG keeps synthesizer state (the glottal phase, the pitch) from one sentence to the next,
// so within a process the same text in the same voice comes out a few samples different each time;
// the clips are a function of the whole sequence spoken, and a run that speaks the same sequence
// hears the same clips.
#include <gluegen/audio/espeak.hpp>
#include <gluegen/audio/noise.hpp>
#include <gluegen/encoders/concepts.hpp>
#include <gluegen/encoders/speech_encoder.hpp>

#include <limits>

namespace gluegen::encoders {

struct SpokenPromptOptions {
  std::vector<audio::SpeechVoice> voices{audio::SpeechVoice{}};  ///< taken in turn, one per prompt
  int sample_rate = 16000;  ///< the rendered speech is resampled to this rate first (8000: telephone band)
  double snr_db = std::numeric_limits<double>::infinity();  ///< white noise at this SNR; infinite: clean
  std::uint64_t noise_seed = 0;
  SpeechEncoderOptions speech{};
};

template <ComputeElement T = float, TensorPolicy P = Cpu>
class SpokenPromptEncoder {
 public:
  using value_type = T;
  using policy = P;

  /// `folder`: a Whisper model (load_whisper_encoder's formats).
  SpokenPromptEncoder(const std::filesystem::path& folder, SpokenPromptOptions opt)
      : speech_(folder, opt.speech), opt_(std::move(opt)) {
    GLUEGEN_CHECK_AS(ValueError, !opt_.voices.empty(), "SpokenPromptEncoder: no voices to speak the prompts with");
    GLUEGEN_CHECK_AS(ValueError, opt_.sample_rate >= 8000 && opt_.sample_rate <= 192000,
                     "SpokenPromptEncoder: sample rate {} Hz is outside 8000..192000", opt_.sample_rate);
    GLUEGEN_CHECK_AS(ValueError, !std::isnan(opt_.snr_db) && opt_.snr_db != -std::numeric_limits<double>::infinity(),
                     "SpokenPromptEncoder: the SNR must be a number or +infinity (clean), got {} dB", opt_.snr_db);
  }

  [[nodiscard]] index_t width() const noexcept { return speech_.width(); }
  [[nodiscard]] const std::string& name() const noexcept { return speech_.name(); }
  [[nodiscard]] io::ModelIdentity identity() { return speech_.identity(); }
  [[nodiscard]] const SpokenPromptOptions& options() const noexcept { return opt_; }
  [[nodiscard]] WhisperSpeechEncoder<T, P>& speech() noexcept { return speech_; }
  /// Prompts spoken so far (the next prompt takes voices[spoken() % voices.size()]).
  [[nodiscard]] index_t spoken() const noexcept { return spoken_; }

  /// The voice prompt number `n` is spoken in.
  [[nodiscard]] const audio::SpeechVoice& voice(index_t n) const {
    return opt_.voices[static_cast<std::size_t>(n) % opt_.voices.size()];
  }

  /// The clips `texts` are heard as: each in the next voice, at the options' rate and SNR.
  std::vector<audio::Waveform> render(const std::vector<std::string>& texts) {
    std::vector<audio::Waveform> clips;
    for (const auto& text : texts) {
      if (text.empty()) {
        clips.push_back({std::vector<float>(static_cast<std::size_t>(opt_.sample_rate), 0.0F), opt_.sample_rate});
        continue;
      }
      const index_t n = spoken_++;
      clips.push_back(audio::add_white_noise(audio::resample(audio::speak(text, voice(n)), opt_.sample_rate),
                                             opt_.snr_db, opt_.noise_seed, static_cast<std::uint64_t>(n)));
    }
    return clips;
  }

  /// texts spoken and encoded: [B, length, width()] (WhisperSpeechEncoder::encode's layout).
  EncoderOutput<T, P> encode(const std::vector<std::string>& texts, index_t length) {
    return speech_.encode(render(texts), length);
  }

  /// Recorded clips (any sample rate), as they are.
  EncoderOutput<T, P> encode_clips(const std::vector<audio::Waveform>& clips, index_t length) {
    return speech_.encode(clips, length);
  }

 private:
  WhisperSpeechEncoder<T, P> speech_;
  SpokenPromptOptions opt_;
  index_t spoken_ = 0;
};

static_assert(TextEncoder<SpokenPromptEncoder<float, Cpu>>);

}  // namespace gluegen::encoders
