#pragma once
// Umbrella header for the tensor layer on the CPU: Tensor, the Cpu policy and the ops.
// CUDA translation units additionally include <gluegen/tensor/cuda.cuh>.
#include <gluegen/tensor/cpu.hpp>
#include <gluegen/tensor/ops.hpp>
#include <gluegen/tensor/tensor.hpp>
