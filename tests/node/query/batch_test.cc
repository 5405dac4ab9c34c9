#include "node/query/batch.h"

#include <random>
#include <string>

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
        case 2:
          v->set_string_value(std::string(rng() % 12, static_cast<char>('a' + rng() % 26)) + "ß");
          break;
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
