#pragma once
// The default decoder's training data: Fashion-MNIST scenes (scenes.hpp) paired with the
// pre-computed text-encoder features of their captions (a captions file written by
// `gluegen fashion-captions`: one row per caption of all_captions(), the empty caption last).
// Held-out class x colour combinations are never drawn. A model that runs the language model itself
// (LaVi-Bridge with LoRA in it) takes the same rows as token ids instead (CaptionTokens).
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/text/tokenizer.hpp>
#include <gluegen/train/decoder_trainer.hpp>
#include <gluegen/default_model/scenes.hpp>

namespace gluegen::default_model {

inline constexpr const char* kCaptionsModelType = "gluegen.caption_features";

/// Caption features as written by `gluegen fashion-captions`: features [N, L, D] (the encoder's
/// token features, padded positions included), text, class and colour per row.
template <ComputeElement T = float>
struct CaptionFeatures {
  Tensor<T, Cpu> features;
  std::vector<std::string> text;
  std::vector<int> cls, colour;
  std::string encoder;
  nlohmann::json provenance = nullptr;  ///< the file's record: its text_encoder and text_length (io/provenance.hpp)

  static CaptionFeatures load(const std::filesystem::path& path) {
    const io::WeightReader in(path);
    GLUEGEN_CHECK_AS(IoError, in.meta().model_type == kCaptionsModelType,
                     "'{}' is not a caption-features file (model_type '{}', expected '{}')", path.string(),
                     in.meta().model_type, kCaptionsModelType);
    CaptionFeatures c;
    c.features = in.read<T>("features");
    c.text = in.read_strings("text");
    for (const auto v : in.read<std::int32_t>("class").to_vector()) c.cls.push_back(v);
    for (const auto v : in.read<std::int32_t>("colour").to_vector()) c.colour.push_back(v);
    c.encoder = in.meta().config.value("encoder", std::string());
    c.provenance = in.meta().provenance;
    const auto n = static_cast<std::size_t>(c.features.size(0));
    GLUEGEN_CHECK_AS(ShapeError,
                     c.features.rank() == 3 && c.text.size() == n && c.cls.size() == n && c.colour.size() == n,
                     "'{}': features {} with {} texts, {} classes, {} colours", path.string(), c.features.shape(),
                     c.text.size(), c.cls.size(), c.colour.size());
    return c;
  }

  /// The row of a caption text; -1 when absent.
  [[nodiscard]] index_t find(const std::string& caption) const {
    const auto it = std::find(text.begin(), text.end(), caption);
    return it == text.end() ? -1 : static_cast<index_t>(it - text.begin());
  }
  /// What a batch's conditioning is, for checkpoints: [L, D].
  [[nodiscard]] nlohmann::json context() const { return {features.size(1), features.size(2)}; }
  /// Rows [rows] as a [k, L, D] batch.
  [[nodiscard]] Tensor<T, Cpu> gather(std::span<const index_t> rows) const {
    Tensor<T, Cpu> out(Shape{static_cast<index_t>(rows.size()), features.size(1), features.size(2)});
    for (std::size_t i = 0; i < rows.size(); ++i) {
      Tensor<T, Cpu> dst = out.slice(static_cast<index_t>(i), static_cast<index_t>(i) + 1);
      ops::copy(features.slice(rows[i], rows[i] + 1), dst);
    }
    return out;
  }
};

/// The rows of a captions file as token ids, tokenized as `gluegen fashion-captions` did (the
/// tokenizer's template, truncated and right-padded to the file's length), for a model that runs the
/// language model in each step.
struct CaptionTokens {
  text::TokenBatch tokens;  ///< [N, L]
  std::vector<std::string> text;
  std::vector<int> cls, colour;
  std::string encoder;

  template <ComputeElement T>
  static CaptionTokens tokenize(const CaptionFeatures<T>& captions, const text::Tokenizer& tokenizer) {
    GLUEGEN_CHECK_AS(ValueError, !captions.text.empty(), "CaptionTokens: the captions file holds no captions");
    return {tokenizer.encode_batch(captions.text, captions.features.size(1), true), captions.text, captions.cls,
            captions.colour, captions.encoder};
  }

