#pragma once
// The data of gluegen's default target model: real Fashion-MNIST items (Xiao et al. 2017; Debian's
// dataset-fashion-mnist) tinted one of six named colours on black, 32x32 RGB, with English captions
// drawn from templates and synonyms ("a photo of a scarlet trainer"), so the decoder has to learn
// language rather than ids. Ten class x colour combinations never appear in training: generating them
// measures compositional generalisation. Everything is derived from the IDX files and fixed tables,
// so the data needs no download and is identical everywhere.
#include <gluegen/core/error.hpp>
#include <gluegen/io/idx.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <numbers>
#include <filesystem>
#include <string>
#include <vector>

namespace gluegen::default_model {

inline constexpr int kClasses = 10, kColours = 6, kSide = 32, kItemSide = 28;

struct ColourInfo {
  const char* name;
  std::array<std::uint8_t, 3> rgb;  ///< full intensity; every colour has a channel at 255
  double hue;                       ///< degrees, for scoring generated images
  std::array<const char*, 3> synonyms;
};

inline const std::array<ColourInfo, kColours>& colours() {
  static const std::array<ColourInfo, kColours> c{{
      {"red", {255, 0, 0}, 0, {"red", "scarlet", "crimson"}},
      {"orange", {255, 128, 0}, 30, {"orange", "tangerine", "amber"}},
      {"yellow", {255, 255, 0}, 60, {"yellow", "golden", "lemon"}},
      {"green", {0, 255, 0}, 120, {"green", "emerald", "grass green"}},
      {"blue", {0, 64, 255}, 225, {"blue", "cobalt", "sapphire"}},
      {"purple", {160, 0, 255}, 278, {"purple", "violet", "lilac"}},
  }};
  return c;
}

/// Fashion-MNIST's labels 0..9 and the words a caption may use for each.
inline const std::array<std::array<const char*, 3>, kClasses>& class_words() {
  static const std::array<std::array<const char*, 3>, kClasses> w{{
      {"t-shirt", "tee", "top"},
      {"pair of trousers", "pair of pants", "pair of slacks"},
      {"pullover", "sweater", "jumper"},
      {"dress", "gown", "frock"},
      {"coat", "jacket", "overcoat"},
      {"sandal", "flip-flop", "summer sandal"},
      {"shirt", "button-up shirt", "blouse"},
      {"sneaker", "trainer", "running shoe"},
      {"bag", "handbag", "purse"},
      {"ankle boot", "boot", "bootie"},
  }};
  return w;
}
inline const std::array<const char*, kClasses>& class_names() {
  static const std::array<const char*, kClasses> n{"t-shirt", "trousers", "pullover", "dress", "coat",
                                                   "sandal",  "shirt",    "sneaker",  "bag",   "ankle boot"};
  return n;
}

/// {c} = colour word, {o} = object words, {a} = "a" / "an" for what follows.
inline const std::array<const char*, 6>& templates() {
  static const std::array<const char*, 6> t{"{a} {c} {o}",
                                            "a photo of {a} {c} {o}",
                                            "{o}, {c}",
                                            "a picture of {a} {o} in {c}",
                                            "{a} {c} {o} on a black background",
                                            "an image of {a} {c} {o}"};
  return t;
}

/// The ten combinations held out of training (one colour per class, every colour at least once).
[[nodiscard]] inline bool held_out(int cls, int colour) { return colour == (cls * 5 + 2) % kColours; }

struct Caption {
  std::string text;
  int cls = -1, colour = -1;  ///< -1, -1: the empty caption (classifier-free guidance's unconditional)
};

/// `pattern` with every "{c}" replaced by the colour word and "{o}" by the object word.
[[nodiscard]] inline std::string fill_template(std::string pattern, const std::string& colour_word,
                                               const std::string& object_word) {
  for (const auto& [key, value] : {std::pair{std::string("{c}"), &colour_word}, {std::string("{o}"), &object_word}})
    for (std::size_t p; (p = pattern.find(key)) != std::string::npos;) pattern.replace(p, key.size(), *value);
  return pattern;
}

[[nodiscard]] inline std::string render_caption(int template_id, const std::string& colour_word,
                                                const std::string& object_word) {
  std::string t = fill_template(templates()[static_cast<std::size_t>(template_id)], colour_word, object_word);
  // the article agrees with the word after it
  for (std::size_t p; (p = t.find("{a} ")) != std::string::npos;) {
    const char next = static_cast<char>(std::tolower(static_cast<unsigned char>(t[p + 4])));
    t.replace(p, 3, std::string("aeio").find(next) != std::string::npos ? "an" : "a");
  }
  return t;
}

/// Captions of the scenes in other languages, for GlueGen's multilingual experiment (a multilingual
/// source encoder glued onto the English-conditioned decoder). The templates avoid grammatical
/// agreement (the colour as a noun or after "colour"), so one word per class and colour is correct:
/// "Turnschuh in Rot", "basket de couleur rouge", "zapatilla de color rojo", "红色的运动鞋".
struct Language {
  const char* tag;  ///< ISO 639-1
  const char* name;
  std::array<const char*, 2> templates;
  std::array<const char*, kColours> colours;  ///< in colours() order
  std::array<const char*, kClasses> objects;  ///< in Fashion-MNIST label order
};

inline const std::vector<Language>& languages() {
  static const std::vector<Language> l{
      {"de",
       "German",
       {"{o} in {c}", "Foto: {o} in {c}"},
       {"Rot", "Orange", "Gelb", "Grün", "Blau", "Lila"},
       {"T-Shirt", "Hose", "Pullover", "Kleid", "Mantel", "Sandale", "Hemd", "Turnschuh", "Handtasche", "Stiefelette"}},
      {"fr",
       "French",
       {"{o} de couleur {c}", "photo : {o} de couleur {c}"},
       {"rouge", "orange", "jaune", "vert", "bleu", "violet"},
       {"t-shirt", "pantalon", "pull", "robe", "manteau", "sandale", "chemise", "basket", "sac à main", "bottine"}},
      {"es",
       "Spanish",
       {"{o} de color {c}", "foto: {o} de color {c}"},
       {"rojo", "naranja", "amarillo", "verde", "azul", "morado"},
       {"camiseta", "pantalón", "jersey", "vestido", "abrigo", "sandalia", "camisa", "zapatilla", "bolso", "botín"}},
      {"zh",
       "Chinese",
       {"{c}的{o}", "一张{c}{o}的照片"},
       {"红色", "橙色", "黄色", "绿色", "蓝色", "紫色"},
       {"T恤", "裤子", "毛衣", "连衣裙", "外套", "凉鞋", "衬衫", "运动鞋", "手提包", "短靴"}},
      {"it",
       "Italian",
       {"{o} di colore {c}", "foto: {o} di colore {c}"},
       {"rosso", "arancione", "giallo", "verde", "blu", "viola"},
       {"maglietta", "pantaloni", "maglione", "vestito", "cappotto", "sandalo", "camicia", "scarpa da ginnastica",
        "borsa", "stivaletto"}},
  };
  return l;
}

/// The language with ISO tag `tag`; a ValueError listing the known tags otherwise.
[[nodiscard]] inline const Language& language(const std::string& tag) {
  std::string known = "en";
  for (const auto& l : languages()) {
    if (tag == l.tag) return l;
    known += std::string(", ") + l.tag;
  }
  GLUEGEN_THROW(ValueError, "no fashion captions in language '{}' (known: {})", tag, known);
}

/// A caption in `tag`'s language: template `template_id` with that language's words ("en": the
/// English templates with the first synonyms). A code-mixed tag "A+B" takes language A's template
/// and object word and language B's colour word, as speakers mix languages within one sentence
/// ("de+en": "Turnschuh in red"; "zh+en": "red的运动鞋"; "en+de": "a Rot sneaker"): prompts no
/// aligner was trained on, left to the multilingual source encoder (MTN / GlueGen's mixed prompts).
[[nodiscard]] inline std::string caption_in(const std::string& tag, int template_id, int cls, int colour) {
  const auto plus = tag.find('+');
  const std::string base = tag.substr(0, plus), colour_tag = plus == std::string::npos ? base : tag.substr(plus + 1);
  GLUEGEN_CHECK_AS(
      ValueError,
      plus == std::string::npos || (!base.empty() && colour_tag != base && colour_tag.find('+') == std::string::npos),
      "code-mixed caption tag '{}' must be two different languages, 'A+B' (e.g. de+en)", tag);
  const std::string colour_word = colour_tag == "en" ? colours()[static_cast<std::size_t>(colour)].synonyms[0]
                                                     : language(colour_tag).colours[static_cast<std::size_t>(colour)];
  if (base == "en") return render_caption(template_id, colour_word, class_words()[static_cast<std::size_t>(cls)][0]);
  const Language& l = language(base);
  return fill_template(l.templates[static_cast<std::size_t>(template_id)], colour_word,
                       l.objects[static_cast<std::size_t>(cls)]);
}

/// Every caption of `langs`, then "": English ("en") as templates x colour synonyms x class synonyms
/// for every combination; another language as each of its templates for every combination.
[[nodiscard]] inline std::vector<Caption> all_captions(const std::vector<std::string>& langs = {"en"}) {
  std::vector<Caption> out;
  for (const auto& tag : langs)
    for (int cls = 0; cls < kClasses; ++cls)
      for (int col = 0; col < kColours; ++col) {
        if (tag != "en") {
          for (int t = 0; t < static_cast<int>(language(tag).templates.size()); ++t)
            out.push_back({caption_in(tag, t, cls, col), cls, col});
          continue;
        }
        for (int t = 0; t < static_cast<int>(templates().size()); ++t)
          for (const char* cw : colours()[static_cast<std::size_t>(col)].synonyms)
            for (const char* ow : class_words()[static_cast<std::size_t>(cls)])
              out.push_back({render_caption(t, cw, ow), cls, col});
      }
  out.push_back({"", -1, -1});
  return out;
}

/// The Fashion-MNIST split in memory: images [n, 28, 28] bytes, labels [n].
struct FashionMnist {
  std::vector<std::uint8_t> images, labels;
  index_t count = 0;

