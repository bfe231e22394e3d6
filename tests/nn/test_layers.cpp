// nn/: every layer's backward against central finite differences in double, on small odd shapes
// (batch 1 included), plus composition, naming and bad-input errors.
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/batch_norm.hpp>
#include <gluegen/nn/log_softmax.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/pool.hpp>
#include <gluegen/nn/dropout.hpp>
#include <gluegen/nn/embedding.hpp>
#include <gluegen/nn/geglu.hpp>
#include <gluegen/nn/lora.hpp>
#include <gluegen/nn/mixer.hpp>

#include "support/gradcheck.hpp"
#include "support/reference.hpp"

namespace gluegen::test {
namespace {

using namespace gluegen::nn;
using D = double;

/// Random values for every parameter (norm weights included), so no gradient is trivially zero.
template <typename M>
void randomize(M& m, std::uint64_t seed) {
  std::uint64_t stream = 0;
  m.visit_parameters([&](const std::string&, auto& p) { ops::fill_normal(p.value, seed, D(0), D(0.5), stream++); }, "");
}

TEST(Gradients, Linear) {
  for (const bool bias : {true, false}) {
    Linear<D, Cpu> layer(7, 5, {.bias = bias, .seed = 1});
    expect_layer_gradients(layer, {3, 4, 7}, 10, "Linear");
    expect_layer_gradients(layer, {1, 7}, 11, "Linear batch 1");
  }
}

TEST(Gradients, Norms) {
  LayerNorm<D, Cpu> ln(9);
  randomize(ln, 2);
  expect_layer_gradients(ln, {2, 3, 9}, 20, "LayerNorm");
  expect_layer_gradients(ln, {1, 9}, 21, "LayerNorm batch 1");
  RMSNorm<D, Cpu> rms(9);
  randomize(rms, 3);
  expect_layer_gradients(rms, {2, 3, 9}, 22, "RMSNorm");
}

TEST(Gradients, Activations) {
  Gelu<D, Cpu> gelu;
  GeluTanh<D, Cpu> gelu_tanh;
  Silu<D, Cpu> silu;
  Relu<D, Cpu> relu;
  expect_layer_gradients(gelu, {3, 11}, 30, "GELU");
  expect_layer_gradients(gelu_tanh, {3, 11}, 31, "GELU tanh");
  expect_layer_gradients(silu, {3, 11}, 32, "SiLU");
  expect_layer_gradients(relu, {3, 11}, 33, "ReLU");  // randn values are never within eps of the kink
}

TEST(Gradients, CompositionsAndMixerBlock) {
  FeedForward<D, Cpu> ff(6, 10, 0, 4);
  expect_layer_gradients(ff, {2, 3, 6}, 40, "FeedForward");
  Sequential seq(Linear<D, Cpu>(5, 8, {.seed = 5}), LayerNorm<D, Cpu>(8), Gelu<D, Cpu>{},
                 Linear<D, Cpu>(8, 5, {.seed = 6}));
  randomize(seq, 6);
  expect_layer_gradients(seq, {2, 5}, 41, "Sequential");
  Residual res(Sequential(Linear<D, Cpu>(5, 5, {.seed = 7}), Silu<D, Cpu>{}));
  expect_layer_gradients(res, {3, 5}, 42, "Residual");
  TransposeLast2<D, Cpu> tr;
  expect_layer_gradients(tr, {2, 3, 4}, 43, "TransposeLast2");
  MixerBlock<D, Cpu> mixer({.tokens = 5, .dim = 6, .token_hidden = 7, .channel_hidden = 8}, 8);
  randomize(mixer, 8);
  expect_layer_gradients(mixer, {2, 5, 6}, 44, "MixerBlock");
  expect_layer_gradients(mixer, {1, 5, 6}, 45, "MixerBlock batch 1");
}

TEST(Gradients, GegluAndLora) {
  Geglu<D, Cpu> geglu(6, 4, 9);
  expect_layer_gradients(geglu, {2, 3, 6}, 50, "GEGLU");
  Lora<D, Cpu> lora(Linear<D, Cpu>(7, 5, {.seed = 10}), {.rank = 2, .alpha = 4, .seed = 11});
  randomize(lora, 12);  // B random (it starts at zero), so dL/dA is not trivially zero
  freeze(lora, "base_layer.");
  expect_layer_gradients(lora, {3, 7}, 51, "LoRA");
  // LoRA inside GEGLU's proj (LaVi-Bridge adapts every GEGLU): B's row halves feed h and the gate.
  Geglu<D, Cpu> adapted(6, 4, 13);
  adapted.proj.add_lora({.rank = 3, .alpha = 6, .seed = 14});
  randomize(adapted, 15);
  expect_layer_gradients(adapted, {2, 3, 6}, 52, "GEGLU with LoRA");
}

TEST(Gradients, ConvolutionLora) {
  struct Case {
    index_t kernel, stride, padding;
  };
  for (const Case& k : {Case{3, 1, 1}, Case{3, 2, 1}, Case{1, 1, 0}}) {
    Conv2d<D, Cpu> conv(3, 5, k.kernel, {.stride = k.stride, .padding = k.padding, .seed = 21});
    conv.add_lora({.rank = 2, .alpha = 3, .seed = 22});
    randomize(conv, 23);  // B random (it starts at zero)
    EXPECT_FALSE(conv.weight.trainable);
    expect_layer_gradients(conv, {2, 3, 6, 5}, 76, fmt::format("Conv2d k{} s{} with LoRA", k.kernel, k.stride));
  }
}

/// Attention has extra inputs: check dx, dcontext, dbias and every projection against differences.
TEST(Gradients, MultiHeadAttentionSelfCrossMaskedBiased) {
  for (const bool causal : {false, true}) {
    MultiHeadAttention<D, Cpu> attn({.embed_dim = 6, .num_heads = 2, .causal = causal}, 13);
    expect_layer_gradients(attn, {2, 4, 6}, 60, causal ? "causal self-attention" : "self-attention");
  }
  MultiHeadAttention<D, Cpu> cross({.embed_dim = 6, .num_heads = 2, .context_dim = 4}, 14);
  Td x = ops::randn<D, Cpu>({2, 3, 6}, 61), ctx = ops::randn<D, Cpu>({2, 5, 4}, 62);
  Td mask = Td::from_host({2, 5}, std::vector<D>{1, 1, 1, 0, 0, 1, 1, 1, 1, 1});
  Td bias = ops::randn<D, Cpu>({2, 3, 5}, 63);
  MultiHeadAttention<D, Cpu>::Cache c;
  const Td y = cross.forward(x, ctx, &mask, &bias, c).clone();
  const Td dy = ops::randn<D, Cpu>(y.shape(), 64);
  zero_grad(cross);
  const Td dx = cross.backward(dy, c).clone();
  const Td dctx = c.d_context.clone(), dbias = c.d_bias.clone();
  const auto loss = [&] {
    MultiHeadAttention<D, Cpu>::Cache fresh;
    return dot(cross.forward(x, ctx, &mask, &bias, fresh), dy);
  };
  EXPECT_TRUE(fd_matches(loss, x, dx, "cross-attention dL/dx"));
  EXPECT_TRUE(fd_matches(loss, ctx, dctx, "cross-attention dL/dcontext"));
  EXPECT_TRUE(fd_matches(loss, bias, dbias, "cross-attention dL/dbias"));
  cross.visit_parameters(
      [&](const std::string& name, Param<D, Cpu>& p) {
        EXPECT_TRUE(fd_matches(loss, p.value, p.grad, "cross-attention " + name));
      },
      "");
  // Padded keys get no attention and so no gradient through the context.
  const auto g = dctx.to_vector();
  for (int k = 3; k < 5; ++k)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(g[k * 4 + j], 0.0);
}

TEST(Gradients, ConvolutionsPoolingGroupNorm) {
  struct Case {
    index_t in, out, kernel, stride, padding;
    Shape x;
  };
  for (const Case& k :
       {Case{3, 4, 3, 1, 1, {2, 3, 6, 5}}, Case{3, 4, 3, 2, 1, {1, 3, 7, 6}}, Case{3, 5, 1, 1, 0, {2, 3, 4, 4}},
        Case{2, 3, 4, 2, 0, {1, 2, 9, 8}}, Case{2, 2, 1, 2, 0, {1, 2, 5, 5}}}) {
    Conv2d<D, Cpu> conv(k.in, k.out, k.kernel, {.stride = k.stride, .padding = k.padding, .seed = 20});
    expect_layer_gradients(conv, k.x, 70, fmt::format("Conv2d k{} s{} p{}", k.kernel, k.stride, k.padding));
  }
  UpsampleNearest2d<D, Cpu> up(2);
  expect_layer_gradients(up, {2, 3, 4, 5}, 71, "UpsampleNearest2d");
  AvgPool2d<D, Cpu> pool(2);
  expect_layer_gradients(pool, {2, 3, 4, 6}, 72, "AvgPool2d");
  GroupNorm<D, Cpu> gn(2, 6);
  randomize(gn, 73);
  expect_layer_gradients(gn, {2, 6, 3, 5}, 74, "GroupNorm");
  expect_layer_gradients(gn, {1, 6, 7}, 75, "GroupNorm 1-D");
}

TEST(Gradients, BatchNormLogSoftmaxGradientReversal) {
  BatchNorm1d<D, Cpu> bn(5);
  randomize(bn, 90);
  expect_layer_gradients(bn, {7, 5}, 91, "BatchNorm1d");
  LogSoftmax<D, Cpu> log_softmax;
  expect_layer_gradients(log_softmax, {4, 6}, 92, "LogSoftmax");
  GradientReversal<D, Cpu> reverse(0.1);
  GradientReversal<D, Cpu>::Cache c;
  const Td x = ops::randn<D, Cpu>({3, 4}, 93);
  EXPECT_EQ(reverse.forward(x, c).to_vector(), x.to_vector());
  EXPECT_EQ(reverse.backward(x, c).to_vector(), ops::scale(x, -0.1).to_vector());
  // Evaluation mode normalises with the running statistics: y = (x - mu) / sqrt(var + eps) * w + b.
  bn.training = false;
  bn.running_mean.value = ops::randn<D, Cpu>({5}, 94);
  bn.running_var.value = ops::affine(ops::rand<D, Cpu>({5}, 95), 2.0, 0.5);
  const Td xe = ops::randn<D, Cpu>({3, 5}, 96);
  BatchNorm1d<D, Cpu>::Cache ec;
  const auto y = bn.forward(xe, ec).to_vector();
  const auto xv = xe.to_vector(), mu = bn.running_mean.value.to_vector(), var = bn.running_var.value.to_vector();
  const auto w = bn.weight.value.to_vector(), b = bn.bias.value.to_vector();
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 5; ++k)
      EXPECT_NEAR(y[i * 5 + k], (xv[i * 5 + k] - mu[k]) / std::sqrt(var[k] + 1e-5) * w[k] + b[k], 1e-12);
  EXPECT_THROW((void)bn.backward(xe, ec), Error);  // no backward through evaluation mode
}

TEST(Gradients, EmbeddingAccumulatesRepeatedIds) {
  Embedding<D, Cpu> emb(10, 4, 3);
  const auto ids = Tensor<std::int32_t, Cpu>::from_host({2, 3}, std::vector<std::int32_t>{1, 7, 3, 3, 0, 9});
  Embedding<D, Cpu>::Cache c;
  const Td y = emb.forward(ids, c).clone();
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4}));
  const Td dy = ops::randn<D, Cpu>(y.shape(), 76);
  emb.backward(dy, c);
  const auto loss = [&] {
    Embedding<D, Cpu>::Cache fresh;
    return dot(emb.forward(ids, fresh), dy);
  };
  EXPECT_TRUE(fd_matches(loss, emb.weight.value, emb.weight.grad, "Embedding weight"));
  const auto bad = Tensor<std::int32_t, Cpu>::from_host({2}, std::vector<std::int32_t>{4, 10});
  try {
    (void)emb.forward(bad, c);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(e.message().find("id 10 at position 1 is outside the vocabulary [0, 10)"), std::string::npos)
        << e.message();
  }
}

