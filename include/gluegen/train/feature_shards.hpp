#pragma once
// Feature shards (design.md section 4): a parallel corpus run through a source and a target encoder
// once, stored as HDF5 files shard-00000.h5, shard-00001.h5, ... in one directory. Each shard holds
//   source [n, Ls, Ds], source_mask [n, Ls] (i32, 1 = real token), target [n, Lt, Dt], target_mask [n, Lt],
//   source_text, target_text, language (UTF-8 strings, one per example)
// chunked by example and deflate-compressed (f16 by default: encoder features lose nothing a
// GlueNet can learn from at half precision, and shards halve). Every shard is written atomically,
// so an interrupted `gluegen encode` resumes after the last complete shard. Training streams examples
// from the shards (FeatureDataset::read reads only the rows of one batch), so a corpus never has to
// fit in memory.
#include <gluegen/io/hdf5_store.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gluegen::train {

/// The shapes and provenance every shard of a directory shares.
struct ShardSpec {
  index_t source_len = 0, source_dim = 0, target_len = 0, target_dim = 0;
  std::string source_encoder = {}, target_encoder = {};  ///< model names, for provenance
  DType storage = DType::f16;
  std::string source_sha256 = {}, target_sha256 = {};  ///< their weights' SHA-256 (io::weights_sha256); empty: unknown

  [[nodiscard]] nlohmann::json to_json() const {
    nlohmann::json j{{"source_len", source_len},
                     {"source_dim", source_dim},
                     {"target_len", target_len},
                     {"target_dim", target_dim},
                     {"source_encoder", source_encoder},
                     {"target_encoder", target_encoder},
                     {"storage", std::string(dtype_name(storage))}};
    if (!source_sha256.empty()) j["source_sha256"] = source_sha256;
    if (!target_sha256.empty()) j["target_sha256"] = target_sha256;
    return j;
  }
  static ShardSpec from_json(const nlohmann::json& j, const std::filesystem::path& where) {
    try {
      ShardSpec s{.source_len = j.at("source_len"),
                  .source_dim = j.at("source_dim"),
                  .target_len = j.at("target_len"),
                  .target_dim = j.at("target_dim"),
                  .source_encoder = j.at("source_encoder"),
                  .target_encoder = j.at("target_encoder"),
                  .storage = DType::f16,  // from the name below
                  .source_sha256 = j.value("source_sha256", std::string()),
                  .target_sha256 = j.value("target_sha256", std::string())};
      const auto storage = dtype_from_name(j.at("storage").get<std::string>());
      GLUEGEN_CHECK_AS(IoError, storage.has_value(), "'{}': unknown storage dtype '{}'", where.string(),
                       j.at("storage").get<std::string>());
      s.storage = *storage;
      return s;
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(IoError, "'{}' is not a gluegen feature shard: its config lacks {}", where.string(), e.what());
    }
  }
  /// What an aligner trained on these shards records about them (io/provenance.hpp): both encoders (with
  /// their SHA-256 when the shards know it) and both token lengths.
  [[nodiscard]] nlohmann::json provenance() const {
    const auto identity = [](const std::string& name, const std::string& sha256) {
      return sha256.empty() ? nlohmann::json{{"name", name}} : nlohmann::json{{"name", name}, {"sha256", sha256}};
    };
    return {{"source_encoder", identity(source_encoder, source_sha256)},
            {"target_encoder", identity(target_encoder, target_sha256)},
            {"source_length", source_len},
            {"target_length", target_len}};
  }
  [[nodiscard]] bool same_shapes(const ShardSpec& o) const {
    return source_len == o.source_len && source_dim == o.source_dim && target_len == o.target_len &&
           target_dim == o.target_dim;
  }
};

inline constexpr const char* kShardModelType = "gluegen.feature_shard";

inline std::filesystem::path shard_path(const std::filesystem::path& dir, index_t shard) {
  return dir / fmt::format("shard-{:05d}.h5", shard);
}

/// The shard files of a directory, in order; they must be numbered 0, 1, 2, ... without gaps.
inline std::vector<std::filesystem::path> list_shards(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (index_t i = 0; std::filesystem::exists(shard_path(dir, i)); ++i) out.push_back(shard_path(dir, i));
  return out;
}

/// One batch of examples in host or device memory. Masks are 0/1 in the compute type, ready to weigh
/// a loss or mask an attention.
template <ComputeElement T, TensorPolicy P>
struct AlignmentBatch {
  Tensor<T, P> source, source_mask, target, target_mask;
  std::vector<index_t> examples;       ///< dataset indices, in batch order
  std::vector<std::string> languages;  ///< per example
  [[nodiscard]] index_t size() const { return static_cast<index_t>(examples.size()); }
};

