#pragma once
// SentencePiece tokenizers (Kudo & Richardson 2018): XLM-R, multilingual-e5, T5, mT5. The
// segmentation is libsentencepiece's own (Debian's libsentencepiece-dev), not a reimplementation;
// this class adds what Hugging Face puts around it: special-token text matched first, the
// post-processor's template (<s> ... </s> for XLM-R, ... </s> for T5), truncation and padding.
//
// Three sources:
//  - a SentencePiece .model file whose ids are the model's ids (T5's spiece.model);
//  - XLM-R's original fairseq-ordered sentencepiece.bpe.model (xlm-roberta, multilingual-e5 repos),
//    whose pieces are rewritten into the Hugging Face id order before libsentencepiece loads them:
//    <s> <pad> </s> <unk>, then every other piece one place later than in the file (fairseq's
//    offset), then <mask> (transformers' XLMRobertaTokenizer);
//  - a Hugging Face Unigram tokenizer.json, for checkpoints that ship only that (multilingual-e5
//    exports, XLM-R fast tokenizers). Its vocabulary, scores and Precompiled normaliser charsmap are
//    written into the ModelProto libsentencepiece reads, in tokenizer.json's id order, so the ids ARE
//    the Hugging Face ids (fairseq's XLM-R offset included) and nothing is remapped.
// Known differences from transformers' Rust tokenizers on the parity corpus (docs/text.md): combining
// sequences and conjoining Hangul jamo that SentencePiece's normaliser composes and tokenizers' does
// not, ties between equal-score segmentations of long repeats, and U+0085 (a piece for SentencePiece,
// whitespace for transformers).
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/core/json_config.hpp>
#include <gluegen/text/special_tokens.hpp>
#include <gluegen/text/token_batch.hpp>
#include <gluegen/text/unicode.hpp>

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gluegen::text {

/// What surrounds the pieces: the template's special tokens (empty: none) and the padding token.
struct SentencePieceOptions {
  std::vector<std::string> prefix{"<s>"}, suffix{"</s>"};
  std::string pad = "<pad>";
  /// Added-token text matched verbatim in the input (HF's special added tokens).
  std::vector<std::string> special_tokens{"<s>", "</s>", "<pad>", "<unk>", "<mask>"};
};

namespace detail {

/// Protocol-buffer wire format, just what a sentencepiece ModelProto needs (proto2; field numbers
/// from sentencepiece_model.proto).
struct ProtoWriter {
  std::string out;
  void varint(std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    out.push_back(static_cast<char>(v));
  }
  void key(int field, int wire) { varint(static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire)); }
  void integer(int field, std::int64_t v) {  // int32 fields: negative values as 10-byte two's complement
    key(field, 0);
    varint(static_cast<std::uint64_t>(v));
  }
  void bytes(int field, std::string_view b) {
    key(field, 2);
    varint(b.size());
    out.append(b);
  }
  void real(int field, float v) {
    key(field, 5);
    char raw[4];
    std::memcpy(raw, &v, 4);  // little-endian hosts only, as every target of this library
    out.append(raw, 4);
  }
};

/// The fields of one protocol-buffer message, in order: (field number, wire type, the raw bytes of a
/// length-delimited value or the value of a varint / fixed32). Truncation is an IoError naming `what`.
struct ProtoField {
  int field = 0, wire = 0;
  std::uint64_t number = 0;
  std::string_view bytes;
};
inline std::vector<ProtoField> read_proto(std::string_view in, const std::string& what) {
  std::vector<ProtoField> out;
  std::size_t at = 0;
  const auto varint = [&] {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      GLUEGEN_CHECK_AS(IoError, at < in.size() && shift < 64,
                       "'{}' is not a valid protocol buffer (a varint runs past byte {})", what, at);
      const auto byte = static_cast<unsigned char>(in[at++]);
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (byte < 0x80) return v;
    }
  };
  while (at < in.size()) {
    const std::uint64_t key = varint();
    ProtoField f;
    f.field = static_cast<int>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    const std::size_t start = at;
    std::size_t size = 0;
    if (f.wire == 0)
      f.number = varint();
    else if (f.wire == 2)
      size = static_cast<std::size_t>(varint());
    else if (f.wire == 5)
      size = 4;
    else if (f.wire == 1)
      size = 8;
    else
      GLUEGEN_THROW(IoError, "'{}' is not a valid protocol buffer (wire type {} at byte {})", what, f.wire, start);
    GLUEGEN_CHECK_AS(IoError, size <= in.size() - at,
                     "'{}' is truncated: field {} needs {} bytes at byte {}, {} remain", what, f.field, size, at,
                     in.size() - at);
    f.bytes = in.substr(at, size);
    at += size;
    out.push_back(f);
  }
  return out;
}

