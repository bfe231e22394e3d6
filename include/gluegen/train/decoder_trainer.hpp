#pragma once
// Trains a text-conditioned UNet2DCondition as a DDPM denoiser (Ho et al. 2020, Alg. 1; eq. 14's
// "simple" loss): x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps with t ~ U{0..T-1}, and
// L = mean ||eps_theta(x_t, t, c) - target||^2, target = eps (epsilon prediction) or v. A fraction of
// captions is replaced by the empty caption so the same network also learns the unconditional model
// classifier-free guidance needs (Ho & Salimans 2022, sec. 3.2). AdamW with linear warm-up, global-norm
// clipping, and an exponential moving average of the weights, which is what gets exported.
// Optionally the per-example loss is weighted by Min-SNR-gamma (Hang et al. 2023, eq. 9 / sec. 3.4):
// w_t = min(SNR_t, gamma) / SNR_t for epsilon targets and min(SNR_t, gamma) / (SNR_t + 1) for v, with
// SNR_t = abar_t / (1 - abar_t); it stops the many nearly noise-free timesteps from dominating the
// gradient and converges several times faster. The weights are normalised to sum to one over the batch.
//
// The trained model is the UNet itself, or any TrainableDenoiser: e.g. LaVi-Bridge's adapter in front of a frozen
// UNet with LoRA (train/denoising_alignment.hpp), where only the adapter and the LoRA tensors train.
// Only trainable parameters are averaged, checkpointed and optimised.
//
// Runs are resumable exactly: a step's batch, timesteps, noise and caption dropout are drawn from
// generators keyed by (seed, step), and checkpoint.h5 holds the weights, the EMA, the optimizer
// moments and the step. SIGINT / SIGTERM checkpoint and stop.
#include <gluegen/core/progress.hpp>
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/diffusion/noise_schedule.hpp>
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/losses/regression.hpp>
#include <gluegen/optim/optimizer.hpp>
#include <gluegen/optim/schedule.hpp>
#include <gluegen/train/run_dir.hpp>

#include <random>
#include <unordered_map>
#include <utility>

