#pragma once
// GEGLU (Shazeer 2020, eq. 5; diffusers' GEGLU): proj = Linear(in, 2 out); h, gate = chunk(proj(x));
// y = h * GELU(gate). The two halves are the row blocks [0, out) and [out, 2 out) of proj.weight, so
// each is a contiguous view and the halves' products need no split copy. A LoRA adapter on proj
// (LaVi-Bridge injects one into every GEGLU) is split the same way: its B's row halves.
#include <gluegen/nn/linear.hpp>

namespace gluegen::nn {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class Geglu {
 public:
  using value_type = T;
  using policy = P;
  using TensorT = Tensor<T, P>;
  struct Cache {
    TensorT x2d, h, gate, act, y, dh, dgate, dx;
    TensorT low, d_low;  // proj's LoRA activations [rows, r]
  };

  Geglu(index_t in_features, index_t out_features, std::uint64_t seed = 0)
      : proj(in_features, 2 * out_features, {.seed = seed}), out_(out_features) {}

  const TensorT& forward(const TensorT& x, Cache& c) {
    const index_t in = proj.in_features();
    GLUEGEN_CHECK_AS(ShapeError, x.rank() >= 1 && x.size(-1) == in, "GEGLU({} -> {}): input has shape {}", in, out_,
                     x.shape());
    c.x2d = x.contiguous().reshape({-1, in});
    const index_t rows = c.x2d.size(0);
    reset_if(c, rows);
    ops::matmul(c.x2d, half(proj.weight.value, 0), c.h, {.trans_b = true});
    ops::add(c.h, half(proj.bias.value, 0), c.h);
    ops::matmul(c.x2d, half(proj.weight.value, 1), c.gate, {.trans_b = true});
    ops::add(c.gate, half(proj.bias.value, 1), c.gate);
    if (const auto* a = lora()) {
      const double s = static_cast<double>(a->scaling);
      ops::matmul(c.x2d, a->A.value, c.low, {.trans_b = true});
      ops::matmul(c.low, half(a->B.value, 0), c.h, {.trans_b = true, .alpha = s, .beta = 1.0});
      ops::matmul(c.low, half(a->B.value, 1), c.gate, {.trans_b = true, .alpha = s, .beta = 1.0});
    }
    ops::gelu(c.gate, c.act);
    ops::mul(c.h, c.act, c.y);
    out_shape_ = x.shape().with_last(out_);
    return c.y = c.y.reshape(out_shape_);
  }

  const TensorT& backward(const TensorT& dy, Cache& c) {
    const TensorT g = dy.contiguous().reshape({-1, out_});
    ops::mul(g, c.act, c.dh);  // dL/dh = dy * GELU(gate)
    ops::mul(g, c.h, c.dgate);
    ops::unary_backward(UnaryOp::gelu_erf, c.gate, c.dgate, c.dgate);  // dL/dgate = dy * h * GELU'(gate)
    if (proj.weight.trainable) {
      TensorT dw = proj.weight.grad_buffer();
      TensorT dw_h = half(dw, 0), dw_g = half(dw, 1);
      ops::matmul(c.dh, c.x2d, dw_h, {.trans_a = true, .beta = 1.0});
      ops::matmul(c.dgate, c.x2d, dw_g, {.trans_a = true, .beta = 1.0});
    }
    if (proj.bias.trainable) {
      TensorT db = proj.bias.grad_buffer();
      TensorT db_h = half(db, 0), db_g = half(db, 1);
      ops::sum_leading(c.dh, db_h, true);
      ops::sum_leading(c.dgate, db_g, true);
    }
    if (c.dx.defined() && c.dx.numel() != c.x2d.numel()) c.dx = {};
    TensorT dx2d = c.dx.defined() ? c.dx.reshape({-1, proj.in_features()}) : TensorT{};
    ops::matmul(c.dh, half(proj.weight.value, 0), dx2d);
    ops::matmul(c.dgate, half(proj.weight.value, 1), dx2d, {.beta = 1.0});
    if (proj.adapter) {
      GLUEGEN_CHECK(!proj.adapter->merged,
                    "GEGLU({} -> {}) backward: the LoRA adapter is merged into proj; unmerge() before training",
                    proj.in_features(), out_);
      auto& a = *proj.adapter;
      const double s = static_cast<double>(a.scaling);
      ops::matmul(c.dh, half(a.B.value, 0), c.d_low, {.alpha = s});
      ops::matmul(c.dgate, half(a.B.value, 1), c.d_low, {.alpha = s, .beta = 1.0});
      if (a.B.trainable) {
        TensorT db = a.B.grad_buffer();
        TensorT db_h = half(db, 0), db_g = half(db, 1);
        ops::matmul(c.dh, c.low, db_h, {.trans_a = true, .alpha = s, .beta = 1.0});
        ops::matmul(c.dgate, c.low, db_g, {.trans_a = true, .alpha = s, .beta = 1.0});
      }
      if (a.A.trainable) ops::matmul(c.d_low, c.x2d, a.A.grad_buffer(), {.trans_a = true, .beta = 1.0});
      ops::matmul(c.d_low, a.A.value, dx2d, {.beta = 1.0});
    }
    return c.dx = dx2d.reshape(dy.shape().with_last(proj.in_features()));
  }

  template <typename F>
  void visit_parameters(F&& f, const std::string& prefix) {
    proj.visit_parameters(f, prefix + "proj.");
  }

  Linear<T, P> proj;

 private:
  [[nodiscard]] const typename Linear<T, P>::Adapter* lora() const {
    return proj.adapter && !proj.adapter->merged ? &*proj.adapter : nullptr;
  }
  /// Rows [i * out, (i + 1) * out) of a [2 out, ...] tensor: a contiguous view.
  TensorT half(const TensorT& t, int i) const { return t.slice(i * out_, (i + 1) * out_); }
  void reset_if(Cache& c, index_t rows) const {
    if (c.h.defined() && c.h.size(0) != rows) c = Cache{};
    if (c.y.defined()) c.y = c.y.reshape({rows, out_});
  }

  index_t out_;
  Shape out_shape_;
};

static_assert(Layer<Geglu<float, Cpu>>);

}  // namespace gluegen::nn
