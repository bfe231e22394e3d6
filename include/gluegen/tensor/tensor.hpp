#pragma once
// Tensor<T, Policy>: a shape and strides over shared, policy-owned storage.
//
// Freshly made tensors are contiguous row-major. Views (reshape, slice, select, transpose_last2)
// share storage and copy nothing; only transpose_last2 makes a non-contiguous view, which matmul
// consumes directly as a transpose flag and every other op copies with contiguous() first. Copies
// are explicit: clone(), contiguous(), cast<U>(), transfer<OtherPolicy>() (ops.hpp).
#include <gluegen/core/dtype.hpp>
#include <gluegen/core/error.hpp>
#include <gluegen/core/shape.hpp>
#include <gluegen/tensor/kernels.hpp>

#include <array>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

namespace gluegen {

template <Element T, TensorPolicy Policy>
class Tensor {
 public:
  using value_type = T;
  using policy = Policy;
  using Storage = typename Policy::template Storage<T>;

  Tensor() = default;

  /// Allocates an uninitialised contiguous tensor.
  explicit Tensor(const Shape& shape)
      : storage_(Policy::template allocate<T>(checked_numel(shape))),
        shape_(shape),
        strides_(shape.contiguous_strides()) {}

  static Tensor zeros(const Shape& shape) { return full(shape, T(0.0f)); }

  static Tensor full(const Shape& shape, T value) {
    Tensor t(shape);
    Policy::fill(t.data(), t.numel(), value);
    return t;
  }

  /// Copies `values` (row-major, shape.numel() of them) from host memory.
  static Tensor from_host(const Shape& shape, std::span<const T> values) {
    GLUEGEN_CHECK_AS(ShapeError, static_cast<index_t>(values.size()) == shape.numel(),
                     "Tensor::from_host: shape {} needs {} values, got {}", shape, shape.numel(), values.size());
    Tensor t(shape);
    Policy::copy_from_host(t.data(), values.data(), t.numel());
    return t;
  }

  [[nodiscard]] bool defined() const noexcept { return storage_ != nullptr; }
  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  [[nodiscard]] const Shape& strides() const noexcept { return strides_; }
  [[nodiscard]] int rank() const noexcept { return shape_.rank(); }
  [[nodiscard]] index_t numel() const noexcept { return shape_.numel(); }
  /// Extent of `axis`; negative axes count from the end (-1 is the last).
  [[nodiscard]] index_t size(int axis) const { return shape_[normalize_axis(axis)]; }

  [[nodiscard]] T* data() noexcept { return storage_ ? raw(*storage_) + offset_ : nullptr; }
  [[nodiscard]] const T* data() const noexcept { return storage_ ? raw(*storage_) + offset_ : nullptr; }

  [[nodiscard]] bool is_contiguous() const noexcept { return strides_ == shape_.contiguous_strides() || numel() <= 1; }
  [[nodiscard]] bool shares_storage_with(const Tensor& other) const noexcept { return storage_ == other.storage_; }

  /// A view with a new shape over the same elements. One extent may be -1 (inferred).
  [[nodiscard]] Tensor reshape(Shape new_shape) const {
    GLUEGEN_CHECK_AS(ShapeError, is_contiguous(),
                     "reshape: the tensor of shape {} is not contiguous (strides {}); call contiguous() first", shape_,
                     strides_);
    int inferred = -1;
    index_t known = 1;
    for (int i = 0; i < new_shape.rank(); ++i) {
      if (new_shape[i] == -1) {
        GLUEGEN_CHECK_AS(ShapeError, inferred < 0, "reshape: more than one -1 in {}", new_shape);
        inferred = i;
      } else {
        GLUEGEN_CHECK_AS(ShapeError, new_shape[i] >= 0, "reshape: negative extent in {}", new_shape);
        known *= new_shape[i];
      }
    }
    if (inferred >= 0) {
      GLUEGEN_CHECK_AS(ShapeError, known > 0 && numel() % known == 0,
                       "reshape: cannot infer -1 in {} for {} elements (shape {})", new_shape, numel(), shape_);
      new_shape[inferred] = numel() / known;
    }
    GLUEGEN_CHECK_AS(ShapeError, new_shape.numel() == numel(),
                     "reshape: shape {} has {} elements, the tensor {} has {}", new_shape, new_shape.numel(), shape_,
                     numel());
    Tensor view = *this;
    view.shape_ = new_shape;
    view.strides_ = new_shape.contiguous_strides();
    return view;
  }

