// The county's merge of members' partial aggregates into one table with
// totals (margins), ready for disclosure control (disclosure.h) and output
// (table_format.h).
//
// Layer: federation/aggregate, a pure library (no I/O, no gRPC); called by
// the county's aggregate command after the fan-out collected the partials.
// Thread-safety: pure functions; a MergedTable is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

#include "federation/aggregate/partial.h"
#include "proto/aggregate/v1/aggregate.pb.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::aggregate {

enum class Suppression {
  kNone,
  // Fewer contributing units than the minimum cell count.
  kPrimary,
  // Complementary: suppressed so that no primary cell can be recomputed from
  // the published cells and totals.
  kSecondary,
};

enum class CellKind {
  kCell,         // an interior cell: one group
  kRowTotal,     // two group columns: sum over the second column for one key[0]
  kColumnTotal,  // two group columns: sum over the first column for one key[1]
  kGrandTotal,   // over all cells (tables with at least one group column)
};

// The merged state of one aggregate; the output value is derived from it.
struct MergedState {
  int64_t count = 0;          // non-NULL values merged
  bool int_sum = false;       // sum is int64 (INT64 column)
  int64_t sum_int = 0;        // valid when int_sum and !sum_overflow
  bool sum_overflow = false;  // the int64 sum left [-2^63, 2^63)
  double sum_double = 0;      // the sum in double (always kept; AVG uses it)
  query::v1::Value min;       // null when count == 0 or not requested
  query::v1::Value max;
};

// One cell or total of the merged table.
struct Cell {
  CellKind kind = CellKind::kCell;
  // One value per MergedTable::key_columns entry. In totals the summed-over
  // positions hold a null Value (read `kind`, not the null, to tell a total
  // from a group whose key is NULL).
  std::vector<query::v1::Value> key;
  // Contributing rows (COUNT(*)) over all merged members.
  int64_t units = 0;
  // AGS of the members with units > 0 in this cell, ascending, unique.
  std::vector<std::string> members;
  // Output values, one per MergedTable::aggregates entry: COUNT int64; SUM
  // int64 (INT64 column) or double; AVG double; MIN / MAX of the column type;
  // null when no non-NULL value was merged (except COUNT: 0).
  std::vector<query::v1::Value> values;
  std::vector<MergedState> states;  // same order as `values`
  Suppression suppression = Suppression::kNone;
};

struct OutputAggregate {
  std::string name;
  query::v1::AggregateFunction function = query::v1::AGGREGATE_FUNCTION_UNSPECIFIED;
  storage::v1::ColumnType type = storage::v1::COLUMN_TYPE_UNSPECIFIED;  // of `values`
};

struct MergedTable {
  // Group columns: with MergeOptions::group_by_member first "member_ags"
  // (STRING), then the plan's GROUP BY columns.
  std::vector<query::v1::ResultColumn> key_columns;
  std::vector<OutputAggregate> aggregates;
  // Interior cells, one per distinct key, ordered by key ascending
  // (CompareValues per position). Only groups with units > 0 exist; a key
  // combination with no row is absent (an empty cell, "–").
  std::vector<Cell> cells;
  // Exactly two key columns: one row total per distinct key[0] and one
  // column total per distinct key[1], both ascending. Empty otherwise.
  std::vector<Cell> row_totals;
  std::vector<Cell> column_totals;
  // At least one key column: the total over all cells. Absent for an
  // ungrouped table (its single cell is the total).
  std::optional<Cell> grand_total;
  // Totals are always computed from ALL cells, including those later
  // suppressed; that is why disclosure control needs secondary suppression.
  // AGS of the merged partials, ascending.
  std::vector<std::string> members;
  // Set by ApplyDisclosureControl: the rule and threshold applied, as text.
  // Empty: no disclosure control applied yet.
  std::string disclosure_rule;
};

struct MergeOptions {
  // Adds the member's AGS as the first group column, so the table has one
  // row per member and class plus, as totals, the county figures.
  // Default: false.
  bool group_by_member = false;
};

// Merge()
//
// Merges `partials` (one per answering member; untrusted: from remote peers)
// of `partial`'s plan by group key: units, counts and sums add, MIN / MAX
// take the extreme, AVG = merged sum / merged count. Totals as described in
// MergedTable. Double sums are added in `partials` order (not bit-identical
// to a single pass over the union of the rows).
// Errors: InvalidArgument when a partial fails ValidatePartial, two partials
// come from the same member AGS, or partials disagree on a value type;
// OutOfRange when a merged int64 SUM (in a cell or a total) overflows int64
// (AVG does not overflow: it is computed from the double sum).
absl::StatusOr<MergedTable> Merge(const PartialPlan& partial,
                                  absl::Span<const v1::PartialAggregate> partials,
                                  const MergeOptions& options = {});

// MergeFitting()
//
// Merges the partials of `partials` (indexed by member; nullopt: no answer)
// so that one member whose values do not fit (a column of another type under
// the same schema id) does not fail the whole statistic. Usually all of them
// merge at once. Otherwise (Merge() says InvalidArgument) the partial that
// merges pairwise with the most others is the basis and the others join in
// index order while Merge() still succeeds. (*rejected)[i] (resized to
// partials.size()) is empty for a merged or absent partial, else the reason
// from Merge(); *merged = the number of partials in the table (0: the
// error of the last failed Merge() is returned).
// Errors: as Merge() for errors that are no single member's (OutOfRange).
absl::StatusOr<MergedTable> MergeFitting(
    const PartialPlan& partial, const MergeOptions& options,
    const std::vector<std::optional<v1::PartialAggregate>>& partials,
    std::vector<std::string>* rejected, size_t* merged);

}  // namespace fednode::aggregate
