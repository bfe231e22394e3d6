#pragma once
// The kernel vocabulary every tensor policy implements. Shape logic lives once in ops.hpp; a policy
// only sees raw pointers, extents and strides that ops.hpp has already checked, so a new policy is
// a list of loops (or launches) and nothing else.
#include <gluegen/core/dtype.hpp>
#include <gluegen/core/shape.hpp>

#include <cmath>
#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace gluegen {

enum class BinaryOp : std::uint8_t { add, sub, mul, div };
/// y = f(x); `affine` is alpha * x + beta, `scale` alpha * x.
/// clamp: min(max(x, alpha), beta) (diffusers' clip_sample).
enum class UnaryOp : std::uint8_t { scale, affine, gelu_erf, gelu_tanh, silu, relu, clamp };
enum class ReduceOp : std::uint8_t { sum, mean, var };

/// Hyperparameters of one fused Adam/AdamW step (Kingma & Ba 2015, Alg. 1; Loshchilov & Hutter 2019,
/// Alg. 2). bias_correction1/2 are 1 - beta^t for the step t being taken.
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2;
  bool decoupled;  ///< AdamW (decay the weight directly) rather than Adam's L2 term in the gradient
};

/// One SGD step with momentum (PyTorch's formulation: buf = momentum * buf + (1 - dampening) * g,
/// initialised to g on the first step; nesterov uses g + momentum * buf).
struct SgdStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

/// Geometry of a 2-D convolution over x [batch, channels, height, width] with a kernel_h x kernel_w
/// window, stride and zero padding; out_h/out_w as torch: (in + 2 pad - kernel) / stride + 1.
struct ConvGeometry {
  index_t batch = 0, channels = 0, height = 0, width = 0;
  index_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  index_t out_h = 0, out_w = 0;
  [[nodiscard]] GLUEGEN_HOST_DEVICE index_t col_rows() const { return channels * kernel_h * kernel_w; }
  [[nodiscard]] GLUEGEN_HOST_DEVICE index_t col_cols() const { return out_h * out_w; }
};

/// One element of an Adam/AdamW step, in torch.optim.Adam's operation order. Shared by every policy
/// (a CPU loop, a CUDA kernel) so the update is the same arithmetic everywhere.
template <typename T>
GLUEGEN_HOST_DEVICE inline void adam_update(T& param, T grad, T& m, T& v, const AdamStep& s, T step_size, T bc2_sqrt) {
  const T lr = T(s.lr), wd = T(s.weight_decay);
  if (s.decoupled)
    param *= T(1) - lr * wd;
  else
    grad += wd * param;
  m += (T(1) - T(s.beta1)) * (grad - m);
  v = T(s.beta2) * v + (T(1) - T(s.beta2)) * grad * grad;
#if defined(__CUDA_ARCH__)
  const T root = sqrt(v);
#else
  const T root = std::sqrt(v);
#endif
  param -= step_size * m / (root / bc2_sqrt + T(s.eps));
}

/// One element of an SGD step (torch.optim.SGD's order), shared by every policy.
template <typename T>
GLUEGEN_HOST_DEVICE inline void sgd_update(T& param, T grad, T& buf, const SgdStep& s) {
  T d = grad + T(s.weight_decay) * param;
  if (s.momentum != 0) {
    buf = s.first_step ? d : T(s.momentum) * buf + (T(1) - T(s.dampening)) * d;
    d = s.nesterov ? d + T(s.momentum) * buf : buf;
  }
  param -= T(s.lr) * d;
}

/// The scalar type alpha/beta take in a GEMM over T (cuBLAS convention: f32 for f16/bf16 inputs).
template <Element T>
using GemmScalar = std::conditional_t<std::same_as<T, double>, double, float>;

/// One (possibly batched) row-major GEMM: C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], with
/// op(A) of size m x k and op(B) of size k x n. A is stored [m, k] (lda >= k) or, when trans_a,
/// [k, m] (lda >= m); likewise B. A batch stride of 0 reuses one matrix for every batch entry.
template <Element T>
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  index_t m = 0, n = 0, k = 0, batch = 1;
  GemmScalar<T> alpha = 1, beta = 0;
  const T* a = nullptr;
  index_t lda = 0, stride_a = 0;
  const T* b = nullptr;
  index_t ldb = 0, stride_b = 0;
  T* c = nullptr;
  index_t ldc = 0, stride_c = 0;
};

/// What a tensor policy provides. The concept lists the contract so that a policy missing a kernel
/// fails at the `static_assert(TensorPolicy<P>)` beside its definition with the missing member named.
template <typename P>
concept TensorPolicy = requires(float* out, const float* in, const Shape& shape, index_t n, const GemmArgs<float>& gemm,
                                std::uint64_t seed) {
  typename P::template Storage<float>;
  { P::name } -> std::convertible_to<std::string_view>;
  { P::is_device } -> std::convertible_to<bool>;
  P::template allocate<float>(n);
  P::copy_from_host(out, in, n);
  P::copy_to_host(out, in, n);
  P::fill(out, n, 1.0f);
  P::copy_strided(out, in, shape, shape);
  P::template convert<double, float>(static_cast<double*>(nullptr), in, n);
  P::binary(BinaryOp::add, in, shape, in, shape, out, shape);
  P::unary(UnaryOp::silu, in, n, out, 1.0f, 0.0f);
  P::unary_backward(UnaryOp::silu, in, in, n, out);
  P::axpy(n, 1.0f, in, out);
  P::reduce_last(ReduceOp::sum, in, n, n, out);
  P::softmax_last(in, n, n, out);
  P::norm_rows(in, in, in, n, n, 1e-5f, true, out, out, out);
  P::norm_rows_backward(in, in, in, in, in, n, n, true, out, out, out);
  P::softmax_backward(in, in, n, n, out);
  P::log_softmax_last(in, n, n, out);
  P::log_softmax_backward(in, in, n, n, out);
  P::column_sum(in, n, n, out, true);
  P::bernoulli_scale(out, n, seed, seed, 0.5f);
  P::adam_step(n, out, in, out, out, AdamStep{});
  P::sgd_step(n, out, in, out, SgdStep{});
  { P::sum_squares(in, n) } -> std::convertible_to<double>;
  P::gemm(gemm);
  P::im2col(in, ConvGeometry{}, out);
  P::col2im(in, ConvGeometry{}, out);
  P::upsample_nearest(in, n, n, n, n, 1.0f, out);
  P::block_sum(in, n, n, n, n, 1.0f, out);
  P::gather_rows(in, static_cast<const std::int32_t*>(nullptr), n, n, out);
  P::scatter_add_rows(in, static_cast<const std::int32_t*>(nullptr), n, n, out);
  P::fill_uniform(out, n, seed, seed, 0.0f, 1.0f);
  P::fill_normal(out, n, seed, seed, 0.0f, 1.0f);
  { P::count_nonfinite(in, n) } -> std::convertible_to<index_t>;
};

}  // namespace gluegen
