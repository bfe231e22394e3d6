#pragma once
// Counter-based random numbers (Philox4x32-10, Salmon et al., "Parallel Random Numbers: As Easy as
// 1, 2, 3", SC'11). Element i of a fill is a pure function of (seed, stream, i), so the CPU and CUDA
// policies produce the same numbers for the same seed, in any thread order, and a fill can be resumed
// or split without state.
#include <gluegen/core/dtype.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace gluegen::rng {

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;

namespace detail {
GLUEGEN_HOST_DEVICE inline void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t product = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(product >> 32);
  lo = static_cast<std::uint32_t>(product);
}
}  // namespace detail

/// Philox4x32 with 10 rounds (the Random123 constants). Passes the Random123 known-answer vectors.
struct Philox4x32 {
  std::uint32_t out[4];

  GLUEGEN_HOST_DEVICE Philox4x32(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                                 std::uint32_t k0, std::uint32_t k1) {
    constexpr std::uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
    constexpr std::uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
    for (int round = 0; round < 10; ++round) {
      std::uint32_t hi0, lo0, hi1, lo1;
      detail::mulhilo(kMul0, c0, hi0, lo0);
      detail::mulhilo(kMul1, c2, hi1, lo1);
      const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      k0 += kWeyl0;
      k1 += kWeyl1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
  }
};

/// 24 random bits to a float in the open interval (0, 1): never 0, so log() in Box-Muller is finite.
GLUEGEN_HOST_DEVICE inline double to_unit_open(std::uint32_t bits) {
  return (static_cast<double>(bits >> 8) + 0.5) * (1.0 / 16777216.0);
}

/// The 4 uniforms of block `block` (elements 4*block .. 4*block+3) of stream `stream` under `seed`.
GLUEGEN_HOST_DEVICE inline void uniform4(std::uint64_t seed, std::uint64_t stream, std::uint64_t block, double u[4]) {
  const Philox4x32 p(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                     static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32),
                     static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
  for (int j = 0; j < 4; ++j) u[j] = to_unit_open(p.out[j]);
}

/// Element `index` of a uniform [0,1) fill. Exact (bit-identical) on CPU and CUDA.
GLUEGEN_HOST_DEVICE inline double uniform_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  double u[4];
  uniform4(seed, stream, index / 4, u);
  return u[index % 4];
}

/// The 4 standard normals of block `block`: Box-Muller on its uniform pairs (u0,u1) and (u2,u3).
/// Computed in double, so CPU and CUDA agree to the last bit of an f32 except in rare libm ties.
GLUEGEN_HOST_DEVICE inline void normal4(std::uint64_t seed, std::uint64_t stream, std::uint64_t block, double z[4]) {
  double u[4];
  uniform4(seed, stream, block, u);
  for (int pair = 0; pair < 2; ++pair) {
    const double radius = std::sqrt(-2.0 * std::log(u[2 * pair]));
    const double angle = 6.283185307179586476925286766559 * u[2 * pair + 1];
    z[2 * pair] = radius * std::cos(angle);
    z[2 * pair + 1] = radius * std::sin(angle);
  }
}

/// Element `index` of a standard normal fill (element i of a fill is normal4's value i % 4 of block i / 4).
GLUEGEN_HOST_DEVICE inline double normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  double z[4];
  normal4(seed, stream, index / 4, z);
  return z[index % 4];
}

/// A uniformly random permutation of 0..n-1 (Fisher-Yates on stream `stream` of `seed`): the same
/// (seed, stream) gives the same order on every machine, which makes data order part of a resumable state.
inline std::vector<std::int64_t> random_permutation(std::int64_t n, std::uint64_t seed, std::uint64_t stream) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j =
        static_cast<std::int64_t>(uniform_at(seed, stream, static_cast<std::uint64_t>(i)) * static_cast<double>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(std::min(j, i))]);
  }
  return order;
}

}  // namespace gluegen::rng
