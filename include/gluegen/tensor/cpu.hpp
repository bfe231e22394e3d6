#pragma once
// The Cpu tensor policy: xtensor storage (xt::uvector, uninitialised) and xtensor expressions for
// elementwise work, Eigen for GEMM and row-wise kernels (reductions, softmax, LayerNorm).
//
// Threads: Eigen's GEMM uses OpenMP by itself once a product is large enough; row kernels and flat
// elementwise loops split across OpenMP threads above kParallelElements, where the fork/join cost
// (a few microseconds) is small beside the work.
#include <gluegen/core/rng.hpp>
#include <gluegen/tensor/cpu_block_cache.hpp>
#include <gluegen/tensor/kernels.hpp>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>  // vectorised erf
#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xstrided_view.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xutils.hpp>

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <numbers>
#include <optional>
#include <utility>
#include <vector>

namespace gluegen {

namespace detail {

inline constexpr index_t kParallelElements = index_t{1} << 15;

/// Runs f(begin, end) over [0, n) in one chunk per OpenMP thread, or inline when n is small.
template <typename F>
void parallel_ranges(index_t n, index_t parallel_above, F&& f) {
  if (n < parallel_above || omp_in_parallel() || omp_get_max_threads() == 1) {
    f(index_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const index_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const index_t begin = n * t / threads, end = n * (t + 1) / threads;
    if (begin < end) f(begin, end);
  }
}

/// Calls f.template operator()<R>() with R the run-time rank (1..kMaxRank), so xtensor adaptors get a
/// fixed-rank, allocation-free shape type.
template <typename F>
decltype(auto) with_rank(int rank, F&& f) {
  switch (rank) {
    case 1:
      return f.template operator()<1>();
    case 2:
      return f.template operator()<2>();
    case 3:
      return f.template operator()<3>();
    case 4:
      return f.template operator()<4>();
    case 5:
      return f.template operator()<5>();
    default:
      GLUEGEN_THROW(ShapeError, "rank {} is outside 1..{}", rank, Shape::kMaxRank);
  }
}

/// An xtensor view of R axes over raw memory. A zero stride marks a broadcast axis: it is given
/// extent 1, and xtensor's own broadcasting stretches it, so the adaptor's element count always
/// equals the memory it spans (xtensor requires that of an adaptor).
template <std::size_t R, typename T>
auto strided_adapt(T* ptr, const Shape& shape, const Shape& strides) {
  std::array<std::size_t, R> sh{};
  std::array<std::ptrdiff_t, R> st{};
  std::size_t size = 1;
  for (std::size_t i = 0; i < R; ++i) {
    const int axis = static_cast<int>(i);
    sh[i] = strides[axis] == 0 ? 1 : static_cast<std::size_t>(shape[axis]);
    st[i] = sh[i] == 1 ? 0 : static_cast<std::ptrdiff_t>(strides[axis]);
    size *= sh[i];
  }
  return xt::adapt(ptr, size, xt::no_ownership(), sh, st);
}

template <typename T>
auto flat_adapt(T* ptr, index_t n) {
  return xt::adapt(ptr, static_cast<std::size_t>(n), xt::no_ownership(),
                   std::array<std::size_t, 1>{static_cast<std::size_t>(n)});
}

/// A broadcast binary op as `rows` independent rows of `inner` contiguous output elements, where
/// each operand is, within a row, either dense (unit stride) or one scalar (stride 0). Row r starts
/// at the offset its index has over the outer axes, with each operand's own strides there (any
/// broadcast pattern). Covers bias adds ([B, L, D] + [D]), per-row statistics ([B, L, D] - [B, L, 1])
/// and per-channel affines ([B, C, S] * [C, 1]: GroupNorm, conv biases) without xtensor's general
/// strided stepper.
struct RowSplit {
  index_t rows, inner;
  int outer_axes;  ///< axes [0, outer_axes) enumerate the rows
  bool a_scalar, b_scalar;
};

inline std::optional<RowSplit> split_rows(const Shape& out, const Shape& a, const Shape& b) {
  const int rank = out.rank();
  // How operand s reads axes [j, rank): 1 = dense, 0 = constant (scalar), -1 = neither.
  auto inner_mode = [&](const Shape& s, int j) {
    bool dense = true, scalar = true;
    index_t expected = 1;
    for (int i = rank - 1; i >= j; --i) {
      if (out[i] == 1) continue;
      dense = dense && s[i] == expected;
      scalar = scalar && s[i] == 0;
      expected *= out[i];
    }
    return dense ? 1 : scalar ? 0 : -1;
  };
  for (int j = 0; j < rank; ++j) {
    const int ma = inner_mode(a, j), mb = inner_mode(b, j);
    if (ma < 0 || mb < 0 || (ma == 0 && mb == 0)) continue;
    index_t inner = 1;
    for (int i = j; i < rank; ++i) inner *= out[i];
    if (inner < 16) return std::nullopt;  // short rows: per-row overhead beats the stepper's
    return RowSplit{out.numel() / inner, inner, j, ma == 0, mb == 0};
  }
  return std::nullopt;
}

/// The element offset of row r (an index over out's axes [0, axes)) under `strides`.
inline index_t row_offset(index_t r, const Shape& out, const Shape& strides, int axes) {
  index_t offset = 0;
  for (int i = axes - 1; i >= 0; --i) {
    offset += (r % out[i]) * strides[i];
    r /= out[i];
  }
  return offset;
}

/// 64-byte-aligned allocation (one cache line, one AVX-512 register). Beyond speed, this makes CPU
/// results reproducible from run to run: Eigen's vectorised reductions sum an unaligned head
/// separately, so with malloc's 16-byte alignment the summation order, and the last bits of every
/// LayerNorm or softmax, would depend on where the heap happened to place a buffer. Large blocks
/// are recycled through CpuBlockCache.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(CpuBlockCache::instance().allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { CpuBlockCache::instance().deallocate(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using ConstRowMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename T>
using RowMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

}  // namespace detail

struct Cpu {
  static constexpr std::string_view name = "cpu";
  static constexpr bool is_device = false;

