// docs/tensor.md: creating tensors, views, ops, and the `out` form that reuses buffers.
#include <gluegen/tensor.hpp>

#include <cassert>

int main() {
  using namespace gluegen;
  using Tf = Tensor<float, Cpu>;

  // Seeded N(0, 1) features for 2 prompts x 77 tokens x 768 channels.
  const Tf x = ops::randn<float, Cpu>({2, 77, 768}, /*seed=*/42);
  const Tf w = ops::randn<float, Cpu>({768, 256}, /*seed=*/43);

  // [2, 77, 768] x [768, 256] -> [2, 77, 256]: a rank-2 operand is shared by every batch entry.
  const Tf y = ops::matmul(x, w);
  assert((y.shape() == Shape{2, 77, 256}));

  // Views copy nothing; matmul reads a transposed view as a transpose flag.
  const Tf gram = ops::matmul(x, x.transpose_last2());  // [2, 77, 77]
  assert(gram.shape() == (Shape{2, 77, 77}) && x.transpose_last2().shares_storage_with(x));

  // Broadcasting follows numpy: [2, 77, 256] + [256].
  const Tf h = ops::gelu(ops::add(y, Tf::full({256}, 0.1f)));

  // The `out` form allocates on first use and reuses the buffer afterwards (no allocation per step).
  Tf probs;
  for (int step = 0; step < 3; ++step) ops::softmax_last(gram, probs);
  const Tf row_sums = ops::sum_last(probs);  // every row of a softmax sums to 1
  for (float s : row_sums.to_vector()) assert(std::abs(s - 1.0f) < 1e-5f);

  // f16/bf16 are storage types: cast to f32 to compute.
  const Tensor<bf16, Cpu> stored = h.cast<bf16>();
  assert(stored.cast<float>().shape() == h.shape());
  return 0;
}
