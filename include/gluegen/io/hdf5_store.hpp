#pragma once
// The HDF5 weight store: named tensors as datasets in nested groups (a dotted name
// "encoder.layers.0.fc1.weight" is the dataset /encoder/layers/0/fc1/weight), stored in their native
// dtype (f32, f64, f16, bf16; i32 for indices), and root attributes `gluegen_format` (int), `model_type` and `config`
// (JSON text), and `provenance` (JSON text, when the writer knew it: what the model was made from,
// io/provenance.hpp). h5py reads and writes the same layout, which is how tools/ exchanges weights
// with PyTorch.
//
// Writing goes to "<path>.tmp.<pid>" and is renamed over <path> only by commit(), after an fsync, so
// a crash or an exception never leaves a half-written file under the real name.
#include <gluegen/core/dtype.hpp>
#include <gluegen/core/error.hpp>
#include <gluegen/core/strings.hpp>
#include <gluegen/tensor/cpu.hpp>
#include <gluegen/tensor/ops.hpp>
#include <gluegen/tensor/tensor.hpp>

#include <hdf5.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace gluegen::io {

inline constexpr int kGluegenFormat = 1;

/// How a dataset is laid out on disk. Feature shards are chunked by example (chunk_rows rows of the
/// leading axis per chunk) and deflate-compressed, so a data loader reads single examples cheaply.
struct DatasetLayout {
  index_t chunk_rows = 0;  ///< 0: contiguous (weights); > 0: chunked along axis 0
  int deflate = 0;         ///< gzip level 0..9 (needs chunking)
};

/// What a model file says about itself (root attributes).
struct ModelMeta {
  int gluegen_format = kGluegenFormat;  ///< 0 when the file has no such attribute (not written by gluegen)
  std::string model_type;
  nlohmann::json config = nlohmann::json::object();
  /// What the model was trained with (encoders, decoder, lengths, command; io/provenance.hpp); null
  /// when unknown (files from before the record, or converted from elsewhere).
  nlohmann::json provenance = nullptr;
};

/// Shape and stored dtype of one dataset.
struct TensorInfo {
  Shape shape;
  DType dtype = DType::f32;
};

namespace detail {

/// Owns an HDF5 identifier and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  [[nodiscard]] hid_t get() const noexcept { return id_; }
  [[nodiscard]] bool valid() const noexcept { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

/// HDF5 prints its error stack to stderr by default; gluegen turns it into exception text instead. It also
/// closes every file still open when the process exits, and a file whose writes failed (a full disk) cannot be
/// closed: that second close at exit crashed in libhdf5's H5F__close_cb after the one-line error (found by
/// scripts/check-crash-safety.sh --full-disk). gluegen closes its files itself (Handle), so the exit hook is
/// turned off; H5dont_atexit must come before the library's first call and is a no-op after.
inline void silence_hdf5_errors() {
  static const bool once = [] {
    (void)H5dont_atexit();
    return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
  }();
  (void)once;
}

/// The descriptions on HDF5's current error stack, innermost first, joined by "; ".
inline std::string hdf5_error_text() {
  std::string text;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto& out = *static_cast<std::string*>(data);
        if (!e->desc || !*e->desc) return 0;
        std::string desc(e->desc);
        std::replace(desc.begin(), desc.end(), '\n', ' ');  // write errors carry a timestamp line: one line here
        out += (out.empty() ? "" : "; ") + desc;
        return 0;
      },
      &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no detail from HDF5" : text;
}

/// IEEE binary16 and bfloat16 as HDF5 float types (the layout h5py uses for numpy float16).
inline Handle half_type(DType dtype) {
  Handle t(H5Tcopy(H5T_IEEE_F32LE), H5Tclose);
  if (dtype == DType::f16) {
    H5Tset_fields(t.get(), 15, 10, 5, 0, 10);
    H5Tset_size(t.get(), 2);
    H5Tset_ebias(t.get(), 15);
  } else {
    H5Tset_fields(t.get(), 15, 7, 8, 0, 7);
    H5Tset_size(t.get(), 2);
    H5Tset_ebias(t.get(), 127);
  }
  return t;
}

/// The in-memory HDF5 type for a dtype (HDF5 converts from the file's byte order on read).
inline Handle memory_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return Handle(H5Tcopy(H5T_NATIVE_FLOAT), H5Tclose);
    case DType::f64:
      return Handle(H5Tcopy(H5T_NATIVE_DOUBLE), H5Tclose);
    case DType::i32:
      return Handle(H5Tcopy(H5T_NATIVE_INT32), H5Tclose);
    default:
      return half_type(dtype);
  }
}

