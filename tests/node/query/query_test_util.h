// Test helpers for node/query: tables and snapshots built by hand.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "node/base/table.h"
#include "node/storage/dataset_store.h"

namespace fednode::query::testing {

// A cell: NULL, an integer (also BOOL 0/1, DATE days, TIMESTAMP micros), a
// double or a string.
using Cell = std::variant<std::monostate, int64_t, double, std::string>;

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
      if (std::holds_alternative<std::monostate>(cell)) {
        b.AppendNull();
      } else if (std::holds_alternative<int64_t>(cell)) {
        b.AppendInt(std::get<int64_t>(cell));
      } else if (std::holds_alternative<double>(cell)) {
        b.AppendDouble(std::get<double>(cell));
      } else {
        b.AppendString(std::get<std::string>(cell));
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
