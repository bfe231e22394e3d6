// PNG output: a tensor written and read back pixel for pixel, captioned grids, and bad input.
#include <gluegen/io/png.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace gluegen {
namespace {

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("gluegen_png_" + name);
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
  index_t dark = 0;                  // caption pixels under the first cell, none under the second
  for (index_t y = 34; y < 56; ++y)
    for (index_t x = 2; x < 34; ++x) dark += grid.at(x, y, 0) == 0;
  EXPECT_GT(dark, 20);
  index_t dark2 = 0;
  for (index_t y = 34; y < 56; ++y)
    for (index_t x = 36; x < 68; ++x) dark2 += grid.at(x, y, 0) == 0;
  EXPECT_EQ(dark2, 0);
  EXPECT_THROW((void)io::image_grid({red, grey}, {}), ShapeError);
  EXPECT_THROW((void)io::image_grid({red}, {"a", "b"}), ValueError);
}

// The segment font draws printable ASCII only: accents are dropped, other characters and invalid
// UTF-8 become '?', and a caption in any script draws without reading outside the glyph table.
TEST(Png, CaptionsInAnyScriptDrawAsAscii) {
  EXPECT_EQ(io::drawable_text("a red sneaker"), "a red sneaker");
  EXPECT_EQ(io::drawable_text("Grün, robe à pois, botín"), "Grun, robe a pois, botin");
  EXPECT_EQ(io::drawable_text("红色的 bag"), "??? bag");
  EXPECT_EQ(io::drawable_text("x\xff"), "??");
  io::Image img(120, 12, 3);
  EXPECT_EQ(io::draw_text(img, 0, 0, "绿色的手提包 Grün", {255, 255, 255}), 10);
  EXPECT_TRUE(std::any_of(img.pixels.begin(), img.pixels.end(), [](std::uint8_t v) { return v == 255; }));
}

TEST(Png, RejectsMissingAndCorruptFiles) {
  EXPECT_THROW((void)io::read_png(temp_file("missing.png")), FileNotFoundError);
  const auto path = temp_file("corrupt.png");
  std::ofstream(path) << "not a png";
  EXPECT_THROW((void)io::read_png(path), IoError);
  EXPECT_THROW((void)io::to_image(Tensor<float, Cpu>::zeros({2, 4, 4})), ShapeError);
}

}  // namespace
}  // namespace gluegen
