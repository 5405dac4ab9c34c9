// Parsing of date and timestamp literals shared by the SQL front end and plan
// validation (node/query). Pure functions; safe for concurrent use.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"

namespace fednode::query {

// Parses a calendar date given as "YYYY-MM-DD" (ISO 8601) or "DD.MM.YYYY"
// (German notation) into days since 1970-01-01 (proleptic Gregorian).
// Returns false when `text` has another shape or names no existing day.
bool ParseDateLiteral(absl::string_view text, int64_t* days);

// Parses a civil timestamp "YYYY-MM-DD[(T| )HH:MM[:SS[.f{1,6}]]]" (or the
// same with a "DD.MM.YYYY" date) into microseconds since
// 1970-01-01T00:00:00. A date alone means midnight. Timestamps are stored as
// civil wall-clock time (in the time zone the import named, else as given),
// so a literal with a zone ("Z", "+01:00") has no single meaning and is
// refused (see HasTimeZone). Returns false for any other shape or an
// out-of-range field.
bool ParseTimestampLiteral(absl::string_view text, int64_t* micros);

// True when `text` ends in an ISO 8601 zone designator after a time of day:
// "Z", "+hh:mm", "-hh:mm", "+hhmm" or "+hh". For the reason in messages.
bool HasTimeZone(absl::string_view text);

// The reason given when a timestamp literal has a zone (HasTimeZone).
inline constexpr absl::string_view kTimeZoneRefused =
    "a time zone (Z, +01:00) is not accepted: timestamps are compared as the "
    "dataset's civil time, write the time without a zone";

// Splits days since 1970-01-01 into a proleptic Gregorian year, month (1-12)
// and day (1-31).
void DaysToCivil(int64_t days, int64_t* year, int* month, int* day);

}  // namespace fednode::query
