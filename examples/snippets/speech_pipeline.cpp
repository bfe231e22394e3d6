// docs/pipeline.md: speech through the glue. A Whisper folder as the source encoder makes the source
// spoken prompts; recorded clips go through the source's encode_clips. argv[1]: the repository root,
// for the models scripts/setup.sh installs, the shipped speech aligner and a committed espeak-ng clip.
#include <gluegen/audio/wav.hpp>
#include <gluegen/pipeline.hpp>

#include <cassert>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::string root = argc > 1 ? argv[1] : ".";
  const std::string models = root + "/data/models/";
  PipelineFiles files{.decoder = models + "gluegen-fashion-decoder.h5",
                      .encoder = models + "all-MiniLM-L6-v2",         // the decoder's own: the null conditioning
                      .source_encoder = models + "whisper-base-ct2",  // a Whisper folder: spoken prompts
                      .aligner = models + "gluegen-fashion-aligner-whisper.h5",
                      .length = 16,
                      .source_length = 50};  // 5 s of Whisper frames pooled into 50 tokens
  files.speech.voices = {{.name = "en-029"}, {.name = "en-gb-scotland", .words_per_minute = 150}};
  AnyPipeline pipeline = load_pipeline(files);
  auto& p = std::get<SpeechPipeline<aligners::TranslatorNoLn<>>>(pipeline);

  // prompts, spoken by the voices in turn
  const auto spoken = p.generate({"a green dress", "a blue bag"}, {.steps = 6});
  // a recording ("a red sneaker on a blue background"): its features, through the same glue
  const audio::Waveform clip = audio::read_wav(root + "/tests/data/audio/red_sneaker_en.wav");
  const auto heard = p.generate(p.source.encode_clips({clip}, files.source_length), {.steps = 6});
  assert(spoken.size() == 2 && heard.size() == 1 && p.source.spoken() == 2);
  std::printf("%lld images from speech\n", static_cast<long long>(spoken.size() + heard.size()));
}
