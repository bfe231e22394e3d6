#pragma once
// PyTorch parity (tests/data/nn_goldens.h5, written by tools/make_nn_goldens.py from randomly
// initialised torch modules): forward outputs, input gradients and parameter gradients in f32,
// max error 1e-5 relative to scale (support/reference.hpp all_close). Typed over the policy: the
// Cpu instantiation runs everywhere, the Cuda one where a GPU is visible.
#include <gluegen/io/parameters.hpp>
#include <gluegen/losses/adversarial.hpp>
#include <gluegen/losses/contrastive.hpp>
#include <gluegen/nn/attention.hpp>
#include <gluegen/nn/batch_norm.hpp>
#include <gluegen/nn/log_softmax.hpp>
#include <gluegen/nn/conv.hpp>
#include <gluegen/nn/pool.hpp>
#include <gluegen/nn/embedding.hpp>
#include <gluegen/nn/geglu.hpp>
#include <gluegen/nn/lora.hpp>
#include <gluegen/nn/mixer.hpp>

#include "support/goldens.hpp"
#include "support/policy.hpp"
#include "support/reference.hpp"

namespace gluegen::test {

template <TensorPolicy P>
class NnGoldens : public ::testing::Test {
 protected:
  using Tf = Tensor<float, P>;
  void SetUp() override {
    if (!policy_available<P>()) GTEST_SKIP() << "skipped: no CUDA device";
  }
  static Tf get(const std::string& name) { return nn_goldens().read<float, P>(name); }
  static ::testing::AssertionResult close(const Tf& actual, const std::string& expected, double tol = 1e-5) {
    const auto ref = nn_goldens().read<float>(expected);
    if (actual.shape() != ref.shape())
      return ::testing::AssertionFailure()
             << expected << ": shape " << fmt::format("{} vs {}", actual.shape(), ref.shape());
    return all_close(actual.to_vector(), ref.to_vector(), tol) << " (" << expected << ")";
  }

