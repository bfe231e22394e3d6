#pragma once
// Images out of (and into) gluegen: 8-bit RGB / grey PNG files through stb_image_write / stb_image
// (Debian libstb), conversion from model tensors ([C, H, W] in [-1, 1] or [0, 1]), and captioned
// image grids. Captions are drawn anti-aliased in every script the TrueType fonts of io/font.hpp
// cover; where no font file exists, in stb_easy_font's built-in ASCII segment font. Files are written
// atomically.
#include <gluegen/core/error.hpp>
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/io/font.hpp>
#include <gluegen/tensor.hpp>
#include <gluegen/text/unicode.hpp>

#include <stb_easy_font.h>
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace gluegen::io {

/// Interleaved 8-bit pixels, row-major [height][width][channels] (channels 1 or 3).
struct Image {
  index_t width = 0, height = 0, channels = 3;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(index_t w, index_t h, index_t c, std::uint8_t fill = 0)
      : width(w), height(h), channels(c), pixels(static_cast<std::size_t>(w * h * c), fill) {}
  std::uint8_t& at(index_t x, index_t y, index_t ch) {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + ch)];
  }
  [[nodiscard]] std::uint8_t at(index_t x, index_t y, index_t ch) const {
    return pixels[static_cast<std::size_t>((y * width + x) * channels + ch)];
  }
};

enum class PixelRange { minus_one_to_one, zero_to_one };

/// [C, H, W] (C = 1 or 3) -> an Image, clamping to the range (diffusers' (x / 2 + 0.5).clamp(0, 1)).
template <ComputeElement T, TensorPolicy P>
[[nodiscard]] Image to_image(const Tensor<T, P>& chw, PixelRange range = PixelRange::minus_one_to_one) {
  GLUEGEN_CHECK_AS(ShapeError, chw.rank() == 3 && (chw.size(0) == 1 || chw.size(0) == 3),
                   "to_image: tensor has shape {}, expected [1 or 3, H, W]", chw.shape());
  const index_t C = chw.size(0), H = chw.size(1), W = chw.size(2);
  const auto values = chw.to_vector();
  Image img(W, H, C);
  for (index_t c = 0; c < C; ++c)
    for (index_t y = 0; y < H; ++y)
      for (index_t x = 0; x < W; ++x) {
        double v = static_cast<double>(values[static_cast<std::size_t>((c * H + y) * W + x)]);
        if (range == PixelRange::minus_one_to_one) v = v / 2 + 0.5;
        v = std::isfinite(v) ? std::clamp(v, 0.0, 1.0) : 0.0;
        img.at(x, y, c) = static_cast<std::uint8_t>(std::lround(v * 255));
      }
  return img;
}

/// An Image -> [C, H, W] floats in [0, 1].
[[nodiscard]] inline Tensor<float, Cpu> from_image(const Image& img) {
  std::vector<float> v(img.pixels.size());
  for (index_t c = 0; c < img.channels; ++c)
    for (index_t y = 0; y < img.height; ++y)
      for (index_t x = 0; x < img.width; ++x)
        v[static_cast<std::size_t>((c * img.height + y) * img.width + x)] = img.at(x, y, c) / 255.0f;
  return Tensor<float, Cpu>::from_host({img.channels, img.height, img.width}, v);
}

/// Writes a PNG atomically (a temporary file renamed over `path`).
inline void write_png(const std::filesystem::path& path, const Image& img) {
  GLUEGEN_CHECK_AS(ValueError,
                   img.width > 0 && img.height > 0 && (img.channels == 1 || img.channels == 3 || img.channels == 4) &&
                       img.pixels.size() == static_cast<std::size_t>(img.width * img.height * img.channels),
                   "write_png('{}'): invalid image {}x{}x{}", path.string(), img.width, img.height, img.channels);
  std::string bytes;
  const auto sink = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
  };
  const int ok = stbi_write_png_to_func(sink, &bytes, static_cast<int>(img.width), static_cast<int>(img.height),
                                        static_cast<int>(img.channels), img.pixels.data(),
                                        static_cast<int>(img.width * img.channels));
  GLUEGEN_CHECK_AS(IoError, ok != 0, "write_png('{}'): encoding failed", path.string());
  write_file_atomically(path, bytes, "PNG file");
}

