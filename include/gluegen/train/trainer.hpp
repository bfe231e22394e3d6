#pragma once
// The aligner training loop (issue 7; design.md section 4): AdamW with a learning-rate schedule and
// optional global-norm clipping over batches streamed from feature shards; held-out evaluation every
// K steps; metrics as JSON lines; a progress line with throughput and ETA; atomic checkpoints.
//
// Everything a run depends on is in its checkpoint: parameters and buffers ("model."), optimizer
// moments ("optimizer."), the step and the loader's (epoch, position) ("trainer.state"). The data
// order is a function of (seed, epoch), so resuming replays exactly the batches the uninterrupted run
// would have seen and, on the CPU policy, ends bit-identical to it (tested). SIGINT/SIGTERM finish the
// current step, write a checkpoint and return; a non-finite loss or gradient stops with DivergedError
// before anything is written, so the last checkpoint stays the last good state.
// An aligner that plays an adversarial game by alternating updates (GlueNet with `alternating`)
// gets two optimizers: each step first updates its discriminator (discriminator_step, optimizer_d),
// then everything else (train_step, optimizer); both phases' losses are in every step's report.
#include <gluegen/core/progress.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/optim/optimizer.hpp>
#include <gluegen/optim/schedule.hpp>
#include <gluegen/train/evaluate.hpp>
#include <gluegen/train/run_dir.hpp>

#include <fstream>
#include <functional>
#include <optional>

namespace gluegen::train {

struct StepReport {
  std::int64_t step = 0;  ///< 1-based: the number of updates done
  double lr = 0, grad_norm = 0;
  aligners::LossTerms losses;
};

struct TrainerOptions {
  std::filesystem::path run_dir;  ///< checkpoint.h5, aligner.h5, metrics.jsonl go here
  std::int64_t steps = 1000;      ///< total updates (a resumed run continues to this count)
  index_t batch_size = 64;
  index_t held_out = 256;  ///< examples kept out of training for evaluation (0: none)
  std::uint64_t seed = 0;  ///< data order
  optim::AdamOptions adam{.lr = 1e-4};
  optim::Schedule schedule = optim::Constant{};
  double max_grad_norm = 0;  ///< > 0: clip the global gradient norm
  std::int64_t log_every = 10, eval_every = 200, checkpoint_every = 200;
  bool progress = true;
  std::function<void(const StepReport&)> on_step{};  ///< after every update (custom logging, tests)

  /// The options a resumed run must share with the run that wrote the checkpoint.
  [[nodiscard]] nlohmann::json identity() const {
    return {{"batch_size", batch_size}, {"held_out", held_out}, {"seed", seed}};
  }
};

struct TrainResult {
  std::int64_t first_step = 0, last_step = 0;  ///< the run went from first_step (resumed or 0) to last_step
  bool interrupted = false;
  std::optional<eval::AlignmentReport> evaluation;  ///< the last held-out evaluation
  double seconds = 0;
};

template <aligners::TrainableAligner A>
class Trainer {
 public:
  using T = typename A::value_type;
  using P = typename A::policy;

  /// `model_meta` names the aligner (model_type and config) in checkpoints and the exported aligner.h5;
  /// a checkpoint of a different model or data refuses to resume.
  Trainer(A& model, const FeatureDataset& data, TrainerOptions options, io::ModelMeta model_meta)
      : model_(model),
        data_(data),
        opt_(std::move(options)),
        run_(opt_.run_dir, "aligner.h5"),
        meta_(std::move(model_meta)),
        split_(split_examples(data.size(), opt_.held_out)),
        loader_(data, split_.train, opt_.batch_size, opt_.seed),
        optimizer_(model, opt_.adam, player(model, false)) {
    if (alternates(model)) optimizer_d_.emplace(model, opt_.adam, player(model, true));
    GLUEGEN_CHECK_AS(ValueError,
                     opt_.steps > 0 && opt_.log_every > 0 && opt_.eval_every > 0 && opt_.checkpoint_every > 0,
                     "Trainer: steps and the log/eval/checkpoint intervals must be positive");
  }

