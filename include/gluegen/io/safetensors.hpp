#pragma once
// A native reader for Hugging Face's safetensors format, so users load HF weights without Python:
//   8 bytes   little-endian u64 N, the header length
//   N bytes   JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"k": "v"}}
//   rest      the tensors' bytes, little-endian, offsets relative to the end of the header
// The file is memory-mapped; every header field is checked against the file (dtype known, offsets
// inside the data, size = product of the shape times the element size, no overlaps) before any
// tensor is read, and each failure is a typed error naming the file and the tensor.
#include <gluegen/core/dtype.hpp>
#include <gluegen/core/error.hpp>
#include <gluegen/core/strings.hpp>
#include <gluegen/tensor/cpu.hpp>
#include <gluegen/tensor/ops.hpp>
#include <gluegen/tensor/tensor.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gluegen::io {

/// One tensor's entry in a safetensors header.
struct SafetensorsEntry {
  std::string dtype;  ///< "F32", "F16", "BF16", "F64", "I64", "I32", ...
  Shape shape;
  std::size_t begin = 0, end = 0;  ///< byte range within the data section
};

class SafetensorsReader {
 public:
  explicit SafetensorsReader(std::filesystem::path path) : path_(std::move(path)) {
    std::error_code ec;
    GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::is_regular_file(path_, ec),
                     "safetensors file '{}' does not exist", path_.string());
    fd_ = ::open(path_.c_str(), O_RDONLY);
    GLUEGEN_CHECK_AS(IoError, fd_ >= 0, "cannot open '{}': {}", path_.string(), std::strerror(errno));
    try {
      struct stat st {};
      GLUEGEN_CHECK_AS(IoError, ::fstat(fd_, &st) == 0, "cannot stat '{}': {}", path_.string(), std::strerror(errno));
      size_ = static_cast<std::size_t>(st.st_size);
      GLUEGEN_CHECK_AS(TruncatedFileError, size_ >= 8,
                       "'{}' is not a safetensors file: {} bytes, shorter than the 8-byte header length",
                       path_.string(), size_);
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      GLUEGEN_CHECK_AS(IoError, p != MAP_FAILED, "cannot map '{}': {}", path_.string(), std::strerror(errno));
      data_ = static_cast<const unsigned char*>(p);
      parse_header();
    } catch (...) {
      release();  // no destructor runs for an object whose constructor threw: a bad file must not leak its fd
      throw;
    }
  }
  SafetensorsReader(const SafetensorsReader&) = delete;
  SafetensorsReader& operator=(const SafetensorsReader&) = delete;
  ~SafetensorsReader() { release(); }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  [[nodiscard]] const std::map<std::string, SafetensorsEntry>& entries() const noexcept { return entries_; }
  [[nodiscard]] bool contains(const std::string& name) const { return entries_.contains(name); }

  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [name, e] : entries_) out.push_back(name);
    return out;
  }

  [[nodiscard]] const SafetensorsEntry& entry(const std::string& name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string hint;
      for (const auto& n : closest_names(name, names())) hint += (hint.empty() ? "" : ", ") + ("'" + n + "'");
      GLUEGEN_THROW(MissingDatasetError, "tensor '{}' not found in '{}'{}", name, path_.string(),
                    hint.empty() ? "" : "; closest: " + hint);
    }
    return it->second;
  }

  /// Reads `name` as T on policy P (F32, F64, F16, BF16 floats; I32/I64 to integers or floats).
  /// With `expected`, a different shape is a ShapeError; NaN or Inf is a ValueError naming the tensor.
  template <Element T, TensorPolicy P = Cpu>
  [[nodiscard]] Tensor<T, P> read(const std::string& name, std::optional<Shape> expected = std::nullopt) const {
    const SafetensorsEntry& e = entry(name);
    if (expected)
      GLUEGEN_CHECK_AS(ShapeError, e.shape == *expected, "tensor '{}' in '{}' has shape {}, expected {}", name,
                       path_.string(), e.shape, *expected);
    const unsigned char* bytes = data_ + data_start_ + e.begin;
    const auto n = static_cast<std::size_t>(e.shape.numel());
    std::vector<T> values(n);
    const auto convert_all = [&]<typename S>(S) {
      std::vector<S> raw(n);
      if (n > 0)
        std::memcpy(raw.data(), bytes, n * sizeof(S));  // the file is little-endian, as is every host we build for
      for (std::size_t i = 0; i < n; ++i) {
        if constexpr (std::is_floating_point_v<S> || std::same_as<S, f16> || std::same_as<S, bf16>) {
          GLUEGEN_CHECK_AS(ValueError, std::isfinite(convert<double>(raw[i])),
                           "tensor '{}' in '{}' holds a non-finite value at index {}", name, path_.string(), i);
        }
        if constexpr (std::same_as<S, std::int64_t>)
          values[i] = static_cast<T>(raw[i]);
        else
          values[i] = convert<T>(raw[i]);
      }
    };
    if (e.dtype == "F32")
      convert_all(float{});
    else if (e.dtype == "F64")
      convert_all(double{});
    else if (e.dtype == "F16")
      convert_all(f16{});
    else if (e.dtype == "BF16")
      convert_all(bf16{});
    else if (e.dtype == "I32")
      convert_all(std::int32_t{});
    else if (e.dtype == "I64")
      convert_all(std::int64_t{});
    else
      GLUEGEN_THROW(DTypeError,
                    "tensor '{}' in '{}' has dtype {}, which gluegen does not read (F32, F64, F16, BF16, I32, I64)",
                    name, path_.string(), e.dtype);
    return Tensor<T, P>::from_host(e.shape, values);
  }

  /// Reads `name` into an existing tensor (a module's parameter), whose shape it must have.
  template <Element T, TensorPolicy P>
  void read_into(const std::string& name, Tensor<T, P>& target) const {
    const Tensor<T, P> loaded = read<T, P>(name, target.shape());
    GLUEGEN_CHECK_AS(ShapeError, target.is_contiguous(), "read_into('{}'): the target tensor is not contiguous", name);
    ops::copy(loaded, target);
  }

 private:
  static std::size_t element_size(const std::string& dtype) {
    static const std::map<std::string, std::size_t> sizes{
        {"F64", 8}, {"F32", 4},  {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},     {"I16", 2},    {"I8", 1},
        {"U8", 1},  {"BOOL", 1}, {"U16", 2}, {"U32", 4},  {"U64", 8}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    const auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
  }

  void release() noexcept {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
    data_ = nullptr;
    fd_ = -1;
  }

  /// Integers are checked before they are converted: the JSON library turns 4.7e19 into an int64 without a range
  /// check (undefined behaviour; found by tests/fuzz/fuzz_safetensors.cpp).
  void check_whole_numbers(const nlohmann::json& entry, const std::string& name, const char* field) const {
    const nlohmann::json v = entry.is_object() ? entry.value(field, nlohmann::json()) : nlohmann::json();
    GLUEGEN_CHECK_AS(IoError,
                     v.is_array() && std::all_of(v.begin(), v.end(),
                                                 [](const nlohmann::json& x) {
                                                   return x.is_number_unsigned() &&
                                                          x.get<std::uint64_t>() <= (std::uint64_t{1} << 62);
                                                 }),
                     "tensor '{}' in '{}': '{}' is not a list of whole numbers", name, path_.string(), field);
  }

  void parse_header() {
    std::uint64_t header_len = 0;
    std::memcpy(&header_len, data_, 8);
    GLUEGEN_CHECK_AS(TruncatedFileError, header_len <= size_ - 8,
                     "'{}' is truncated or not safetensors: the header claims {} bytes, the file has {}",
                     path_.string(), header_len, size_ - 8);
    data_start_ = 8 + static_cast<std::size_t>(header_len);
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(reinterpret_cast<const char*>(data_ + 8),
                                     reinterpret_cast<const char*>(data_ + data_start_));
    } catch (const nlohmann::json::exception& ex) {
      GLUEGEN_THROW(IoError, "'{}' is not a safetensors file: its header is not JSON ({})", path_.string(), ex.what());
    }
    GLUEGEN_CHECK_AS(IoError, header.is_object(), "'{}': the safetensors header is not a JSON object", path_.string());
    const std::size_t data_size = size_ - data_start_;
    std::vector<std::pair<std::size_t, std::size_t>> ranges;
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [k, v] : value.items()) metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
        continue;
      }
      SafetensorsEntry e;
      check_whole_numbers(value, name, "shape");
      check_whole_numbers(value, name, "data_offsets");
      try {
        e.dtype = value.at("dtype").get<std::string>();
        const auto dims = value.at("shape").get<std::vector<index_t>>();
        GLUEGEN_CHECK_AS(ShapeError, static_cast<int>(dims.size()) <= Shape::kMaxRank,
                         "tensor '{}' in '{}' has rank {}; gluegen supports up to {}", name, path_.string(),
                         dims.size(), Shape::kMaxRank);
        e.shape = Shape(std::span<const index_t>(dims));
        const auto offsets = value.at("data_offsets").get<std::vector<std::size_t>>();
        GLUEGEN_CHECK_AS(IoError, offsets.size() == 2, "tensor '{}' in '{}': data_offsets must be [begin, end]", name,
                         path_.string());
        e.begin = offsets[0];
        e.end = offsets[1];
      } catch (const nlohmann::json::exception& ex) {
        GLUEGEN_THROW(IoError, "tensor '{}' in '{}' has a malformed header entry: {}", name, path_.string(), ex.what());
      }
      const std::size_t esize = element_size(e.dtype);
      GLUEGEN_CHECK_AS(DTypeError, esize > 0, "tensor '{}' in '{}' has unknown dtype '{}'", name, path_.string(),
                       e.dtype);
      // the element count, multiplied only while it stays within the data section (no overflow)
      std::uint64_t elements = 1;
      for (int d = 0; d < e.shape.rank(); ++d) {
        const auto extent = static_cast<std::uint64_t>(e.shape[d]);
        if (extent == 0) elements = 0;
        if (elements == 0) break;
        GLUEGEN_CHECK_AS(IoError, elements <= data_size / extent,
                         "tensor '{}' in '{}' has shape {}: more elements than its {}-byte data section holds", name,
                         path_.string(), e.shape, data_size);
        elements *= extent;
      }
      GLUEGEN_CHECK_AS(IoError,
                       e.begin <= e.end && e.end - e.begin == static_cast<std::size_t>(e.shape.numel()) * esize,
                       "tensor '{}' in '{}': {} x {} bytes do not fit its byte range [{}, {})", name, path_.string(),
                       e.shape, esize, e.begin, e.end);
      GLUEGEN_CHECK_AS(TruncatedFileError, e.end <= data_size,
                       "tensor '{}' in '{}' ends at byte {} of a {}-byte data section: the file is truncated", name,
                       path_.string(), e.end, data_size);
      ranges.emplace_back(e.begin, e.end);
      entries_.emplace(name, std::move(e));
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
      GLUEGEN_CHECK_AS(IoError, ranges[i].first >= ranges[i - 1].second, "'{}': tensors overlap at bytes [{}, {})",
                       path_.string(), ranges[i].first, ranges[i - 1].second);
  }

  std::filesystem::path path_;
  int fd_ = -1;
  std::size_t size_ = 0, data_start_ = 0;
  const unsigned char* data_ = nullptr;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace gluegen::io
