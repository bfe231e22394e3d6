#pragma once
// The loop the convergence tests share: `steps` AdamW updates on L_mse(model(source), target).
#include <gluegen/losses/regression.hpp>
#include <gluegen/optim/optimizer.hpp>

#include <utility>

namespace gluegen::test {

/// Returns the loss before the first update and the loss at the last step.
template <typename M>
std::pair<float, float> train_mse(M& model, const Tensor<float, Cpu>& source, const Tensor<float, Cpu>& target,
                                  double lr, int steps) {
  typename M::Cache cache;
  optim::AdamW<M> opt(model, {.lr = lr});
  Tensor<float, Cpu> grad;
  float first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    nn::zero_grad(model);
    last = losses::mse(model.forward(source, cache), target, grad);
    if (step == 0) first = last;
    (void)model.backward(grad, cache);
    opt.step();
  }
  return {first, last};
}

}  // namespace gluegen::test