  [[nodiscard]] std::filesystem::path checkpoint_path() const { return run_.checkpoint(); }
  [[nodiscard]] std::filesystem::path aligner_path() const { return run_.model(); }
  [[nodiscard]] std::filesystem::path metrics_path() const { return run_.metrics(); }
  [[nodiscard]] std::int64_t step() const noexcept { return step_; }
  [[nodiscard]] const Split& split() const noexcept { return split_; }

  /// Trains to opt.steps, resuming from the run directory's checkpoint when there is one.
  TrainResult run() {
    TrainResult result;
    const bool resumed = resume();
    result.first_step = step_;
    run_.begin_metrics(resumed ? step_ : -1);
    Progress progress("train", opt_.steps, "steps", step_, opt_.progress);
    typename A::Cache cache;
    AlignmentBatch<T, P> batch;
    model_.set_training(true);
    result.interrupted = run_steps(
        step_, opt_.steps, opt_.checkpoint_every, run_, progress,
        [&] {
          const StepReport report = train_one(batch, cache);
          if (opt_.on_step) opt_.on_step(report);
          const bool last = step_ == opt_.steps;
          if (step_ % opt_.log_every == 0 || last) log_step(report, progress);
          if (opt_.held_out > 0 && (step_ % opt_.eval_every == 0 || last)) result.evaluation = evaluate_and_log();
        },
        [&] { save_checkpoint(); });
    result.last_step = step_;
    result.seconds = progress.elapsed_seconds();
    return result;
  }

  /// Evaluates the aligner on the held-out examples (evaluation mode; training mode is restored).
  eval::AlignmentReport evaluate() { return evaluate_aligner(model_, data_, split_.held_out, opt_.batch_size); }

 private:
  /// Whether `m` trains by alternating discriminator and aligner steps.
  static bool alternates(A& m) {
    if constexpr (requires { m.alternating(); })
      return m.alternating();
    else
      return false;
  }
  /// The parameters of one player of the alternating game (all of them when `m` does not alternate).
  static optim::ParameterFilter player(A& m, bool discriminator) {
    if constexpr (requires { m.alternating(); }) {
      if (m.alternating())
        return [discriminator](const std::string& name) {
          return name.starts_with(A::kDiscriminatorPrefix) == discriminator;
        };
    }
    return {};
  }

  StepReport train_one(AlignmentBatch<T, P>& batch, typename A::Cache& cache) {
    StepReport r;
    r.lr = optim::learning_rate(opt_.schedule, step_, opt_.adam.lr);
    optimizer_.set_lr(r.lr);
    loader_.next(batch);
    std::optional<std::pair<std::string, double>> disc;
    if constexpr (requires { model_.discriminator_step(batch.source, batch.target, cache); }) {
      if (optimizer_d_) {  // the discriminator's step first, on this batch, the aligner held fixed
        optimizer_d_->set_lr(r.lr);
        nn::zero_grad(model_);
        r.losses = model_.discriminator_step(batch.source, batch.target, cache);
        r.grad_norm = optim::grad_norm(model_);
        if (!std::isfinite(r.losses.total()) || !std::isfinite(r.grad_norm)) diverged(r);
        if (opt_.max_grad_norm > 0) optim::clip_grad_norm_to(model_, r.grad_norm, opt_.max_grad_norm);
        optimizer_d_->step();
        disc = r.losses.terms.front();
      }
    }
    nn::zero_grad(model_);
    r.losses = model_.train_step(batch.source, batch.source_mask, batch.target, batch.target_mask, cache);
    if (disc) r.losses.terms.push_back(*disc);
    r.grad_norm = optim::grad_norm(model_);
    if (!std::isfinite(r.losses.total()) || !std::isfinite(r.grad_norm)) diverged(r);
    if (opt_.max_grad_norm > 0)
      optim::clip_grad_norm_to(model_, r.grad_norm, opt_.max_grad_norm);  // the norm is computed once
    optimizer_.step();
    r.step = ++step_;
    return r;
  }

