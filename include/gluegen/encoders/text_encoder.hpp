#pragma once
// A pretrained text encoder as users have it: a Hugging Face model folder (config.json,
// model.safetensors, vocab.txt, tokenizer_config.json), loaded without Python. Tokenizes, pads or
// truncates to a fixed length (a GlueGen aligner sees fixed token lengths: 77 for CLIP-like targets,
// 128 for XLM-R-like sources) and returns token features, mask and pooled vectors.
// Supported now: the BERT family with a WordPiece vocabulary (BERT, MiniLM, e.g. all-MiniLM-L6-v2).
#include <gluegen/encoders/bert.hpp>
#include <gluegen/io/safetensors.hpp>
#include <gluegen/text/wordpiece.hpp>

#include <filesystem>
#include <fstream>

namespace gluegen::encoders {

template <ComputeElement T = float, TensorPolicy P = Cpu>
class HfTextEncoder {
 public:
  explicit HfTextEncoder(const std::filesystem::path& dir)
      : dir_(dir), encoder_(BertConfig::from_json(read_json(dir / "config.json"))), tokenizer_(make_tokenizer(dir)) {
    GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::exists(dir / "model.safetensors"),
                     "'{}' has no model.safetensors (convert .bin checkpoints with tools/convert_hf.py)", dir.string());
    load_bert_weights(encoder_, io::SafetensorsReader(dir / "model.safetensors"));
  }

  /// The folder's name, recorded in feature shards as the encoder's identity.
  [[nodiscard]] std::string name() const { return dir_.filename().string(); }
  [[nodiscard]] index_t width() const noexcept { return encoder_.config().hidden_size; }
  [[nodiscard]] const text::WordPieceTokenizer& tokenizer() const noexcept { return tokenizer_; }

  /// texts -> features [B, length, D] with mask [B, length]: [CLS] ... [SEP] truncated to `length`,
  /// right-padded to it.
  EncoderOutput<T, P> encode(const std::vector<std::string>& texts, index_t length) {
    GLUEGEN_CHECK_AS(ValueError, length >= 2 && length <= encoder_.config().max_position_embeddings,
                     "HfTextEncoder: length {} must be in [2, {}] for '{}'", length, encoder_.config().max_position_embeddings, name());
    const text::TokenBatch batch = tokenizer_.encode_batch(texts, length, true);
    return encoder_.forward(batch.input_ids, batch.attention_mask, cache_);
  }

 private:
  static nlohmann::json read_json(const std::filesystem::path& path) {
    std::ifstream in(path);
    GLUEGEN_CHECK_AS(FileNotFoundError, in.good(), "'{}' does not exist (a Hugging Face model folder needs it)", path.string());
    try {
      return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(IoError, "'{}' is not valid JSON: {}", path.string(), e.what());
    }
  }

  static text::WordPieceTokenizer make_tokenizer(const std::filesystem::path& dir) {
    text::WordPieceOptions opt;
    if (std::filesystem::exists(dir / "tokenizer_config.json")) {
      const nlohmann::json cfg = read_json(dir / "tokenizer_config.json");
      opt.lowercase = cfg.value("do_lower_case", true);
      if (cfg.contains("strip_accents") && cfg["strip_accents"].is_boolean()) opt.strip_accents = cfg["strip_accents"].get<bool>();
      opt.handle_chinese_chars = cfg.value("tokenize_chinese_chars", true);
      for (auto [key, field] : {std::pair{"unk_token", &opt.unk}, {"cls_token", &opt.cls}, {"sep_token", &opt.sep}, {"pad_token", &opt.pad}, {"mask_token", &opt.mask}})
        if (cfg.contains(key) && cfg[key].is_string()) *field = cfg[key].template get<std::string>();
    }
    GLUEGEN_CHECK_AS(FileNotFoundError, std::filesystem::exists(dir / "vocab.txt"),
                     "'{}' has no vocab.txt: only WordPiece (BERT-family) tokenizers are supported so far", dir.string());
    return text::WordPieceTokenizer::from_file(dir / "vocab.txt", opt);
  }

  std::filesystem::path dir_;
  BertEncoder<T, P> encoder_;
  text::WordPieceTokenizer tokenizer_;
  typename BertEncoder<T, P>::Cache cache_;
};

}  // namespace gluegen::encoders
