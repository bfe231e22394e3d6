#pragma once
// gluegen::Error and its typed subclasses, plus the one check macro family every header uses.
//
// Every message carries the source location that raised it ("file:line: message") so a failure deep
// in a composed model still says where it came from. Callers catch the most specific subclass they can
// handle (e.g. MissingDatasetError to fall back to another name) and let the rest propagate.
#include <fmt/format.h>

#include <source_location>
#include <stdexcept>
#include <string>
#include <utility>

namespace gluegen {

/// The base of every error gluegen raises; raised as itself only where no subclass fits (a LoRA adapter merged
/// twice, a BatchNorm backward after an evaluation forward).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::source_location where = std::source_location::current())
      : std::runtime_error(fmt::format("{}:{}: {}", where.file_name(), where.line(), message)),
        message_(message),
        file_(where.file_name()),
        line_(static_cast<int>(where.line())) {}

  /// The message without the "file:line: " prefix.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] const char* file() const noexcept { return file_; }
  [[nodiscard]] int line() const noexcept { return line_; }

 private:
  std::string message_;
  const char* file_;
  int line_;
};

// Each subclass spells out its constructor: nvcc's front end fails on inherited constructors
// (`using Error::Error`) whose default argument is std::source_location::current().
#define GLUEGEN_DEFINE_ERROR(Name, Base)                                                                    \
  class Name : public Base {                                                                                \
   public:                                                                                                  \
    explicit Name(const std::string& message, std::source_location where = std::source_location::current()) \
        : Base(message, where) {}                                                                           \
  };

/// A tensor (or argument) of the wrong shape or rank for the operation or module.
GLUEGEN_DEFINE_ERROR(ShapeError, Error)
/// An element type an operation, file or device does not support.
GLUEGEN_DEFINE_ERROR(DTypeError, Error)
/// An argument that is well-formed but invalid (NaN, negative size, unknown option...).
GLUEGEN_DEFINE_ERROR(ValueError, Error)
/// Anything wrong with reading or writing a file. Subclasses say which way.
GLUEGEN_DEFINE_ERROR(IoError, Error)
/// A file or folder that does not exist, or lacks a file a model folder needs.
GLUEGEN_DEFINE_ERROR(FileNotFoundError, IoError)
/// A file that is not HDF5 where a gluegen model file is expected.
GLUEGEN_DEFINE_ERROR(NotHdf5Error, IoError)
/// A file shorter than its own contents say: an interrupted download or copy.
GLUEGEN_DEFINE_ERROR(TruncatedFileError, IoError)
/// A model file without a tensor the model needs (the message lists the closest names it has).
GLUEGEN_DEFINE_ERROR(MissingDatasetError, IoError)
/// Models put together that were not trained together: an aligner with a source encoder, or a decoder
/// with a text encoder, other than the ones its file's provenance records (io/provenance.hpp).
GLUEGEN_DEFINE_ERROR(ModelMismatchError, ValueError)
/// Training produced a non-finite loss or gradient; the last checkpoint is left intact.
GLUEGEN_DEFINE_ERROR(DivergedError, ValueError)
/// A CUDA runtime or cuBLAS call failed.
GLUEGEN_DEFINE_ERROR(CudaError, Error)
#undef GLUEGEN_DEFINE_ERROR

namespace detail {
// Throws ErrorType with the caller's location. A function (not a bare `throw` in the macro) keeps the
// macro a single expression statement and the formatting code out of every call site's hot path.
template <typename ErrorType, typename... Args>
[[noreturn]] void throw_error(std::source_location where, fmt::format_string<Args...> format, Args&&... args) {
  throw ErrorType(fmt::format(format, std::forward<Args>(args)...), where);
}
}  // namespace detail

}  // namespace gluegen

/// GLUEGEN_CHECK(cond, "fmt {}", args...) throws gluegen::Error when cond is false.
#define GLUEGEN_CHECK(cond, ...) GLUEGEN_CHECK_AS(::gluegen::Error, cond, __VA_ARGS__)

/// GLUEGEN_CHECK_AS(ShapeError, cond, "fmt {}", args...) throws the given Error subclass.
#define GLUEGEN_CHECK_AS(ErrorType, cond, ...)                                                 \
  do {                                                                                         \
    if (!(cond)) [[unlikely]]                                                                  \
      ::gluegen::detail::throw_error<ErrorType>(std::source_location::current(), __VA_ARGS__); \
  } while (false)

/// Unconditional throw with the same formatting.
#define GLUEGEN_THROW(ErrorType, ...) \
  ::gluegen::detail::throw_error<ErrorType>(std::source_location::current(), __VA_ARGS__)