namespace detail {

/// Checks the chunk structure of PNG bytes before stb_image sees them: the signature, and every chunk's declared
/// length within the file. stb_image grows its IDAT buffer to a chunk's declared length (up to 1 GiB) before it
/// reads the chunk's bytes, so a 60-byte file could make it allocate 2 GiB (found by tests/fuzz/fuzz_png.cpp).
inline void check_png_chunks(std::string_view bytes, const std::string& name) {
  GLUEGEN_CHECK_AS(IoError, bytes.size() >= 8 && bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n",
                   "'{}' is not a PNG file (no PNG signature)", name);
  ByteCursor in(bytes, name);
  (void)in.take_bytes(8, "the PNG signature");
  while (!in.at_end()) {
    const std::string_view length = in.take_bytes(4, "a chunk length");
    const std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(length[0])} << 24) |
                            (std::uint32_t{static_cast<unsigned char>(length[1])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(length[2])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(length[3])};
    const std::string_view type = in.take_bytes(4, "a chunk type");
    (void)in.take_bytes(std::uint64_t{n} + 4, fmt::format("chunk '{}' ({} bytes and its CRC)", type, n));
    if (type == "IEND") return;
  }
  GLUEGEN_THROW(TruncatedFileError, "'{}' is truncated: it ends before its IEND chunk", name);
}

}  // namespace detail

/// Reads a PNG as 8-bit, keeping 1 or 3 channels (alpha dropped). Other formats stb_image knows are refused:
/// only the PNG path is checked before decoding.
[[nodiscard]] inline Image read_png(const std::filesystem::path& path) {
  const std::string bytes = read_file_bytes(path, "image");
  detail::check_png_chunks(bytes, path.string());
  const auto* data_in = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int size = static_cast<int>(std::min<std::size_t>(bytes.size(), std::numeric_limits<int>::max()));
  int w = 0, h = 0, c = 0;
  // The header's size is checked before stb_image allocates w x h x channels bytes for it: a 100-byte file may
  // declare 60000 x 60000 pixels. 2^26 pixels (8192 x 8192) is far past any image gluegen writes or scores.
  GLUEGEN_CHECK_AS(IoError, stbi_info_from_memory(data_in, size, &w, &h, &c) != 0, "cannot decode image '{}': {}",
                   path.string(), stbi_failure_reason());
  GLUEGEN_CHECK_AS(IoError, static_cast<index_t>(w) * h <= (index_t{1} << 26),
                   "image '{}' declares {} x {} pixels, more than the 2^26 gluegen reads", path.string(), w, h);
  stbi_uc* data = stbi_load_from_memory(data_in, size, &w, &h, &c, 0);
  GLUEGEN_CHECK_AS(IoError, data != nullptr, "cannot decode image '{}': {}", path.string(), stbi_failure_reason());
  const int keep = c == 1 || c == 2 ? 1 : 3;
  Image img(w, h, keep);
  for (int i = 0; i < w * h; ++i)
    for (int k = 0; k < keep; ++k) img.pixels[static_cast<std::size_t>(i * keep + k)] = data[i * c + k];
  stbi_image_free(data);
  return img;
}

