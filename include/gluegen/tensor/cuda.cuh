#pragma once
// The Cuda tensor policy: device storage in thrust::device_vector, GEMM through
// cublasGemmStridedBatchedEx (f32 and f64 exact; f16/bf16 inputs on tensor cores with f32
// accumulation), and own kernels for elementwise, row-wise and random-fill work. Include it only
// from CUDA translation units (compiled by nvcc); everything else in gluegen is plain C++.
//
// Kernels run on the default stream. Copies to the host synchronise; every launch is checked.
#if !defined(__CUDACC__)
#error "gluegen/tensor/cuda.cuh must be compiled by nvcc (a .cu file); the Cpu policy needs no CUDA"
#endif

#include <gluegen/core/rng.hpp>
#include <gluegen/tensor/kernels.hpp>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <thrust/device_vector.h>
#include <thrust/functional.h>
#include <thrust/transform_reduce.h>

#include <cmath>
#include <memory>
#include <mutex>

#define GLUEGEN_CUDA_CHECK(call)                                                                            \
  do {                                                                                                      \
    const cudaError_t gluegen_status_ = (call);                                                             \
    if (gluegen_status_ != cudaSuccess)                                                                     \
      GLUEGEN_THROW(::gluegen::CudaError, "{} failed: {} ({})", #call, cudaGetErrorString(gluegen_status_), \
                    cudaGetErrorName(gluegen_status_));                                                     \
  } while (false)

#define GLUEGEN_CUBLAS_CHECK(call)                                                                         \
  do {                                                                                                     \
    const cublasStatus_t gluegen_status_ = (call);                                                         \
    if (gluegen_status_ != CUBLAS_STATUS_SUCCESS)                                                          \
      GLUEGEN_THROW(::gluegen::CudaError, "{} failed: {}", #call, cublasGetStatusString(gluegen_status_)); \
  } while (false)

namespace gluegen {

/// True when a CUDA device is visible (tests use it to skip with a clear message when not).
inline bool cuda_device_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

namespace detail::cuda {

inline constexpr int kThreads = 256;

inline unsigned grid_for(index_t n) {
  return static_cast<unsigned>(std::min<index_t>((n + kThreads - 1) / kThreads, index_t{1} << 20));
}

/// Checks the launch just made (bad configuration, missing kernel image for this GPU).
inline void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) GLUEGEN_THROW(CudaError, "launching {} failed: {}", kernel, cudaGetErrorString(status));
}

/// One cuBLAS handle per device, created on first use, for the life of the process.
inline cublasHandle_t cublas_handle() {
  static std::mutex mutex;
  static std::array<cublasHandle_t, 64> handles{};
  int device = 0;
  GLUEGEN_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard lock(mutex);
  if (!handles[device]) GLUEGEN_CUBLAS_CHECK(cublasCreate(&handles[device]));
  return handles[device];
}

/// Strides/extents passed by value to kernels (Shape is trivially copyable).
struct Dims {
  index_t extent[Shape::kMaxRank];
  index_t stride_a[Shape::kMaxRank];
  index_t stride_b[Shape::kMaxRank];
  int rank;
};

__device__ inline void offsets(const Dims& d, index_t i, index_t& oa, index_t& ob) {
  oa = ob = 0;
  for (int axis = d.rank - 1; axis >= 0; --axis) {
    const index_t coord = i % d.extent[axis];
    i /= d.extent[axis];
    oa += coord * d.stride_a[axis];
    ob += coord * d.stride_b[axis];
  }
}

#define GLUEGEN_GRID_LOOP(i, n)                                                          \
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<index_t>(gridDim.x) * blockDim.x)

template <typename T>
__global__ void fill_kernel(T* out, index_t n, T value) {
  GLUEGEN_GRID_LOOP(i, n) out[i] = value;
}

template <typename To, typename From>
__global__ void convert_kernel(To* out, const From* in, index_t n) {
  GLUEGEN_GRID_LOOP(i, n) out[i] = gluegen::convert<To>(in[i]);
}

template <typename T>
__global__ void copy_strided_kernel(T* out, const T* in, Dims d, index_t n) {
  GLUEGEN_GRID_LOOP(i, n) {
    index_t src, unused;
    offsets(d, i, src, unused);
    out[i] = in[src];
  }
}

