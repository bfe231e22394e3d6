// PNG output: a tensor written and read back pixel for pixel, captioned grids (captions in their own
// script through the TrueType fonts, ASCII without them), and bad input.
#include <gluegen/io/png.hpp>

#include <gtest/gtest.h>

#include "support/paths.hpp"

#include <algorithm>
#include <fstream>
#include <string>

namespace gluegen {
namespace {

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("gluegen_png_" + name);
}

/// Pixels of `img` in [x0, x1) x [y0, y1) that differ from `background` in any channel.
index_t ink(const io::Image& img, index_t x0, index_t y0, index_t x1, index_t y1, std::uint8_t background = 255) {
  index_t n = 0;
  for (index_t y = y0; y < y1; ++y)
    for (index_t x = x0; x < x1; ++x)
      for (index_t c = 0; c < img.channels; ++c)
        if (img.at(x, y, c) != background) {
          ++n;
          break;
        }
  return n;
}

/// A one-cell grid (32x32 upscaled 3 times, as the CLI draws) captioned `caption` in 2 lines: its caption
/// box is x in [4, 100), y in [100, 122).
io::Image captioned_cell(const std::string& caption) {
  return io::image_grid({io::Image(32, 32, 3, 128)}, {caption}, {.columns = 1, .upscale = 3, .caption_lines = 2});
}

/// Why the font tests cannot run here: a Debian caption font that caption_fonts() did not load ("" when both did).
std::string missing_debian_font() {
  for (const auto& path : io::debian_caption_font_paths())
    if (std::ranges::find(io::caption_fonts().paths(), path) == io::caption_fonts().paths().end())
      return path.string() + " is not loaded (Debian fonts-dejavu-core, fonts-droid-fallback)";
  return "";
}

TEST(Png, TensorRoundTripsThroughAFile) {
  // [-1, 1] -> 8 bit: -1 -> 0, 0 -> 128 (127.5 rounds up), 1 -> 255; out-of-range values clamp
  const std::vector<float> v{-1.f, 0.f, 1.f, 2.f, -3.f, 0.5f};
  const auto t = Tensor<float, Cpu>::from_host({3, 1, 2}, v);
  const io::Image img = io::to_image(t);
  ASSERT_EQ(img.width, 2);
  ASSERT_EQ(img.height, 1);
  EXPECT_EQ(img.at(0, 0, 0), 0);
  EXPECT_EQ(img.at(1, 0, 0), 128);
  EXPECT_EQ(img.at(0, 0, 1), 255);
  EXPECT_EQ(img.at(1, 0, 1), 255);
  EXPECT_EQ(img.at(0, 0, 2), 0);
  EXPECT_EQ(img.at(1, 0, 2), 191);
  const auto path = temp_file("roundtrip.png");
  io::write_png(path, img);
  const io::Image back = io::read_png(path);
  EXPECT_EQ(back.pixels, img.pixels);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  const auto floats = io::from_image(back).to_vector();
  EXPECT_FLOAT_EQ(floats[2], 1.0f);
}

TEST(Png, GridPlacesCellsAndDrawsCaptions) {
  io::Image red(4, 4, 3), grey(4, 4, 1, 200);
  for (index_t i = 0; i < 16; ++i) red.pixels[static_cast<std::size_t>(3 * i)] = 255;
  const io::Image grid = io::image_grid({red, red, red}, {"a red sneaker", "", "x"},
                                        {.columns = 2, .upscale = 8, .padding = 2, .caption_lines = 2});
  EXPECT_EQ(grid.width, 2 * (32 + 2) + 2);
  EXPECT_EQ(grid.height, 2 * (32 + 22 + 2) + 2);
  EXPECT_EQ(grid.at(2, 2, 0), 255);  // first cell's corner
  EXPECT_EQ(grid.at(2, 2, 1), 0);
  EXPECT_EQ(grid.at(0, 0, 1), 255);  // white padding
  // caption ink under the first cell, none under the second (whichever font draws it)
  EXPECT_GT(ink(grid, 2, 34, 34, 56), 20);
  EXPECT_EQ(ink(grid, 36, 34, 68, 56), 0);
  EXPECT_THROW((void)io::image_grid({red, grey}, {}), ShapeError);
  EXPECT_THROW((void)io::image_grid({red}, {"a", "b"}), ValueError);
}

// Without a font file captions fall back to the segment font, which draws printable ASCII only: accents
// are dropped, other characters and invalid UTF-8 become '?', and a caption in any script draws without
// reading outside the glyph table.
TEST(Png, WithoutFontsCaptionsDrawAsAscii) {
  EXPECT_EQ(io::drawable_text("a red sneaker"), "a red sneaker");
  EXPECT_EQ(io::drawable_text("Grün, robe à pois, botín"), "Grun, robe a pois, botin");
  EXPECT_EQ(io::drawable_text("红色的 bag"), "??? bag");
  EXPECT_EQ(io::drawable_text("x\xff"), "??");
  std::ofstream(temp_file("not_a_font.ttf")) << "not a font";
  const io::FontSet none = io::FontSet::load({temp_file("missing.ttf"), temp_file("not_a_font.ttf")});
  ASSERT_TRUE(none.empty());
  io::Image img(120, 12, 3), ascii(120, 12, 3);
  EXPECT_EQ(io::draw_text(img, 0, 0, "绿色的手提包 Grün", {255, 255, 255}, 1, 0, 0, none), 10);
  EXPECT_GT(ink(img, 0, 0, 120, 12, 0), 20);
  (void)io::draw_text(ascii, 0, 0, "?????? Grun", {255, 255, 255}, 1, 0, 0, none);
  EXPECT_EQ(img.pixels, ascii.pixels);
}

// With the Debian fonts a Chinese caption draws its own glyphs: not the ASCII fallback's '?'s, and not
// the boxes of code points no font has.
TEST(Png, ChineseCaptionsDrawInChinese) {
  if (const std::string why = missing_debian_font(); !why.empty()) GTEST_SKIP() << why;
  const io::Image chinese = captioned_cell("红色的运动鞋");
  EXPECT_GT(ink(chinese, 4, 100, 100, 122), 60);
  EXPECT_EQ(ink(chinese, 4, 112, 100, 122), 0);  // one line: six characters fit the 96-pixel cell
  EXPECT_NE(chinese.pixels, captioned_cell("??????").pixels);
  EXPECT_NE(chinese.pixels, captioned_cell("\U0010FFFD\U0010FFFD\U0010FFFD\U0010FFFD\U0010FFFD\U0010FFFD").pixels);
  io::Image line(120, 12, 3);
  EXPECT_EQ(io::draw_text(line, 0, 0, "绿色的手提包 Grün", {255, 255, 255}), 10);
  EXPECT_GT(ink(line, 0, 0, 60, 12, 0), 40);  // the Chinese characters
}

// Latin letters with diacritics keep them, and a long caption wraps at spaces inside the cell, its
// second line in the caption box's second line and nothing outside the box.
TEST(Png, LatinCaptionsKeepTheirDiacriticsAndWrap) {
  if (const std::string why = missing_debian_font(); !why.empty()) GTEST_SKIP() << why;
  const io::Image latin = captioned_cell("camisetas rojas, Größe, ĉemizo");
  EXPECT_GT(ink(latin, 4, 100, 100, 112), 60);
  EXPECT_GT(ink(latin, 4, 113, 100, 122), 30);
  EXPECT_EQ(ink(latin, 0, 100, 4, 122) + ink(latin, 100, 100, latin.width, 122), 0);
  EXPECT_EQ(ink(latin, 0, 122, latin.width, latin.height), 0);
  EXPECT_NE(latin.pixels, captioned_cell("camisetas rojas, Grosse, cemizo").pixels);
  EXPECT_NE(latin.pixels, captioned_cell(io::drawable_text("camisetas rojas, Größe, ĉemizo")).pixels);
  // decomposed input (o + combining diaeresis) draws as the precomposed letter
  EXPECT_EQ(captioned_cell("Gro\u0308\u00dfe").pixels, captioned_cell("Größe").pixels);
}

// A code point in no font (plane 16 private use) draws the first font's missing-glyph box, visibly,
// between the letters around it.
TEST(Png, CodePointsInNoFontDrawAVisibleBox) {
  if (const std::string why = missing_debian_font(); !why.empty()) GTEST_SKIP() << why;
  const io::Image missing = captioned_cell("\U0010FFFD");
  EXPECT_GT(ink(missing, 4, 100, 100, 122), 10);
  EXPECT_EQ(missing.pixels, captioned_cell("\U0010FFFE").pixels);  // every missing code point: the same box
  EXPECT_NE(captioned_cell("x\U0010FFFDy").pixels, captioned_cell("xy").pixels);
  EXPECT_GT(ink(captioned_cell("x\xffy"), 4, 100, 100, 122), 10);  // invalid UTF-8 draws too
}

TEST(Png, RejectsMissingAndCorruptFiles) {
  EXPECT_THROW((void)io::read_png(temp_file("missing.png")), FileNotFoundError);
  const auto path = temp_file("corrupt.png");
  std::ofstream(path) << "not a png";
  EXPECT_THROW((void)io::read_png(path), IoError);
  EXPECT_THROW((void)io::to_image(Tensor<float, Cpu>::zeros({2, 4, 4})), ShapeError);
}

// Found by fuzzing (tests/fuzz/regressions/png): an IDAT chunk declaring 1 GiB in a 263-byte file made stb_image
// allocate 2 GiB before reading it. The chunk walk rejects it first; so is a PNG past its last chunk.
TEST(Png, ChunksThatEndPastTheFileAreRejectedBeforeDecoding) {
  const auto regression = std::filesystem::path(test::source_dir()) / "tests/fuzz/regressions/png/idat_length_1gib.png";
  EXPECT_THROW((void)io::read_png(regression), TruncatedFileError);
  const auto path = temp_file("cut.png");
  io::write_png(path, io::Image(4, 4, 3));
  const auto bytes = read_file_bytes(path, "png");
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 6));
  EXPECT_THROW((void)io::read_png(path), TruncatedFileError);
}

}  // namespace
}  // namespace gluegen
