#include "tests/node/storage/test_tables.h"

#include <algorithm>
#include <utility>

#include "gtest/gtest.h"

namespace fednode::storage::testing {

Schema MakeSchema(const std::vector<ColumnSpec>& columns,
                  const std::vector<std::string>& primary_key, const std::string& conforms_to) {
  Schema s;
  for (const ColumnSpec& c : columns) {
    auto* col = s.add_columns();
    col->set_name(c.name);
    col->set_type(c.type);
    col->set_nullable(c.nullable);
  }
  for (const std::string& k : primary_key) s.add_primary_key(k);
  s.set_conforms_to(conforms_to);
  return s;
}

Table MakeTable(const Schema& schema, const std::vector<Row>& rows) {
  Table t;
  t.schema = schema;
  t.num_rows = rows.size();
  for (int c = 0; c < schema.columns_size(); ++c) {
    ColumnBuilder b(schema.columns(c).type());
    for (const Row& row : rows) {
      const Cell& cell = row[static_cast<size_t>(c)];
      if (std::holds_alternative<std::monostate>(cell)) {
        b.AppendNull();
      } else if (const auto* i = std::get_if<int64_t>(&cell)) {
        b.AppendInt(*i);
      } else if (const auto* d = std::get_if<double>(&cell)) {
        b.AppendDouble(*d);
      } else if (const auto* s = std::get_if<std::string>(&cell)) {
        b.AppendString(*s);
      } else {
        b.AppendInt(std::get<bool>(cell) ? 1 : 0);
      }
    }
    t.columns.push_back(b.Finish());
  }
  return t;
}

std::vector<Row> SnapshotRows(const TableSnapshot& snapshot) {
  std::vector<Row> out;
  for (size_t s = 0; s < snapshot.segments.size(); ++s) {
    const TableSnapshot::Segment& seg = snapshot.segments[s];
    absl::StatusOr<std::shared_ptr<const Table>> loaded = snapshot.LoadSegment(s);
    if (!loaded.ok()) {
      ADD_FAILURE() << "loading segment " << s << ": " << loaded.status();
      return out;
    }
    const Table& t = **loaded;
    for (size_t r = 0; r < t.num_rows; ++r) {
      if (std::binary_search(seg.deleted_rows.begin(), seg.deleted_rows.end(),
                             static_cast<uint32_t>(r))) {
        continue;
      }
      Row row;
      for (const Column& c : t.columns) {
        if (c.IsNull(r)) {
          row.emplace_back(std::monostate());
          continue;
        }
        switch (c.type) {
          case v1::COLUMN_TYPE_DOUBLE:
            row.emplace_back(c.doubles[r]);
            break;
          case v1::COLUMN_TYPE_STRING:
            row.emplace_back(c.StringAt(r));
            break;
          case v1::COLUMN_TYPE_BOOL:
            row.emplace_back(c.ints[r] != 0);
            break;
          default:
            row.emplace_back(c.ints[r]);
        }
      }
      out.push_back(std::move(row));
    }
  }
  return out;
}

DatasetWrite MakeWrite(const std::string& id, ImportMode mode, Table table,
                       const std::string& sha) {
  DatasetWrite w;
  w.dataset_id = id;
  w.mode = mode;
  w.table = std::move(table);
  w.source_sha256 = sha;
  return w;
}

}  // namespace fednode::storage::testing