template <typename T>
__device__ inline T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add:
      return x + y;
    case BinaryOp::sub:
      return x - y;
    case BinaryOp::mul:
      return x * y;
    default:
      return x / y;
  }
}

template <typename T>
__global__ void binary_kernel(BinaryOp op, const T* a, const T* b, T* out, Dims d, index_t n) {
  GLUEGEN_GRID_LOOP(i, n) {
    index_t oa, ob;
    offsets(d, i, oa, ob);
    out[i] = apply(op, a[oa], b[ob]);
  }
}

template <typename T>
__global__ void binary_dense_kernel(BinaryOp op, const T* a, const T* b, T* out, index_t n) {
  GLUEGEN_GRID_LOOP(i, n) out[i] = apply(op, a[i], b[i]);
}

template <typename T>
__global__ void unary_kernel(UnaryOp op, const T* x, T* out, index_t n, T alpha, T beta) {
  GLUEGEN_GRID_LOOP(i, n) {
    const T v = x[i];
    switch (op) {
      case UnaryOp::scale:
        out[i] = alpha * v;
        break;
      case UnaryOp::affine:
        out[i] = alpha * v + beta;
        break;
      case UnaryOp::gelu_erf:
        out[i] = T(0.5) * v * (T(1) + erf(v * T(0.70710678118654752440)));
        break;
      case UnaryOp::gelu_tanh:
        out[i] = T(0.5) * v * (T(1) + tanh(T(0.79788456080286535588) * (v + T(0.044715) * v * v * v)));
        break;
      case UnaryOp::silu:
        out[i] = v / (T(1) + exp(-v));
        break;
      case UnaryOp::relu:
        out[i] = v > T(0) ? v : T(0);
        break;
      case UnaryOp::clamp:
        out[i] = v < alpha ? alpha : (v > beta ? beta : v);
        break;
    }
  }
}

template <typename T>
__global__ void unary_backward_kernel(UnaryOp op, const T* x, const T* dy, index_t n, T* dx) {
  GLUEGEN_GRID_LOOP(i, n) {
    const T v = x[i], g = dy[i];
    switch (op) {
      case UnaryOp::gelu_erf:
        dx[i] = g * (T(0.5) * (T(1) + erf(v * T(0.70710678118654752440))) +
                     v * exp(T(-0.5) * v * v) * T(0.39894228040143267794));
        break;
      case UnaryOp::gelu_tanh: {
        const T c = T(0.79788456080286535588), a = T(0.044715);
        const T t = tanh(c * (v + a * v * v * v));
        dx[i] = g * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * c * (T(1) + T(3) * a * v * v));
        break;
      }
      case UnaryOp::silu: {
        const T sig = T(1) / (T(1) + exp(-v));
        dx[i] = g * sig * (T(1) + v * (T(1) - sig));
        break;
      }
      case UnaryOp::relu:
        dx[i] = v > T(0) ? g : T(0);
        break;
      default:
        dx[i] = NAN;
        break;  // ops.hpp only passes activations
    }
  }
}

template <typename T>
__global__ void axpy_kernel(index_t n, T alpha, const T* x, T* y) {
  GLUEGEN_GRID_LOOP(i, n) y[i] += alpha * x[i];
}

template <typename T>
__global__ void count_nonfinite_kernel(const T* x, index_t n, unsigned long long* count) {
  unsigned long long local = 0;
  GLUEGEN_GRID_LOOP(i, n) local += !isfinite(x[i]);
  if (local) atomicAdd(count, local);
}

/// Sum over the block (kThreads threads); every thread gets the result.
template <typename T>
__device__ inline T block_sum(T value) {
  __shared__ T partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // partial[] may still be read by a previous call
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  T total = 0;
  for (int w = 0; w < kThreads / 32; ++w) total += partial[w];
  return total;
}

template <typename T>
__device__ inline T block_max(T value) {
  __shared__ T partial[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value = max(value, __shfl_xor_sync(0xffffffffu, value, offset));
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) partial[warp] = value;
  __syncthreads();
  T best = partial[0];
  for (int w = 1; w < kThreads / 32; ++w) best = max(best, partial[w]);
  return best;
}