  [[nodiscard]] const std::uint8_t* image(index_t i) const { return images.data() + i * kItemSide * kItemSide; }

  /// train = true: the 60000 training images, else the 10000 test images, from `dir` (Debian:
  /// /usr/share/datasets/fashion-mnist).
  static FashionMnist load(const std::filesystem::path& dir, bool train) {
    const std::string prefix = train ? "train" : "t10k";
    const io::IdxArray im = io::read_idx(dir / (prefix + "-images-idx3-ubyte.gz"));
    const io::IdxArray lb = io::read_idx(dir / (prefix + "-labels-idx1-ubyte.gz"));
    GLUEGEN_CHECK_AS(ShapeError,
                     im.shape.rank() == 3 && im.shape[1] == kItemSide && im.shape[2] == kItemSide &&
                         lb.shape.rank() == 1 && lb.shape[0] == im.shape[0],
                     "Fashion-MNIST in '{}': images {} and labels {} do not fit (expected [n, 28, 28] and [n])",
                     dir.string(), im.shape, lb.shape);
    for (const auto l : lb.data)
      GLUEGEN_CHECK_AS(ValueError, l < kClasses, "Fashion-MNIST in '{}': label {} is outside 0..9", dir.string(),
                       static_cast<int>(l));
    return {im.data, lb.data, im.shape[0]};
  }
};

inline const char* kDefaultFashionDir = "/usr/share/datasets/fashion-mnist";

/// Writes the scene of item `img` (28x28 bytes) in `colour` into dst [3, 32, 32] (floats in [-1, 1]):
/// the item centred with a 2-pixel black border, each channel = intensity x the colour's channel.
template <typename T>
void render_scene(const std::uint8_t* img, int colour, T* dst) {
  const auto& rgb = colours()[static_cast<std::size_t>(colour)].rgb;
  constexpr int border = (kSide - kItemSide) / 2;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x) {
        const int iy = y - border, ix = x - border;
        const double v =
            (iy >= 0 && iy < kItemSide && ix >= 0 && ix < kItemSide) ? img[iy * kItemSide + ix] / 255.0 : 0.0;
        dst[(c * kSide + y) * kSide + x] = static_cast<T>(2.0 * v * rgb[static_cast<std::size_t>(c)] / 255.0 - 1.0);
      }
}