inline std::string base64_decode(std::string_view in, const std::string& what) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=')
      break;
    GLUEGEN_CHECK_AS(ValueError, v >= 0, "{}: invalid base64 character '{}'", what, c);
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

/// The flat list of a tokenizers "Sequence" node's members (or the node itself).
inline std::vector<nlohmann::json> flatten(const nlohmann::json& node, const char* members) {
  if (node.is_null()) return {};
  if (node.value("type", "") != "Sequence") return {node};
  std::vector<nlohmann::json> out;
  for (const auto& sub : node.value(members, nlohmann::json::array()))
    for (auto& n : flatten(sub, members)) out.push_back(std::move(n));
  return out;
}

}  // namespace detail

class SentencePieceTokenizer {
 public:
  /// From a serialized ModelProto (the bytes of a .model file); `origin` names it in errors.
  SentencePieceTokenizer(std::string_view serialized_model, SentencePieceOptions options, std::string origin)
      : opt_(std::move(options)), origin_(std::move(origin)) {
    auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
    sentencepiece::util::Status status;
    try {
      status = sp->LoadFromSerializedProto(serialized_model);
    } catch (const std::exception& e) {  // its double-array trie builder throws on some malformed vocabularies
      GLUEGEN_THROW(IoError, "'{}' is not a SentencePiece model libsentencepiece can load: {}", origin_, e.what());
    }
    sp_ = std::move(sp);
    GLUEGEN_CHECK_AS(IoError, status.ok(), "'{}' is not a SentencePiece model libsentencepiece can load: {}", origin_,
                     status.ToString());
    for (const auto* list : {&opt_.prefix, &opt_.suffix})
      for (const std::string& t : *list) static_cast<void>(required_id(t));
    pad_id_ = required_id(opt_.pad);
    std::erase_if(opt_.special_tokens, [&](const std::string& t) {
      return t.empty() || (sp_->PieceToId(t) == sp_->unk_id() && t != unk_piece());
    });
  }

  /// A .model file whose ids are the model's ids (T5 / mT5 spiece.model: `options` = {.prefix = {}}).
  static SentencePieceTokenizer from_model_file(const std::filesystem::path& path, SentencePieceOptions options) {
    return SentencePieceTokenizer(read_file_bytes(path, "SentencePiece model"), std::move(options), path.string());
  }

  /// A Hugging Face tokenizer.json with a Unigram model, a Precompiled normaliser and a Metaspace
  /// pre-tokenizer; the template and the special tokens come from the file.
  static SentencePieceTokenizer from_hf_tokenizer_json(const std::filesystem::path& path) {
    return from_hf_tokenizer_json_text(read_file_bytes(path, "tokenizer.json"), path.string());
  }

  /// The same from the file's text; `origin` names it in errors.
  static SentencePieceTokenizer from_hf_tokenizer_json_text(std::string_view json_text, const std::string& origin) {
    const nlohmann::json j = parse_json(json_text, origin);
    try {
      return SentencePieceTokenizer(unigram_model_proto(j, origin), hf_options(j, origin), origin);
    } catch (const nlohmann::json::exception& e) {  // a member of the wrong type or missing ("sep": 5)
      GLUEGEN_THROW(IoError, "'{}' is not a tokenizer.json gluegen can read: {}", origin, e.what());
    }
  }

