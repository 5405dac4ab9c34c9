#include "node/query/literal.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

#include "node/base/table.h"

namespace fednode::query {
namespace {

// Reads exactly `n` decimal digits at `*pos`.
bool ReadDigits(absl::string_view s, size_t* pos, size_t n, int64_t* out) {
  if (*pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool ReadChar(absl::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// Parses a date at the start of `s`; advances `*pos` past it.
bool ParseDatePrefix(absl::string_view s, size_t* pos, int64_t* days) {
  int64_t y = 0, m = 0, d = 0;
  size_t p = *pos;
  if (ReadDigits(s, &p, 4, &y) && ReadChar(s, &p, '-') && ReadDigits(s, &p, 2, &m) &&
      ReadChar(s, &p, '-') && ReadDigits(s, &p, 2, &d)) {
  } else {
    p = *pos;
    if (!(ReadDigits(s, &p, 2, &d) && ReadChar(s, &p, '.') && ReadDigits(s, &p, 2, &m) &&
          ReadChar(s, &p, '.') && ReadDigits(s, &p, 4, &y))) {
      return false;
    }
  }
  if (!CivilDayToDays(y, static_cast<int>(m), static_cast<int>(d), days)) return false;
  *pos = p;
  return true;
}

}  // namespace

bool ParseDateLiteral(absl::string_view text, int64_t* days) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t pos = 0;
  return ParseDatePrefix(s, &pos, days) && pos == s.size();
}

bool ParseTimestampLiteral(absl::string_view text, int64_t* micros) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t pos = 0;
  int64_t days = 0;
  if (!ParseDatePrefix(s, &pos, &days)) return false;
  int64_t h = 0, mi = 0, sec = 0, frac = 0;
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    ++pos;
    if (!(ReadDigits(s, &pos, 2, &h) && ReadChar(s, &pos, ':') && ReadDigits(s, &pos, 2, &mi))) {
      return false;
    }
    if (ReadChar(s, &pos, ':')) {
      if (!ReadDigits(s, &pos, 2, &sec)) return false;
      if (ReadChar(s, &pos, '.')) {
        size_t digits = 0;
        while (pos < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[pos]))) {
          if (digits == 6) return false;
          frac = frac * 10 + (s[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return false;
        for (; digits < 6; ++digits) frac *= 10;
      }
    }
  }
  if (pos != s.size() || h > 23 || mi > 59 || sec > 59) return false;
  *micros = ((days * 24 + h) * 60 + mi) * 60 * int64_t{1000000} + sec * 1000000 + frac;
  return true;
}

bool HasTimeZone(absl::string_view text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  const size_t t = s.find_first_of("T ");
  if (t == absl::string_view::npos) return false;
  absl::string_view rest = s.substr(t + 1);
  if (absl::EndsWith(rest, "Z") || absl::EndsWith(rest, "z")) return true;
  const size_t sign = rest.find_first_of("+-");
  if (sign == absl::string_view::npos) return false;
  absl::string_view zone = rest.substr(sign + 1);
  size_t digits = 0;
  for (char c : zone) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (c != ':') {
      return false;
    }
  }
  return digits == 2 || digits == 4;
}

void DaysToCivil(int64_t days, int64_t* year, int* month, int* day) {
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  *year = m <= 2 ? y + 1 : y;
  *month = static_cast<int>(m);
  *day = static_cast<int>(d);
}

}  // namespace fednode::query
