#include "node/query/batch.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace fednode::query {
namespace {

using storage::v1::ColumnType;
using ::testing::HasSubstr;

ResultColumns Columns() {
  ResultColumns cols;
  const std::pair<const char*, ColumnType> spec[] = {
      {"n", storage::v1::COLUMN_TYPE_INT64},  {"x", storage::v1::COLUMN_TYPE_DOUBLE},
      {"s", storage::v1::COLUMN_TYPE_STRING}, {"b", storage::v1::COLUMN_TYPE_BOOL},
      {"d", storage::v1::COLUMN_TYPE_DATE},   {"t", storage::v1::COLUMN_TYPE_TIMESTAMP},
  };
  for (const auto& [name, type] : spec) {
    v1::ResultColumn* c = cols.Add();
    c->set_name(name);
    c->set_type(type);
  }
  return cols;
}

// Random rows of Columns(), about one value in five NULL.
Rows RandomRows(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  Rows rows;
  for (int r = 0; r < n; ++r) {
    v1::Row* row = rows.Add();
    for (int c = 0; c < 6; ++c) {
      v1::Value* v = row->add_values();
      if (rng() % 5 == 0) {
        v->set_null_value(true);
        continue;
      }
      const int64_t i = static_cast<int64_t>(rng()) - (1LL << 31);
      switch (c) {
        case 0:
          v->set_int64_value(i * 1000003);
          break;
        case 1:
          v->set_double_value(static_cast<double>(i) / 7.0);
          break;
        case 2: {
          // Multibyte UTF-8: 2, 3 and 4 bytes per character.
          static const char* const kTails[] = {"ß", "Grünberg", "€", "🙂", ""};
          v->set_string_value(std::string(rng() % 12, static_cast<char>('a' + rng() % 26)) +
                              kTails[rng() % 5]);
          break;
        }
        case 3:
          v->set_bool_value(rng() % 2 == 0);
          break;
        case 4:
          v->set_date_days(i % 40000);
          break;
        case 5:
          v->set_timestamp_micros(i * 1000000);
          break;
      }
    }
  }
  return rows;
}

TEST(ColumnBatchTest, RowsSurviveTheRoundTripInPieces) {
  const ResultColumns cols = Columns();
  for (int n : {0, 1, 7, 8, 9, 1000}) {
    const Rows rows = RandomRows(n, 42 + static_cast<uint32_t>(n));
    // Built in two appends, as a stream cuts them.
    v1::ColumnBatch batch;
    AppendRowsToBatch(cols, rows, 0, n / 3, &batch);
    AppendRowsToBatch(cols, rows, n / 3, n, &batch);
    ASSERT_EQ(batch.row_count(), static_cast<uint32_t>(n));
    // Through the wire.
    v1::ColumnBatch parsed;
    ASSERT_TRUE(parsed.ParseFromString(batch.SerializeAsString()));
    Rows back;
    ASSERT_TRUE(AppendBatchRows(cols, parsed, &back).ok());
    ASSERT_EQ(back.size(), n);
    for (int r = 0; r < n; ++r) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back[r], rows[r]))
          << "row " << r << ": " << back[r].ShortDebugString() << " vs "
          << rows[r].ShortDebugString();
    }
  }
}

TEST(ColumnBatchTest, IsSmallerOnTheWireThanRows) {
  const ResultColumns cols = Columns();
  const Rows rows = RandomRows(4096, 7);
  v1::ColumnBatch batch;
  AppendRowsToBatch(cols, rows, 0, rows.size(), &batch);
  v1::ResultSet as_rows;
  *as_rows.mutable_rows() = rows;
  EXPECT_LT(batch.ByteSizeLong(), as_rows.ByteSizeLong());
}

