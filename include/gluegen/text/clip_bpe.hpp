#pragma once
// CLIP's byte-level BPE tokenizer (Radford et al. 2021; the conditioning tokenizer of Stable
// Diffusion 1.x / 2.x) as transformers' CLIPTokenizer runs it (the Rust pipeline):
//   1. normalise: NFC, every run of White_Space -> one space, full lower-casing
//   2. pre-tokenise with CLIP's pattern, dropping what it does not match (whitespace):
//        's | 't | 're | 've | 'm | 'll | 'd | \p{L}+ | \p{N} | [^\s\p{L}\p{N}]+
//      (one digit per word); each word's UTF-8 bytes become GPT-2's printable byte characters
//   3. BPE per word (Sennrich et al. 2016): "</w>" is appended to the word's last symbol, then the
//      adjacent pair with the lowest merge rank is merged until none is in the merge table
//   4. <|startoftext|> ... <|endoftext|>, truncated to max_length (77 for every CLIP text encoder);
//      padded with the model's pad token (<|endoftext|> for SD 1.x, "!" for SD 2.x)
// Special-token text in the input is matched verbatim first. The vocabulary comes from OpenAI's
// merge list (bpe_simple_vocab_16e6.txt.gz, as open_clip ships it; the vocabulary is derived from it
// exactly as CLIP's SimpleTokenizer does) or from a Hugging Face folder's vocab.json + merges.txt.
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/text/special_tokens.hpp>
#include <gluegen/text/token_batch.hpp>
#include <gluegen/text/unicode.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace gluegen::text {

struct ClipBpeOptions {
  std::string bos = "<|startoftext|>", eos = "<|endoftext|>", pad = "<|endoftext|>", unk = "<|endoftext|>";
};

class ClipBpeTokenizer {
 public:
  using Merge = std::pair<std::string, std::string>;

  /// From a vocabulary (piece -> id) and the merge list in rank order.
  ClipBpeTokenizer(std::unordered_map<std::string, std::int32_t> vocab, const std::vector<Merge>& merges,
                   ClipBpeOptions options, std::string origin)
      : vocab_(std::move(vocab)), opt_(std::move(options)), origin_(std::move(origin)) {
    GLUEGEN_CHECK_AS(ValueError, !vocab_.empty() && !merges.empty(),
                     "ClipBpeTokenizer ('{}'): empty vocabulary or merge list", origin_);
    for (std::size_t r = 0; r < merges.size(); ++r)
      ranks_.emplace(merges[r].first + ' ' + merges[r].second, static_cast<std::int32_t>(r));
    tokens_.resize(vocab_.size());
    for (const auto& [piece, id] : vocab_) {
      GLUEGEN_CHECK_AS(ValueError, id >= 0 && static_cast<std::size_t>(id) < vocab_.size(),
                       "ClipBpeTokenizer ('{}'): id {} of '{}' is not in [0, {})", origin_, id, piece, vocab_.size());
      tokens_[static_cast<std::size_t>(id)] = piece;
    }
    for (const std::string* special : {&opt_.bos, &opt_.eos, &opt_.pad, &opt_.unk}) {
      GLUEGEN_CHECK_AS(ValueError, vocab_.contains(*special),
                       "ClipBpeTokenizer ('{}'): the vocabulary ({} pieces) has no '{}'", origin_, vocab_.size(),
                       *special);
      if (std::find(specials_.begin(), specials_.end(), *special) == specials_.end()) specials_.push_back(*special);
    }
    const auto chars = byte_characters();
    for (int b = 0; b < 256; ++b)
      byte_text_[static_cast<std::size_t>(b)] = encode_utf8(std::u32string(1, chars[static_cast<std::size_t>(b)]));
  }