/// What stb_easy_font, the fallback when no caption font file exists, can draw of UTF-8 `text`: its printable
/// ASCII (32..126) only, and it indexes its glyph table with any other byte unchecked. Accented letters lose
/// their accents ("Grün" -> "Grun", canonical decomposition without the combining marks); every other
/// character, and invalid UTF-8, becomes '?'.
[[nodiscard]] inline std::string drawable_text(std::string_view text) {
  std::u32string points;
  try {
    points = text::decode_utf8(text);
  } catch (const ValueError&) {
    return std::string(text.size(), '?');
  }
  std::string out;
  for (char32_t cp : points) {
    std::u32string parts;
    text::append_nfd(parts, cp);
    bool drawn = false;
    for (char32_t part : parts) {
      if (part >= 32 && part <= 126)
        out.push_back(static_cast<char>(part)), drawn = true;
      else if (text::category(part) != UTF8PROC_CATEGORY_MN)
        out.push_back('?'), drawn = true;
    }
    if (!drawn) out.push_back('?');
  }
  return out;
}

/// Pixels per line of text at scale 1: a TrueType font's ascent to descent, or stb_easy_font's 10 units (with
/// descenders). Caption boxes are lines of this height, so captions fit whichever font draws them.
inline constexpr index_t text_line_height = 10;

namespace detail {

/// `text` broken at spaces into lines no wider than `max_width` pixels (0: one line), each code point
/// `advance(cp)` wide; a word wider than a line by itself is broken between characters, as Chinese and
/// Japanese, written without spaces, need.
template <class Advance>
[[nodiscard]] std::vector<std::u32string> wrap_lines(const std::u32string& text, index_t max_width, Advance advance) {
  const auto fits = [&](double width) { return max_width <= 0 || width <= static_cast<double>(max_width); };
  std::vector<std::u32string> lines{U""};
  double used = 0;  // width of lines.back()
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t end = std::min(text.find(U' ', i), text.size());
    const std::u32string word = text.substr(i, end - i);
    double width = 0;
    for (char32_t cp : word) width += advance(cp);
    if (!lines.back().empty() && !fits(used + advance(U' ') + width)) lines.emplace_back(), used = 0;
    if (!lines.back().empty()) lines.back() += U' ', used += advance(U' ');
    for (char32_t cp : word) {
      if (!lines.back().empty() && !fits(used + advance(cp)) && !fits(width)) lines.emplace_back(), used = 0;
      lines.back() += cp, used += advance(cp);
    }
    i = end + 1;
  }
  return lines;
}

/// Mixes `coverage` (0..255) of `color` into pixel (x, y) if it lies in the image and in `box`
/// ({x0, y0, x1, y1}, half-open).
inline void blend(Image& img, index_t x, index_t y, int coverage, std::array<std::uint8_t, 3> color,
                  const std::array<index_t, 4>& box) {
  if (x < std::max<index_t>(box[0], 0) || y < std::max<index_t>(box[1], 0) || x >= std::min(box[2], img.width) ||
      y >= std::min(box[3], img.height))
    return;
  for (index_t c = 0; c < img.channels; ++c) {
    std::uint8_t& v = img.at(x, y, c);
    const int target = color[static_cast<std::size_t>(std::min<index_t>(c, 2))];
    v = static_cast<std::uint8_t>(v + std::lround((target - v) * coverage / 255.0));
  }
}