/// "a.b.c" -> "/a/b/c"; rejects names HDF5 would misread.
inline std::string dataset_path(std::string_view name) {
  GLUEGEN_CHECK_AS(ValueError,
                   !name.empty() && name.front() != '.' && name.back() != '.' &&
                       name.find("..") == std::string_view::npos && name.find('/') == std::string_view::npos,
                   "tensor name '{}' is not a dotted name like 'encoder.layers.0.weight'", name);
  std::string path = "/";
  for (char c : name) path += c == '.' ? '/' : c;
  return path;
}

inline Handle string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

}  // namespace detail

/// Writes a model file atomically. Call write() per tensor, then commit(); without commit() (an
/// exception, an early return) the temporary file is removed and any earlier file at `path` is untouched.
class WeightWriter {
 public:
  WeightWriter(std::filesystem::path path, const ModelMeta& meta) : path_(std::move(path)) {
    detail::silence_hdf5_errors();
    temp_ = path_;
    temp_ += ".tmp." + std::to_string(::getpid());
    if (path_.has_parent_path() && !std::filesystem::exists(path_.parent_path()))
      GLUEGEN_THROW(FileNotFoundError, "cannot write '{}': directory '{}' does not exist", path_.string(),
                    path_.parent_path().string());
    file_ = detail::Handle(H5Fcreate(temp_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    GLUEGEN_CHECK_AS(IoError, file_.valid(), "cannot create '{}': {}", temp_.string(), detail::hdf5_error_text());
    write_int_attribute("gluegen_format", meta.gluegen_format);
    write_string_attribute("model_type", meta.model_type);
    write_string_attribute("config", meta.config.dump());
    if (!meta.provenance.is_null()) write_string_attribute("provenance", meta.provenance.dump());
  }
  WeightWriter(const WeightWriter&) = delete;
  WeightWriter& operator=(const WeightWriter&) = delete;
  ~WeightWriter() {
    if (!committed_) {
      file_.reset();
      std::error_code ignored;
      std::filesystem::remove(temp_, ignored);
    }
  }

  /// Stores `tensor` under the dotted `name`, converted to `storage` (default: its own dtype).
  template <Element T, TensorPolicy P>
  void write(std::string_view name, const Tensor<T, P>& tensor, std::optional<DType> storage = std::nullopt,
             DatasetLayout layout = {}) {
    const DType dtype = storage.value_or(dtype_of<T>);
    switch (dtype) {
      case DType::f32:
        write_as<float>(name, tensor, layout);
        break;
      case DType::f64:
        write_as<double>(name, tensor, layout);
        break;
      case DType::f16:
        write_as<f16>(name, tensor, layout);
        break;
      case DType::bf16:
        write_as<bf16>(name, tensor, layout);
        break;
      case DType::i32:
        write_as<std::int32_t>(name, tensor, layout);
        break;
    }
  }

  /// Stores UTF-8 strings as a 1-D variable-length string dataset (h5py reads it as bytes/str).
  void write_strings(std::string_view name, const std::vector<std::string>& values) {
    const hsize_t n = values.size();
    detail::Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
    const detail::Handle type = detail::string_type();
    detail::Handle dataset = create_dataset(name, type.get(), space.get(), H5P_DEFAULT);
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v.c_str());
    GLUEGEN_CHECK_AS(
        IoError,
        pointers.empty() || H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) >= 0,
        "writing strings '{}' to '{}' failed: {}", name, path_.string(), detail::hdf5_error_text());
  }

