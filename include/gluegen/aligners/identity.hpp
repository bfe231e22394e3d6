#pragma once
// The aligner of no glue: the decoder reads its own text encoder's features as they are. A pipeline
// with it is the decoder's own text-to-image model (the English ceiling of a GlueGen table), or,
// given another encoder, the "direct" floor (MiniLM reading a prompt in a language it never learnt).
#include <gluegen/aligners/concepts.hpp>

namespace gluegen::aligners {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Identity {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {};

  const TensorT& align(const TensorT& source, const TensorT& /*source_mask*/, Cache&) { return source; }

  template <typename F>
  void visit_parameters(F&&, const std::string&) {}
};

static_assert(Aligner<Identity<float, Cpu>> && nn::Module<Identity<float, Cpu>>);

}  // namespace gluegen::aligners
