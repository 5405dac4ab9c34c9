// Conversion of one source cell (text or JSON scalar) to a typed column value:
// numbers with decimal comma or point and thousands separators, German and
// ISO dates, ISO timestamps with optional zone, booleans, NULL placeholders.
//
// Layer: node/ingest (internal); used by the CSV and JSON importers and by
// inference. Thread-safety: a CellParser is immutable after Create and safe
// for concurrent use; the free functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "node/base/table.h"
#include "proto/ingest/v1/import_spec.pb.h"

namespace fednode::ingest {

// Number syntax of one column.
struct NumberFormat {
  char decimal = '.';          // '.' or ','
  bool thousands_dot = false;  // "1.234"
  bool thousands_comma = false;
  bool thousands_space = false;  // "90 164"
  bool thousands_nbsp = false;   // U+00A0, UTF-8 C2 A0
  bool thousands_apostrophe = false;
  bool any_thousands() const {
    return thousands_dot || thousands_comma || thousands_space || thousands_nbsp ||
           thousands_apostrophe;
  }
};

enum class NumberResult { kOk, kSyntax, kOverflow };

// Parses an optionally signed integer; thousands separators must group by 3
// ("1.234.567", not "12.34"). No surrounding spaces allowed.
NumberResult ParseInt64(absl::string_view s, const NumberFormat& f, int64_t* out);
// Parses a finite decimal number ("-1.234,5" with decimal ',' and thousands
// '.'); exponents allowed ("1e-3"); "inf"/"nan" are rejected.
NumberResult ParseDouble(absl::string_view s, const NumberFormat& f, double* out);

enum class DateFormat { kAuto, kIso, kDe, kYyyymmdd };

// A parsed date or date-time as written (civil fields, plus zone if given).
struct ParsedDateTime {
  int64_t days = 0;  // civil date, days since 1970-01-01
  int64_t micros_of_day = 0;
  bool has_time = false;
  bool has_zone = false;       // "Z" or "+hh:mm"
  int64_t offset_seconds = 0;  // east of UTC
};

// Parses "2023-12-31", "2023-12-31T10:15[:00[.000]][Z|+01:00]" (also with a
// space instead of "T"), "31.12.2023[ 10:15[:00]]", "20231231". Rejects
// dates that do not exist (31.02.2023).
bool ParseDateTime(absl::string_view s, DateFormat f, ParsedDateTime* out);

// Trims ASCII spaces/tabs/CR/LF and U+00A0 at both ends.
absl::string_view TrimCell(absl::string_view s);

// The type's name with its indefinite article: "an int64", "a double".
std::string TypeWithArticle(ColumnType type);

// Converts cells for one ColumnSpec.
class CellParser {
 public:
  // Errors: InvalidArgument naming the offending spec field (without the
  // column path; the caller adds it).
  static absl::StatusOr<CellParser> Create(const v1::ColumnSpec& spec);

  ColumnType type() const { return type_; }
  bool nullable() const { return nullable_; }

  // True when `trimmed` means NULL (empty or a configured placeholder).
  bool IsNullText(absl::string_view trimmed) const;

  // Appends the value of `cell` (raw field text) to `b`. On failure returns
  // false and sets `error` to e.g. "\"1.2x\" is not an int64".
  bool AppendText(absl::string_view cell, ColumnBuilder* b, std::string* error) const;
  // Appends NULL, or fails for a non-nullable column.
  bool AppendNull(ColumnBuilder* b, std::string* error) const;
  // Typed appends for JSON scalars; fail when the type does not fit.
  bool AppendInt(int64_t v, ColumnBuilder* b, std::string* error) const;
  bool AppendDouble(double v, ColumnBuilder* b, std::string* error) const;
  bool AppendBool(bool v, ColumnBuilder* b, std::string* error) const;

 private:
  CellParser() = default;
  bool ConvertTime(const ParsedDateTime& p, absl::string_view cell, int64_t* out,
                   std::string* error) const;

  ColumnType type_ = storage::v1::COLUMN_TYPE_UNSPECIFIED;
  bool nullable_ = true;
  NumberFormat number_;
  DateFormat date_ = DateFormat::kAuto;
  bool has_zone_ = false;
  absl::TimeZone zone_;
  std::vector<std::string> null_values_;
  std::vector<std::string> true_values_;
  std::vector<std::string> false_values_;
};

}  // namespace fednode::ingest
