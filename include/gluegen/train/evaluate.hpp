#pragma once
// Held-out evaluation of any TrainableAligner over feature shards: the aligner runs in evaluation
// mode over `examples` in order, and eval::AlignmentEvaluator computes MSE, cosine and retrieval per
// language. The trainer calls it every K steps; `gluegen eval` on a saved aligner.
#include <gluegen/aligners/aligner.hpp>
#include <gluegen/eval/alignment.hpp>
#include <gluegen/train/batch_loader.hpp>

namespace gluegen::train {

template <aligners::TrainableAligner A>
eval::AlignmentReport evaluate_aligner(A& model, const FeatureDataset& data, const std::vector<index_t>& examples,
                                       index_t batch_size) {
  GLUEGEN_CHECK_AS(ValueError, !examples.empty(), "evaluate_aligner: no examples to evaluate on");
  model.set_training(false);
  BatchLoader loader(data, examples, batch_size, 0, false);
  eval::AlignmentEvaluator evaluator;
  typename A::Cache cache;
  AlignmentBatch<typename A::value_type, typename A::policy> batch;
  while (!loader.epoch_done()) {
    loader.next(batch);
    evaluator.add(model.align(batch.source, batch.source_mask, cache), batch.target, batch.target_mask,
                  batch.languages);
  }
  model.set_training(true);
  return evaluator.report();
}

}  // namespace gluegen::train
