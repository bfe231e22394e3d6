#pragma once
// What a sampler needs from a diffusion model, whatever its architecture (the UNet here, a
// transformer denoiser later): the prediction for noisy samples at timesteps under a conditioning,
// and the shape of the samples it denoises and of the conditioning it attends to. Training adds a
// backward (train::TrainableDenoiser); sampling needs only this.
#include <gluegen/nn/module.hpp>

#include <concepts>
#include <span>

namespace gluegen::diffusion {

/// x [B, C, H, W] at timesteps t (B values, or one for all) under context [B, L, D] -> the model's
/// prediction [B, C, H, W] (epsilon, v or x0, as the decoder file's scheduler record says).
template <typename M>
concept Denoiser =
    nn::Module<M> && requires(M& m, const M& cm, const Tensor<typename M::value_type, typename M::policy>& x,
                              std::span<const double> t, typename M::Cache& c) {
      typename M::Cache;
      { m.forward(x, t, x, c) } -> std::same_as<const Tensor<typename M::value_type, typename M::policy>&>;
      { cm.sample_channels() } -> std::convertible_to<index_t>;  ///< C
      { cm.sample_size() } -> std::convertible_to<index_t>;      ///< H = W the model was trained at
      { cm.context_dim() } -> std::convertible_to<index_t>;      ///< D
    };

}  // namespace gluegen::diffusion