namespace gluegen::train {

/// One training batch: clean samples [B, C, H, W] in the model's range and the conditioning: features
/// [B, L, D] by default, or what the model names as its Context (token ids for a model that runs its
/// own language model).
template <ComputeElement T, TensorPolicy P, typename Context = Tensor<T, P>>
struct DecoderBatch {
  Tensor<T, P> x0;
  Context context;
};

/// A data source: fills the batch for a step from a generator it must use for all its randomness.
template <typename D, typename T, typename P, typename Context = Tensor<T, P>>
concept DecoderData = requires(D& d, index_t batch, std::mt19937_64& rng) {
  { d.batch(batch, rng) } -> std::same_as<DecoderBatch<T, P, Context>>;
  { d.describe() } -> std::convertible_to<nlohmann::json>;
};

/// The conditioning a denoiser takes: its Context type where it names one, feature tensors otherwise.
template <typename M, typename T, typename P>
struct denoiser_context {
  using type = Tensor<T, P>;
};
template <typename M, typename T, typename P>
  requires requires { typename M::Context; }
struct denoiser_context<M, T, P> {
  using type = typename M::Context;
};
template <typename M, typename T, typename P>
using denoiser_context_t = typename denoiser_context<M, T, P>::type;

/// The plain UNet: its diffusers config, and the exported file is a UNet model file (f16 storage) with
/// the noise schedule it was trained on, which its samplers read back (diffusion/model_files.hpp).
template <ComputeElement T, TensorPolicy P>
nlohmann::json denoiser_config(const diffusion::UNet2DCondition<T, P>& unet) {
  return unet.config().to_json();
}
template <ComputeElement T, TensorPolicy P, typename ValueOf>
void export_denoiser(diffusion::UNet2DCondition<T, P>& unet, const std::filesystem::path& path,
                     const diffusion::SchedulerConfig& noise, const nlohmann::json& provenance, ValueOf&& value_of) {
  io::WeightWriter out(
      path, {.model_type = diffusion::kUNetModelType, .config = unet.config().to_json(), .provenance = provenance});
  unet.visit_parameters(
      [&](const std::string& name, nn::Param<T, P>& p) { out.write(name, value_of(name, p), DType::f16); }, "");
  diffusion::write_scheduler_record(out, noise);
  out.commit();
}

/// What DecoderTrainer trains: maps noisy samples, timesteps and the batch's conditioning to the
/// prediction, with a backward; denoiser_config(m) describes it for checkpoints, and
/// export_denoiser(m, path, noise, provenance, value_of) writes the exported model (value_of(name, param): the EMA
/// value of a trainable parameter, the parameter itself otherwise) with the provenance record it is given.
template <typename M, typename T, typename P>
concept TrainableDenoiser =
    nn::Module<M> && requires(M& m, const Tensor<T, P>& x, std::span<const double> t,
                              const denoiser_context_t<M, T, P>& context, typename M::Cache& c) {
      { m.forward(x, t, context, c) } -> std::same_as<const Tensor<T, P>&>;
      { m.backward(x, c) } -> std::same_as<const Tensor<T, P>&>;
      { denoiser_config(std::as_const(m)) } -> std::convertible_to<nlohmann::json>;
    };

struct DecoderTrainerOptions {
  std::filesystem::path run_dir = {};
  std::string export_file = "decoder.h5";  ///< the exported model (EMA weights) inside run_dir
  std::string progress_label = "train decoder";
  std::int64_t steps = 10000;
  index_t batch = 32;
  double lr = 2e-4, weight_decay = 0.0;
  std::int64_t warmup = 500;
  double grad_clip = 1.0;
  double ema_decay = 0.999;
  double min_snr_gamma = 0;  ///< 0: the uniform "simple" loss
  std::int64_t log_every = 50, checkpoint_every = 500;
  std::uint64_t seed = 0;
  bool progress = true;
  nlohmann::json provenance = nullptr;  ///< what the exported file records it was made from (io/provenance.hpp)
};

template <ComputeElement T, TensorPolicy P, typename Data, typename Model = diffusion::UNet2DCondition<T, P>>
  requires TrainableDenoiser<Model, T, P> && DecoderData<Data, T, P, denoiser_context_t<Model, T, P>>
class DecoderTrainer {
 public:
  DecoderTrainer(Model& unet, const diffusion::SchedulerConfig& noise, Data& data, DecoderTrainerOptions opt)
      : unet_(unet),
        schedule_(noise),
        data_(data),
        opt_(std::move(opt)),
        run_(opt_.run_dir, opt_.export_file),
        adam_(unet, {.lr = opt_.lr, .weight_decay = opt_.weight_decay}) {
    GLUEGEN_CHECK_AS(ValueError, opt_.steps > 0 && opt_.batch > 0 && opt_.log_every > 0 && opt_.checkpoint_every > 0,
                     "DecoderTrainer: steps, batch and the log/checkpoint intervals must be positive");
    GLUEGEN_CHECK_AS(ValueError, opt_.ema_decay >= 0 && opt_.ema_decay < 1,
                     "DecoderTrainer: ema_decay {} must be in [0, 1)", opt_.ema_decay);
    GLUEGEN_CHECK_AS(ValueError, opt_.min_snr_gamma >= 0,
                     "DecoderTrainer: min_snr_gamma {} must be >= 0 (0 turns it off)", opt_.min_snr_gamma);
    visit_trainable([&](const std::string&, nn::Param<T, P>& p) { ema_.push_back(p.value.clone()); });
    GLUEGEN_CHECK_AS(ValueError, !ema_.empty(), "DecoderTrainer: the model has no trainable parameters");
  }

  [[nodiscard]] std::filesystem::path checkpoint_path() const { return run_.checkpoint(); }
  [[nodiscard]] std::filesystem::path model_path() const { return run_.model(); }
  [[nodiscard]] std::filesystem::path metrics_path() const { return run_.metrics(); }
  [[nodiscard]] std::int64_t step() const noexcept { return step_; }

