// LanguageRouter: a mixed-language batch goes example by example through its language's aligner
// and comes back in order; an unknown tag names the known ones.
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/aligners/router.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"

namespace gluegen {
namespace {

using Net = aligners::GlueNet<float, Cpu>;

TEST(LanguageRouter, RoutesEachExampleToItsLanguagesAligner) {
  const aligners::GlueNetConfig cfg{
      .num_tok = 4, .num_tok_target = 3, .dim_source = 6, .dim_target = 5, .mult = 2, .depth = 1};
  aligners::LanguageRouter<Net> router;
  router.add("de", Net(cfg, 1));
  router.add("fr", Net(cfg, 2));
  EXPECT_EQ(router.languages(), (std::vector<std::string>{"de", "fr"}));
  const auto source = ops::randn<float, Cpu>({3, 4, 6}, 7);
  const auto mask = Tensor<float, Cpu>::full({3, 4}, 1.f);
  const auto routed = router.align(source, mask, {"de", "fr", "de"});
  ASSERT_EQ(routed.shape(), (Shape{3, 3, 5}));
  Net de(cfg, 1), fr(cfg, 2);
  Net::Cache cache;
  const auto all = routed.to_vector();
  for (index_t b = 0; b < 3; ++b) {
    Net& expected_net = b == 1 ? fr : de;
    const auto one = expected_net.align(source.slice(b, b + 1).contiguous(), cache).to_vector();
    // Equal up to f32 rounding: a group of 2 and a batch of 1 take different GEMM blockings.
    EXPECT_TRUE(test::all_close(std::vector<float>(all.begin() + b * 15, all.begin() + (b + 1) * 15), one, 1e-6))
        << "example " << b;
  }
  try {
    (void)router.align(source, mask, {"de", "es", "fr"});
    ADD_FAILURE() << "an unknown language was aligned";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'es', which has no aligner (known: de, fr)"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)router.align(source, mask, {"de"}), ShapeError);
}

}  // namespace
}  // namespace gluegen
