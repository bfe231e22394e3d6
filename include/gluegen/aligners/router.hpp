#pragma once
// One aligner per source language, as MTN / GlueGen train one GlueNet per language (the released
// checkpoints are gluenet_<Language>_...ckpt), chosen per example by its language tag. A batch may
// mix languages: each example goes through its own language's aligner and comes back in place. As an
// Aligner (in a pipeline), the batch's language tags travel in its Cache (`languages`), which the
// pipeline fills from GenerateOptions::languages.
#include <gluegen/aligners/aligner.hpp>
#include <gluegen/aligners/identity.hpp>

#include <map>
#include <string>
#include <vector>

namespace gluegen::aligners {

template <Aligner A>
class LanguageRouter {
 public:
  using value_type = typename A::value_type;
  using policy = typename A::policy;
  using T = value_type;
  using P = policy;
  using TensorT = Tensor<T, P>;
  struct Cache {
    std::vector<std::string> languages;  ///< one tag per example of the next align()
    TensorT aligned;
  };

  /// Routes `language` to `aligner` (replacing an earlier one).
  void add(const std::string& language, A aligner) {
    GLUEGEN_CHECK_AS(ValueError, !language.empty(), "LanguageRouter: empty language tag");
    routes_.insert_or_assign(language, Route{std::move(aligner), {}});
  }

  [[nodiscard]] std::vector<std::string> languages() const {
    std::vector<std::string> out;
    for (const auto& [lang, route] : routes_) out.push_back(lang);
    return out;
  }

  /// The Aligner form: the tags are c.languages.
  const TensorT& align(const TensorT& source, const TensorT& source_mask, Cache& c) {
    c.aligned = align(source, source_mask, c.languages);
    return c.aligned;
  }

  /// source [B, Ls, Ds], source_mask [B, Ls] and one tag per example -> aligned [B, Lt, Dt].
  TensorT align(const TensorT& source, const TensorT& source_mask, const std::vector<std::string>& tags) {
    GLUEGEN_CHECK_AS(ShapeError,
                     source.rank() == 3 && std::ssize(tags) == source.size(0) &&
                         source_mask.shape() == (Shape{source.size(0), source.size(1)}),
                     "LanguageRouter: source {}, mask {} and {} language tags do not describe one batch",
                     source.shape(), source_mask.shape(), tags.size());
    std::map<std::string, std::vector<index_t>> groups;
    for (index_t b = 0; b < source.size(0); ++b) {
      const std::string& tag = tags[static_cast<std::size_t>(b)];
      if (!routes_.contains(tag)) {
        std::string known;
        for (const auto& lang : languages()) known += (known.empty() ? "" : ", ") + lang;
        GLUEGEN_THROW(ValueError, "LanguageRouter: example {} has language '{}', which has no aligner (known: {})", b,
                      tag, known.empty() ? "none" : known);
      }
      groups[tag].push_back(b);
    }
    const index_t Ls = source.size(1), Ds = source.size(2);
    const auto src = source.to_vector(), mask = source_mask.to_vector();
    std::vector<T> out;
    Shape out_row;
    for (const auto& [tag, rows] : groups) {
      const auto n = static_cast<index_t>(rows.size());
      std::vector<T> s, m;
      for (index_t b : rows) {
        s.insert(s.end(), src.begin() + b * Ls * Ds, src.begin() + (b + 1) * Ls * Ds);
        m.insert(m.end(), mask.begin() + b * Ls, mask.begin() + (b + 1) * Ls);
      }
      Route& route = routes_.at(tag);
      const TensorT& aligned =
          route.aligner.align(TensorT::from_host({n, Ls, Ds}, s), TensorT::from_host({n, Ls}, m), route.cache);
      if (out.empty()) {
        out_row = Shape{aligned.size(1), aligned.size(2)};
        out.resize(static_cast<std::size_t>(source.size(0) * out_row.numel()));
      }
      GLUEGEN_CHECK_AS(ShapeError, (Shape{aligned.size(1), aligned.size(2)}) == out_row,
                       "LanguageRouter: the '{}' aligner gives [{}, {}] per example, another gives {}", tag,
                       aligned.size(1), aligned.size(2), out_row);
      const auto a = aligned.to_vector();
      for (std::size_t i = 0; i < rows.size(); ++i)
        std::copy_n(a.begin() + static_cast<std::ptrdiff_t>(i) * out_row.numel(), out_row.numel(),
                    out.begin() + rows[i] * out_row.numel());
    }
    return TensorT::from_host({source.size(0), out_row[0], out_row[1]}, out);
  }

 private:
  struct Route {
    A aligner;
    typename A::Cache cache;
  };
  std::map<std::string, Route> routes_;
};

static_assert(Aligner<LanguageRouter<Identity<float, Cpu>>>);

}  // namespace gluegen::aligners
