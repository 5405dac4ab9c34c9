// Result formatting: renders a query ResultSet as an aligned text table, CSV
// or JSON for fedctl and the admin API (node/query; called by node/cli and
// node/server). Pure functions; safe for concurrent use.
#pragma once

#include <string>

#include "proto/query/v1/query.pb.h"

namespace fednode::query {

enum class Format {
  // Aligned text in psql's style: a header line, a "-+-" rule, one line per
  // row and a "(N rows)" footer. Numbers are right-aligned, everything else
  // left-aligned; widths count Unicode code points (an umlaut is one column).
  // NULL is shown as "NULL".
  kTable,
  // RFC 4180: a header row, `,` between fields, CRLF after every record,
  // fields containing `,`, `"`, CR or LF quoted with `"` (inner quotes
  // doubled), `.` as decimal mark, NULL as an empty field.
  kCsv,
  // A JSON array with one object per row (keys = column names in result
  // order), one object per line. NULL is null, dates "YYYY-MM-DD",
  // timestamps "YYYY-MM-DDTHH:MM:SS[.ffffff]", non-finite doubles null.
  kJson,
};

// Renders `result` in `format`. Every format ends with a newline.
// Doubles are printed with up to 10 significant digits and without exponent
// for magnitudes in [1e-6, 1e15) (72.55, not 72.549999); outside that range in
// %g style. Booleans are true/false.
std::string FormatResult(const v1::ResultSet& result, Format format);

// One value as text in the style of the table and CSV formats (NULL as
// "NULL").
std::string FormatValue(const v1::Value& value);

}  // namespace fednode::query
