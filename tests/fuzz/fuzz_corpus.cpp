// Parallel corpus TSV files (train/parallel_corpus.hpp; what `gluegen encode` reads).
#include "fuzz_input.hpp"

#include <gluegen/train/parallel_corpus.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return gluegen::fuzz::run(data, size, [](std::string_view bytes) {
    (void)gluegen::train::read_parallel_corpus(gluegen::fuzz::as_file(bytes, "corpus.tsv").string());
  });
}
