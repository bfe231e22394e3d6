#pragma once
// What every fuzz target shares. The rule under test: whatever the bytes, a reader either returns or
// throws a typed gluegen::Error. Anything else escaping (std::out_of_range, a JSON library's exception,
// std::bad_alloc from an allocation a declared size asked for) ends the run as a finding, and so does
// every sanitizer report, hang (-timeout) and allocation past -malloc_limit_mb.
#include <gluegen/core/error.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace gluegen::fuzz {

/// The input as bytes.
inline std::string_view bytes_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Writes the input to this process's scratch file named `name` and returns its path. Readers that take a
/// path (and map or stream the file) are fuzzed through the very code a user's file goes through; the file
/// lives in /dev/shm where there is one, so the round trip costs microseconds.
inline std::filesystem::path as_file(std::string_view bytes, const std::string& name) {
  struct ScratchDir {  // this process's folder, removed when the fuzzer exits
    std::filesystem::path path;
    ScratchDir() {
      const std::filesystem::path shm = "/dev/shm";
      path = (std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path()) /
             ("gluegen-fuzz-" + std::to_string(::getpid()));
      std::filesystem::create_directories(path);
    }
    ~ScratchDir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const ScratchDir dir;
  const std::filesystem::path path = dir.path / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// Runs `body` on the input; a gluegen::Error is the reader's answer to bad bytes and ends the input quietly.
template <typename Body>
int run(const std::uint8_t* data, std::size_t size, Body&& body) {
  try {
    body(bytes_of(data, size));
  } catch (const gluegen::Error&) {}
  return 0;
}

/// What a user's first calls on a freshly loaded tokenizer do: encode prompts (specials, accents, Chinese,
/// an empty one), batch them, and map every id back to its piece.
template <typename Tokenizer>
void exercise_tokenizer(const Tokenizer& tokenizer) {
  for (std::string_view text : {"a red sneaker on a blue background", "Turnschuh in Rot, gr\u00f6\u00dfer",
                                "\u7ea2\u8272\u7684\u8fd0\u52a8\u978b", "[CLS] <s> x </s> [SEP]", ""})
    for (const std::int32_t id : tokenizer.encode(text, true, 0)) (void)tokenizer.token(id);
  (void)tokenizer.encode_batch({"ankle boot", "", "a bag"}, 8, true);
  (void)tokenizer.vocab_size();
  (void)tokenizer.pad_id();
}

}  // namespace gluegen::fuzz
