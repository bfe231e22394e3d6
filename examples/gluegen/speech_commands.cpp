// gluegen speak: spoken prompts for users without recordings (eSpeak NG, in-process).
//   gluegen speak --text "a red sneaker on a blue background" [--text ...] --out DIR
//   gluegen speak --prompts data/prompts/natural.tsv [--languages en,de] --out DIR
//   gluegen speak --corpus captions.tsv --voices en-us,en-us+f3:140,en-us+m3:220:70 --out DIR
//                 [--voice en-us+f3] [--wpm 175] [--pitch 50] [--rate 16000] [--snr 10]
// Writes DIR/000.wav, 001.wav, ... and DIR/index.tsv (file, language, voice, text), each WAV
// resampled to --rate (16 kHz: what Whisper reads) and written atomically. With --corpus (a parallel
// corpus: source, target, language) each source line is spoken by the next of --voices in turn, and
// DIR/corpus.tsv (WAV file, target, language) is what `gluegen encode` reads with a Whisper source.
// A voice in --voices may carry its own speed and pitch (NAME:WPM:PITCH); --snr adds white noise.
#include "option_checks.hpp"
#include "speech_commands.hpp"

#include <gluegen/audio/noise.hpp>
#include <gluegen/audio/resample.hpp>
#include <gluegen/core/progress.hpp>
#include <gluegen/core/strings.hpp>
#include <gluegen/default_model/prompts.hpp>
#include <gluegen/train/parallel_corpus.hpp>

#include <charconv>
#include <fstream>
#include <limits>
#include <memory>

namespace gluegen::cli {

struct SpeakArgs {
  std::vector<std::string> texts, languages, voices;
  std::string prompts, corpus, out, voice;
  int words_per_minute = 175, pitch = 50, rate = 16000;
  double snr_db = std::numeric_limits<double>::infinity();
};

audio::SpeechVoice parse_voice(const std::string& spec) {
  const std::vector<std::string> parts = split_fields(spec, ':');
  GLUEGEN_CHECK_AS(ValueError, parts.size() <= 3 && !parts[0].empty(), "voice '{}' is not NAME[:WPM[:PITCH]]", spec);
  audio::SpeechVoice voice{.name = parts[0]};
  int* fields[] = {&voice.words_per_minute, &voice.pitch};
  for (std::size_t k = 1; k < parts.size(); ++k) {
    const auto [end, ec] = std::from_chars(parts[k].data(), parts[k].data() + parts[k].size(), *fields[k - 1]);
    GLUEGEN_CHECK_AS(ValueError, ec == std::errc() && end == parts[k].data() + parts[k].size() && !parts[k].empty(),
                     "voice '{}': '{}' is not a whole number (NAME[:WPM[:PITCH]])", spec, parts[k]);
  }
  return voice;
}

std::string voice_spec(const audio::SpeechVoice& v) {
  return fmt::format("{}:{}:{}", v.name, v.words_per_minute, v.pitch);
}

std::vector<audio::SpeechVoice> parse_voices(const std::vector<std::string>& specs) {
  std::vector<audio::SpeechVoice> voices;
  for (const auto& s : specs) voices.push_back(parse_voice(s));
  return voices;
}

/// espeak-ng's voice for a prompt file's language tag: the tag itself, but English (and --text,
/// which has no tag) is en-us and Chinese is Mandarin (cmn).
std::string voice_for(const std::string& language) {
  if (language.empty() || language == "en") return "en-us";
  if (language == "zh") return "cmn";
  return language;
}

int speak_command(const SpeakArgs& a) {
  struct Line {
    std::string language, text, target;
  };
  std::vector<Line> lines;
  for (const auto& t : a.texts) lines.push_back({"", t, ""});
  if (!a.corpus.empty())
    for (const auto& c : train::read_parallel_corpus(a.corpus))
      if (a.languages.empty() || std::ranges::find(a.languages, c.language) != a.languages.end())
        lines.push_back({c.language, c.source, c.target});
  if (!a.prompts.empty())
    for (const auto& p : default_model::read_prompts(a.prompts))
      if (a.languages.empty() || std::ranges::find(a.languages, p.language) != a.languages.end())
        lines.push_back({p.language, p.text, ""});
  GLUEGEN_CHECK_AS(ValueError, !lines.empty(), "speak: nothing to say (give --text, or --prompts with prompts in {})",
                   a.languages.empty() ? std::string("any language") : fmt::format("{}", fmt::join(a.languages, ", ")));
  GLUEGEN_CHECK_AS(ValueError, a.rate >= 8000 && a.rate <= 192000, "speak: --rate {} Hz is outside 8000..192000",
                   a.rate);
  std::filesystem::create_directories(a.out);
  std::ofstream index(std::filesystem::path(a.out) / "index.tsv");
  index << "file\tlanguage\tvoice\ttext\n";
  std::string corpus;  // written at the end, so a corpus.tsv never lists a clip that is not there
  double seconds = 0;
  Progress progress("speak", std::ssize(lines), "clips", 0, lines.size() > 20);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const audio::SpeechVoice voice =
        !a.voices.empty() ? parse_voice(a.voices[i % a.voices.size()])
                          : audio::SpeechVoice{.name = a.voice.empty() ? voice_for(lines[i].language) : a.voice,
                                               .words_per_minute = a.words_per_minute,
                                               .pitch = a.pitch};
    const audio::Waveform wave =
        audio::add_white_noise(audio::resample(audio::speak(lines[i].text, voice), a.rate), a.snr_db, 0, i);
    const std::string file = fmt::format("{:03d}.wav", i);
    audio::write_wav(std::filesystem::path(a.out) / file, wave);
    index << file << '\t' << lines[i].language << '\t' << voice_spec(voice) << '\t' << lines[i].text << '\n';
    corpus += fmt::format("{}\t{}\t{}\n", file, lines[i].target, lines[i].language);
    seconds += wave.seconds();
    progress.update(static_cast<index_t>(i) + 1, voice.name);
  }
  index.close();
  GLUEGEN_CHECK_AS(IoError, index.good(), "speak: cannot write '{}/index.tsv'", a.out);
  if (!a.corpus.empty()) write_file_atomically(std::filesystem::path(a.out) / "corpus.tsv", corpus, "speech corpus");
  std::printf("%zu clip(s), %.1f s of speech at %d Hz -> %s/ (index.tsv lists them)\n", lines.size(), seconds, a.rate,
              a.out.c_str());
  return 0;
}