  /// Makes the file visible under its real name: flush, fsync, rename (atomic on POSIX).
  void commit() {
    GLUEGEN_CHECK(!committed_, "WeightWriter::commit called twice for '{}'", path_.string());
    GLUEGEN_CHECK_AS(IoError, H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) >= 0, "flushing '{}' failed: {}", temp_.string(),
                     detail::hdf5_error_text());
    file_.reset();
    if (const int fd = ::open(temp_.c_str(), O_RDONLY); fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    std::error_code ec;
    std::filesystem::rename(temp_, path_, ec);
    GLUEGEN_CHECK_AS(IoError, !ec, "renaming '{}' to '{}' failed: {}", temp_.string(), path_.string(), ec.message());
    committed_ = true;
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  detail::Handle create_dataset(std::string_view name, hid_t type, hid_t space, hid_t dcpl) {
    detail::Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    H5Pset_create_intermediate_group(lcpl.get(), 1);
    const std::string path = detail::dataset_path(name);
    detail::Handle dataset(H5Dcreate2(file_.get(), path.c_str(), type, space, lcpl.get(), dcpl, H5P_DEFAULT), H5Dclose);
    GLUEGEN_CHECK_AS(IoError, dataset.valid(), "cannot create dataset '{}' in '{}' (does it exist already?): {}", name,
                     path_.string(), detail::hdf5_error_text());
    return dataset;
  }

  template <Element S, Element T, TensorPolicy P>
  void write_as(std::string_view name, const Tensor<T, P>& tensor, DatasetLayout layout) {
    GLUEGEN_CHECK_AS(ShapeError, tensor.defined(), "cannot write undefined tensor '{}' to '{}'", name, path_.string());
    const std::vector<T> values = tensor.to_vector();
    std::vector<S> stored(values.size());
    Cpu::convert(stored.data(), values.data(), static_cast<index_t>(values.size()));

    std::vector<hsize_t> dims(tensor.shape().begin(), tensor.shape().end());
    detail::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    detail::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    GLUEGEN_CHECK_AS(ValueError, layout.deflate == 0 || layout.chunk_rows > 0,
                     "dataset '{}': compression needs chunk_rows > 0", name);
    if (layout.chunk_rows > 0 && !dims.empty() && tensor.numel() > 0) {
      std::vector<hsize_t> chunk = dims;
      chunk[0] = std::min<hsize_t>(dims[0], static_cast<hsize_t>(layout.chunk_rows));
      H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
      if (layout.deflate > 0) {
        H5Pset_shuffle(dcpl.get());  // byte shuffle first: halves the size of compressed half floats
        H5Pset_deflate(dcpl.get(), static_cast<unsigned>(layout.deflate));
      }
    }
    const detail::Handle type = detail::memory_type(dtype_of<S>);
    detail::Handle dataset = create_dataset(name, type.get(), space.get(), dcpl.get());
    GLUEGEN_CHECK_AS(
        IoError,
        stored.empty() || H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, stored.data()) >= 0,
        "writing dataset '{}' to '{}' failed: {}", name, path_.string(), detail::hdf5_error_text());
  }