/// Appends encoded examples to a shard directory, one atomically written shard per
/// `examples_per_shard` examples. Constructed on a directory that already holds shards of the same
/// spec, it continues after them (examples_written() says how many to skip in the corpus).
class FeatureShardWriter {
 public:
  FeatureShardWriter(std::filesystem::path dir, ShardSpec spec, index_t examples_per_shard = 256, int deflate = 4)
      : dir_(std::move(dir)), spec_(std::move(spec)), per_shard_(examples_per_shard), deflate_(deflate) {
    GLUEGEN_CHECK_AS(ValueError, per_shard_ > 0, "FeatureShardWriter: examples_per_shard must be positive, got {}",
                     per_shard_);
    GLUEGEN_CHECK_AS(ValueError,
                     spec_.source_len > 0 && spec_.source_dim > 0 && spec_.target_len > 0 && spec_.target_dim > 0,
                     "FeatureShardWriter: every extent of the spec must be positive ({})", spec_.to_json().dump());
    std::filesystem::create_directories(dir_);
    for (const auto& path : list_shards(dir_)) {  // resume: check what is there
      io::WeightReader in(path);
      GLUEGEN_CHECK_AS(IoError, in.meta().model_type == kShardModelType,
                       "'{}' is not a feature shard (model_type '{}')", path.string(), in.meta().model_type);
      const ShardSpec existing = ShardSpec::from_json(in.meta().config, path);
      GLUEGEN_CHECK_AS(ShapeError, existing.same_shapes(spec_),
                       "'{}' holds features of shape {} but this run writes {}; use a new directory", path.string(),
                       existing.to_json().dump(), spec_.to_json().dump());
      const auto same = [](const std::string& a, const std::string& b) { return a.empty() || b.empty() || a == b; };
      GLUEGEN_CHECK_AS(
          ModelMismatchError,
          existing.source_encoder == spec_.source_encoder && existing.target_encoder == spec_.target_encoder &&
              same(existing.source_sha256, spec_.source_sha256) && same(existing.target_sha256, spec_.target_sha256),
          "'{}' holds features of {} -> {} but this run encodes with {} -> {}{}; use a new directory", path.string(),
          existing.source_encoder, existing.target_encoder, spec_.source_encoder, spec_.target_encoder,
          existing.source_encoder == spec_.source_encoder && existing.target_encoder == spec_.target_encoder
              ? " (same names, other weights)"
              : "");
      written_ += in.meta().config.at("count").get<index_t>();
      ++shards_;
    }
    resumed_ = written_;
  }

  /// Examples already on disk when this writer was opened (a resumed run skips that many).
  [[nodiscard]] index_t examples_resumed() const noexcept { return resumed_; }
  /// Examples in complete shards plus those buffered.
  [[nodiscard]] index_t examples_written() const noexcept { return written_ + pending(); }
  [[nodiscard]] index_t shards_written() const noexcept { return shards_; }

  /// Adds a batch: source [B, Ls, Ds], source_mask [B, Ls], target [B, Lt, Dt], target_mask [B, Lt]
  /// (any element types; masks nonzero = real token), plus B texts and language tags.
  template <Element S, Element M, TensorPolicy P>
  void add(const Tensor<S, P>& source, const Tensor<M, P>& source_mask, const Tensor<S, P>& target,
           const Tensor<M, P>& target_mask, const std::vector<std::string>& source_text,
           const std::vector<std::string>& target_text, const std::vector<std::string>& language) {
    const index_t B = source.rank() == 3 ? source.size(0) : -1;
    expect(source, "source", {B, spec_.source_len, spec_.source_dim});
    expect(source_mask, "source_mask", {B, spec_.source_len});
    expect(target, "target", {B, spec_.target_len, spec_.target_dim});
    expect(target_mask, "target_mask", {B, spec_.target_len});
    GLUEGEN_CHECK_AS(ShapeError,
                     std::ssize(source_text) == B && std::ssize(target_text) == B && std::ssize(language) == B,
                     "FeatureShardWriter::add: {} examples but {} source texts, {} target texts, {} languages", B,
                     source_text.size(), target_text.size(), language.size());
    append(source_, source.template cast<float>().to_vector());
    append(target_, target.template cast<float>().to_vector());
    for (auto v : source_mask.to_vector()) source_mask_.push_back(convert<double>(v) != 0 ? 1 : 0);
    for (auto v : target_mask.to_vector()) target_mask_.push_back(convert<double>(v) != 0 ? 1 : 0);
    append(source_text_, source_text);
    append(target_text_, target_text);
    append(language_, language);
    while (pending() >= per_shard_) flush(per_shard_);
  }

