// Writes the synthetic parallel corpus of tests/support/synthetic.hpp as feature shards, the input
// of the command-line tests (gluegen train / eval).
//   make_synthetic_shards DIR N
#include <cstdlib>
#include <iostream>

#include "support/synthetic.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_synthetic_shards DIR N\n";
    return 2;
  }
  std::filesystem::remove_all(argv[1]);
  gluegen::train::FeatureShardWriter out(argv[1], gluegen::test::SyntheticCorpus{}.spec(gluegen::DType::f16), 64);
  gluegen::test::SyntheticCorpus{}.write(out, 0, std::atoll(argv[2]));
  out.finish();
  std::cout << out.examples_written() << " examples in " << out.shards_written() << " shards\n";
  return 0;
}
