#pragma once
// What a pipeline needs from an aligner at inference (design.md section 2): source token features and
// their padding mask in, features in the decoder's conditioning space out. A timestep-aware aligner
// (ELLA's connector) also takes the diffusion timestep, so the pipeline calls it at every denoising step.
#include <gluegen/nn/module.hpp>

#include <concepts>
#include <span>

namespace gluegen::aligners {

/// source [B, Ls, Ds], source_mask [B, Ls] (1 real, 0 padding) -> aligned [B, Lt, Dt].
template <typename A>
concept Aligner = requires(A& a, typename A::Cache& c, const Tensor<typename A::value_type, typename A::policy>& t) {
  typename A::Cache;
  { a.align(t, t, c) } -> std::same_as<const Tensor<typename A::value_type, typename A::policy>&>;
};

/// source [B, Ls, Ds], source_mask [B, Ls] at diffusion timesteps t (B values) -> aligned [B, Lt, Dt].
template <typename A>
concept TimestepAligner =
    requires(A& a, typename A::Cache& c, const Tensor<typename A::value_type, typename A::policy>& x,
             std::span<const double> t) {
      typename A::Cache;
      { a.align(x, x, t, c) } -> std::same_as<const Tensor<typename A::value_type, typename A::policy>&>;
    };

}  // namespace gluegen::aligners