  [[nodiscard]] index_t vocab_size() const { return sp_->GetPieceSize(); }
  [[nodiscard]] std::int32_t id(const std::string& piece) const { return sp_->PieceToId(piece); }
  [[nodiscard]] const std::string& token(std::int32_t id) const {
    GLUEGEN_CHECK_AS(ValueError, id >= 0 && id < sp_->GetPieceSize(),
                     "SentencePieceTokenizer: id {} is outside [0, {}) of '{}'", id, sp_->GetPieceSize(), origin_);
    return sp_->IdToPiece(id);
  }
  [[nodiscard]] std::int32_t pad_id() const noexcept { return pad_id_; }
  /// XLM-R's fairseq-ordered sentencepiece.bpe.model (pieces <unk> <s> </s> ..., see the top of this
  /// file), with XLM-R's template <s> ... </s>: ids equal transformers' XLMRobertaTokenizer's.
  static SentencePieceTokenizer from_fairseq_model_file(const std::filesystem::path& path) {
    return SentencePieceTokenizer(fairseq_to_hf_order(read_file_bytes(path, "SentencePiece model"), path.string()),
                                  SentencePieceOptions{}, path.string());
  }

  [[nodiscard]] const SentencePieceOptions& options() const noexcept { return opt_; }

  /// The pieces' ids of `text`, special-token text kept whole. Invalid UTF-8 is a ValueError.
  [[nodiscard]] std::vector<std::int32_t> pieces(std::string_view text) const {
    static_cast<void>(decode_utf8(text));  // validates; libsentencepiece would silently substitute U+FFFD
    std::vector<std::int32_t> ids;
    std::vector<int> part_ids;
    split_special_tokens(
        text, opt_.special_tokens,
        [&](std::string_view part) {
          if (part.empty()) return;
          const auto status = sp_->Encode(part, &part_ids);
          GLUEGEN_CHECK_AS(ValueError, status.ok(), "SentencePieceTokenizer ('{}'): {}", origin_, status.ToString());
          ids.insert(ids.end(), part_ids.begin(), part_ids.end());
        },
        [&](const std::string& special) { ids.push_back(sp_->PieceToId(special)); });
    return ids;
  }

