#include "node/ingest/cell_parser.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace fednode::ingest {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of the thousands separator at s[i] allowed by `f`, or 0.
size_t SeparatorLen(absl::string_view s, size_t i, const NumberFormat& f) {
  char c = s[i];
  if (c == '.' && f.thousands_dot) return 1;
  if (c == ',' && f.thousands_comma) return 1;
  if (c == ' ' && f.thousands_space) return 1;
  if (c == '\'' && f.thousands_apostrophe) return 1;
  if (c == '\xC2' && f.thousands_nbsp && i + 1 < s.size() && s[i + 1] == '\xA0') return 2;
  return 0;
}

// Reads the integer digits of s from *i, skipping grouped thousands
// separators, appending the digits to `digits` (when not null) and the
// value to *v. Returns false on bad grouping or when no digit was read.
bool ScanGroupedDigits(absl::string_view s, size_t* i, const NumberFormat& f, std::string* digits,
                       uint64_t* v, uint64_t limit, bool* overflow) {
  int group = 0;
  bool seen_sep = false;
  bool any = false;
  while (*i < s.size()) {
    char c = s[*i];
    if (IsDigit(c)) {
      uint64_t d = static_cast<uint64_t>(c - '0');
      if (v != nullptr) {
        if (*v > (limit - d) / 10) {
          *overflow = true;
        } else {
          *v = *v * 10 + d;
        }
      }
      if (digits != nullptr) digits->push_back(c);
      ++group;
      any = true;
      ++*i;
      continue;
    }
    size_t sep = f.any_thousands() ? SeparatorLen(s, *i, f) : 0;
    if (sep == 0) break;
    if (group == 0 || (seen_sep ? group != 3 : group > 3)) return false;
    // A separator must be followed by a digit.
    if (*i + sep >= s.size() || !IsDigit(s[*i + sep])) return false;
    seen_sep = true;
    group = 0;
    *i += sep;
  }
  if (!any) return false;
  if (seen_sep && group != 3) return false;
  return true;
}

std::string Quote(absl::string_view cell) {
  constexpr size_t kMax = 80;
  if (cell.size() > kMax) return absl::StrCat("\"", cell.substr(0, kMax), "...\"");
  return absl::StrCat("\"", cell, "\"");
}

