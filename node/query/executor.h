// Query execution: validates a QueryPlan against a dataset version's schema
// and runs it on that immutable snapshot (scan, filter, group, aggregate,
// order, limit). The scan loads the snapshot's segments one at a time, so
// its memory is bounded by one segment, not by the dataset. Execute builds
// the whole ResultSet; ExecuteStreaming hands a plain query's rows to a
// RowSink as the scan finds them.
//
// Layer: node/query; called by node/server. Knows nothing of RocksDB or gRPC.
// Filters use SQL's three-valued logic: a comparison with NULL is unknown and
// excludes the row, NOT of unknown stays unknown. LIKE/ILIKE match Unicode
// code points; ILIKE folds case with Unicode simple case folding (ICU).
//
// Thread-safety: Execute is safe for concurrent use on shared snapshots.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"

#include "node/storage/dataset_store.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::query {

// Checks `plan` against `schema`: every column exists, literals fit the
// column types (a date string for a DATE column, ...), aggregates fit their
// column (SUM/AVG only on numeric columns), non-aggregated select items are
// grouped, ORDER BY names an output column.
// Errors: InvalidArgument naming the column or construct.
absl::Status ValidatePlan(const v1::QueryPlan& plan, const Schema& schema);

// Rows per scan chunk by default: the storage's default column chunk.
inline constexpr uint32_t kDefaultChunkRows = uint32_t{1} << 17;

struct ExecuteOptions {
  // Asked before every chunk of the scan and once more before the result is
  // ordered and emitted, with the rows scanned so far (including deleted and
  // filtered-out rows). OK continues; any other status stops the query (e.g.
  // CancelledError("caller cancelled") when the caller went away,
  // DeadlineExceededError when its deadline passed). Must be cheap and
  // thread-compatible with the caller. Default: empty, never stops.
  std::function<absl::Status(uint64_t rows_scanned)> interrupt;
  // Rows per chunk, at least 1. A chunk grows to the size of the largest
  // dictionary the query works through per chunk (a string column it filters
  // on, groups by or aggregates), so that this per-chunk work stays linear
  // in the rows scanned; a chunk never spans two segments. Default
  // kDefaultChunkRows (128 Ki).
  uint32_t chunk_rows = kDefaultChunkRows;
  // ExecuteStreaming only: rows per RowSink::OnRows batch at most; 0 counts
  // as 1. Default 4096 (the services' rows per streamed message).
  uint32_t stream_batch_rows = 4096;
  // ExecuteStreaming to a column-batch sink only: a batch ends once its
  // values take about this many bytes (query::BatchBytes), so that a
  // message of wide rows stays far under gRPC's 4 MiB default. Default
  // 1 MiB.
  size_t stream_batch_bytes = size_t{1} << 20;
  // Look rows up in the dataset's primary-key index instead of scanning when
  // the filter pins every primary-key column (see Execute). false always
  // scans (the benchmarks' baseline; tests compare both). Default true.
  bool use_primary_key = true;
  // ... and only when the snapshot holds at least this many rows per key to
  // look up: below that, scanning the rows costs less than the lookups.
  // Default 2048: tests/bench/point_bench.cc measured the lookup of one key
  // (catalog entry and snapshot included) at 10.0-13.2 us against the scan's
  // 9.9-10.0 us at 1,000 cached rows and 16.2-16.8 us at 4,096 rows (two
  // runs). 0 = whenever the filter allows.
  uint64_t min_rows_per_key = 2048;
};

// Receives a query result piece by piece from ExecuteStreaming: the header
// once, then the rows in result order in batches. Either method can stop
// the query by returning a non-OK status, which ExecuteStreaming then
// returns unchanged. Called on the caller's thread only.
class RowSink {
 public:
  virtual ~RowSink() = default;

  // Called once, before any OnRows: `header` holds the output columns,
  // dataset_version and rows_scanned (as in Execute's result) and no rows.
  virtual absl::Status OnColumns(const v1::ResultSet& header) = 0;