  template <Element T>
  using Storage = xt::uvector<T, detail::AlignedAllocator<T>>;

  template <Element T>
  static std::shared_ptr<Storage<T>> allocate(index_t n) {
    return std::make_shared<Storage<T>>(static_cast<std::size_t>(n));
  }
  template <Element T>
  static T* raw(Storage<T>& s) noexcept {
    return s.data();
  }

  template <Element T>
  static void copy_from_host(T* dst, const T* src, index_t n) {
    if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
  }
  template <Element T>
  static void copy_to_host(T* dst, const T* src, index_t n) {
    copy_from_host(dst, src, n);
  }
  template <Element T>
  static void fill(T* dst, index_t n, T value) {
    std::fill(dst, dst + n, value);
  }

  template <Element To, Element From>
  static void convert(To* dst, const From* src, index_t n) {
    detail::parallel_ranges(n, detail::kParallelElements, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) dst[i] = gluegen::convert<To>(src[i]);
    });
  }

  /// dst (contiguous, `shape`) = src read through `src_strides`.
  template <Element T>
  static void copy_strided(T* dst, const T* src, const Shape& shape, const Shape& src_strides) {
    if constexpr (ComputeElement<T>) {
      detail::with_rank(shape.rank(), [&]<std::size_t R>() {
        auto out = detail::strided_adapt<R>(dst, shape, shape.contiguous_strides());
        xt::noalias(out) = detail::strided_adapt<R>(src, shape, src_strides);
      });
    } else {  // 16-bit storage types have no xtensor arithmetic; walk the index space directly
      const Shape out_strides = shape.contiguous_strides();
      for (index_t i = 0; i < shape.numel(); ++i) {
        index_t offset = 0;
        for (int axis = 0; axis < shape.rank(); ++axis)
          offset += (i / out_strides[axis]) % shape[axis] * src_strides[axis];
        dst[i] = src[offset];
      }
    }
  }