TEST(Dropout, InvertedScalingReproducibleMasksAndEval) {
  Dropout<D, Cpu> drop(0.25, 99);
  Dropout<D, Cpu>::Cache c;
  const Td x = Td::full({100000}, 1.0);
  const auto y = drop.forward(x, c).to_vector();
  std::size_t zeros = 0;
  for (double v : y) {
    ASSERT_TRUE(v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-12);
    zeros += v == 0.0;
  }
  EXPECT_NEAR(static_cast<double>(zeros) / y.size(), 0.25, 0.01);
  EXPECT_EQ(drop.backward(Td::full({100000}, 2.0), c).to_vector()[0], y[0] * 2.0);  // same mask
  const auto second = drop.forward(x, c).to_vector();
  EXPECT_NE(second, y);  // a new mask per call
  drop.calls = 0;
  EXPECT_EQ(drop.forward(x, c).to_vector(), y);  // resumable: call k always draws mask k
  drop.training = false;
  EXPECT_EQ(drop.forward(x, c).to_vector(), x.to_vector());
  EXPECT_THROW(Dropout<D>(1.0), ValueError);
}

TEST(Naming, HuggingFaceAndTorchSequentialNames) {
  MultiHeadAttention<float, Cpu> attn({.embed_dim = 8, .num_heads = 2});
  EXPECT_EQ(parameter_names(attn),
            (std::vector<std::string>{"q_proj.weight", "q_proj.bias", "k_proj.weight", "k_proj.bias", "v_proj.weight",
                                      "v_proj.bias", "out_proj.weight", "out_proj.bias"}));
  Sequential seq(Linear<float, Cpu>(4, 4), LayerNorm<float, Cpu>(4), Gelu<float, Cpu>{},
                 Linear<float, Cpu>(4, 2, {.bias = false}));
  EXPECT_EQ(parameter_names(seq), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight"}));
  Lora<float, Cpu> lora(Linear<float, Cpu>(8, 8), {.rank = 4});
  EXPECT_EQ(count_parameters(lora).total, 8 * 8 + 8 + 2 * 4 * 8);
  EXPECT_EQ(count_parameters(lora).trainable, 2 * 4 * 8);
  MixerBlock<float, Cpu> mixer({.tokens = 77, .dim = 768, .token_hidden = 308, .channel_hidden = 3072});
  EXPECT_EQ(parameter_names(mixer).front(), "token_norm.weight");
  EXPECT_EQ(count_parameters(mixer).total,
            2 * 768 + (77 * 308 + 308 + 308 * 77 + 77) + 2 * 768 + (768 * 3072 + 3072 + 3072 * 768 + 768));
}

TEST(Lora, StartsAsTheBaseLayerAndMergesExactly) {
  Linear<float, Cpu> base(16, 12, {.seed = 1});
  const auto w0 = base.weight.value.to_vector();
  Lora<float, Cpu> lora(base, {.rank = 4, .alpha = 8, .seed = 2});
  const auto x = ops::randn<float, Cpu>({5, 16}, 3);
  Lora<float, Cpu>::Cache c;
  Linear<float, Cpu>::Cache bc;
  EXPECT_EQ(lora.forward(x, c).to_vector(), base.forward(x, bc).to_vector());  // B = 0 at start
  ops::fill_normal(lora.lora_B().value, 4);
  const auto adapted = lora.forward(x, c).clone();
  lora.merge();
  EXPECT_TRUE(all_close(lora.forward(x, c).to_vector(), adapted.to_vector(), 1e-5));
  EXPECT_THROW(lora.backward(adapted, c), Error);
  lora.unmerge();
  EXPECT_TRUE(all_close(lora.base_layer.weight.value.to_vector(), w0, 1e-6));
  EXPECT_THROW((Lora<float, Cpu>(Linear<float, Cpu>(4, 3), {.rank = 4})), ShapeError);
}

TEST(Lora, ConvolutionAndGegluAdaptersStartAtZeroAndMergeExactly) {
  Conv2d<float, Cpu> conv(4, 6, 3, {.stride = 2, .padding = 1, .seed = 5});
  const auto x = ops::randn<float, Cpu>({2, 4, 7, 6}, 7);
  Conv2d<float, Cpu>::Cache c;
  const auto w0 = conv.weight.value.to_vector(), y0 = conv.forward(x, c).to_vector();  // values, not views
  conv.add_lora({.rank = 2, .alpha = 2, .seed = 6});
  EXPECT_EQ(conv.forward(x, c).to_vector(), y0);  // B = 0 at start
  EXPECT_EQ(conv.adapter->A.value.shape(), (Shape{2, 4, 3, 3}));
  EXPECT_EQ(conv.adapter->B.value.shape(), (Shape{6, 2, 1, 1}));
  ops::fill_normal(conv.adapter->B.value, 8);
  const auto adapted = conv.forward(x, c).clone();
  EXPECT_FALSE(all_close(adapted.to_vector(), y0, 1e-3));
  conv.merge_lora();
  EXPECT_TRUE(all_close(conv.forward(x, c).to_vector(), adapted.to_vector(), 1e-5));
  EXPECT_THROW(conv.backward(adapted, c), Error);
  conv.unmerge_lora();
  EXPECT_TRUE(all_close(conv.weight.value.to_vector(), w0, 1e-6));
  EXPECT_THROW(conv.add_lora({.rank = 2}), ValueError);
  EXPECT_THROW((Conv2d<float, Cpu>(3, 8, 3).add_lora({.rank = 4})), ShapeError);

  Geglu<float, Cpu> geglu(6, 5, 9);
  geglu.proj.add_lora({.rank = 2, .alpha = 4, .seed = 10});
  ops::fill_normal(geglu.proj.adapter->B.value, 11);
  const auto h = ops::randn<float, Cpu>({3, 6}, 12);
  Geglu<float, Cpu>::Cache gc;
  const auto g_adapted = geglu.forward(h, gc).clone();
  geglu.proj.merge_lora();
  EXPECT_TRUE(all_close(geglu.forward(h, gc).to_vector(), g_adapted.to_vector(), 1e-5));
  EXPECT_THROW(geglu.backward(g_adapted, gc), Error);
}

TEST(Errors, BadInputsNameTheModuleAndShapes) {
  Linear<float, Cpu> linear(7, 5);
  Linear<float, Cpu>::Cache lc;
  try {
    (void)linear.forward(Tensor<float, Cpu>::zeros({3, 6}), lc);
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(e.message().find("Linear(7 -> 5): input has shape [3, 6], expected [..., 7]"), std::string::npos)
        << e.message();
  }
  MultiHeadAttention<float, Cpu> attn({.embed_dim = 6, .num_heads = 2});
  MultiHeadAttention<float, Cpu>::Cache ac;
  const auto x = Tensor<float, Cpu>::zeros({2, 4, 6});
  const auto bad_mask = Tensor<float, Cpu>::zeros({2, 3});
  EXPECT_THROW((void)attn.forward(x, x, &bad_mask, nullptr, ac), ShapeError);
  EXPECT_THROW((void)attn.forward(Tensor<float, Cpu>::zeros({2, 4}), ac), ShapeError);
  EXPECT_THROW((MultiHeadAttention<float, Cpu>({.embed_dim = 6, .num_heads = 4})), ShapeError);
  MixerBlock<float, Cpu> mixer({.tokens = 5, .dim = 6, .token_hidden = 7, .channel_hidden = 8});
  MixerBlock<float, Cpu>::Cache mc;
  EXPECT_THROW((void)mixer.forward(Tensor<float, Cpu>::zeros({2, 4, 6}), mc), ShapeError);
  Conv2d<float, Cpu> conv(3, 4, 3);
  Conv2d<float, Cpu>::Cache cc;
  EXPECT_THROW((void)conv.forward(Tensor<float, Cpu>::zeros({1, 2, 8, 8}), cc), ShapeError);  // wrong channels
  EXPECT_THROW((void)conv.forward(Tensor<float, Cpu>::zeros({1, 3, 2, 2}), cc), ShapeError);  // smaller than the kernel
  EXPECT_THROW((GroupNorm<float, Cpu>(4, 6)), ShapeError);
  AvgPool2d<float, Cpu> pool(2);
  AvgPool2d<float, Cpu>::Cache pc;
  EXPECT_THROW((void)pool.forward(Tensor<float, Cpu>::zeros({1, 1, 5, 4}), pc), ShapeError);
}

TEST(SteadyState, CachesAreReusedAcrossSteps) {
  MixerBlock<float, Cpu> mixer({.tokens = 5, .dim = 6, .token_hidden = 7, .channel_hidden = 8});
  MixerBlock<float, Cpu>::Cache c;
  const auto x = ops::randn<float, Cpu>({2, 5, 6}, 1);
  const float* y_first = mixer.forward(x, c).data();
  const float* dx_first = mixer.backward(x, c).data();
  EXPECT_EQ(mixer.forward(x, c).data(), y_first);
  EXPECT_EQ(mixer.backward(x, c).data(), dx_first);
}

// Backward buffers are transient: Sequential drops each layer's gradient once the layer below has
// consumed it, keeps only the one it returns until its own consumer releases it, and a step with the
// buffers released and reallocated gives bit-identical gradients.
TEST(SteadyState, BackwardBuffersAreReleasedOnceConsumed) {
  using Mlp = Sequential<Linear<float, Cpu>, Gelu<float, Cpu>, Linear<float, Cpu>, LayerNorm<float, Cpu>>;
  Mlp mlp(Linear<float, Cpu>(6, 9, {.seed = 1}), Gelu<float, Cpu>{}, Linear<float, Cpu>(9, 6, {.seed = 2}),
          LayerNorm<float, Cpu>(6));
  Mlp::Cache c;
  const auto x = ops::randn<float, Cpu>({2, 5, 6}, 1), dy = ops::randn<float, Cpu>({2, 5, 6}, 2);
  const auto step = [&] {
    nn::zero_grad(mlp);
    (void)mlp.forward(x, c);
    std::vector<float> out = mlp.backward(dy, c).to_vector();
    mlp.visit_parameters(
        [&](const std::string&, Param<float, Cpu>& p) {
          const auto g = p.grad.to_vector();
          out.insert(out.end(), g.begin(), g.end());
        },
        "");
    return out;
  };
  const auto first = step();
  EXPECT_TRUE(std::get<0>(c.layers).dx.defined());  // the returned gradient
  EXPECT_FALSE(std::get<1>(c.layers).dx.defined());
  EXPECT_FALSE(std::get<2>(c.layers).dx.defined());
  EXPECT_FALSE(std::get<3>(c.layers).dx.defined());
  EXPECT_TRUE(std::get<1>(c.layers).x.defined());  // activations stay
  nn::release_backward(mlp, c);
  EXPECT_FALSE(std::get<0>(c.layers).dx.defined());
  EXPECT_EQ(step(), first);
  MixerBlock<float, Cpu> mixer({.tokens = 5, .dim = 6, .token_hidden = 7, .channel_hidden = 8});
  MixerBlock<float, Cpu>::Cache mc;
  (void)mixer.forward(x, mc);
  (void)mixer.backward(dy, mc);
  EXPECT_TRUE(mc.dx.defined());
  EXPECT_FALSE(mc.du.defined());
  EXPECT_FALSE(mc.channel_mlp.fc1.dx.defined());
  EXPECT_FALSE(mc.token_mlp.fc2.dx.defined());
  EXPECT_FALSE(mc.token_norm.dx.defined());
}

// A cache sized by one batch serves a smaller one (an evaluation's last, partial batch) and gives what
// a fresh cache gives.
TEST(SteadyState, CachesFollowAChangingBatchSize) {
  MixerBlock<float, Cpu> mixer({.tokens = 5, .dim = 6, .token_hidden = 7, .channel_hidden = 8});
  Residual res(Sequential(Linear<float, Cpu>(6, 6, {.seed = 3}), Silu<float, Cpu>{}));
  MixerBlock<float, Cpu>::Cache mc;
  decltype(res)::Cache rc;
  (void)mixer.forward(ops::randn<float, Cpu>({4, 5, 6}, 1), mc);
  (void)mixer.backward(ops::randn<float, Cpu>({4, 5, 6}, 2), mc);
  (void)res.forward(ops::randn<float, Cpu>({4, 5, 6}, 3), rc);
  (void)res.backward(ops::randn<float, Cpu>({4, 5, 6}, 4), rc);
  const auto x = ops::randn<float, Cpu>({3, 5, 6}, 5);
  MixerBlock<float, Cpu>::Cache fresh_m;
  decltype(res)::Cache fresh_r;
  EXPECT_EQ(mixer.forward(x, mc).to_vector(), mixer.forward(x, fresh_m).to_vector());
  EXPECT_EQ(mixer.backward(x, mc).to_vector(), mixer.backward(x, fresh_m).to_vector());
  EXPECT_EQ(res.forward(x, rc).to_vector(), res.forward(x, fresh_r).to_vector());
  EXPECT_EQ(res.backward(x, rc).to_vector(), res.backward(x, fresh_r).to_vector());
}

}  // namespace
}  // namespace gluegen::test