/// Lines of ASCII in stb_easy_font (quads, fully covered pixels), `scale` pixels per font unit.
inline void draw_ascii_lines(Image& img, index_t x, index_t y, const std::vector<std::u32string>& lines,
                             std::array<std::uint8_t, 3> color, index_t scale, const std::array<index_t, 4>& box) {
  std::vector<char> buffer(64 * 1024);
  for (std::size_t l = 0; l < lines.size(); ++l) {
    std::string line(lines[l].begin(), lines[l].end());  // drawable_text made it ASCII
    const int quads = stb_easy_font_print(0, 0, line.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
    for (int q = 0; q < quads; ++q) {  // axis-aligned quads: 4 vertices of (x, y, z, rgba), 16 bytes each
      const auto* v = reinterpret_cast<const float*>(buffer.data() + q * 64);
      const float x0 = std::min(v[0], v[8]), x1 = std::max(v[0], v[8]), y0 = std::min(v[1], v[9]),
                  y1 = std::max(v[1], v[9]);
      for (index_t py = static_cast<index_t>(y0 * scale); py < static_cast<index_t>(y1 * scale); ++py)
        for (index_t px = static_cast<index_t>(x0 * scale); px < static_cast<index_t>(x1 * scale); ++px)
          blend(img, x + px, y + static_cast<index_t>(l) * text_line_height * scale + py, 255, color, box);
    }
  }
}

/// Lines of text in `fonts`, anti-aliased, with the pen kept at sub-pixel positions.
inline void draw_font_lines(Image& img, index_t x, index_t y, const std::vector<std::u32string>& lines,
                            std::array<std::uint8_t, 3> color, const FontSet& fonts, index_t line_pitch,
                            const std::array<index_t, 4>& box) {
  const auto line_height = static_cast<float>(line_pitch);
  const auto baseline = static_cast<index_t>(std::lround(fonts.baseline(line_height)));
  for (std::size_t l = 0; l < lines.size(); ++l) {
    const index_t base_y = y + static_cast<index_t>(l) * line_pitch + baseline;
    float pen = 0;
    for (char32_t cp : lines[l]) {
      const float whole = std::floor(pen);
      const GlyphBitmap g = fonts.glyph(cp, line_height, pen - whole);
      const index_t gx = x + static_cast<index_t>(whole) + g.x_offset, gy = base_y + g.y_offset;
      for (int py = 0; py < g.height; ++py)
        for (int px = 0; px < g.width; ++px)
          if (const int cover = g.coverage[static_cast<std::size_t>(py * g.width + px)]; cover > 0)
            blend(img, gx + px, gy + py, cover, color, box);
      pen += fonts.advance(cp, line_height);
    }
  }
}

}  // namespace detail

/// Draws UTF-8 `text` with its top-left corner at (x, y) in `color`, in lines `text_line_height * scale`
/// pixels apart, wrapping at `max_width` pixels on spaces (between characters where a word alone is wider)
/// and clipped to the box (max_width x max_height; 0 = unbounded). The glyphs come from `fonts`; when it is
/// empty (no font file found), from stb_easy_font, as drawable_text(text). Returns the height used.
inline index_t draw_text(Image& img, index_t x, index_t y, const std::string& text_utf8,
                         std::array<std::uint8_t, 3> color, index_t scale = 1, index_t max_width = 0,
                         index_t max_height = 0, const FontSet& fonts = caption_fonts()) {
  const std::array<index_t, 4> box{max_width > 0 ? x : 0, max_height > 0 ? y : 0,
                                   max_width > 0 ? x + max_width : img.width,
                                   max_height > 0 ? y + max_height : img.height};
  const index_t line_pitch = text_line_height * scale;
  std::vector<std::u32string> lines;
  if (fonts.empty()) {
    const std::string ascii = drawable_text(text_utf8);
    lines = detail::wrap_lines(std::u32string(ascii.begin(), ascii.end()), max_width,
                               [&](char32_t) { return 6.0 * static_cast<double>(scale); });  // easy_font's advance
    detail::draw_ascii_lines(img, x, y, lines, color, scale, box);
  } else {
    std::u32string points;
    try {
      points = text::decode_utf8(text::nfc(text_utf8));  // precomposed letters, where the fonts have them
    } catch (const ValueError&) {
      points.assign(text_utf8.size(), U'\uFFFD');  // invalid UTF-8: one replacement character per byte
    }
    const auto line_height = static_cast<float>(line_pitch);
    lines = detail::wrap_lines(points, max_width, [&](char32_t cp) { return fonts.advance(cp, line_height); });
    detail::draw_font_lines(img, x, y, lines, color, fonts, line_pitch, box);
  }
  return static_cast<index_t>(lines.size()) * line_pitch;
}

