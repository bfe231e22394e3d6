// Text side of a GlueGen pipeline on the Cpu policy: WordPiece tokenization (sentences/s over the
// multi-script parity corpus) and the real all-MiniLM-L6-v2 encoder forward at batch 1 and 64
// (sentences/s). compare_pytorch.py runs transformers on the same inputs in the same run.
// Needs data/models/all-MiniLM-L6-v2 (scripts/setup.sh fetches it).
#include <gluegen/encoders/text_encoder.hpp>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace {

using namespace gluegen;

const std::filesystem::path kModel = std::filesystem::path(GLUEGEN_SOURCE_DIR) / "data/models/all-MiniLM-L6-v2";

std::vector<std::string> corpus() {
  std::ifstream in(std::filesystem::path(GLUEGEN_SOURCE_DIR) / "tests/data/text/sentences.jsonl");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line).get<std::string>());
  return out;
}

void BM_WordPieceTokenize(benchmark::State& state) {
  const auto tok = text::WordPieceTokenizer::from_file(kModel / "vocab.txt", {});
  const auto sentences = corpus();
  for (auto _ : state)
    for (const auto& s : sentences) benchmark::DoNotOptimize(tok.encode(s).size());
  state.counters["sentences/s"] = benchmark::Counter(static_cast<double>(sentences.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WordPieceTokenize)->Unit(benchmark::kMillisecond)->UseRealTime();

// Arg: batch. Sentences are the corpus lines of 4..40 tokens, padded to the batch's longest.
void BM_MiniLmEncode(benchmark::State& state) {
  encoders::HfTextEncoder<float, Cpu> minilm(kModel);
  std::vector<std::string> pool;
  for (const auto& s : corpus()) {
    const auto n = minilm.tokenizer().encode(s).size();
    if (n >= 4 && n <= 40) pool.push_back(s);
  }
  const std::vector<std::string> batch(pool.begin(), pool.begin() + state.range(0));
  index_t longest = 0;
  for (const auto& s : batch) longest = std::max<index_t>(longest, static_cast<index_t>(minilm.tokenizer().encode(s).size()));
  for (auto _ : state) benchmark::DoNotOptimize(minilm.encode(batch, longest).last_hidden_state.data());
  state.counters["sentences/s"] = benchmark::Counter(static_cast<double>(batch.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MiniLmEncode)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
