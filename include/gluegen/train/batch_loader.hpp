#pragma once
// Batches from a FeatureDataset in a seeded order. The order of epoch e is a Philox permutation of
// the loader's examples keyed by (seed, e), so the loader's whole state is two integers
// (epoch, position): a checkpoint stores them and a resumed run sees exactly the batches the
// uninterrupted run would have seen.
#include <gluegen/core/rng.hpp>
#include <gluegen/train/feature_shards.hpp>

#include <cstdint>
#include <vector>

namespace gluegen::train {

struct LoaderState {
  std::int64_t epoch = 0;     ///< completed passes
  std::int64_t position = 0;  ///< next index into this epoch's order
};

/// Splits 0..n-1 into held-out and training examples: a fixed (seed-independent) random subset of
/// `held_out` examples, so every run on the same shards evaluates on the same sentences.
struct Split {
  std::vector<index_t> train, held_out;
};
inline Split split_examples(index_t n, index_t held_out) {
  GLUEGEN_CHECK_AS(ValueError, held_out >= 0 && held_out < n,
                   "cannot hold out {} of {} examples: training needs at least one", held_out, n);
  const std::vector<index_t> order = rng::random_permutation(n, 0x5eed5eed, 0);
  Split s;
  s.held_out.assign(order.begin(), order.begin() + held_out);
  s.train.assign(order.begin() + held_out, order.end());
  std::sort(s.held_out.begin(), s.held_out.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

class BatchLoader {
 public:
  /// shuffle = false keeps the examples' order (evaluation); a last batch smaller than batch_size is
  /// then kept, while a shuffled (training) loader drops it so every step sees a full batch.
  BatchLoader(const FeatureDataset& data, std::vector<index_t> examples, index_t batch_size, std::uint64_t seed,
              bool shuffle = true)
      : data_(&data), examples_(std::move(examples)), batch_(batch_size), seed_(seed), shuffle_(shuffle) {
    GLUEGEN_CHECK_AS(ValueError, batch_ > 0, "BatchLoader: batch size must be positive, got {}", batch_);
    GLUEGEN_CHECK_AS(ValueError, !examples_.empty(), "BatchLoader: no examples to load");
    GLUEGEN_CHECK_AS(ValueError, !shuffle_ || std::ssize(examples_) >= batch_,
                     "BatchLoader: batch size {} is larger than the {} training examples", batch_, examples_.size());
    build_order();
  }

  [[nodiscard]] index_t batches_per_epoch() const noexcept {
    const auto n = static_cast<index_t>(examples_.size());
    return shuffle_ ? n / batch_ : (n + batch_ - 1) / batch_;
  }
  [[nodiscard]] LoaderState state() const noexcept { return state_; }
  void restore(LoaderState s) {
    GLUEGEN_CHECK_AS(ValueError, s.epoch >= 0 && s.position >= 0 && s.position <= std::ssize(examples_),
                     "BatchLoader: invalid state (epoch {}, position {})", s.epoch, s.position);
    state_ = s;
    build_order();
  }

  /// The next batch; wraps to a new epoch (new order) when this one is used up.
  template <ComputeElement T, TensorPolicy P>
  void next(AlignmentBatch<T, P>& batch) {
    const auto n = static_cast<std::int64_t>(examples_.size());
    const std::int64_t take = shuffle_ ? batch_ : std::min<std::int64_t>(batch_, n - state_.position);
    if (state_.position + take > n || take <= 0) {
      ++state_.epoch;
      state_.position = 0;
      build_order();
      return next(batch);
    }
    const std::span<const index_t> ids(order_.data() + state_.position, static_cast<std::size_t>(take));
    state_.position += take;
    data_->read(ids, batch);
  }

  /// True when the current epoch has no batch left (an evaluation loader stops here).
  [[nodiscard]] bool epoch_done() const noexcept {
    const auto n = static_cast<std::int64_t>(examples_.size());
    return shuffle_ ? state_.position + batch_ > n : state_.position >= n;
  }

 private:
  void build_order() {
    order_ = examples_;
    if (!shuffle_) return;
    const auto perm = rng::random_permutation(std::ssize(examples_), seed_, static_cast<std::uint64_t>(state_.epoch));
    for (std::size_t i = 0; i < perm.size(); ++i) order_[i] = examples_[static_cast<std::size_t>(perm[i])];
  }

  const FeatureDataset* data_;
  std::vector<index_t> examples_, order_;
  index_t batch_;
  std::uint64_t seed_;
  bool shuffle_;
  LoaderState state_;
};

}  // namespace gluegen::train
