// LaVi-Bridge's released checkpoint (T5 + LoRA -> adapter -> UNet + LoRA), converted by
// tools/convert_lavi_bridge.py, sampled with guidance. argv[1]: the repository root.
#include <gluegen/pipeline/lavi_bridge_file.hpp>
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/diffusion/sampling.hpp>

#include <cassert>
#include <string>

int main(int argc, char** argv) {
  using namespace gluegen;
  using Tf = Tensor<float, Cpu>;
  const std::string data = std::string(argc > 1 ? argv[1] : ".") + "/tests/data/";

  // The frozen models (here tiny random test models) and the converted LaVi-Bridge file.
  const io::WeightReader t5_file(data + "text/t5_tiny.h5"), lavi(data + "lavi_bridge_converted.h5");
  encoders::T5Encoder<float, Cpu> t5(encoders::T5Config::from_json(t5_file.meta().config));
  encoders::load_t5_weights(t5, t5_file);
  auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(data + "diffusion/unet_sd1.h5"));

  // The file's LoRA goes into the language model and the UNet; its adapter bridges the two.
  add_lavi_bridge_lora(lavi, t5);
  add_lavi_bridge_lora(lavi, unet);
  auto adapter = aligners::load_lavi_bridge_adapter<float, Cpu>(lavi);

  // Token ids of the prompt and of "" (LaVi-Bridge pads both to one length and passes no mask).
  const auto ids = Tensor<std::int32_t, Cpu>::from_host({2, 4}, std::vector<std::int32_t>{13, 7, 42, 1, 1, 0, 0, 0});
  encoders::T5Encoder<float, Cpu>::Cache tc;
  aligners::LaviBridgeAdapter<float, Cpu>::Cache ac;
  const Tf features = t5.forward(ids, Tensor<std::int32_t, Cpu>::full(ids.shape(), 1), tc).last_hidden_state;
  const Tf cond_both = adapter.forward(features, ac).clone();  // [2, 4, cross_attention_dim]
  const Tf cond = cond_both.slice(0, 1).contiguous(), empty = cond_both.slice(1, 2).contiguous();

  auto scheduler = diffusion::AnyScheduler<float, Cpu>::from_config("DPMSolverMultistepScheduler",
                                                                    {{"beta_schedule", "scaled_linear"}});
  const Tf latents = diffusion::sample(unet, scheduler, cond, &empty, ops::randn<float, Cpu>({1, 4, 16, 16}, 1),
                                       {.steps = 10, .guidance_scale = 7.5});
  assert(latents.shape() == (Shape{1, 4, 16, 16}));
}
