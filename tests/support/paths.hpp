#pragma once
// Where the tests find their data: the source tree, recorded at configure time in
// gluegen_test_paths.txt beside the test binaries. It is read at run time rather than compiled in, so
// no object file depends on where the checkout lives, and ccache (CCACHE_BASEDIR, scripts/build.sh)
// serves a fresh clone the objects an earlier build of the same sources made.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace gluegen::test {

inline const std::string& source_dir() {
  static const std::string dir = [] {
    const auto file = std::filesystem::read_symlink("/proc/self/exe").parent_path() / "gluegen_test_paths.txt";
    std::ifstream in(file);
    std::string line;
    if (!std::getline(in, line) || line.empty()) {
      std::fprintf(stderr, "cannot read the source directory from %s (written when CMake configures the tests)\n",
                   file.c_str());
      std::abort();
    }
    return line;
  }();
  return dir;
}

inline std::string test_data_dir() { return source_dir() + "/tests/data"; }

}  // namespace gluegen::test

#define GLUEGEN_SOURCE_DIR (::gluegen::test::source_dir())
#define GLUEGEN_TEST_DATA_DIR (::gluegen::test::test_data_dir())
