#include "node/ingest/charset.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/ucnv.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

namespace fednode::ingest {
namespace {

constexpr absl::string_view kBom = "\xEF\xBB\xBF";

const icu::Normalizer2* Nfc() {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(err);
  return U_SUCCESS(err) ? nfc : nullptr;
}

// 1-based line of byte `offset` in `s`.
int64_t LineOf(absl::string_view s, size_t offset) {
  return 1 + std::count(s.begin(), s.begin() + std::min(offset, s.size()), '\n');
}

// Number of UTF-8 characters in `s` (bytes that are not continuation bytes).
int64_t CharCount(absl::string_view s) {
  int64_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

// "<source>:<line>: bytes are not valid UTF-8 (byte 0xDF at column 5)" for
// the invalid byte at `bad` of `text`.
absl::Status NotUtf8(absl::string_view text, size_t bad, absl::string_view source_name) {
  const size_t line_start = bad == 0 ? absl::string_view::npos : text.rfind('\n', bad - 1);
  const size_t from = line_start == absl::string_view::npos ? 0 : line_start + 1;
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s:%d: bytes are not valid UTF-8 (byte 0x%02X at column %d)", source_name, LineOf(text, bad),
      static_cast<unsigned char>(text[bad]), CharCount(text.substr(from, bad - from)) + 1));
}

// Offset of the first non-ASCII byte at or after which a sequence is valid
// (want_valid) or invalid (!want_valid) UTF-8, or npos. Sequences are read
// one at a time (at most 4 bytes each), so inputs of any size are handled.
size_t FirstMultibyte(absl::string_view s, bool want_valid) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  for (size_t i = 0; i < s.size();) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const auto window = static_cast<int32_t>(std::min<size_t>(s.size() - i, 4));
    int32_t j = 0;
    UChar32 c;
    U8_NEXT(p + i, j, window, c);
    if ((c >= 0) == want_valid) return i;
    i += c >= 0 ? static_cast<size_t>(j) : 1;
  }
  return absl::string_view::npos;
}

// Offset of the first valid UTF-8 sequence of two or more bytes, or npos.
// Bytes that start no valid sequence are stepped over one at a time.
size_t FirstValidMultibyte(absl::string_view s) { return FirstMultibyte(s, true); }

// The word around the valid UTF-8 sequence at `offset`, for quoting in a
// message: the run of ASCII letters and digits and valid multibyte sequences
// that holds it (always valid UTF-8). A run longer than 40 bytes is replaced
// by the sequence alone.
std::string WordAt(absl::string_view s, size_t offset) {
  const size_t nl = offset == 0 ? absl::string_view::npos : s.rfind('\n', offset - 1);
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const int32_t len = static_cast<int32_t>(std::min<size_t>(s.size(), INT32_MAX));
  int32_t word_start = nl == absl::string_view::npos ? 0 : static_cast<int32_t>(nl + 1);
  int32_t i = word_start;
  int32_t sequence_end = -1;
  while (i < len) {
    const int32_t start = i;
    bool word_char;
    if (p[i] < 0x80) {
      word_char = absl::ascii_isalnum(p[i]);
      ++i;
    } else {
      UChar32 c;
      U8_NEXT(p, i, len, c);
      word_char = c >= 0;
      if (!word_char) i = start + 1;
    }
    if (static_cast<size_t>(start) == offset) sequence_end = i;
    if (!word_char) {
      if (static_cast<size_t>(start) > offset) {
        i = start;
        break;
      }
      word_start = i;
    }
  }
  if (sequence_end < 0) return std::string();
  if (i - word_start > 40) return std::string(s.substr(offset, sequence_end - offset));
  return std::string(s.substr(word_start, i - word_start));
}

