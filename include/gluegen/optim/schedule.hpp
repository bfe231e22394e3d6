#pragma once
// Learning-rate schedules as closed forms of the step index t (0-based: the rate used by the t-th
// update), equal to torch.optim.lr_scheduler / transformers' schedules at every step:
//   Constant                 lr
//   ConstantWarmup(w)        lr min(1, (t + 1)/w): the t-th update already moves (transformers'
//                            constant_with_warmup is one update later, lr min(1, t/w))
//   LinearWarmup(w, n)       lr t/w for t < w, then lr (n - t)/(n - w), floored at 0   (transformers)
//   CosineWarmup(w, n, c)    lr t/w, then lr 0.5 (1 + cos(2 pi c p)), p = (t - w)/(n - w)  (transformers)
//   Step(s, g)               lr g^floor(t / s)                                            (StepLR)
//   Polynomial(n, k)         lr (1 - min(t, n)/n)^k                                       (PolynomialLR)
//   CosineAnnealing(n, m)    m + (lr - m) (1 + cos(pi t / n)) / 2                         (CosineAnnealingLR)
#include <gluegen/core/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <variant>

namespace gluegen::optim {

struct Constant {};
struct ConstantWarmup {
  std::int64_t warmup = 0;
};
struct LinearWarmup {
  std::int64_t warmup = 0, total = 1;
};
struct CosineWarmup {
  std::int64_t warmup = 0, total = 1;
  double cycles = 0.5;
};
struct Step {
  std::int64_t step_size = 1;
  double gamma = 0.1;
};
struct Polynomial {
  std::int64_t total = 1;
  double power = 1.0;
};
struct CosineAnnealing {
  std::int64_t t_max = 1;
  double eta_min = 0.0;
};

using Schedule = std::variant<Constant, ConstantWarmup, LinearWarmup, CosineWarmup, Step, Polynomial, CosineAnnealing>;

/// The learning rate at step t for base rate `lr`.
[[nodiscard]] inline double learning_rate(const Schedule& schedule, std::int64_t t, double lr) {
  GLUEGEN_CHECK_AS(ValueError, t >= 0, "learning_rate: negative step {}", t);
  const double tt = static_cast<double>(t);
  return std::visit(
      [&](const auto& s) -> double {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::same_as<S, Constant>) {
          return lr;
        } else if constexpr (std::same_as<S, ConstantWarmup>) {
          return lr *
                 std::min(1.0, static_cast<double>(t + 1) / static_cast<double>(std::max<std::int64_t>(s.warmup, 1)));
        } else if constexpr (std::same_as<S, LinearWarmup>) {
          if (t < s.warmup) return lr * tt / static_cast<double>(std::max<std::int64_t>(1, s.warmup));
          return lr * std::max(0.0, static_cast<double>(s.total - t) /
                                        static_cast<double>(std::max<std::int64_t>(1, s.total - s.warmup)));
        } else if constexpr (std::same_as<S, CosineWarmup>) {
          if (t < s.warmup) return lr * tt / static_cast<double>(std::max<std::int64_t>(1, s.warmup));
          const double progress =
              static_cast<double>(t - s.warmup) / static_cast<double>(std::max<std::int64_t>(1, s.total - s.warmup));
          return lr * std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * s.cycles * 2.0 * progress)));
        } else if constexpr (std::same_as<S, Step>) {
          return lr * std::pow(s.gamma, static_cast<double>(t / s.step_size));
        } else if constexpr (std::same_as<S, Polynomial>) {
          return lr * std::pow(1.0 - static_cast<double>(std::min(t, s.total)) / static_cast<double>(s.total), s.power);
        } else {
          return s.eta_min +
                 (lr - s.eta_min) * (1.0 + std::cos(std::numbers::pi * tt / static_cast<double>(s.t_max))) / 2.0;
        }
      },
      schedule);
}

}  // namespace gluegen::optim
