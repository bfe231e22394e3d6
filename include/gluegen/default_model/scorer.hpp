#pragma once
// The default model's scorer: a small CNN classifying Fashion-MNIST items (28x28 grey in [0, 1]),
//   conv 3x3 (1 -> 32) ReLU avgpool 2 -> conv 3x3 (32 -> 64) ReLU avgpool 2 -> fc 3136 -> 128 ReLU -> fc 128 -> 10
// trained with gluegen (cross-entropy, AdamW). Generated scenes are scored by their recovered grey
// intensity (fashion::scene_intensity), and its 128-wide penultimate features are the space of the
// Fréchet distance between generated and real scenes (Heusel et al. 2017, with this network in
// Inception's place).
#include <gluegen/nn/activation.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/linear.hpp>
#include <gluegen/nn/log_softmax.hpp>
#include <gluegen/nn/pool.hpp>

namespace gluegen::default_model {

inline constexpr const char* kFashionClassifierModelType = "gluegen.fashion_classifier";

template <ComputeElement T = float, TensorPolicy P = Cpu>
class FashionClassifier {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  static constexpr index_t kSide = 28, kFeatures = 128, kClasses = 10;
  // Fashion-MNIST's pixel mean and standard deviation (training split), as the usual normalisation
  static constexpr double kMean = 0.2860, kStd = 0.3530;

  struct Cache {
    typename nn::Conv2d<T, P>::Cache c1, c2;
    typename nn::Relu<T, P>::Cache r1, r2, r3;
    typename nn::AvgPool2d<T, P>::Cache p1, p2;
    typename nn::Linear<T, P>::Cache f1, f2;
    typename nn::LogSoftmax<T, P>::Cache logp;
    TensorT normed, flat, d_pool;
  };

  explicit FashionClassifier(std::uint64_t seed = 0)
      : conv1(1, 32, 3, {.padding = 1, .seed = seed, .stream = 0}),
        conv2(32, 64, 3, {.padding = 1, .seed = seed, .stream = 1}),
        fc1(64 * 7 * 7, kFeatures, {.seed = seed, .stream = 2}),
        fc2(kFeatures, kClasses, {.seed = seed, .stream = 3}) {}

  /// x [B, 1, 28, 28] in [0, 1] -> log-probabilities [B, 10]; c.f1.y... features() is the 128-wide layer.
  const TensorT& forward(const TensorT& x, Cache& c) {
    GLUEGEN_CHECK_AS(ShapeError, x.rank() == 4 && x.size(1) == 1 && x.size(2) == kSide && x.size(3) == kSide,
                     "FashionClassifier: input has shape {}, expected [B, 1, 28, 28]", x.shape());
    const index_t B = x.size(0);
    nn::reset_if_changed(c.normed, x.shape());
    ops::affine(x, T(1 / kStd), T(-kMean / kStd), c.normed);
    const TensorT& h = pool2.forward(
        relu2.forward(conv2.forward(pool1.forward(relu1.forward(conv1.forward(c.normed, c.c1), c.r1), c.p1), c.c2),
                      c.r2),
        c.p2);
    c.flat = h.reshape({B, 64 * 7 * 7});
    return log_softmax.forward(fc2.forward(relu3.forward(fc1.forward(c.flat, c.f1), c.r3), c.f2), c.logp);
  }

  /// The penultimate (post-ReLU) features of the last forward, [B, 128].
  [[nodiscard]] const TensorT& features(const Cache& c) const { return c.r3.y; }

  void backward(const TensorT& d_logp, Cache& c) {
    const TensorT& d_flat =
        fc1.backward(relu3.backward(fc2.backward(log_softmax.backward(d_logp, c.logp), c.f2), c.r3), c.f1);
    c.d_pool = d_flat.reshape({d_flat.size(0), 64, 7, 7});
    conv1.backward(
        relu1.backward(pool1.backward(conv2.backward(relu2.backward(pool2.backward(c.d_pool, c.p2), c.r2), c.c2), c.p1),
                       c.r1),
        c.c1);
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    conv1.visit_parameters(f, prefix + "conv1.");
    conv2.visit_parameters(f, prefix + "conv2.");
    fc1.visit_parameters(f, prefix + "fc1.");
    fc2.visit_parameters(f, prefix + "fc2.");
  }

  nn::Conv2d<T, P> conv1, conv2;
  nn::Linear<T, P> fc1, fc2;

 private:
  nn::Relu<T, P> relu1, relu2, relu3;
  nn::AvgPool2d<T, P> pool1{2}, pool2{2};
  nn::LogSoftmax<T, P> log_softmax;
};

static_assert(nn::Module<FashionClassifier<float, Cpu>>);

}  // namespace gluegen::default_model