  /// Writes the last, partial shard. Without finish() (an exception, a kill) buffered examples are
  /// lost but every complete shard stays valid.
  void finish() {
    if (pending() > 0) flush(pending());
  }

 private:
  template <typename V>
  static void append(std::vector<V>& to, const std::vector<V>& from) {
    to.insert(to.end(), from.begin(), from.end());
  }
  template <Element E, TensorPolicy P>
  static void expect(const Tensor<E, P>& t, const char* name, const Shape& shape) {
    GLUEGEN_CHECK_AS(ShapeError, t.defined() && t.shape() == shape,
                     "FeatureShardWriter::add: {} has shape {}, expected {}", name, t.defined() ? t.shape() : Shape{},
                     shape);
  }
  [[nodiscard]] index_t pending() const { return static_cast<index_t>(language_.size()); }

  void flush(index_t n) {
    const std::filesystem::path path = shard_path(dir_, shards_);
    nlohmann::json config = spec_.to_json();
    config["count"] = n;
    config["first_example"] = written_;
    io::WeightWriter out(path, {.model_type = kShardModelType, .config = config});
    const io::DatasetLayout layout{.chunk_rows = 1, .deflate = deflate_};
    const auto rows = [n](auto& v, index_t row) {
      std::vector<typename std::decay_t<decltype(v)>::value_type> head(v.begin(), v.begin() + n * row);
      v.erase(v.begin(), v.begin() + n * row);
      return head;
    };
    const index_t ls = spec_.source_len, ds = spec_.source_dim, lt = spec_.target_len, dt = spec_.target_dim;
    out.write("source", Tensor<float, Cpu>::from_host({n, ls, ds}, rows(source_, ls * ds)), spec_.storage, layout);
    out.write("source_mask", Tensor<std::int32_t, Cpu>::from_host({n, ls}, rows(source_mask_, ls)), DType::i32, layout);
    out.write("target", Tensor<float, Cpu>::from_host({n, lt, dt}, rows(target_, lt * dt)), spec_.storage, layout);
    out.write("target_mask", Tensor<std::int32_t, Cpu>::from_host({n, lt}, rows(target_mask_, lt)), DType::i32, layout);
    out.write_strings("source_text", rows(source_text_, 1));
    out.write_strings("target_text", rows(target_text_, 1));
    out.write_strings("language", rows(language_, 1));
    out.commit();
    written_ += n;
    ++shards_;
  }

  std::filesystem::path dir_;
  ShardSpec spec_;
  index_t per_shard_;
  int deflate_;
  index_t written_ = 0, resumed_ = 0, shards_ = 0;
  std::vector<float> source_, target_;
  std::vector<std::int32_t> source_mask_, target_mask_;
  std::vector<std::string> source_text_, target_text_, language_;
};

