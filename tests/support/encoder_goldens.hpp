#pragma once
// Checks shared by the text-encoder parity tests against tools/make_text_goldens.py's io files:
// the batched outputs on the real tokens, and each sequence run alone without padding.
#include <gluegen/encoders/encoder_output.hpp>
#include <gluegen/io/hdf5_store.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen::test {

inline io::WeightReader text_golden(const std::string& file) {
  return io::WeightReader(std::string(GLUEGEN_TEST_DATA_DIR) + "/text/" + file);
}

/// Tolerance: max scaled error 1e-5, f32 against transformers in f64.
inline constexpr double kEncoderTolerance = 1e-5;

/// last_hidden_state on the real tokens (padded positions hold values nobody uses, which differ
/// between frameworks) and mean_pooled, against the golden's.
inline void expect_batch_matches(const encoders::EncoderOutput<float, Cpu>& out, const io::WeightReader& io,
                                 const std::string& what) {
  const auto m = io.read<std::int32_t>("attention_mask").to_vector();
  const auto zero_padding = [&](std::vector<float> v) {
    const std::size_t d = v.size() / m.size();
    for (std::size_t i = 0; i < v.size(); ++i)
      if (m[i / d] == 0) v[i] = 0;
    return v;
  };
  EXPECT_TRUE(all_close(zero_padding(out.last_hidden_state.to_vector()),
                        zero_padding(io.read<float>("last_hidden_state").to_vector()), kEncoderTolerance))
      << what;
  EXPECT_TRUE(all_close(out.mean_pooled.to_vector(), io.read<float>("mean_pooled").to_vector(), kEncoderTolerance))
      << what;
}

/// Each golden sequence k alone: encode_one(k, ids [1, len_k]) must give single.<k>.last_hidden_state.
template <typename EncodeOne>
void expect_singles_match(const io::WeightReader& io, EncodeOne&& encode_one, const std::string& what) {
  const auto ids = io.read<std::int32_t>("input_ids");
  const auto lengths = io.read<std::int32_t>("lengths").to_vector();
  const auto all_ids = ids.to_vector();
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    const index_t L = lengths[k], width = ids.size(1);
    const std::vector<std::int32_t> one(all_ids.begin() + static_cast<std::ptrdiff_t>(k) * width,
                                        all_ids.begin() + static_cast<std::ptrdiff_t>(k) * width + L);
    const encoders::EncoderOutput<float, Cpu> single = encode_one(k, Tensor<std::int32_t, Cpu>::from_host({1, L}, one));
    EXPECT_TRUE(all_close(single.last_hidden_state.to_vector(),
                          io.read<float>("single." + std::to_string(k) + ".last_hidden_state").to_vector(),
                          kEncoderTolerance))
        << what << " sentence " << k;
    if (io.contains("single." + std::to_string(k) + ".pooler_output") && single.pooler_output.defined()) {
      EXPECT_TRUE(all_close(single.pooler_output.to_vector(),
                            io.read<float>("single." + std::to_string(k) + ".pooler_output").to_vector(),
                            kEncoderTolerance))
          << what << " sentence " << k;
    }
  }
}

}  // namespace gluegen::test
