#pragma once
// Shape: the extents of a tensor, rank 0..kMaxRank, stored inline (no allocation). Also used for
// strides (in elements), where a 0 stride marks a broadcast axis.
#include <gluegen/core/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>

namespace gluegen {

using index_t = std::int64_t;

class Shape {
 public:
  static constexpr int kMaxRank = 5;

  constexpr Shape() = default;
  constexpr Shape(std::initializer_list<index_t> dims) : Shape(std::span<const index_t>(dims.begin(), dims.size())) {}
  explicit constexpr Shape(std::span<const index_t> dims) : rank_(static_cast<int>(dims.size())) {
    if (dims.size() > kMaxRank) GLUEGEN_THROW(ShapeError, "rank {} exceeds the maximum rank {}", dims.size(), kMaxRank);
    std::copy(dims.begin(), dims.end(), dims_.begin());
  }

  [[nodiscard]] constexpr int rank() const noexcept { return rank_; }
  [[nodiscard]] constexpr index_t operator[](int axis) const noexcept { return dims_[axis]; }
  [[nodiscard]] constexpr index_t& operator[](int axis) noexcept { return dims_[axis]; }
  /// Axis from the end: back(0) is the last extent.
  [[nodiscard]] constexpr index_t back(int from_end = 0) const noexcept { return dims_[rank_ - 1 - from_end]; }
  [[nodiscard]] constexpr index_t numel() const noexcept {
    index_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  [[nodiscard]] constexpr const index_t* begin() const noexcept { return dims_.data(); }
  [[nodiscard]] constexpr const index_t* end() const noexcept { return dims_.data() + rank_; }
  [[nodiscard]] constexpr std::span<const index_t> span() const noexcept {
    return {dims_.data(), static_cast<std::size_t>(rank_)};
  }

  /// A copy with one more axis at the end.
  [[nodiscard]] constexpr Shape appended(index_t extent) const {
    GLUEGEN_CHECK_AS(ShapeError, rank_ < kMaxRank, "cannot append an axis to a rank-{} shape", rank_);
    Shape s = *this;
    s.dims_[s.rank_++] = extent;
    return s;
  }
  /// A copy with the last axis replaced by `extent` (e.g. keepdim reductions).
  [[nodiscard]] constexpr Shape with_last(index_t extent) const {
    Shape s = *this;
    s.dims_[rank_ - 1] = extent;
    return s;
  }
  /// Row-major strides (in elements) for this shape.
  [[nodiscard]] constexpr Shape contiguous_strides() const noexcept {
    Shape s;
    s.rank_ = rank_;
    index_t stride = 1;
    for (int i = rank_ - 1; i >= 0; --i) {
      s.dims_[i] = stride;
      stride *= dims_[i];
    }
    return s;
  }

  friend constexpr bool operator==(const Shape& a, const Shape& b) noexcept {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::array<index_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace gluegen

/// Shapes print as "[2, 77, 768]".
template <>
struct fmt::formatter<gluegen::Shape> : fmt::formatter<std::string_view> {
  auto format(const gluegen::Shape& s, fmt::format_context& ctx) const {
    return fmt::format_to(ctx.out(), "[{}]", fmt::join(s.span(), ", "));
  }
};

namespace gluegen {

/// numpy broadcasting: align from the right; extents must match or one must be 1.
[[nodiscard]] inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  std::array<index_t, Shape::kMaxRank> out{};
  for (int i = 0; i < rank; ++i) {
    const index_t da = i < a.rank() ? a.back(i) : 1;
    const index_t db = i < b.rank() ? b.back(i) : 1;
    if (da != db && da != 1 && db != 1)
      GLUEGEN_THROW(ShapeError, "{}: shapes {} and {} do not broadcast (axis -{}: {} vs {})", op, a, b, i + 1, da, db);
    out[rank - 1 - i] = std::max(da, db);
  }
  return Shape(std::span<const index_t>(out.data(), rank));
}

}  // namespace gluegen
