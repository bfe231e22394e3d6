#pragma once
// Optimizers over any Module's named parameters: SGD (momentum, Nesterov), Adam and AdamW
// (AdamType<Decoupled>, as ensmallen's AdamType<UpdatePolicy>), and global-norm gradient clipping.
// Updates are one fused kernel per parameter (ops::adam_step / sgd_step), in PyTorch's operation
// order, so 20 steps match torch.optim to f32 rounding. State (moments, step count) is saved to and
// loaded from HDF5 under "optimizer.<param name>.<buffer>" so training resumes exactly.
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/nn/module.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace gluegen::optim {

/// Chooses parameters by name for an optimizer (empty: all trainable ones), e.g. one optimizer per
/// player of an adversarial game.
using ParameterFilter = std::function<bool(const std::string&)>;

namespace detail {
/// The trainable parameters of a module (those `select` accepts, when given), by name, collected once.
template <nn::Module M>
auto trainable_parameters(M& model, const ParameterFilter& select) {
  std::vector<std::pair<std::string, nn::Param<typename M::value_type, typename M::policy>*>> out;
  model.visit_parameters(
      [&](const std::string& name, auto& p) {
        if (p.trainable && (!select || select(name))) out.emplace_back(name, &p);
      },
      "");
  GLUEGEN_CHECK_AS(ValueError, !out.empty(), "optimizer: the model has no trainable parameters");
  return out;
}

template <ComputeElement T, TensorPolicy P>
void write_step(io::WeightWriter& out, const std::string& prefix, std::int64_t step, double lr) {
  out.write(prefix + "step", Tensor<double, Cpu>::from_host({2}, std::vector<double>{static_cast<double>(step), lr}));
}
inline std::pair<std::int64_t, double> read_step(const io::WeightReader& in, const std::string& prefix) {
  const auto v = in.read<double>(prefix + "step", Shape{2}).to_vector();
  return {static_cast<std::int64_t>(v[0]), v[1]};
}
}  // namespace detail

struct AdamOptions {
  double lr = 1e-4;  ///< GlueGen's aligner training rate (1e-6 for fine-tuning)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
};

/// Adam (Decoupled = false: weight decay as an L2 term in the gradient) or AdamW (true: decay applied
/// to the weights directly, Loshchilov & Hutter 2019).
template <nn::Module M, bool Decoupled>
class AdamType {
 public:
  using T = typename M::value_type;
  using P = typename M::policy;

  AdamType(M& model, AdamOptions opt, const ParameterFilter& select = {})
      : params_(detail::trainable_parameters(model, select)), opt_(opt) {
    for (auto& [name, p] : params_) {
      m_.push_back(Tensor<T, P>::zeros(p->value.shape()));
      v_.push_back(Tensor<T, P>::zeros(p->value.shape()));
    }
  }

  [[nodiscard]] double lr() const noexcept { return opt_.lr; }
  void set_lr(double lr) { opt_.lr = lr; }
  [[nodiscard]] std::int64_t steps() const noexcept { return step_; }

  /// One update of every parameter that has a gradient (parameters no backward reached are skipped).
  void step() {
    ++step_;
    const AdamStep s{.lr = opt_.lr,
                     .beta1 = opt_.beta1,
                     .beta2 = opt_.beta2,
                     .eps = opt_.eps,
                     .weight_decay = opt_.weight_decay,
                     .bias_correction1 = 1.0 - std::pow(opt_.beta1, static_cast<double>(step_)),
                     .bias_correction2 = 1.0 - std::pow(opt_.beta2, static_cast<double>(step_)),
                     .decoupled = Decoupled};
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (params_[i].second->has_grad())
        ops::adam_step(params_[i].second->value, params_[i].second->grad, m_[i], v_[i], s);
  }

  void save(io::WeightWriter& out, const std::string& prefix = "optimizer.") const {
    detail::write_step<T, P>(out, prefix, step_, opt_.lr);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      out.write(prefix + params_[i].first + ".exp_avg", m_[i]);
      out.write(prefix + params_[i].first + ".exp_avg_sq", v_[i]);
    }
  }
  void load(const io::WeightReader& in, const std::string& prefix = "optimizer.") {
    std::tie(step_, opt_.lr) = detail::read_step(in, prefix);
    for (std::size_t i = 0; i < params_.size(); ++i) {
      in.read_into(prefix + params_[i].first + ".exp_avg", m_[i]);
      in.read_into(prefix + params_[i].first + ".exp_avg_sq", v_[i]);
    }
  }

 private:
  std::vector<std::pair<std::string, nn::Param<T, P>*>> params_;
  std::vector<Tensor<T, P>> m_, v_;
  AdamOptions opt_;
  std::int64_t step_ = 0;
};

