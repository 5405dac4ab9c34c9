// FoldForSearch and MatchesSearch (ICU for normalisation and case folding).
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "unicode/normalizer2.h"
#include "unicode/unistr.h"
#include "unicode/utypes.h"

#include "node/catalog/catalog.h"

namespace fednode::catalog {

std::string FoldForSearch(absl::string_view text) {
  // fromUTF8 turns ill-formed sequences into U+FFFD.
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_SUCCESS(status)) {
    icu::UnicodeString normalized = nfc->normalize(s, status);
    if (U_SUCCESS(status)) s = std::move(normalized);
  }
  // Full case folding: "ß" and "ẞ" -> "ss", "Ä" -> "ä".
  s.foldCase(U_FOLD_CASE_DEFAULT);
  // German transcription of the umlauts; after NFC and folding they are the
  // single code points U+00E4, U+00F6, U+00FC.
  s.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x00E4)), icu::UnicodeString("ae"));
  s.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x00F6)), icu::UnicodeString("oe"));
  s.findAndReplace(icu::UnicodeString(static_cast<UChar32>(0x00FC)), icu::UnicodeString("ue"));
  std::string out;
  s.toUTF8String(out);
  return out;
}

bool MatchesSearch(const catalog::v1::CatalogEntry& entry, absl::string_view words) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(words, absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty());
  if (parts.empty()) return true;

  // One haystack; fields are separated by '\n', which no word contains, so a
  // word never matches across two fields.
  const auto& m = entry.metadata();
  std::string haystack = m.title();
  for (absl::string_view field :
       {absl::string_view(m.description()), absl::string_view(entry.dataset_id()),
        absl::string_view(entry.member_name())}) {
    haystack.push_back('\n');
    haystack.append(field.data(), field.size());
  }
  for (const std::string& keyword : m.keywords()) {
    haystack.push_back('\n');
    haystack.append(keyword);
  }
  const std::string folded = FoldForSearch(haystack);
  for (absl::string_view word : parts) {
    if (folded.find(FoldForSearch(word)) == std::string::npos) return false;
  }
  return true;
}

}  // namespace fednode::catalog
