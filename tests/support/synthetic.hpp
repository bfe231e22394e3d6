#pragma once
// A parallel "corpus" with a known alignment for the data and training tests: source features S
// [Ls, Ds] ~ N(0, 1) with a random number of real tokens, target T = GELU(A S B) [Lt, Dt] for fixed
// random maps A [Lt, Ls] and B [Ds, Dt], so an aligner can learn it and held-out sentences can be
// retrieved. Languages alternate between "de" and "fr".
#include <gluegen/train/feature_shards.hpp>

namespace gluegen::test {

struct SyntheticCorpus {
  index_t source_len = 6, source_dim = 8, target_len = 5, target_dim = 7;
  std::uint64_t seed = 11;

  [[nodiscard]] train::ShardSpec spec(DType storage = DType::f32) const {
    return {.source_len = source_len,
            .source_dim = source_dim,
            .target_len = target_len,
            .target_dim = target_dim,
            .source_encoder = "synthetic-source",
            .target_encoder = "synthetic-target",
            .storage = storage};
  }

  /// Writes examples [first, first + n) (example i is the same in every call) in batches of 5.
  void write(train::FeatureShardWriter& out, index_t first, index_t n) const {
    const auto A =
        ops::scale(ops::randn<float, Cpu>({target_len, source_len}, seed), 1.0f / std::sqrt(float(source_len)));
    const auto Bm =
        ops::scale(ops::randn<float, Cpu>({source_dim, target_dim}, seed + 1), 1.0f / std::sqrt(float(source_dim)));
    for (index_t start = first; start < first + n; start += 5) {
      const index_t b = std::min<index_t>(5, first + n - start);
      std::vector<float> s, sm, t, tm;
      std::vector<std::string> src_text, tgt_text, lang;
      for (index_t i = start; i < start + b; ++i) {
        const auto x = ops::randn<float, Cpu>({source_len, source_dim}, seed + 1000 + static_cast<std::uint64_t>(i));
        const auto y = ops::gelu(ops::matmul(ops::matmul(A, x), Bm));
        const auto xs = x.to_vector(), ys = y.to_vector();
        s.insert(s.end(), xs.begin(), xs.end());
        t.insert(t.end(), ys.begin(), ys.end());
        const index_t real = 2 + i % (source_len - 1);
        for (index_t l = 0; l < source_len; ++l) sm.push_back(l < real ? 1.f : 0.f);
        for (index_t l = 0; l < target_len; ++l) tm.push_back(l < 1 + (i % target_len) ? 1.f : 0.f);
        src_text.push_back("source sentence " + std::to_string(i));
        tgt_text.push_back("target sentence " + std::to_string(i));
        lang.push_back(i % 2 == 0 ? "de" : "fr");
      }
      out.add(Tensor<float, Cpu>::from_host({b, source_len, source_dim}, s),
              Tensor<float, Cpu>::from_host({b, source_len}, sm),
              Tensor<float, Cpu>::from_host({b, target_len, target_dim}, t),
              Tensor<float, Cpu>::from_host({b, target_len}, tm), src_text, tgt_text, lang);
    }
  }
};

}  // namespace gluegen::test