// One pass over `s`: ASCII is skipped 8 bytes at a time; each run of
// non-ASCII bytes is validated (ICU U8_NEXT) and NFC-checked by ICU together
// with the character before it (an ASCII base may compose with a following
// mark; ASCII never composes with what precedes it). Sets *bad to the offset
// of the first invalid sequence (else npos) and *normalized to false when
// some run is not in NFC.
void ScanUtf8(absl::string_view s, size_t* bad, bool* normalized) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  const icu::Normalizer2* nfc = Nfc();
  size_t i = 0;
  while (i < n) {
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    while (i < n && p[i] < 0x80) ++i;
    if (i >= n) break;
    size_t start = i;
    int32_t j = static_cast<int32_t>(i);
    const int32_t len = static_cast<int32_t>(std::min<size_t>(n, INT32_MAX));
    while (j < len && p[j] >= 0x80) {
      int32_t at = j;
      UChar32 c;
      U8_NEXT(p, j, len, c);
      if (c < 0) {
        *bad = static_cast<size_t>(at);
        return;
      }
    }
    i = static_cast<size_t>(j);
    if (*normalized && nfc != nullptr) {
      size_t from = start > 0 ? start - 1 : 0;
      UErrorCode err = U_ZERO_ERROR;
      icu::StringPiece piece(s.data() + from, static_cast<int32_t>(i - from));
      if (!nfc->isNormalizedUTF8(piece, err) || U_FAILURE(err)) *normalized = false;
    }
  }
}

// Converts a single-byte charset to UTF-8 through UTF-16 with ICU.
absl::StatusOr<std::string> SingleByteToUtf8(absl::string_view bytes, const char* icu_name) {
  UErrorCode err = U_ZERO_ERROR;
  std::unique_ptr<UConverter, void (*)(UConverter*)> conv(ucnv_open(icu_name, &err), ucnv_close);
  if (U_FAILURE(err)) {
    return absl::InternalError(absl::StrCat("icu converter ", icu_name, ": ", u_errorName(err)));
  }
  icu::UnicodeString u(bytes.data(), static_cast<int32_t>(bytes.size()), conv.get(), err);
  if (U_FAILURE(err)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode as ", icu_name, ": ", u_errorName(err)));
  }
  const icu::Normalizer2* nfc = Nfc();
  if (nfc != nullptr && !IsAscii(bytes)) {
    icu::UnicodeString n = nfc->normalize(u, err);
    if (U_SUCCESS(err)) u = std::move(n);
  }
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  u.toUTF8String(out);
  return out;
}

}  // namespace

bool IsAscii(absl::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL) return false;
  }
  for (; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) >= 0x80) return false;
  }
  return true;
}

size_t FirstInvalidUtf8(absl::string_view s) { return FirstMultibyte(s, false); }

absl::Status RequireUtf8(absl::string_view text, absl::string_view source_name) {
  const size_t bad = FirstInvalidUtf8(text);
  if (bad == absl::string_view::npos) return absl::OkStatus();
  absl::Status s = NotUtf8(text, bad, source_name);
  return absl::InvalidArgumentError(absl::StrCat(s.message(), "; save the file as UTF-8"));
}

bool IsValidUtf8(absl::string_view s) {
  return IsAscii(s) || FirstInvalidUtf8(s) == absl::string_view::npos;
}

std::string NormalizeNfc(absl::string_view s) {
  if (IsAscii(s)) return std::string(s);
  const icu::Normalizer2* nfc = Nfc();
  if (nfc == nullptr) return std::string(s);
  UErrorCode err = U_ZERO_ERROR;
  icu::StringPiece piece(s.data(), static_cast<int32_t>(s.size()));
  if (nfc->isNormalizedUTF8(piece, err) && U_SUCCESS(err)) return std::string(s);
  err = U_ZERO_ERROR;
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(s.size()));
  nfc->normalizeUTF8(0, piece, sink, nullptr, err);
  if (U_FAILURE(err)) return std::string(s);
  return out;
}

