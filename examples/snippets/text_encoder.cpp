// docs/text.md: a pretrained encoder from its Hugging Face folder, without Python. all-MiniLM-L6-v2
// is fetched by scripts/setup.sh into data/models/ (argv[1]: the repository root).
#include <gluegen/encoders/text_encoder.hpp>

#include <cassert>
#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  using namespace gluegen;
  const std::filesystem::path root = argc > 1 ? argv[1] : ".";
  encoders::HfTextEncoder<float, Cpu> minilm(root / "data/models/all-MiniLM-L6-v2");  // config.json, model.safetensors, vocab.txt

  const auto ids = minilm.tokenizer().encode("Ein rotes Auto! 红色的汽车");
  std::printf("%zu ids:", ids.size());
  for (auto id : ids) std::printf(" %s", minilm.tokenizer().token(id).c_str());
  std::printf("\n");

  const auto out = minilm.encode({"a red sneaker", "a photo of a red trainer", "a blue dress"}, /*length=*/16);
  assert((out.last_hidden_state.shape() == Shape{3, 16, 384}) && (out.mask.shape() == Shape{3, 16}));
  // Sentence similarity from the mean-pooled vectors: the paraphrase is closer than the other item.
  const auto e = out.mean_pooled.to_vector();
  const auto cosine = [&](int a, int b) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < 384; ++d) {
      ab += e[a * 384 + d] * e[b * 384 + d];
      aa += e[a * 384 + d] * e[a * 384 + d];
      bb += e[b * 384 + d] * e[b * 384 + d];
    }
    return ab / std::sqrt(aa * bb);
  };
  std::printf("cos(sneaker, red trainer) = %.3f, cos(sneaker, blue dress) = %.3f\n", cosine(0, 1), cosine(0, 2));
  assert(cosine(0, 1) > cosine(0, 2));
  return 0;
}
