#pragma once
// Embedding: a learned table [V, D] looked up by int32 ids (torch.nn.Embedding; also learned
// position embeddings, looked up by 0..L-1). Its input is ids, not a tensor of values, so it is a
// Module but not a Layer: backward adds into the table's gradient and returns nothing.
//
// Sinusoidal timestep embedding (Vaswani et al. 2017, sec. 3.5; as diffusers' get_timestep_embedding,
// which SD's UNet uses with flip_sin_to_cos = true and downscale_freq_shift = 0):
//   freq_j = exp(-ln(max_period) * j / (half - shift)),  j = 0..half-1
//   emb(t) = [sin(t freq), cos(t freq)]   (or [cos, sin] when flipped), zero-padded to an odd dim.
// Timesteps are not differentiated, so this is a function, not a layer.
#include <gluegen/nn/module.hpp>

#include <cmath>
#include <span>
#include <vector>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Embedding {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  using Ids = Tensor<std::int32_t, P>;
  struct Cache {
    Ids ids;
    TensorT y;
  };

  /// Initialised as torch.nn.Embedding: N(0, 1).
  Embedding(index_t num_embeddings, index_t dim, std::uint64_t seed = 0) : weight(Shape{num_embeddings, dim}) {
    ops::fill_normal(weight.value, seed);
  }

  /// ids [...] -> [..., D]; an id outside [0, V) is a ValueError naming it.
  const TensorT& forward(const Ids& ids, Cache& c) {
    c.ids = ids;
    reset_if_changed(c.y, ids.shape().appended(weight.value.size(1)));
    ops::gather_rows(weight.value, ids, c.y);
    return c.y;
  }
  void backward(const TensorT& dy, Cache& c) {
    if (weight.trainable) ops::scatter_add_rows(dy, c.ids, weight.grad_buffer());
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    f(prefix + "weight", weight);
  }

  Param<T, P> weight;
};

static_assert(Module<Embedding<float, Cpu>>);

struct TimestepEmbeddingOptions {
  bool flip_sin_to_cos = true;
  double downscale_freq_shift = 0.0;
  double scale = 1.0;
  double max_period = 10000.0;
};

/// timesteps [N] (host values) -> [N, dim] on policy P.
template <ComputeElement T = float, TensorPolicy P = Cpu>
Tensor<T, P> timestep_embedding(std::span<const double> timesteps, index_t dim, TimestepEmbeddingOptions opt = {}) {
  GLUEGEN_CHECK_AS(ValueError, dim >= 2, "timestep_embedding: dim must be >= 2, got {}", dim);
  const index_t half = dim / 2, n = static_cast<index_t>(timesteps.size());
  GLUEGEN_CHECK_AS(ValueError, static_cast<double>(half) - opt.downscale_freq_shift != 0.0,
                   "timestep_embedding: half dim equals the shift");
  std::vector<T> out(static_cast<std::size_t>(n * dim), T(0));
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < half; ++j) {
      // diffusers computes the frequency in f32: exp(-log(max_period) * j / (half - shift))
      const float exponent = -std::log(static_cast<float>(opt.max_period)) * static_cast<float>(j) /
                             static_cast<float>(half - opt.downscale_freq_shift);
      const float angle = static_cast<float>(timesteps[static_cast<std::size_t>(i)]) * std::exp(exponent) *
                          static_cast<float>(opt.scale);
      const T s = T(std::sin(angle)), c = T(std::cos(angle));
      out[static_cast<std::size_t>(i * dim + j)] = opt.flip_sin_to_cos ? c : s;
      out[static_cast<std::size_t>(i * dim + half + j)] = opt.flip_sin_to_cos ? s : c;
    }
  }
  return Tensor<T, P>::from_host({n, dim}, out);
}

}  // namespace gluegen::nn