// Parses exactly `n` digits at s[*i].
bool Digits(absl::string_view s, size_t* i, int n, int64_t* out) {
  if (*i + n > s.size()) return false;
  int64_t v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

// Parses 1 or 2 digits at s[*i].
bool OneOrTwoDigits(absl::string_view s, size_t* i, int64_t* out) {
  if (*i >= s.size() || !IsDigit(s[*i])) return false;
  int64_t v = s[*i] - '0';
  ++*i;
  if (*i < s.size() && IsDigit(s[*i])) {
    v = v * 10 + (s[*i] - '0');
    ++*i;
  }
  *out = v;
  return true;
}

// "HH:MM[:SS[.fraction]]" at s[*i].
bool ParseTime(absl::string_view s, size_t* i, int64_t* micros) {
  int64_t hh, mm, ss = 0, frac = 0;
  if (!Digits(s, i, 2, &hh) || *i >= s.size() || s[*i] != ':') return false;
  ++*i;
  if (!Digits(s, i, 2, &mm)) return false;
  if (*i < s.size() && s[*i] == ':') {
    ++*i;
    if (!Digits(s, i, 2, &ss)) return false;
    if (*i < s.size() && (s[*i] == '.' || s[*i] == ',')) {
      ++*i;
      int n = 0;
      while (*i < s.size() && IsDigit(s[*i])) {
        if (n < 6) frac = frac * 10 + (s[*i] - '0');
        ++n;
        ++*i;
      }
      if (n == 0) return false;
      for (; n < 6; ++n) frac *= 10;
    }
  }
  if (hh > 23 || mm > 59 || ss > 59) return false;
  *micros = ((hh * 60 + mm) * 60 + ss) * kMicrosPerSecond + frac;
  return true;
}

// "Z", "+hh:mm", "+hhmm", "+hh" at s[*i].
bool ParseZone(absl::string_view s, size_t* i, ParsedDateTime* out) {
  if (*i >= s.size()) return true;
  if (s[*i] == 'Z' || s[*i] == 'z') {
    ++*i;
    out->has_zone = true;
    out->offset_seconds = 0;
    return true;
  }
  if (s[*i] != '+' && s[*i] != '-') return false;
  int sign = s[*i] == '-' ? -1 : 1;
  ++*i;
  int64_t hh, mm = 0;
  if (!Digits(s, i, 2, &hh)) return false;
  if (*i < s.size() && s[*i] == ':') ++*i;
  if (*i < s.size() && !Digits(s, i, 2, &mm)) return false;
  if (hh > 23 || mm > 59) return false;
  out->has_zone = true;
  out->offset_seconds = sign * (hh * 3600 + mm * 60);
  return true;
}

bool ParseIso(absl::string_view s, ParsedDateTime* out) {
  size_t i = 0;
  int64_t y, m, d;
  if (!Digits(s, &i, 4, &y) || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!Digits(s, &i, 2, &m) || i >= s.size() || s[i] != '-') return false;
  ++i;
  if (!Digits(s, &i, 2, &d)) return false;
  if (!CivilDayToDays(y, static_cast<int>(m), static_cast<int>(d), &out->days)) return false;
  if (i == s.size()) return true;
  if (s[i] != 'T' && s[i] != ' ') return false;
  ++i;
  if (!ParseTime(s, &i, &out->micros_of_day)) return false;
  out->has_time = true;
  if (!ParseZone(s, &i, out)) return false;
  return i == s.size();
}

bool ParseDe(absl::string_view s, ParsedDateTime* out) {
  size_t i = 0;
  int64_t y, m, d;
  if (!OneOrTwoDigits(s, &i, &d) || i >= s.size() || s[i] != '.') return false;
  ++i;
  if (!OneOrTwoDigits(s, &i, &m) || i >= s.size() || s[i] != '.') return false;
  ++i;
  if (!Digits(s, &i, 4, &y)) return false;
  if (!CivilDayToDays(y, static_cast<int>(m), static_cast<int>(d), &out->days)) return false;
  if (i == s.size()) return true;
  if (s[i] != ' ') return false;
  while (i < s.size() && s[i] == ' ') ++i;
  if (!ParseTime(s, &i, &out->micros_of_day)) return false;
  out->has_time = true;
  return i == s.size();
}

bool ParseYyyymmdd(absl::string_view s, ParsedDateTime* out) {
  size_t i = 0;
  int64_t y, m, d;
  if (s.size() != 8 || !Digits(s, &i, 4, &y) || !Digits(s, &i, 2, &m) || !Digits(s, &i, 2, &d)) {
    return false;
  }
  return CivilDayToDays(y, static_cast<int>(m), static_cast<int>(d), &out->days);
}

bool EqualsAnyIgnoreCase(absl::string_view s, const std::vector<std::string>& values) {
  for (const std::string& v : values) {
    if (absl::EqualsIgnoreCase(s, v)) return true;
  }
  return false;
}

}  // namespace

std::string TypeWithArticle(ColumnType type) {
  absl::string_view name = ColumnTypeName(type);
  const bool vowel = !name.empty() && absl::StrContains("aeiou", name.front());
  return absl::StrCat(vowel ? "an " : "a ", name);
}

absl::string_view TrimCell(absl::string_view s) {
  while (!s.empty()) {
    char c = s.front();
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      s.remove_prefix(1);
    } else if (absl::StartsWith(s, "\xC2\xA0")) {
      s.remove_prefix(2);
    } else {
      break;
    }
  }
  while (!s.empty()) {
    char c = s.back();
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      s.remove_suffix(1);
    } else if (absl::EndsWith(s, "\xC2\xA0")) {
      s.remove_suffix(2);
    } else {
      break;
    }
  }
  return s;
}

NumberResult ParseInt64(absl::string_view s, const NumberFormat& f, int64_t* out) {
  // Fast path: up to 18 plain digits cannot overflow.
  if (!s.empty() && s.size() <= 18 && IsDigit(s[0])) {
    int64_t v = 0;
    size_t k = 0;
    for (; k < s.size() && IsDigit(s[k]); ++k) v = v * 10 + (s[k] - '0');
    if (k == s.size()) {
      *out = v;
      return NumberResult::kOk;
    }
  }
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    neg = s[i] == '-';
    ++i;
  }
  const uint64_t limit = neg ? (uint64_t{1} << 63) : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  bool overflow = false;
  if (!ScanGroupedDigits(s, &i, f, nullptr, &v, limit, &overflow) || i != s.size()) {
    return NumberResult::kSyntax;
  }
  if (overflow) return NumberResult::kOverflow;
  *out = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return NumberResult::kOk;
}