std::function<int()> add_speech_commands(CLI::App& app) {
  auto a = std::make_shared<SpeakArgs>();
  auto* cmd = app.add_subcommand("speak", "render prompts as speech (eSpeak NG) into WAV files");
  auto* text = cmd->add_option("--text", a->texts, "a sentence to speak (repeatable)");
  cmd->add_option("--prompts", a->prompts, "a prompt file (TSV: language, prompt, class, colour) to speak")
      ->check(CLI::ExistingFile)
      ->excludes(text);
  cmd->add_option("--corpus", a->corpus, "a parallel corpus (TSV: source, target, language): speak each source")
      ->check(CLI::ExistingFile)
      ->excludes(text);
  cmd->add_option("--languages", a->languages, "with --prompts / --corpus: only these language tags")->delimiter(',');
  cmd->add_option("--voices", a->voices, "voices taken in turn, one per line (espeak-ng names, NAME[:WPM[:PITCH]])")
      ->delimiter(',');
  cmd->add_option("--out", a->out, "output directory: NNN.wav and index.tsv")->required();
  cmd->add_option("--voice", a->voice, "espeak-ng voice for every line (default: from each prompt's language, en-us)");
  cmd->add_option("--wpm", a->words_per_minute, "speed in words per minute (80..450)")
      ->check(at_least_one)
      ->capture_default_str();
  cmd->add_option("--pitch", a->pitch, "pitch (0..100)")->check(non_negative)->capture_default_str();
  cmd->add_option("--rate", a->rate, "output sample rate in Hz (Whisper reads 16000)")
      ->check(at_least_one)
      ->capture_default_str();
  cmd->add_option("--snr", a->snr_db, "add white noise at this signal-to-noise ratio in dB (default: clean)")
      ->check(finite);
  return [=]() -> int { return cmd->parsed() ? speak_command(*a) : -1; };
}

}  // namespace gluegen::cli
