// AutoencoderKL against diffusers on the same weights (encoder moments, decoder output, decoder
// gradient), finite differences of the decoder in double, and bad input.
#include <gluegen/diffusion/model_files.hpp>

#include <gtest/gtest.h>

#include "support/gradcheck.hpp"
#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using diffusion::AutoencoderKL;
using test::Td;

TEST(AutoencoderKL, MatchesDiffusers) {
  const io::WeightReader model(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/vae_tiny.h5");
  const io::WeightReader io(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/vae_tiny_io.h5");
  auto vae = diffusion::load_vae<float, Cpu>(model);
  EXPECT_DOUBLE_EQ(vae.config().scaling_factor, 0.18215);
  const double tol_fwd = io.number_attribute("", "tol_forward").value(),
               tol_bwd = io.number_attribute("", "tol_backward").value();
  AutoencoderKL<float, Cpu>::EncodeCache enc;
  EXPECT_TRUE(test::all_close(vae.encode(io.read<float>("x"), enc).to_vector(), io.read<float>("moments").to_vector(),
                              tol_fwd));
  AutoencoderKL<float, Cpu>::DecodeCache dec;
  EXPECT_TRUE(test::all_close(vae.decode(io.read<float>("z"), dec).to_vector(), io.read<float>("decoded").to_vector(),
                              tol_fwd));
  EXPECT_TRUE(test::all_close(vae.decode_backward(io.read<float>("dy"), dec).to_vector(),
                              io.read<float>("dz").to_vector(), tol_bwd));
}

TEST(AutoencoderKL, DecoderGradientsMatchFiniteDifferences) {
  diffusion::AutoencoderKLConfig cfg;
  cfg.block_out_channels = {4, 8};
  cfg.layers_per_block = 1;
  cfg.norm_num_groups = 2;
  cfg.latent_channels = 2;
  AutoencoderKL<double, Cpu> vae(cfg, 3);
  std::uint64_t stream = 0;
  vae.visit_parameters(
      [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 31, 0.0, 0.4, stream++); }, "");
  Td z = ops::randn<double, Cpu>({1, 2, 3, 3}, 1);
  AutoencoderKL<double, Cpu>::DecodeCache cache;
  const Td y = vae.decode(z, cache).clone();
  ASSERT_EQ(y.shape(), (Shape{1, 3, 6, 6}));
  const Td dy = ops::randn<double, Cpu>(y.shape(), 2);
  nn::zero_grad(vae);
  const Td dz = vae.decode_backward(dy, cache).clone();
  const auto loss = [&] {
    AutoencoderKL<double, Cpu>::DecodeCache fresh;
    return test::dot(vae.decode(z, fresh), dy);
  };
  EXPECT_TRUE(test::fd_matches(loss, z, dz, "dL/dz"));
  vae.visit_parameters(
      [&](const std::string& name, nn::Param<double, Cpu>& p) {
        if (name.starts_with("decoder.") || name.starts_with("post_quant_conv.")) {
          EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, name, 6));
        }
      },
      "");
}

TEST(AutoencoderKL, RejectsBadInput) {
  const io::WeightReader model(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/vae_tiny.h5");
  auto vae = diffusion::load_vae<float, Cpu>(model);
  AutoencoderKL<float, Cpu>::EncodeCache enc;
  EXPECT_THROW(vae.encode(Tensor<float, Cpu>::zeros({1, 3, 15, 16}), enc), ShapeError);
  AutoencoderKL<float, Cpu>::DecodeCache dec;
  EXPECT_THROW(vae.decode(Tensor<float, Cpu>::zeros({1, 3, 8, 8}), dec), ShapeError);
  EXPECT_THROW(diffusion::AutoencoderKLConfig::from_json({{"down_block_types", {"DownBlock2D"}}}), ValueError);
  const io::WeightReader unet(std::string(GLUEGEN_TEST_DATA_DIR) + "/diffusion/unet_sd1.h5");
  EXPECT_THROW((void)(diffusion::load_vae<float, Cpu>(unet)), IoError);
}

}  // namespace
}  // namespace gluegen