TEST(ColumnBatchTest, MalformedBatchesFromAPeerAreRefusedNamingTheColumn) {
  const ResultColumns cols = Columns();
  const Rows rows = RandomRows(20, 3);
  v1::ColumnBatch good;
  AppendRowsToBatch(cols, rows, 0, 20, &good);
  ASSERT_TRUE(ValidateBatch(cols, good).ok());

  auto refused = [&](v1::ColumnBatch b, const std::string& words) {
    Rows out;
    absl::Status s = AppendBatchRows(cols, b, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << words;
    EXPECT_THAT(s.message(), HasSubstr(words));
    EXPECT_EQ(out.size(), 0) << "nothing appended from a refused batch";
  };
  v1::ColumnBatch b = good;
  b.mutable_columns()->RemoveLast();
  refused(b, "has 5 columns, the result 6");
  b = good;
  b.set_row_count(21);
  refused(b, "column n:");
  b = good;
  b.mutable_columns(1)->add_int64s(1);
  refused(b, "column x: expected 20 values of its type, got 1 int64s, 20 doubles");
  b = good;
  b.mutable_columns(2)->set_nulls("\x01");
  refused(b, "column s: nulls bitmap of 1 bytes for 20 rows");
  b = good;
  b.mutable_columns(0)->set_nulls(std::string("\0\0\xf0", 3));
  refused(b, "column n: nulls bitmap has bits past the last row");
  b = good;
  b.mutable_columns(3)->set_int64s(0, 2);
  refused(b, "column b: BOOL value 2");
}

// A batch of an INT64 column "n" and a STRING column "s" holding "Gießen"
// (7 bytes), "" and "Lich".
v1::ColumnBatch PlaceBatch(ResultColumns* cols) {
  for (const auto& [name, type] : {std::pair{"n", storage::v1::COLUMN_TYPE_INT64},
                                   std::pair{"s", storage::v1::COLUMN_TYPE_STRING}}) {
    v1::ResultColumn* c = cols->Add();
    c->set_name(name);
    c->set_type(type);
  }
  v1::ColumnBatch b;
  b.set_row_count(3);
  b.add_columns();
  b.add_columns();
  for (int64_t v : {1, 2, 3}) b.mutable_columns(0)->add_int64s(v);
  b.mutable_columns(1)->set_string_data("GießenLich");
  for (uint32_t end : {7u, 7u, 11u}) b.mutable_columns(1)->add_string_ends(end);
  return b;
}

TEST(ColumnBatchTest, StringValuesAreCutFromOneBlobByTheirEnds) {
  ResultColumns cols;
  const v1::ColumnBatch b = PlaceBatch(&cols);
  ASSERT_TRUE(ValidateBatch(cols, b).ok());
  EXPECT_EQ(BatchString(b.columns(1), 0), "Gießen");
  EXPECT_EQ(BatchString(b.columns(1), 1), "");
  EXPECT_EQ(BatchString(b.columns(1), 2), "Lich");
  Rows rows;
  ASSERT_TRUE(AppendBatchRows(cols, b, &rows).ok());
  ASSERT_EQ(rows.size(), 3);
  EXPECT_EQ(rows[0].values(1).string_value(), "Gießen");
  EXPECT_EQ(rows[1].values(1).string_value(), "");
  EXPECT_EQ(rows[2].values(1).string_value(), "Lich");
}

TEST(ColumnBatchTest, MalformedStringColumnsAreRefusedNamingTheColumn) {
  ResultColumns cols;
  const v1::ColumnBatch good = PlaceBatch(&cols);
  auto refused = [&](const v1::ColumnBatch& b, const std::string& words) {
    Rows out;
    absl::Status s = AppendBatchRows(cols, b, &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << words;
    EXPECT_EQ(s.message(), words);
    EXPECT_EQ(out.size(), 0) << "nothing appended from a refused batch";
  };
  auto with_ends = [&](std::initializer_list<uint32_t> ends) {
    v1::ColumnBatch b = good;
    b.mutable_columns(1)->clear_string_ends();
    for (uint32_t e : ends) b.mutable_columns(1)->add_string_ends(e);
    return b;
  };
  refused(with_ends({7, 11}),
          "column batch, column s: expected 3 values of its type, got 0 int64s, 0 doubles, 2 "
          "strings");
  refused(with_ends({7, 5, 11}),
          "column batch, column s: string 1 ends at 5, after 7, in 11 bytes of string data");
  refused(with_ends({7, 7, 12}),
          "column batch, column s: string 2 ends at 12, after 7, in 11 bytes of string data");
  refused(with_ends({7, 7, 10}),
          "column batch, column s: the strings end at 10 of 11 bytes of string data");
  // "Gie" is 3 bytes, "ß" the next 2: an end at 4 cuts the "ß".
  refused(with_ends({4, 7, 11}), "column batch, column s: string 0 ends inside a UTF-8 character");
  v1::ColumnBatch b = good;
  b.mutable_columns(1)->set_string_data(
      std::string("Gie\xC3\x28"
                  "enLich",
                  11));
  refused(b, "column batch, column s: the string data is not UTF-8");
  b = good;
  b.mutable_columns(0)->set_string_data("abc");
  refused(b, "column batch, column n: 3 bytes of string data");
}

// The rows as a Table of Columns() (the executor's input).
Table ToTable(const ResultColumns& cols, const Rows& rows) {
  Table table;
  for (int c = 0; c < cols.size(); ++c) {
    ColumnBuilder b(cols[c].type());
    for (const v1::Row& row : rows) {
      const v1::Value& v = row.values(c);
      if (v.has_null_value()) {
        b.AppendNull();
      } else if (v.has_double_value()) {
        b.AppendDouble(v.double_value());
      } else if (v.has_string_value()) {
        b.AppendString(v.string_value());
      } else {
        b.AppendInt(v.has_bool_value()         ? int64_t{v.bool_value()}
                    : v.has_date_days()        ? v.date_days()
                    : v.has_timestamp_micros() ? v.timestamp_micros()
                                               : v.int64_value());
      }
    }
    table.columns.push_back(b.Finish());
  }
  table.num_rows = static_cast<size_t>(rows.size());
  return table;
}

// Appends `pieces` of table rows column by column, as the executor streams
// a chunk, and seals the batch.
void AppendPieces(const Table& table, const std::vector<TableRows>& pieces,
                  v1::ColumnBatch* batch) {
  size_t n = 0;
  for (const TableRows& piece : pieces) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      while (batch->columns_size() <= static_cast<int>(c)) batch->add_columns();
      AppendColumnToBatch(table.columns[c], piece, batch->mutable_columns(static_cast<int>(c)));
    }
    n += piece.size();
  }
  SealBatch(static_cast<uint32_t>(n), batch);
}