  void write_int_attribute(const char* name, int value) {
    detail::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    detail::Handle attr(H5Acreate2(file_.get(), name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    GLUEGEN_CHECK_AS(IoError, attr.valid() && H5Awrite(attr.get(), H5T_NATIVE_INT, &value) >= 0,
                     "writing attribute '{}' to '{}' failed: {}", name, temp_.string(), detail::hdf5_error_text());
  }
  void write_string_attribute(const char* name, const std::string& value) {
    detail::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    const detail::Handle type = detail::string_type();
    detail::Handle attr(H5Acreate2(file_.get(), name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const char* text = value.c_str();
    GLUEGEN_CHECK_AS(IoError, attr.valid() && H5Awrite(attr.get(), type.get(), &text) >= 0,
                     "writing attribute '{}' to '{}' failed: {}", name, temp_.string(), detail::hdf5_error_text());
  }

  std::filesystem::path path_, temp_;
  detail::Handle file_;
  bool committed_ = false;
};

struct ReadOptions {
  /// Throw ValueError when a dataset holds NaN or Inf (a diverged checkpoint), naming it and the file.
  bool reject_nonfinite = true;
};

/// Reads a model file (any HDF5 file: attributes are optional). Every failure is a typed Error naming
/// the file and, where there is one, the dataset.
class WeightReader {
 public:
  explicit WeightReader(std::filesystem::path path, ReadOptions options = {})
      : path_(std::move(path)), options_(options) {
    detail::silence_hdf5_errors();
    std::error_code ec;
    GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::is_regular_file(path_, ec), "model file '{}' does not exist",
                     path_.string());
    const htri_t is_hdf5 = H5Fis_hdf5(path_.c_str());
    GLUEGEN_CHECK_AS(NotHdf5Error, is_hdf5 > 0, "'{}' is not an HDF5 file (no HDF5 signature; {} bytes)",
                     path_.string(), std::filesystem::file_size(path_, ec));
    file_ = detail::Handle(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file_.valid()) {
      const std::string why = detail::hdf5_error_text();
      if (why.find("truncated") != std::string::npos)
        GLUEGEN_THROW(TruncatedFileError, "'{}' is truncated ({} bytes on disk): {}", path_.string(),
                      std::filesystem::file_size(path_, ec), why);
      GLUEGEN_THROW(IoError, "cannot open '{}': {}", path_.string(), why);
    }
    read_meta();
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] const ModelMeta& meta() const noexcept { return meta_; }

  /// A string attribute of `object` (a dotted group or dataset name; "" = the root group), variable-
  /// or fixed-length (h5py writes either); nullopt when the attribute is absent.
  [[nodiscard]] std::optional<std::string> string_attribute(std::string_view object, const char* name) const {
    const detail::Handle owner = open_object(object);
    if (H5Aexists(owner.get(), name) <= 0) return std::nullopt;
    detail::Handle attr(H5Aopen(owner.get(), name, H5P_DEFAULT), H5Aclose);
    detail::Handle type(H5Aget_type(attr.get()), H5Tclose);
    GLUEGEN_CHECK_AS(IoError, H5Tget_class(type.get()) == H5T_STRING, "attribute '{}' of '{}' in '{}' is not a string",
                     name, object, path_.string());
    if (H5Tis_variable_str(type.get()) > 0) {
      const detail::Handle mem = detail::string_type();
      char* text = nullptr;
      GLUEGEN_CHECK_AS(IoError, H5Aread(attr.get(), mem.get(), &text) >= 0, "reading attribute '{}' of '{}' failed: {}",
                       name, path_.string(), detail::hdf5_error_text());
      std::string value = text ? text : "";
      H5free_memory(text);
      return value;
    }
    std::string value(H5Tget_size(type.get()), '\0');
    GLUEGEN_CHECK_AS(IoError, H5Aread(attr.get(), type.get(), value.data()) >= 0,
                     "reading attribute '{}' of '{}' failed: {}", name, path_.string(), detail::hdf5_error_text());
    value.erase(std::find(value.begin(), value.end(), '\0'), value.end());
    return value;
  }

  /// A numeric scalar attribute of `object` as double; nullopt when absent.
  [[nodiscard]] std::optional<double> number_attribute(std::string_view object, const char* name) const {
    const detail::Handle owner = open_object(object);
    if (H5Aexists(owner.get(), name) <= 0) return std::nullopt;
    detail::Handle attr(H5Aopen(owner.get(), name, H5P_DEFAULT), H5Aclose);
    detail::Handle space(H5Aget_space(attr.get()), H5Sclose);
    GLUEGEN_CHECK_AS(IoError, H5Sget_simple_extent_npoints(space.get()) == 1,
                     "attribute '{}' of '{}' in '{}' is not a scalar", name, object, path_.string());
    double value = 0;
    GLUEGEN_CHECK_AS(IoError, H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value) >= 0,
                     "attribute '{}' of '{}' in '{}' is not numeric: {}", name, object, path_.string(),
                     detail::hdf5_error_text());
    return value;
  }

  /// All dataset names, dotted, sorted.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    H5Lvisit(
        file_.get(), H5_INDEX_NAME, H5_ITER_INC,
        [](hid_t group, const char* name, const H5L_info_t*, void* data) -> herr_t {
          detail::Handle object(H5Oopen(group, name, H5P_DEFAULT), H5Oclose);
          if (object.valid() && H5Iget_type(object.get()) == H5I_DATASET) {
            std::string dotted = name;
            std::replace(dotted.begin(), dotted.end(), '/', '.');
            static_cast<std::vector<std::string>*>(data)->push_back(std::move(dotted));
          }
          return 0;
        },
        &out);
    std::sort(out.begin(), out.end());
    return out;
  }

