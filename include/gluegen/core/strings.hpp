#pragma once
// Small string helpers shared by error messages (closest-name suggestions) and parsers.
#include <algorithm>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

namespace gluegen {

/// Levenshtein distance (insert, delete, substitute each cost 1).
[[nodiscard]] inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// The `count` candidates closest to `name` by edit distance, closest first.
[[nodiscard]] inline std::vector<std::string> closest_names(std::string_view name,
                                                            const std::vector<std::string>& candidates,
                                                            std::size_t count = 3) {
  std::vector<std::pair<std::size_t, const std::string*>> scored;
  scored.reserve(candidates.size());
  for (const auto& c : candidates) scored.emplace_back(edit_distance(name, c), &c);
  const auto keep = std::min(count, scored.size());
  std::partial_sort(
      scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep), scored.end(),
      [](const auto& x, const auto& y) { return x.first != y.first ? x.first < y.first : *x.second < *y.second; });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < keep; ++i) out.push_back(*scored[i].second);
  return out;
}

/// `s` cut at every `separator`, empty fields kept: n separators give n + 1 fields ("a\t\tb\t" -> "a",
/// "", "b", ""), so a parser can tell a missing column from an empty one.
[[nodiscard]] inline std::vector<std::string> split_fields(std::string_view s, char separator) {
  std::vector<std::string> fields;
  for (std::size_t start = 0;;) {
    const std::size_t end = s.find(separator, start);
    fields.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return fields;
    start = end + 1;
  }
}

}  // namespace gluegen