// One block per row for the row-wise kernels: rows here are feature vectors (64..4096 wide).
template <typename T>
__global__ void reduce_last_kernel(ReduceOp op, const T* x, index_t cols, T* out) {
  const T* row = x + blockIdx.x * cols;
  T sum = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c];
  sum = block_sum(sum);
  if (op == ReduceOp::var) {
    const T mean = sum / T(cols);
    T sq = 0;
    for (index_t c = threadIdx.x; c < cols; c += blockDim.x) sq += (row[c] - mean) * (row[c] - mean);
    sq = block_sum(sq);
    if (threadIdx.x == 0) out[blockIdx.x] = sq / T(cols);
  } else if (threadIdx.x == 0) {
    out[blockIdx.x] = op == ReduceOp::mean ? sum / T(cols) : sum;
  }
}

template <typename T>
__global__ void softmax_last_kernel(const T* x, index_t cols, T* out) {
  const T* row = x + blockIdx.x * cols;
  T* o = out + blockIdx.x * cols;
  T m = -INFINITY;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) m = max(m, row[c]);
  m = block_max(m);
  T sum = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const T e = exp(row[c] - m);
    o[c] = e;
    sum += e;
  }
  const T inv = T(1) / block_sum(sum);
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] *= inv;
}

template <typename T>
__global__ void norm_rows_kernel(const T* x, const T* gamma, const T* beta, index_t cols, T eps, bool center, T* y,
                                 T* mean_out, T* rstd_out) {
  const T* row = x + blockIdx.x * cols;
  T mean = 0;
  if (center) {
    T sum = 0;
    for (index_t c = threadIdx.x; c < cols; c += blockDim.x) sum += row[c];
    mean = block_sum(sum) / T(cols);
  }
  T sq = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) sq += (row[c] - mean) * (row[c] - mean);
  const T rstd = T(1) / sqrt(block_sum(sq) / T(cols) + eps);
  T* o = y + blockIdx.x * cols;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) {
    T v = (row[c] - mean) * rstd;
    if (gamma) v *= gamma[c];
    if (beta) v += beta[c];
    o[c] = v;
  }
  if (threadIdx.x == 0) {
    mean_out[blockIdx.x] = mean;
    rstd_out[blockIdx.x] = rstd;
  }
}

/// dx per row (one block per row); see Cpu::norm_rows_backward for the formula.
template <typename T>
__global__ void norm_rows_backward_dx_kernel(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                                             index_t cols, bool center, T* dx) {
  const index_t r = blockIdx.x;
  const T* xr = x + r * cols;
  const T* gr = dy + r * cols;
  T sum_g = 0, sum_gx = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const T g = gamma ? gr[c] * gamma[c] : gr[c];
    sum_g += g;
    sum_gx += g * (xr[c] - mean[r]) * rstd[r];
  }
  const T mean_g = center ? block_sum(sum_g) / T(cols) : T(0);
  const T mean_gx = block_sum(sum_gx) / T(cols);
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const T g = gamma ? gr[c] * gamma[c] : gr[c];
    dx[r * cols + c] = rstd[r] * (g - mean_g - (xr[c] - mean[r]) * rstd[r] * mean_gx);
  }
}

/// dgamma[c] += sum_r dy xhat, dbeta[c] += sum_r dy: one thread per column, rows in order (deterministic).
template <typename T>
__global__ void norm_rows_backward_params_kernel(const T* x, const T* mean, const T* rstd, const T* dy, index_t rows,
                                                 index_t cols, T* dgamma, T* dbeta) {
  GLUEGEN_GRID_LOOP(c, cols) {
    T g = 0, b = 0;
    for (index_t r = 0; r < rows; ++r) {
      g += dy[r * cols + c] * (x[r * cols + c] - mean[r]) * rstd[r];
      b += dy[r * cols + c];
    }
    if (dgamma) dgamma[c] += g;
    if (dbeta) dbeta[c] += b;
  }
}