absl::StatusOr<DecodedText> DecodeToUtf8Nfc(absl::string_view bytes, absl::string_view encoding,
                                            absl::string_view source_name) {
  std::string enc = absl::AsciiStrToLower(encoding);
  if (enc == "latin1" || enc == "latin-1" || enc == "iso8859-1") enc = "iso-8859-1";
  if (enc == "cp1252" || enc == "windows1252") enc = "windows-1252";
  if (enc == "utf8") enc = "utf-8";
  if (!enc.empty() && enc != "auto" && enc != "utf-8" && enc != "iso-8859-1" &&
      enc != "windows-1252") {
    return absl::InvalidArgumentError(absl::StrCat("unknown encoding \"", encoding,
                                                   "\" (use utf-8, iso-8859-1 or windows-1252)"));
  }
  DecodedText out;
  if (enc.empty() || enc == "auto" || enc == "utf-8") {
    absl::string_view body = bytes;
    bool bom = absl::StartsWith(body, kBom);
    if (bom) body.remove_prefix(kBom.size());
    size_t bad = absl::string_view::npos;
    bool normalized = true;
    ScanUtf8(body, &bad, &normalized);
    if (bad == absl::string_view::npos) {
      out.encoding = "utf-8";
      out.had_bom = bom;
      if (normalized) {
        out.borrowed = body;  // no copy: already UTF-8 NFC
        return out;
      }
      out.storage = NormalizeNfc(body);
      out.owned = true;
      return out;
    }
    if (enc == "utf-8") return NotUtf8(body, bad, source_name);
    if (bom) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ": mixed encodings: the file starts with a UTF-8 byte order mark, line ",
          LineOf(body, bad), " is not valid UTF-8; convert the file or set csv.encoding"));
    }
    const size_t multibyte = FirstValidMultibyte(body);
    if (multibyte != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": mixed encodings: line ", LineOf(body, multibyte),
                       " is UTF-8 (\"", WordAt(body, multibyte), "\"), line ", LineOf(body, bad),
                       " is not valid UTF-8; convert the file or set csv.encoding"));
    }
    enc = "windows-1252";
  }
  out.encoding = enc;
  absl::StatusOr<std::string> converted =
      SingleByteToUtf8(bytes, enc == "iso-8859-1" ? "ISO-8859-1" : "windows-1252");
  if (!converted.ok()) return converted.status();
  out.storage = *std::move(converted);
  out.owned = true;
  return out;
}

std::string NormalizeColumnName(absl::string_view header_text) {
  // German umlauts first (ICU's Latin-ASCII would map ä to a).
  std::string s = NormalizeNfc(header_text);
  std::string german;
  german.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size(); ++i) {
    absl::string_view rest = absl::string_view(s).substr(i);
    struct Map {
      absl::string_view from, to;
    };
    static constexpr Map kMap[] = {{"ä", "ae"}, {"ö", "oe"}, {"ü", "ue"}, {"Ä", "Ae"},
                                   {"Ö", "Oe"}, {"Ü", "Ue"}, {"ß", "ss"}, {"ẞ", "SS"}};
    bool mapped = false;
    for (const Map& m : kMap) {
      if (absl::StartsWith(rest, m.from)) {
        german.append(m.to.data(), m.to.size());
        i += m.from.size() - 1;
        mapped = true;
        break;
      }
    }
    if (!mapped) german.push_back(s[i]);
  }
  if (!IsAscii(german)) {
    UErrorCode err = U_ZERO_ERROR;
    std::unique_ptr<icu::Transliterator> tr(
        icu::Transliterator::createInstance("Any-Latin; Latin-ASCII", UTRANS_FORWARD, err));
    if (U_SUCCESS(err) && tr != nullptr) {
      icu::UnicodeString u = icu::UnicodeString::fromUTF8(german);
      tr->transliterate(u);
      german.clear();
      u.toUTF8String(german);
    }
  }
  std::string out;
  bool pending_underscore = false;
  unsigned char prev = 0;
  for (char ch : german) {
    unsigned char c = static_cast<unsigned char>(ch);
    // camelCase -> camel_case ("waterTemperature"); "PLZ" stays "plz".
    if (absl::ascii_isupper(c) && (absl::ascii_islower(prev) || absl::ascii_isdigit(prev))) {
      pending_underscore = true;
    }
    prev = c;
    if (absl::ascii_isalnum(c)) {
      if (pending_underscore && !out.empty()) out.push_back('_');
      pending_underscore = false;
      out.push_back(absl::ascii_tolower(c));
    } else {
      pending_underscore = true;
    }
  }
  if (!out.empty() && absl::ascii_isdigit(static_cast<unsigned char>(out[0]))) {
    out = absl::StrCat("c_", out);
  }
  return out;
}

}  // namespace fednode::ingest
