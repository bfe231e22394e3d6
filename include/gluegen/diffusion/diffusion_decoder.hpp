#pragma once
// The decoder half of a text-to-image pipeline: a Denoiser, the sampler its file says it needs, and,
// for a latent model, the VAE that turns latents into pixels. It generates batches of images from a
// conditioning with classifier-free guidance (Ho & Salimans 2022, eq. 6), so that
//   - image k's starting noise is N(0, I) drawn from Philox keyed by (seed, k), and a stochastic
//     sampler's step noise for image k from (seed, k, step): an image does not depend on the batch
//     size or on the other prompts of the call;
//   - the conditioning is asked for per batch and per step (context_at), so a timestep-aware aligner
//     (ELLA's connector) gives the denoiser a new conditioning at every timestep;
//   - progress is reported after every denoising step.
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/diffusion/sampling.hpp>
#include <gluegen/io/png.hpp>

#include <functional>
#include <optional>

namespace gluegen::diffusion {

/// After each denoising step of the batch holding images [first, last) of `images`.
struct GenerateProgress {
  index_t first = 0, last = 0, images = 0;
  index_t step = 0, steps = 0;  ///< step 0-based, of steps
};

struct GenerateOptions {
  index_t steps = 25;
  double guidance = 4.0;  ///< classifier-free guidance scale w (<= 1: no guidance)
  std::uint64_t seed = 0;
  index_t batch = 32;                    ///< images per denoiser call; the images do not depend on it
  std::vector<std::string> languages{};  ///< one tag per prompt, for an aligner that routes by language
  std::function<void(const GenerateProgress&)> on_progress{};
};

/// A conditioning batch: cond [N, L, D] and the unconditional (empty prompt) row uncond [1, L, D].
template <ComputeElement T, TensorPolicy P>
struct Conditioning {
  Tensor<T, P> cond, uncond;
};

/// Generated samples [N, C, H, W] in [-1, 1] (pixels; decoded by the VAE for a latent model).
template <ComputeElement T, TensorPolicy P>
struct GeneratedImages {
  Tensor<T, P> samples;

  [[nodiscard]] index_t size() const { return samples.size(0); }
  [[nodiscard]] std::vector<io::Image> images() const {
    std::vector<io::Image> out;
    for (index_t i = 0; i < samples.size(0); ++i) out.push_back(io::to_image(samples.select(i)));
    return out;
  }
};

template <Denoiser D, typename S = AnyScheduler<typename D::value_type, typename D::policy>>
  requires Scheduler<S, typename D::value_type, typename D::policy>
class DiffusionDecoder {
 public:
  using value_type = typename D::value_type;
  using policy = typename D::policy;
  using T = value_type;
  using P = policy;
  using TensorT = Tensor<T, P>;
  using Vae = AutoencoderKL<T, P>;

  DiffusionDecoder(D denoiser_, S sampler_, std::optional<Vae> vae_ = std::nullopt)
      : denoiser(std::move(denoiser_)), sampler(std::move(sampler_)), vae(std::move(vae_)) {}

  /// The conditioning width the denoiser attends to.
  [[nodiscard]] index_t context_dim() const { return denoiser.context_dim(); }

  /// Images for every row of c.cond, guided by c.uncond.
  GeneratedImages<T, P> generate(const Conditioning<T, P>& c, const GenerateOptions& o) {
    check_width(c.cond, "conditioning");
    check_width(c.uncond, "unconditional conditioning");
    TensorT context;
    return generate(
        c.cond.size(0),
        [&](index_t first, index_t last) {
          const TensorT cond = c.cond.slice(first, last).contiguous();
          if (o.guidance > 1.0)
            guided_context(cond, c.uncond, context);
          else
            context = cond;
          return [&](index_t, double) -> const TensorT& { return context; };
        },
        o);
  }

