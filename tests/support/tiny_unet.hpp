#pragma once
// The smallest UNet with both block kinds and cross-attention (2 -> 2 channels, widths 4/8, 8x8
// samples, context width 6): fast enough for finite differences and training-loop tests.
#include <gluegen/diffusion/unet_config.hpp>

namespace gluegen::test {
inline diffusion::UNet2DConditionConfig tiny_unet_config() {
  diffusion::UNet2DConditionConfig c;
  c.in_channels = c.out_channels = 2;
  c.sample_size = 8;
  c.block_out_channels = {4, 8};
  c.down_block_types = {"DownBlock2D", "CrossAttnDownBlock2D"};
  c.up_block_types = {"CrossAttnUpBlock2D", "UpBlock2D"};
  c.layers_per_block = 1;
  c.norm_num_groups = 2;
  c.cross_attention_dim = 6;
  c.heads = {2, 2};
  c.transformer_layers_per_block = {1, 1};
  return c;
}
}  // namespace gluegen::test