  /// out (contiguous, out_shape) = a op b, each read through its own strides (0 on broadcast axes),
  /// all three already expanded to out's rank by ops.hpp.
  template <ComputeElement T>
  static void binary(BinaryOp op, const T* a, const Shape& a_strides, const T* b, const Shape& b_strides, T* out,
                     const Shape& out_shape) {
    const index_t n = out_shape.numel();
    const Shape dense = out_shape.contiguous_strides();
    if (a_strides == dense && b_strides == dense) {  // the common case: flat, vectorisable, threaded
      detail::parallel_ranges(n, detail::kParallelElements, [&](index_t begin, index_t end) {
        auto x = detail::flat_adapt(a + begin, end - begin);
        auto y = detail::flat_adapt(b + begin, end - begin);
        auto z = detail::flat_adapt(out + begin, end - begin);
        apply_binary(op, x, y, z);
      });
      return;
    }
    if (const auto split = detail::split_rows(out_shape, a_strides, b_strides)) {  // row / column broadcasts
      // plain copies, not a structured binding: clang cannot capture those into an OpenMP region
      const index_t rows = split->rows, inner = split->inner;
      const int axes = split->outer_axes;
      const bool a_scalar = split->a_scalar, b_scalar = split->b_scalar;
      detail::parallel_ranges(rows, std::max<index_t>(1, detail::kParallelElements / inner),
                              [&](index_t r0, index_t r1) {
                                for (index_t r = r0; r < r1; ++r) {
                                  auto z = detail::flat_adapt(out + r * inner, inner);
                                  const T* pa = a + detail::row_offset(r, out_shape, a_strides, axes);
                                  const T* pb = b + detail::row_offset(r, out_shape, b_strides, axes);
                                  if (a_scalar)
                                    apply_binary(op, *pa, detail::flat_adapt(pb, inner), z);
                                  else if (b_scalar)
                                    apply_binary(op, detail::flat_adapt(pa, inner), *pb, z);
                                  else
                                    apply_binary(op, detail::flat_adapt(pa, inner), detail::flat_adapt(pb, inner), z);
                                }
                              });
      return;
    }
    detail::with_rank(out_shape.rank(), [&]<std::size_t R>() {
      auto x = detail::strided_adapt<R>(a, out_shape, a_strides);
      auto y = detail::strided_adapt<R>(b, out_shape, b_strides);
      auto z = detail::strided_adapt<R>(out, out_shape, dense);
      apply_binary(op, x, y, z);
    });
  }

  /// out = f(x) elementwise over n contiguous values (alpha, beta: the factors of scale and affine).
  /// Eigen arrays rather than xtensor here: Eigen has vectorised erf/tanh/exp (polynomial, a few ulp),
  /// xtensor calls scalar libm per element, 6-15x slower for these activations.
  template <ComputeElement T>
  static void unary(UnaryOp op, const T* x, index_t n, T* out, T alpha, T beta) {
    detail::parallel_ranges(n, detail::kParallelElements / 4, [&](index_t begin, index_t end) {
      Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> v(x + begin, end - begin);
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> o(out + begin, end - begin);
      constexpr T half = T(0.5), one = T(1);
      switch (op) {
        case UnaryOp::scale:
          o = alpha * v;
          break;
        case UnaryOp::affine:
          o = alpha * v + beta;
          break;
        // GELU(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))  (Hendrycks & Gimpel 2016, eq. 1)
        case UnaryOp::gelu_erf:
          o = half * v * (one + (v * T(std::numbers::sqrt2 / 2)).erf());
          break;
        // tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (same paper, sec. 2)
        case UnaryOp::gelu_tanh:
          o = half * v * (one + (T(0.79788456080286535588) * (v + T(0.044715) * v.cube())).tanh());
          break;
        // SiLU(x) = x * sigmoid(x)  (Elfwing et al. 2018)
        case UnaryOp::silu:
          o = v / (one + (-v).exp());
          break;
        case UnaryOp::relu:
          o = v.max(T(0));
          break;
        case UnaryOp::clamp:
          o = v.max(alpha).min(beta);
          break;
      }
    });
  }

  /// dx = dy * f'(x) for the activations (scale/affine gradients are a scale, done by ops.hpp).
  template <ComputeElement T>
  static void unary_backward(UnaryOp op, const T* x, const T* dy, index_t n, T* dx) {
    detail::parallel_ranges(n, detail::kParallelElements / 4, [&](index_t begin, index_t end) {
      Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> v(x + begin, end - begin), g(dy + begin, end - begin);
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> o(dx + begin, end - begin);
      constexpr T half = T(0.5), one = T(1);
      switch (op) {
        // d/dx x Phi(x) = Phi(x) + x phi(x)
        case UnaryOp::gelu_erf:
          o = g * (half * (one + (v * T(std::numbers::sqrt2 / 2)).erf()) +
                   v * (T(-0.5) * v.square()).exp() * T(0.39894228040143267794));
          break;
        case UnaryOp::gelu_tanh: {
          constexpr T c = T(0.79788456080286535588), a = T(0.044715);
          const auto t = (c * (v + a * v.cube())).tanh().eval();
          o = g * (half * (one + t) + half * v * (one - t.square()) * c * (one + T(3) * a * v.square()));
          break;
        }
        case UnaryOp::silu: {  // s (1 + x (1 - s)), s = sigmoid(x)
          const auto sig = (one / (one + (-v).exp())).eval();
          o = g * sig * (one + v * (one - sig));
          break;
        }
        case UnaryOp::relu:
          o = (v > T(0)).select(g, T(0));
          break;
        default:
          GLUEGEN_THROW(ValueError, "unary_backward: op {} has no activation derivative", static_cast<int>(op));
      }
    });
  }

