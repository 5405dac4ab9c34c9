// Test helpers for node/query: tables and snapshots built by hand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "node/base/table.h"
#include "node/storage/dataset_store.h"

namespace fednode::query::testing {

// A cell: NULL, an integer (also BOOL 0/1, DATE days, TIMESTAMP micros), a
// double or a string.
// (A plain struct: GCC 12 reports false maybe-uninitialized warnings for a
// std::variant here.)
struct Cell {
  enum Kind { kNull, kInt, kDouble, kString };
  Kind kind = kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;

  Cell() = default;
  Cell(int64_t v) : kind(kInt), i(v) {}                    // NOLINT(google-explicit-constructor)
  Cell(double v) : kind(kDouble), d(v) {}                  // NOLINT(google-explicit-constructor)
  Cell(std::string v) : kind(kString), s(std::move(v)) {}  // NOLINT(google-explicit-constructor)
};

inline Schema MakeSchema(const std::vector<std::pair<std::string, ColumnType>>& cols) {
  Schema schema;
  for (const auto& [name, type] : cols) {
    auto* c = schema.add_columns();
    c->set_name(name);
    c->set_type(type);
    c->set_nullable(true);
  }
  return schema;
}

inline std::shared_ptr<const Table> MakeTable(const Schema& schema,
                                              const std::vector<std::vector<Cell>>& rows) {
  auto table = std::make_shared<Table>();
  table->schema = schema;
  for (int c = 0; c < schema.columns_size(); ++c) {
    ColumnBuilder b(schema.columns(c).type());
    for (const auto& row : rows) {
      const Cell& cell = row[c];
      switch (cell.kind) {
        case Cell::kNull:
          b.AppendNull();
          break;
        case Cell::kInt:
          b.AppendInt(cell.i);
          break;
        case Cell::kDouble:
          b.AppendDouble(cell.d);
          break;
        case Cell::kString:
          b.AppendString(cell.s);
          break;
      }
    }
    table->columns.push_back(b.Finish());
  }
  table->num_rows = rows.size();
  return table;
}

inline storage::TableSnapshot MakeSnapshot(
    const Schema& schema,
    std::vector<std::pair<std::shared_ptr<const Table>, std::vector<uint32_t>>> segments) {
  storage::TableSnapshot snap;
  snap.dataset_id = "test";
  snap.version = 7;
  snap.schema = schema;
  for (auto& [table, deleted] : segments) {
    snap.num_rows += table->num_rows - deleted.size();
    snap.segments.push_back({std::move(table), std::move(deleted)});
  }
  return snap;
}

}  // namespace fednode::query::testing
