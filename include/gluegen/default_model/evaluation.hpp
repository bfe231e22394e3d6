#pragma once
// The default model's image evaluation (gluegen eval-images, docs/default-model.md): one prompt per
// class x colour, the scorer CNN's class on the generated scene's recovered intensity, the colour from
// its foreground hue, and the Fréchet distance between the scorer's features of generated and real
// items; the report (JSON and Markdown, held-in and held-out combinations apart) and the grid.
#include <gluegen/default_model/captions.hpp>
#include <gluegen/default_model/scorer.hpp>
#include <gluegen/eval/frechet.hpp>
#include <gluegen/io/parameters.hpp>
#include <gluegen/io/png.hpp>

#include <numeric>
#include <span>

namespace gluegen::default_model {

/// Items [n, 1, 28, 28] in [0, 1] from bytes.
inline Tensor<float, Cpu> items_tensor(const FashionMnist& d, std::span<const index_t> rows) {
  constexpr index_t px = kItemSide * kItemSide;
  std::vector<float> v(rows.size() * px);
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (index_t k = 0; k < px; ++k) v[r * px + static_cast<std::size_t>(k)] = d.image(rows[r])[k] / 255.0f;
  return Tensor<float, Cpu>::from_host({static_cast<index_t>(rows.size()), 1, 28, 28}, v);
}

/// Classifies [n, 1, 28, 28] items; fills the predicted class and (optionally) penultimate features.
inline std::vector<int> classify(FashionClassifier<float, Cpu>& net, const Tensor<float, Cpu>& items,
                                 std::vector<float>* features = nullptr, index_t batch = 256) {
  std::vector<int> out;
  FashionClassifier<float, Cpu>::Cache cache;
  for (index_t i = 0; i < items.size(0); i += batch) {
    const index_t end = std::min(items.size(0), i + batch);
    const auto logp = net.forward(items.slice(i, end).contiguous(), cache).to_vector();
    for (index_t r = 0; r < end - i; ++r) {
      const auto* row = logp.data() + r * 10;
      out.push_back(static_cast<int>(std::max_element(row, row + 10) - row));
    }
    if (features) {
      const auto f = net.features(cache).to_vector();
      features->insert(features->end(), f.begin(), f.end());
    }
  }
  return out;
}

inline double accuracy(const std::vector<int>& predicted, std::span<const std::uint8_t> labels) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) ok += predicted[i] == labels[i];
  return static_cast<double>(ok) / static_cast<double>(predicted.size());
}

inline FashionClassifier<float, Cpu> load_scorer(const std::string& path) {
  const io::WeightReader in(path);
  GLUEGEN_CHECK_AS(IoError, in.meta().model_type == kFashionClassifierModelType,
                   "'{}' is not a scorer (model_type '{}')", path, in.meta().model_type);
  FashionClassifier<float, Cpu> net;
  io::load_parameters(net, in);
  return net;
}

struct ComboScore {
  int cls, colour;
  bool held_out;
  index_t n = 0, class_ok = 0, colour_ok = 0, both_ok = 0;
};

/// One prompt per class x colour: the first template with the first synonyms ("a red sneaker"), or
/// the first template of `language` ("Turnschuh in Rot").
inline std::pair<std::vector<ComboScore>, std::vector<std::string>> eval_prompts(const std::string& language) {
  std::vector<ComboScore> combos;
  std::vector<std::string> prompts;
  for (int cls = 0; cls < kClasses; ++cls)
    for (int col = 0; col < kColours; ++col) {
      combos.push_back({cls, col, held_out(cls, col)});
      prompts.push_back(caption_in(language, 0, cls, col));
    }
  return {combos, prompts};
}

