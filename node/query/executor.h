// Query execution: validates a QueryPlan against a dataset version's schema
// and runs it on that immutable snapshot (scan, filter, group, aggregate,
// order, limit).
//
// Layer: node/query; called by node/server. Knows nothing of RocksDB or gRPC.
// Filters use SQL's three-valued logic: a comparison with NULL is unknown and
// excludes the row, NOT of unknown stays unknown. LIKE/ILIKE match Unicode
// code points; ILIKE folds case with Unicode simple case folding (ICU).
//
// Thread-safety: Execute is safe for concurrent use on shared snapshots.
#pragma once

#include <string>

#include "absl/status/statusor.h"

#include "node/storage/dataset_store.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::query {

// Checks `plan` against `schema`: every column exists, literals fit the
// column types (a date string for a DATE column, ...), aggregates fit their
// column (SUM/AVG only on numeric columns), non-aggregated select items are
// grouped, ORDER BY names an output column.
// Errors: InvalidArgument naming the column or construct.
absl::Status ValidatePlan(const v1::QueryPlan& plan, const Schema& schema);

// Validates and runs `plan` on `snapshot`. Groups come out ordered by the
// ORDER BY, else by group key ascending; NULL sorts first.
// SUM of INT64 is INT64 (error on overflow), of DOUBLE is DOUBLE; AVG is DOUBLE;
// COUNT is INT64; MIN/MAX keep the column type. Aggregates skip NULLs; SUM,
// MIN, MAX, AVG over no value are NULL.
// Errors: InvalidArgument as ValidatePlan; OutOfRange on integer overflow.
absl::StatusOr<v1::ResultSet> Execute(const v1::QueryPlan& plan,
                                      const storage::TableSnapshot& snapshot);

// The output column name of `item`: its alias when set, else the column name
// for a column, "<field>_<column>" for EXTRACT (e.g. "hour_ts"), "count" for
// COUNT(*), "<function>_<column>" for an aggregate ("sum_einwohner") and
// "count_distinct_<column>" for COUNT(DISTINCT column).
std::string OutputName(const v1::SelectItem& item);

}  // namespace fednode::query