  /// OpenAI's merge list (bpe_simple_vocab_16e6.txt[.gz]): the first 48,894 merges after the version
  /// line; vocabulary = the 256 byte characters, the same with "</w>", the merged pairs, then
  /// <|startoftext|> and <|endoftext|> (49,408 pieces).
  static ClipBpeTokenizer from_openai_merges(const std::filesystem::path& path, ClipBpeOptions options = {}) {
    constexpr std::size_t kMerges = 49152 - 256 - 2;
    std::istringstream in(read_gzip_file_bytes(path, "CLIP BPE merge list"));
    std::string line;
    std::getline(in, line);  // "bpe_simple_vocab_16e6.txt#version: 0.2"
    std::vector<Merge> merges;
    while (merges.size() < kMerges && std::getline(in, line))
      merges.push_back(parse_merge(line, path, merges.size() + 2));
    GLUEGEN_CHECK_AS(ValueError, merges.size() == kMerges, "'{}' has {} merges; CLIP's list has at least {}",
                     path.string(), merges.size(), kMerges);
    std::unordered_map<std::string, std::int32_t> vocab;
    const auto add = [&](const std::string& piece) { vocab.emplace(piece, static_cast<std::int32_t>(vocab.size())); };
    auto chars = byte_characters();
    std::sort(chars.begin(), chars.end());  // CLIP's order: the printable bytes (themselves) first, then U+0100...
    for (const char32_t c : chars) add(encode_utf8(std::u32string(1, c)));
    for (const char32_t c : chars) add(encode_utf8(std::u32string(1, c)) + "</w>");
    for (const auto& [a, b] : merges) add(a + b);
    add("<|startoftext|>");
    add("<|endoftext|>");
    return ClipBpeTokenizer(std::move(vocab), merges, std::move(options), path.string());
  }

  /// A Hugging Face CLIP tokenizer folder's vocab.json and merges.txt.
  static ClipBpeTokenizer from_hf_files(const std::filesystem::path& vocab_json,
                                        const std::filesystem::path& merges_txt, ClipBpeOptions options = {}) {
    std::unordered_map<std::string, std::int32_t> vocab;
    try {
      const auto j = nlohmann::json::parse(read_file_bytes(vocab_json, "vocab.json"));  // named: items() only views it
      GLUEGEN_CHECK_AS(IoError, j.is_object(), "'{}' is not a JSON object of piece -> id", vocab_json.string());
      for (const auto& [piece, id] : j.items()) {
        // checked first: the JSON library converts 1e22 to an int32 without a range check (undefined behaviour)
        GLUEGEN_CHECK_AS(IoError,
                         id.is_number_integer() && id.get<std::int64_t>() >= 0 &&
                             id.get<std::int64_t>() <= std::numeric_limits<std::int32_t>::max(),
                         "'{}': the id of piece '{}' is {}, not a whole number in [0, 2^31)", vocab_json.string(),
                         piece, id.dump());
        vocab.emplace(piece, static_cast<std::int32_t>(id.get<std::int64_t>()));
      }
    } catch (const nlohmann::json::exception& e) {
      GLUEGEN_THROW(IoError, "'{}' is not a JSON object of piece -> id: {}", vocab_json.string(), e.what());
    }
    std::istringstream in(read_file_bytes(merges_txt, "merges.txt"));
    std::vector<Merge> merges;
    std::size_t line_no = 0;
    for (std::string line; std::getline(in, line);)
      if (++line_no > 1 || !line.starts_with("#version")) merges.push_back(parse_merge(line, merges_txt, line_no));
    return ClipBpeTokenizer(std::move(vocab), merges, std::move(options), vocab_json.string());
  }

  [[nodiscard]] index_t vocab_size() const noexcept { return static_cast<index_t>(tokens_.size()); }
  [[nodiscard]] std::int32_t id(const std::string& piece) const {
    const auto it = vocab_.find(piece);
    return it == vocab_.end() ? vocab_.at(opt_.unk) : it->second;
  }
  [[nodiscard]] const std::string& token(std::int32_t id) const {
    GLUEGEN_CHECK_AS(ValueError, id >= 0 && static_cast<std::size_t>(id) < tokens_.size(),
                     "ClipBpeTokenizer: id {} is outside [0, {}) of '{}'", id, tokens_.size(), origin_);
    return tokens_[static_cast<std::size_t>(id)];
  }
  [[nodiscard]] std::int32_t pad_id() const { return vocab_.at(opt_.pad); }

  /// The BPE pieces of `text` (special-token text kept whole). Invalid UTF-8 is a ValueError.
  [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::string> out;
    split_special_tokens(
        text, specials_,
        [&](std::string_view part) {
          for (const std::string& word : pre_tokenize(normalize(part))) bpe(word, out);
        },
        [&](const std::string& special) { out.push_back(special); });
    return out;
  }

