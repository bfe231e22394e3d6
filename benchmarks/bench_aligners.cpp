// Every aligner variant of the ablation table (docs/ablations.md) at the papers' shapes, XLM-R large
// (1024) with 128 and 256 source tokens -> CLIP ViT-L/14's 77 x 768, and at the default model's
// 16 x 384 -> 16 x 384: a training step (forward, backward, AdamW) and one prompt's inference, with
// parameters, peak RSS and steady-state allocations. compare_pytorch.py --only aligners runs each
// configuration in its own process, here and in PyTorch, so every row has its own peak memory.
// Args: source tokens, source width, target tokens, target width, batch (inference: batch 1).
#include <gluegen/aligners/attention.hpp>
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/aligners/lavi_bridge.hpp>
#include <gluegen/aligners/linear.hpp>
#include <gluegen/aligners/timestep_connector.hpp>
#include <gluegen/optim/optimizer.hpp>

#include "allocation_counter.hpp"
#include "bench_util.hpp"

namespace {

using namespace gluegen;
using Tf = Tensor<float, Cpu>;

struct Dims {
  index_t ls, ds, lt, dt;
};
Dims dims(const benchmark::State& state) { return {state.range(0), state.range(1), state.range(2), state.range(3)}; }

/// GlueNet with GlueGen's three terms and weights (f, g and the discriminator all train), or f alone
/// on L_mse (the ablation's finding: what inference keeps, trained without g and D).
template <typename G>
G make_gluenet(const Dims& d, index_t depth, bool all_terms) {
  return G({.num_tok = d.ls,
            .num_tok_target = d.lt,
            .dim_source = d.ds,
            .dim_target = d.dt,
            .depth = depth,
            .lambda_mse = all_terms ? 1e4 : 1,
            .lambda_rec = all_terms ? 1e4 : 0,
            .lambda_adv = all_terms ? 0.1 : 0},
           1);
}
using GlueNetLn = aligners::GlueNet<float, Cpu, aligners::Translator<float, Cpu>, aligners::Translator<float, Cpu>>;
using Attention = aligners::Supervised<aligners::AttentionAligner<float, Cpu>>;
using Adapter = aligners::Supervised<aligners::LaviBridgeAdapter<float, Cpu>>;

Attention make_attention(const Dims& d) {
  return Attention(aligners::AttentionAligner<float, Cpu>(
      {.dim_source = d.ds, .dim = d.dt, .dim_target = d.dt, .num_queries = d.lt, .heads = d.dt / 64, .depth = 2}, 1));
}
/// LaVi-Bridge's adapter keeps the source length (the UNet attends to every source token).
Adapter make_adapter(const Dims& d) {
  return Adapter(aligners::LaviBridgeAdapter<float, Cpu>({.in_dim = d.ds, .int_dim = d.dt, .out_dim = d.dt}, 1));
}
/// ELLA's connector with its released depth (6 blocks) at the target width, target-length latents.
aligners::TimestepConnector<float, Cpu> make_connector(const Dims& d) {
  return aligners::TimestepConnector<float, Cpu>(
      {.time_embed_dim = d.dt, .width = d.dt, .layers = 6, .heads = d.dt / 64, .num_latents = d.lt, .input_dim = d.ds},
      1);
}

/// zero_grad, train_step, AdamW step on one fixed batch; counters per steady-state step.
template <aligners::TrainableAligner A>
void train_step(benchmark::State& state, A model) {
  const Dims d = dims(state);
  const index_t batch = state.range(4);
  optim::AdamW<A> opt(model, {.lr = 1e-4});
  const Tf source = ops::randn<float, Cpu>({batch, d.ls, d.ds}, 2), source_mask = Tf::full({batch, d.ls}, 1.0f);
  typename A::Cache cache;
  const auto shape = model.align(source, source_mask, cache).shape();
  const Tf target = ops::randn<float, Cpu>(shape, 3), target_mask = Tf::full({batch, shape[1]}, 1.0f);
  model.set_training(true);
  const auto step = [&] {
    nn::zero_grad(model);
    benchmark::DoNotOptimize(model.train_step(source, source_mask, target, target_mask, cache).total());
    opt.step();
  };
  step();
  const long before = bench::g_allocations.load(), bytes_before = bench::g_allocated_bytes.load();
  for (auto _ : state) step();
  bench::report_allocations(state, before, bytes_before);
  state.counters["examples/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["parameters"] = static_cast<double>(nn::count_parameters(model).total);
  bench::report(state, 0);
}

/// One prompt's source features through the aligner's inference part (ELLA's at one timestep).
template <typename A>
void inference(benchmark::State& state, A model) {
  const Dims d = dims(state);
  const Tf source = ops::randn<float, Cpu>({1, d.ls, d.ds}, 2), mask = Tf::full({1, d.ls}, 1.0f);
  typename A::Cache cache;
  const std::vector<double> t{500.0};
  const auto run = [&] {
    if constexpr (aligners::TimestepAligner<A>)
      benchmark::DoNotOptimize(model.align(source, mask, t, cache).data());
    else
      benchmark::DoNotOptimize(model.align(source, mask, cache).data());
  };
  run();
  const long before = bench::g_allocations.load(), bytes_before = bench::g_allocated_bytes.load();
  for (auto _ : state) run();
  bench::report_allocations(state, before, bytes_before);
  state.counters["parameters"] = static_cast<double>(nn::count_parameters(model).total);
  bench::report(state, 0);
}

void BM_TrainGlueNet5(benchmark::State& s) {
  train_step(s, make_gluenet<aligners::GlueNet<float, Cpu>>(dims(s), 5, true));
}
void BM_TrainGlueNet3(benchmark::State& s) {
  train_step(s, make_gluenet<aligners::GlueNet<float, Cpu>>(dims(s), 3, true));
}
void BM_TrainF5Mse(benchmark::State& s) {
  train_step(s, make_gluenet<aligners::GlueNet<float, Cpu>>(dims(s), 5, false));
}
void BM_TrainF5LnMse(benchmark::State& s) { train_step(s, make_gluenet<GlueNetLn>(dims(s), 5, false)); }
void BM_TrainAttention(benchmark::State& s) { train_step(s, make_attention(dims(s))); }
void BM_TrainLaviAdapter(benchmark::State& s) { train_step(s, make_adapter(dims(s))); }

void BM_AlignF5(benchmark::State& s) {
  inference(s, std::move(make_gluenet<aligners::GlueNet<float, Cpu>>(dims(s), 5, false).encoder));
}
void BM_AlignF3(benchmark::State& s) {
  inference(s, std::move(make_gluenet<aligners::GlueNet<float, Cpu>>(dims(s), 3, false).encoder));
}
void BM_AlignF5Ln(benchmark::State& s) { inference(s, std::move(make_gluenet<GlueNetLn>(dims(s), 5, false).encoder)); }
void BM_AlignAttention(benchmark::State& s) { inference(s, std::move(make_attention(dims(s)).aligner)); }
void BM_AlignRidge(benchmark::State& s) {
  const Dims d = dims(s);
  inference(s,
            aligners::LinearAligner<float, Cpu>({.num_tok = d.ls, .num_tok_out = d.lt, .dim = d.ds, .dim_out = d.dt}));
}
void BM_AlignLaviAdapter(benchmark::State& s) { inference(s, std::move(make_adapter(dims(s)).aligner)); }
void BM_AlignEllaConnector(benchmark::State& s) { inference(s, make_connector(dims(s))); }

// the papers' shapes (batch 16) and the default model's (batch 64)
void train_shapes(benchmark::internal::Benchmark* b) {
  b->Args({128, 1024, 77, 768, 16})->Args({256, 1024, 77, 768, 16})->Args({16, 384, 16, 384, 64});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
void inference_shapes(benchmark::internal::Benchmark* b) {
  b->Args({128, 1024, 77, 768, 1})->Args({256, 1024, 77, 768, 1})->Args({16, 384, 16, 384, 1});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_TrainGlueNet5)->Apply(train_shapes);
BENCHMARK(BM_TrainGlueNet3)->Apply(train_shapes);
BENCHMARK(BM_TrainF5Mse)->Apply(train_shapes);
BENCHMARK(BM_TrainF5LnMse)->Apply(train_shapes);
BENCHMARK(BM_TrainAttention)->Apply(train_shapes);
BENCHMARK(BM_TrainLaviAdapter)->Apply(train_shapes);
BENCHMARK(BM_AlignF5)->Apply(inference_shapes);
BENCHMARK(BM_AlignF3)->Apply(inference_shapes);
BENCHMARK(BM_AlignF5Ln)->Apply(inference_shapes);
BENCHMARK(BM_AlignAttention)->Apply(inference_shapes);
BENCHMARK(BM_AlignRidge)->Apply(inference_shapes);
BENCHMARK(BM_AlignLaviAdapter)->Apply(inference_shapes);
BENCHMARK(BM_AlignEllaConnector)->Apply(inference_shapes);

}  // namespace

BENCHMARK_MAIN();