/// The examples of a shard directory (or of one shard file), read on demand. Opening checks every
/// shard's datasets against the first shard's spec, so a mixed directory fails here, naming the
/// shard, not in the middle of training.
class FeatureDataset {
 public:
  explicit FeatureDataset(const std::filesystem::path& location) {
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(location))
      files = list_shards(location);
    else if (std::filesystem::exists(location))
      files.push_back(location);
    GLUEGEN_CHECK_AS(FileNotFoundError, !files.empty(),
                     "no feature shards at '{}' (expected shard-00000.h5, ... written by `gluegen encode`)",
                     location.string());
    for (const auto& path : files) open_shard(path);
    GLUEGEN_CHECK_AS(ValueError, size() > 0, "the feature shards at '{}' hold no examples", location.string());
  }

  [[nodiscard]] index_t size() const noexcept { return static_cast<index_t>(languages_.size()); }
  [[nodiscard]] const ShardSpec& spec() const noexcept { return spec_; }
  [[nodiscard]] const std::string& language(index_t example) const {
    return languages_.at(static_cast<std::size_t>(example));
  }
  [[nodiscard]] std::vector<std::string> language_set() const {
    std::vector<std::string> out(languages_.begin(), languages_.end());
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  /// Fills `batch` with `examples` (dataset indices, kept in that order), converting to T on P.
  template <ComputeElement T, TensorPolicy P>
  void read(std::span<const index_t> examples, AlignmentBatch<T, P>& batch) const {
    const auto B = static_cast<index_t>(examples.size());
    const ShardSpec& s = spec_;
    std::vector<float> source(static_cast<std::size_t>(B * s.source_len * s.source_dim)),
        target(static_cast<std::size_t>(B * s.target_len * s.target_dim));
    std::vector<std::int32_t> source_mask(static_cast<std::size_t>(B * s.source_len)),
        target_mask(static_cast<std::size_t>(B * s.target_len));
    // Group the rows by shard, one read per dataset and shard, then scatter back into batch order.
    std::map<std::size_t, std::vector<std::pair<index_t, index_t>>> by_shard;  // shard -> (row, batch slot)
    for (index_t k = 0; k < B; ++k) {
      const index_t e = examples[static_cast<std::size_t>(k)];
      GLUEGEN_CHECK_AS(ValueError, e >= 0 && e < size(),
                       "FeatureDataset: example {} is out of range (the dataset has {})", e, size());
      const auto shard =
          static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), e) - starts_.begin() - 1);
      by_shard[shard].emplace_back(e - starts_[shard], k);
    }
    for (const auto& [shard, slots] : by_shard) {
      std::vector<index_t> rows;
      for (const auto& [row, slot] : slots) rows.push_back(row);
      const io::WeightReader& in = readers_[shard];
      scatter(in.read_rows<float>("source", rows).to_vector(), slots, s.source_len * s.source_dim, source);
      scatter(in.read_rows<float>("target", rows).to_vector(), slots, s.target_len * s.target_dim, target);
      scatter(in.read_rows<std::int32_t>("source_mask", rows).to_vector(), slots, s.source_len, source_mask);
      scatter(in.read_rows<std::int32_t>("target_mask", rows).to_vector(), slots, s.target_len, target_mask);
    }
    batch.source = to_policy<T, P>({B, s.source_len, s.source_dim}, source);
    batch.target = to_policy<T, P>({B, s.target_len, s.target_dim}, target);
    batch.source_mask = to_policy<T, P>({B, s.source_len}, source_mask);
    batch.target_mask = to_policy<T, P>({B, s.target_len}, target_mask);
    batch.examples.assign(examples.begin(), examples.end());
    batch.languages.clear();
    for (index_t e : examples) batch.languages.push_back(language(e));
  }

  /// The source and target texts of one example (for reports and retrieval listings).
  [[nodiscard]] std::pair<std::string, std::string> texts(index_t example) const {
    const auto shard =
        static_cast<std::size_t>(std::upper_bound(starts_.begin(), starts_.end(), example) - starts_.begin() - 1);
    const auto row = static_cast<std::size_t>(example - starts_[shard]);
    return {readers_[shard].read_strings("source_text").at(row), readers_[shard].read_strings("target_text").at(row)};
  }

 private:
  template <typename V>
  static void scatter(const std::vector<V>& rows, const std::vector<std::pair<index_t, index_t>>& slots,
                      index_t row_size, std::vector<V>& out) {
    for (std::size_t i = 0; i < slots.size(); ++i)
      std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>(i) * row_size, row_size,
                  out.begin() + slots[i].second * row_size);
  }
  template <ComputeElement T, TensorPolicy P, typename V>
  static Tensor<T, P> to_policy(const Shape& shape, const std::vector<V>& values) {
    std::vector<T> converted(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) converted[i] = static_cast<T>(values[i]);
    return Tensor<T, P>::from_host(shape, converted);
  }

  void open_shard(const std::filesystem::path& path) {
    io::WeightReader in(path);
    GLUEGEN_CHECK_AS(IoError, in.meta().model_type == kShardModelType,
                     "'{}' is not a feature shard (model_type '{}', expected '{}')", path.string(),
                     in.meta().model_type, kShardModelType);
    const ShardSpec spec = ShardSpec::from_json(in.meta().config, path);
    if (readers_.empty()) spec_ = spec;
    GLUEGEN_CHECK_AS(ShapeError, spec.same_shapes(spec_), "shard '{}' holds features {} but the first shard holds {}",
                     path.string(), spec.to_json().dump(), spec_.to_json().dump());
    std::vector<std::string> languages = in.read_strings("language");
    const auto n = static_cast<index_t>(languages.size());
    const auto check = [&](const char* name, const Shape& expected) {
      const Shape actual = in.info(name).shape;
      GLUEGEN_CHECK_AS(ShapeError, actual == expected, "dataset '{}' in shard '{}' has shape {}, expected {}", name,
                       path.string(), actual, expected);
    };
    check("source", {n, spec_.source_len, spec_.source_dim});
    check("source_mask", {n, spec_.source_len});
    check("target", {n, spec_.target_len, spec_.target_dim});
    check("target_mask", {n, spec_.target_len});
    starts_.push_back(size());
    languages_.insert(languages_.end(), std::make_move_iterator(languages.begin()),
                      std::make_move_iterator(languages.end()));
    readers_.push_back(std::move(in));
  }

  ShardSpec spec_;
  std::vector<io::WeightReader> readers_;
  std::vector<index_t> starts_;  ///< first dataset index of each shard
  std::vector<std::string> languages_;
};

}  // namespace gluegen::train