/// Scores generated scenes: class from the scorer on the recovered intensity, colour from the
/// foreground hue, per combination; returns the scorer's features of each image (128 per image).
inline std::vector<float> score_images(const Tensor<float, Cpu>& images, FashionClassifier<float, Cpu>& scorer,
                                       std::vector<ComboScore>& combos, index_t per_prompt) {
  const index_t n = images.size(0), px = kItemSide * kItemSide, sp = 3 * kSide * kSide;
  const auto pixels = images.to_vector();
  std::vector<float> items(static_cast<std::size_t>(n * px));
  std::vector<int> colour_pred(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    scene_intensity(pixels.data() + i * sp, items.data() + i * px);
    colour_pred[static_cast<std::size_t>(i)] = scene_colour(pixels.data() + i * sp);
  }
  std::vector<float> features;
  const auto class_pred = classify(scorer, Tensor<float, Cpu>::from_host({n, 1, 28, 28}, items), &features);
  for (std::size_t c = 0; c < combos.size(); ++c)
    for (index_t k = 0; k < per_prompt; ++k) {
      const auto i = static_cast<std::size_t>(static_cast<index_t>(c) * per_prompt + k);
      ComboScore& s = combos[c];
      const bool cls_ok = class_pred[i] == s.cls, col_ok = colour_pred[i] == s.colour;
      ++s.n;
      s.class_ok += cls_ok;
      s.colour_ok += col_ok;
      s.both_ok += cls_ok && col_ok;
    }
  return features;
}

/// What the scorer reaches on real data: class accuracy on the real test items (with their features,
/// the Fréchet reference) and the hue rule's colour accuracy on real scenes of the held-out combinations.
struct ScorerCeiling {
  double class_accuracy = 0, colour_accuracy = 0;
  std::vector<float> real_features;
};

inline ScorerCeiling scorer_ceiling(FashionClassifier<float, Cpu>& scorer, const FashionMnist& test) {
  ScorerCeiling c;
  std::vector<index_t> all_test(static_cast<std::size_t>(test.count));
  std::iota(all_test.begin(), all_test.end(), 0);
  c.class_accuracy = accuracy(classify(scorer, items_tensor(test, all_test), &c.real_features), test.labels);
  index_t ok = 0, total = 0;
  std::vector<float> scene(static_cast<std::size_t>(3 * kSide * kSide));
  for (index_t i = 0; i < test.count; i += 10) {
    const int cls = test.labels[static_cast<std::size_t>(i)];
    for (int col = 0; col < kColours; ++col)
      if (held_out(cls, col)) {
        render_scene(test.image(i), col, scene.data());
        ok += scene_colour(scene.data()) == col;
        ++total;
      }
  }
  c.colour_accuracy = static_cast<double>(ok) / static_cast<double>(total);
  return c;
}

/// What an evaluation ran, for its report.
struct EvalSettings {
  std::string decoder, language, conditioning, scheduler;
  index_t steps = 0, per_prompt = 0;
  double guidance = 0;
  std::uint64_t seed = 0;
};

