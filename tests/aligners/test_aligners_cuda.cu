// The aligners and the trainer on the Cuda policy against the Cpu policy (skipped without a GPU).
// Initialisation is Philox-seeded per element, so both policies start from identical parameters.
// Tolerances: max scaled error 1e-4 for losses and outputs, 2e-4 for gradients (cuBLAS and the CPU
// GEMM sum in different orders through several layers).
#include <gluegen/aligners/gluenet.hpp>
#include <gluegen/aligners/timestep_connector.hpp>
#include <gluegen/tensor/cuda.cuh>
#include <gluegen/train/trainer.hpp>

#include <gtest/gtest.h>

#include "support/reference.hpp"
#include "support/synthetic.hpp"

namespace gluegen {
namespace {

using test::all_close;

#define SKIP_WITHOUT_GPU() \
  if (!cuda_device_available()) GTEST_SKIP() << "skipped: no CUDA device"

template <typename M>
std::vector<std::vector<float>> grads_of(M& m) {
  std::vector<std::vector<float>> out;
  m.visit_parameters(
      [&](const std::string&, auto& p) { out.push_back(p.has_grad() ? p.grad.to_vector() : std::vector<float>{}); },
      "");
  return out;
}

TEST(CudaAligners, GlueNetTrainingStepMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const aligners::GlueNetConfig cfg{
      .num_tok = 6, .num_tok_target = 5, .dim_source = 16, .dim_target = 12, .mult = 2, .depth = 2};
  aligners::GlueNet<float, Cpu> cpu(cfg, 4);
  aligners::GlueNet<float, Cuda> gpu(cfg, 4);
  const auto s = ops::randn<float, Cpu>({4, 6, 16}, 1), t = ops::randn<float, Cpu>({4, 5, 12}, 2);
  const auto sm = Tensor<float, Cpu>::full({4, 6}, 1.f), tm = Tensor<float, Cpu>::full({4, 5}, 1.f);
  aligners::GlueNet<float, Cpu>::Cache cc;
  aligners::GlueNet<float, Cuda>::Cache gc;
  const auto lc = cpu.train_step(s, sm, t, tm, cc);
  const auto lg = gpu.train_step(ops::transfer<Cuda>(s), ops::transfer<Cuda>(sm), ops::transfer<Cuda>(t),
                                 ops::transfer<Cuda>(tm), gc);
  for (std::size_t i = 0; i < lc.terms.size(); ++i)
    EXPECT_NEAR(lc.terms[i].second, lg.terms[i].second, 1e-4 * (1 + std::abs(lc.terms[i].second)));
  const auto a = grads_of(cpu), b = grads_of(gpu);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(all_close(b[i], a[i], 2e-4)) << "parameter " << i;
}

TEST(CudaAligners, TimestepConnectorMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const aligners::TimestepConnectorConfig cfg{.time_channel = 16,
                                              .time_embed_dim = 24,
                                              .width = 32,
                                              .layers = 2,
                                              .heads = 4,
                                              .num_latents = 8,
                                              .input_dim = 20};
  aligners::TimestepConnector<float, Cpu> cpu(cfg, 5);
  aligners::TimestepConnector<float, Cuda> gpu(cfg, 5);
  const auto x = ops::randn<float, Cpu>({3, 7, 20}, 1);
  const std::vector<double> t{999.0, 500.0, 1.0};
  aligners::TimestepConnector<float, Cpu>::Cache cc;
  aligners::TimestepConnector<float, Cuda>::Cache gc;
  EXPECT_TRUE(
      all_close(gpu.forward(ops::transfer<Cuda>(x), t, gc).to_vector(), cpu.forward(x, t, cc).to_vector(), 1e-4));
  const auto dy = ops::randn<float, Cpu>({3, 8, 32}, 2);
  EXPECT_TRUE(all_close(gpu.backward(ops::transfer<Cuda>(dy), gc).to_vector(), cpu.backward(dy, cc).to_vector(), 2e-4));
  const auto a = grads_of(cpu), b = grads_of(gpu);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(all_close(b[i], a[i], 2e-4)) << "parameter " << i;
}

TEST(CudaAligners, TrainerRunsOnTheDeviceAndFollowsTheCpuRun) {
  SKIP_WITHOUT_GPU();
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("gluegen_cuda_trainer_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    train::FeatureShardWriter out(dir / "shards", test::SyntheticCorpus{}.spec(), 32);
    test::SyntheticCorpus{}.write(out, 0, 64);
    out.finish();
  }
  const train::FeatureDataset data(dir / "shards");
  const aligners::GlueNetConfig cfg{.num_tok = 6,
                                    .num_tok_target = 5,
                                    .dim_source = 8,
                                    .dim_target = 7,
                                    .mult = 2,
                                    .depth = 1,
                                    .lambda_mse = 1.0,
                                    .lambda_rec = 0.1,
                                    .lambda_adv = 0.01};
  const auto options = [&](const char* run, std::vector<double>& losses) {
    return train::TrainerOptions{
        .run_dir = dir / run,
        .steps = 20,
        .batch_size = 8,
        .held_out = 8,
        .adam = {.lr = 3e-3},
        .eval_every = 20,
        .checkpoint_every = 10,
        .progress = false,
        .on_step = [&losses](const train::StepReport& r) { losses.push_back(r.losses.total()); }};
  };
  std::vector<double> cpu_losses, gpu_losses;
  aligners::GlueNet<float, Cpu> cpu(cfg, 2);
  aligners::GlueNet<float, Cuda> gpu(cfg, 2);
  const auto rc = train::Trainer(cpu, data, options("cpu", cpu_losses), {.model_type = "gluegen.gluenet"}).run();
  const auto rg = train::Trainer(gpu, data, options("gpu", gpu_losses), {.model_type = "gluegen.gluenet"}).run();
  EXPECT_TRUE(all_close(gpu_losses, cpu_losses, 1e-3));
  ASSERT_TRUE(rc.evaluation && rg.evaluation);
  EXPECT_NEAR(rg.evaluation->all.mse, rc.evaluation->all.mse, 1e-3 * (1 + rc.evaluation->all.mse));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gluegen