template <nn::Module M>
using Adam = AdamType<M, false>;
template <nn::Module M>
using AdamW = AdamType<M, true>;

struct SgdOptions {
  double lr = 1e-2, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

template <nn::Module M>
class Sgd {
 public:
  using T = typename M::value_type;
  using P = typename M::policy;

  Sgd(M& model, SgdOptions opt, const ParameterFilter& select = {})
      : params_(detail::trainable_parameters(model, select)), opt_(opt) {
    GLUEGEN_CHECK_AS(ValueError, !opt.nesterov || (opt.momentum > 0 && opt.dampening == 0),
                     "Sgd: Nesterov needs momentum > 0 and zero dampening");
    for (auto& [name, p] : params_) buf_.push_back(Tensor<T, P>::zeros(p->value.shape()));
  }

  [[nodiscard]] double lr() const noexcept { return opt_.lr; }
  void set_lr(double lr) { opt_.lr = lr; }
  [[nodiscard]] std::int64_t steps() const noexcept { return step_; }

  void step() {
    const SgdStep s{.lr = opt_.lr,
                    .momentum = opt_.momentum,
                    .dampening = opt_.dampening,
                    .weight_decay = opt_.weight_decay,
                    .nesterov = opt_.nesterov,
                    .first_step = step_ == 0};
    ++step_;
    for (std::size_t i = 0; i < params_.size(); ++i)
      if (params_[i].second->has_grad()) ops::sgd_step(params_[i].second->value, params_[i].second->grad, buf_[i], s);
  }

  void save(io::WeightWriter& out, const std::string& prefix = "optimizer.") const {
    detail::write_step<T, P>(out, prefix, step_, opt_.lr);
    for (std::size_t i = 0; i < params_.size(); ++i) out.write(prefix + params_[i].first + ".momentum_buffer", buf_[i]);
  }
  void load(const io::WeightReader& in, const std::string& prefix = "optimizer.") {
    std::tie(step_, opt_.lr) = detail::read_step(in, prefix);
    for (std::size_t i = 0; i < params_.size(); ++i)
      in.read_into(prefix + params_[i].first + ".momentum_buffer", buf_[i]);
  }

 private:
  std::vector<std::pair<std::string, nn::Param<typename M::value_type, typename M::policy>*>> params_;
  std::vector<Tensor<T, P>> buf_;
  SgdOptions opt_;
  std::int64_t step_ = 0;
};

/// The global L2 norm of every trainable parameter's gradient (parameters without one count 0).
template <nn::Module M>
double grad_norm(M& model) {
  double sq = 0;
  model.visit_parameters(
      [&](const std::string&, auto& p) {
        if (p.trainable && p.has_grad()) sq += ops::sum_squares(p.grad);
      },
      "");
  return std::sqrt(sq);
}

/// Scales all gradients by max_norm / (norm + 1e-6) when that is below 1, given their global norm
/// (torch.nn.utils.clip_grad_norm_'s step after the norm): for callers that computed the norm already.
template <nn::Module M>
void clip_grad_norm_to(M& model, double norm, double max_norm) {
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0) {
    model.visit_parameters(
        [&](const std::string&, auto& p) {
          using T = typename std::remove_reference_t<decltype(p.value)>::value_type;
          if (p.trainable && p.has_grad()) ops::scale(p.grad, static_cast<T>(factor), p.grad);
        },
        "");
  }
}

/// Scales all gradients so their global L2 norm is at most max_norm (torch.nn.utils.clip_grad_norm_).
/// Returns the norm before clipping. A non-finite norm (diverged training) is a ValueError, not a
/// silent NaN update.
template <nn::Module M>
double clip_grad_norm(M& model, double max_norm) {
  const double norm = grad_norm(model);
  GLUEGEN_CHECK_AS(ValueError, std::isfinite(norm),
                   "clip_grad_norm: the gradient norm is {} (NaN or Inf in a gradient)", norm);
  clip_grad_norm_to(model, norm, max_norm);
  return norm;
}

}  // namespace gluegen::optim
