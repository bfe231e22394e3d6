#pragma once
// Tensor operations for any TensorPolicy. Each checks shapes once, here, and hands raw pointers to
// the policy's kernel. Every op has two forms:
//   ops::add(a, b)        returns a new tensor;
//   ops::add(a, b, out)   writes into `out`: allocated on first use when undefined, else its shape
//                         must match. Layers keep such outputs in their Cache so a steady-state
//                         training loop allocates nothing.
// Outputs are contiguous. Elementwise outputs may alias a same-shaped contiguous input (in place).
#include <gluegen/tensor/tensor.hpp>

#include <algorithm>
#include <cstdint>

namespace gluegen::ops {

namespace detail {

/// Allocates `out` when undefined; otherwise it must already be contiguous with the expected shape.
template <Element T, TensorPolicy P>
void prepare_output(const char* op, Tensor<T, P>& out, const Shape& expected) {
  if (!out.defined()) {
    out = Tensor<T, P>(expected);
    return;
  }
  GLUEGEN_CHECK_AS(ShapeError, out.shape() == expected, "{}: output has shape {}, expected {}", op, out.shape(),
                   expected);
  GLUEGEN_CHECK_AS(ShapeError, out.is_contiguous(), "{}: output of shape {} is not contiguous (strides {})", op,
                   out.shape(), out.strides());
}

template <Element T, TensorPolicy P>
void require_rank(const char* op, const char* name, const Tensor<T, P>& t, int min_rank) {
  GLUEGEN_CHECK_AS(ShapeError, t.defined(), "{}: tensor '{}' is undefined", op, name);
  GLUEGEN_CHECK_AS(ShapeError, t.rank() >= min_rank, "{}: tensor '{}' needs rank >= {}, got shape {}", op, name,
                   min_rank, t.shape());
}

/// Runs kernel(src, rows, cols, out) over the rows of x's last axis, writing out (x's shape).
template <ComputeElement T, TensorPolicy P, typename Kernel>
void last_axis(const char* op, const Tensor<T, P>& x, Tensor<T, P>& out, Kernel&& kernel) {
  require_rank(op, "x", x, 1);
  GLUEGEN_CHECK_AS(ShapeError, x.size(-1) > 0, "{}: the last axis of shape {} is empty", op, x.shape());
  const Tensor<T, P> src = x.contiguous();
  prepare_output(op, out, x.shape());
  kernel(src.data(), x.numel() / x.size(-1), x.size(-1), out.data());
}

/// The backward form: kernel(y, dy, rows, cols, dx) with y the forward output.
template <ComputeElement T, TensorPolicy P, typename Kernel>
void last_axis_backward(const char* op, const Tensor<T, P>& y, const Tensor<T, P>& dy, Tensor<T, P>& dx,
                        Kernel&& kernel) {
  GLUEGEN_CHECK_AS(ShapeError, y.shape() == dy.shape(), "{}: y has shape {}, dy has shape {}", op, y.shape(),
                   dy.shape());
  const Tensor<T, P> ys = y.contiguous(), gs = dy.contiguous();
  prepare_output(op, dx, y.shape());
  kernel(ys.data(), gs.data(), y.numel() / y.size(-1), y.size(-1), dx.data());
}

/// Strides that read `t` as if it had shape `out` (numpy broadcasting): 0 on broadcast axes.
template <Element T, TensorPolicy P>
Shape broadcast_strides(const Tensor<T, P>& t, const Shape& out) {
  std::array<index_t, Shape::kMaxRank> s{};
  const int shift = out.rank() - t.rank();
  for (int i = 0; i < out.rank(); ++i) {
    const int axis = i - shift;
    s[i] = (axis < 0 || t.shape()[axis] == 1) ? 0 : t.strides()[axis];
  }
  return Shape(std::span<const index_t>(s.data(), out.rank()));
}

/// How a GEMM operand's last two axes lie in memory, and its batch layout.
struct MatrixLayout {
  bool ok = false;          // false: needs a contiguous copy first
  bool transposed = false;  // stored as the transpose of its logical [rows, cols]
  index_t ld = 0, batch = 1, batch_stride = 0;
};

template <Element T, TensorPolicy P>
MatrixLayout matrix_layout(const Tensor<T, P>& t) {
  MatrixLayout l;
  const int r = t.rank();
  const index_t rows = t.shape()[r - 2], cols = t.shape()[r - 1];
  const index_t sr = t.strides()[r - 2], sc = t.strides()[r - 1];
  if (sc == 1 && (sr >= cols || rows == 1)) {
    l.ld = std::max<index_t>({sr, cols, 1});
  } else if (sr == 1 && (sc >= rows || cols == 1)) {  // a transpose_last2() view
    l.transposed = true;
    l.ld = std::max<index_t>({sc, rows, 1});
  } else {
    return l;
  }
  // The batch axes (all but the last two) must collapse into one: walking outwards over the axes of
  // extent > 1, each stride must equal the next-inner axis' stride times its extent.
  index_t expected = -1;
  for (int i = r - 3; i >= 0; --i) {
    const index_t extent = t.shape()[i], stride = t.strides()[i];
    l.batch *= extent;
    if (extent == 1) continue;
    if (expected < 0)
      l.batch_stride = stride;
    else if (stride != expected)
      return l;
    expected = stride * extent;
  }
  l.ok = true;
  return l;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------
// Creation and transfer

/// t = value everywhere (contiguous t).
template <Element T, TensorPolicy P>
void fill(Tensor<T, P>& t, T value) {
  GLUEGEN_CHECK_AS(ShapeError, t.is_contiguous(), "fill: tensor of shape {} is not contiguous", t.shape());
  if (t.numel() > 0) P::fill(t.data(), t.numel(), value);
}

/// A tensor of i.i.d. U(lo, hi) values; element i depends only on (seed, stream, i), on every policy.
template <ComputeElement T, TensorPolicy P>
void fill_uniform(Tensor<T, P>& t, std::uint64_t seed, T lo = T(0), T hi = T(1), std::uint64_t stream = 0) {
  GLUEGEN_CHECK_AS(ShapeError, t.is_contiguous(), "fill_uniform: tensor of shape {} is not contiguous", t.shape());
  P::fill_uniform(t.data(), t.numel(), seed, stream, lo, hi);
}

/// A tensor of i.i.d. N(mean, stddev^2) values (Philox + Box-Muller), the same on every policy.
template <ComputeElement T, TensorPolicy P>
void fill_normal(Tensor<T, P>& t, std::uint64_t seed, T mean = T(0), T stddev = T(1), std::uint64_t stream = 0) {
  GLUEGEN_CHECK_AS(ShapeError, t.is_contiguous(), "fill_normal: tensor of shape {} is not contiguous", t.shape());
  P::fill_normal(t.data(), t.numel(), seed, stream, mean, stddev);
}

template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> randn(const Shape& shape, std::uint64_t seed, std::uint64_t stream = 0) {
  Tensor<T, P> t(shape);
  fill_normal(t, seed, T(0), T(1), stream);
  return t;
}

template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> rand(const Shape& shape, std::uint64_t seed, std::uint64_t stream = 0) {
  Tensor<T, P> t(shape);
  fill_uniform(t, seed, T(0), T(1), stream);
  return t;
}

/// A contiguous copy of `src` owned by policy Dst (host <-> device, or a clone within one policy).
template <TensorPolicy Dst, Element T, TensorPolicy Src>
[[nodiscard]] Tensor<T, Dst> transfer(const Tensor<T, Src>& src) {
  if constexpr (std::same_as<Dst, Src>) {
    return src.clone();
  } else {
    const Tensor<T, Src> s = src.contiguous();
    Tensor<T, Dst> out(s.shape());
    if constexpr (!Src::is_device)
      Dst::copy_from_host(out.data(), s.data(), s.numel());
    else if constexpr (!Dst::is_device)
      Src::copy_to_host(out.data(), s.data(), s.numel());
    else {
      const std::vector<T> staged = s.to_vector();
      Dst::copy_from_host(out.data(), staged.data(), s.numel());
    }
    return out;
  }
}

/// out = src (any view: transposed, permuted, sliced), written contiguously into a reused buffer.
template <Element T, TensorPolicy P>
void copy(const Tensor<T, P>& src, Tensor<T, P>& out) {
  detail::prepare_output("copy", out, src.shape());
  if (src.numel() > 0) P::copy_strided(out.data(), src.data(), src.shape(), src.strides());
}

/// Drops a cached buffer whose shape no longer fits (a new batch or resolution), so ops reallocate it.
template <Element T, TensorPolicy P>
void reset_if_changed(Tensor<T, P>& buffer, const Shape& shape) {
  if (buffer.defined() && buffer.shape() != shape) buffer = {};
}

/// out = a and b joined along `axis`, every other extent equal ([B, Ca, H, W] + [B, Cb, H, W] ->
/// [B, Ca + Cb, H, W]: the UNet's skip connections). One contiguous block copy per leading index.
template <Element T, TensorPolicy P>
void concat(const Tensor<T, P>& a, const Tensor<T, P>& b, int axis, Tensor<T, P>& out) {
  GLUEGEN_CHECK_AS(ShapeError, a.rank() == b.rank() && a.rank() >= 1 && axis >= 0 && axis < a.rank(),
                   "concat: shapes {} and {} along axis {}", a.shape(), b.shape(), axis);
  Shape joined = a.shape();
  for (int i = 0; i < a.rank(); ++i)
    GLUEGEN_CHECK_AS(ShapeError, i == axis || a.size(i) == b.size(i), "concat: shapes {} and {} differ outside axis {}",
                     a.shape(), b.shape(), axis);
  joined[axis] = a.size(axis) + b.size(axis);
  detail::prepare_output("concat", out, joined);
  index_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= a.size(i);
  const Tensor<T, P> a2 = a.contiguous().reshape({outer, -1}), b2 = b.contiguous().reshape({outer, -1});
  const index_t na = a2.size(1), nb = b2.size(1);
  const Tensor<T, P> o2 = out.reshape({outer, na + nb});
  for (index_t i = 0; i < outer; ++i) {
    const Tensor<T, P> row = o2.slice(i, i + 1).reshape({na + nb});
    Tensor<T, P> head = row.slice(0, na), tail = row.slice(na, na + nb);
    copy(a2.slice(i, i + 1).reshape({na}), head);
    copy(b2.slice(i, i + 1).reshape({nb}), tail);
  }
}

/// concat's adjoint: first = x's leading `n_first` entries along `axis`, rest = the others (contiguous).
template <Element T, TensorPolicy P>
void split(const Tensor<T, P>& x, int axis, index_t n_first, Tensor<T, P>& first, Tensor<T, P>& rest) {
  GLUEGEN_CHECK_AS(ShapeError, axis >= 0 && axis < x.rank() && n_first >= 0 && n_first <= x.size(axis),
                   "split: {} entries of axis {} of shape {}", n_first, axis, x.shape());
  index_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= x.size(i);
  const index_t total = x.numel() / std::max<index_t>(outer, 1), na = total / x.size(axis) * n_first;
  // [outer, total] -> transpose -> rows [0, na) -> transpose back: a strided view of each part
  const Tensor<T, P> t = x.contiguous().reshape({outer, total}).transpose_last2();
  Shape first_shape = x.shape(), rest_shape = x.shape();
  first_shape[axis] = n_first;
  rest_shape[axis] = x.size(axis) - n_first;
  reset_if_changed(first, first_shape);
  reset_if_changed(rest, rest_shape);
  Tensor<T, P> f2 = first.defined() ? first.reshape({outer, na}) : Tensor<T, P>{},
               r2 = rest.defined() ? rest.reshape({outer, total - na}) : Tensor<T, P>{};
  copy(t.slice(0, na).transpose_last2(), f2);
  copy(t.slice(na, total).transpose_last2(), r2);
  first = f2.reshape(first_shape);
  rest = r2.reshape(rest_shape);
}

// ---------------------------------------------------------------------------------------------------
// Elementwise

/// out = a op b with numpy broadcasting.
template <ComputeElement T, TensorPolicy P>
void binary(BinaryOp op, const Tensor<T, P>& a, const Tensor<T, P>& b, Tensor<T, P>& out) {
  static constexpr const char* names[] = {"add", "sub", "mul", "div"};
  const char* name = names[static_cast<int>(op)];
  detail::require_rank(name, "a", a, 1);
  detail::require_rank(name, "b", b, 1);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  detail::prepare_output(name, out, shape);
  if (shape.numel() == 0) return;
  P::binary(op, a.data(), detail::broadcast_strides(a, shape), b.data(), detail::broadcast_strides(b, shape),
            out.data(), shape);
}

#define GLUEGEN_BINARY_OP(fn, op)                                               \
  template <ComputeElement T, TensorPolicy P>                                   \
  void fn(const Tensor<T, P>& a, const Tensor<T, P>& b, Tensor<T, P>& out) {    \
    binary(op, a, b, out);                                                      \
  }                                                                             \
  template <ComputeElement T, TensorPolicy P>                                   \
  [[nodiscard]] Tensor<T, P> fn(const Tensor<T, P>& a, const Tensor<T, P>& b) { \
    Tensor<T, P> out;                                                           \
    binary(op, a, b, out);                                                      \
    return out;                                                                 \
  }
GLUEGEN_BINARY_OP(add, BinaryOp::add)
GLUEGEN_BINARY_OP(sub, BinaryOp::sub)
GLUEGEN_BINARY_OP(mul, BinaryOp::mul)
GLUEGEN_BINARY_OP(div, BinaryOp::div)
#undef GLUEGEN_BINARY_OP

/// out = f(x) elementwise (x is copied first if it is a non-contiguous view).
template <ComputeElement T, TensorPolicy P>
void unary(UnaryOp op, const Tensor<T, P>& x, Tensor<T, P>& out, T alpha = T(1), T beta = T(0)) {
  static constexpr const char* names[] = {"scale", "affine", "gelu_erf", "gelu_tanh", "silu", "relu", "clamp"};
  detail::require_rank(names[static_cast<int>(op)], "x", x, 1);
  const Tensor<T, P> src = x.contiguous();
  detail::prepare_output(names[static_cast<int>(op)], out, x.shape());
  P::unary(op, src.data(), src.numel(), out.data(), alpha, beta);
}

/// dx = dy * f'(x) for an activation op (gelu_erf, gelu_tanh, silu, relu).
template <ComputeElement T, TensorPolicy P>
void unary_backward(UnaryOp op, const Tensor<T, P>& x, const Tensor<T, P>& dy, Tensor<T, P>& dx) {
  GLUEGEN_CHECK_AS(ShapeError, x.shape() == dy.shape(), "activation backward: x has shape {}, dy has shape {}",
                   x.shape(), dy.shape());
  const Tensor<T, P> xs = x.contiguous(), gs = dy.contiguous();
  detail::prepare_output("activation backward", dx, x.shape());
  P::unary_backward(op, xs.data(), gs.data(), xs.numel(), dx.data());
}

enum class GeluApproximation : std::uint8_t { erf, tanh };

template <ComputeElement T, TensorPolicy P>
void gelu(const Tensor<T, P>& x, Tensor<T, P>& out, GeluApproximation approx = GeluApproximation::erf) {
  unary(approx == GeluApproximation::erf ? UnaryOp::gelu_erf : UnaryOp::gelu_tanh, x, out);
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> gelu(const Tensor<T, P>& x, GeluApproximation approx = GeluApproximation::erf) {
  Tensor<T, P> out;
  gelu(x, out, approx);
  return out;
}

template <ComputeElement T, TensorPolicy P>
void silu(const Tensor<T, P>& x, Tensor<T, P>& out) {
  unary(UnaryOp::silu, x, out);
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> silu(const Tensor<T, P>& x) {
  Tensor<T, P> out;
  silu(x, out);
  return out;
}

template <ComputeElement T, TensorPolicy P>
void scale(const Tensor<T, P>& x, T alpha, Tensor<T, P>& out) {
  unary(UnaryOp::scale, x, out, alpha);
}
/// out = alpha * x + beta
template <ComputeElement T, TensorPolicy P>
void affine(const Tensor<T, P>& x, T alpha, T beta, Tensor<T, P>& out) {
  unary(UnaryOp::affine, x, out, alpha, beta);
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> affine(const Tensor<T, P>& x, T alpha, T beta) {
  Tensor<T, P> out;
  affine(x, alpha, beta, out);
  return out;
}
template <ComputeElement T, TensorPolicy P>
void relu(const Tensor<T, P>& x, Tensor<T, P>& out) {
  unary(UnaryOp::relu, x, out);
}
/// out = min(max(x, lo), hi)
template <ComputeElement T, TensorPolicy P>
void clamp(const Tensor<T, P>& x, T lo, T hi, Tensor<T, P>& out) {
  unary(UnaryOp::clamp, x, out, lo, hi);
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> relu(const Tensor<T, P>& x) {
  Tensor<T, P> out;
  relu(x, out);
  return out;
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> scale(const Tensor<T, P>& x, T alpha) {
  Tensor<T, P> out;
  scale(x, alpha, out);
  return out;
}

/// y += alpha * x (same shapes; y contiguous). The optimizer and gradient-accumulation primitive.
template <ComputeElement T, TensorPolicy P>
void axpy(T alpha, const Tensor<T, P>& x, Tensor<T, P>& y) {
  GLUEGEN_CHECK_AS(ShapeError, x.shape() == y.shape(), "axpy: x has shape {}, y has shape {}", x.shape(), y.shape());
  GLUEGEN_CHECK_AS(ShapeError, y.is_contiguous(), "axpy: y of shape {} is not contiguous", y.shape());
  const Tensor<T, P> src = x.contiguous();
  P::axpy(y.numel(), alpha, src.data(), y.data());
}

/// Number of NaN or infinite elements.
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] index_t count_nonfinite(const Tensor<T, P>& x) {
  const Tensor<T, P> src = x.contiguous();
  return P::count_nonfinite(src.data(), src.numel());
}

// ---------------------------------------------------------------------------------------------------
// Row-wise (last axis)

/// out[..., 0] = reduce(x[..., :]); keeps the last axis with extent 1 so the result broadcasts back.
template <ComputeElement T, TensorPolicy P>
void reduce_last(ReduceOp op, const Tensor<T, P>& x, Tensor<T, P>& out) {
  static constexpr const char* names[] = {"sum_last", "mean_last", "var_last"};
  const char* name = names[static_cast<int>(op)];
  detail::require_rank(name, "x", x, 1);
  GLUEGEN_CHECK_AS(ShapeError, x.size(-1) > 0, "{}: the last axis of shape {} is empty", name, x.shape());
  const Tensor<T, P> src = x.contiguous();
  detail::prepare_output(name, out, x.shape().with_last(1));
  P::reduce_last(op, src.data(), x.numel() / x.size(-1), x.size(-1), out.data());
}

#define GLUEGEN_REDUCE_OP(fn, op)                        \
  template <ComputeElement T, TensorPolicy P>            \
  void fn(const Tensor<T, P>& x, Tensor<T, P>& out) {    \
    reduce_last(op, x, out);                             \
  }                                                      \
  template <ComputeElement T, TensorPolicy P>            \
  [[nodiscard]] Tensor<T, P> fn(const Tensor<T, P>& x) { \
    Tensor<T, P> out;                                    \
    reduce_last(op, x, out);                             \
    return out;                                          \
  }
GLUEGEN_REDUCE_OP(sum_last, ReduceOp::sum)
GLUEGEN_REDUCE_OP(mean_last, ReduceOp::mean)
GLUEGEN_REDUCE_OP(var_last, ReduceOp::var)
#undef GLUEGEN_REDUCE_OP

/// Softmax over the last axis, stable for any input scale (subtracts the row maximum).
template <ComputeElement T, TensorPolicy P>
void softmax_last(const Tensor<T, P>& x, Tensor<T, P>& out) {
  detail::last_axis("softmax_last", x, out, [](auto... args) { P::softmax_last(args...); });
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> softmax_last(const Tensor<T, P>& x) {
  Tensor<T, P> out;
  softmax_last(x, out);
  return out;
}

/// Normalisation over the last axis (LayerNorm when center, RMSNorm when not), with optional
/// per-column gamma and beta (nullptr: none). `mean` and `rstd` ([..., 1]) are kept for backward.
template <ComputeElement T, TensorPolicy P>
void norm_rows(const Tensor<T, P>& x, const Tensor<T, P>* gamma, const Tensor<T, P>* beta, T eps, bool center,
               Tensor<T, P>& y, Tensor<T, P>& mean, Tensor<T, P>& rstd) {
  const char* name = center ? "layer_norm" : "rms_norm";
  detail::require_rank(name, "x", x, 1);
  const index_t d = x.size(-1);
  for (const Tensor<T, P>* p : {gamma, beta})
    GLUEGEN_CHECK_AS(ShapeError, !p || p->shape() == Shape{d},
                     "{}: x has shape {}, so gamma and beta need shape [{}]; got {}", name, x.shape(), d, p->shape());
  GLUEGEN_CHECK_AS(ValueError, eps > T(0), "{}: eps must be positive, got {}", name, eps);
  const Tensor<T, P> src = x.contiguous();
  detail::prepare_output(name, y, x.shape());
  detail::prepare_output(name, mean, x.shape().with_last(1));
  detail::prepare_output(name, rstd, x.shape().with_last(1));
  P::norm_rows(src.data(), gamma ? gamma->data() : nullptr, beta ? beta->data() : nullptr, x.numel() / d, d, eps,
               center, y.data(), mean.data(), rstd.data());
}

/// Backward of norm_rows: writes dx; adds the gamma and beta gradients into *dgamma, *dbeta when given.
template <ComputeElement T, TensorPolicy P>
void norm_rows_backward(const Tensor<T, P>& x, const Tensor<T, P>* gamma, const Tensor<T, P>& mean,
                        const Tensor<T, P>& rstd, const Tensor<T, P>& dy, bool center, Tensor<T, P>& dx,
                        Tensor<T, P>* dgamma, Tensor<T, P>* dbeta) {
  const index_t d = x.size(-1);
  GLUEGEN_CHECK_AS(
      ShapeError, dy.shape() == x.shape() && mean.shape() == x.shape().with_last(1) && rstd.shape() == mean.shape(),
      "norm backward: x {}, dy {}, mean {}, rstd {} do not match", x.shape(), dy.shape(), mean.shape(), rstd.shape());
  for (const Tensor<T, P>* p :
       {gamma, static_cast<const Tensor<T, P>*>(dgamma), static_cast<const Tensor<T, P>*>(dbeta)})
    GLUEGEN_CHECK_AS(ShapeError, !p || (p->shape() == Shape{d} && p->is_contiguous()),
                     "norm backward: parameter of shape {} for rows of {}", p->shape(), d);
  const Tensor<T, P> xs = x.contiguous(), gs = dy.contiguous();
  detail::prepare_output("norm backward", dx, x.shape());
  P::norm_rows_backward(xs.data(), gamma ? gamma->data() : nullptr, mean.data(), rstd.data(), gs.data(), x.numel() / d,
                        d, center, dx.data(), dgamma ? dgamma->data() : nullptr, dbeta ? dbeta->data() : nullptr);
}

template <ComputeElement T, TensorPolicy P>
void layer_norm(const Tensor<T, P>& x, const Tensor<T, P>& gamma, const Tensor<T, P>& beta, T eps, Tensor<T, P>& y,
                Tensor<T, P>& mean, Tensor<T, P>& rstd) {
  norm_rows(x, &gamma, &beta, eps, true, y, mean, rstd);
}
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> layer_norm(const Tensor<T, P>& x, const Tensor<T, P>& gamma, const Tensor<T, P>& beta,
                                      T eps = T(1e-5)) {
  Tensor<T, P> y, mean, rstd;
  layer_norm(x, gamma, beta, eps, y, mean, rstd);
  return y;
}

/// dx = y * (dy - sum(dy * y)) over the last axis, for y = softmax_last(x).
template <ComputeElement T, TensorPolicy P>
void softmax_backward(const Tensor<T, P>& y, const Tensor<T, P>& dy, Tensor<T, P>& dx) {
  detail::last_axis_backward("softmax_backward", y, dy, dx, [](auto... args) { P::softmax_backward(args...); });
}

/// Log-softmax over the last axis, computed as x - logsumexp(x) (finite for any input scale).
template <ComputeElement T, TensorPolicy P>
void log_softmax_last(const Tensor<T, P>& x, Tensor<T, P>& out) {
  detail::last_axis("log_softmax_last", x, out, [](auto... args) { P::log_softmax_last(args...); });
}

/// dx = dy - exp(y) sum(dy) over the last axis, for y = log_softmax_last(x).
template <ComputeElement T, TensorPolicy P>
void log_softmax_backward(const Tensor<T, P>& y, const Tensor<T, P>& dy, Tensor<T, P>& dx) {
  detail::last_axis_backward("log_softmax_backward", y, dy, dx, [](auto... args) { P::log_softmax_backward(args...); });
}

/// out[d] (+)= sum of x[..., d] over all leading axes (bias gradients). out must have shape [d].
template <ComputeElement T, TensorPolicy P>
void sum_leading(const Tensor<T, P>& x, Tensor<T, P>& out, bool accumulate) {
  detail::require_rank("sum_leading", "x", x, 1);
  const index_t d = x.size(-1);
  GLUEGEN_CHECK_AS(ValueError, !accumulate || out.defined(), "sum_leading: accumulate needs a defined output");
  detail::prepare_output("sum_leading", out, Shape{d});
  const Tensor<T, P> src = x.contiguous();
  P::column_sum(src.data(), x.numel() / std::max<index_t>(d, 1), d, out.data(), accumulate);
}

/// Fills mask with 1/keep (probability keep) or 0: inverted-dropout scales, seeded like fill_uniform.
template <ComputeElement T, TensorPolicy P>
void dropout_mask(Tensor<T, P>& mask, T keep, std::uint64_t seed, std::uint64_t stream = 0) {
  GLUEGEN_CHECK_AS(ValueError, keep > T(0) && keep <= T(1), "dropout_mask: keep probability {} is outside (0, 1]",
                   keep);
  GLUEGEN_CHECK_AS(ShapeError, mask.is_contiguous(), "dropout_mask: mask of shape {} is not contiguous", mask.shape());
  P::bernoulli_scale(mask.data(), mask.numel(), seed, stream, keep);
}

/// Sum of squares, accumulated in double.
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] double sum_squares(const Tensor<T, P>& x) {
  const Tensor<T, P> src = x.contiguous();
  return P::sum_squares(src.data(), src.numel());
}

/// One fused Adam/AdamW step on a parameter and its moment buffers (all the same shape, contiguous).
template <ComputeElement T, TensorPolicy P>
void adam_step(Tensor<T, P>& param, const Tensor<T, P>& grad, Tensor<T, P>& m, Tensor<T, P>& v, const AdamStep& step) {
  GLUEGEN_CHECK_AS(
      ShapeError, grad.shape() == param.shape() && m.shape() == param.shape() && v.shape() == param.shape(),
      "adam_step: param {}, grad {}, m {}, v {} differ", param.shape(), grad.shape(), m.shape(), v.shape());
  P::adam_step(param.numel(), param.data(), grad.contiguous().data(), m.data(), v.data(), step);
}

/// One fused SGD (momentum, Nesterov, weight decay) step; `buf` is the momentum buffer.
template <ComputeElement T, TensorPolicy P>
void sgd_step(Tensor<T, P>& param, const Tensor<T, P>& grad, Tensor<T, P>& buf, const SgdStep& step) {
  GLUEGEN_CHECK_AS(ShapeError, grad.shape() == param.shape() && buf.shape() == param.shape(),
                   "sgd_step: param {}, grad {}, buf {} differ", param.shape(), grad.shape(), buf.shape());
  P::sgd_step(param.numel(), param.data(), grad.contiguous().data(), buf.data(), step);
}

// ---------------------------------------------------------------------------------------------------
// Images ([B, C, H, W]) and lookups

/// The im2col matrix [B, C*kh*kw, Ho*Wo] of x [B, C, H, W] for geometry g (g's sizes must match x).
template <ComputeElement T, TensorPolicy P>
void im2col(const Tensor<T, P>& x, const ConvGeometry& g, Tensor<T, P>& cols) {
  GLUEGEN_CHECK_AS(ShapeError, x.shape() == (Shape{g.batch, g.channels, g.height, g.width}),
                   "im2col: x has shape {}, the geometry says [{}, {}, {}, {}]", x.shape(), g.batch, g.channels,
                   g.height, g.width);
  const Tensor<T, P> src = x.contiguous();
  detail::prepare_output("im2col", cols, Shape{g.batch, g.col_rows(), g.col_cols()});
  P::im2col(src.data(), g, cols.data());
}

/// The adjoint of im2col: dx [B, C, H, W] from column gradients [B, C*kh*kw, Ho*Wo].
template <ComputeElement T, TensorPolicy P>
void col2im(const Tensor<T, P>& cols, const ConvGeometry& g, Tensor<T, P>& dx) {
  GLUEGEN_CHECK_AS(ShapeError, cols.shape() == (Shape{g.batch, g.col_rows(), g.col_cols()}),
                   "col2im: columns have shape {}, expected [{}, {}, {}]", cols.shape(), g.batch, g.col_rows(),
                   g.col_cols());
  const Tensor<T, P> src = cols.contiguous();
  detail::prepare_output("col2im", dx, Shape{g.batch, g.channels, g.height, g.width});
  P::col2im(src.data(), g, dx.data());
}

/// y [B, C, H*k, W*k] = scale * nearest-neighbour upsampling of x [B, C, H, W] by factor k.
template <ComputeElement T, TensorPolicy P>
void upsample_nearest(const Tensor<T, P>& x, index_t factor, Tensor<T, P>& y, T scale = T(1)) {
  GLUEGEN_CHECK_AS(ShapeError, x.rank() == 4 && factor >= 1,
                   "upsample_nearest: x has shape {} (needs [B, C, H, W]), factor {}", x.shape(), factor);
  const Tensor<T, P> src = x.contiguous();
  detail::prepare_output("upsample_nearest", y, Shape{x.size(0), x.size(1), x.size(2) * factor, x.size(3) * factor});
  P::upsample_nearest(src.data(), x.size(0) * x.size(1), x.size(2), x.size(3), factor, scale, y.data());
}

/// y [B, C, H/k, W/k] = scale * sum over each k x k block of x (floor, as AvgPool2d).
template <ComputeElement T, TensorPolicy P>
void block_sum(const Tensor<T, P>& x, index_t factor, Tensor<T, P>& y, T scale = T(1)) {
  GLUEGEN_CHECK_AS(ShapeError, x.rank() == 4 && factor >= 1 && x.size(2) >= factor && x.size(3) >= factor,
                   "block_sum: x has shape {} (needs [B, C, H, W] with H, W >= {})", x.shape(), factor);
  const Tensor<T, P> src = x.contiguous();
  detail::prepare_output("block_sum", y, Shape{x.size(0), x.size(1), x.size(2) / factor, x.size(3) / factor});
  P::block_sum(src.data(), x.size(0) * x.size(1), x.size(2), x.size(3), factor, scale, y.data());
}

/// out [ids..., D] = table [V, D] rows at ids. Every id must lie in [0, V): an IndexError-style
/// ValueError names the first bad id and its position.
template <ComputeElement T, TensorPolicy P>
void gather_rows(const Tensor<T, P>& table, const Tensor<std::int32_t, P>& ids, Tensor<T, P>& out) {
  GLUEGEN_CHECK_AS(ShapeError, table.rank() == 2, "gather_rows: table has shape {}, expected [V, D]", table.shape());
  const auto host_ids = ids.to_vector();
  for (std::size_t i = 0; i < host_ids.size(); ++i)
    GLUEGEN_CHECK_AS(ValueError, host_ids[i] >= 0 && host_ids[i] < table.size(0),
                     "gather_rows: id {} at position {} is outside the vocabulary [0, {})", host_ids[i], i,
                     table.size(0));
  const Tensor<std::int32_t, P> idx = ids.contiguous();
  detail::prepare_output("gather_rows", out, ids.shape().appended(table.size(1)));
  P::gather_rows(table.contiguous().data(), idx.data(), ids.numel(), table.size(1), out.data());
}

/// dtable[ids[i]] += dout[i] (repeated ids accumulate), for the gradient of gather_rows.
template <ComputeElement T, TensorPolicy P>
void scatter_add_rows(const Tensor<T, P>& dout, const Tensor<std::int32_t, P>& ids, Tensor<T, P>& dtable) {
  GLUEGEN_CHECK_AS(ShapeError,
                   dtable.rank() == 2 && dout.shape() == ids.shape().appended(dtable.size(1)) && dtable.is_contiguous(),
                   "scatter_add_rows: dout {} must be ids {} x [{}]", dout.shape(), ids.shape(), dtable.size(1));
  const Tensor<std::int32_t, P> idx = ids.contiguous();
  P::scatter_add_rows(dout.contiguous().data(), idx.data(), ids.numel(), dtable.size(1), dtable.data());
}

// ---------------------------------------------------------------------------------------------------
// Matrix products

struct MatmulOptions {
  bool trans_a = false;  ///< use a's last two axes transposed
  bool trans_b = false;  ///< use b's last two axes transposed
  double alpha = 1.0;
  double beta = 0.0;  ///< out = alpha * op(a) op(b) + beta * out; out must be defined when beta != 0
};

/// Batched matrix product over the last two axes: out[..., m, n] = alpha op(a)[..., m, k] op(b)[..., k, n]
/// (+ beta out). a and b have equal batch axes, or one of them is rank 2 and is used for every batch
/// entry (e.g. activations [B, L, D] times a weight [D, E]). transpose_last2() views cost no copy.
template <Element T, TensorPolicy P>
void matmul(const Tensor<T, P>& a_in, const Tensor<T, P>& b_in, Tensor<T, P>& out, MatmulOptions opt = {}) {
  detail::require_rank("matmul", "a", a_in, 2);
  detail::require_rank("matmul", "b", b_in, 2);
  auto layout_of = [](const Tensor<T, P>& t, Tensor<T, P>& holder) {
    detail::MatrixLayout l = detail::matrix_layout(t);
    if (!l.ok) {
      holder = t.contiguous();
      l = detail::matrix_layout(holder);
    } else {
      holder = t;
    }
    return l;
  };
  Tensor<T, P> a, b;
  const detail::MatrixLayout la = layout_of(a_in, a), lb = layout_of(b_in, b);
  const index_t m = opt.trans_a ? a.size(-1) : a.size(-2), ka = opt.trans_a ? a.size(-2) : a.size(-1);
  const index_t kb = opt.trans_b ? b.size(-1) : b.size(-2), n = opt.trans_b ? b.size(-2) : b.size(-1);
  GLUEGEN_CHECK_AS(ShapeError, ka == kb, "matmul: inner extents differ: a {}{} gives k = {}, b {}{} gives k = {}",
                   a.shape(), opt.trans_a ? " (transposed)" : "", ka, b.shape(), opt.trans_b ? " (transposed)" : "",
                   kb);
  const Tensor<T, P>& batched = a.rank() >= b.rank() ? a : b;
  if (a.rank() > 2 && b.rank() > 2) {
    GLUEGEN_CHECK_AS(
        ShapeError, a.rank() == b.rank() && std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin()),
        "matmul: batch axes of a {} and b {} differ (use equal batch axes or a rank-2 operand)", a.shape(), b.shape());
  }
  std::array<index_t, Shape::kMaxRank> dims{};
  const int out_rank = batched.rank();
  std::copy(batched.shape().begin(), batched.shape().end() - 2, dims.begin());
  dims[out_rank - 2] = m;
  dims[out_rank - 1] = n;
  const Shape out_shape(std::span<const index_t>(dims.data(), out_rank));
  GLUEGEN_CHECK_AS(ValueError, opt.beta == 0.0 || out.defined(),
                   "matmul: beta = {} accumulates into out, which is undefined", opt.beta);
  detail::prepare_output("matmul", out, out_shape);
  if (m == 0 || n == 0) return;

  GemmArgs<T> g;
  g.trans_a = opt.trans_a != la.transposed;
  g.trans_b = opt.trans_b != lb.transposed;
  g.m = m;
  g.n = n;
  g.k = ka;
  g.batch = std::max(la.batch, lb.batch);
  g.alpha = static_cast<GemmScalar<T>>(opt.alpha);
  g.beta = static_cast<GemmScalar<T>>(opt.beta);
  g.a = a.data();
  g.lda = la.ld;
  g.stride_a = la.batch_stride;
  g.b = b.data();
  g.ldb = lb.ld;
  g.stride_b = lb.batch_stride;
  g.c = out.data();
  g.ldc = n;
  g.stride_c = m * n;
  P::gemm(g);
}

template <Element T, TensorPolicy P>
[[nodiscard]] Tensor<T, P> matmul(const Tensor<T, P>& a, const Tensor<T, P>& b, MatmulOptions opt = {}) {
  GLUEGEN_CHECK_AS(ValueError, opt.beta == 0.0,
                   "matmul: beta = {} needs an output to accumulate into; use the overload taking out", opt.beta);
  Tensor<T, P> out;
  matmul(a, b, out, opt);
  return out;
}

}  // namespace gluegen::ops
