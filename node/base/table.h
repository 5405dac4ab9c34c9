// The in-memory columnar table that ingest produces, storage persists as
// immutable column segments, and query scans.
//
// Layout per column type (one vector is used, the others stay empty):
//   INT64, BOOL (0/1), DATE (days since 1970-01-01),
//   TIMESTAMP (microseconds since 1970-01-01T00:00:00)   -> `ints`
//   DOUBLE                                                -> `doubles`
//   STRING (UTF-8, NFC): dictionary encoded               -> `codes` into `dict`
// `validity` is empty when the column has no NULL; otherwise it holds one byte
// per row, 1 = value present, 0 = NULL. The value slot of a NULL holds 0 / code 0
// ("" is then not necessarily in dict; readers must check validity first).
//
// Not thread-safe while being built; immutable tables may be shared read-only
// across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "proto/storage/v1/dataset.pb.h"

namespace fednode {

using ColumnType = storage::v1::ColumnType;
using Schema = storage::v1::Schema;

struct Column {
  ColumnType type = storage::v1::COLUMN_TYPE_UNSPECIFIED;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<uint32_t> codes;
  std::vector<std::string> dict;
  std::vector<uint8_t> validity;

  // Number of rows.
  size_t size() const;
  bool has_nulls() const { return !validity.empty(); }
  bool IsNull(size_t row) const { return !validity.empty() && validity[row] == 0; }
  // REQUIRES: type == STRING and !IsNull(row).
  const std::string& StringAt(size_t row) const { return dict[codes[row]]; }
};

struct Table {
  Schema schema;
  std::vector<Column> columns;  // one per schema column, same order
  size_t num_rows = 0;

  // Index of the column named `name`, or -1.
  int ColumnIndex(absl::string_view name) const;
};

// The rows `rows` of `table` (each < table.num_rows, sorted, each once) as a
// table of their own, in that order, with table's schema. A string column
// keeps only the dictionary entries its non-NULL rows use, in dictionary
// order; a NULL row's code becomes 0, as ColumnBuilder writes it.
Table GatherRows(const Table& table, const std::vector<uint32_t>& rows);

// Builds one Column row by row; strings are deduplicated into the dictionary.
// Not thread-safe.
class ColumnBuilder {
 public:
  explicit ColumnBuilder(ColumnType type);

  void AppendInt(int64_t v);
  void AppendDouble(double v);
  void AppendString(absl::string_view v);
  void AppendNull();
  size_t size() const { return size_; }
  ColumnType type() const { return column_.type; }

  // Moves the built column out; the builder is empty afterwards.
  Column Finish();

 private:
  void MarkValid();
  Column column_;
  size_t size_ = 0;
  absl::flat_hash_map<std::string, uint32_t> index_;
};

// Checks that every column has num_rows values, the types match the schema
// and non-nullable columns hold no NULL.
// Errors: Internal naming the first inconsistent column.
absl::Status ValidateTable(const Table& table);

// "int64", "double", "string", "bool", "date", "timestamp".
absl::string_view ColumnTypeName(ColumnType type);
// Inverse of ColumnTypeName; InvalidArgument for an unknown name.
absl::StatusOr<ColumnType> ParseColumnTypeName(absl::string_view name);

// Calendar helpers (proleptic Gregorian, no time zone).
// Days since 1970-01-01 of a valid y-m-d; false when the date does not exist.
bool CivilDayToDays(int64_t year, int month, int day, int64_t* days);
// "YYYY-MM-DD".
std::string FormatDate(int64_t days);
// "YYYY-MM-DDTHH:MM:SS" (plus ".ffffff" when the fraction is non-zero).
std::string FormatTimestamp(int64_t micros);

}  // namespace fednode