template <typename T>
__global__ void softmax_backward_kernel(const T* y, const T* dy, index_t cols, T* dx) {
  const T* yr = y + blockIdx.x * cols;
  const T* gr = dy + blockIdx.x * cols;
  T dot = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) dot += yr[c] * gr[c];
  dot = block_sum(dot);
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) dx[blockIdx.x * cols + c] = yr[c] * (gr[c] - dot);
}

template <typename T>
__global__ void log_softmax_last_kernel(const T* x, index_t cols, T* out) {
  const T* row = x + blockIdx.x * cols;
  T m = -INFINITY;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) m = max(m, row[c]);
  m = block_max(m);
  T sum = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) sum += exp(row[c] - m);
  const T lse = m + log(block_sum(sum));
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) out[blockIdx.x * cols + c] = row[c] - lse;
}

template <typename T>
__global__ void log_softmax_backward_kernel(const T* y, const T* dy, index_t cols, T* dx) {
  const T* yr = y + blockIdx.x * cols;
  const T* gr = dy + blockIdx.x * cols;
  T sum = 0;
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) sum += gr[c];
  sum = block_sum(sum);
  for (index_t c = threadIdx.x; c < cols; c += blockDim.x) dx[blockIdx.x * cols + c] = gr[c] - exp(yr[c]) * sum;
}

template <typename T>
__global__ void column_sum_kernel(const T* x, index_t rows, index_t cols, T* out, bool accumulate) {
  GLUEGEN_GRID_LOOP(c, cols) {
    T sum = 0;
    for (index_t r = 0; r < rows; ++r) sum += x[r * cols + c];
    out[c] = accumulate ? out[c] + sum : sum;
  }
}

template <typename T>
__global__ void bernoulli_scale_kernel(T* mask, index_t n, std::uint64_t seed, std::uint64_t stream, T keep) {
  GLUEGEN_GRID_LOOP(i, n)
  mask[i] = rng::uniform_at(seed, stream, static_cast<std::uint64_t>(i)) < keep ? T(1) / keep : T(0);
}

template <typename T>
__global__ void adam_step_kernel(index_t n, T* param, const T* grad, T* m, T* v, AdamStep s) {
  const T step_size = T(s.lr / s.bias_correction1), bc2_sqrt = T(sqrt(s.bias_correction2));
  GLUEGEN_GRID_LOOP(i, n) adam_update(param[i], grad[i], m[i], v[i], s, step_size, bc2_sqrt);
}

template <typename T>
__global__ void sgd_step_kernel(index_t n, T* param, const T* grad, T* buf, SgdStep s) {
  GLUEGEN_GRID_LOOP(i, n) sgd_update(param[i], grad[i], buf[i], s);
}

/// One thread per column entry (b, c, i, j, oh, ow).
template <typename T>
__global__ void im2col_kernel(const T* x, ConvGeometry g, T* cols) {
  const index_t taps = g.kernel_h * g.kernel_w, n = g.batch * g.channels * taps * g.col_cols();
  GLUEGEN_GRID_LOOP(idx, n) {
    const index_t ow = idx % g.out_w, oh = (idx / g.out_w) % g.out_h, tap = (idx / g.col_cols()) % taps,
                  bc = idx / (g.col_cols() * taps);
    const index_t h = oh * g.stride_h - g.pad_h + tap / g.kernel_w, w = ow * g.stride_w - g.pad_w + tap % g.kernel_w;
    cols[idx] = (h >= 0 && h < g.height && w >= 0 && w < g.width) ? x[(bc * g.height + h) * g.width + w] : T(0);
  }
}

/// One thread per input pixel, gathering the column entries that read it (no atomics, deterministic).
template <typename T>
__global__ void col2im_kernel(const T* cols, ConvGeometry g, T* dx) {
  const index_t n = g.batch * g.channels * g.height * g.width, taps = g.kernel_h * g.kernel_w;
  GLUEGEN_GRID_LOOP(idx, n) {
    const index_t w = idx % g.width, h = (idx / g.width) % g.height, bc = idx / (g.width * g.height);
    T sum = 0;
    for (index_t i = 0; i < g.kernel_h; ++i) {
      const index_t oh_s = h + g.pad_h - i;
      if (oh_s < 0 || oh_s % g.stride_h != 0 || oh_s / g.stride_h >= g.out_h) continue;
      for (index_t j = 0; j < g.kernel_w; ++j) {
        const index_t ow_s = w + g.pad_w - j;
        if (ow_s < 0 || ow_s % g.stride_w != 0 || ow_s / g.stride_w >= g.out_w) continue;
        sum += cols[((bc * taps + i * g.kernel_w + j) * g.out_h + oh_s / g.stride_h) * g.out_w + ow_s / g.stride_w];
      }
    }
    dx[idx] = sum;
  }
}

