// The error catalogue (docs/errors.md, scripts/make_errors_doc.py): each gluegen::Error class raised by a real
// library call in the situation a user meets it, checked to be exactly that class. With GLUEGEN_ERROR_CATALOGUE
// set to a file, each case appends one JSON line {class, when, message} to it: docs/errors.md is generated from
// these lines, so its examples are the messages the library gives today. The files each case makes live in a
// scratch directory that is the working directory, so the messages name them as a user would ('aligner.h5').
#include <gluegen/core/json_config.hpp>
#include <gluegen/diffusion/ddpm.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/io/provenance.hpp>
#include <gluegen/nn/batch_norm.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/train/decoder_trainer.hpp>

#include "support/tiny_unet.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <typeinfo>

namespace gluegen {
namespace {

namespace fs = std::filesystem;

class ErrorCatalogue : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::current_path();
    dir_ = fs::temp_directory_path() / fmt::format("gluegen-errors-{}", ::getpid());
    fs::create_directories(dir_);
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(home_);
    fs::remove_all(dir_);
  }

  /// Runs f, which must throw exactly E (`name`: its class as docs/errors.md lists it), records the case and
  /// returns the message.
  template <typename E, typename F>
  std::string expect(const char* name, const char* when, F&& f) {
    try {
      f();
      ADD_FAILURE() << name << " was not raised: " << when;
    } catch (const Error& e) {
      EXPECT_EQ(typeid(e), typeid(E)) << name << " expected, got " << typeid(e).name() << ": " << e.what();
      if (const char* path = std::getenv("GLUEGEN_ERROR_CATALOGUE")) {
        std::ofstream out(path, std::ios::app);
        out << nlohmann::json{{"class", name}, {"when", when}, {"message", e.message()}}.dump() << '\n';
      }
      return e.message();
    }
    return {};
  }

  /// A model file of a Linear(3 -> 2): weight and bias.
  static void write_linear(const char* path, DType storage = DType::f32) {
    nn::Linear<float, Cpu> linear(3, 2, {.seed = 1});
    io::WeightWriter out(path, {.model_type = "example.linear"});
    io::save_parameters(linear, out, "", storage);
    out.commit();
  }

  fs::path home_, dir_;
};

TEST_F(ErrorCatalogue, Error) {
  expect<Error>("Error", "a backward pass through a BatchNorm whose forward ran in evaluation mode", [] {
    nn::BatchNorm1d<float, Cpu> norm(4);
    nn::BatchNorm1d<float, Cpu>::Cache cache;
    norm.training = false;
    const auto x = ops::randn<float, Cpu>({3, 4}, 1);
    (void)norm.forward(x, cache);
    (void)norm.backward(x, cache);
  });
}

TEST_F(ErrorCatalogue, FileNotFoundError) {
  expect<FileNotFoundError>("FileNotFoundError", "a model file that does not exist",
                            [] { io::WeightReader("aligner.h5"); });
}

TEST_F(ErrorCatalogue, NotHdf5Error) {
  std::ofstream("aligner.h5") << "this is a text file\n";
  expect<NotHdf5Error>("NotHdf5Error", "a file that is not HDF5 where a model file is expected",
                       [] { io::WeightReader("aligner.h5"); });
}

TEST_F(ErrorCatalogue, TruncatedFileError) {
  write_linear("aligner.h5");
  fs::resize_file("aligner.h5", fs::file_size("aligner.h5") / 2);  // a download cut short
  expect<TruncatedFileError>("TruncatedFileError", "a model file cut short (an interrupted download or copy)",
                             [] { io::WeightReader("aligner.h5"); });
}

TEST_F(ErrorCatalogue, MissingDatasetError) {
  {
    io::WeightWriter out("aligner.h5", {.model_type = "example.linear"});
    out.write("weight", Tensor<float, Cpu>::zeros({2, 3}));
    out.commit();
  }
  expect<MissingDatasetError>("MissingDatasetError", "a model file without a tensor the model needs", [] {
    nn::Linear<float, Cpu> linear(3, 2);
    io::load_parameters(linear, io::WeightReader("aligner.h5"));
  });
}