  /// y += alpha * x over n contiguous values.
  template <ComputeElement T>
  static void axpy(index_t n, T alpha, const T* x, T* y) {
    detail::parallel_ranges(n, detail::kParallelElements, [&](index_t begin, index_t end) {
      auto xv = detail::flat_adapt(x + begin, end - begin);
      auto yv = detail::flat_adapt(y + begin, end - begin);
      xt::noalias(yv) += alpha * xv;
    });
  }

  /// out[r] = reduce(x[r, :]) for a contiguous [rows, cols] matrix. var is the population variance,
  /// two-pass (mean first) so large offsets do not cancel.
  template <ComputeElement T>
  static void reduce_last(ReduceOp op, const T* x, index_t rows, index_t cols, T* out) {
    for_rows(x, rows, cols, [&](auto row, index_t r) {
      const T sum = row.sum();
      switch (op) {
        case ReduceOp::sum:
          out[r] = sum;
          break;
        case ReduceOp::mean:
          out[r] = sum / T(cols);
          break;
        case ReduceOp::var:
          out[r] = (row.array() - sum / T(cols)).square().sum() / T(cols);
          break;
      }
    });
  }

  /// Numerically stable softmax along the last axis: exp(x - max) / sum exp(x - max).
  template <ComputeElement T>
  static void softmax_last(const T* x, index_t rows, index_t cols, T* out) {
    for_rows(x, rows, cols, [&](auto row, index_t r) {
      Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>> o(out + r * cols, cols);
      o = (row.array() - row.maxCoeff()).exp();
      o /= o.sum();
    });
  }

  /// Row normalisation, the kernel behind LayerNorm (Ba et al. 2016, center = true), RMSNorm (Zhang &
  /// Sennrich 2019, center = false) and GroupNorm (rows = groups, no per-column affine):
  ///   y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(mean((x - mean)^2) + eps),
  /// with mean = 0 when !center and gamma/beta optional (nullptr: 1 and 0). mean and rstd per row are
  /// kept for the backward pass.
  template <ComputeElement T>
  static void norm_rows(const T* x, const T* gamma, const T* beta, index_t rows, index_t cols, T eps, bool center, T* y,
                        T* mean, T* rstd) {
    for_rows(x, rows, cols, [&](auto row, index_t r) {
      const T mu = center ? row.sum() / T(cols) : T(0);
      const T inv = T(1) / std::sqrt((row.array() - mu).square().sum() / T(cols) + eps);
      Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>> o(y + r * cols, cols);
      o = (row.array() - mu) * inv;
      if (gamma) o *= Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(gamma, cols);
      if (beta) o += Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>(beta, cols);
      mean[r] = mu;
      rstd[r] = inv;
    });
  }