NumberResult ParseDouble(absl::string_view s, const NumberFormat& f, double* out) {
  // Fast path: decimal point, no thousands separators, starts with a digit.
  if (f.decimal == '.' && !f.any_thousands() && !s.empty() && IsDigit(s[0])) {
    double v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && ptr == s.data() + s.size()) {
      *out = v;
      return NumberResult::kOk;
    }
    if (ec == std::errc::result_out_of_range) return NumberResult::kOverflow;
    // Otherwise fall through to the strict path for the error.
  }
  // Normalised ASCII text for from_chars: [-]digits[.digits][e[-]digits].
  char small[64];
  std::string big;
  size_t i = 0;
  size_t n = 0;
  bool use_big = s.size() + 1 >= sizeof(small);
  auto put = [&](char c) {
    if (use_big) {
      big.push_back(c);
    } else {
      small[n++] = c;
    }
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    if (s[i] == '-') put('-');
    ++i;
  }
  bool int_digits = false;
  if (i < s.size() && IsDigit(s[i])) {
    std::string digits;
    uint64_t unused = 0;
    bool overflow = false;
    if (!ScanGroupedDigits(s, &i, f, &digits, nullptr, 0, &overflow)) return NumberResult::kSyntax;
    (void)unused;
    for (char c : digits) put(c);
    int_digits = true;
  }
  bool frac_digits = false;
  if (i < s.size() && s[i] == f.decimal) {
    put('.');
    ++i;
    while (i < s.size() && IsDigit(s[i])) {
      put(s[i++]);
      frac_digits = true;
    }
  }
  if (!int_digits && !frac_digits) return NumberResult::kSyntax;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    put('e');
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) put(s[i++]);
    bool exp_digits = false;
    while (i < s.size() && IsDigit(s[i])) {
      put(s[i++]);
      exp_digits = true;
    }
    if (!exp_digits) return NumberResult::kSyntax;
  }
  if (i != s.size()) return NumberResult::kSyntax;
  const char* begin = use_big ? big.data() : small;
  const char* end = use_big ? big.data() + big.size() : small + n;
  double v = 0;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec == std::errc::result_out_of_range) return NumberResult::kOverflow;
  if (ec != std::errc() || ptr != end) return NumberResult::kSyntax;
  *out = v;
  return NumberResult::kOk;
}

bool ParseDateTime(absl::string_view s, DateFormat f, ParsedDateTime* out) {
  *out = ParsedDateTime();
  switch (f) {
    case DateFormat::kIso:
      return ParseIso(s, out);
    case DateFormat::kDe:
      return ParseDe(s, out);
    case DateFormat::kYyyymmdd:
      return ParseYyyymmdd(s, out);
    case DateFormat::kAuto:
      if (s.size() >= 5 && s[4] == '-') return ParseIso(s, out);
      return ParseDe(s, out);
  }
  return false;
}