  /// Ids with the template's special tokens; max_length > 0 truncates the pieces so that the whole
  /// sequence fits (transformers' truncation=True, max_length).
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true,
                                                 index_t max_length = 0) const {
    std::vector<std::int32_t> ids = pieces(text);
    const auto specials = add_special_tokens ? static_cast<index_t>(opt_.prefix.size() + opt_.suffix.size()) : 0;
    if (max_length > 0) {
      GLUEGEN_CHECK_AS(ValueError, max_length >= specials,
                       "SentencePieceTokenizer: max_length {} leaves no room for the {} special tokens", max_length,
                       specials);
      if (static_cast<index_t>(ids.size()) > max_length - specials)
        ids.resize(static_cast<std::size_t>(max_length - specials));
    }
    if (!add_special_tokens) return ids;
    std::vector<std::int32_t> out;
    out.reserve(ids.size() + static_cast<std::size_t>(specials));
    for (const std::string& t : opt_.prefix) out.push_back(sp_->PieceToId(t));
    out.insert(out.end(), ids.begin(), ids.end());
    for (const std::string& t : opt_.suffix) out.push_back(sp_->PieceToId(t));
    return out;
  }

  /// A padded batch (to the longest sentence, or to max_length with pad_to_max_length).
  [[nodiscard]] TokenBatch encode_batch(const std::vector<std::string>& texts, index_t max_length = 0,
                                        bool pad_to_max_length = false) const {
    std::vector<std::vector<std::int32_t>> seqs;
    seqs.reserve(texts.size());
    for (const auto& t : texts) seqs.push_back(encode(t, true, max_length));
    return TokenBatch::pad(seqs, pad_id_, pad_to_max_length ? max_length : 0);
  }

  /// Text of ids (special tokens dropped), as libsentencepiece decodes it.
  [[nodiscard]] std::string decode(const std::vector<std::int32_t>& ids) const {
    std::vector<int> kept;
    for (const std::int32_t i : ids)
      if (static_cast<void>(token(i)), i != pad_id_ && !sp_->IsControl(i)) kept.push_back(i);  // token() range-checks
    std::string text;
    const auto status = sp_->Decode(kept, &text);
    GLUEGEN_CHECK_AS(ValueError, status.ok(), "SentencePieceTokenizer ('{}'): {}", origin_, status.ToString());
    return text;
  }

  /// The serialized ModelProto for a Unigram tokenizer.json (see the top of this file): every
  /// vocabulary entry with its score, typed UNKNOWN (model.unk_id), CONTROL (the template's and the
  /// pad special tokens, which never match text), USER_DEFINED (other special added tokens such as
  /// <mask> or T5's <extra_id_*>) or NORMAL; trainer_spec UNIGRAM with the special ids; normalizer_spec
  /// "nmt_nfkc" with the Precompiled charsmap, add_dummy_prefix from the Metaspace pre-tokenizer and
  /// remove_extra_whitespaces when the normaliser collapses runs of spaces.
  static std::string unigram_model_proto(const nlohmann::json& j, const std::string& origin) {
    const nlohmann::json model = j.value("model", nlohmann::json::object());
    GLUEGEN_CHECK_AS(
        ValueError, model.value("type", "") == "Unigram",
        "'{}': the model type is '{}'; only Unigram tokenizers (XLM-R, T5, mT5, e5) are SentencePiece models", origin,
        model.value("type", "none"));
    const nlohmann::json vocab = model.value("vocab", nlohmann::json::array());
    GLUEGEN_CHECK_AS(ValueError, vocab.is_array() && !vocab.empty(),
                     "'{}': model.vocab is not a non-empty list of [piece, score]", origin);
    const nlohmann::json unk = model.value("unk_id", nlohmann::json());
    GLUEGEN_CHECK_AS(
        ValueError, unk.is_number_integer() && unk.get<std::int64_t>() >= 0 && unk.get<std::size_t>() < vocab.size(),
        "'{}': model.unk_id {} is not an index of the {}-piece vocabulary", origin, unk.dump(), vocab.size());
    const auto unk_id = unk.get<std::size_t>();

    std::optional<std::string> charsmap;
    bool remove_extra = false;
    for (const auto& n : detail::flatten(j.value("normalizer", nlohmann::json()), "normalizers")) {
      if (n.value("type", "") == "Precompiled")
        charsmap = detail::base64_decode(n.value("precompiled_charsmap", ""), origin + " precompiled_charsmap");
      if (n.value("type", "") == "Replace" &&
          n.value("pattern", nlohmann::json::object()).value("Regex", "") == " {2,}")
        remove_extra = true;
    }
    GLUEGEN_CHECK_AS(ValueError, charsmap.has_value(),
                     "'{}': no Precompiled normaliser (SentencePiece's normalisation charsmap)", origin);
    std::optional<nlohmann::json> metaspace;
    for (const auto& p : detail::flatten(j.value("pre_tokenizer", nlohmann::json()), "pretokenizers"))
      if (p.value("type", "") == "Metaspace") metaspace = p;
    GLUEGEN_CHECK_AS(ValueError, metaspace.has_value(),
                     "'{}': no Metaspace pre-tokenizer (SentencePiece's whitespace handling)", origin);
    GLUEGEN_CHECK_AS(ValueError, metaspace->value("replacement", "\u2581") == "\u2581",
                     "'{}': the Metaspace replacement is not U+2581", origin);
    const bool add_dummy_prefix = metaspace->value("prepend_scheme", metaspace->value("add_prefix_space", true)
                                                                         ? std::string("always")
                                                                         : std::string("never")) != "never";

    const SentencePieceOptions opt = hf_options(j, origin);
    std::vector<std::string> control = opt.prefix;
    control.insert(control.end(), opt.suffix.begin(), opt.suffix.end());
    control.push_back(opt.pad);
    const auto is_in = [](const std::vector<std::string>& v, const std::string& s) {
      return std::find(v.begin(), v.end(), s) != v.end();
    };
    enum : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4 };
    detail::ProtoWriter proto;
    for (std::size_t i = 0; i < vocab.size(); ++i) {
      const auto& entry = vocab[i];
      GLUEGEN_CHECK_AS(ValueError,
                       entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_number(),
                       "'{}': model.vocab[{}] is not [piece, score]", origin, i);
      const auto piece = entry[0].get<std::string>();
      const int kind = i == unk_id                        ? kUnknown
                       : is_in(control, piece)            ? kControl
                       : is_in(opt.special_tokens, piece) ? kUserDefined
                                                          : kNormal;
      detail::ProtoWriter p;
      p.bytes(1, piece);
      p.real(2, entry[1].get<float>());
      if (kind != kNormal) p.integer(3, kind);
      proto.bytes(1, p.out);
    }
    const auto id_of = [&](const std::vector<std::string>& names) -> std::int64_t {
      for (std::size_t i = 0; i < vocab.size(); ++i)
        if (!names.empty() && vocab[i][0] == names.front()) return static_cast<std::int64_t>(i);
      return -1;
    };
    detail::ProtoWriter trainer;
    trainer.integer(3, 1);  // model_type UNIGRAM
    trainer.integer(4, static_cast<std::int64_t>(vocab.size()));
    trainer.integer(40, static_cast<std::int64_t>(unk_id));
    trainer.integer(41, id_of(opt.prefix));
    trainer.integer(42, id_of(opt.suffix));
    trainer.integer(43, id_of({opt.pad}));
    trainer.bytes(45, vocab[unk_id][0].get<std::string>());
    trainer.bytes(46, opt.prefix.empty() ? "<s>" : opt.prefix.front());
    trainer.bytes(47, opt.suffix.empty() ? "</s>" : opt.suffix.front());
    trainer.bytes(48, opt.pad);
    detail::ProtoWriter normalizer;
    normalizer.bytes(1, "nmt_nfkc");
    normalizer.bytes(2, *charsmap);
    normalizer.integer(3, add_dummy_prefix);
    normalizer.integer(4, remove_extra);
    normalizer.integer(5, 1);  // escape_whitespaces
    proto.bytes(2, trainer.out);
    proto.bytes(3, normalizer.out);
    return std::move(proto.out);
  }

 private:
  /// The ModelProto of a fairseq-ordered model with its pieces in Hugging Face order: <s>, <pad>, </s>
  /// (control), <unk> (unknown), the file's pieces from its fourth on, <mask> (user-defined, id = the
  /// file's size + 1). The trainer spec's special ids are overridden (proto2: the last value of a field
  /// wins); the self-test samples are dropped (they were made for the file's ids).
  static std::string fairseq_to_hf_order(const std::string& model, const std::string& origin) {
    enum : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4 };
    std::vector<detail::ProtoField> pieces, rest;
    for (const auto& f : detail::read_proto(model, origin)) (f.field == 1 && f.wire == 2 ? pieces : rest).push_back(f);
    const auto piece_text = [&](const detail::ProtoField& f) {
      for (const auto& sub : detail::read_proto(f.bytes, origin))
        if (sub.field == 1 && sub.wire == 2) return std::string(sub.bytes);
      return std::string();
    };
    GLUEGEN_CHECK_AS(ValueError,
                     pieces.size() > 3 && piece_text(pieces[0]) == "<unk>" && piece_text(pieces[1]) == "<s>" &&
                         piece_text(pieces[2]) == "</s>",
                     "'{}' is not fairseq-ordered (pieces 0, 1, 2 must be <unk>, <s>, </s>; found {} pieces{})", origin,
                     pieces.size(),
                     pieces.size() >= 3 ? fmt::format(": '{}', '{}', '{}'", piece_text(pieces[0]),
                                                      piece_text(pieces[1]), piece_text(pieces[2]))
                                        : "");
    detail::ProtoWriter proto;
    const auto special = [&](const char* text, int kind) {
      detail::ProtoWriter p;
      p.bytes(1, text);
      p.real(2, 0.0f);
      p.integer(3, kind);
      proto.bytes(1, p.out);
    };
    special("<s>", kControl);
    special("<pad>", kControl);
    special("</s>", kControl);
    proto.bytes(1, pieces[0].bytes);  // <unk>, typed UNKNOWN in the file
    for (std::size_t i = 3; i < pieces.size(); ++i) proto.bytes(1, pieces[i].bytes);
    special("<mask>", kUserDefined);
    for (const auto& f : rest) {
      if (f.field == 4) continue;         // self_test_data
      if (f.field == 2 && f.wire == 2) {  // trainer_spec: unk_id 3, bos_id 0, eos_id 2, pad_id 1
        detail::ProtoWriter trainer;
        trainer.out.assign(f.bytes);
        for (const auto& [field, id] : {std::pair{40, 3}, {41, 0}, {42, 2}, {43, 1}}) trainer.integer(field, id);
        proto.bytes(2, trainer.out);
      } else if (f.wire == 2) {
        proto.bytes(f.field, f.bytes);
      } else {
        GLUEGEN_THROW(IoError, "'{}': unexpected top-level field {} (wire type {}) in a SentencePiece model", origin,
                      f.field, f.wire);
      }
    }
    return std::move(proto.out);
  }

  /// Template, pad and special tokens of a tokenizer.json (post_processor TemplateProcessing or
  /// RobertaProcessing; pad "<pad>" when the vocabulary has it).
  static SentencePieceOptions hf_options(const nlohmann::json& j, const std::string& origin) {
    SentencePieceOptions opt{.prefix = {}, .suffix = {}, .pad = "<pad>", .special_tokens = {}};
    for (const auto& t : j.value("added_tokens", nlohmann::json::array()))
      if (t.value("special", false) && t.contains("content"))
        opt.special_tokens.push_back(t["content"].get<std::string>());
    const nlohmann::json post = j.value("post_processor", nlohmann::json());
    for (const auto& p : detail::flatten(post, "processors")) {
      const std::string type = p.value("type", "");
      if (type == "TemplateProcessing") {
        bool seen_sequence = false;
        for (const auto& piece : p.value("single", nlohmann::json::array())) {
          if (piece.contains("Sequence"))
            seen_sequence = true;
          else if (piece.contains("SpecialToken"))
            (seen_sequence ? opt.suffix : opt.prefix).push_back(piece["SpecialToken"].value("id", ""));
        }
      } else if (type == "RobertaProcessing" || type == "BertProcessing") {
        opt.prefix = {p.at("cls").at(0).get<std::string>()};
        opt.suffix = {p.at("sep").at(0).get<std::string>()};
      } else if (!type.empty() && type != "ByteLevel") {
        GLUEGEN_THROW(
            ValueError,
            "'{}': post_processor type '{}' is not supported (TemplateProcessing, RobertaProcessing, BertProcessing)",
            origin, type);
      }
    }
    const auto vocab = j.value("model", nlohmann::json::object()).value("vocab", nlohmann::json::array());
    const bool has_pad = std::any_of(vocab.begin(), vocab.end(), [](const nlohmann::json& e) {
      return e.is_array() && !e.empty() && e[0] == "<pad>";
    });
    GLUEGEN_CHECK_AS(ValueError, has_pad, "'{}': the vocabulary has no <pad> piece to pad batches with", origin);
    return opt;
  }

  [[nodiscard]] std::string unk_piece() const { return sp_->IdToPiece(sp_->unk_id()); }

  std::int32_t required_id(const std::string& piece) const {
    const int id = sp_->PieceToId(piece);
    GLUEGEN_CHECK_AS(ValueError, id != sp_->unk_id() || piece == unk_piece(),
                     "SentencePieceTokenizer: '{}' has no piece '{}'", origin_, piece);
    return id;
  }

  // shared and const: the loaded processor is immutable (encoding is const), and it is neither
  // copyable nor movable itself
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp_;
  SentencePieceOptions opt_;
  std::string origin_;
  std::int32_t pad_id_ = 0;
};

}  // namespace gluegen::text