template <typename T>
__global__ void upsample_nearest_kernel(const T* x, index_t planes, index_t height, index_t width, index_t factor,
                                        T scale, T* y) {
  const index_t oh = height * factor, ow = width * factor;
  GLUEGEN_GRID_LOOP(idx, planes * oh * ow) {
    const index_t w = idx % ow, h = (idx / ow) % oh, p = idx / (oh * ow);
    y[idx] = scale * x[(p * height + h / factor) * width + w / factor];
  }
}

template <typename T>
__global__ void block_sum_kernel(const T* x, index_t planes, index_t height, index_t width, index_t factor, T scale,
                                 T* y) {
  const index_t oh = height / factor, ow = width / factor;
  GLUEGEN_GRID_LOOP(idx, planes * oh * ow) {
    const index_t w = idx % ow, h = (idx / ow) % oh, p = idx / (oh * ow);
    T sum = 0;
    for (index_t i = 0; i < factor; ++i)
      for (index_t j = 0; j < factor; ++j) sum += x[(p * height + h * factor + i) * width + w * factor + j];
    y[idx] = scale * sum;
  }
}

template <typename T>
__global__ void gather_rows_kernel(const T* table, const std::int32_t* ids, index_t n, index_t dim, T* out) {
  GLUEGEN_GRID_LOOP(idx, n * dim) out[idx] = table[ids[idx / dim] * dim + idx % dim];
}

/// One thread per table column, rows in id order: deterministic accumulation of repeated ids.
template <typename T>
__global__ void scatter_add_rows_kernel(const T* dout, const std::int32_t* ids, index_t n, index_t dim, T* dtable) {
  GLUEGEN_GRID_LOOP(k, dim) {
    for (index_t i = 0; i < n; ++i) dtable[ids[i] * dim + k] += dout[i * dim + k];
  }
}

template <typename T>
struct Square {
  __host__ __device__ double operator()(T v) const { return static_cast<double>(v) * static_cast<double>(v); }
};

template <typename T>
__global__ void fill_uniform_kernel(T* out, index_t n, std::uint64_t seed, std::uint64_t stream, T lo, T hi) {
  GLUEGEN_GRID_LOOP(i, n)
  out[i] = static_cast<T>(lo + (hi - lo) * rng::uniform_at(seed, stream, static_cast<std::uint64_t>(i)));
}

/// One thread per Philox block of 4 values (Box-Muller pairs share their log and sincos).
template <typename T>
__global__ void fill_normal_kernel(T* out, index_t n, std::uint64_t seed, std::uint64_t stream, T mean, T stddev) {
  GLUEGEN_GRID_LOOP(block, (n + 3) / 4) {
    double z[4];
    rng::normal4(seed, stream, static_cast<std::uint64_t>(block), z);
    for (index_t j = 0, i = 4 * block; j < 4 && i < n; ++j, ++i) out[i] = static_cast<T>(mean + stddev * z[j]);
  }
}

#undef GLUEGEN_GRID_LOOP

template <typename T>
struct CublasType;
template <>
struct CublasType<float> {
  static constexpr cudaDataType_t data = CUDA_R_32F;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
};
template <>
struct CublasType<double> {
  static constexpr cudaDataType_t data = CUDA_R_64F;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_64F;
};
template <>
struct CublasType<f16> {
  static constexpr cudaDataType_t data = CUDA_R_16F;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
};
template <>
struct CublasType<bf16> {
  static constexpr cudaDataType_t data = CUDA_R_16BF;
  static constexpr cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
};