absl::StatusOr<CellParser> CellParser::Create(const v1::ColumnSpec& spec) {
  CellParser p;
  p.type_ = spec.column().type();
  p.nullable_ = spec.column().nullable();
  const std::string& dec = spec.decimal_separator();
  if (dec.empty() || dec == ".") {
    p.number_.decimal = '.';
  } else if (dec == ",") {
    p.number_.decimal = ',';
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("decimal_separator: \"", dec, "\" is not \",\" or \".\""));
  }
  for (const std::string& t : spec.thousands_separators()) {
    if (t == ".") {
      p.number_.thousands_dot = true;
    } else if (t == ",") {
      p.number_.thousands_comma = true;
    } else if (t == " ") {
      p.number_.thousands_space = true;
    } else if (t == "\xC2\xA0") {
      p.number_.thousands_nbsp = true;
    } else if (t == "'") {
      p.number_.thousands_apostrophe = true;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("thousands_separators: \"", t,
                       "\" is not one of \".\", \",\", \" \", \"\\u00a0\", \"'\""));
    }
    if (t.size() == 1 && t[0] == p.number_.decimal &&
        (p.type_ == storage::v1::COLUMN_TYPE_DOUBLE || !dec.empty())) {
      return absl::InvalidArgumentError(
          absl::StrCat("thousands_separators: \"", t, "\" is also the decimal separator"));
    }
  }
  const std::string& df = spec.date_format();
  if (df.empty() || df == "auto") {
    p.date_ = DateFormat::kAuto;
  } else if (df == "iso") {
    p.date_ = DateFormat::kIso;
  } else if (df == "de") {
    p.date_ = DateFormat::kDe;
  } else if (df == "yyyymmdd") {
    p.date_ = DateFormat::kYyyymmdd;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("date_format: \"", df, "\" is not auto, iso, de or yyyymmdd"));
  }
  if (!spec.time_zone().empty()) {
    if (!absl::LoadTimeZone(spec.time_zone(), &p.zone_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("time_zone: unknown time zone \"", spec.time_zone(), "\""));
    }
    p.has_zone_ = true;
  }
  for (const std::string& v : spec.null_values()) {
    p.null_values_.emplace_back(TrimCell(v));
  }
  if (spec.true_values_size() == 0 && spec.false_values_size() == 0) {
    p.true_values_ = {"true", "ja", "1", "wahr", "yes", "j", "y"};
    p.false_values_ = {"false", "nein", "0", "falsch", "no", "n"};
  } else {
    p.true_values_.assign(spec.true_values().begin(), spec.true_values().end());
    p.false_values_.assign(spec.false_values().begin(), spec.false_values().end());
  }
  switch (p.type_) {
    case storage::v1::COLUMN_TYPE_INT64:
    case storage::v1::COLUMN_TYPE_DOUBLE:
    case storage::v1::COLUMN_TYPE_STRING:
    case storage::v1::COLUMN_TYPE_BOOL:
    case storage::v1::COLUMN_TYPE_DATE:
    case storage::v1::COLUMN_TYPE_TIMESTAMP:
      break;
    default:
      return absl::InvalidArgumentError("column.type: missing or unknown column type");
  }
  return p;
}

bool CellParser::IsNullText(absl::string_view trimmed) const {
  if (trimmed.empty()) return true;
  for (const std::string& v : null_values_) {
    if (trimmed == v) return true;
  }
  return false;
}

bool CellParser::AppendNull(ColumnBuilder* b, std::string* error) const {
  if (!nullable_) {
    *error = "NULL in non-nullable column";
    return false;
  }
  b->AppendNull();
  return true;
}

