#pragma once
// GlueGen's pipeline, composed by type (Qin et al. 2023, fig. 2): prompts -> a source encoder -> an
// aligner into the conditioning space the decoder was trained on -> a frozen diffusion decoder.
//   Pipeline<encoders::HfTextEncoder<>, aligners::TranslatorNoLn<>, diffusion::UNet2DCondition<>>
// is GlueGen's glued multilingual model; swapping the aligner type (AttentionAligner, LinearAligner,
// LaviBridgeAdapter, a LanguageRouter of them, ELLA's TimestepConnector) or the encoder type is an
// ablation. Classifier-free guidance uses the decoder's own null conditioning when it is given (its
// own text encoder on the empty prompt: what caption dropout trained it on); otherwise the empty
// prompt goes through the glue with the prompts. A timestep-aware aligner runs at every denoising
// step with that step's timestep, on source features encoded once.
#include <gluegen/aligners/concepts.hpp>
#include <gluegen/diffusion/diffusion_decoder.hpp>
#include <gluegen/encoders/concepts.hpp>

namespace gluegen {

using diffusion::Conditioning;
using diffusion::GeneratedImages;
using diffusion::GenerateOptions;
using diffusion::GenerateProgress;

template <ComputeElement T, TensorPolicy P>
struct PipelineOptions {
  index_t source_length = 77;  ///< tokens per prompt into the source encoder (as the aligner was trained)
  /// The decoder's own null conditioning [1, L, D]; undefined: the empty prompt through the glue.
  Tensor<T, P> null_condition{};
};

template <encoders::TextEncoder Source, typename Align, diffusion::Denoiser D,
          typename S = diffusion::AnyScheduler<typename D::value_type, typename D::policy>>
  requires(aligners::Aligner<Align> || aligners::TimestepAligner<Align>) &&
          std::same_as<typename Source::value_type, typename D::value_type> &&
          std::same_as<typename Align::value_type, typename D::value_type>
class Pipeline {
 public:
  using T = typename D::value_type;
  using P = typename D::policy;
  using TensorT = Tensor<T, P>;
  static constexpr bool kTimestepAware = aligners::TimestepAligner<Align>;

  Pipeline(Source source_, Align aligner_, diffusion::DiffusionDecoder<D, S> decoder_,
           PipelineOptions<T, P> options = {})
      : source(std::move(source_)),
        aligner(std::move(aligner_)),
        decoder(std::move(decoder_)),
        opt_(std::move(options)) {
    GLUEGEN_CHECK_AS(ValueError, opt_.source_length >= 2, "Pipeline: source_length {} must be at least 2",
                     opt_.source_length);
  }

  /// Replaces the null conditioning [1, L, D] (undefined: the empty prompt through the glue).
  void set_null_condition(TensorT null) { opt_.null_condition = std::move(null); }
  [[nodiscard]] const PipelineOptions<T, P>& options() const noexcept { return opt_; }

  /// The decoder's conditioning for `prompts`: cond [N, L, D] and uncond [1, L, D].
  Conditioning<T, P> condition(const std::vector<std::string>& prompts, const std::vector<std::string>& languages = {})
    requires(!kTimestepAware)
  {
    return condition_of(encode(prompts, languages));
  }

  /// The same for source features encoded already (a shard's rows; recorded clips through a speech
  /// source's encode_clips): last_hidden_state [N, source_length, width] and its mask. Needs the decoder's
  /// own null conditioning, since there is no prompt to put the empty one beside.
  Conditioning<T, P> condition(const encoders::EncoderOutput<T, P>& features,
                               const std::vector<std::string>& languages = {})
    requires(!kTimestepAware)
  {
    return condition_of(encoded(features, languages));
  }

  /// The same for a timestep-aware aligner, at diffusion timestep t.
  Conditioning<T, P> condition(const std::vector<std::string>& prompts, double t,
                               const std::vector<std::string>& languages = {})
    requires kTimestepAware
  {
    const Encoded e = encode(prompts, languages);
    const std::vector<double> ts(static_cast<std::size_t>(e.features.size(0)), t);
    const TensorT all = aligner.align(e.features, e.mask, ts, cache_).clone();
    return split(all, e.n);
  }

  /// One image per prompt (repeat a prompt for several), [N, C, H, W] in [-1, 1].
  GeneratedImages<T, P> generate(const std::vector<std::string>& prompts, const GenerateOptions& o = {}) {
    return generate_from(encode(prompts, o.languages), o);
  }

  /// One image per row of source features encoded already (condition(features)'s input).
  GeneratedImages<T, P> generate(const encoders::EncoderOutput<T, P>& features, const GenerateOptions& o = {}) {
    return generate_from(encoded(features, o.languages), o);
  }

  Source source;
  Align aligner;
  diffusion::DiffusionDecoder<D, S> decoder;

 private:
  /// Source features of the prompts and, when the null conditioning comes through the glue, of ""
  /// as one more row (n: the prompts' count).
  struct Encoded {
    TensorT features, mask;
    index_t n = 0;
    bool null_in_batch = false;
    std::vector<std::string> languages;  ///< a LanguageRouter's tags, one per row
  };

  /// Encoders and aligners keep their activations for a backward pass, so one call over every prompt
  /// would hold them all at once (720 prompts through multilingual-e5: 9 GB): rows go through in
  /// chunks of kChunk.
  static constexpr index_t kChunk = 64;
  /// Copies `part` into `out`'s rows from `first` on, allocating `out` ([rows, ...]) at the first part.
  static void place(TensorT& out, const TensorT& part, index_t first, index_t rows) {
    if (first == 0) {
      Shape shape = part.shape();
      shape[0] = rows;
      out = TensorT(shape);
    }
    TensorT dst = out.slice(first, first + part.size(0));
    ops::copy(part, dst);
  }
  static std::vector<std::string> slice_of(const std::vector<std::string>& v, index_t first, index_t last) {
    return {v.begin() + first, v.begin() + last};
  }