  /// Backward of norm_rows. With xhat = (x - mean) rstd and g = dy * gamma:
  ///   dx = rstd (g - mean(g) - xhat mean(g xhat))   (the mean(g) term only when centred),
  ///   dgamma += sum_rows(dy xhat), dbeta += sum_rows(dy)   (each optional).
  /// Parameter gradients sum per-chunk partials in chunk order: deterministic for a thread count.
  template <ComputeElement T>
  static void norm_rows_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy, index_t rows,
                                 index_t cols, bool center, T* dx, T* dgamma, T* dbeta) {
    using Row = Eigen::Array<T, 1, Eigen::Dynamic>;
    using RowMap = Eigen::Map<Row>;
    const bool params = dgamma || dbeta;
    T* partials = nullptr;  // [chunks][2][cols]: per-chunk sums of dy * xhat and dy
    chunked(
        rows, cols,
        [&](int chunks) {
          if (params) {
            partials = scratch<T, struct NormPartials>(static_cast<std::size_t>(2 * chunks * cols));
            std::fill(partials, partials + 2 * chunks * cols, T(0));
          }
        },
        [&](int chunk, index_t begin, index_t end) {
          T* rows_buf = scratch<T, struct NormRows>(static_cast<std::size_t>(2 * cols));  // this thread's xhat and g
          RowMap xhat(rows_buf, cols), g(rows_buf + cols, cols);
          for (index_t r = begin; r < end; ++r) {
            Eigen::Map<const Row> xr(x + r * cols, cols), dyr(dy + r * cols, cols);
            xhat = (xr - mean[r]) * rstd[r];
            if (gamma)
              g = dyr * Eigen::Map<const Row>(gamma, cols);
            else
              g = dyr;
            const T mean_gx = (g * xhat).sum() / T(cols);
            const T mean_g = center ? g.sum() / T(cols) : T(0);
            RowMap(dx + r * cols, cols) = rstd[r] * (g - mean_g - xhat * mean_gx);
            if (params) {
              RowMap(partials + (2 * chunk) * cols, cols) += dyr * xhat;
              RowMap(partials + (2 * chunk + 1) * cols, cols) += dyr;
            }
          }
        });
    if (!params) return;
    const index_t chunks = chunk_count(rows, cols);
    for (index_t c = 0; c < chunks; ++c) {
      if (dgamma) RowMap(dgamma, cols) += RowMap(partials + (2 * c) * cols, cols);
      if (dbeta) RowMap(dbeta, cols) += RowMap(partials + (2 * c + 1) * cols, cols);
    }
  }

  /// y = x - max - log(sum exp(x - max)) per row: log-probabilities without underflow to -inf.
  template <ComputeElement T>
  static void log_softmax_last(const T* x, index_t rows, index_t cols, T* out) {
    for_rows(x, rows, cols, [&](auto row, index_t r) {
      const T m = row.maxCoeff();
      const T lse = m + std::log((row.array() - m).exp().sum());
      Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>(out + r * cols, cols) = row.array() - lse;
    });
  }

  /// dx = dy - exp(y) sum(dy) per row, for y = log_softmax(x).
  template <ComputeElement T>
  static void log_softmax_backward(const T* y, const T* dy, index_t rows, index_t cols, T* dx) {
    for_rows(y, rows, cols, [&](auto yr, index_t r) {
      Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>> g(dy + r * cols, cols);
      Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>(dx + r * cols, cols) = g - yr.array().exp() * g.sum();
    });
  }

  /// dx = y * (dy - sum(dy * y)) per row: the softmax Jacobian-vector product.
  template <ComputeElement T>
  static void softmax_backward(const T* y, const T* dy, index_t rows, index_t cols, T* dx) {
    for_rows(y, rows, cols, [&](auto yr, index_t r) {
      Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>> g(dy + r * cols, cols);
      const T dot = (g * yr.array()).sum();
      Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>(dx + r * cols, cols) = yr.array() * (g - dot);
    });
  }

  /// out[c] = (accumulate ? out[c] : 0) + sum_r x[r, c] (bias gradients). Deterministic per thread count.
  template <ComputeElement T>
  static void column_sum(const T* x, index_t rows, index_t cols, T* out, bool accumulate) {
    using RowMap = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;
    T* parts = nullptr;  // [chunks][cols]
    chunked(
        rows, cols,
        [&](int chunks) { parts = scratch<T, struct ColumnParts>(static_cast<std::size_t>(chunks * cols)); },
        [&](int chunk, index_t begin, index_t end) {
          RowMap(parts + chunk * cols, cols) =
              Eigen::Map<const detail::RowMatrix<T>>(x + begin * cols, end - begin, cols).colwise().sum().array();
        });
    RowMap o(out, cols);
    if (!accumulate) o.setZero();
    for (index_t c = 0; c < chunk_count(rows, cols); ++c) o += RowMap(parts + c * cols, cols);
  }

  /// mask[i] = 1 / keep if U_i < keep else 0 (inverted dropout; Srivastava et al. 2014), U_i from Philox.
  template <ComputeElement T>
  static void bernoulli_scale(T* mask, index_t n, std::uint64_t seed, std::uint64_t stream, T keep) {
    fill_blocks(mask, n, [&](std::uint64_t block, double v[4]) {
      rng::uniform4(seed, stream, block, v);
      for (int j = 0; j < 4; ++j) v[j] = v[j] < keep ? 1.0 / keep : 0.0;
    });
  }

  /// One Adam/AdamW step over n values (adam_update per element).
  template <ComputeElement T>
  static void adam_step(index_t n, T* param, const T* grad, T* m, T* v, const AdamStep& s) {
    const T step_size = T(s.lr / s.bias_correction1), bc2_sqrt = T(std::sqrt(s.bias_correction2));
    detail::parallel_ranges(n, detail::kParallelElements, [&](index_t begin, index_t end) {
      for (index_t i = begin; i < end; ++i) adam_update(param[i], grad[i], m[i], v[i], s, step_size, bc2_sqrt);
    });
  }

  /// One SGD step over n values (sgd_update per element).
  template <ComputeElement T>
  static void sgd_step(index_t n, T* param, const T* grad, T* buf, const SgdStep& s) {
    detail::parallel_ranges(n, detail::kParallelElements, [&](index_t begin, index_t end) {
      for (index_t i = begin; i < end; ++i) sgd_update(param[i], grad[i], buf[i], s);
    });
  }

  /// cols[b] [C*kh*kw, Ho*Wo] from x [B, C, H, W]: row (c, i, j) holds the input pixel that kernel
  /// tap (i, j) of channel c sees at each output position (0 in the padding).
  template <ComputeElement T>
  static void im2col(const T* x, const ConvGeometry& g, T* cols) {
    const index_t planes = g.batch * g.channels;
#pragma omp parallel for schedule(static) if (planes * g.col_cols() * g.kernel_h * g.kernel_w >= \
                                                  detail::kParallelElements)
    for (index_t bc = 0; bc < planes; ++bc) {
      const T* plane = x + bc * g.height * g.width;
      T* out = cols + bc * g.kernel_h * g.kernel_w * g.col_cols();  // (b, c) rows are contiguous in [B, C*kh*kw, HoWo]
      for (index_t i = 0; i < g.kernel_h; ++i)
        for (index_t j = 0; j < g.kernel_w; ++j, out += g.col_cols())
          for (index_t oh = 0; oh < g.out_h; ++oh) {
            const index_t h = oh * g.stride_h - g.pad_h + i;
            T* row = out + oh * g.out_w;
            if (h < 0 || h >= g.height) {
              std::fill(row, row + g.out_w, T(0));
              continue;
            }
            const T* src = plane + h * g.width;
            if (g.stride_w == 1) {  // the valid columns are one contiguous run: copy it, zero the borders
              const index_t lo = std::clamp<index_t>(g.pad_w - j, 0, g.out_w),
                            hi = std::clamp<index_t>(g.width + g.pad_w - j, lo, g.out_w);
              std::fill(row, row + lo, T(0));
              std::copy(src + lo - g.pad_w + j, src + hi - g.pad_w + j, row + lo);
              std::fill(row + hi, row + g.out_w, T(0));
            } else {
              for (index_t ow = 0; ow < g.out_w; ++ow) {
                const index_t w = ow * g.stride_w - g.pad_w + j;
                row[ow] = (w >= 0 && w < g.width) ? src[w] : T(0);
              }
            }
          }
    }
  }

  /// The adjoint of im2col: dx [B, C, H, W] = sum of every column entry back onto its input pixel.
  template <ComputeElement T>
  static void col2im(const T* cols, const ConvGeometry& g, T* dx) {
    const index_t planes = g.batch * g.channels;
#pragma omp parallel for schedule(static) if (planes * g.col_cols() * g.kernel_h * g.kernel_w >= \
                                                  detail::kParallelElements)
    for (index_t bc = 0; bc < planes; ++bc) {
      T* plane = dx + bc * g.height * g.width;
      std::fill(plane, plane + g.height * g.width, T(0));
      const T* in = cols + bc * g.kernel_h * g.kernel_w * g.col_cols();
      for (index_t i = 0; i < g.kernel_h; ++i)
        for (index_t j = 0; j < g.kernel_w; ++j, in += g.col_cols())
          for (index_t oh = 0; oh < g.out_h; ++oh) {
            const index_t h = oh * g.stride_h - g.pad_h + i;
            if (h < 0 || h >= g.height) continue;
            for (index_t ow = 0; ow < g.out_w; ++ow) {
              const index_t w = ow * g.stride_w - g.pad_w + j;
              if (w >= 0 && w < g.width) plane[h * g.width + w] += in[oh * g.out_w + ow];
            }
          }
    }
  }

  /// y [planes, H*k, W*k] = scale * x [planes, H, W] repeated over k x k blocks (nearest upsampling).
  template <ComputeElement T>
  static void upsample_nearest(const T* x, index_t planes, index_t height, index_t width, index_t factor, T scale,
                               T* y) {
    const index_t oh = height * factor, ow = width * factor;
    detail::parallel_ranges(
        planes, std::max<index_t>(1, detail::kParallelElements / (oh * ow)), [&](index_t b, index_t e) {
          for (index_t p = b; p < e; ++p)
            for (index_t h = 0; h < oh; ++h)
              for (index_t w = 0; w < ow; ++w)
                y[(p * oh + h) * ow + w] = scale * x[(p * height + h / factor) * width + w / factor];
        });
  }

  /// y [planes, H/k, W/k] = scale * sum of each k x k block of x [planes, H, W] (floor: a remainder
  /// row/column is dropped, as torch's AvgPool2d).
  template <ComputeElement T>
  static void block_sum(const T* x, index_t planes, index_t height, index_t width, index_t factor, T scale, T* y) {
    const index_t oh = height / factor, ow = width / factor;
    detail::parallel_ranges(planes, std::max<index_t>(1, detail::kParallelElements / (height * width)),
                            [&](index_t b, index_t e) {
                              for (index_t p = b; p < e; ++p)
                                for (index_t h = 0; h < oh; ++h)
                                  for (index_t w = 0; w < ow; ++w) {
                                    T sum = 0;
                                    for (index_t i = 0; i < factor; ++i)
                                      for (index_t j = 0; j < factor; ++j)
                                        sum += x[(p * height + h * factor + i) * width + w * factor + j];
                                    y[(p * oh + h) * ow + w] = scale * sum;
                                  }
                            });
  }

  /// out[i, :] = table[ids[i], :] (ids already range-checked by ops.hpp).
  template <ComputeElement T>
  static void gather_rows(const T* table, const std::int32_t* ids, index_t n, index_t dim, T* out) {
    detail::parallel_ranges(n, std::max<index_t>(1, detail::kParallelElements / dim), [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) std::copy(table + ids[i] * dim, table + (ids[i] + 1) * dim, out + i * dim);
    });
  }

  /// dtable[ids[i], :] += dout[i, :], in order of i (deterministic; repeated ids accumulate).
  template <ComputeElement T>
  static void scatter_add_rows(const T* dout, const std::int32_t* ids, index_t n, index_t dim, T* dtable) {
    for (index_t i = 0; i < n; ++i)
      for (index_t k = 0; k < dim; ++k) dtable[ids[i] * dim + k] += dout[i * dim + k];
  }

  /// sum x^2 in double (global gradient norms).
  template <ComputeElement T>
  static double sum_squares(const T* x, index_t n) {
    double total = 0;
#pragma omp parallel for reduction(+ : total) if (n >= detail::kParallelElements)
    for (index_t i = 0; i < n; ++i) total += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return total;
  }

  /// Batched GEMM through Eigen. Large single products let Eigen thread internally; many small
  /// products are spread over threads by batch entry instead.
  template <Element T>
  static void gemm(const GemmArgs<T>& g) {
    if constexpr (!ComputeElement<T>) {
      GLUEGEN_THROW(DTypeError, "Cpu::gemm: {} inputs are a storage type on the CPU; cast<float>() first",
                    dtype_name(dtype_of<T>));
    } else {
      const index_t work = g.m * g.n * g.k;
      auto one = [&](index_t i) {
        const index_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
        const index_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
        detail::ConstRowMap<T> A(g.a + i * g.stride_a, a_rows, a_cols, Eigen::OuterStride<>(g.lda));
        detail::ConstRowMap<T> B(g.b + i * g.stride_b, b_rows, b_cols, Eigen::OuterStride<>(g.ldb));
        detail::RowMap<T> C(g.c + i * g.stride_c, g.m, g.n, Eigen::OuterStride<>(g.ldc));
        const T alpha = static_cast<T>(g.alpha);
        auto assign = [&](const auto& opA, const auto& opB) {
          if (g.beta == 0)
            C.noalias() = alpha * (opA * opB);  // never reads C: it may be uninitialised
          else {
            C *= static_cast<T>(g.beta);
            C.noalias() += alpha * (opA * opB);
          }
        };
        if (!g.trans_a && !g.trans_b)
          assign(A, B);
        else if (!g.trans_a)
          assign(A, B.transpose());
        else if (!g.trans_b)
          assign(A.transpose(), B);
        else
          assign(A.transpose(), B.transpose());
      };
      // Batches of products: one product per thread (no synchronisation inside a GEMM; a UNet's
      // per-image convolutions are 10-50 Mflop each). Single huge products thread better inside Eigen.
      if (g.batch >= omp_get_max_threads() && work * g.batch >= detail::kParallelElements * 4 &&
          work < (index_t{1} << 27) && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
        for (index_t i = 0; i < g.batch; ++i) one(i);
      } else {
        for (index_t i = 0; i < g.batch; ++i) one(i);
      }
    }
  }

  /// Element i = lo + (hi - lo) * U_i with U_i from Philox(seed, stream, i): the Cuda policy fills alike.
  /// Work goes by Philox block (4 values per call), threads by ranges of blocks.
  template <ComputeElement T>
  static void fill_uniform(T* dst, index_t n, std::uint64_t seed, std::uint64_t stream, T lo, T hi) {
    fill_blocks(dst, n, [&](std::uint64_t block, double v[4]) {
      rng::uniform4(seed, stream, block, v);
      for (int j = 0; j < 4; ++j) v[j] = lo + (hi - lo) * v[j];
    });
  }
  template <ComputeElement T>
  static void fill_normal(T* dst, index_t n, std::uint64_t seed, std::uint64_t stream, T mean, T stddev) {
    fill_blocks(dst, n, [&](std::uint64_t block, double v[4]) {
      rng::normal4(seed, stream, block, v);
      for (int j = 0; j < 4; ++j) v[j] = mean + stddev * v[j];
    });
  }

  /// How many of n contiguous values are NaN or infinite.
  template <ComputeElement T>
  static index_t count_nonfinite(const T* x, index_t n) {
    index_t bad = 0;
#pragma omp parallel for reduction(+ : bad) if (n >= detail::kParallelElements)
    for (index_t i = 0; i < n; ++i) bad += !std::isfinite(x[i]);
    return bad;
  }

 private:
  template <typename X, typename Y, typename Z>
  static void apply_binary(BinaryOp op, const X& x, const Y& y, Z&& z) {
    switch (op) {
      case BinaryOp::add:
        xt::noalias(z) = x + y;
        break;
      case BinaryOp::sub:
        xt::noalias(z) = x - y;
        break;
      case BinaryOp::mul:
        xt::noalias(z) = x * y;
        break;
      case BinaryOp::div:
        xt::noalias(z) = x / y;
        break;
    }
  }

  /// Splits rows into one chunk per thread (one chunk when small): prepare(chunks), then
  /// body(chunk, begin, end) for each chunk in parallel. Callers combine per-chunk results in order.
  static index_t chunk_count(index_t rows, index_t cols) {
    const bool parallel = rows * cols >= detail::kParallelElements && !omp_in_parallel();
    return parallel ? std::max<index_t>(1, std::min<index_t>(omp_get_max_threads(), rows)) : 1;
  }
  template <typename Prepare, typename Body>
  static void chunked(index_t rows, index_t cols, Prepare&& prepare, Body&& body) {
    const int chunks = static_cast<int>(chunk_count(rows, cols));
    prepare(chunks);
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (int c = 0; c < chunks; ++c) body(c, rows * c / chunks, rows * (c + 1) / chunks);
  }

  /// A per-thread buffer of at least n values that only grows: kernels' temporaries allocate on
  /// the first call of a shape and never again in a steady-state loop. Tag keeps uses apart.
  template <typename T, typename Tag>
  static T* scratch(std::size_t n) {
    thread_local std::vector<T, detail::AlignedAllocator<T>> buffer;
    if (buffer.size() < n) buffer.resize(n);
    return buffer.data();
  }

  template <typename T, typename F>
  static void fill_blocks(T* dst, index_t n, F&& block_values) {
    const index_t blocks = (n + 3) / 4;
    detail::parallel_ranges(blocks, detail::kParallelElements / 32, [&](index_t b, index_t e) {
      double v[4];
      for (index_t block = b; block < e; ++block) {
        block_values(static_cast<std::uint64_t>(block), v);
        for (index_t j = 0, i = 4 * block; j < 4 && i < n; ++j, ++i) dst[i] = static_cast<T>(v[j]);
      }
    });
  }

  /// Calls f(row, r) for each row of a contiguous [rows, cols] matrix, threaded when large.
  template <typename T, typename F>
  static void for_rows(const T* x, index_t rows, index_t cols, F&& f) {
    detail::parallel_ranges(rows, std::max<index_t>(1, detail::kParallelElements / std::max<index_t>(cols, 1)),
                            [&](index_t b, index_t e) {
                              for (index_t r = b; r < e; ++r)
                                f(Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(x + r * cols, cols), r);
                            });
  }
};

static_assert(TensorPolicy<Cpu>);

}  // namespace gluegen
