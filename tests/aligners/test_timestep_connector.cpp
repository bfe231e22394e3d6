// ELLA's timestep-aware connector (TimestepConnector): gradients against central finite differences
// in double, and forward + backward against a PyTorch re-implementation with ELLA's state_dict keys,
// converted by tools/convert_ella.py (tools/make_ella_goldens.py writes both files).
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/aligners/timestep_connector.hpp>

#include <gtest/gtest.h>

#include "support/gradcheck.hpp"
#include "support/reference.hpp"
#include "support/paths.hpp"

namespace gluegen {
namespace {

using aligners::TimestepConnector;
using test::Td;

const aligners::TimestepConnectorConfig kTiny{
    .time_channel = 8, .time_embed_dim = 12, .width = 12, .layers = 2, .heads = 2, .num_latents = 4, .input_dim = 10};

TEST(TimestepConnector, GradientsMatchFiniteDifferences) {
  TimestepConnector<double, Cpu> tsc(kTiny, 3);
  // Non-trivial biases and modulations everywhere (zero-initialised modulation hides bugs).
  std::uint64_t stream = 0;
  tsc.visit_parameters(
      [&](const std::string&, nn::Param<double, Cpu>& p) { ops::fill_normal(p.value, 17, 0.0, 0.4, stream++); }, "");
  Td x = ops::randn<double, Cpu>({2, 5, 10}, 1);
  const std::vector<double> t{999.0, 37.0};
  TimestepConnector<double, Cpu>::Cache cache;
  const Td y = tsc.forward(x, t, cache).clone();
  EXPECT_EQ(y.shape(), (Shape{2, 4, 12}));
  const Td dy = ops::randn<double, Cpu>(y.shape(), 2);
  nn::zero_grad(tsc);
  const Td dx = tsc.backward(dy, cache).clone();
  const auto loss = [&] {
    TimestepConnector<double, Cpu>::Cache fresh;
    return test::dot(tsc.forward(x, t, fresh), dy);
  };
  EXPECT_TRUE(test::fd_matches(loss, x, dx, "dL/dx"));
  tsc.visit_parameters([&](const std::string& name,
                           nn::Param<double, Cpu>& p) { EXPECT_TRUE(test::fd_matches(loss, p.value, p.grad, name)); },
                       "");
  // The timestep matters: the same text at another step gives other conditioning.
  TimestepConnector<double, Cpu>::Cache other;
  const std::vector<double> t2{500.0, 37.0};
  const auto y2 = tsc.forward(x, t2, other).to_vector(), y1 = y.to_vector();
  EXPECT_NE(std::vector<double>(y1.begin(), y1.begin() + 48), std::vector<double>(y2.begin(), y2.begin() + 48));
  EXPECT_EQ(std::vector<double>(y1.begin() + 48, y1.end()), std::vector<double>(y2.begin() + 48, y2.end()));
}

TEST(TimestepConnector, ConvertedEllaConnectorMatchesPyTorch) {
  const io::WeightReader model_file(std::string(GLUEGEN_TEST_DATA_DIR) + "/ella_connector_converted.h5");
  auto tsc = aligners::load_timestep_connector<float, Cpu>(model_file);
  const io::WeightReader io(std::string(GLUEGEN_TEST_DATA_DIR) + "/ella_connector_io.h5");
  const auto t = io.read<double>("t").to_vector();
  TimestepConnector<float, Cpu>::Cache cache;
  // f32 through 2 blocks, sinusoids of t = 999 included: max scaled error 1e-5 (forward) and 2e-5 (backward).
  EXPECT_TRUE(
      test::all_close(tsc.forward(io.read<float>("x"), t, cache).to_vector(), io.read<float>("y").to_vector(), 1e-5));
  nn::zero_grad(tsc);
  EXPECT_TRUE(
      test::all_close(tsc.backward(io.read<float>("dy"), cache).to_vector(), io.read<float>("dx").to_vector(), 2e-5));
  tsc.visit_parameters(
      [&](const std::string& name, nn::Param<float, Cpu>& p) {
        EXPECT_TRUE(test::all_close(p.grad.to_vector(), io.read<float>("grads." + name).to_vector(), 2e-5)) << name;
      },
      "");
}

}  // namespace
}  // namespace gluegen
