// Helpers for storage tests: build small typed tables from literal rows and
// read a snapshot's visible rows back (test-only).
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "node/base/table.h"
#include "node/storage/dataset_store.h"

namespace fednode::storage::testing {

// NULL, int64 (also date/timestamp), double, string, bool.
using Cell = std::variant<std::monostate, int64_t, double, std::string, bool>;
using Row = std::vector<Cell>;

struct ColumnSpec {
  std::string name;
  ColumnType type;
  bool nullable = false;
};

Schema MakeSchema(const std::vector<ColumnSpec>& columns,
                  const std::vector<std::string>& primary_key = {},
                  const std::string& conforms_to = "");

// REQUIRES: every row has one cell per schema column, of the column's kind.
Table MakeTable(const Schema& schema, const std::vector<Row>& rows);

// The visible rows of `snapshot` in segment order (deleted rows skipped).
std::vector<Row> SnapshotRows(const TableSnapshot& snapshot);

// A DatasetWrite without catalog callback.
DatasetWrite MakeWrite(const std::string& id, ImportMode mode, Table table,
                       const std::string& sha = "");

}  // namespace fednode::storage::testing
