#pragma once
// TrueType fonts for image captions, rasterised by stb_truetype (Debian libstb, whose libstb.so holds
// its implementation, as it does stb_image's). A FontSet tries its fonts in order for each code point,
// so one caption can mix scripts: DejaVu Sans for Latin, Greek and Cyrillic, Droid Sans Fallback for
// Chinese, Japanese and Korean. The font files are read at run time, not embedded: caption_fonts()
// loads $GLUEGEN_FONT and then the Debian fonts, once, on first use.
#include <gluegen/core/error.hpp>
#include <gluegen/core/file_bytes.hpp>

#include <stb_truetype.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gluegen::io {

/// One glyph rasterised for a pen position: anti-aliased coverage (0..255), row-major [height][width],
/// whose top-left pixel lies at (x_offset, y_offset) from the pen on the baseline.
struct GlyphBitmap {
  int width = 0, height = 0, x_offset = 0, y_offset = 0;
  std::vector<std::uint8_t> coverage;
};

/// TrueType fonts tried in order for each code point. Sizes are given as a line height in pixels: the
/// first font's ascent-to-descent fits it exactly, and every font is drawn at the same em size, so a
/// fallback font's letters match the first font's. A code point no font has is drawn as the first
/// font's missing-glyph box ('?' where that glyph is blank), so a gap in the fonts stays visible.
class FontSet {
 public:
  /// The readable TrueType files among `paths`, in order; other files are skipped.
  [[nodiscard]] static FontSet load(const std::vector<std::filesystem::path>& paths) {
    FontSet set;
    for (const auto& path : paths) {
      auto font = std::make_unique<Font>();
      try {
        font->bytes = read_file_bytes(path, "font");
      } catch (const FileNotFoundError&) {
        continue;
      }
      // stb_truetype trusts its input: the file is only checked for a font's magic number and tables
      const auto* data = reinterpret_cast<const unsigned char*>(font->bytes.data());
      const int offset = font->bytes.size() < 12 ? -1 : stbtt_GetFontOffsetForIndex(data, 0);
      if (offset < 0 || stbtt_InitFont(&font->info, data, offset) == 0) continue;
      set.fonts_.push_back(std::move(font));
      set.paths_.push_back(path);
    }
    return set;
  }

  [[nodiscard]] bool empty() const { return fonts_.empty(); }
  /// The files the fonts came from, in the order they are tried.
  [[nodiscard]] const std::vector<std::filesystem::path>& paths() const { return paths_; }

  /// Pixels from the top of a line to its baseline.
  [[nodiscard]] float baseline(float line_height) const {
    int ascent = 0, descent = 0, gap = 0;
    stbtt_GetFontVMetrics(&fonts_.front()->info, &ascent, &descent, &gap);
    return static_cast<float>(ascent) * stbtt_ScaleForPixelHeight(&fonts_.front()->info, line_height);
  }

  /// How far the pen moves after `cp`, in pixels.
  [[nodiscard]] float advance(char32_t cp, float line_height) const {
    const auto [font, glyph] = find(cp);
    int advance = 0, left_bearing = 0;
    stbtt_GetGlyphHMetrics(&font->info, glyph, &advance, &left_bearing);
    return static_cast<float>(advance) * scale(*font, line_height);
  }

  /// `cp` rasterised with the pen `subpixel_x` (in [0, 1)) pixels right of a pixel boundary.
  [[nodiscard]] GlyphBitmap glyph(char32_t cp, float line_height, float subpixel_x) const {
    const auto [font, glyph] = find(cp);
    const float s = scale(*font, line_height);
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    stbtt_GetGlyphBitmapBoxSubpixel(&font->info, glyph, s, s, subpixel_x, 0, &x0, &y0, &x1, &y1);
    GlyphBitmap out{.width = x1 - x0, .height = y1 - y0, .x_offset = x0, .y_offset = y0, .coverage = {}};
    if (out.width <= 0 || out.height <= 0) return {};  // a space
    out.coverage.resize(static_cast<std::size_t>(out.width * out.height));
    stbtt_MakeGlyphBitmapSubpixel(&font->info, out.coverage.data(), out.width, out.height, out.width, s, s, subpixel_x,
                                  0, glyph);
    return out;
  }

 private:
  struct Font {
    std::string bytes;
    stbtt_fontinfo info{};  // points into `bytes`, so a Font never moves once loaded
  };

  /// The first font with a glyph for `cp`, else the first font's missing glyph (glyph 0) or its '?'.
  [[nodiscard]] std::pair<const Font*, int> find(char32_t cp) const {
    for (const auto& font : fonts_)
      if (const int glyph = stbtt_FindGlyphIndex(&font->info, static_cast<int>(cp)); glyph != 0)
        return {font.get(), glyph};
    const stbtt_fontinfo& first = fonts_.front()->info;
    return {fonts_.front().get(), stbtt_IsGlyphEmpty(&first, 0) != 0 ? stbtt_FindGlyphIndex(&first, '?') : 0};
  }

  /// Font units -> pixels: the first font's em size at `line_height`, in this font's units.
  [[nodiscard]] float scale(const Font& font, float line_height) const {
    const float em_pixels = stbtt_ScaleForPixelHeight(&fonts_.front()->info, line_height) /
                            stbtt_ScaleForMappingEmToPixels(&fonts_.front()->info, 1.0f);
    return stbtt_ScaleForMappingEmToPixels(&font.info, em_pixels);
  }

  std::vector<std::unique_ptr<Font>> fonts_;
  std::vector<std::filesystem::path> paths_;
};

/// The fonts Debian installs for captions: DejaVu Sans (fonts-dejavu-core; Latin, Greek, Cyrillic...) and
/// Droid Sans Fallback (fonts-droid-fallback; Chinese, Japanese, Korean).
[[nodiscard]] inline std::vector<std::filesystem::path> debian_caption_font_paths() {
  return {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
          "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"};
}

/// The caption fonts, loaded on first use and kept for the program's life: $GLUEGEN_FONT when set, then the
/// Debian fonts. Says once on stderr when none could be read (captions then fall back to ASCII) or when
/// $GLUEGEN_FONT could not.
[[nodiscard]] inline const FontSet& caption_fonts() {
  static const FontSet fonts = [] {
    const char* own = std::getenv("GLUEGEN_FONT");
    std::vector<std::filesystem::path> wanted = debian_caption_font_paths();
    if (own != nullptr && *own != '\0') wanted.insert(wanted.begin(), own);
    FontSet set = FontSet::load(wanted);
    std::string looked;
    for (const auto& path : wanted) looked += (looked.empty() ? "'" : ", '") + path.string() + "'";
    if (set.empty())
      std::fprintf(stderr, "gluegen: no caption font found (looked for %s); captions are drawn in ASCII only\n",
                   looked.c_str());
    else if (own != nullptr && *own != '\0' && set.paths().front() != own)
      std::fprintf(stderr, "gluegen: GLUEGEN_FONT '%s' is not a readable TrueType font; captions use %s\n", own,
                   set.paths().front().c_str());
    return set;
  }();
  return fonts;
}

}  // namespace gluegen::io
