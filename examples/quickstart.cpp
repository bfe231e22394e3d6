// Quickstart: the channel-mixing half of a GlueNet MLP-mixer block (MTN/GlueGen; design.md section 1),
//   Y = X + W2 · GELU(W1 · LN(X))
// run on the tensor ops, its weights saved to and reloaded from a gluegen HDF5 model file, and the
// reloaded block checked to reproduce the output bit for bit.
//
//   gluegen_quickstart [out.h5] [--batch B]
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/tensor.hpp>

#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <string>

namespace {

using namespace gluegen;
using Tf = Tensor<float, Cpu>;

/// The block's parameters, named as the GlueGen reference names them.
struct ChannelMlp {
  Tf ln_weight, ln_bias, fc1_weight, fc1_bias, fc2_weight, fc2_bias;  // fc weights stored [in, out]

  static ChannelMlp random(index_t dim, index_t hidden, std::uint64_t seed) {
    ChannelMlp m{Tf::full({dim}, 1.0f), Tf::zeros({dim}),  Tf({dim, hidden}),
                 Tf::zeros({hidden}),   Tf({hidden, dim}), Tf::zeros({dim})};
    // Xavier-uniform bounds sqrt(6 / (fan_in + fan_out)), as torch.nn.init.xavier_uniform_.
    const float b1 = std::sqrt(6.0f / static_cast<float>(dim + hidden));
    ops::fill_uniform(m.fc1_weight, seed, -b1, b1, /*stream=*/0);
    ops::fill_uniform(m.fc2_weight, seed, -b1, b1, /*stream=*/1);
    return m;
  }

  /// x: [B, L, D] -> [B, L, D]
  [[nodiscard]] Tf forward(const Tf& x) const {
    const Tf h = ops::gelu(ops::add(ops::matmul(ops::layer_norm(x, ln_weight, ln_bias), fc1_weight), fc1_bias));
    return ops::add(x, ops::add(ops::matmul(h, fc2_weight), fc2_bias));
  }

  void save(io::WeightWriter& w, const std::string& prefix) const {
    w.write(prefix + "norm.weight", ln_weight);
    w.write(prefix + "norm.bias", ln_bias);
    w.write(prefix + "fc1.weight", fc1_weight);
    w.write(prefix + "fc1.bias", fc1_bias);
    w.write(prefix + "fc2.weight", fc2_weight);
    w.write(prefix + "fc2.bias", fc2_bias);
  }

  static ChannelMlp load(const io::WeightReader& r, const std::string& prefix, index_t dim, index_t hidden) {
    return {r.read<float>(prefix + "norm.weight", Shape{dim}),        r.read<float>(prefix + "norm.bias", Shape{dim}),
            r.read<float>(prefix + "fc1.weight", Shape{dim, hidden}), r.read<float>(prefix + "fc1.bias", Shape{hidden}),
            r.read<float>(prefix + "fc2.weight", Shape{hidden, dim}), r.read<float>(prefix + "fc2.bias", Shape{dim})};
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) try {
  std::string path = "gluegen_quickstart.h5";
  index_t batch = 16;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      batch = std::stoll(argv[++i]);
    else
      path = argv[i];
  }
  // CLIP ViT-L/14 text space: 77 tokens x 768 channels; the paper's mixer uses a 4x channel MLP.
  constexpr index_t tokens = 77, dim = 768, hidden = 4 * 768;
  const ChannelMlp block = ChannelMlp::random(dim, hidden, 2024);
  const Tf x = ops::randn<float, Cpu>({batch, tokens, dim}, 7);

  auto t0 = std::chrono::steady_clock::now();
  const Tf y = block.forward(x);
  const double forward_s = seconds_since(t0);
  const double flops = 2.0 * 2.0 * static_cast<double>(batch * tokens) * dim * hidden;
  fmt::print("channel-mixing MLP forward  [{} x {} x {}] -> {}   {:.1f} ms, {:.1f} GFLOP/s\n", batch, tokens, dim,
             y.shape(), forward_s * 1e3, flops / forward_s * 1e-9);

  t0 = std::chrono::steady_clock::now();
  {
    io::WeightWriter writer(
        path, {.model_type = "gluenet_channel_mlp", .config = {{"dim", dim}, {"hidden", hidden}, {"tokens", tokens}}});
    block.save(writer, "mixer.blocks.0.channel_mlp.");
    writer.commit();
  }
  const io::WeightReader reader(path);
  const ChannelMlp reloaded = ChannelMlp::load(reader, "mixer.blocks.0.channel_mlp.", reader.meta().config.at("dim"),
                                               reader.meta().config.at("hidden"));
  fmt::print("saved and reloaded {} tensors ({}) in {:.1f} ms\n", reader.names().size(), path, seconds_since(t0) * 1e3);

  const auto a = y.to_vector(), b = reloaded.forward(x).to_vector();
  const bool identical = std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  const auto m = ops::mean_last(ops::mean_last(y.reshape({1, -1})));
  fmt::print("reloaded block reproduces the output bit for bit: {}   (output mean {:.6f})\n", identical ? "yes" : "NO",
             m.to_vector()[0]);
  return identical ? 0 : 1;
} catch (const gluegen::Error& e) {
  fmt::print(stderr, "gluegen_quickstart: {}\n", e.what());
  return 1;
}