  [[nodiscard]] bool contains(std::string_view name) const {
    const std::string path = detail::dataset_path(name);
    // Check each prefix group first: H5Oexists_by_name fails (rather than answering no) on a missing parent.
    for (std::size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1))
      if (H5Lexists(file_.get(), path.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
    if (H5Lexists(file_.get(), path.c_str(), H5P_DEFAULT) <= 0) return false;
    detail::Handle object(H5Oopen(file_.get(), path.c_str(), H5P_DEFAULT), H5Oclose);
    return object.valid() && H5Iget_type(object.get()) == H5I_DATASET;
  }

  /// Whether dataset `name` holds strings (read_strings) rather than numbers (info, read).
  [[nodiscard]] bool holds_text(std::string_view name) const {
    const detail::Handle dataset = open_dataset(name);
    const detail::Handle type(H5Dget_type(dataset.get()), H5Tclose);
    return H5Tget_class(type.get()) == H5T_STRING;
  }

  [[nodiscard]] TensorInfo info(std::string_view name) const {
    const detail::Handle dataset = open_dataset(name);
    return info_of(name, dataset);
  }

  /// Reads `name` as element type T on policy P, converting from the stored dtype. With `expected`,
  /// a different stored shape is a ShapeError naming both shapes, the dataset and the file.
  template <Element T, TensorPolicy P = Cpu>
  [[nodiscard]] Tensor<T, P> read(std::string_view name, std::optional<Shape> expected = std::nullopt) const {
    const detail::Handle dataset = open_dataset(name);
    const TensorInfo info = info_of(name, dataset);
    if (expected)
      GLUEGEN_CHECK_AS(ShapeError, info.shape == *expected, "dataset '{}' in '{}' has shape {}, expected {}", name,
                       path_.string(), info.shape, *expected);
    Tensor<T, Cpu> host(info.shape);
    switch (info.dtype) {
      case DType::f32:
        read_converted<float>(name, dataset, host);
        break;
      case DType::f64:
        read_converted<double>(name, dataset, host);
        break;
      case DType::f16:
        read_converted<f16>(name, dataset, host);
        break;
      case DType::bf16:
        read_converted<bf16>(name, dataset, host);
        break;
      case DType::i32:
        read_converted<std::int32_t>(name, dataset, host);
        break;
    }
    if constexpr (std::same_as<P, Cpu>)
      return host;
    else
      return ops::transfer<P>(host);
  }

  /// Reads rows `rows` (indices along axis 0, any order, repeats allowed) of `name` into a tensor
  /// [rows.size(), ...]: a data loader's random access into a chunked shard, without reading the rest.
  template <Element T, TensorPolicy P = Cpu>
  [[nodiscard]] Tensor<T, P> read_rows(std::string_view name, std::span<const index_t> rows) const {
    const detail::Handle dataset = open_dataset(name);
    const TensorInfo info = info_of(name, dataset);
    GLUEGEN_CHECK_AS(ShapeError, info.shape.rank() >= 1, "read_rows: dataset '{}' in '{}' is a scalar", name,
                     path_.string());
    std::vector<index_t> extents(info.shape.begin(), info.shape.end());
    extents[0] = static_cast<index_t>(rows.size());
    Tensor<T, Cpu> host{Shape(std::span<const index_t>(extents))};
    switch (info.dtype) {
      case DType::f32:
        read_converted<float>(name, dataset, host, rows);
        break;
      case DType::f64:
        read_converted<double>(name, dataset, host, rows);
        break;
      case DType::f16:
        read_converted<f16>(name, dataset, host, rows);
        break;
      case DType::bf16:
        read_converted<bf16>(name, dataset, host, rows);
        break;
      case DType::i32:
        read_converted<std::int32_t>(name, dataset, host, rows);
        break;
    }
    if constexpr (std::same_as<P, Cpu>)
      return host;
    else
      return ops::transfer<P>(host);
  }

  /// A 1-D uint8 dataset as bytes: files stored verbatim (tools/convert_hf.py keeps a model's
  /// tokenizer files this way, so one HDF5 file is one model).
  [[nodiscard]] std::string read_bytes(std::string_view name) const {
    const detail::Handle dataset = open_dataset(name);
    detail::Handle type(H5Dget_type(dataset.get()), H5Tclose);
    GLUEGEN_CHECK_AS(DTypeError, H5Tget_class(type.get()) == H5T_INTEGER && H5Tget_size(type.get()) == 1,
                     "dataset '{}' in '{}' does not hold bytes (uint8)", name, path_.string());
    detail::Handle space(H5Dget_space(dataset.get()), H5Sclose);
    GLUEGEN_CHECK_AS(ShapeError, H5Sget_simple_extent_ndims(space.get()) == 1, "byte dataset '{}' in '{}' is not 1-D",
                     name, path_.string());
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    std::string out(n, '\0');
    GLUEGEN_CHECK_AS(TruncatedFileError,
                     n == 0 || H5Dread(dataset.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
                     "reading bytes '{}' from '{}' failed: {}", name, path_.string(), detail::hdf5_error_text());
    return out;
  }

  /// A 1-D string dataset (variable- or fixed-length, as h5py writes either).
  [[nodiscard]] std::vector<std::string> read_strings(std::string_view name) const {
    const detail::Handle dataset = open_dataset(name);
    detail::Handle type(H5Dget_type(dataset.get()), H5Tclose);
    GLUEGEN_CHECK_AS(DTypeError, H5Tget_class(type.get()) == H5T_STRING, "dataset '{}' in '{}' does not hold strings",
                     name, path_.string());
    detail::Handle space(H5Dget_space(dataset.get()), H5Sclose);
    GLUEGEN_CHECK_AS(ShapeError, H5Sget_simple_extent_ndims(space.get()) == 1, "string dataset '{}' in '{}' is not 1-D",
                     name, path_.string());
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    std::vector<std::string> out;
    out.reserve(n);
    if (H5Tis_variable_str(type.get()) > 0) {
      const detail::Handle mem = detail::string_type();
      std::vector<char*> pointers(n, nullptr);
      GLUEGEN_CHECK_AS(TruncatedFileError,
                       n == 0 || H5Dread(dataset.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) >= 0,
                       "reading strings '{}' from '{}' failed: {}", name, path_.string(), detail::hdf5_error_text());
      for (char* p : pointers) out.emplace_back(p ? p : "");
      if (n > 0) H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, pointers.data());
    } else {
      const std::size_t width = H5Tget_size(type.get());
      std::string buffer(width * n, '\0');
      GLUEGEN_CHECK_AS(TruncatedFileError,
                       n == 0 || H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) >= 0,
                       "reading strings '{}' from '{}' failed: {}", name, path_.string(), detail::hdf5_error_text());
      for (hsize_t i = 0; i < n; ++i) {
        std::string v = buffer.substr(i * width, width);
        v.erase(std::find(v.begin(), v.end(), '\0'), v.end());
        out.push_back(std::move(v));
      }
    }
    return out;
  }