  /// Ids with <|startoftext|> ... <|endoftext|>; max_length > 0 truncates (the specials included).
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true,
                                                 index_t max_length = 0) const {
    std::vector<std::int32_t> ids;
    for (const auto& piece : tokenize(text)) ids.push_back(id(piece));
    const index_t specials = add_special_tokens ? 2 : 0;
    if (max_length > 0) {
      GLUEGEN_CHECK_AS(ValueError, max_length >= specials,
                       "ClipBpeTokenizer: max_length {} leaves no room for the special tokens", max_length);
      if (static_cast<index_t>(ids.size()) > max_length - specials)
        ids.resize(static_cast<std::size_t>(max_length - specials));
    }
    if (add_special_tokens) {
      ids.insert(ids.begin(), vocab_.at(opt_.bos));
      ids.push_back(vocab_.at(opt_.eos));
    }
    return ids;
  }

  /// A padded batch (to the longest sentence, or to max_length with pad_to_max_length: Stable
  /// Diffusion pads every prompt to 77).
  [[nodiscard]] TokenBatch encode_batch(const std::vector<std::string>& texts, index_t max_length = 0,
                                        bool pad_to_max_length = false) const {
    std::vector<std::vector<std::int32_t>> seqs;
    seqs.reserve(texts.size());
    for (const auto& t : texts) seqs.push_back(encode(t, true, max_length));
    return TokenBatch::pad(seqs, pad_id(), pad_to_max_length ? max_length : 0);
  }

 private:
  static Merge parse_merge(const std::string& line, const std::filesystem::path& path, std::size_t line_no) {
    const std::size_t space = line.find(' ');
    GLUEGEN_CHECK_AS(ValueError,
                     space != std::string::npos && space > 0 && space + 1 < line.size() &&
                         line.find(' ', space + 1) == std::string::npos,
                     "'{}' line {}: '{}' is not a merge \"A B\"", path.string(), line_no, line);
    return {line.substr(0, space), line.substr(space + 1)};
  }

  /// GPT-2's reversible byte -> printable character map: printable Latin-1 bytes stand for
  /// themselves, the others for U+0100 onwards in byte order.
  static std::array<char32_t, 256> byte_characters() {
    std::array<char32_t, 256> out{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      out[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return out;
  }

  static std::u32string normalize(std::string_view text) {
    std::u32string out;
    bool in_space = false;
    for (const char32_t c : decode_utf8(nfc(text))) {
      if (is_white_space(c)) {
        if (!in_space) out.push_back(U' ');
        in_space = true;
        continue;
      }
      in_space = false;
      append_lower(out, c);
    }
    return out;
  }

  static bool is_letter(char32_t c) {
    const auto k = category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
  }
  static bool is_number(char32_t c) {
    const auto k = category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
  }

  /// CLIP's pattern, leftmost alternative first at each position; unmatched characters (whitespace) are dropped.
  static std::vector<std::string> pre_tokenize(const std::u32string& s) {
    static const std::array<std::u32string_view, 7> contractions{U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
      std::size_t len = 0;
      for (const auto c : contractions)
        if (s.compare(i, c.size(), c) == 0) {
          len = c.size();
          break;
        }
      if (len == 0 && is_letter(s[i]))
        while (i + len < s.size() && is_letter(s[i + len])) ++len;
      if (len == 0 && is_number(s[i])) len = 1;
      if (len == 0 && !is_white_space(s[i]))
        while (i + len < s.size() && !is_white_space(s[i + len]) && !is_letter(s[i + len]) && !is_number(s[i + len]))
          ++len;
      if (len == 0) {
        ++i;  // whitespace: not part of any word
        continue;
      }
      words.push_back(encode_utf8(s.substr(i, len)));
      i += len;
    }
    return words;
  }

  /// Merges one word's byte characters by rank and appends the pieces.
  void bpe(const std::string& word, std::vector<std::string>& out) const {
    std::vector<std::string> symbols;
    for (const unsigned char b : word) symbols.push_back(byte_text_[b]);
    symbols.back() += "</w>";
    while (symbols.size() > 1) {
      std::int32_t best = std::numeric_limits<std::int32_t>::max();
      std::size_t at = 0;
      for (std::size_t k = 0; k + 1 < symbols.size(); ++k) {
        const auto it = ranks_.find(symbols[k] + ' ' + symbols[k + 1]);
        if (it != ranks_.end() && it->second < best) {
          best = it->second;
          at = k;
        }
      }
      if (best == std::numeric_limits<std::int32_t>::max()) break;
      symbols[at] += symbols[at + 1];
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    out.insert(out.end(), symbols.begin(), symbols.end());
  }

  std::unordered_map<std::string, std::int32_t> vocab_;
  std::unordered_map<std::string, std::int32_t> ranks_;  ///< "A B" -> merge rank
  std::vector<std::string> tokens_;
  std::array<std::string, 256> byte_text_;
  std::vector<std::string> specials_;
  ClipBpeOptions opt_;
  std::string origin_;
};

}  // namespace gluegen::text