  [[noreturn]] void diverged(const StepReport& r) const {
    std::string terms;
    for (const auto& [name, v] : r.losses.terms) terms += fmt::format("{}{} = {}", terms.empty() ? "" : ", ", name, v);
    GLUEGEN_THROW(DivergedError,
                  "training diverged at step {}: {}, gradient norm {} (learning rate {}). {}; lower the learning rate "
                  "or set a gradient clip (--clip-grad)",
                  step_ + 1, terms, r.grad_norm, r.lr, run_.last_good_checkpoint());
  }

  nlohmann::json checkpoint_config() const {
    return {{"model_type", meta_.model_type},
            {"model", meta_.config},
            {"trainer", opt_.identity()},
            {"data", data_.spec().to_json()}};
  }

  void save_checkpoint() {
    io::WeightWriter out(checkpoint_path(), {.model_type = kCheckpointModelType, .config = checkpoint_config()});
    io::save_parameters(model_, out, "model.");
    optimizer_.save(out, "optimizer.");
    if (optimizer_d_) optimizer_d_->save(out, "optimizer_d.");
    const LoaderState s = loader_.state();
    out.write("trainer.state", Tensor<double, Cpu>::from_host(
                                   {3}, std::vector<double>{static_cast<double>(step_), static_cast<double>(s.epoch),
                                                            static_cast<double>(s.position)}));
    out.commit();
    io::WeightWriter aligner(aligner_path(), meta_);
    io::save_parameters(model_, aligner);
    aligner.commit();
  }

  /// Loads the run directory's checkpoint if there is one; a checkpoint of another model, data
  /// layout or batch/seed is an error rather than a silent restart.
  bool resume() {
    if (!run_.has_checkpoint()) return false;
    io::WeightReader in(checkpoint_path());
    const nlohmann::json expected = checkpoint_config();
    for (const char* key : {"model_type", "model", "trainer", "data"})
      GLUEGEN_CHECK_AS(
          ValueError, in.meta().config.value(key, nlohmann::json()) == expected[key],
          "cannot resume from '{}': it was written with {} {} but this run has {}; use a new run directory",
          checkpoint_path().string(), key, in.meta().config.value(key, nlohmann::json()).dump(), expected[key].dump());
    io::load_parameters(model_, in, "model.");
    optimizer_.load(in, "optimizer.");
    if (optimizer_d_) optimizer_d_->load(in, "optimizer_d.");
    const auto state = in.read<double>("trainer.state", Shape{3}).to_vector();
    step_ = static_cast<std::int64_t>(state[0]);
    loader_.restore({.epoch = static_cast<std::int64_t>(state[1]), .position = static_cast<std::int64_t>(state[2])});
    if (opt_.progress)
      std::fprintf(stderr, "resuming from %s at step %lld\n", checkpoint_path().c_str(), static_cast<long long>(step_));
    return true;
  }

  void log_step(const StepReport& r, Progress& progress) {
    nlohmann::json j{{"step", r.step},
                     {"epoch", loader_.state().epoch},
                     {"lr", r.lr},
                     {"grad_norm", r.grad_norm},
                     {"loss", r.losses.total()}};
    std::string status = fmt::format("loss {:.4g}", r.losses.total());
    for (const auto& [name, v] : r.losses.terms) {
      j[name] = v;
      status += fmt::format(" {} {:.3g}", name, v);
    }
    j["seconds"] = progress.elapsed_seconds();
    run_.log(j);
    progress.update(r.step, status, static_cast<double>(opt_.batch_size), "examples");
  }

  eval::AlignmentReport evaluate_and_log() {
    eval::AlignmentReport report = evaluate();
    run_.log({{"step", step_}, {"eval", report.to_json()}});
    return report;
  }

  A& model_;
  const FeatureDataset& data_;
  TrainerOptions opt_;
  RunDir run_;
  io::ModelMeta meta_;
  Split split_;
  BatchLoader loader_;
  optim::AdamW<A> optimizer_;
  std::optional<optim::AdamW<A>> optimizer_d_;  ///< the discriminator's, when the aligner alternates
  std::int64_t step_ = 0;
};

}  // namespace gluegen::train
