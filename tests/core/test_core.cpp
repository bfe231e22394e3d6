// core/: errors, shapes, dtypes, random numbers, string helpers.
#include <gluegen/core/dtype.hpp>
#include <gluegen/core/error.hpp>
#include <gluegen/core/rng.hpp>
#include <gluegen/core/shape.hpp>
#include <gluegen/core/strings.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace gluegen {
namespace {

TEST(Error, CarriesLocationMessageAndType) {
  try {
    GLUEGEN_CHECK_AS(ShapeError, 1 + 1 == 3, "tensor '{}' has shape {}", "x", Shape{2, 3});
    FAIL() << "no throw";
  } catch (const ShapeError& e) {
    EXPECT_EQ(e.message(), "tensor 'x' has shape [2, 3]");
    EXPECT_NE(std::string(e.what()).find("test_core.cpp:"), std::string::npos) << e.what();
    EXPECT_GT(e.line(), 0);
  }
  EXPECT_THROW(GLUEGEN_CHECK(false, "plain"), Error);
  EXPECT_NO_THROW(GLUEGEN_CHECK(true, "never"));
  // The hierarchy lets callers catch broadly or narrowly.
  EXPECT_THROW(GLUEGEN_THROW(MissingDatasetError, "x"), IoError);
  EXPECT_THROW(GLUEGEN_THROW(TruncatedFileError, "x"), Error);
}

TEST(Shape, BasicsAndFormatting) {
  const Shape s{2, 77, 768};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 2 * 77 * 768);
  EXPECT_EQ(s.back(), 768);
  EXPECT_EQ(s.back(2), 2);
  EXPECT_EQ(fmt::format("{}", s), "[2, 77, 768]");
  EXPECT_EQ(fmt::format("{}", Shape{}), "[]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(s.contiguous_strides(), (Shape{77 * 768, 768, 1}));
  EXPECT_EQ(s.with_last(1), (Shape{2, 77, 1}));
  EXPECT_EQ(s.appended(4), (Shape{2, 77, 768, 4}));
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6}), ShapeError);
  EXPECT_THROW((void)Shape({1, 2, 3, 4, 5}).appended(1), ShapeError);
}

TEST(Shape, BroadcastFollowsNumpy) {
  EXPECT_EQ(broadcast_shapes({2, 1, 4}, {3, 1}, "t"), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes({5}, {2, 3, 5}, "t"), (Shape{2, 3, 5}));
  EXPECT_EQ(broadcast_shapes({1}, {1}, "t"), (Shape{1}));
  try {
    (void)broadcast_shapes({2, 3}, {4, 3}, "add");
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_EQ(e.message(), "add: shapes [2, 3] and [4, 3] do not broadcast (axis -2: 2 vs 4)");
  }
}

// GCC's _Float16 (IEEE binary16 with round-to-nearest-even conversions) is the reference.
TEST(DType, F16MatchesTheCompilersBinary16OnEveryPattern) {
  for (std::uint32_t bits = 0; bits <= 0xffff; ++bits) {
    _Float16 ref;
    const auto b16 = static_cast<std::uint16_t>(bits);
    std::memcpy(&ref, &b16, 2);
    const float widened = f16::to_float(b16);
    if (std::isnan(static_cast<float>(ref))) {
      ASSERT_TRUE(std::isnan(widened)) << bits;
      continue;
    }
    ASSERT_EQ(widened, static_cast<float>(ref)) << bits;
    ASSERT_EQ(f16::from_float(widened), b16) << bits;  // exact round trip
  }
}

