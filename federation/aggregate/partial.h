// Partial plans and partial aggregates of a regional statistic.
//
// A county asks its members for a grouped aggregate (e.g. SUM(einwohner) BY
// klasse). Each member cannot simply run that plan: AVG is not mergeable, and
// the county needs the number of contributing rows per group for disclosure
// control. So the plan is rewritten into a *partial plan* that every member
// runs with its ordinary executor (node/query):
//
//   requested            partial plan columns (after the group columns)
//   (always)             COUNT(*)                     -> units
//   COUNT(*)             (uses units)
//   COUNT(col)           COUNT(col)
//   SUM(col)             COUNT(col), SUM(col)
//   AVG(col)             COUNT(col), SUM(col)         (AVG = sum / count)
//   MIN(col)             COUNT(col), MIN(col)
//   MAX(col)             COUNT(col), MAX(col)
//
// The member turns the result into a v1::PartialAggregate (ToPartial) and
// sends it; the county validates and merges the partials (merge.h).
//
// Layer: federation/aggregate, a pure library (no I/O, no gRPC); called by
// the county's fan-out and by the member's aggregate handler.
// Thread-safety: pure functions; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "proto/aggregate/v1/aggregate.pb.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::aggregate {

// A plan rewritten for partial aggregation, plus how to read its result.
struct PartialPlan {
  // One requested aggregate and the result columns of its partial state
  // (indexes into the partial plan's result columns; -1 when not needed).
  struct Aggregate {
    query::v1::AggregateFunction function = query::v1::AGGREGATE_FUNCTION_UNSPECIFIED;
    std::string column;       // empty for COUNT(*)
    std::string output_name;  // query::OutputName of the original select item
    int count_index = -1;     // COUNT(column); -1 for COUNT(*) (units)
    int sum_index = -1;       // SUM and AVG
    int min_index = -1;       // MIN
    int max_index = -1;       // MAX
  };

  // What the members execute. Same dataset and filter as the original; the
  // select list is: group items (in GROUP BY order, never hidden), COUNT(*),
  // then the partial states in `aggregates` order. No ORDER BY, no LIMIT.
  query::v1::QueryPlan plan;
  // The GROUP BY output names, in order; result columns 0..n-1.
  std::vector<std::string> group_columns;
  // Result column of COUNT(*) (== group_columns.size()).
  int units_index = 0;
  // The visible aggregates of the original plan, in select order.
  std::vector<Aggregate> aggregates;
};

// ToPartialPlan()
//
// Rewrites an aggregate `plan` (as validated by query::ValidatePlan) into its
// partial plan (table above). Hidden aggregate items (ORDER BY helpers) and
// ORDER BY are dropped: the merged table is ordered by group key.
// Errors: InvalidArgument when the plan has no aggregate, has a non-aggregate
// select item that is not grouped, uses COUNT(DISTINCT) (not mergeable), has
// LIMIT or OFFSET (a partial top-k is not a top-k of the union), or names an
// output "__partial_*" (reserved for the partial columns).
absl::StatusOr<PartialPlan> ToPartialPlan(const query::v1::QueryPlan& plan);

// ToPartial()
//
// Member side: turns the executor's result of `partial.plan` into the partial
// aggregate to send. `origin` gives member AGS, dataset id and agreement
// version; its dataset_version is overwritten with result.dataset_version.
// Shapes: `result` must have the partial plan's columns (names and order);
// one row per group. Groups with 0 units are dropped unless the plan is
// ungrouped.
// Errors: InvalidArgument when `result` does not have the partial plan's
// shape (column names, value kinds, negative counts, sum present without
// values).
absl::StatusOr<v1::PartialAggregate> ToPartial(const PartialPlan& partial,
                                               const query::v1::ResultSet& result,
                                               const v1::Origin& origin);

// ValidatePartial()
//
// County side: checks an untrusted partial from a peer against the plan it
// was sent: group columns (names) and aggregate specs match, every group has
// one key value per group column of the declared kind (or null), units >= 0,
// 0 <= count <= units, sum/min/max present exactly for the functions that
// need them, of the declared type, and null exactly when count is 0.
// Errors: InvalidArgument naming the member and the first defect.
absl::Status ValidatePartial(const PartialPlan& partial, const v1::PartialAggregate& p);

// The query::v1::Value kind (Value::kInt64Value, ...) that carries `type`;
// Value::KIND_NOT_SET for UNSPECIFIED.
query::v1::Value::KindCase KindOfType(storage::v1::ColumnType type);

// Three-way comparison of two values for ordering group keys and for MIN /
// MAX: null first, then by kind, then by value (strings bytewise, as the
// executor does; doubles numerically). Returns <0, 0 or >0.
int CompareValues(const query::v1::Value& a, const query::v1::Value& b);

}  // namespace fednode::aggregate