  /// A LanguageRouter needs one tag per prompt or feature row (`what`, for the message).
  static void check_languages(const std::vector<std::string>& languages, index_t n, const char* what) {
    GLUEGEN_CHECK_AS(ValueError, std::ssize(languages) == n,
                     "Pipeline: {} {} but {} language tags (GenerateOptions::languages)", n, what, languages.size());
  }

  /// Features given by the caller: their rows as they are, the null conditioning the decoder's own.
  Encoded encoded(const encoders::EncoderOutput<T, P>& f, const std::vector<std::string>& languages) const {
    GLUEGEN_CHECK_AS(ValueError, opt_.null_condition.defined(),
                     "Pipeline: conditioning on encoded features needs the decoder's null conditioning "
                     "(PipelineOptions::null_condition)");
    const auto& h = f.last_hidden_state;
    GLUEGEN_CHECK_AS(ShapeError,
                     h.rank() == 3 && h.size(0) > 0 && h.size(1) == opt_.source_length && f.mask.rank() == 2 &&
                         f.mask.size(0) == h.size(0) && f.mask.size(1) == h.size(1),
                     "Pipeline: encoded features must be [N, {}, width] with a [N, {}] mask, got {} and {}",
                     opt_.source_length, opt_.source_length, h.shape(), f.mask.shape());
    Encoded e{h, f.mask, h.size(0), false, {}};
    if constexpr (requires { cache_.languages; }) {
      check_languages(languages, e.n, "rows");
      e.languages = languages;
    }
    return e;
  }

  /// The aligner over e's rows in chunks of kChunk, split into cond and uncond.
  Conditioning<T, P> condition_of(const Encoded& e)
    requires(!kTimestepAware)
  {
    const index_t rows = e.features.size(0);
    TensorT all;
    for (index_t first = 0; first < rows; first += kChunk) {
      const index_t last = std::min(rows, first + kChunk);
      if constexpr (requires { cache_.languages; }) cache_.languages = slice_of(e.languages, first, last);
      place(all,
            aligner.align(e.features.slice(first, last).contiguous(), e.mask.slice(first, last).contiguous(), cache_),
            first, rows);
    }
    return split(all, e.n);
  }

  GeneratedImages<T, P> generate_from(const Encoded& e, const GenerateOptions& o) {
    if constexpr (!kTimestepAware) {
      return decoder.generate(condition_of(e), o);
    } else {
      return decoder.generate(
          e.n, [&](index_t first, index_t last) { return step_context(e, first, last, o.guidance > 1.0); }, o);
    }
  }

  Encoded encode(std::vector<std::string> texts, const std::vector<std::string>& languages) {
    const auto n = static_cast<index_t>(texts.size());
    GLUEGEN_CHECK_AS(ValueError, n > 0, "Pipeline: no prompts");
    const bool null_in_batch = !opt_.null_condition.defined();
    if (null_in_batch) texts.emplace_back();
    std::vector<std::string> tags;
    if constexpr (requires { cache_.languages; }) {  // a LanguageRouter: the null row takes the first prompt's language
      check_languages(languages, n, "prompts");
      tags = languages;
      if (null_in_batch) tags.push_back(languages.front());
    }
    TensorT features, mask;
    const index_t rows = std::ssize(texts);
    for (index_t first = 0; first < rows; first += kChunk) {
      const index_t last = std::min(rows, first + kChunk);
      const auto s = source.encode(slice_of(texts, first, last), opt_.source_length);
      place(features, s.last_hidden_state, first, rows);
      place(mask, s.mask, first, rows);
    }
    return {std::move(features), std::move(mask), n, null_in_batch, std::move(tags)};
  }

  Conditioning<T, P> split(const TensorT& all, index_t n) const {
    Conditioning<T, P> c{all.slice(0, n).contiguous(),
                         all.size(0) > n ? all.slice(n, n + 1).contiguous() : opt_.null_condition};
    for (const auto* t : {&c.cond, &c.uncond})
      GLUEGEN_CHECK_AS(ShapeError, t->rank() == 3 && t->size(2) == decoder.context_dim(),
                       "the decoder attends to {}-wide features; the {} gives {}", decoder.context_dim(), source.name(),
                       t->shape());
    return c;
  }

  /// For prompts [first, last): a function of (step, t) aligning their source rows (and the null
  /// row) at timestep t, laid out for the denoiser.
  auto step_context(const Encoded& e, index_t first, index_t last, bool guided)
    requires kTimestepAware
  {
    Encoded rows{e.features.slice(first, last).contiguous(),
                 e.mask.slice(first, last).contiguous(),
                 last - first,
                 e.null_in_batch,
                 {}};
    if (e.null_in_batch) {
      TensorT f, m;
      ops::concat(rows.features, e.features.slice(e.n, e.n + 1).contiguous(), 0, f);
      ops::concat(rows.mask, e.mask.slice(e.n, e.n + 1).contiguous(), 0, m);
      rows.features = std::move(f), rows.mask = std::move(m);
    }
    return [this, rows = std::move(rows), guided, context = TensorT{}](index_t, double t) mutable -> const TensorT& {
      const std::vector<double> ts(static_cast<std::size_t>(rows.features.size(0)), t);
      const Conditioning<T, P> c = split(aligner.align(rows.features, rows.mask, ts, cache_).clone(), rows.n);
      if (guided)
        diffusion::guided_context(c.cond, c.uncond, context);
      else
        context = c.cond;
      return context;
    };
  }

  PipelineOptions<T, P> opt_;
  typename Align::Cache cache_;
};

}  // namespace gluegen