  /// Images for n conditioning rows: batch_context(first, last) returns, for the batch of rows
  /// [first, last), a function (step, timestep) -> that step's context ([B, L, D], or [2B, L, D] laid
  /// out by guided_context when o.guidance > 1).
  template <typename BatchContext>
  GeneratedImages<T, P> generate(index_t n, BatchContext&& batch_context, const GenerateOptions& o) {
    GLUEGEN_CHECK_AS(ValueError, o.batch > 0 && o.steps > 0, "generate: batch {} and steps {} must be positive",
                     o.batch, o.steps);
    GeneratedImages<T, P> out;
    for (index_t first = 0; first < n; first += o.batch) {
      const index_t last = std::min(n, first + o.batch);
      TensorT noise = image_noise(first, last, o.seed, [](std::uint64_t k) { return k; });
      const auto step_noise = [&](index_t step, const Shape&) {
        return image_noise(first, last, o.seed, [step](std::uint64_t k) {
          return kStepNoiseStreams | (k << 20) | static_cast<std::uint64_t>(step);
        });
      };
      const auto progress = [&](index_t step, index_t steps, double, const TensorT&) {
        if (o.on_progress) o.on_progress({.first = first, .last = last, .images = n, .step = step, .steps = steps});
      };
      const TensorT latents =
          denoise(denoiser, sampler, batch_context(first, last), std::move(noise),
                  {.steps = o.steps, .guidance_scale = o.guidance, .seed = o.seed}, step_noise, progress);
      const TensorT& pixels =
          vae ? vae->decode(ops::scale(latents, T(1 / vae->config().scaling_factor)), vae_cache_) : latents;
      if (!out.samples.defined()) out.samples = TensorT(Shape{n, pixels.size(1), pixels.size(2), pixels.size(3)});
      TensorT dst = out.samples.slice(first, last);
      ops::copy(pixels, dst);
    }
    return out;
  }

  D denoiser;
  S sampler;
  std::optional<Vae> vae;  ///< set for a latent denoiser

 private:
  /// Step noise streams: high bit set, so they never meet the starting noise's streams (k).
  static constexpr std::uint64_t kStepNoiseStreams = std::uint64_t{1} << 63;

  /// N(0, I) noise [last - first, C, H, W] for images [first, last), image k's row from Philox stream
  /// stream_of(k): a row does not depend on the other images of the batch.
  template <typename StreamOf>
  TensorT image_noise(index_t first, index_t last, std::uint64_t seed, StreamOf&& stream_of) const {
    const index_t C = denoiser.sample_channels(), side = denoiser.sample_size();
    TensorT z(Shape{last - first, C, side, side});
    for (index_t k = first; k < last; ++k) {
      TensorT row = z.slice(k - first, k - first + 1);
      ops::copy(ops::randn<T, P>({1, C, side, side}, seed, stream_of(static_cast<std::uint64_t>(k))), row);
    }
    return z;
  }

  void check_width(const TensorT& t, const char* what) const {
    GLUEGEN_CHECK_AS(ShapeError, t.rank() == 3 && t.size(2) == denoiser.context_dim(),
                     "the decoder attends to {}-wide features; the {} has shape {}", denoiser.context_dim(), what,
                     t.shape());
  }

  typename Vae::DecodeCache vae_cache_;
};

/// The decoder file's UNet with the sampler class `scheduler` (a diffusers class name) configured by
/// the noise schedule the file records, and an optional VAE file for a latent model.
template <ComputeElement T = float, TensorPolicy P = Cpu>
[[nodiscard]] DiffusionDecoder<UNet2DCondition<T, P>> load_diffusion_decoder(
    const std::filesystem::path& decoder, const std::string& scheduler = "DPMSolverMultistepScheduler",
    const std::filesystem::path& vae = {}) {
  const io::WeightReader in(decoder);
  auto unet = load_unet<T, P>(in);
  auto sampler = AnyScheduler<T, P>::from_config(scheduler, read_scheduler_record(in).config);
  std::optional<AutoencoderKL<T, P>> autoencoder;
  if (!vae.empty()) autoencoder.emplace(load_vae<T, P>(io::WeightReader(vae)));
  return {std::move(unet), std::move(sampler), std::move(autoencoder)};
}

}  // namespace gluegen::diffusion
