// io/provenance.hpp: the weights' SHA-256 against coreutils' sha256sum over the same bytes written out by hand,
// its independence from the storage dtype it was loaded from, the provenance attribute's round trip, and the
// checks that make a mismatch a ModelMismatchError naming both models and the override.
#include <gluegen/io/parameters.hpp>
#include <gluegen/io/provenance.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/train/feature_shards.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace gluegen::io {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / fmt::format("gluegen-provenance-{}-{}", ::getpid(), name);
}

/// coreutils' digest of a file: an implementation of SHA-256 independent of OpenSSL's.
std::string sha256sum(const fs::path& file) {
  std::FILE* pipe = ::popen(fmt::format("sha256sum '{}'", file.string()).c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  char digest[65] = {};
  EXPECT_EQ(std::fread(digest, 1, 64, pipe), 64U);
  ::pclose(pipe);
  return digest;
}

template <typename T>
void put(std::ofstream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof value);
}

TEST(WeightsSha256, IsSha256OfEachParametersNameExtentsAndFloat32Values) {
  nn::Linear<float, Cpu> linear(3, 2, {.seed = 7});
  const fs::path bytes = scratch("bytes");
  {
    std::ofstream out(bytes, std::ios::binary);
    for (const auto* p : {&linear.weight, &linear.bias}) {  // visit order: weight, bias
      const std::string name = p == &linear.weight ? "weight" : "bias";
      out.write(name.c_str(), static_cast<std::streamsize>(name.size() + 1));
      for (const index_t extent : p->value.shape()) put(out, static_cast<std::int64_t>(extent));
      for (const float v : p->value.to_vector()) put(out, v);
    }
  }
  EXPECT_EQ(weights_sha256(linear), sha256sum(bytes));
  fs::remove(bytes);
}

TEST(WeightsSha256, DependsOnTheWeightsNotOnTheComputeTypeOrTheFileTheyCameFrom) {
  nn::Linear<float, Cpu> a(4, 3, {.seed = 1});
  const std::string digest = weights_sha256(a);
  const fs::path file = scratch("linear.h5");
  {
    WeightWriter w(file, {.model_type = "test"});
    save_parameters(a, w);
    w.commit();
  }
  nn::Linear<float, Cpu> reloaded(4, 3, {.seed = 2});
  EXPECT_NE(weights_sha256(reloaded), digest);
  load_parameters(reloaded, WeightReader(file));
  EXPECT_EQ(weights_sha256(reloaded), digest);
  nn::Linear<double, Cpu> in_double(4, 3, {.seed = 2});
  load_parameters(in_double, WeightReader(file));
  EXPECT_EQ(weights_sha256(in_double), digest);  // f32 weights computed in f64: the same model
  auto values = a.weight.value.to_vector();
  values[5] = std::nextafter(values[5], 1.0F);  // one ulp of one weight
  a.weight.value = Tensor<float, Cpu>::from_host(a.weight.value.shape(), values);
  EXPECT_NE(weights_sha256(a), digest);
  fs::remove(file);
}

TEST(Provenance, RoundTripsThroughAModelFileAndIsNullWhereNoneWasRecorded) {
  const fs::path with = scratch("with.h5"), without = scratch("without.h5");
  const nlohmann::json record{{"source_encoder", ModelIdentity{"e5", "ab12"}.to_json()},
                              {"source_length", 16},
                              {"command", "gluegen train --run 'my run'"}};
  for (const auto& [path, provenance] : {std::pair{with, record}, std::pair{without, nlohmann::json()}}) {
    WeightWriter w(path, {.model_type = "test", .provenance = provenance});
    w.write("x", Tensor<float, Cpu>::zeros({2}));
    w.commit();
  }
  EXPECT_EQ(WeightReader(with).meta().provenance, record);
  EXPECT_TRUE(WeightReader(without).meta().provenance.is_null());
  const auto recorded = ModelIdentity::recorded(WeightReader(with).meta().provenance, "source_encoder");
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->name, "e5");
  EXPECT_FALSE(ModelIdentity::recorded(record, "target_encoder").has_value());
  fs::remove(with);
  fs::remove(without);
}

TEST(Provenance, AMismatchIsAModelMismatchErrorNamingBothModelsAndTheOverride) {
  const nlohmann::json record{
      {"source_encoder", ModelIdentity{"multilingual-e5-small-q4", "0123456789abcdef"}.to_json()},
      {"source_length", 16}};
  EXPECT_NO_THROW(check_recorded_identity("a.h5", record, "source_encoder", "source encoder",
                                          {"renamed-e5", "0123456789abcdef"}));  // the weights decide, not the name
  EXPECT_NO_THROW(check_recorded_identity("a.h5", record, "target_encoder", "target encoder", {"x", "ff"}));
  EXPECT_NO_THROW(check_recorded_identity("a.h5", nullptr, "source_encoder", "source encoder", {"x", "ff"}));
  try {
    check_recorded_identity("a.h5", record, "source_encoder", "source encoder",
                            {"all-MiniLM-L6-v2", "fedcba9876543210"});
    ADD_FAILURE() << "no error";
  } catch (const ModelMismatchError& e) {
    EXPECT_EQ(e.message(),
              "'a.h5' was trained with the source encoder 'multilingual-e5-small-q4' (sha256 0123456789ab), not "
              "with 'all-MiniLM-L6-v2' (sha256 fedcba987654); pass that one, or allow_mismatch (gluegen "
              "--allow-mismatch) uses it anyway");
  }
  EXPECT_NO_THROW(check_recorded_length("a.h5", record, "source_length", "--source-length", 16));
  EXPECT_NO_THROW(check_recorded_length("a.h5", record, "target_length", "--length", 3));
  EXPECT_THROW(check_recorded_length("a.h5", record, "source_length", "--source-length", 8), ModelMismatchError);
}

TEST(Provenance, FeatureShardsOfOtherWeightsUnderTheSameNameDoNotResume) {
  const fs::path dir = scratch("shards");
  train::ShardSpec spec{.source_len = 2,
                        .source_dim = 3,
                        .target_len = 2,
                        .target_dim = 3,
                        .source_encoder = "e5",
                        .target_encoder = "minilm",
                        .storage = DType::f16,
                        .source_sha256 = "aa",
                        .target_sha256 = "bb"};
  {
    train::FeatureShardWriter out(dir, spec, 1);
    const auto f = Tensor<float, Cpu>::zeros({1, 2, 3});
    const auto m = Tensor<float, Cpu>::full({1, 2}, 1.0F);
    out.add(f, m, f, m, {"s"}, {"t"}, {"en"});
    out.finish();
  }
  EXPECT_EQ(train::FeatureShardWriter(dir, spec, 1).examples_resumed(), 1);
  EXPECT_EQ(train::FeatureDataset(dir).spec().provenance(),
            (nlohmann::json{{"source_encoder", {{"name", "e5"}, {"sha256", "aa"}}},
                            {"target_encoder", {{"name", "minilm"}, {"sha256", "bb"}}},
                            {"source_length", 2},
                            {"target_length", 2}}));
  spec.source_sha256 = "cc";
  EXPECT_THROW(train::FeatureShardWriter(dir, spec, 1), ModelMismatchError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gluegen::io