  [[nodiscard]] nlohmann::json context() const { return {{"tokens", tokens.input_ids.size(1)}}; }
  /// Rows [rows] as a [k, L] token batch.
  [[nodiscard]] text::TokenBatch gather(std::span<const index_t> rows) const {
    const index_t L = tokens.input_ids.size(1);
    const auto ids = tokens.input_ids.to_vector(), mask = tokens.attention_mask.to_vector();
    std::vector<std::int32_t> out_ids, out_mask;
    for (const index_t r : rows) {
      out_ids.insert(out_ids.end(), ids.begin() + r * L, ids.begin() + (r + 1) * L);
      out_mask.insert(out_mask.end(), mask.begin() + r * L, mask.begin() + (r + 1) * L);
    }
    const Shape shape{static_cast<index_t>(rows.size()), L};
    return {Tensor<std::int32_t, Cpu>::from_host(shape, out_ids),
            Tensor<std::int32_t, Cpu>::from_host(shape, out_mask)};
  }
};

/// Scenes paired with captions: Captions is CaptionFeatures (batches of features) or CaptionTokens
/// (batches of token ids); both draw the same rows for the same generator.
template <ComputeElement T = float, typename Captions = CaptionFeatures<T>>
class SceneCaptionData {
 public:
  using Context = decltype(std::declval<const Captions&>().gather(std::span<const index_t>{}));

  SceneCaptionData(FashionMnist images, Captions captions, double caption_dropout = 0.1)
      : images_(std::move(images)), captions_(std::move(captions)), dropout_(caption_dropout) {
    GLUEGEN_CHECK_AS(ValueError, images_.count > 0, "SceneCaptionData: no images");
    for (std::size_t i = 0; i < captions_.text.size(); ++i) {
      const int cls = captions_.cls[i], col = captions_.colour[i];
      if (cls < 0)
        empty_ = static_cast<index_t>(i);
      else if (!held_out(cls, col))
        by_combo_[static_cast<std::size_t>(cls * kColours + col)].push_back(static_cast<index_t>(i));
    }
    GLUEGEN_CHECK_AS(ValueError, empty_ >= 0,
                     "SceneCaptionData: the captions file has no empty caption (needed for classifier-free guidance)");
    for (int cls = 0; cls < kClasses; ++cls)
      for (int col = 0; col < kColours; ++col)
        GLUEGEN_CHECK_AS(ValueError,
                         held_out(cls, col) || !by_combo_[static_cast<std::size_t>(cls * kColours + col)].empty(),
                         "SceneCaptionData: no caption for {} {}", colours()[static_cast<std::size_t>(col)].name,
                         class_names()[static_cast<std::size_t>(cls)]);
  }

  [[nodiscard]] const Captions& captions() const noexcept { return captions_; }
  [[nodiscard]] index_t empty_caption() const noexcept { return empty_; }

  [[nodiscard]] nlohmann::json describe() const {
    return {{"images", images_.count},
            {"captions", captions_.text.size()},
            {"encoder", captions_.encoder},
            {"caption_dropout", dropout_},
            {"context", captions_.context()}};
  }

  train::DecoderBatch<T, Cpu, Context> batch(index_t n, std::mt19937_64& rng) {
    std::uniform_int_distribution<index_t> pick_image(0, images_.count - 1);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    Tensor<T, Cpu> x0(Shape{n, 3, kSide, kSide});
    std::vector<index_t> rows(static_cast<std::size_t>(n));
    for (index_t b = 0; b < n; ++b) {
      const index_t i = pick_image(rng);
      const int cls = images_.labels[static_cast<std::size_t>(i)];
      std::vector<int> allowed;
      for (int col = 0; col < kColours; ++col)
        if (!held_out(cls, col)) allowed.push_back(col);
      const int col = allowed[std::uniform_int_distribution<std::size_t>(0, allowed.size() - 1)(rng)];
      const auto& options = by_combo_[static_cast<std::size_t>(cls * kColours + col)];
      const index_t caption = options[std::uniform_int_distribution<std::size_t>(0, options.size() - 1)(rng)];
      rows[static_cast<std::size_t>(b)] = coin(rng) < dropout_ ? empty_ : caption;
      render_scene(images_.image(i), col, x0.data() + b * 3 * kSide * kSide);
    }
    return {std::move(x0), captions_.gather(rows)};
  }

 private:
  FashionMnist images_;
  Captions captions_;
  double dropout_;
  index_t empty_ = -1;
  std::array<std::vector<index_t>, kClasses * kColours> by_combo_{};
};

static_assert(train::DecoderData<SceneCaptionData<float>, float, Cpu>);
static_assert(train::DecoderData<SceneCaptionData<float, CaptionTokens>, float, Cpu, text::TokenBatch>);

}  // namespace gluegen::default_model