TEST_F(ErrorCatalogue, ShapeError) {
  write_linear("aligner.h5");
  expect<ShapeError>("ShapeError", "weights of another shape than the model's", [] {
    nn::Linear<float, Cpu> wider(4, 2);
    io::load_parameters(wider, io::WeightReader("aligner.h5"));
  });
}

TEST_F(ErrorCatalogue, DTypeError) {
  {
    io::WeightWriter out("decoder.h5", {.model_type = "example"});
    out.write_strings("scheduler_config", {"{}"});
    out.commit();
  }
  expect<DTypeError>("DTypeError", "a text dataset read as a tensor",
                     [] { (void)io::WeightReader("decoder.h5").read<float>("scheduler_config"); });
}

TEST_F(ErrorCatalogue, ValueError) {
  {
    io::WeightWriter out("checkpoint.h5", {.model_type = "example"});
    out.write("weight", Tensor<float, Cpu>::full({2, 3}, std::numeric_limits<float>::quiet_NaN()));
    out.commit();
  }
  expect<ValueError>("ValueError", "NaN or Inf in a model file (a diverged run's weights)",
                     [] { (void)io::WeightReader("checkpoint.h5").read<float>("weight"); });
}

TEST_F(ErrorCatalogue, IoError) {
  expect<IoError>("IoError", "a model config that is not valid JSON",
                  [] { (void)parse_json("{\"hidden_size\": 384,", "all-MiniLM-L6-v2/config.json"); });
}

TEST_F(ErrorCatalogue, ModelMismatchError) {
  const nlohmann::json record{
      {"source_encoder", io::ModelIdentity{"multilingual-e5-small-q4", "a16c5cb7b8ae"}.to_json()}};
  expect<ModelMismatchError>("ModelMismatchError", "an aligner given another source encoder than it was trained with",
                             [&] {
                               io::check_recorded_identity("aligner.h5", record, "source_encoder", "source encoder",
                                                           {"all-MiniLM-L6-v2", "a622865cf1be"});
                             });
}

/// Scenes and contexts for the tiny UNet; from the third batch on, the contexts are infinite.
struct DivergingData {
  int batches = 0;
  train::DecoderBatch<float, Cpu> batch(index_t n, std::mt19937_64& rng) {
    const std::uint64_t s = rng();
    auto context = ops::randn<float, Cpu>({n, 3, 6}, s, 1);
    if (++batches > 2) context = Tensor<float, Cpu>::full({n, 3, 6}, std::numeric_limits<float>::infinity());
    return {ops::randn<float, Cpu>({n, 2, 8, 8}, s, 0), context};
  }
  [[nodiscard]] nlohmann::json describe() const { return {{"diverging", true}}; }
};

// DecoderTrainer (the decoder, LaVi-Bridge and ELLA runs) names the step, the term and the checkpoint it leaves
// intact, as the aligner Trainer does (tests/train/test_train.cpp).
TEST_F(ErrorCatalogue, DivergedError) {
  const std::string message = expect<DivergedError>("DivergedError", "a training loss that is no longer finite", [] {
    DivergingData data;
    diffusion::UNet2DCondition<float, Cpu> unet(test::tiny_unet_config(), 1);
    train::DecoderTrainer<float, Cpu, DivergingData>(
        unet, diffusion::DdpmScheduler<>::default_config(), data,
        {.run_dir = "run", .steps = 6, .batch = 2, .checkpoint_every = 2, .progress = false})
        .run();
  });
  EXPECT_NE(message.find("training diverged at step 3 (train decoder): the denoising loss = "), std::string::npos)
      << message;
  EXPECT_NE(message.find("The last good checkpoint 'run/checkpoint.h5' is intact"), std::string::npos) << message;
  const io::WeightReader checkpoint("run/checkpoint.h5");  // rejects non-finite values: the checkpoint is clean
  EXPECT_EQ(checkpoint.meta().model_type, train::kCheckpointModelType);
}

}  // namespace
}  // namespace gluegen
