// compare_png A B [MAX_MEAN_DIFF]: compares two PNG files pixel by pixel. Prints "identical" or the
// mean and largest absolute difference in 8-bit levels; exits 1 when the sizes differ or the mean
// difference exceeds MAX_MEAN_DIFF (default 0: bit-identical pixels required).
#include <gluegen/io/png.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_png A B [MAX_MEAN_DIFF]\n");
    return 2;
  }
  try {
    const auto a = gluegen::io::read_png(argv[1]), b = gluegen::io::read_png(argv[2]);
    const double allowed = argc > 3 ? std::atof(argv[3]) : 0.0;
    if (a.width != b.width || a.height != b.height || a.channels != b.channels) {
      std::printf("%s is %lldx%lldx%lld, %s is %lldx%lldx%lld\n", argv[1], static_cast<long long>(a.width),
                  static_cast<long long>(a.height), static_cast<long long>(a.channels), argv[2],
                  static_cast<long long>(b.width), static_cast<long long>(b.height),
                  static_cast<long long>(b.channels));
      return 1;
    }
    double sum = 0;
    int worst = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
      const int d = std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]));
      sum += d;
      worst = std::max(worst, d);
    }
    const double mean = sum / static_cast<double>(a.pixels.size());
    if (worst == 0)
      std::printf("identical: %s and %s\n", argv[1], argv[2]);
    else
      std::printf("mean difference %.4f levels (allowed %.4f), largest %d: %s vs %s\n", mean, allowed, worst, argv[1],
                  argv[2]);
    return mean <= allowed ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_png: %s\n", e.what());
    return 1;
  }
}
