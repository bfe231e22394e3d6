#pragma once
// Images out of (and into) gluegen: 8-bit RGB / grey PNG files through stb_image_write / stb_image
// (Debian libstb), conversion from model tensors ([C, H, W] in [-1, 1] or [0, 1]), and captioned
// image grids (stb_easy_font's segment font, so no font file is needed). Files are written atomically.
#include <gluegen/core/error.hpp>
#include <gluegen/tensor.hpp>
#include <gluegen/text/unicode.hpp>

#include <stb_easy_font.h>
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
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
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    GLUEGEN_CHECK_AS(IoError, out.good(), "write_png: cannot write '{}'", tmp.string());
  }
  std::filesystem::rename(tmp, path);
}

/// Reads a PNG (or any format stb_image knows) as 8-bit, keeping 1 or 3 channels (alpha dropped).
[[nodiscard]] inline Image read_png(const std::filesystem::path& path) {
  int w = 0, h = 0, c = 0;
  GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::is_regular_file(path), "image '{}' does not exist",
                   path.string());
  stbi_uc* data = stbi_load(path.c_str(), &w, &h, &c, 0);
  GLUEGEN_CHECK_AS(IoError, data != nullptr, "cannot decode image '{}': {}", path.string(), stbi_failure_reason());
  const int keep = c == 1 || c == 2 ? 1 : 3;
  Image img(w, h, keep);
  for (int i = 0; i < w * h; ++i)
    for (int k = 0; k < keep; ++k) img.pixels[static_cast<std::size_t>(i * keep + k)] = data[i * c + k];
  stbi_image_free(data);
  return img;
}

/// What stb_easy_font can draw of UTF-8 `text`: its printable ASCII (32..126) only, and it indexes its
/// glyph table with any other byte unchecked. Accented letters lose their accents ("Grün" -> "Grun",
/// canonical decomposition without the combining marks); every other character, and invalid UTF-8,
/// becomes '?'.
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

/// Draws `text` (UTF-8; see drawable_text) with its top-left corner at (x, y) in `color`, `scale` pixels per font unit,
/// wrapping at `max_width` pixels on spaces and clipped to the box (max_width x max_height; 0 = unbounded). Returns the
/// height used.
inline index_t draw_text(Image& img, index_t x, index_t y, const std::string& text_utf8,
                         std::array<std::uint8_t, 3> color, index_t scale = 1, index_t max_width = 0,
                         index_t max_height = 0) {
  std::vector<std::string> lines{""};
  const index_t char_w = 6 * scale;  // stb_easy_font advances about 6 units per character
  const std::string text = drawable_text(text_utf8);
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t end = std::min(text.find(' ', i), text.size());
    const std::string word = text.substr(i, end - i);
    const std::string trial = lines.back().empty() ? word : lines.back() + " " + word;
    if (max_width > 0 && !lines.back().empty() && static_cast<index_t>(trial.size()) * char_w > max_width)
      lines.push_back(word);
    else
      lines.back() = trial;
    i = end + 1;
  }
  const index_t line_h = 10 * scale;
  std::vector<char> buffer(64 * 1024);
  for (std::size_t l = 0; l < lines.size(); ++l) {
    std::string line = lines[l];
    const int quads = stb_easy_font_print(0, 0, line.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
    for (int q = 0; q < quads; ++q) {  // axis-aligned quads: 4 vertices of (x, y, z, rgba), 16 bytes each
      const auto* v = reinterpret_cast<const float*>(buffer.data() + q * 64);
      const float x0 = std::min(v[0], v[8]), x1 = std::max(v[0], v[8]), y0 = std::min(v[1], v[9]),
                  y1 = std::max(v[1], v[9]);
      for (index_t py = static_cast<index_t>(y0 * scale); py < static_cast<index_t>(y1 * scale); ++py)
        for (index_t px = static_cast<index_t>(x0 * scale); px < static_cast<index_t>(x1 * scale); ++px) {
          const index_t X = x + px, Y = y + static_cast<index_t>(l) * line_h + py;
          if (X < 0 || Y < 0 || X >= img.width || Y >= img.height) continue;
          if ((max_width > 0 && X >= x + max_width) || (max_height > 0 && Y >= y + max_height)) continue;
          for (index_t c = 0; c < img.channels; ++c)
            img.at(X, Y, c) = color[static_cast<std::size_t>(std::min<index_t>(c, 2))];
        }
    }
  }
  return static_cast<index_t>(lines.size()) * line_h;
}

struct GridOptions {
  index_t columns = 4;
  index_t upscale = 1;  ///< nearest-neighbour magnification of each cell (small images)
  index_t padding = 4;
  index_t caption_lines = 3;  ///< caption space under each cell, in lines of text
  std::array<std::uint8_t, 3> background{255, 255, 255};
  std::array<std::uint8_t, 3> text_color{0, 0, 0};
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
  const index_t n = static_cast<index_t>(images.size()), cols = std::min(opt.columns, n), rows = (n + cols - 1) / cols;
  const index_t cw = first.width * opt.upscale, ch = first.height * opt.upscale,
                caption_h = captions.empty() ? 0 : opt.caption_lines * 10 + 2;
  Image grid(cols * (cw + opt.padding) + opt.padding, rows * (ch + caption_h + opt.padding) + opt.padding, 3);
  for (std::size_t i = 0; i < grid.pixels.size(); ++i) grid.pixels[i] = opt.background[i % 3];
  for (index_t i = 0; i < n; ++i) {
    const index_t ox = opt.padding + (i % cols) * (cw + opt.padding),
                  oy = opt.padding + (i / cols) * (ch + caption_h + opt.padding);
    const Image& im = images[static_cast<std::size_t>(i)];
    for (index_t y = 0; y < ch; ++y)
      for (index_t x = 0; x < cw; ++x)
        for (index_t c = 0; c < 3; ++c)
          grid.at(ox + x, oy + y, c) = im.at(x / opt.upscale, y / opt.upscale, im.channels == 1 ? 0 : c);
    if (!captions.empty())
      draw_text(grid, ox, oy + ch + 2, captions[static_cast<std::size_t>(i)], opt.text_color, 1, cw, caption_h - 2);
  }
  return grid;
}

}  // namespace gluegen::io
