#pragma once
// Element types. Compute happens in f32/f64; f16 and bf16 are storage types (weights on disk, weights
// held in memory, cuBLAS tensor-core inputs) converted to f32 on use. The conversions are bit-exact
// IEEE round-to-nearest-even and usable on host and device, so a value converts identically on CPU
// and CUDA.
#include <gluegen/core/error.hpp>

#include <bit>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string_view>

#if defined(__CUDACC__)
#define GLUEGEN_HOST_DEVICE __host__ __device__
#else
#define GLUEGEN_HOST_DEVICE
#endif

namespace gluegen {

enum class DType : std::uint8_t { f32, f64, f16, bf16, i32 };

[[nodiscard]] constexpr std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::f64:
      return "f64";
    case DType::f16:
      return "f16";
    case DType::bf16:
      return "bf16";
    case DType::i32:
      return "i32";
  }
  return "?";
}

/// The inverse of dtype_name ("f32", "f16", ...); std::nullopt for anything else.
[[nodiscard]] constexpr std::optional<DType> dtype_from_name(std::string_view name) noexcept {
  for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i32})
    if (dtype_name(t) == name) return t;
  return std::nullopt;
}

[[nodiscard]] constexpr std::size_t dtype_size(DType t) noexcept {
  return t == DType::f64 ? 8 : (t == DType::f32 || t == DType::i32) ? 4 : 2;
}

namespace detail {
GLUEGEN_HOST_DEVICE inline std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  return std::bit_cast<std::uint32_t>(f);
#endif
}
GLUEGEN_HOST_DEVICE inline float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  return std::bit_cast<float>(u);
#endif
}
}  // namespace detail

/// IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits). Layout-compatible with CUDA's __half.
struct f16 {
  std::uint16_t bits = 0;

  f16() = default;
  GLUEGEN_HOST_DEVICE explicit f16(float value) : bits(from_float(value)) {}
  GLUEGEN_HOST_DEVICE explicit operator float() const { return to_float(bits); }

  GLUEGEN_HOST_DEVICE static std::uint16_t from_float(float value) {
    const std::uint32_t x = detail::float_bits(value);
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u)  // inf or NaN: keep NaN quiet and non-zero
      return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
    if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
    if (abs < 0x38800000u) {  // result is subnormal (or zero) in f16: round on the 2^-24 grid
      if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal
      const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
      const int shift = 126 - static_cast<int>(abs >> 23);  // 14..24 bits dropped
      std::uint32_t half = mant >> shift;
      const std::uint32_t rest = mant & ((1u << shift) - 1u), midpoint = 1u << (shift - 1);
      if (rest > midpoint || (rest == midpoint && (half & 1u))) ++half;
      return static_cast<std::uint16_t>(sign | half);
    }
    // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
    std::uint32_t half = ((abs - 0x38000000u) >> 13);
    const std::uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
    return static_cast<std::uint16_t>(sign | half);
  }

  GLUEGEN_HOST_DEVICE static float to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1fu) return detail::bits_float(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
    // Subnormal: value = mant * 2^-24, exact in f32.
    const float magnitude = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
};

/// bfloat16: the top 16 bits of an f32. Layout-compatible with CUDA's __nv_bfloat16.
struct bf16 {
  std::uint16_t bits = 0;

  bf16() = default;
  GLUEGEN_HOST_DEVICE explicit bf16(float value) : bits(from_float(value)) {}
  GLUEGEN_HOST_DEVICE explicit operator float() const { return to_float(bits); }

  GLUEGEN_HOST_DEVICE static std::uint16_t from_float(float value) {
    const std::uint32_t x = detail::float_bits(value);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
    const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);                                  // round to nearest even
    return static_cast<std::uint16_t>((x + rounding) >> 16);
  }
  GLUEGEN_HOST_DEVICE static float to_float(std::uint16_t b) {
    return detail::bits_float(static_cast<std::uint32_t>(b) << 16);
  }
};

/// Element types a Tensor can hold. int32 is for indices (token ids): stored, gathered, never computed on.
template <typename T>
concept Element = std::same_as<T, float> || std::same_as<T, double> || std::same_as<T, f16> || std::same_as<T, bf16> ||
                  std::same_as<T, std::int32_t>;

/// Element types arithmetic runs in. f16/bf16 tensors are converted (Tensor::cast) before compute.
template <typename T>
concept ComputeElement = std::same_as<T, float> || std::same_as<T, double>;

template <Element T>
inline constexpr DType dtype_of = std::same_as<T, float>    ? DType::f32
                                  : std::same_as<T, double> ? DType::f64
                                  : std::same_as<T, f16>    ? DType::f16
                                  : std::same_as<T, bf16>   ? DType::bf16
                                                            : DType::i32;

/// Converts between any two Element types (through f32 for the 16-bit ones).
template <Element To, Element From>
GLUEGEN_HOST_DEVICE inline To convert(From value) {
  if constexpr (std::same_as<To, From>)
    return value;
  else if constexpr (ComputeElement<To> && ComputeElement<From>)
    return static_cast<To>(value);
  else if constexpr (ComputeElement<From>)
    return To(static_cast<float>(value));
  else if constexpr (ComputeElement<To>)
    return static_cast<To>(static_cast<float>(value));
  else
    return To(static_cast<float>(value));
}

}  // namespace gluegen
