#include "node/catalog/internal.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace fednode::catalog::internal {
namespace {

bool IsIriUnsafeByte(unsigned char c) {
  if (c <= 0x20 || c == 0x7f) return true;
  switch (c) {
    case '<':
    case '>':
    case '"':
    case '{':
    case '}':
    case '|':
    case '^':
    case '`':
    case '\\':
      return true;
    default:
      return false;
  }
}

void AppendPercent(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out->push_back('%');
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xf]);
}

}  // namespace

bool IsIriSafe(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (IsIriUnsafeByte(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsHttpUri(absl::string_view s) {
  size_t scheme = 0;
  if (absl::StartsWithIgnoreCase(s, "http://")) {
    scheme = 7;
  } else if (absl::StartsWithIgnoreCase(s, "https://")) {
    scheme = 8;
  } else {
    return false;
  }
  return s.size() > scheme && IsIriSafe(s);
}

std::string PercentEncodeSegment(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      AppendPercent(c, &out);
    }
  }
  return out;
}

std::string EscapeIri(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (IsIriUnsafeByte(c)) {
      AppendPercent(c, &out);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string Abbreviate(absl::string_view s) {
  constexpr size_t kMax = 40;
  if (s.size() <= kMax) return std::string(s);
  size_t cut = kMax;
  // Do not split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

bool IsValidDatasetId(absl::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char ch : id) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace fednode::catalog::internal
