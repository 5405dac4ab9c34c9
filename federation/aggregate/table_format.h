// Output of a merged, disclosure-controlled regional statistic: an aligned
// text table for people and a ResultSet for CSV / JSON (node/query's
// formatters).
//
// Layer: federation/aggregate, a pure library; called by the county's
// aggregate command. Thread-safety: pure functions.
#pragma once

#include <string>

#include "absl/status/statusor.h"

#include "federation/aggregate/coverage.h"
#include "federation/aggregate/merge.h"
#include "proto/query/v1/query.pb.h"

namespace fednode::aggregate {

// FormatTable()
//
// Renders `table` as aligned text (widths in Unicode code points):
//   line 1: CoverageLine(coverage) — "complete: ..." or "partial: ...";
//   line 2: "disclosure control: <table.disclosure_rule>", or
//           "disclosure control: NOT APPLIED (internal use only, do not
//           publish)";
//   a header (key columns, "n" = contributing rows, the aggregates), a rule,
//   then the cells by key; with two key columns each row's total follows its
//   cells ("<key0> | Total"), then the column totals ("Total | <key1>");
//   last the grand total, labelled "Total" when the coverage is complete and
//   "Total (answering members only)" when it is partial;
//   when any entry is suppressed, a legend: "(p) primary suppression, (s)
//   secondary suppression", and with two key columns "; a missing key
//   combination has no data" (alone when nothing is suppressed).
// A suppressed entry shows "(p)" or "(s)" in place of n and of every value
// (official statistics print "." for both; the letters say which rule hid
// the value). NULL values print as "NULL". Ends with a newline.
std::string FormatTable(const MergedTable& table, const Coverage& coverage);

// ToResultSet()
//
// The table as a ResultSet, in FormatTable's row order. Columns: the key
// columns (NULL in the summed-over positions of totals), "total" (STRING:
// NULL for a cell, "row", "column" or "grand"), "n" (INT64, contributing
// rows), the aggregates (their output types), "suppressed" (STRING: NULL,
// "primary" or "secondary"). A suppressed entry has NULL in "n" and in every
// aggregate; its key stays visible. dataset_version and rows_scanned are 0.
// Errors: FailedPrecondition when disclosure control was not applied.
absl::StatusOr<query::v1::ResultSet> ToResultSet(const MergedTable& table);

}  // namespace fednode::aggregate