TEST(ColumnBatchTest, ColumnsAppendedFromATableEqualTheRowsTheyHold) {
  const ResultColumns cols = Columns();
  const Rows rows = RandomRows(1000, 11);
  const Table table = ToTable(cols, rows);
  std::mt19937 rng(5);
  // Listed rows in any order (a filter's selection, rows around deleted
  // ones), with repeats.
  std::vector<uint32_t> listed;
  for (int i = 0; i < 300; ++i) listed.push_back(static_cast<uint32_t>(rng() % 1000));
  struct Case {
    const char* name;
    std::vector<TableRows> pieces;
    std::vector<size_t> want;  // table rows, in batch order
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {TableRows{5, 0, nullptr}, TableRows{0, 0, listed.data()}}, {}});
  {
    Case c{"consecutive, in two pieces across a bitmap byte",
           {TableRows{3, 10, nullptr}, TableRows{13, 987, nullptr}},
           {}};
    for (size_t i = 3; i < 1000; ++i) c.want.push_back(i);
    cases.push_back(std::move(c));
  }
  {
    Case c{"listed, then consecutive",
           {TableRows{0, listed.size(), listed.data()}, TableRows{990, 10, nullptr}},
           {}};
    c.want.assign(listed.begin(), listed.end());
    for (size_t i = 990; i < 1000; ++i) c.want.push_back(i);
    cases.push_back(std::move(c));
  }
  v1::ColumnBatch reused;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ColumnBatch batch;
    AppendPieces(table, c.pieces, &batch);
    ASSERT_EQ(batch.row_count(), c.want.size());
    ASSERT_TRUE(ValidateBatch(cols, batch).ok()) << ValidateBatch(cols, batch);
    v1::ColumnBatch parsed;
    ASSERT_TRUE(parsed.ParseFromString(batch.SerializeAsString()));
    Rows back;
    ASSERT_TRUE(AppendBatchRows(cols, parsed, &back).ok());
    for (size_t r = 0; r < c.want.size(); ++r) {
      const v1::Row& want = rows[static_cast<int>(c.want[r])];
      EXPECT_TRUE(
          google::protobuf::util::MessageDifferencer::Equals(back[static_cast<int>(r)], want))
          << "row " << r << ": " << back[static_cast<int>(r)].ShortDebugString() << " vs "
          << want.ShortDebugString();
    }
    // A batch cleared and filled again (its string objects reused, NULL
    // slots among them) is the same on the wire as a fresh one.
    reused.Clear();
    AppendPieces(table, c.pieces, &reused);
    EXPECT_EQ(reused.SerializeAsString(), batch.SerializeAsString());
  }
}

TEST(ColumnBatchTest, ComputedColumnsKeepNulls) {
  Column col;
  {
    ColumnBuilder b(storage::v1::COLUMN_TYPE_INT64);
    for (int64_t v : {1, 2, 3}) b.AppendInt(v);
    b.AppendNull();
    for (int64_t v : {5, 6, 7, 8, 9}) b.AppendInt(v);
    col = b.Finish();
  }
  const uint32_t listed[] = {8, 3, 0};
  v1::ColumnValues values;
  AppendColumnToBatch(
      col, TableRows{1, 8, nullptr}, [](int64_t v) { return v * 10; }, &values);
  AppendColumnToBatch(
      col, TableRows{0, 3, listed}, [](int64_t v) { return v * 10; }, &values);
  EXPECT_THAT(values.int64s(), ::testing::ElementsAre(20, 30, 0, 50, 60, 70, 80, 90, 90, 0, 10));
  // Batch rows 2 (table row 3) and 9 (table row 3 again) are NULL.
  EXPECT_EQ(values.nulls(), std::string("\x04\x02", 2));
}

TEST(ColumnBatchTest, BatchBytesCountsValues) {
  ResultColumns cols;
  cols.Add()->set_type(storage::v1::COLUMN_TYPE_STRING);
  cols.Add()->set_type(storage::v1::COLUMN_TYPE_INT64);
  Rows rows;
  v1::Row* row = rows.Add();
  row->add_values()->set_string_value("abcd");
  row->add_values()->set_int64_value(5);
  v1::ColumnBatch batch;
  AppendRowsToBatch(cols, rows, 0, 1, &batch);
  EXPECT_EQ(BatchBytes(batch), (4 + 8) + 8u);
}

}  // namespace
}  // namespace fednode::query
