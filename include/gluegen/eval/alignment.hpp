#pragma once
// Alignment quality of aligned source features against the target encoder's features on held-out
// pairs (MTN / GlueGen report the element-wise MSE; retrieval is how LaVi-Bridge-style work checks
// that sentences stay distinguishable):
//   mse      mean over real target tokens of mean_d (f(S) - T)^2
//   cosine   mean over real target tokens of cos(f(S)_l, T_l)
//   R@k      sentence vectors = mean of real tokens; a source sentence is retrieved correctly at k when
//            its own target sentence is among the k targets most cosine-similar to it, searched among
//            all held-out targets of the same language ("per language") or of every language ("all").
#include <gluegen/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace gluegen::eval {

struct AlignmentMetrics {
  index_t sentences = 0;
  double mse = 0, cosine = 0;
  double recall_at_1 = 0, recall_at_5 = 0;
};

struct AlignmentReport {
  AlignmentMetrics all;
  std::map<std::string, AlignmentMetrics> languages;

  [[nodiscard]] nlohmann::json to_json() const {
    const auto one = [](const AlignmentMetrics& m) {
      return nlohmann::json{{"sentences", m.sentences},
                            {"mse", m.mse},
                            {"cosine", m.cosine},
                            {"recall_at_1", m.recall_at_1},
                            {"recall_at_5", m.recall_at_5}};
    };
    nlohmann::json j{{"all", one(all)}, {"languages", nlohmann::json::object()}};
    for (const auto& [lang, m] : languages) j["languages"][lang] = one(m);
    return j;
  }

  [[nodiscard]] std::string to_markdown() const {
    std::string out = "| language | sentences | MSE | cosine | R@1 | R@5 |\n|---|---:|---:|---:|---:|---:|\n";
    const auto row = [&](const std::string& name, const AlignmentMetrics& m) {
      out += fmt::format("| {} | {} | {:.4g} | {:.4f} | {:.3f} | {:.3f} |\n", name, m.sentences, m.mse, m.cosine,
                         m.recall_at_1, m.recall_at_5);
    };
    for (const auto& [lang, m] : languages) row(lang, m);
    row("all", all);
    return out;
  }
};

/// Collects batches of (aligned, target, target_mask, language), then computes the report.
class AlignmentEvaluator {
 public:
  template <ComputeElement T, TensorPolicy P>
  void add(const Tensor<T, P>& aligned, const Tensor<T, P>& target, const Tensor<T, P>& target_mask,
           const std::vector<std::string>& languages) {
    GLUEGEN_CHECK_AS(ShapeError, aligned.rank() == 3 && aligned.shape() == target.shape(),
                     "AlignmentEvaluator: aligned {} and target {} differ", aligned.shape(), target.shape());
    const index_t B = aligned.size(0), L = aligned.size(1), D = aligned.size(2);
    GLUEGEN_CHECK_AS(ShapeError, target_mask.shape() == (Shape{B, L}) && std::ssize(languages) == B,
                     "AlignmentEvaluator: mask {} and {} languages for features {}", target_mask.shape(),
                     languages.size(), aligned.shape());
    GLUEGEN_CHECK_AS(ValueError, dim_ == 0 || dim_ == D, "AlignmentEvaluator: width {} after batches of width {}", D,
                     dim_);
    dim_ = D;
    const auto a = aligned.template cast<double>().to_vector(), t = target.template cast<double>().to_vector();
    const auto m = target_mask.template cast<double>().to_vector();
    for (index_t b = 0; b < B; ++b) {
      Sentence s{.language = languages[static_cast<std::size_t>(b)]};
      s.aligned.assign(static_cast<std::size_t>(D), 0.0);
      s.target.assign(static_cast<std::size_t>(D), 0.0);
      for (index_t l = 0; l < L; ++l) {
        if (m[static_cast<std::size_t>(b * L + l)] == 0) continue;
        const double* x = a.data() + (b * L + l) * D;
        const double* y = t.data() + (b * L + l) * D;
        double se = 0, xy = 0, xx = 0, yy = 0;
        for (index_t d = 0; d < D; ++d) {
          se += (x[d] - y[d]) * (x[d] - y[d]);
          xy += x[d] * y[d];
          xx += x[d] * x[d];
          yy += y[d] * y[d];
          s.aligned[static_cast<std::size_t>(d)] += x[d];
          s.target[static_cast<std::size_t>(d)] += y[d];
        }
        s.squared_error += se / static_cast<double>(D);
        s.cosine += xy / std::max(std::sqrt(xx * yy), 1e-12);
        ++s.tokens;
      }
      GLUEGEN_CHECK_AS(ValueError, s.tokens > 0,
                       "AlignmentEvaluator: a {} sentence has no real target token (all-zero mask)", s.language);
      sentences_.push_back(std::move(s));
    }
  }

  [[nodiscard]] AlignmentReport report() const {
    GLUEGEN_CHECK_AS(ValueError, !sentences_.empty(), "AlignmentEvaluator: no sentences were added");
    AlignmentReport r;
    std::vector<std::size_t> everyone(sentences_.size());
    std::map<std::string, std::vector<std::size_t>> by_language;
    for (std::size_t i = 0; i < sentences_.size(); ++i) {
      everyone[i] = i;
      by_language[sentences_[i].language].push_back(i);
    }
    r.all = metrics(everyone);
    for (const auto& [lang, ids] : by_language) r.languages[lang] = metrics(ids);
    return r;
  }

 private:
  struct Sentence {
    std::string language;
    std::vector<double> aligned{}, target{};  // sums of real tokens (the mean's direction, for cosine ranking)
    double squared_error = 0, cosine = 0;
    index_t tokens = 0;
  };

  static double cos(const std::vector<double>& x, const std::vector<double>& y) {
    double xy = 0, xx = 0, yy = 0;
    for (std::size_t d = 0; d < x.size(); ++d) {
      xy += x[d] * y[d];
      xx += x[d] * x[d];
      yy += y[d] * y[d];
    }
    return xy / std::max(std::sqrt(xx * yy), 1e-12);
  }

  [[nodiscard]] AlignmentMetrics metrics(const std::vector<std::size_t>& ids) const {
    AlignmentMetrics m;
    m.sentences = std::ssize(ids);
    double tokens = 0;
    for (std::size_t i : ids) {
      m.mse += sentences_[i].squared_error;
      m.cosine += sentences_[i].cosine;
      tokens += static_cast<double>(sentences_[i].tokens);
    }
    m.mse /= tokens;
    m.cosine /= tokens;
    index_t hit1 = 0, hit5 = 0;
    for (std::size_t q : ids) {
      const double own = cos(sentences_[q].aligned, sentences_[q].target);
      index_t better = 0;  // targets strictly more similar than the query's own (ties favour the truth)
      for (std::size_t g : ids)
        if (g != q && cos(sentences_[q].aligned, sentences_[g].target) > own) ++better;
      hit1 += better < 1;
      hit5 += better < 5;
    }
    m.recall_at_1 = static_cast<double>(hit1) / static_cast<double>(ids.size());
    m.recall_at_5 = static_cast<double>(hit5) / static_cast<double>(ids.size());
    return m;
  }

  index_t dim_ = 0;
  std::vector<Sentence> sentences_;
};

}  // namespace gluegen::eval