bool CellParser::ConvertTime(const ParsedDateTime& p, absl::string_view cell, int64_t* out,
                             std::string* error) const {
  int64_t micros = p.days * kMicrosPerDay + p.micros_of_day;
  if (p.has_zone) {
    micros -= p.offset_seconds * kMicrosPerSecond;  // now UTC
    if (has_zone_) {
      int64_t sub = ((micros % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond;
      absl::CivilSecond cs = absl::ToCivilSecond(absl::FromUnixMicros(micros), zone_);
      micros = absl::ToUnixMicros(absl::FromCivil(cs, absl::UTCTimeZone())) + sub;  // civil, local
    }
  }
  if (type_ == storage::v1::COLUMN_TYPE_DATE) {
    if (p.has_time && ((p.has_zone && !has_zone_) || (!p.has_zone && p.micros_of_day != 0))) {
      *error =
          absl::StrCat(Quote(cell), " has a time of day; use a timestamp column or set time_zone");
      return false;
    }
    int64_t days = micros / kMicrosPerDay;
    if (micros % kMicrosPerDay < 0) --days;
    *out = days;
    return true;
  }
  *out = micros;
  return true;
}

bool CellParser::AppendText(absl::string_view cell, ColumnBuilder* b, std::string* error) const {
  if (type_ == storage::v1::COLUMN_TYPE_STRING) {
    if (cell.empty()) return AppendNull(b, error);
    const char first = cell.front(), last = cell.back();
    const bool plain = first != ' ' && first != '\t' && first != '\xC2' && last != ' ' &&
                       last != '\t' && last != '\xA0' && last != '\r' && last != '\n';
    if (!plain || !null_values_.empty()) {
      if (IsNullText(TrimCell(cell))) return AppendNull(b, error);
    }
    b->AppendString(cell);
    return true;
  }
  absl::string_view t = TrimCell(cell);
  if (IsNullText(t)) return AppendNull(b, error);
  switch (type_) {
    case storage::v1::COLUMN_TYPE_INT64: {
      int64_t v;
      NumberResult r = ParseInt64(t, number_, &v);
      if (r == NumberResult::kOk) {
        b->AppendInt(v);
        return true;
      }
      *error = absl::StrCat(Quote(cell), r == NumberResult::kOverflow ? " is out of range for int64"
                                                                      : " is not an int64");
      return false;
    }
    case storage::v1::COLUMN_TYPE_DOUBLE: {
      double v;
      NumberResult r = ParseDouble(t, number_, &v);
      if (r == NumberResult::kOk) {
        b->AppendDouble(v);
        return true;
      }
      *error =
          absl::StrCat(Quote(cell), r == NumberResult::kOverflow ? " is out of range for double"
                                                                 : " is not a double");
      return false;
    }
    case storage::v1::COLUMN_TYPE_BOOL: {
      if (EqualsAnyIgnoreCase(t, true_values_)) {
        b->AppendInt(1);
        return true;
      }
      if (EqualsAnyIgnoreCase(t, false_values_)) {
        b->AppendInt(0);
        return true;
      }
      *error = absl::StrCat(Quote(cell), " is not a bool");
      return false;
    }
    case storage::v1::COLUMN_TYPE_DATE:
    case storage::v1::COLUMN_TYPE_TIMESTAMP: {
      ParsedDateTime p;
      if (!ParseDateTime(t, date_, &p)) {
        *error = absl::StrCat(Quote(cell), type_ == storage::v1::COLUMN_TYPE_DATE
                                               ? " is not a valid date"
                                               : " is not a valid timestamp");
        return false;
      }
      int64_t v;
      if (!ConvertTime(p, cell, &v, error)) return false;
      b->AppendInt(v);
      return true;
    }
    default:
      *error = "unsupported column type";
      return false;
  }
}

bool CellParser::AppendInt(int64_t v, ColumnBuilder* b, std::string* error) const {
  switch (type_) {
    case storage::v1::COLUMN_TYPE_INT64:
      b->AppendInt(v);
      return true;
    case storage::v1::COLUMN_TYPE_DOUBLE:
      b->AppendDouble(static_cast<double>(v));
      return true;
    case storage::v1::COLUMN_TYPE_STRING:
      b->AppendString(absl::StrCat(v));
      return true;
    case storage::v1::COLUMN_TYPE_BOOL:
      if (v == 0 || v == 1) {
        b->AppendInt(v);
        return true;
      }
      break;
    default:
      break;
  }
  *error = absl::StrCat("number ", v, " is not ", TypeWithArticle(type_));
  return false;
}

bool CellParser::AppendDouble(double v, ColumnBuilder* b, std::string* error) const {
  switch (type_) {
    case storage::v1::COLUMN_TYPE_DOUBLE:
      b->AppendDouble(v);
      return true;
    case storage::v1::COLUMN_TYPE_STRING:
      b->AppendString(absl::StrCat(v));
      return true;
    case storage::v1::COLUMN_TYPE_INT64:
      // [-2^63, 2^63): every double in it converts exactly when integral.
      if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 &&
          v == static_cast<double>(static_cast<int64_t>(v))) {
        b->AppendInt(static_cast<int64_t>(v));
        return true;
      }
      break;
    default:
      break;
  }
  *error = absl::StrCat("number ", v, " is not ", TypeWithArticle(type_));
  return false;
}

bool CellParser::AppendBool(bool v, ColumnBuilder* b, std::string* error) const {
  if (type_ == storage::v1::COLUMN_TYPE_BOOL) {
    b->AppendInt(v ? 1 : 0);
    return true;
  }
  if (type_ == storage::v1::COLUMN_TYPE_STRING) {
    b->AppendString(v ? "true" : "false");
    return true;
  }
  *error = absl::StrCat(v ? "true" : "false", " is not ", TypeWithArticle(type_));
  return false;
}

}  // namespace fednode::ingest
