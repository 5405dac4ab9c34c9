// Column batches (query.v1.ColumnBatch): result rows in columns, the wire
// form of streamed row results. One packed array per column instead of a
// message per value: a peer's row download is bounded by the network and the
// scan, not by allocating and encoding millions of small messages.
//
// Layer: node/query; used by node/server (federation and admin streams) and
// by clients that print rows (fedctl). Pure functions, thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"

#include "node/base/table.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::query {

using ResultColumns = google::protobuf::RepeatedPtrField<v1::ResultColumn>;
using Rows = google::protobuf::RepeatedPtrField<v1::Row>;

// Checks that `batch` is well formed for `columns` (it may come from a
// peer): one ColumnValues per column, exactly row_count values in the array
// of the column's type and none in the others, a nulls bitmap that is empty
// or ceil(row_count / 8) bytes with no bit set past row_count, BOOL values 0
// or 1; for STRING columns string_ends non-decreasing, within string_data
// and ending at its end, no value ending inside a character, string_data
// UTF-8 (the check protobuf applies to `string` fields).
// Errors: InvalidArgument naming the column and what is wrong.
absl::Status ValidateBatch(const ResultColumns& columns, const v1::ColumnBatch& batch);

// Value `i` of a STRING batch column: string_data[string_ends[i - 1],
// string_ends[i]) ("" for a NULL row). A view into `values`.
// REQUIRES: `values` passed ValidateBatch (or was built by this file) and
// i < string_ends_size().
absl::string_view BatchString(const v1::ColumnValues& values, size_t i);

// Appends the rows of `batch` to `rows` as Row/Value messages (NULL as
// Value.null_value, DATE as date_days, TIMESTAMP as timestamp_micros).
// Errors: InvalidArgument as ValidateBatch; `rows` is then unchanged.
absl::Status AppendBatchRows(const ResultColumns& columns, const v1::ColumnBatch& batch,
                             Rows* rows);

// Appends rows [begin, end) of `rows` to `batch` (which must be empty or
// hold batches of the same columns). Each row has one value per column, of
// the column's type or NULL (as the executor produces them).
// Shapes: begin <= end <= rows.size().
void AppendRowsToBatch(const ResultColumns& columns, const Rows& rows, int begin, int end,
                       v1::ColumnBatch* batch);

// Rows of a Table to copy into a batch: `n` consecutive rows from `begin`,
// or, when `list` is set, the rows list[0], ..., list[n - 1].
struct TableRows {
  size_t begin = 0;
  size_t n = 0;
  const uint32_t* list = nullptr;

  size_t size() const { return n; }
  // The table row of the k-th row (k < n).
  size_t operator[](size_t k) const { return list != nullptr ? list[k] : begin + k; }
};

// Appends the values of `column` at `rows` to `values`, a batch column of
// the same type, as its next rows (after the values it holds): numbers as
// one bulk copy (a gather for listed rows), a string as its dictionary
// entry appended to string_data (its end to string_ends), a NULL as a set
// bit in the nulls bitmap and a 0 or "" slot. The
// bitmap covers the rows appended so far; SealBatch sizes it for the batch.
// Every column of a batch must get the same rows (the batch's row_count is
// the caller's: SealBatch).
// REQUIRES: every row < column.size().
void AppendColumnToBatch(const Column& column, const TableRows& rows, v1::ColumnValues* values);

// The same for an INT64 result computed from an int-like `column` (e.g.
// EXTRACT): value `f(v)` for each non-NULL value v, NULL stays NULL.
void AppendColumnToBatch(const Column& column, const TableRows& rows,
                         absl::FunctionRef<int64_t(int64_t)> f, v1::ColumnValues* values);

// Marks row `row` of `values` NULL, growing its nulls bitmap as needed (the
// value slot is appended by the caller, as 0 or "").
void MarkNull(size_t row, v1::ColumnValues* values);

// Ends a batch built value by value: sets row_count to `rows` and gives
// every non-empty nulls bitmap its ceil(rows / 8) bytes.
void SealBatch(uint32_t rows, v1::ColumnBatch* batch);

// Bytes the values of `batch` take in memory, approximately (8 per number,
// size + 8 per string): for cutting streams into messages of bounded size.
size_t BatchBytes(const v1::ColumnBatch& batch);

}  // namespace fednode::query
