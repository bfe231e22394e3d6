#pragma once
// BERT's WordPiece tokenizer (Wu et al. 2016; Devlin et al. 2019) as Hugging Face's fast
// BertTokenizer runs it (tokenizers' BertNormalizer, BertPreTokenizer, WordPiece model):
//   1. normalise: drop NUL, U+FFFD and control/format/unassigned characters (Unicode C*, except tab,
//      newline, carriage return); map White_Space characters to ' '; put spaces around CJK
//      ideographs; optionally strip accents (NFD, drop Mn) and lower-case (full mapping)
//   2. split on whitespace, and isolate each punctuation character (ASCII punctuation or Unicode P*)
//   3. per word: longer than max_input_chars_per_word -> [UNK]; else greedy longest-match-first
//      pieces, continuations prefixed "##"; a word with an unmatched remainder is one [UNK]
//   4. [CLS] ... [SEP], truncated to max_length
// Special-token text in the input ("[SEP]", "[MASK]") is matched verbatim first, as HF's added tokens.
// Parity with transformers on real vocabularies (all-MiniLM-L6-v2) is tested on a multi-script set.
#include <gluegen/core/file_bytes.hpp>
#include <gluegen/text/special_tokens.hpp>
#include <gluegen/text/token_batch.hpp>
#include <gluegen/text/unicode.hpp>

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace gluegen::text {

struct WordPieceOptions {
  bool lowercase = true;                ///< tokenizer_config.json do_lower_case
  std::optional<bool> strip_accents{};  ///< default: as lowercase (HF)
  bool handle_chinese_chars = true;
  index_t max_input_chars_per_word = 100;
  std::string unk = "[UNK]", cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", mask = "[MASK]", continuing_prefix = "##";
};

class WordPieceTokenizer {
 public:
  /// From vocab.txt's text: one token per line, the id is the line number.
  WordPieceTokenizer(const std::string& vocab_text, WordPieceOptions options) : opt_(std::move(options)) {
    std::istringstream in(vocab_text);
    std::string line;
    for (std::int32_t id = 0; std::getline(in, line); ++id) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      vocab_.emplace(line, id);
      tokens_.push_back(line);
    }
    GLUEGEN_CHECK_AS(ValueError, !tokens_.empty(), "WordPieceTokenizer: the vocabulary is empty");
    for (const std::string* special : {&opt_.unk, &opt_.cls, &opt_.sep, &opt_.pad}) {
      GLUEGEN_CHECK_AS(ValueError, vocab_.contains(*special),
                       "WordPieceTokenizer: the vocabulary ({} tokens) has no '{}'", tokens_.size(), *special);
      specials_.push_back(*special);
    }
    if (vocab_.contains(opt_.mask)) specials_.push_back(opt_.mask);
  }

  static WordPieceTokenizer from_file(const std::filesystem::path& vocab_txt, WordPieceOptions options = {}) {
    return WordPieceTokenizer(read_file_bytes(vocab_txt, "vocabulary file"), std::move(options));
  }

  [[nodiscard]] index_t vocab_size() const noexcept { return static_cast<index_t>(tokens_.size()); }
  [[nodiscard]] std::int32_t id(const std::string& token) const {
    const auto it = vocab_.find(token);
    return it == vocab_.end() ? vocab_.at(opt_.unk) : it->second;
  }
  [[nodiscard]] const std::string& token(std::int32_t id) const { return tokens_.at(static_cast<std::size_t>(id)); }
  [[nodiscard]] std::int32_t pad_id() const { return vocab_.at(opt_.pad); }

  /// The word pieces of `text`. Special-token text ("[SEP]", "[MASK]", exact case) stays one token,
  /// as transformers matches added tokens before normalising.
  [[nodiscard]] std::vector<std::string> tokenize(std::string_view text) const {
    std::vector<std::string> out;
    split_special_tokens(
        text, specials_,
        [&](std::string_view part) {
          for (const std::u32string& word : pre_tokenize(normalize(decode_utf8(part)))) word_pieces(word, out);
        },
        [&](const std::string& special) { out.push_back(special); });
    return out;
  }

  /// Ids of `text`; with add_special_tokens [CLS] ... [SEP]; max_length > 0 truncates (specials included).
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true,
                                                 index_t max_length = 0) const {
    std::vector<std::int32_t> ids;
    for (const auto& piece : tokenize(text)) ids.push_back(vocab_.at(piece));
    const index_t specials = add_special_tokens ? 2 : 0;
    if (max_length > 0) {
      GLUEGEN_CHECK_AS(ValueError, max_length >= specials,
                       "WordPieceTokenizer: max_length {} leaves no room for the special tokens", max_length);
      if (static_cast<index_t>(ids.size()) > max_length - specials)
        ids.resize(static_cast<std::size_t>(max_length - specials));
    }
    if (add_special_tokens) {
      ids.insert(ids.begin(), vocab_.at(opt_.cls));
      ids.push_back(vocab_.at(opt_.sep));
    }
    return ids;
  }

  /// A padded batch (to the longest sentence, or to max_length with pad_to_max_length).
  [[nodiscard]] TokenBatch encode_batch(const std::vector<std::string>& texts, index_t max_length = 0,
                                        bool pad_to_max_length = false) const {
    std::vector<std::vector<std::int32_t>> seqs;
    for (const auto& t : texts) seqs.push_back(encode(t, true, max_length));
    return TokenBatch::pad(seqs, pad_id(), pad_to_max_length ? max_length : 0);
  }

 private:
  static bool is_control(char32_t c) {  // C* categories, except the three that count as whitespace
    if (c == '\t' || c == '\n' || c == '\r') return false;
    // Noncharacters (U+FDD0..U+FDEF, U+xxFFFE/F) are Cn in Unicode, but the Rust tokenizers' tables
    // keep them as characters (then [UNK]); transformers' fast tokenizer is the reference here.
    if ((c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE) return false;
    switch (category(c)) {
      case UTF8PROC_CATEGORY_CC:
      case UTF8PROC_CATEGORY_CF:
      case UTF8PROC_CATEGORY_CS:
      case UTF8PROC_CATEGORY_CO:
      case UTF8PROC_CATEGORY_CN:
        return true;
      default:
        return false;
    }
  }
  static bool is_punctuation(char32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
    switch (category(c)) {
      case UTF8PROC_CATEGORY_PC:
      case UTF8PROC_CATEGORY_PD:
      case UTF8PROC_CATEGORY_PS:
      case UTF8PROC_CATEGORY_PE:
      case UTF8PROC_CATEGORY_PI:
      case UTF8PROC_CATEGORY_PF:
      case UTF8PROC_CATEGORY_PO:
        return true;
      default:
        return false;
    }
  }
  static bool is_cjk(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
  }

  [[nodiscard]] std::u32string normalize(const std::u32string& in) const {
    std::u32string s;
    for (char32_t c : in) {
      if (c == 0 || c == 0xFFFD || is_control(c)) continue;
      if (is_white_space(c))
        s.push_back(U' ');
      else if (opt_.handle_chinese_chars && is_cjk(c))
        s.append({U' ', c, U' '});
      else
        s.push_back(c);
    }
    if (opt_.strip_accents.value_or(opt_.lowercase)) {
      std::u32string nfd;
      for (char32_t c : s) append_nfd(nfd, c);
      s.clear();
      for (char32_t c : nfd)
        if (category(c) != UTF8PROC_CATEGORY_MN) s.push_back(c);
    }
    if (opt_.lowercase) {
      std::u32string lower;
      for (char32_t c : s) append_lower(lower, c);
      s = std::move(lower);
    }
    return s;
  }

  [[nodiscard]] static std::vector<std::u32string> pre_tokenize(const std::u32string& s) {
    std::vector<std::u32string> words;
    std::u32string cur;
    const auto flush = [&] {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    };
    for (char32_t c : s) {
      if (is_white_space(c)) {
        flush();
      } else if (is_punctuation(c)) {
        flush();
        words.push_back(std::u32string(1, c));
      } else {
        cur.push_back(c);
      }
    }
    flush();
    return words;
  }

  void word_pieces(const std::u32string& word, std::vector<std::string>& out) const {
    if (static_cast<index_t>(word.size()) > opt_.max_input_chars_per_word) {
      out.push_back(opt_.unk);
      return;
    }
    std::vector<std::string> pieces;
    std::size_t start = 0;
    while (start < word.size()) {
      std::size_t end = word.size();
      std::string match;
      while (start < end) {
        std::string candidate = (start > 0 ? opt_.continuing_prefix : std::string()) +
                                encode_utf8(std::u32string_view(word).substr(start, end - start));
        if (vocab_.contains(candidate)) {
          match = std::move(candidate);
          break;
        }
        --end;
      }
      if (match.empty()) {  // no piece fits: the whole word is unknown
        out.push_back(opt_.unk);
        return;
      }
      pieces.push_back(std::move(match));
      start = end;
    }
    out.insert(out.end(), pieces.begin(), pieces.end());
  }

  WordPieceOptions opt_;
  std::unordered_map<std::string, std::int32_t> vocab_;
  std::vector<std::string> tokens_;
  std::vector<std::string> specials_;  ///< matched verbatim in the input
};

}  // namespace gluegen::text
