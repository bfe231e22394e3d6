// Aligner model files: GlueGen checkpoints converted by tools/convert_gluegen.py (tiny random
// PyTorch modules with GlueGen's keys, tools/make_converter_goldens.py) load from the file alone and
// reproduce PyTorch's outputs; files our trainer exports round-trip; wrong files are clear errors.
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/io/parameters.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using test::all_close;

io::WeightReader data_file(const std::string& name) {
  return io::WeightReader(std::string(GLUEGEN_TEST_DATA_DIR) + "/" + name);
}

// Tolerance: f32 forward of a 2-block mixer; the PyTorch outputs come from the same f32 weights.
constexpr double kTol = 1e-5;

TEST(ModelFiles, ConvertedGlueGenTranslatorNoLnMatchesPyTorch) {
  auto model = aligners::load_translator<float, Cpu, false>(data_file("gluegen_translator_converted.h5"));
  EXPECT_EQ(model.config().depth, 2);
  const auto io = data_file("gluegen_translator_io.h5");
  decltype(model)::Cache cache;
  EXPECT_TRUE(
      all_close(model.forward(io.read<float>("input"), cache).to_vector(), io.read<float>("output").to_vector(), kTol));
}

TEST(ModelFiles, ConvertedGlueGenTranslatorWithLayerNormMatchesPyTorch) {
  auto model = aligners::load_translator<float, Cpu, true>(data_file("gluegen_translator_ln_converted.h5"));
  const auto io = data_file("gluegen_translator_ln_io.h5");
  decltype(model)::Cache cache;
  EXPECT_TRUE(
      all_close(model.forward(io.read<float>("input"), cache).to_vector(), io.read<float>("output").to_vector(), kTol));
  // The variant must match the file.
  EXPECT_THROW((aligners::load_translator<float, Cpu, false>(data_file("gluegen_translator_ln_converted.h5"))),
               ValueError);
}

TEST(ModelFiles, ConvertedGlueNetMatchesPyTorchIncludingBatchNormStatistics) {
  const auto in = data_file("gluegen_gluenet_converted.h5");
  auto model = aligners::load_gluenet<float, Cpu>(in);
  const auto io = data_file("gluegen_gluenet_io.h5");
  decltype(model)::Cache cache;
  const auto aligned = model.align(io.read<float>("input"), cache).clone();
  EXPECT_TRUE(all_close(aligned.to_vector(), io.read<float>("aligned").to_vector(), kTol));
  decltype(model.decoder)::Cache dec;
  EXPECT_TRUE(
      all_close(model.decoder.forward(aligned, dec).to_vector(), io.read<float>("reconstructed").to_vector(), kTol));
  model.set_training(false);  // evaluation: BatchNorm's running statistics from the file
  decltype(model.discriminator)::Cache disc;
  const auto logp =
      model.discriminator.forward(aligned.reshape({aligned.size(0) * aligned.size(1), aligned.size(2)}), disc);
  EXPECT_TRUE(all_close(logp.to_vector(), io.read<float>("disc_logp").to_vector(), kTol));
}

TEST(ModelFiles, SavedGlueNetRoundTrips) {
  aligners::GlueNetConfig cfg{
      .num_tok = 6, .num_tok_target = 4, .dim_source = 8, .dim_target = 5, .mult = 2, .depth = 1};
  aligners::GlueNet<float, Cpu> model(cfg, 3);
  model.discriminator.net.get<1>().running_mean.value =
      ops::randn<float, Cpu>({1}, 1);  // hidden width int(5 x 0.25) = 1
  const auto path =
      std::filesystem::temp_directory_path() / ("gluegen_model_files_" + std::to_string(::getpid()) + ".h5");
  {
    io::WeightWriter out(path, aligners::gluenet_meta(cfg));
    io::save_parameters(model, out);
    out.commit();
  }
  auto loaded = aligners::load_gluenet<float, Cpu>(io::WeightReader(path));
  EXPECT_EQ(loaded.config().target_tokens(), 4);
  std::vector<std::vector<float>> a, b;
  model.visit_parameters([&](const std::string&, auto& p) { a.push_back(p.value.to_vector()); }, "");
  loaded.visit_parameters([&](const std::string&, auto& p) { b.push_back(p.value.to_vector()); }, "");
  EXPECT_EQ(a, b);
  EXPECT_THROW((aligners::load_translator<float, Cpu, false>(io::WeightReader(path))),
               IoError);  // a gluenet, not a translator
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace gluegen