/// metrics.json and metrics.md: accuracies and Fréchet distance, held-in and held-out apart.
inline std::pair<nlohmann::json, std::string> eval_report(const EvalSettings& a, const std::vector<ComboScore>& combos,
                                                          const std::vector<std::string>& prompts,
                                                          const std::vector<float>& features,
                                                          const ScorerCeiling& ceiling) {
  nlohmann::json report{{"decoder", a.decoder},
                        {"language", a.language},
                        {"conditioning", a.conditioning},
                        {"scheduler", a.scheduler},
                        {"steps", a.steps},
                        {"guidance", a.guidance},
                        {"per_prompt", a.per_prompt},
                        {"seed", a.seed},
                        {"scorer_ceiling",
                         {{"class_accuracy_real_test", ceiling.class_accuracy},
                          {"colour_accuracy_real_held_out_scenes", ceiling.colour_accuracy}}}};
  std::string md =
      "| prompts | images | class acc. | colour acc. | both | Fréchet distance (scorer features) "
      "|\n|---|---:|---:|---:|---:|---:|\n";
  const auto real_fit = eval::fit_gaussian(ceiling.real_features, 128);
  for (const bool held_out : {false, true}) {
    index_t N = 0, c1 = 0, c2 = 0, c3 = 0;
    std::vector<float> group;
    for (std::size_t k = 0; k < combos.size(); ++k) {
      const ComboScore& s = combos[k];
      if (s.held_out != held_out) continue;
      N += s.n, c1 += s.class_ok, c2 += s.colour_ok, c3 += s.both_ok;
      const auto begin = features.begin() + static_cast<std::ptrdiff_t>(k) * a.per_prompt * 128;
      group.insert(group.end(), begin, begin + a.per_prompt * 128);
    }
    const double fd = eval::frechet_distance(eval::fit_gaussian(group, 128), real_fit);
    const auto pct = [&](index_t k) { return static_cast<double>(k) / static_cast<double>(N); };
    report[held_out ? "held_out" : "held_in"] = {{"images", N},
                                                 {"class_accuracy", pct(c1)},
                                                 {"colour_accuracy", pct(c2)},
                                                 {"both_correct", pct(c3)},
                                                 {"frechet_distance", fd}};
    md += fmt::format("| {} ({} combinations) | {} | {:.1f}% | {:.1f}% | {:.1f}% | {:.2f} |\n",
                      held_out ? "held-out" : "held-in", held_out ? 10 : 50, N, 100 * pct(c1), 100 * pct(c2),
                      100 * pct(c3), fd);
  }
  md = fmt::format("Prompts: {} ({}), e.g. \"{}\"; {} images each, {} {} steps, guidance {}.\n\n", a.language,
                   report["conditioning"].get<std::string>(), prompts[7 * kColours], a.per_prompt, a.scheduler, a.steps,
                   a.guidance) +
       md;
  md += fmt::format(
      "\nScorer ceiling: {:.2f}% class accuracy on the 10000 real test items; {:.2f}% colour accuracy on real held-out "
      "scenes.\n",
      100 * ceiling.class_accuracy, 100.0 * ceiling.colour_accuracy);
  nlohmann::json per_combo = nlohmann::json::array();
  for (const auto& s : combos)
    per_combo.push_back({{"class", class_names()[static_cast<std::size_t>(s.cls)]},
                         {"colour", colours()[static_cast<std::size_t>(s.colour)].name},
                         {"held_out", s.held_out},
                         {"images", s.n},
                         {"class_ok", s.class_ok},
                         {"colour_ok", s.colour_ok},
                         {"both_ok", s.both_ok}});
  report["combinations"] = per_combo;
  return {report, md};
}

/// grid.png: the held-out combinations first, then one held-in prompt per class, each in another colour.
inline void write_eval_grid(const std::filesystem::path& path, const Tensor<float, Cpu>& images,
                            const std::vector<ComboScore>& combos, const std::vector<std::string>& prompts,
                            index_t per_prompt, index_t grid_per_prompt) {
  const index_t per_cell = std::min(grid_per_prompt, per_prompt);
  std::vector<io::Image> cells;
  std::vector<std::string> labels;
  const auto add_combo = [&](std::size_t c) {
    for (index_t k = 0; k < per_cell; ++k) {
      cells.push_back(io::to_image(images.select(static_cast<index_t>(c) * per_prompt + k)));
      labels.push_back((combos[c].held_out ? "[held-out] " : "") + prompts[c]);
    }
  };
  for (std::size_t c = 0; c < combos.size(); ++c)
    if (combos[c].held_out) add_combo(c);
  for (int cls = 0; cls < kClasses; ++cls)
    for (int k = 0; k < kColours; ++k)
      if (const int col = (cls + 1 + k) % kColours; !held_out(cls, col)) {
        add_combo(static_cast<std::size_t>(cls * kColours + col));
        break;
      }
  io::write_png(path, io::image_grid(cells, labels, {.columns = per_cell * 2, .upscale = 3, .caption_lines = 3}));
}

}  // namespace gluegen::default_model
