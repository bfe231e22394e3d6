// Text side of a GlueGen pipeline on the Cpu policy: WordPiece, SentencePiece (multilingual-e5) and
// CLIP BPE tokenization (sentences/s over the multi-script parity corpus), and the real
// all-MiniLM-L6-v2 (target) and 4-bit multilingual-e5-small (source) encoder forwards at batch 1 and
// 64 (sentences/s). compare_pytorch.py runs transformers on the same inputs in the same run.
// Needs data/models/ (scripts/setup.sh fetches it).
#include <gluegen/encoders/text_encoder.hpp>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

using namespace gluegen;

const std::filesystem::path kModels = std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models";
const std::filesystem::path kModel = kModels / "all-MiniLM-L6-v2";

std::vector<std::string> corpus() {
  std::ifstream in(std::filesystem::path(GLUEGEN_SOURCE_DIR) / "tests/data/text/sentences.jsonl");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line).get<std::string>());
  return out;
}

template <typename Tokenizer>
void tokenize_corpus(benchmark::State& state, const Tokenizer& tok) {
  const auto sentences = corpus();
  for (auto _ : state)
    for (const auto& s : sentences) benchmark::DoNotOptimize(tok.encode(s).size());
  state.counters["sentences/s"] =
      benchmark::Counter(static_cast<double>(sentences.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_WordPieceTokenize(benchmark::State& state) {
  tokenize_corpus(state, text::WordPieceTokenizer::from_file(kModel / "vocab.txt", {}));
}
BENCHMARK(BM_WordPieceTokenize)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SentencePieceTokenize(benchmark::State& state) {
  tokenize_corpus(
      state, text::SentencePieceTokenizer::from_hf_tokenizer_json(kModels / "multilingual-e5-small-q4/tokenizer.json"));
}
BENCHMARK(BM_SentencePieceTokenize)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ClipBpeTokenize(benchmark::State& state) {
  tokenize_corpus(state, text::ClipBpeTokenizer::from_openai_merges(kModels / "clip-bpe/bpe_simple_vocab_16e6.txt.gz"));
}
BENCHMARK(BM_ClipBpeTokenize)->Unit(benchmark::kMillisecond)->UseRealTime();

// Arg: batch. Sentences are the corpus lines of 4..40 tokens, padded to the batch's longest.
void encode_batch(benchmark::State& state, const std::filesystem::path& model) {
  encoders::HfTextEncoder<float, Cpu> encoder(model);
  std::vector<std::string> pool;
  for (const auto& s : corpus()) {
    const auto n = encoder.tokenizer().encode(s).size();
    if (n >= 4 && n <= 40) pool.push_back(s);
  }
  const std::vector<std::string> batch(pool.begin(), pool.begin() + state.range(0));
  index_t longest = 0;
  for (const auto& s : batch)
    longest = std::max<index_t>(longest, static_cast<index_t>(encoder.tokenizer().encode(s).size()));
  for (auto _ : state) benchmark::DoNotOptimize(encoder.encode(batch, longest).last_hidden_state.data());
  state.counters["sentences/s"] =
      benchmark::Counter(static_cast<double>(batch.size()), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MiniLmEncode(benchmark::State& state) { encode_batch(state, kModel); }
BENCHMARK(BM_MiniLmEncode)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_E5Encode(benchmark::State& state) { encode_batch(state, kModels / "multilingual-e5-small-q4"); }
BENCHMARK(BM_E5Encode)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
