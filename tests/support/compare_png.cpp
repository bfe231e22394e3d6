// compare_png A B [MAX_MEAN_DIFF] [--skip-captions CELL_WIDTH CELL_HEIGHT CAPTION_LINES]: compares two PNG
// files pixel by pixel. Prints "identical" or the mean and largest absolute difference in 8-bit levels;
// exits 1 when the sizes differ or the mean difference exceeds MAX_MEAN_DIFF (default 0: bit-identical
// pixels required). With --skip-captions both files are io::image_grid grids of cells that size (after
// upscaling; default padding) and the caption boxes under the cells are left out: the images and the
// layout must match while the caption font may change (tests/data/cli/README.md).
#include <gluegen/io/png.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: compare_png A B [MAX_MEAN_DIFF] [--skip-captions CELL_WIDTH CELL_HEIGHT LINES]\n");
    return 2;
  }
  try {
    using gluegen::index_t;
    const auto a = gluegen::io::read_png(argv[1]), b = gluegen::io::read_png(argv[2]);
    int arg = 3;
    const double allowed = argc > arg && std::strncmp(argv[arg], "--", 2) != 0 ? std::atof(argv[arg++]) : 0.0;
    if (a.width != b.width || a.height != b.height || a.channels != b.channels) {
      std::printf("%s is %lldx%lldx%lld, %s is %lldx%lldx%lld\n", argv[1], static_cast<long long>(a.width),
                  static_cast<long long>(a.height), static_cast<long long>(a.channels), argv[2],
                  static_cast<long long>(b.width), static_cast<long long>(b.height),
                  static_cast<long long>(b.channels));
      return 1;
    }
    std::vector<bool> compared(static_cast<std::size_t>(a.width * a.height), true);
    const char* skipped = "";
    if (argc > arg && std::strcmp(argv[arg], "--skip-captions") == 0) {
      if (argc != arg + 4) {
        std::fprintf(stderr, "compare_png: --skip-captions takes CELL_WIDTH CELL_HEIGHT CAPTION_LINES\n");
        return 2;
      }
      const index_t cell_w = std::atol(argv[arg + 1]), cell_h = std::atol(argv[arg + 2]);
      gluegen::io::GridOptions opt{.caption_lines = std::atol(argv[arg + 3])};
      const auto one = gluegen::io::GridLayout::of(1, cell_w, cell_h, true, opt);  // a cell's pitch
      opt.columns = std::max<index_t>((a.width - one.padding) / (one.cell_width + one.padding), 1);
      const index_t rows =
          std::max<index_t>((a.height - one.padding) / (one.cell_height + one.caption_height + one.padding), 1);
      const auto layout = gluegen::io::GridLayout::of(opt.columns * rows, cell_w, cell_h, true, opt);
      if (layout.width() != a.width || layout.height() != a.height) {
        std::printf("%s (%lldx%lld) is not a grid of %lldx%lld cells with %s caption lines\n", argv[1],
                    static_cast<long long>(a.width), static_cast<long long>(a.height), static_cast<long long>(cell_w),
                    static_cast<long long>(cell_h), argv[arg + 3]);
        return 1;
      }
      skipped = " outside the caption boxes";
      for (index_t i = 0; i < layout.columns * layout.rows; ++i)
        for (index_t y = 0; y < layout.caption_height; ++y)
          for (index_t x = 0; x < layout.cell_width; ++x)
            compared[static_cast<std::size_t>((layout.cell_y(i) + layout.cell_height + y) * a.width + layout.cell_x(i) +
                                              x)] = false;
    } else if (argc > arg) {
      std::fprintf(stderr, "compare_png: unknown argument '%s'\n", argv[arg]);
      return 2;
    }
    double sum = 0;
    std::size_t count = 0;
    int worst = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) {
      if (!compared[i / static_cast<std::size_t>(a.channels)]) continue;
      const int d = std::abs(static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]));
      sum += d;
      ++count;
      worst = std::max(worst, d);
    }
    const double mean = sum / static_cast<double>(std::max<std::size_t>(count, 1));
    if (worst == 0)
      std::printf("identical%s: %s and %s\n", skipped, argv[1], argv[2]);
    else
      std::printf("mean difference%s %.4f levels (allowed %.4f), largest %d: %s vs %s\n", skipped, mean, allowed, worst,
                  argv[1], argv[2]);
    return mean <= allowed ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_png: %s\n", e.what());
    return 1;
  }
}