/// The item's grey intensity recovered from a scene [3, 32, 32] in [-1, 1]: max over channels of the
/// [0, 1] values (every colour has a full channel), cropped to the 28x28 centre, as [28, 28] in [0, 1].
template <typename T>
void scene_intensity(const T* scene, T* dst) {
  constexpr int border = (kSide - kItemSide) / 2;
  for (int y = 0; y < kItemSide; ++y)
    for (int x = 0; x < kItemSide; ++x) {
      T m = T(0);
      for (int c = 0; c < 3; ++c) m = std::max(m, (scene[(c * kSide + y + border) * kSide + x + border] + T(1)) / T(2));
      dst[y * kItemSide + x] = std::min(m, T(1));
    }
}

/// The named colour whose hue is nearest the intensity-weighted mean hue of the scene's foreground
/// (pixels brighter than a quarter of full scale); -1 when there is no foreground.
template <typename T>
[[nodiscard]] int scene_colour(const T* scene) {
  double sx = 0, sy = 0;
  for (int i = 0; i < kSide * kSide; ++i) {
    const double r = std::clamp((scene[i] + 1.0) / 2, 0.0, 1.0),
                 g = std::clamp((scene[kSide * kSide + i] + 1.0) / 2, 0.0, 1.0),
                 b = std::clamp((scene[2 * kSide * kSide + i] + 1.0) / 2, 0.0, 1.0);
    const double mx = std::max({r, g, b}), mn = std::min({r, g, b});
    if (mx < 0.25 || mx - mn < 1e-6) continue;
    double h;  // HSV hue in degrees
    if (mx == r)
      h = 60 * std::fmod((g - b) / (mx - mn) + 6, 6.0);
    else if (mx == g)
      h = 60 * ((b - r) / (mx - mn) + 2);
    else
      h = 60 * ((r - g) / (mx - mn) + 4);
    const double w = mx * (mx - mn);  // bright, saturated pixels count most
    sx += w * std::cos(h * std::numbers::pi / 180);
    sy += w * std::sin(h * std::numbers::pi / 180);
  }
  if (sx == 0 && sy == 0) return -1;
  const double hue = std::fmod(std::atan2(sy, sx) * 180 / std::numbers::pi + 360, 360.0);
  int best = 0;
  double best_d = 1e9;
  for (int c = 0; c < kColours; ++c) {
    const double d = std::abs(std::fmod(hue - colours()[static_cast<std::size_t>(c)].hue + 540, 360.0) - 180);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

}  // namespace gluegen::default_model
