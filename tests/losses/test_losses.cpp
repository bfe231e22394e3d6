// losses/: every loss's gradient against central finite differences in double (PyTorch values are
// checked in nn/golden_suite.hpp), and bad input.
#include <gluegen/losses/adversarial.hpp>
#include <gluegen/losses/contrastive.hpp>
#include <gluegen/losses/token_losses.hpp>

#include "support/gradcheck.hpp"

namespace gluegen::test {
namespace {

using namespace gluegen::losses;

TEST(LossGradients, Regression) {
  Td pred = ops::randn<double, Cpu>({2, 4, 3}, 1), target = ops::randn<double, Cpu>({2, 4, 3}, 2);
  Td grad, scratch;
  for (const Reduction r : {Reduction::mean, Reduction::sum}) {
    (void)mse(pred, target, grad, r);
    EXPECT_TRUE(fd_matches([&] { return mse(pred, target, scratch, r); }, pred, grad.clone(), "mse"));
    (void)l1(pred, target, grad, r);
    EXPECT_TRUE(fd_matches([&] { return l1(pred, target, scratch, r); }, pred, grad.clone(), "l1"));
  }
  Td weights = Td::from_host({2, 4}, std::vector<double>{1, 1, 0.5, 0, 1, 0, 0, 2});
  (void)weighted_mse(pred, target, weights, grad);
  EXPECT_TRUE(
      fd_matches([&] { return weighted_mse(pred, target, weights, scratch); }, pred, grad.clone(), "weighted_mse"));
  EXPECT_THROW((void)weighted_mse(pred, target, Td::zeros({2, 4}), grad), ValueError);
  EXPECT_THROW((void)mse(pred, Td::zeros({2, 4, 2}), grad), ShapeError);
}

TEST(LossGradients, Contrastive) {
  Td a = ops::randn<double, Cpu>({5, 8}, 3), b = ops::randn<double, Cpu>({5, 8}, 4);
  Td da, db, s1, s2;
  (void)info_nce(a, b, 0.07, da, db);
  EXPECT_TRUE(fd_matches([&] { return info_nce(a, b, 0.07, s1, s2); }, a, da.clone(), "info_nce a"));
  EXPECT_TRUE(fd_matches([&] { return info_nce(a, b, 0.07, s1, s2); }, b, db.clone(), "info_nce b"));
  const std::vector<int> y{1, -1, 1, -1, -1};
  // Make pair 1 similar so the -1 hinge is active (cos > margin) and pair 3 opposite (inactive).
  for (int k = 0; k < 8; ++k)
    b.data()[8 + k] = a.data()[8 + k] + 0.1 * b.data()[8 + k], b.data()[24 + k] = -a.data()[24 + k];
  (void)cosine_embedding(a, b, y, 0.1, da, db);
  EXPECT_TRUE(fd_matches([&] { return cosine_embedding(a, b, y, 0.1, s1, s2); }, a, da.clone(), "cosine_embedding x1"));
  EXPECT_TRUE(fd_matches([&] { return cosine_embedding(a, b, y, 0.1, s1, s2); }, b, db.clone(), "cosine_embedding x2"));
  const std::vector<int> bad{1, 0, 1, 1, 1};
  EXPECT_THROW((void)cosine_embedding(a, b, bad, 0.1, da, db), ValueError);
}

TEST(LossGradients, Adversarial) {
  Td logits = ops::randn<double, Cpu>({7}, 5);
  const Td targets = Td::from_host({7}, std::vector<double>{0, 1, 0.3, 1, 0, 0.8, 1});
  Td g, s;
  (void)bce_with_logits(logits, targets, g);
  EXPECT_TRUE(fd_matches([&] { return bce_with_logits(logits, targets, s); }, logits, g.clone(), "bce_with_logits"));
  // Stable at extreme logits: no overflow to inf.
  EXPECT_TRUE(std::isfinite(bce_with_logits(Td::full({1}, 1000.0), Td::zeros({1}), s)));
  Td real = Td::from_host({4}, std::vector<double>{0.3, 1.7, -0.4, 0.9}),
     fake = Td::from_host({4}, std::vector<double>{-1.6, 0.2, -0.5, 0.8});
  Td gr, gf, s2;
  (void)hinge_discriminator(real, fake, gr, gf);
  EXPECT_TRUE(fd_matches([&] { return hinge_discriminator(real, fake, s, s2); }, real, gr.clone(), "hinge d_real"));
  EXPECT_TRUE(fd_matches([&] { return hinge_discriminator(real, fake, s, s2); }, fake, gf.clone(), "hinge d_fake"));
  (void)hinge_generator(fake, gf);
  EXPECT_TRUE(fd_matches([&] { return hinge_generator(fake, s); }, fake, gf.clone(), "hinge generator"));
  EXPECT_THROW((void)bce_with_logits(logits, Td::full({7}, 1.5), g), ValueError);
}

// The loss types of Supervised<A, Loss>: TokenCosine's value on vectors whose cosines are known, its
// gradient against finite differences with a padding mask, and AllTokens counting every position.
TEST(TokenLosses, CosineValuesGradientsAndMasks) {
  // token 0 parallel (cos 1), token 1 orthogonal (cos 0), token 2 opposite (cos -1), token 3 masked out
  const Td pred = Td::from_host({1, 4, 2}, std::vector<double>{2, 0, 0, 3, 1, 1, 5, 5});
  const Td target = Td::from_host({1, 4, 2}, std::vector<double>{1, 0, 1, 0, -2, -2, 1, 0});
  Td mask = Td::full({1, 4}, 1.0);
  mask.data()[3] = 0.0;
  Td grad, scratch;
  EXPECT_NEAR(TokenCosine{}(pred, target, mask, grad), (0.0 + 1.0 + 2.0) / 3.0, 1e-12);
  EXPECT_EQ(grad.to_vector()[6], 0.0);  // a masked token gets no gradient
  EXPECT_NEAR(AllTokens<TokenCosine>{}(pred, target, mask, grad), (0.0 + 1.0 + 2.0 + (1 - 1 / std::sqrt(2.0))) / 4.0,
              1e-12);
  Td p = ops::randn<double, Cpu>({2, 3, 5}, 6), t = ops::randn<double, Cpu>({2, 3, 5}, 7);
  const Td w = Td::from_host({2, 3}, std::vector<double>{1, 0.5, 0, 2, 1, 1});
  (void)TokenCosine{}(p, t, w, grad);
  EXPECT_TRUE(fd_matches([&] { return TokenCosine{}(p, t, w, scratch); }, p, grad.clone(), "TokenCosine"));
  (void)AllTokens<TokenMse>{}(p, t, w, grad);
  EXPECT_NEAR(AllTokens<TokenMse>{}(p, t, w, grad), mse(p, t, scratch), 1e-12);
  EXPECT_TRUE(fd_matches([&] { return AllTokens<TokenMse>{}(p, t, w, scratch); }, p, grad.clone(), "AllTokens"));
  EXPECT_THROW((void)TokenCosine{}(p, t, Td::zeros({2, 3}), grad), ValueError);
  EXPECT_THROW((void)TokenCosine{}(p, t, Td::zeros({3, 2}), grad), ShapeError);
}

}  // namespace
}  // namespace gluegen::test