struct GridOptions {
  index_t columns = 4;
  index_t upscale = 1;  ///< nearest-neighbour magnification of each cell (small images)
  index_t padding = 4;
  index_t caption_lines = 3;  ///< caption space under each cell, in lines of text
  std::array<std::uint8_t, 3> background{255, 255, 255};
  std::array<std::uint8_t, 3> text_color{0, 0, 0};
};

/// Where image_grid puts things: cell i's image (cell_width x cell_height) has its top-left corner at
/// (cell_x(i), cell_y(i)), its caption box (cell_width x caption_height) lies right under it, and `padding`
/// pixels of background surround every cell.
struct GridLayout {
  index_t columns = 1, rows = 1, cell_width = 0, cell_height = 0, caption_height = 0, padding = 0;

  /// The layout of `n` images of `width` x `height`, with a caption box under each when `captioned`.
  [[nodiscard]] static GridLayout of(index_t n, index_t width, index_t height, bool captioned, const GridOptions& opt) {
    const index_t cols = std::min(opt.columns, n);
    return {.columns = cols,
            .rows = (n + cols - 1) / cols,
            .cell_width = width * opt.upscale,
            .cell_height = height * opt.upscale,
            .caption_height = captioned ? opt.caption_lines * text_line_height + 2 : 0,
            .padding = opt.padding};
  }
  [[nodiscard]] index_t width() const { return columns * (cell_width + padding) + padding; }
  [[nodiscard]] index_t height() const { return rows * (cell_height + caption_height + padding) + padding; }
  [[nodiscard]] index_t cell_x(index_t i) const { return padding + (i % columns) * (cell_width + padding); }
  [[nodiscard]] index_t cell_y(index_t i) const {
    return padding + (i / columns) * (cell_height + caption_height + padding);
  }
};

/// Lays images (same size and channels) out in a grid, each with its caption underneath (may be empty).
[[nodiscard]] inline Image image_grid(const std::vector<Image>& images, const std::vector<std::string>& captions,
                                      const GridOptions& opt = {}) {
  GLUEGEN_CHECK_AS(ValueError, !images.empty() && opt.columns > 0 && opt.upscale > 0,
                   "image_grid: needs images and columns > 0");
  GLUEGEN_CHECK_AS(ValueError, captions.empty() || captions.size() == images.size(),
                   "image_grid: {} captions for {} images", captions.size(), images.size());
  const Image& first = images.front();
  for (const auto& im : images)
    GLUEGEN_CHECK_AS(ShapeError, im.width == first.width && im.height == first.height && im.channels == first.channels,
                     "image_grid: images differ in size ({}x{}x{} vs {}x{}x{})", im.width, im.height, im.channels,
                     first.width, first.height, first.channels);
  const index_t n = static_cast<index_t>(images.size());
  const GridLayout layout = GridLayout::of(n, first.width, first.height, !captions.empty(), opt);
  Image grid(layout.width(), layout.height(), 3);
  for (std::size_t i = 0; i < grid.pixels.size(); ++i) grid.pixels[i] = opt.background[i % 3];
  for (index_t i = 0; i < n; ++i) {
    const index_t ox = layout.cell_x(i), oy = layout.cell_y(i);
    const Image& im = images[static_cast<std::size_t>(i)];
    for (index_t y = 0; y < layout.cell_height; ++y)
      for (index_t x = 0; x < layout.cell_width; ++x)
        for (index_t c = 0; c < 3; ++c)
          grid.at(ox + x, oy + y, c) = im.at(x / opt.upscale, y / opt.upscale, im.channels == 1 ? 0 : c);
    if (!captions.empty())
      draw_text(grid, ox, oy + layout.cell_height + 2, captions[static_cast<std::size_t>(i)], opt.text_color, 1,
                layout.cell_width, layout.caption_height - 2);
  }
  return grid;
}

}  // namespace gluegen::io
