#pragma once
// What the trainer needs from an aligner (design.md section 2): one training step's forward and
// backward on a batch of source and target features with their padding masks, returning its loss
// terms by name, and inference. GlueNet implements it with its three losses; Supervised<A, Loss> gives any
// plain aligner (attention, translator) a regression objective over real target tokens, by type
// (losses/token_losses.hpp: TokenMse, GlueGen's L_mse, by default), so a loss ablation is one alias.
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/losses/token_losses.hpp>
#include <gluegen/nn/module.hpp>

#include <string>
#include <utility>
#include <vector>

namespace gluegen::aligners {

/// Named loss terms of one step, each already weighted; total() is what was differentiated.
struct LossTerms {
  std::vector<std::pair<std::string, double>> terms;
  [[nodiscard]] double total() const {
    double t = 0;
    for (const auto& [name, v] : terms) t += v;
    return t;
  }
};

/// source [B, Ls, Ds], source_mask [B, Ls], target [B, Lt, Dt], target_mask [B, Lt] (masks 0/1).
template <typename A>
concept TrainableAligner =
    nn::Module<A> && Aligner<A> &&
    requires(A& a, typename A::Cache& c, const Tensor<typename A::value_type, typename A::policy>& t, bool flag) {
      { a.train_step(t, t, t, t, c) } -> std::same_as<LossTerms>;
      a.set_training(flag);
    };

/// An aligner trained by regression alone: L = Loss(f(S), T) over real target tokens (TokenMse:
/// mean (f(S) - T)^2).
template <typename A, typename Loss = losses::TokenMse>
  requires Aligner<A> && nn::Layer<A> && losses::TokenLoss<Loss, typename A::value_type, typename A::policy>
class Supervised {
 public:
  using value_type = typename A::value_type;
  using policy = typename A::policy;
  using TensorT = Tensor<value_type, policy>;
  struct Cache {
    typename A::Cache aligner;
    TensorT d_aligned;
  };

  explicit Supervised(A aligner_) : aligner(std::move(aligner_)) {}

  const TensorT& align(const TensorT& source, const TensorT& source_mask, Cache& c) {
    return aligner.align(source, source_mask, c.aligner);
  }

  LossTerms train_step(const TensorT& source, const TensorT& source_mask, const TensorT& target,
                       const TensorT& target_mask, Cache& c) {
    const TensorT& aligned = align(source, source_mask, c);
    const double loss = Loss{}(aligned, target, target_mask, c.d_aligned);
    (void)aligner.backward(c.d_aligned, c.aligner);
    return {{{std::string(Loss::name), loss}}};
  }

  void set_training(bool) {}  // no dropout or batch statistics in the supervised aligners

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    aligner.visit_parameters(f, prefix);
  }

  A aligner;
};

}  // namespace gluegen::aligners
