#pragma once
// UTF-8 decoding and encoding and the Unicode properties tokenizers need (categories, canonical
// decomposition, lower case), through utf8proc (Debian libutf8proc-dev) rather than our own tables.
// Invalid UTF-8 is a ValueError naming the byte offset: tokenizers see text, and Python's tokenizers
// never receive undecodable bytes either.
#include <gluegen/core/error.hpp>

#include <utf8proc.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace gluegen::text {

/// The code points of UTF-8 `s`.
inline std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t at = 0;
  const auto n = static_cast<utf8proc_ssize_t>(s.size());
  while (at < n) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t len = utf8proc_iterate(p + at, n - at, &cp);
    GLUEGEN_CHECK_AS(ValueError, len > 0 && cp >= 0, "invalid UTF-8 at byte {} of a {}-byte text", at, s.size());
    out.push_back(static_cast<char32_t>(cp));
    at += len;
  }
  return out;
}

inline void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  const auto len = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(len));
}

inline std::string encode_utf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

inline utf8proc_category_t category(char32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

/// Canonical decomposition (NFD) of one code point, appended to `out`.
inline void append_nfd(std::u32string& out, char32_t cp) {
  utf8proc_int32_t buf[32];
  int boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 32,
                                                     static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE), &boundclass);
  if (n <= 0) {
    out.push_back(cp);
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

/// Unicode White_Space (Rust's char::is_whitespace, the regex class \s of Rust and Python).
inline bool is_white_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// Canonical composition (NFC) of valid UTF-8.
inline std::string nfc(std::string_view s) {
  static_cast<void>(decode_utf8(s));  // a ValueError naming the byte for invalid input
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()), &out,
                   static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  GLUEGEN_CHECK_AS(ValueError, n >= 0, "NFC: {}", utf8proc_errmsg(n));
  std::string result(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  std::free(out);
  return result;
}

/// Full lower-case mapping as Python's str.lower() and Rust's char::to_lowercase: utf8proc's simple
/// mapping plus the one one-to-many case of Unicode's SpecialCasing.txt (U+0130 -> "i\u0307").
inline void append_lower(std::u32string& out, char32_t cp) {
  if (cp == 0x130) {
    out.push_back(U'i');
    out.push_back(0x307);
    return;
  }
  out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
}

}  // namespace gluegen::text