inline Dims make_dims(const Shape& shape, const Shape& sa, const Shape& sb) {
  Dims d{};
  d.rank = shape.rank();
  for (int i = 0; i < d.rank; ++i) {
    d.extent[i] = shape[i];
    d.stride_a[i] = sa[i];
    d.stride_b[i] = sb[i];
  }
  return d;
}

}  // namespace detail::cuda

struct Cuda {
  static constexpr std::string_view name = "cuda";
  static constexpr bool is_device = true;

  template <Element T>
  using Storage = thrust::device_vector<T>;

  template <Element T>
  static std::shared_ptr<Storage<T>> allocate(index_t n) {
    return std::make_shared<Storage<T>>(static_cast<std::size_t>(n));
  }
  template <Element T>
  static T* raw(Storage<T>& s) noexcept {
    return thrust::raw_pointer_cast(s.data());
  }

  template <Element T>
  static void copy_from_host(T* dst, const T* src, index_t n) {
    if (n > 0)
      GLUEGEN_CUDA_CHECK(cudaMemcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T), cudaMemcpyHostToDevice));
  }
  template <Element T>
  static void copy_to_host(T* dst, const T* src, index_t n) {
    if (n > 0)
      GLUEGEN_CUDA_CHECK(cudaMemcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T), cudaMemcpyDeviceToHost));
  }
  template <Element T>
  static void fill(T* dst, index_t n, T value) {
    if (n == 0) return;
    detail::cuda::fill_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(dst, n, value);
    detail::cuda::check_launch("fill_kernel");
  }
  template <Element To, Element From>
  static void convert(To* dst, const From* src, index_t n) {
    if (n == 0) return;
    detail::cuda::convert_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(dst, src, n);
    detail::cuda::check_launch("convert_kernel");
  }
  template <Element T>
  static void copy_strided(T* dst, const T* src, const Shape& shape, const Shape& src_strides) {
    const index_t n = shape.numel();
    if (n == 0) return;
    detail::cuda::copy_strided_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(
        dst, src, detail::cuda::make_dims(shape, src_strides, src_strides), n);
    detail::cuda::check_launch("copy_strided_kernel");
  }
  template <ComputeElement T>
  static void binary(BinaryOp op, const T* a, const Shape& a_strides, const T* b, const Shape& b_strides, T* out,
                     const Shape& out_shape) {
    const index_t n = out_shape.numel();
    const Shape dense = out_shape.contiguous_strides();
    if (a_strides == dense && b_strides == dense) {
      detail::cuda::binary_dense_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(op, a, b, out, n);
    } else {
      detail::cuda::binary_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(
          op, a, b, out, detail::cuda::make_dims(out_shape, a_strides, b_strides), n);
    }
    detail::cuda::check_launch("binary_kernel");
  }
  template <ComputeElement T>
  static void unary(UnaryOp op, const T* x, index_t n, T* out, T alpha, T beta) {
    if (n == 0) return;
    detail::cuda::unary_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(op, x, out, n, alpha, beta);
    detail::cuda::check_launch("unary_kernel");
  }
  template <ComputeElement T>
  static void unary_backward(UnaryOp op, const T* x, const T* dy, index_t n, T* dx) {
    if (n == 0) return;
    detail::cuda::unary_backward_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(op, x, dy, n, dx);
    detail::cuda::check_launch("unary_backward_kernel");
  }
  template <ComputeElement T>
  static void axpy(index_t n, T alpha, const T* x, T* y) {
    if (n == 0) return;
    detail::cuda::axpy_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(n, alpha, x, y);
    detail::cuda::check_launch("axpy_kernel");
  }
  template <ComputeElement T>
  static void reduce_last(ReduceOp op, const T* x, index_t rows, index_t cols, T* out) {
    if (rows == 0) return;
    detail::cuda::reduce_last_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(op, x, cols, out);
    detail::cuda::check_launch("reduce_last_kernel");
  }
  template <ComputeElement T>
  static void softmax_last(const T* x, index_t rows, index_t cols, T* out) {
    if (rows == 0) return;
    detail::cuda::softmax_last_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(x, cols, out);
    detail::cuda::check_launch("softmax_last_kernel");
  }
  template <ComputeElement T>
  static void norm_rows(const T* x, const T* gamma, const T* beta, index_t rows, index_t cols, T eps, bool center, T* y,
                        T* mean, T* rstd) {
    if (rows == 0) return;
    detail::cuda::norm_rows_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(x, gamma, beta, cols, eps,
                                                                                            center, y, mean, rstd);
    detail::cuda::check_launch("norm_rows_kernel");
  }
  template <ComputeElement T>
  static void norm_rows_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy, index_t rows,
                                 index_t cols, bool center, T* dx, T* dgamma, T* dbeta) {
    if (rows == 0) return;
    detail::cuda::norm_rows_backward_dx_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(
        x, gamma, mean, rstd, dy, cols, center, dx);
    detail::cuda::check_launch("norm_rows_backward_dx_kernel");
    if (dgamma || dbeta) {
      detail::cuda::norm_rows_backward_params_kernel<<<detail::cuda::grid_for(cols), detail::cuda::kThreads>>>(
          x, mean, rstd, dy, rows, cols, dgamma, dbeta);
      detail::cuda::check_launch("norm_rows_backward_params_kernel");
    }
  }
  template <ComputeElement T>
  static void softmax_backward(const T* y, const T* dy, index_t rows, index_t cols, T* dx) {
    if (rows == 0) return;
    detail::cuda::softmax_backward_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(y, dy, cols, dx);
    detail::cuda::check_launch("softmax_backward_kernel");
  }
  template <ComputeElement T>
  static void log_softmax_last(const T* x, index_t rows, index_t cols, T* out) {
    if (rows == 0) return;
    detail::cuda::log_softmax_last_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(x, cols, out);
    detail::cuda::check_launch("log_softmax_last_kernel");
  }
  template <ComputeElement T>
  static void log_softmax_backward(const T* y, const T* dy, index_t rows, index_t cols, T* dx) {
    if (rows == 0) return;
    detail::cuda::log_softmax_backward_kernel<<<static_cast<unsigned>(rows), detail::cuda::kThreads>>>(y, dy, cols, dx);
    detail::cuda::check_launch("log_softmax_backward_kernel");
  }
  template <ComputeElement T>
  static void column_sum(const T* x, index_t rows, index_t cols, T* out, bool accumulate) {
    if (cols == 0) return;
    detail::cuda::column_sum_kernel<<<detail::cuda::grid_for(cols), detail::cuda::kThreads>>>(x, rows, cols, out,
                                                                                              accumulate);
    detail::cuda::check_launch("column_sum_kernel");
  }
  template <ComputeElement T>
  static void bernoulli_scale(T* mask, index_t n, std::uint64_t seed, std::uint64_t stream, T keep) {
    if (n == 0) return;
    detail::cuda::bernoulli_scale_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(mask, n, seed, stream,
                                                                                                keep);
    detail::cuda::check_launch("bernoulli_scale_kernel");
  }
  template <ComputeElement T>
  static void adam_step(index_t n, T* param, const T* grad, T* m, T* v, const AdamStep& s) {
    if (n == 0) return;
    detail::cuda::adam_step_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(n, param, grad, m, v, s);
    detail::cuda::check_launch("adam_step_kernel");
  }
  template <ComputeElement T>
  static void sgd_step(index_t n, T* param, const T* grad, T* buf, const SgdStep& s) {
    if (n == 0) return;
    detail::cuda::sgd_step_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(n, param, grad, buf, s);
    detail::cuda::check_launch("sgd_step_kernel");
  }
  template <ComputeElement T>
  static void im2col(const T* x, const ConvGeometry& g, T* cols) {
    const index_t n = g.batch * g.col_rows() * g.col_cols();
    if (n == 0) return;
    detail::cuda::im2col_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(x, g, cols);
    detail::cuda::check_launch("im2col_kernel");
  }
  template <ComputeElement T>
  static void col2im(const T* cols, const ConvGeometry& g, T* dx) {
    const index_t n = g.batch * g.channels * g.height * g.width;
    if (n == 0) return;
    detail::cuda::col2im_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(cols, g, dx);
    detail::cuda::check_launch("col2im_kernel");
  }
  template <ComputeElement T>
  static void upsample_nearest(const T* x, index_t planes, index_t height, index_t width, index_t factor, T scale,
                               T* y) {
    const index_t n = planes * height * width * factor * factor;
    if (n == 0) return;
    detail::cuda::upsample_nearest_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(
        x, planes, height, width, factor, scale, y);
    detail::cuda::check_launch("upsample_nearest_kernel");
  }
  template <ComputeElement T>
  static void block_sum(const T* x, index_t planes, index_t height, index_t width, index_t factor, T scale, T* y) {
    const index_t n = planes * (height / factor) * (width / factor);
    if (n == 0) return;
    detail::cuda::block_sum_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(x, planes, height, width,
                                                                                          factor, scale, y);
    detail::cuda::check_launch("block_sum_kernel");
  }
  template <ComputeElement T>
  static void gather_rows(const T* table, const std::int32_t* ids, index_t n, index_t dim, T* out) {
    if (n * dim == 0) return;
    detail::cuda::gather_rows_kernel<<<detail::cuda::grid_for(n * dim), detail::cuda::kThreads>>>(table, ids, n, dim,
                                                                                                  out);
    detail::cuda::check_launch("gather_rows_kernel");
  }
  template <ComputeElement T>
  static void scatter_add_rows(const T* dout, const std::int32_t* ids, index_t n, index_t dim, T* dtable) {
    if (n * dim == 0) return;
    detail::cuda::scatter_add_rows_kernel<<<detail::cuda::grid_for(dim), detail::cuda::kThreads>>>(dout, ids, n, dim,
                                                                                                   dtable);
    detail::cuda::check_launch("scatter_add_rows_kernel");
  }
  template <ComputeElement T>
  static double sum_squares(const T* x, index_t n) {
    const thrust::device_ptr<const T> p(x);
    return thrust::transform_reduce(p, p + n, detail::cuda::Square<T>{}, 0.0, thrust::plus<double>());
  }

  /// Row-major C = A B is column-major C^T = B^T A^T, so cuBLAS gets the operands swapped.
  template <Element T>
  static void gemm(const GemmArgs<T>& g) {
    using Types = detail::cuda::CublasType<T>;
    const GemmScalar<T> alpha = g.alpha, beta = g.beta;
    GLUEGEN_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        detail::cuda::cublas_handle(), g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
        static_cast<int>(g.n), static_cast<int>(g.m), static_cast<int>(g.k), &alpha, g.b, Types::data,
        static_cast<int>(g.ldb), g.stride_b, g.a, Types::data, static_cast<int>(g.lda), g.stride_a, &beta, g.c,
        Types::data, static_cast<int>(g.ldc), g.stride_c, static_cast<int>(g.batch), Types::compute,
        CUBLAS_GEMM_DEFAULT));
  }

  template <ComputeElement T>
  static void fill_uniform(T* dst, index_t n, std::uint64_t seed, std::uint64_t stream, T lo, T hi) {
    if (n == 0) return;
    detail::cuda::fill_uniform_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(dst, n, seed, stream, lo,
                                                                                             hi);
    detail::cuda::check_launch("fill_uniform_kernel");
  }
  template <ComputeElement T>
  static void fill_normal(T* dst, index_t n, std::uint64_t seed, std::uint64_t stream, T mean, T stddev) {
    if (n == 0) return;
    detail::cuda::fill_normal_kernel<<<detail::cuda::grid_for((n + 3) / 4), detail::cuda::kThreads>>>(
        dst, n, seed, stream, mean, stddev);
    detail::cuda::check_launch("fill_normal_kernel");
  }
  template <ComputeElement T>
  static index_t count_nonfinite(const T* x, index_t n) {
    if (n == 0) return 0;
    thrust::device_vector<unsigned long long> count(1, 0);
    detail::cuda::count_nonfinite_kernel<<<detail::cuda::grid_for(n), detail::cuda::kThreads>>>(
        x, n, thrust::raw_pointer_cast(count.data()));
    detail::cuda::check_launch("count_nonfinite_kernel");
    return static_cast<index_t>(count[0]);
  }
};

static_assert(TensorPolicy<Cuda>);

}  // namespace gluegen