  /// Trains to opt.steps from the run directory's checkpoint (if any); returns the last logged loss.
  double run() {
    const bool resumed = restore();
    run_.begin_metrics(resumed ? step_ : -1);
    Progress progress(opt_.progress_label, opt_.steps, "steps", step_, opt_.progress);
    double loss_sum = 0, last_loss = 0;
    index_t in_window = 0;
    run_steps(
        step_, opt_.steps, opt_.checkpoint_every, run_, progress,
        [&] {
          const auto [loss, norm] = train_step();
          ++step_;
          loss_sum += loss;
          ++in_window;
          if (step_ % opt_.log_every != 0 && step_ != opt_.steps) return;
          last_loss = loss_sum / static_cast<double>(in_window);
          run_.log({{"step", step_},
                    {"loss", last_loss},
                    {"grad_norm", norm},
                    {"lr", adam_.lr()},
                    {"seconds", progress.elapsed_seconds()}});
          progress.update(step_, fmt::format("loss {:.4f}", last_loss), static_cast<double>(opt_.batch), "images");
          loss_sum = 0;
          in_window = 0;
        },
        [&] { save(); });
    return last_loss;
  }

  /// Copies the EMA weights into the model (what sampling should use).
  void use_ema_weights() {
    std::size_t i = 0;
    visit_trainable([&](const std::string&, nn::Param<T, P>& p) { ops::copy(ema_[i++], p.value); });
  }

 private:
  template <typename F>
  void visit_trainable(F&& f) {
    unet_.visit_parameters(
        [&](const std::string& name, nn::Param<T, P>& p) {
          if (p.trainable) f(name, p);
        },
        "");
  }

  std::pair<double, double> train_step() {
    std::mt19937_64 rng(opt_.seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(step_));
    DecoderBatch<T, P, denoiser_context_t<Model, T, P>> b = data_.batch(opt_.batch, rng);
    const index_t B = b.x0.size(0);
    std::vector<index_t> t(static_cast<std::size_t>(B));
    std::uniform_int_distribution<index_t> pick_t(0, schedule_.num_train_timesteps() - 1);
    for (auto& v : t) v = pick_t(rng);
    const Tensor<T, P> noise = ops::randn<T, P>(b.x0.shape(), opt_.seed + 1, static_cast<std::uint64_t>(step_));
    const Tensor<T, P> xt = schedule_.add_noise(b.x0, noise, t);
    const Tensor<T, P> target =
        schedule_.config().prediction == diffusion::Prediction::v ? schedule_.velocity(b.x0, noise, t) : noise;
    const std::vector<double> td(t.begin(), t.end());
    nn::zero_grad(unet_);
    const Tensor<T, P>& pred = unet_.forward(xt, td, b.context, cache_);
    const double loss = opt_.min_snr_gamma > 0 ? min_snr_loss(pred, target, t) : losses::mse(pred, target, dy_);
    const char* term = opt_.min_snr_gamma > 0 ? "the Min-SNR-weighted denoising loss" : "the denoising loss";
    GLUEGEN_CHECK_AS(DivergedError, std::isfinite(loss),
                     "training diverged at step {} ({}): {} = {} (learning rate {}). {}; lower the learning rate or "
                     "the gradient clip (--clip-grad)",
                     step_ + 1, opt_.progress_label, term, loss, adam_.lr(), run_.last_good_checkpoint());
    unet_.backward(dy_, cache_);
    const double norm = optim::grad_norm(unet_);
    GLUEGEN_CHECK_AS(DivergedError, std::isfinite(norm),
                     "training diverged at step {} ({}): {} = {}, gradient norm {} (learning rate {}). {}; lower "
                     "the learning rate or the gradient clip (--clip-grad)",
                     step_ + 1, opt_.progress_label, term, loss, norm, adam_.lr(), run_.last_good_checkpoint());
    if (opt_.grad_clip > 0) optim::clip_grad_norm_to(unet_, norm, opt_.grad_clip);
    adam_.set_lr(optim::learning_rate(optim::ConstantWarmup{.warmup = opt_.warmup}, step_, opt_.lr));
    adam_.step();
    update_ema();
    return {loss, norm};
  }