  // The next 1 .. options.stream_batch_rows rows of the result; the sink
  // may move them out (the executor clears the field after the call).
  virtual absl::Status OnRows(google::protobuf::RepeatedPtrField<v1::Row>* rows) = 0;

  // True when the sink takes the rows as column batches (OnBatch) instead
  // of Row messages (OnRows): the cheaper form for large results, built
  // straight from the scanned columns. Asked once, before OnColumns.
  virtual bool WantsColumnBatches() const { return false; }

  // With WantsColumnBatches: the next 1 .. options.stream_batch_rows rows
  // (and about options.stream_batch_bytes of values at most, one row more
  // than that when a single row is larger) as a column batch in the
  // header's column order. The sink may move it out.
  virtual absl::Status OnBatch(v1::ColumnBatch* /*batch*/) {
    return absl::UnimplementedError("this sink takes rows, not column batches");
  }
};

// Validates and runs `plan` on `snapshot`. Groups come out ordered by the
// ORDER BY, groups that tie on it (and all groups without one) by group key
// ascending with the NULL group first. In an ORDER BY key NULL sorts as in
// PostgreSQL: last ascending, first descending, unless NULLS FIRST/LAST
// (OrderBy.nulls) says otherwise. A double NaN equals nothing (`= 'NaN'` and
// `IN ('NaN')` match no row).
// SUM of INT64 is INT64 (error on overflow), of DOUBLE is DOUBLE; AVG is DOUBLE;
// COUNT is INT64; MIN/MAX keep the column type. Aggregates skip NULLs; SUM,
// MIN, MAX, AVG over no value are NULL. The result does not depend on
// options.chunk_rows.
//
// Primary-key lookups: when the dataset has a primary key and the filter's
// top-level AND holds, for every primary-key column, `column = value` or
// `column IN (values)` (at most 1024 key combinations in all), the rows with
// those keys are found in the version's primary-key index
// (TableSnapshot::FindRowsByPrimaryKey) and only they are read; the whole
// filter is then applied to them as to scanned rows, so the result is the
// same as a scan's, in the same order. rows_scanned is then the number of
// rows found, not the dataset's. A snapshot without an index, or with fewer
// than options.min_rows_per_key rows per key, is scanned.
//
// Errors: InvalidArgument as ValidatePlan; OutOfRange on integer overflow;
// when options.interrupt stops the query, its status's code with the message
// "query stopped after N rows scanned: <its message>"; the errors of
// TableSnapshot::FindRowsByPrimaryKey other than Unimplemented (DataLoss
// for a corrupt index, Unavailable).
absl::StatusOr<v1::ResultSet> Execute(const v1::QueryPlan& plan,
                                      const storage::TableSnapshot& snapshot,
                                      const ExecuteOptions& options = {});

// The output column name of `item`: its alias when set, else the column name
// for a column, "<field>_<column>" for EXTRACT (e.g. "hour_ts"), "count" for
// COUNT(*), "<function>_<column>" for an aggregate ("sum_einwohner") and
// "count_distinct_<column>" for COUNT(DISTINCT column).
std::string OutputName(const v1::SelectItem& item);

// Runs `plan` on `snapshot` like Execute, handing the result to `sink`
// (OnColumns, then OnRows batches) instead of returning it; the rows are
// the same, in the same order, as Execute's.
// A plain query without ORDER BY is streamed: each scanned chunk's rows go
// to the sink before the next chunk is read, so memory stays bounded by
// one segment and one batch, whatever the result's size; LIMIT ends the
// scan once enough rows went out, OFFSET rows are skipped unsent.
// An aggregate (its output is bounded by the number of groups) and a query
// with ORDER BY (every row is needed before the first can go) are computed
// whole as in Execute, then handed over in batches; OnColumns then comes
// after the scan.
// Errors: as Execute (the interrupt's stop may come after some rows went to
// the sink); a sink's non-OK status unchanged.
// REQUIRES: `sink` is not null.
absl::Status ExecuteStreaming(const v1::QueryPlan& plan, const storage::TableSnapshot& snapshot,
                              const ExecuteOptions& options, RowSink* sink);

}  // namespace fednode::query