  /// Reads `name` into an existing tensor (a module's parameter), whose shape it must have.
  template <Element T, TensorPolicy P>
  void read_into(std::string_view name, Tensor<T, P>& target) const {
    GLUEGEN_CHECK_AS(ShapeError, target.defined(), "read_into('{}'): the target tensor is undefined", name);
    const Tensor<T, P> loaded = read<T, P>(name, target.shape());
    GLUEGEN_CHECK_AS(ShapeError, target.is_contiguous(), "read_into('{}'): the target tensor is not contiguous", name);
    if constexpr (P::is_device)
      P::copy_strided(target.data(), loaded.data(), target.shape(), target.shape().contiguous_strides());
    else
      Cpu::copy_from_host(target.data(), loaded.data(), loaded.numel());
  }

 private:
  detail::Handle open_object(std::string_view object) const {
    if (object.empty()) return detail::Handle(H5Oopen(file_.get(), "/", H5P_DEFAULT), H5Oclose);
    const std::string path = detail::dataset_path(object);
    GLUEGEN_CHECK_AS(MissingDatasetError, H5Lexists(file_.get(), path.c_str(), H5P_DEFAULT) > 0,
                     "no group or dataset '{}' in '{}'", object, path_.string());
    return detail::Handle(H5Oopen(file_.get(), path.c_str(), H5P_DEFAULT), H5Oclose);
  }
  detail::Handle open_dataset(std::string_view name) const {
    if (!contains(name)) {
      std::string hint;
      const auto near = closest_names(name, names());
      for (const auto& n : near) hint += (hint.empty() ? "" : ", ") + ("'" + n + "'");
      GLUEGEN_THROW(MissingDatasetError, "dataset '{}' not found in '{}'{}", name, path_.string(),
                    hint.empty() ? std::string(" (the file holds no datasets)") : "; closest: " + hint);
    }
    const std::string path = detail::dataset_path(name);
    detail::Handle dataset(H5Dopen2(file_.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
    GLUEGEN_CHECK_AS(IoError, dataset.valid(), "cannot open dataset '{}' in '{}': {}", name, path_.string(),
                     detail::hdf5_error_text());
    return dataset;
  }

  TensorInfo info_of(std::string_view name, const detail::Handle& dataset) const {
    TensorInfo info;
    detail::Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    GLUEGEN_CHECK_AS(ShapeError, rank >= 0 && rank <= Shape::kMaxRank,
                     "dataset '{}' in '{}' has rank {}; gluegen tensors have rank 0..{}", name, path_.string(), rank,
                     Shape::kMaxRank);
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::vector<index_t> extents(dims.begin(), dims.end());
    info.shape = Shape(std::span<const index_t>(extents));

    detail::Handle type(H5Dget_type(dataset.get()), H5Tclose);
    const H5T_class_t cls = H5Tget_class(type.get());
    const std::size_t size = H5Tget_size(type.get());
    std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
    if (cls == H5T_FLOAT) H5Tget_fields(type.get(), &spos, &epos, &esize, &mpos, &msize);
    if (cls == H5T_FLOAT && size == 4)
      info.dtype = DType::f32;
    else if (cls == H5T_FLOAT && size == 8)
      info.dtype = DType::f64;
    else if (cls == H5T_FLOAT && size == 2 && esize == 5 && msize == 10)
      info.dtype = DType::f16;
    else if (cls == H5T_FLOAT && size == 2 && esize == 8 && msize == 7)
      info.dtype = DType::bf16;
    else if (cls == H5T_INTEGER && size == 4 && H5Tget_sign(type.get()) == H5T_SGN_2)
      info.dtype = DType::i32;
    else
      GLUEGEN_THROW(DTypeError,
                    "dataset '{}' in '{}' has an unsupported element type ({} of {} bytes); tensors are f32, f64, f16, "
                    "bf16 or i32",
                    name, path_.string(),
                    cls == H5T_FLOAT     ? "float"
                    : cls == H5T_INTEGER ? "integer"
                                         : "non-numeric",
                    size);
    return info;
  }

  /// Reads the whole dataset, or with `rows` those rows of axis 0 in that order, into `out`.
  template <Element S, Element T>
  void read_converted(std::string_view name, const detail::Handle& dataset, Tensor<T, Cpu>& out,
                      std::optional<std::span<const index_t>> rows = std::nullopt) const {
    const index_t n = out.numel();
    std::vector<S> stored(static_cast<std::size_t>(n));
    const detail::Handle type = detail::memory_type(dtype_of<S>);
    const auto fail = [&] {
      const std::string why = detail::hdf5_error_text();
      std::error_code ec;
      GLUEGEN_THROW(TruncatedFileError,
                    "reading dataset '{}' from '{}' ({} bytes on disk) failed, the file is truncated or corrupt: {}",
                    name, path_.string(), std::filesystem::file_size(path_, ec), why);
    };
    if (!rows) {
      if (n > 0 && H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, stored.data()) < 0) fail();
    } else {
      detail::Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
      const int rank = H5Sget_simple_extent_ndims(file_space.get());
      std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
      H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr);
      std::vector<hsize_t> start(dims.size(), 0), count = dims;
      count[0] = 1;
      const index_t row_size = rows->empty() ? 0 : n / static_cast<index_t>(rows->size());
      const hsize_t row_elems = static_cast<hsize_t>(row_size);
      detail::Handle memory_space(H5Screate_simple(1, &row_elems, nullptr), H5Sclose);
      for (std::size_t i = 0; i < rows->size(); ++i) {
        const index_t r = (*rows)[i];
        GLUEGEN_CHECK_AS(ShapeError, r >= 0 && static_cast<hsize_t>(r) < dims[0],
                         "row {} of dataset '{}' in '{}' is out of range (it has {} rows)", r, name, path_.string(),
                         dims[0]);
        start[0] = static_cast<hsize_t>(r);
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
        if (row_size > 0 && H5Dread(dataset.get(), type.get(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                                    stored.data() + i * static_cast<std::size_t>(row_size)) < 0)
          fail();
      }
    }
    if (options_.reject_nonfinite) {
      const auto first_bad =
          std::find_if(stored.begin(), stored.end(), [](S v) { return !std::isfinite(convert<double>(v)); });
      if (first_bad != stored.end()) {
        const index_t bad =
            std::count_if(first_bad, stored.end(), [](S v) { return !std::isfinite(convert<double>(v)); });
        const index_t at = first_bad - stored.begin();
        const index_t row_size = out.rank() > 0 && out.size(0) > 0 ? n / out.size(0) : 1;
        const std::string where =
            rows ? fmt::format(" (first in row {})", (*rows)[static_cast<std::size_t>(at / row_size)]) : std::string();
        GLUEGEN_THROW(ValueError, "dataset '{}' in '{}' holds {} non-finite value(s) (NaN or Inf) out of {}{}", name,
                      path_.string(), bad, n, where);
      }
    }
    Cpu::convert(out.data(), stored.data(), n);
  }

  void read_meta() {
    meta_ = ModelMeta{};
    meta_.gluegen_format = 0;
    if (H5Aexists(file_.get(), "gluegen_format") > 0) {
      detail::Handle attr(H5Aopen(file_.get(), "gluegen_format", H5P_DEFAULT), H5Aclose);
      H5Aread(attr.get(), H5T_NATIVE_INT, &meta_.gluegen_format);
    }
    meta_.model_type = string_attribute("", "model_type").value_or("");
    if (const auto text = string_attribute("", "config"); text && !text->empty())
      meta_.config = json_attribute("config", *text);
    if (const auto text = string_attribute("", "provenance"); text && !text->empty())
      meta_.provenance = json_attribute("provenance", *text);
  }
  nlohmann::json json_attribute(const char* name, const std::string& text) const {
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(IoError, "the '{}' attribute of '{}' is not valid JSON: {}", name, path_.string(), e.what());
    }
  }

  std::filesystem::path path_;
  ReadOptions options_;
  detail::Handle file_;
  ModelMeta meta_;
};

}  // namespace gluegen::io