  /// Loads a case's parameters into `layer`, runs forward and backward, and compares y, dx and the
  /// gradient of every trainable parameter with torch's.
  template <typename L>
  void check_layer(L& layer, const std::string& name, double tol = 1e-5) {
    io::load_parameters(layer, nn_goldens(), name + ".params.", false);  // buffers start as torch's
    typename L::Cache cache;
    EXPECT_TRUE(close(layer.forward(get(name + ".x"), cache), name + ".y", tol));
    nn::zero_grad(layer);
    EXPECT_TRUE(close(layer.backward(get(name + ".dy"), cache), name + ".dx", tol));
    layer.visit_parameters(
        [&](const std::string& param, nn::Param<float, P>& p) {
          if (p.trainable) {
            EXPECT_TRUE(close(p.grad, name + ".grads." + param, tol)) << param;
          }
        },
        "");
  }
};

TYPED_TEST_SUITE_P(NnGoldens);

TYPED_TEST_P(NnGoldens, LinearAndNorms) {
  using P = TypeParam;
  nn::Linear<float, P> linear(7, 5);
  this->check_layer(linear, "linear");
  nn::Linear<float, P> nobias(7, 5, {.bias = false});
  this->check_layer(nobias, "linear_nobias");
  nn::LayerNorm<float, P> ln(9);
  this->check_layer(ln, "layer_norm");
  nn::RMSNorm<float, P> rms(9, 1e-6f);
  this->check_layer(rms, "rms_norm");
}

TYPED_TEST_P(NnGoldens, Activations) {
  using P = TypeParam;
  nn::Gelu<float, P> gelu;
  this->check_layer(gelu, "gelu_erf");
  nn::GeluTanh<float, P> gelu_tanh;
  this->check_layer(gelu_tanh, "gelu_tanh");
  nn::Silu<float, P> silu;
  this->check_layer(silu, "silu");
}

TYPED_TEST_P(NnGoldens, FeedForwardGegluMixerLora) {
  using P = TypeParam;
  nn::FeedForward<float, P> ff(6, 10);
  this->check_layer(ff, "feed_forward");
  nn::Geglu<float, P> geglu(6, 8);
  this->check_layer(geglu, "geglu");
  nn::MixerBlock<float, P> mixer({.tokens = 5, .dim = 6, .token_hidden = 7, .channel_hidden = 8});
  this->check_layer(mixer, "mixer_block");
  nn::Lora<float, P> lora(nn::Linear<float, P>(7, 5), {.rank = 2, .alpha = 4});
  this->check_layer(lora, "lora");
}

/// GlueGen's own block (salesforce/GlueGen translator_base) as a composition: its checkpoint keys
/// (net_sen.0.weight, net_sen.1.weight, ...) are Sequential's names, so it loads unchanged.
TYPED_TEST_P(NnGoldens, GlueGenTranslatorBlockIsAComposition) {
  using P = TypeParam;
  const auto mlp = [](index_t d, index_t h, index_t out) {
    return nn::Sequential(nn::Linear<float, P>(d, h), nn::LayerNorm<float, P>(h), nn::Gelu<float, P>{},
                          nn::Linear<float, P>(h, h), nn::LayerNorm<float, P>(h), nn::Gelu<float, P>{},
                          nn::Linear<float, P>(h, out), nn::LayerNorm<float, P>(out));
  };
  // forward: x = net_sen(x) + x; x = x^T; x = net_tok(x) + x; x = x^T
  nn::Sequential block(nn::Residual(mlp(6, 12, 6)), nn::TransposeLast2<float, P>{}, nn::Residual(mlp(5, 10, 5)),
                       nn::TransposeLast2<float, P>{});
  // Its names are "0.*" and "2.*"; the reference's are net_sen.* and net_tok.*: load by mapping.
  const std::string name = "gluegen_translator_base";
  block.template get<0>().inner.visit_parameters(
      [&](const std::string& n, auto& p) { nn_goldens().read_into(name + ".params.net_sen." + n, p.value); }, "");
  block.template get<2>().inner.visit_parameters(
      [&](const std::string& n, auto& p) { nn_goldens().read_into(name + ".params.net_tok." + n, p.value); }, "");
  typename decltype(block)::Cache cache;
  EXPECT_TRUE(this->close(block.forward(this->get(name + ".x"), cache), name + ".y"));
  EXPECT_TRUE(this->close(block.backward(this->get(name + ".dy"), cache), name + ".dx"));
  block.template get<0>().inner.visit_parameters(
      [&](const std::string& n, auto& p) { EXPECT_TRUE(this->close(p.grad, name + ".grads.net_sen." + n)); }, "");
  block.template get<2>().inner.visit_parameters(
      [&](const std::string& n, auto& p) { EXPECT_TRUE(this->close(p.grad, name + ".grads.net_tok." + n)); }, "");
}

TYPED_TEST_P(NnGoldens, AttentionSelfCausalCrossBias) {
  using P = TypeParam;
  using Tf = Tensor<float, P>;
  for (const std::string name : {"mha_self", "mha_self_causal_masked", "mha_cross", "mha_bias"}) {
    const bool cross = name == "mha_cross", masked = name != "mha_self" && name != "mha_bias",
               biased = name == "mha_bias";
    nn::MultiHeadAttention<float, P> attn(
        {.embed_dim = 6, .num_heads = 2, .context_dim = cross ? 4 : 0, .causal = name == "mha_self_causal_masked"});
    io::load_parameters(attn, nn_goldens(), name + ".params.");
    const Tf x = this->get(name + ".x");
    const Tf context = cross ? this->get(name + ".context") : x;
    const Tf mask = masked ? this->get(name + ".mask") : Tf{};
    const Tf bias = biased ? this->get(name + ".bias") : Tf{};
    typename nn::MultiHeadAttention<float, P>::Cache cache;
    EXPECT_TRUE(
        this->close(attn.forward(x, context, masked ? &mask : nullptr, biased ? &bias : nullptr, cache), name + ".y"))
        << name;
    EXPECT_TRUE(this->close(attn.backward(this->get(name + ".dy"), cache), name + ".dx")) << name;
    if (cross) {
      EXPECT_TRUE(this->close(cache.d_context, name + ".dcontext"));
    }
    if (biased) {
      EXPECT_TRUE(this->close(cache.d_bias, name + ".dbias"));
    }
    attn.visit_parameters(
        [&](const std::string& param, nn::Param<float, P>& p) {
          EXPECT_TRUE(this->close(p.grad, name + ".grads." + param)) << name;
        },
        "");
  }
}

TYPED_TEST_P(NnGoldens, TimestepEmbedding) {
  using P = TypeParam;
  for (const std::string name : {"timestep_embedding", "timestep_embedding_shift1"}) {
    const auto t = nn_goldens().read<double>(name + ".x").to_vector();
    const bool shift1 = name.ends_with("shift1");
    const auto y = nn::timestep_embedding<float, P>(
        t, 8, {.flip_sin_to_cos = !shift1, .downscale_freq_shift = shift1 ? 1.0 : 0.0});
    EXPECT_TRUE(this->close(y, name + ".y", 1e-6)) << name;
  }
}

TYPED_TEST_P(NnGoldens, Losses) {
  using P = TypeParam;
  using Tf = Tensor<float, P>;
  auto loss_close = [](float value, const std::string& name) {
    return all_close(std::vector<float>{value}, nn_goldens().read<float>(name).to_vector(), 1e-5);
  };
  Tf d, d2;
  EXPECT_TRUE(loss_close(losses::mse(this->get("mse_mean.pred"), this->get("mse_mean.target"), d), "mse_mean.loss"));
  EXPECT_TRUE(this->close(d, "mse_mean.dpred"));
  EXPECT_TRUE(loss_close(losses::mse(this->get("mse_sum.pred"), this->get("mse_sum.target"), d, losses::Reduction::sum),
                         "mse_sum.loss"));
  EXPECT_TRUE(this->close(d, "mse_sum.dpred"));
  EXPECT_TRUE(loss_close(losses::weighted_mse(this->get("mse_masked.pred"), this->get("mse_masked.target"),
                                              this->get("mse_masked.mask"), d),
                         "mse_masked.loss"));
  EXPECT_TRUE(this->close(d, "mse_masked.dpred"));
  EXPECT_TRUE(loss_close(losses::l1(this->get("l1.pred"), this->get("l1.target"), d), "l1.loss"));
  EXPECT_TRUE(this->close(d, "l1.dpred"));
  std::vector<int> labels;
  for (double v : nn_goldens().read<double>("cosine_embedding.y").to_vector()) labels.push_back(static_cast<int>(v));
  EXPECT_TRUE(loss_close(
      losses::cosine_embedding(this->get("cosine_embedding.x1"), this->get("cosine_embedding.x2"), labels, 0.1f, d, d2),
      "cosine_embedding.loss"));
  EXPECT_TRUE(this->close(d, "cosine_embedding.dx1"));
  EXPECT_TRUE(this->close(d2, "cosine_embedding.dx2"));
  EXPECT_TRUE(
      loss_close(losses::info_nce(this->get("info_nce.a"), this->get("info_nce.b"), 0.07f, d, d2), "info_nce.loss"));
  EXPECT_TRUE(this->close(d, "info_nce.da"));
  EXPECT_TRUE(this->close(d2, "info_nce.db"));
  EXPECT_TRUE(
      loss_close(losses::bce_with_logits(this->get("bce_with_logits.logits"), this->get("bce_with_logits.targets"), d),
                 "bce_with_logits.loss"));
  EXPECT_TRUE(this->close(d, "bce_with_logits.dlogits"));
  EXPECT_TRUE(loss_close(losses::hinge_discriminator(this->get("hinge_d.d_real"), this->get("hinge_d.d_fake"), d, d2),
                         "hinge_d.loss"));
  EXPECT_TRUE(this->close(d, "hinge_d.dd_real"));
  EXPECT_TRUE(this->close(d2, "hinge_d.dd_fake"));
  std::vector<int> classes;
  for (double v : nn_goldens().read<double>("nll_loss.target").to_vector()) classes.push_back(static_cast<int>(v));
  EXPECT_TRUE(loss_close(losses::nll(this->get("nll_loss.logp"), classes, d), "nll_loss.loss"));
  EXPECT_TRUE(this->close(d, "nll_loss.dlogp"));
  EXPECT_TRUE(loss_close(losses::hinge_generator(this->get("hinge_g.d_fake"), d), "hinge_g.loss"));
  EXPECT_TRUE(this->close(d, "hinge_g.dd_fake"));
}

TYPED_TEST_P(NnGoldens, ConvolutionsPoolingGroupNormEmbedding) {
  using P = TypeParam;
  struct Case {
    const char* name;
    index_t in, out, kernel, stride, padding;
  };
  for (const Case& k : {Case{"conv2d_3x3", 3, 4, 3, 1, 1}, Case{"conv2d_3x3_s2", 3, 4, 3, 2, 1},
                        Case{"conv2d_1x1", 3, 5, 1, 1, 0}, Case{"conv2d_4x4_s2_p0", 2, 3, 4, 2, 0}}) {
    nn::Conv2d<float, P> conv(k.in, k.out, k.kernel, {.stride = k.stride, .padding = k.padding});
    this->check_layer(conv, k.name);
  }
  nn::UpsampleNearest2d<float, P> up(2);
  this->check_layer(up, "upsample_nearest");
  nn::AvgPool2d<float, P> pool(2);
  this->check_layer(pool, "avg_pool");
  nn::GroupNorm<float, P> gn(2, 6);
  this->check_layer(gn, "group_norm");
  nn::BatchNorm1d<float, P> bn(6);  // training mode: batch statistics, running statistics updated
  this->check_layer(bn, "batch_norm_1d");
  EXPECT_TRUE(this->close(bn.running_mean.value, "batch_norm_1d.running_mean", 1e-6));
  EXPECT_TRUE(this->close(bn.running_var.value, "batch_norm_1d.running_var", 1e-6));
  nn::LogSoftmax<float, P> log_softmax;
  this->check_layer(log_softmax, "log_softmax");

  nn::Embedding<float, P> emb(10, 4);
  io::load_parameters(emb, nn_goldens(), "embedding.params.");
  const auto ids = nn_goldens().read<std::int32_t, P>("embedding.ids");
  typename nn::Embedding<float, P>::Cache cache;
  EXPECT_TRUE(this->close(emb.forward(ids, cache), "embedding.y"));
  emb.backward(this->get("embedding.dy"), cache);
  EXPECT_TRUE(this->close(emb.weight.grad, "embedding.grads.weight"));
}

REGISTER_TYPED_TEST_SUITE_P(NnGoldens, ConvolutionsPoolingGroupNormEmbedding, LinearAndNorms, Activations,
                            FeedForwardGegluMixerLora, GlueGenTranslatorBlockIsAComposition,
                            AttentionSelfCausalCrossBias, TimestepEmbedding, Losses);

}  // namespace gluegen::test
