// optim/: 20 steps of AdamW, Adam and SGD against torch.optim on the same parameters and gradients,
// gradient clipping against torch.nn.utils.clip_grad_norm_, every LR schedule against
// torch/transformers step by step, and exact resume from saved optimizer state.
#include <gluegen/io/parameters.hpp>
#include <gluegen/optim/optimizer.hpp>
#include <gluegen/optim/schedule.hpp>

#include "support/goldens.hpp"
#include "support/reference.hpp"

#include <filesystem>

namespace gluegen::test {
namespace {

using Tf = Tensor<float, Cpu>;

/// The smallest Module: named parameters and nothing else.
struct Params {
  using value_type = float;
  using policy = Cpu;
  std::vector<std::pair<std::string, nn::Param<float, Cpu>>> items;
  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    for (auto& [name, p] : items) f(prefix + name, p);
  }
};
static_assert(nn::Module<Params>);

/// Runs `steps` updates with the golden gradients and compares every intermediate parameter.
template <typename Optimizer, typename Options>
void expect_matches_torch(const std::string& name, Options options) {
  const auto& g = nn_goldens();
  Params model;
  model.items.emplace_back("w", nn::Param<float, Cpu>(Shape{5, 4}));
  model.items[0].second.value = g.read<float>(name + ".p0");
  Optimizer opt(model, options);
  const Tf grads = g.read<float>(name + ".grads"), params = g.read<float>(name + ".params");
  for (index_t step = 0; step < 20; ++step) {
    ops::copy(grads.select(step), model.items[0].second.grad_buffer());
    opt.step();
    ASSERT_TRUE(all_close(model.items[0].second.value.to_vector(), params.select(step).to_vector(), 2e-6))
        << name << " step " << step;
  }
}

TEST(Optimizers, TwentyStepsMatchTorch) {
  expect_matches_torch<optim::AdamW<Params>>("adamw", optim::AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
  expect_matches_torch<optim::Adam<Params>>("adam", optim::AdamOptions{.lr = 1e-2, .weight_decay = 0.1});
  expect_matches_torch<optim::Sgd<Params>>("sgd_momentum",
                                           optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3});
  expect_matches_torch<optim::Sgd<Params>>("sgd_nesterov",
                                           optim::SgdOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
}

TEST(Optimizers, ClipGradNormMatchesTorch) {
  const auto& g = nn_goldens();
  Params model;
  for (const char* i : {"0", "1", "2"}) {
    nn::Param<float, Cpu> p(g.read<float>(std::string("clip_grad_norm.g") + i).shape());
    ops::copy(g.read<float>(std::string("clip_grad_norm.g") + i), p.grad_buffer());
    model.items.emplace_back(i, std::move(p));
  }
  const double norm = optim::clip_grad_norm(model, 1.0);
  EXPECT_NEAR(norm, g.read<float>("clip_grad_norm.total_norm").to_vector()[0], 1e-5);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(all_close(model.items[i].second.grad.to_vector(),
                          g.read<float>("clip_grad_norm.c" + std::to_string(i)).to_vector(), 1e-6));
  ops::copy(Tf::full({3}, NAN), model.items[0].second.grad_buffer());
  EXPECT_THROW((void)optim::clip_grad_norm(model, 1.0), ValueError);
}

TEST(Schedules, EveryScheduleMatchesTorchStepByStep) {
  const std::vector<std::pair<std::string, optim::Schedule>> cases = {
      {"sched_constant", optim::Constant{}},
      {"sched_linear_warmup", optim::LinearWarmup{.warmup = 5, .total = 30}},
      {"sched_cosine_warmup", optim::CosineWarmup{.warmup = 5, .total = 30}},
      {"sched_step", optim::Step{.step_size = 7, .gamma = 0.5}},
      {"sched_polynomial", optim::Polynomial{.total = 20, .power = 2.0}},
      {"sched_cosine_annealing", optim::CosineAnnealing{.t_max = 20, .eta_min = 1e-3}}};
  for (const auto& [name, schedule] : cases) {
    const auto expected = nn_goldens().read<double>(name + ".lr").to_vector();
    for (std::size_t t = 0; t < expected.size(); ++t)
      EXPECT_NEAR(optim::learning_rate(schedule, static_cast<std::int64_t>(t), 0.1), expected[t], 1e-12)
          << name << " step " << t;
  }
}

TEST(Schedules, ConstantWarmupIsTransformersConstantWithWarmupOneUpdateEarlier) {
  // transformers' get_constant_schedule_with_warmup(w): lr min(1, t / w) for the t-th update (from 0)
  const optim::Schedule s = optim::ConstantWarmup{.warmup = 4};
  for (std::int64_t t = 0; t < 10; ++t)
    EXPECT_DOUBLE_EQ(optim::learning_rate(s, t, 0.1), 0.1 * std::min(1.0, static_cast<double>(t + 1) / 4.0)) << t;
  EXPECT_DOUBLE_EQ(optim::learning_rate(s, 0, 0.1), 0.025);  // the first update moves, at lr / w
  EXPECT_DOUBLE_EQ(optim::learning_rate(s, 3, 0.1), 0.1);    // the full rate from update w - 1 on
  EXPECT_DOUBLE_EQ(optim::learning_rate(optim::ConstantWarmup{.warmup = 0}, 0, 0.1), 0.1);
}

TEST(Optimizers, ResumeFromSavedStateIsBitExact) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("gluegen-optim-{}.h5", ::getpid());
  auto make = [] {
    Params m;
    m.items.emplace_back("a.weight", nn::Param<float, Cpu>(Shape{7, 3}));
    m.items.emplace_back("a.bias", nn::Param<float, Cpu>(Shape{3}));
    ops::fill_normal(m.items[0].second.value, 1);
    ops::fill_normal(m.items[1].second.value, 2);
    return m;
  };
  auto train = [](Params& m, optim::AdamW<Params>& opt, int from, int to) {
    for (int step = from; step < to; ++step) {
      for (auto& [name, p] : m.items)
        ops::copy(ops::randn<float, Cpu>(p.value.shape(), 100 + static_cast<std::uint64_t>(step)), p.grad_buffer());
      opt.set_lr(optim::learning_rate(optim::CosineWarmup{.warmup = 3, .total = 10}, opt.steps(), 1e-2));
      opt.step();
    }
  };
  Params straight = make();
  optim::AdamW<Params> opt_straight(straight, {.lr = 1e-2, .weight_decay = 0.01});
  train(straight, opt_straight, 0, 10);

  Params first = make();
  optim::AdamW<Params> opt_first(first, {.lr = 1e-2, .weight_decay = 0.01});
  train(first, opt_first, 0, 4);
  {
    io::WeightWriter w(path, {.model_type = "checkpoint"});
    io::save_parameters(first, w, "model.");
    opt_first.save(w);
    w.commit();
  }
  Params resumed = make();
  optim::AdamW<Params> opt_resumed(resumed, {.lr = 1e-2, .weight_decay = 0.01});
  const io::WeightReader r(path);
  io::load_parameters(resumed, r, "model.");
  opt_resumed.load(r);
  EXPECT_EQ(opt_resumed.steps(), 4);
  train(resumed, opt_resumed, 4, 10);
  for (std::size_t i = 0; i < straight.items.size(); ++i)
    EXPECT_EQ(resumed.items[i].second.value.to_vector(), straight.items[i].second.value.to_vector())
        << straight.items[i].first;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace gluegen::test
