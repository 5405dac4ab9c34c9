// Statistical disclosure control of a merged table (federation/aggregate):
// primary suppression by a minimum cell count and secondary (complementary)
// suppression so that no suppressed cell can be recomputed exactly from the
// cells and totals that are shown.
//
// The rules follow the usual practice of official statistics for frequency
// and magnitude tables ("Geheimhaltung" in the tabulation of the German
// statistical offices: a cell with fewer than 3 contributors is kept secret,
// and further cells are kept secret so that it cannot be derived from totals)
// and Hundepool et al., "Statistical Disclosure Control", Wiley 2012, ch. 4
// (tabular data: the threshold rule, and secondary suppression as protecting
// every suppressed cell against exact recalculation from the table's additive
// relations).
//
// Primary suppression. Every cell and total whose measure is below
// `min_cell_count` is suppressed (kPrimary). The measure is the number of
// contributing rows (ThresholdUnit::kRows) or of contributing members
// (kMembers; e.g. population by urbanisation class, where a class with fewer
// than 3 municipalities is suppressed). Empty cells (no row) do not exist in
// the table and are not suppressed: that they are empty is public.
//
// Secondary suppression. Totals are shown and computed from ALL cells, so:
//  * 0 group columns: one cell, no total; nothing further.
//  * 1 group column, or 3 and more (only the grand total is shown): the cells
//    and the grand total form one additive relation. If exactly one of them
//    is suppressed, the cell with the smallest measure (ties: fewest rows,
//    then key order) is suppressed as well; if no cell is left, the total.
//  * 2 group columns with row totals, column totals and the grand total:
//    cells and totals form a (R+1) x (C+1) grid in which every row and every
//    column is one additive relation. Seen as a bipartite graph (grid rows
//    and grid columns are vertices, suppressed entries are edges), a
//    suppressed entry can be recomputed exactly if and only if it lies on no
//    cycle, i.e. it is a bridge. While some suppressed entry is a bridge, the
//    cheapest path between its row and its column that avoids it is
//    suppressed too (Dijkstra; an already suppressed entry costs 0, a cell
//    1 + its measure, a row or column total 10^9 x (1 + its measure), so a
//    total is only used when no path of cells exists; the grand total only
//    as a last resort). The path closes a cycle, e.g. the classic rectangle
//    of 4 cells for one primary cell. In particular every row and column of
//    the grid then holds 0 or at least 2 suppressed entries.
// This is a heuristic: it guarantees that no suppressed value can be
// recomputed EXACTLY, but it does not minimise the information lost, and it
// does not bound the feasibility intervals of suppressed cells (interval or
// "protection level" disclosure). The optimal methods (hypercube method,
// minimal-cost network-flow and integer-programming models as in tau-ARGUS)
// are NOT implemented. Nor is a dominance (p%) rule: MIN and MAX show a
// single unit's value and are not protected by the threshold.
//
// Layer: federation/aggregate, a pure library. Thread-safety: pure
// functions on a caller-owned table.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

#include "federation/aggregate/merge.h"

namespace fednode::aggregate {

// What a cell's size is measured in for the threshold.
enum class ThresholdUnit {
  kRows,     // contributing rows (units)
  kMembers,  // contributing members (distinct member AGS with rows in the cell)
};

// The usual minimum of official statistics (fewer than 3 contributors are
// secret); also the agreement's DisclosureDefaults.min_cell_count default.
inline constexpr uint32_t kDefaultMinCellCount = 3;

struct DisclosureOptions {
  // Minimum measure of a published cell; cells below it are suppressed.
  // From the agreement (Grant.min_cell_count, else
  // DisclosureDefaults.min_cell_count). 0 means kDefaultMinCellCount;
  // 1 disables primary suppression. Default: 3.
  uint32_t min_cell_count = kDefaultMinCellCount;
  // Default: kRows.
  ThresholdUnit unit = ThresholdUnit::kRows;
};

// ApplyDisclosureControl()
//
// Marks cells and totals of `table` as suppressed (primary or secondary, see
// the file comment); never removes or zeroes them (output functions hide the
// values of suppressed entries). Sets table->disclosure_rule, e.g.
// "primary: fewer than 3 members; secondary: complementary suppression in
// rows and columns with totals".
// Errors: FailedPrecondition when disclosure control was already applied.
absl::Status ApplyDisclosureControl(const DisclosureOptions& options, MergedTable* table);

}  // namespace fednode::aggregate