  /// Rows [begin, end) of axis 0, as a view.
  [[nodiscard]] Tensor slice(index_t begin, index_t end) const {
    GLUEGEN_CHECK_AS(ShapeError, rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0],
                     "slice: [{}, {}) is out of range for axis 0 of shape {}", begin, end, shape_);
    Tensor view = *this;
    view.offset_ += begin * strides_[0];
    view.shape_[0] = end - begin;
    return view;
  }

  /// Entry i of axis 0, as a view of rank - 1.
  [[nodiscard]] Tensor select(index_t i) const {
    GLUEGEN_CHECK_AS(ShapeError, rank() >= 2 && 0 <= i && i < shape_[0],
                     "select: index {} is out of range for axis 0 of shape {} (needs rank >= 2)", i, shape_);
    Tensor view;
    view.storage_ = storage_;
    view.offset_ = offset_ + i * strides_[0];
    view.shape_ = Shape(shape_.span().subspan(1));
    view.strides_ = Shape(strides_.span().subspan(1));
    return view;
  }

  /// Swaps the last two axes without copying (the result is not contiguous).
  [[nodiscard]] Tensor transpose_last2() const {
    GLUEGEN_CHECK_AS(ShapeError, rank() >= 2, "transpose_last2: needs rank >= 2, got shape {}", shape_);
    Tensor view = *this;
    std::swap(view.shape_[rank() - 1], view.shape_[rank() - 2]);
    std::swap(view.strides_[rank() - 1], view.strides_[rank() - 2]);
    return view;
  }

  /// Reorders the axes without copying: result axis i is this tensor's axis axes[i]
  /// (e.g. {0, 2, 1, 3} turns [B, L, H, D] into [B, H, L, D] for per-head attention).
  [[nodiscard]] Tensor permute(std::initializer_list<int> axes) const {
    GLUEGEN_CHECK_AS(ShapeError, static_cast<int>(axes.size()) == rank(), "permute: {} axes given for shape {}",
                     axes.size(), shape_);
    Tensor view = *this;
    std::array<bool, Shape::kMaxRank> seen{};
    int i = 0;
    for (int a : axes) {
      GLUEGEN_CHECK_AS(ShapeError, 0 <= a && a < rank() && !seen[a],
                       "permute: axes are not a permutation of 0..{} for shape {}", rank() - 1, shape_);
      seen[a] = true;
      view.shape_[i] = shape_[a];
      view.strides_[i] = strides_[a];
      ++i;
    }
    return view;
  }

  /// This tensor if already contiguous, else a contiguous copy.
  [[nodiscard]] Tensor contiguous() const { return is_contiguous() ? *this : clone(); }

  /// A contiguous deep copy.
  [[nodiscard]] Tensor clone() const {
    Tensor copy(shape_);
    if (numel() > 0) Policy::copy_strided(copy.data(), data(), shape_, strides_);
    return copy;
  }

  /// A contiguous copy converted to element type U (e.g. f16 weights to f32 for compute).
  template <Element U>
  [[nodiscard]] Tensor<U, Policy> cast() const {
    const Tensor source = contiguous();
    Tensor<U, Policy> out(shape_);
    Policy::template convert<U, T>(out.data(), source.data(), numel());
    return out;
  }

  /// The elements in row-major order, copied to host memory.
  [[nodiscard]] std::vector<T> to_vector() const {
    const Tensor source = contiguous();
    std::vector<T> values(static_cast<std::size_t>(numel()));
    Policy::copy_to_host(values.data(), source.data(), numel());
    return values;
  }

 private:
  static index_t checked_numel(const Shape& shape) {
    for (index_t d : shape) GLUEGEN_CHECK_AS(ShapeError, d >= 0, "Tensor: negative extent in shape {}", shape);
    return shape.numel();
  }
  int normalize_axis(int axis) const {
    const int a = axis < 0 ? axis + rank() : axis;
    GLUEGEN_CHECK_AS(ShapeError, 0 <= a && a < rank(), "axis {} is out of range for shape {}", axis, shape_);
    return a;
  }
  static T* raw(Storage& s) { return Policy::raw(s); }
  static const T* raw(const Storage& s) { return Policy::raw(const_cast<Storage&>(s)); }

  std::shared_ptr<Storage> storage_;
  index_t offset_ = 0;
  Shape shape_;
  Shape strides_;
};

}  // namespace gluegen
