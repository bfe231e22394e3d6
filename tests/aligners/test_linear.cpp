// aligners/linear.hpp: the ridge baseline recovers a known map, never increases its objective, equals
// plain ridge regression when the token map is fixed, round-trips through HDF5, and its backward
// (for fine-tuning a fitted map) matches finite differences.
#include <gluegen/aligners/linear.hpp>
#include <gluegen/aligners/model_files.hpp>
#include <gluegen/io/parameters.hpp>

#include "support/gradcheck.hpp"
#include "support/reference.hpp"

#include <Eigen/Dense>

#include <filesystem>

namespace gluegen::test {
namespace {

using aligners::LinearAligner;
using Tf = Tensor<float, Cpu>;
using Td = Tensor<double, Cpu>;

TEST(LinearAligner, RecoversAKnownBilinearMapOnHeldOutData) {
  constexpr index_t N = 200, Ls = 6, Lt = 4, Ds = 10, Dt = 5;
  const Td a = ops::randn<double, Cpu>({Lt, Ls}, 1), w = ops::randn<double, Cpu>({Dt, Ds}, 2),
           c = ops::randn<double, Cpu>({Dt}, 3);
  auto truth = [&](const Td& x) { return ops::add(ops::matmul(ops::matmul(a, x), w, {.trans_b = true}), c); };
  const Td x_train = ops::randn<double, Cpu>({N, Ls, Ds}, 4), x_test = ops::randn<double, Cpu>({50, Ls, Ds}, 5);
  const Td y_train =
      ops::add(truth(x_train), ops::scale(ops::randn<double, Cpu>({N, Lt, Dt}, 6), 1e-3));  // small noise

  LinearAligner<double, Cpu> aligner({.num_tok = Ls, .num_tok_out = Lt, .dim = Ds, .dim_out = Dt});
  const auto history = aligner.fit(x_train, y_train, {.lambda = 1e-6, .iterations = 20});
  for (std::size_t i = 1; i < history.size(); ++i)
    EXPECT_LE(history[i], history[i - 1] * (1 + 1e-9)) << "alternation " << i;
  EXPECT_LT(history.back(), 2e-6);  // the noise variance is 1e-6
  LinearAligner<double, Cpu>::Cache cache;
  EXPECT_TRUE(all_close(aligner.forward(x_test, cache).to_vector(), truth(x_test).to_vector(), 1e-3));
}

TEST(LinearAligner, WithAFixedIdentityTokenMapItIsPlainRidgeRegression) {
  constexpr index_t N = 40, L = 5, Ds = 7, Dt = 3;
  const Td x = ops::randn<double, Cpu>({N, L, Ds}, 7), y = ops::randn<double, Cpu>({N, L, Dt}, 8);
  LinearAligner<double, Cpu> aligner({.num_tok = L, .num_tok_out = L, .dim = Ds, .dim_out = Dt});
  EXPECT_EQ(aligner.token_map.value.to_vector(), Td::from_host({L, L},
                                                               [] {
                                                                 std::vector<double> eye(L * L, 0.0);
                                                                 for (index_t i = 0; i < L; ++i) eye[i * L + i] = 1;
                                                                 return eye;
                                                               }())
                                                     .to_vector());
  (void)aligner.fit(x, y, {.lambda = 0.5, .iterations = 1, .fit_token_map = false});
  // Independent solution: rows [x_token, 1], penalty on the weights only.
  using Mat = Eigen::MatrixXd;
  const auto xv = x.to_vector(), yv = y.to_vector();
  Mat design(N * L, Ds + 1), rhs(N * L, Dt);
  for (index_t r = 0; r < N * L; ++r) {
    for (index_t k = 0; k < Ds; ++k) design(r, k) = xv[r * Ds + k];
    design(r, Ds) = 1;
    for (index_t k = 0; k < Dt; ++k) rhs(r, k) = yv[r * Dt + k];
  }
  Mat penalty = Mat::Zero(Ds + 1, Ds + 1);
  penalty.topLeftCorner(Ds, Ds).diagonal().setConstant(0.5);
  const Mat solution = (design.transpose() * design + penalty).colPivHouseholderQr().solve(design.transpose() * rhs);
  const auto w = aligner.channel_map.value.to_vector(), b = aligner.bias.value.to_vector();
  for (index_t o = 0; o < Dt; ++o) {
    for (index_t k = 0; k < Ds; ++k) EXPECT_NEAR(w[o * Ds + k], solution(k, o), 1e-9);
    EXPECT_NEAR(b[o], solution(Ds, o), 1e-9);
  }
}

TEST(LinearAligner, GradientsMatchFiniteDifferences) {
  LinearAligner<double, Cpu> aligner({.num_tok = 4, .num_tok_out = 3, .dim = 5, .dim_out = 2});
  // Away from the identity-like start, so every entry of A, W and c matters.
  aligner.token_map.value = ops::randn<double, Cpu>({3, 4}, 12);
  aligner.channel_map.value = ops::randn<double, Cpu>({2, 5}, 13);
  aligner.bias.value = ops::randn<double, Cpu>({2}, 14);
  expect_layer_gradients(aligner, {3, 4, 5}, 15, "LinearAligner");
}

TEST(LinearAligner, SavesLoadsAndRejectsBadInput) {
  LinearAligner<float, Cpu> aligner({.num_tok = 8, .num_tok_out = 3, .dim = 6, .dim_out = 4});
  const Tf x = ops::randn<float, Cpu>({16, 8, 6}, 9), y = ops::randn<float, Cpu>({16, 3, 4}, 10);
  (void)aligner.fit(x, y, {.iterations = 3});
  const auto path = std::filesystem::temp_directory_path() / fmt::format("gluegen-linear-{}.h5", ::getpid());
  {
    io::WeightWriter w(path, aligners::linear_aligner_meta({.num_tok = 8, .num_tok_out = 3, .dim = 6, .dim_out = 4},
                                                           {{"lambda", 1e-3}}));
    io::save_parameters(aligner, w);
    w.commit();
  }
  const io::WeightReader file(path);
  auto loaded = aligners::load_linear_aligner<float, Cpu>(file);
  LinearAligner<float, Cpu>::Cache c1, c2;
  EXPECT_EQ(loaded.forward(x, c1).to_vector(), aligner.forward(x, c2).to_vector());
  // Whatever-aligner loading (eval, generate) takes it too, as a regression-only aligner.
  const Tf mask = Tf::full({16, 8}, 1.0f);
  const auto via_visit = aligners::visit_aligner_file<float, Cpu>(file, [&](auto& a) {
    typename std::remove_reference_t<decltype(a)>::Cache c;
    return a.align(x, mask, c).to_vector();
  });
  EXPECT_EQ(via_visit, aligner.forward(x, c2).to_vector());
  std::filesystem::remove(path);
  EXPECT_THROW((void)aligner.fit(x, ops::randn<float, Cpu>({16, 4, 4}, 11)), ShapeError);
  EXPECT_THROW((void)aligner.fit(x, Tf::full({16, 3, 4}, NAN)), ValueError);
  EXPECT_THROW((LinearAligner<float, Cpu>({.num_tok = 0, .num_tok_out = 3, .dim = 6, .dim_out = 4})), ValueError);
}

}  // namespace
}  // namespace gluegen::test