  /// Min-SNR-gamma weighted MSE (see the top of this file); dy_ gets the gradient in pred's shape.
  double min_snr_loss(const Tensor<T, P>& pred, const Tensor<T, P>& target, const std::vector<index_t>& t) {
    const index_t B = pred.size(0);
    std::vector<T> w(static_cast<std::size_t>(B));
    for (index_t i = 0; i < B; ++i) {
      const double abar = schedule_.alpha_bar(t[static_cast<std::size_t>(i)]);
      const double snr = abar / (1.0 - abar);
      const bool v = schedule_.config().prediction == diffusion::Prediction::v;
      w[static_cast<std::size_t>(i)] = static_cast<T>(std::min(snr, opt_.min_snr_gamma) / (v ? snr + 1.0 : snr));
    }
    const Tensor<T, P> weights = Tensor<T, P>::from_host({B, 1}, w);
    // the per-example rows as [B, 1, C*H*W], sharing dy_'s storage when it already has the size
    Tensor<T, P> d = dy_.numel() == pred.numel() ? dy_.reshape({B, 1, -1}) : Tensor<T, P>{};
    const double loss = losses::weighted_mse(pred.contiguous().reshape({B, 1, -1}),
                                             target.contiguous().reshape({B, 1, -1}), weights, d);
    dy_ = d.reshape(pred.shape());
    return loss;
  }

  /// ema = decay ema + (1 - decay) w, with the decay warmed up as (1 + n) / (10 + n) so early averages
  /// are not dominated by the random initialisation.
  void update_ema() {
    const double decay =
        std::min(opt_.ema_decay, (1.0 + static_cast<double>(step_)) / (10.0 + static_cast<double>(step_)));
    std::size_t i = 0;
    visit_trainable([&](const std::string&, nn::Param<T, P>& p) {
      Tensor<T, P>& e = ema_[i++];
      ops::scale(e, T(decay), e);
      ops::axpy(T(1 - decay), p.value, e);
    });
  }

  nlohmann::json checkpoint_config() const {
    return {{"unet", denoiser_config(std::as_const(unet_))},
            {"data", data_.describe()},
            {"batch", opt_.batch},
            {"seed", opt_.seed},
            {"prediction", static_cast<int>(schedule_.config().prediction)}};
  }

  void save() {
    {
      io::WeightWriter out(checkpoint_path(), {.model_type = kCheckpointModelType, .config = checkpoint_config()});
      std::size_t i = 0;
      visit_trainable([&](const std::string& name, nn::Param<T, P>& p) {
        out.write("model." + name, p.value);
        out.write("ema." + name, ema_[i++]);
      });
      adam_.save(out);
      optim::detail::write_step<T, P>(out, "", step_, adam_.lr());
      out.commit();
    }
    std::unordered_map<const nn::Param<T, P>*, const Tensor<T, P>*> ema;
    std::size_t i = 0;
    visit_trainable([&](const std::string&, nn::Param<T, P>& p) { ema[&p] = &ema_[i++]; });
    export_denoiser(unet_, model_path(), schedule_.config(), opt_.provenance,
                    [&](const std::string&, const nn::Param<T, P>& p) -> const Tensor<T, P>& {
                      const auto it = ema.find(&p);
                      return it == ema.end() ? p.value : *it->second;
                    });
  }

  bool restore() {
    if (!run_.has_checkpoint()) return false;
    const io::WeightReader in(checkpoint_path());
    const nlohmann::json expected = checkpoint_config();
    GLUEGEN_CHECK_AS(ValueError, in.meta().config == expected,
                     "cannot resume from '{}': it was written for {} but this run is {}; use a new run directory",
                     checkpoint_path().string(), in.meta().config.dump(), expected.dump());
    std::size_t i = 0;
    visit_trainable([&](const std::string& name, nn::Param<T, P>& p) {
      in.read_into("model." + name, p.value);
      in.read_into("ema." + name, ema_[i++]);
    });
    adam_.load(in);
    step_ = optim::detail::read_step(in, "").first;
    if (opt_.progress)
      std::fprintf(stderr, "resuming from %s at step %lld\n", checkpoint_path().c_str(), static_cast<long long>(step_));
    return true;
  }

  Model& unet_;
  diffusion::NoiseSchedule schedule_;
  Data& data_;
  DecoderTrainerOptions opt_;
  RunDir run_;
  optim::AdamW<Model> adam_;
  std::vector<Tensor<T, P>> ema_;
  typename Model::Cache cache_;
  Tensor<T, P> dy_;
  std::int64_t step_ = 0;
};

}  // namespace gluegen::train
