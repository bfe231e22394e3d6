// gluegen_inspect: what a gluegen (or any HDF5) model file holds, without the rest of the CLI.
//   gluegen_inspect model.h5 [--stats]      (the same as `gluegen inspect model.h5 [--stats]`)
#include "gluegen/inspect_model_file.hpp"

#include <cstring>

int main(int argc, char** argv) try {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    fmt::print("usage: gluegen_inspect MODEL.h5 [--stats]\n");
    return argc < 2 ? 2 : 0;
  }
  return gluegen::cli::inspect_model_file(argv[1], argc > 2 && std::strcmp(argv[2], "--stats") == 0);
} catch (const gluegen::Error& e) {
  fmt::print(stderr, "gluegen_inspect: {}\n", e.what());
  return 1;
}
