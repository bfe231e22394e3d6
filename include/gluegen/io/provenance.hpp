#pragma once
// Provenance: what a model file was made from, recorded in its `provenance` attribute (ModelMeta), so
// that putting together models that were never trained together (the multilingual-e5 aligner behind
// MiniLM, a decoder behind another text encoder) is a clear error instead of wrong images. A record
// is a JSON object; each key is optional, and a check runs only on what both sides record:
//   source_encoder, target_encoder   {name, sha256}: an aligner's input encoder, and the encoder whose
//                                    feature space it maps into (the decoder's text encoder)
//   text_encoder                     {name, sha256}: a decoder's (or a captions file's) text encoder
//   decoder                          {name, sha256}: the frozen UNet a LaVi-Bridge / ELLA file adapts
//   source_length, target_length,    tokens per prompt the model was trained with
//   text_length
//   command                          the command line that made the file
// A model's sha256 is taken over its weights as loaded (weights_sha256), so a model folder, its
// converted .h5 and its safetensors give the same identity, and any other weights a different one.
#include <gluegen/core/error.hpp>
#include <gluegen/nn/module.hpp>
#include <gluegen/tensor/cpu.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace gluegen::io {

/// SHA-256 of a module's weights as loaded: for each parameter and buffer, in visit order, its name, its
/// extents (int64) and its values as float32 (what any compute type computes from).
template <nn::Module M>
[[nodiscard]] std::string weights_sha256(M& m) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  GLUEGEN_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "weights_sha256: no SHA-256");
  const auto add = [&](const void* data, std::size_t bytes) { EVP_DigestUpdate(ctx.get(), data, bytes); };
  m.visit_parameters(
      [&](const std::string& name, auto& p) {
        add(name.c_str(), name.size() + 1);
        for (const index_t extent : p.value.shape()) {
          const auto e = static_cast<std::int64_t>(extent);
          add(&e, sizeof e);
        }
        using TensorT = std::decay_t<decltype(p.value)>;
        if constexpr (std::same_as<typename TensorT::value_type, float> &&
                      std::same_as<typename TensorT::policy, Cpu>) {
          const auto values = p.value.contiguous();  // host memory already: no copy
          add(values.data(), static_cast<std::size_t>(values.numel()) * sizeof(float));
        } else {
          const auto values = p.value.template cast<float>().to_vector();
          add(values.data(), values.size() * sizeof(float));
        }
      },
      "");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest.data(), &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

/// A model's identity in a provenance record: its name (a folder's or file's stem) and weights_sha256.
struct ModelIdentity {
  std::string name, sha256;

  [[nodiscard]] nlohmann::json to_json() const { return {{"name", name}, {"sha256", sha256}}; }
  /// The identity recorded under `key`; nullopt when the record has none.
  [[nodiscard]] static std::optional<ModelIdentity> recorded(const nlohmann::json& provenance, const char* key) {
    if (!provenance.is_object() || !provenance.contains(key)) return std::nullopt;
    const auto& j = provenance.at(key);
    if (!j.is_object() || !j.contains("sha256") || !j.at("sha256").is_string()) return std::nullopt;
    return ModelIdentity{j.value("name", std::string()), j.at("sha256").get<std::string>()};
  }
  /// "name (sha256 0123456789ab)": enough of the digest to tell two models apart in a message.
  [[nodiscard]] std::string describe() const { return fmt::format("'{}' (sha256 {})", name, sha256.substr(0, 12)); }
};

/// How a mismatch can be allowed on purpose: named in every mismatch message.
inline constexpr const char* kAllowMismatchHint = "allow_mismatch (gluegen --allow-mismatch) uses it anyway";

/// Throws ModelMismatchError when `file`'s provenance records under `key` a model other than `actual`
/// (the `role` it plays: "source encoder", ...). Nothing recorded: nothing to check.
inline void check_recorded_identity(const std::filesystem::path& file, const nlohmann::json& provenance,
                                    const char* key, const char* role, const ModelIdentity& actual) {
  const auto recorded = ModelIdentity::recorded(provenance, key);
  if (!recorded || recorded->sha256 == actual.sha256) return;
  GLUEGEN_THROW(ModelMismatchError, "'{}' was trained with the {} {}, not with {}; pass that one, or {}", file.string(),
                role, recorded->describe(), actual.describe(), kAllowMismatchHint);
}

/// The same for a recorded token length (`key`) against the one a caller uses (`flag` names its option).
inline void check_recorded_length(const std::filesystem::path& file, const nlohmann::json& provenance, const char* key,
                                  const char* flag, index_t actual) {
  if (!provenance.is_object() || !provenance.contains(key) || !provenance.at(key).is_number_integer()) return;
  const auto recorded = provenance.at(key).get<index_t>();
  GLUEGEN_CHECK_AS(ModelMismatchError, recorded == actual,
                   "'{}' was trained with {} tokens per prompt ({} {}), not {}; pass {} {}, or {}", file.string(),
                   recorded, flag, recorded, actual, flag, recorded, kAllowMismatchHint);
}

}  // namespace gluegen::io