TEST(DType, F16RoundsFloatsLikeTheCompiler) {
  std::mt19937 gen(12345);
  auto check = [](float f) {
    const _Float16 ref = static_cast<_Float16>(f);
    std::uint16_t ref_bits;
    std::memcpy(&ref_bits, &ref, 2);
    if (std::isnan(f)) return std::isnan(f16::to_float(f16::from_float(f)));
    return f16::from_float(f) == ref_bits;
  };
  for (int i = 0; i < 2'000'000; ++i) {
    // Random sign and mantissa; exponents 2^-30..2^17 cover zero, subnormal, normal and overflow in f16.
    const std::uint32_t bits = gen();
    const std::uint32_t pattern = (bits & 0x807fffffu) | ((97u + (bits >> 23) % 48u) << 23);
    float f;
    std::memcpy(&f, &pattern, 4);
    ASSERT_TRUE(check(f)) << std::hexfloat << f;
  }
  // Exact ties: halfway between neighbours rounds to the even one (normal and subnormal ranges).
  EXPECT_EQ(f16::to_float(f16::from_float(1.0f + 0x1p-11f)), 1.0f);
  EXPECT_EQ(f16::to_float(f16::from_float(1.0f + 3 * 0x1p-11f)), 1.0f + 0x1p-9f);
  EXPECT_EQ(f16::to_float(f16::from_float(0x1p-25f)), 0.0f);
  EXPECT_EQ(f16::to_float(f16::from_float(3 * 0x1p-25f)), 0x1p-23f);
  for (float f : {65504.f, 65519.99f, 65520.f, 1e-8f, 2.9802322e-8f, 5.9604645e-8f, 6.1035156e-5f, -0.0f, INFINITY,
                  -INFINITY, NAN})
    EXPECT_TRUE(check(f)) << f;
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(bf16::from_float(1.0f), 0x3f80);
  EXPECT_EQ(bf16::to_float(0x3f80), 1.0f);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(bf16::to_float(bf16::from_float(1.00390625f)), 1.0f);
  EXPECT_EQ(bf16::to_float(bf16::from_float(1.01171875f)), 1.015625f);  // tie, rounds up to even
  EXPECT_TRUE(std::isnan(bf16::to_float(bf16::from_float(NAN))));
  EXPECT_EQ(bf16::to_float(bf16::from_float(INFINITY)), INFINITY);
  for (std::uint32_t b = 0; b <= 0xffff; ++b) {
    const auto h = static_cast<std::uint16_t>(b);
    if (!std::isnan(bf16::to_float(h))) {
      ASSERT_EQ(bf16::from_float(bf16::to_float(h)), h);
    }
  }
}

TEST(DType, NamesSizesAndConvert) {
  EXPECT_EQ(dtype_name(DType::bf16), "bf16");
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_of<f16>, DType::f16);
  EXPECT_EQ(convert<double>(f16(0.5f)), 0.5);
  EXPECT_EQ(static_cast<float>(convert<bf16>(2.0)), 2.0f);
}

// Known-answer vectors published with Random123 (kat_vectors): counter, key -> output.
TEST(Rng, PhiloxMatchesRandom123KnownAnswers) {
  const rng::Philox4x32 zeros(0, 0, 0, 0, 0, 0);
  EXPECT_EQ((std::array{zeros.out[0], zeros.out[1], zeros.out[2], zeros.out[3]}),
            (std::array<std::uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  const std::uint32_t f = 0xffffffffu;
  const rng::Philox4x32 ones(f, f, f, f, f, f);
  EXPECT_EQ((std::array{ones.out[0], ones.out[1], ones.out[2], ones.out[3]}),
            (std::array<std::uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  const rng::Philox4x32 pi(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0);
  EXPECT_EQ((std::array{pi.out[0], pi.out[1], pi.out[2], pi.out[3]}),
            (std::array<std::uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Rng, UniformsAreOpenIntervalAndNormalsFinite) {
  EXPECT_GT(rng::to_unit_open(0), 0.0);
  EXPECT_LT(rng::to_unit_open(0xffffffffu), 1.0);
  for (std::uint64_t i = 0; i < 10000; ++i) ASSERT_TRUE(std::isfinite(rng::normal_at(1, 0, i)));
}

TEST(Strings, EditDistanceAndClosestNames) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  const std::vector<std::string> names{"encoder.fc1.weight", "encoder.fc1.bias", "decoder.fc1.weight"};
  EXPECT_EQ(closest_names("encoder.fc1.weigth", names, 2),
            (std::vector<std::string>{"encoder.fc1.weight", "decoder.fc1.weight"}));
}

// every separator cuts, so empty fields (in the middle, at either end) are kept and counted
TEST(Strings, SplitFieldsKeepsEmptyFields) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_fields("a\t\tb\t", '\t'), (V{"a", "", "b", ""}));
  EXPECT_EQ(split_fields("en-029:140", ':'), (V{"en-029", "140"}));
  EXPECT_EQ(split_fields("", ':'), (V{""}));
  EXPECT_EQ(split_fields(":", ':'), (V{"", ""}));
}

}  // namespace
}  // namespace gluegen
