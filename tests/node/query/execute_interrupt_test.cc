// Execute in chunks: ExecuteOptions::interrupt stops a scan between chunks,
// and the result never depends on the chunk size.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/query/executor.h"
#include "node/query/sql.h"
#include "tests/node/query/query_test_util.h"

namespace fednode::query {
namespace {

using ::fednode::query::testing::Cell;
using ::fednode::query::testing::MakeSchema;
using ::fednode::query::testing::MakeSnapshot;
using ::fednode::query::testing::MakeTable;
using ::fednode::testing::StatusIs;
namespace sv1 = storage::v1;

constexpr int64_t kRows = 300000;  // more than two default chunks of 128 Ki rows
const char* const kDistricts[] = {"Nord", "Ost", "Süd", "West", "Mitte"};

// Row i: district kDistricts[i % 5] (NULL every 97th row), id i,
// value i / 4 (NULL every 89th row).
Cell District(int64_t i) { return i % 97 == 0 ? Cell{} : Cell{std::string(kDistricts[i % 5])}; }
Cell Value(int64_t i) { return i % 89 == 0 ? Cell{} : Cell{static_cast<double>(i) / 4}; }

class ExecuteInterruptTest : public ::testing::Test {
 protected:
  ExecuteInterruptTest() {
    schema_ = MakeSchema({{"district", sv1::COLUMN_TYPE_STRING},
                          {"id", sv1::COLUMN_TYPE_INT64},
                          {"value", sv1::COLUMN_TYPE_DOUBLE}});
    std::vector<std::vector<Cell>> big, small;
    for (int64_t i = 0; i < kRows; ++i) big.push_back({District(i), Cell{i}, Value(i)});
    // A second segment whose rows 1 and 3 are hidden by an upsert.
    for (int64_t i = kRows; i < kRows + 5; ++i) small.push_back({District(i), Cell{i}, Value(i)});
    snap_ =
        MakeSnapshot(schema_, {{MakeTable(schema_, big), {}}, {MakeTable(schema_, small), {1, 3}}});
  }

  bool Visible(int64_t i) const { return i != kRows + 1 && i != kRows + 3; }

  absl::StatusOr<v1::ResultSet> Run(const std::string& sql, const ExecuteOptions& options) {
    absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
    if (!plan.ok()) return plan.status();
    return Execute(*plan, snap_, options);
  }

  Schema schema_;
  storage::TableSnapshot snap_;
};

// An interrupt that lets the first chunk run and stops at the second check.
ExecuteOptions StopAfterFirstChunk(std::vector<uint64_t>* asked, absl::Status stop) {
  ExecuteOptions options;
  options.interrupt = [asked, stop](uint64_t rows_scanned) {
    asked->push_back(rows_scanned);
    return asked->size() == 1 ? absl::OkStatus() : stop;
  };
  return options;
}

TEST_F(ExecuteInterruptTest, GroupedAggregateStopsAfterTheFirstChunk) {
  std::vector<uint64_t> asked;
  auto r = Run("SELECT district, SUM(value) FROM test GROUP BY district",
               StopAfterFirstChunk(&asked, absl::CancelledError("caller cancelled")));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kCancelled,
                          "query stopped after 131072 rows scanned: caller cancelled"));
  EXPECT_EQ(asked, (std::vector<uint64_t>{0, 131072}));
}

TEST_F(ExecuteInterruptTest, RowQueryStopsAfterTheFirstChunkWithTheInterruptsCode) {
  std::vector<uint64_t> asked;
  auto r = Run("SELECT * FROM test WHERE id >= 0",
               StopAfterFirstChunk(&asked, absl::DeadlineExceededError("deadline passed")));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDeadlineExceeded,
                          "query stopped after 131072 rows scanned: deadline passed"));
  EXPECT_EQ(asked.size(), 2u);
}

TEST_F(ExecuteInterruptTest, StopBeforeTheScanReportsNoRowsScanned) {
  ExecuteOptions options;
  options.interrupt = [](uint64_t) { return absl::CancelledError("caller cancelled"); };
  EXPECT_THAT(Run("SELECT COUNT(*) FROM test", options),
              StatusIs(absl::StatusCode::kCancelled,
                       "query stopped after 0 rows scanned: caller cancelled"));
}

TEST_F(ExecuteInterruptTest, NeverStoppingGivesTheFullResult) {
  std::vector<uint64_t> asked;
  ExecuteOptions options;
  options.interrupt = [&asked](uint64_t rows_scanned) {
    asked.push_back(rows_scanned);
    return absl::OkStatus();
  };
  auto r =
      Run("SELECT district, COUNT(*) AS n, COUNT(value) AS nv, SUM(id) AS s, MAX(value) AS mx "
          "FROM test GROUP BY district",
          options);
  ASSERT_TRUE(r.ok()) << r.status();
  // Independently: the same figures from the generating rule.
  struct Expected {
    int64_t n = 0, nv = 0, s = 0;
    double mx = -1;
  };
  std::map<std::string, Expected> want;  // "" = NULL district
  for (int64_t i = 0; i < kRows + 5; ++i) {
    if (!Visible(i)) continue;
    Cell d = District(i), v = Value(i);
    Expected& e = want[d.kind == Cell::kNull ? "" : d.s];
    ++e.n;
    e.s += i;
    if (v.kind != Cell::kNull) {
      ++e.nv;
      e.mx = std::max(e.mx, v.d);
    }
  }
  ASSERT_EQ(r->rows_size(), static_cast<int>(want.size()));
  for (const auto& row : r->rows()) {
    std::string key = row.values(0).has_null_value() ? "" : row.values(0).string_value();
    ASSERT_TRUE(want.count(key)) << key;
    const Expected& e = want[key];
    EXPECT_EQ(row.values(1).int64_value(), e.n) << key;
    EXPECT_EQ(row.values(2).int64_value(), e.nv) << key;
    EXPECT_EQ(row.values(3).int64_value(), e.s) << key;
    EXPECT_EQ(row.values(4).double_value(), e.mx) << key;
  }
  // One check per chunk (3 in the big segment, 1 in the small) and one at
  // the end.
  EXPECT_EQ(asked, (std::vector<uint64_t>{0, 131072, 262144, 300000, 300005}));
}

TEST_F(ExecuteInterruptTest, ResultDoesNotDependOnTheChunkSize) {
  const std::vector<std::string> queries = {
      "SELECT district, COUNT(*), SUM(id), AVG(value), MIN(value), MAX(id) FROM test "
      "GROUP BY district",
      "SELECT district, MIN(district) AS lo, COUNT(DISTINCT district) FROM test "
      "WHERE id < 1000 OR district LIKE 'S%' GROUP BY district",
      "SELECT id, value FROM test WHERE value BETWEEN 1000 AND 1010.5 OR id > 299990",
      "SELECT id, district FROM test WHERE district IS NULL ORDER BY id DESC LIMIT 7 OFFSET 2",
      "SELECT * FROM test WHERE id IN (3, 131071, 131072, 131073, 300001, 300002, 300004)",
      "SELECT COUNT(*), SUM(value) FROM test WHERE district <> 'Nord'",
  };
  for (const std::string& sql : queries) {
    absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
    ASSERT_TRUE(plan.ok()) << sql << ": " << plan.status();
    absl::StatusOr<v1::ResultSet> whole = Execute(*plan, snap_);
    ASSERT_TRUE(whole.ok()) << sql << ": " << whole.status();
    for (uint32_t chunk : {uint32_t{1000}, uint32_t{4093}, uint32_t{1} << 20}) {
      ExecuteOptions options;
      options.chunk_rows = chunk;
      absl::StatusOr<v1::ResultSet> chunked = Execute(*plan, snap_, options);
      ASSERT_TRUE(chunked.ok()) << sql << ": " << chunked.status();
      EXPECT_EQ(chunked->SerializeAsString(), whole->SerializeAsString())
          << sql << " with chunks of " << chunk << " rows";
    }
  }
}

TEST(ExecuteChunkTest, TinyChunksGiveTheSameResultOnSmallTables) {
  Schema schema = MakeSchema({{"name", sv1::COLUMN_TYPE_STRING},
                              {"pop", sv1::COLUMN_TYPE_INT64},
                              {"area", sv1::COLUMN_TYPE_DOUBLE}});
  auto seg1 = MakeTable(schema, {{std::string("Gießen"), int64_t{90000}, 72.56},
                                 {std::string("Wetzlar"), int64_t{52000}, 75.67},
                                 {std::string("Marburg"), Cell{}, 124.5},
                                 {Cell{}, int64_t{7}, Cell{}}});
  auto seg2 = MakeTable(schema, {{std::string("Äpfelheim"), int64_t{1200}, Cell{}},
                                 {std::string("Gießen"), int64_t{500}, 3.5},
                                 {std::string("Gelöscht"), int64_t{1}, 1.0}});
  storage::TableSnapshot snap = MakeSnapshot(schema, {{seg1, {1}}, {seg2, {2}}});
  for (const char* sql :
       {"SELECT name, COUNT(*), SUM(pop), MIN(name), MAX(area) FROM test GROUP BY name",
        "SELECT name, pop FROM test WHERE pop > 100 OR name ILIKE 'g%'",
        "SELECT COUNT(DISTINCT name), AVG(area) FROM test"}) {
    absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
    ASSERT_TRUE(plan.ok()) << sql << ": " << plan.status();
    absl::StatusOr<v1::ResultSet> whole = Execute(*plan, snap);
    ASSERT_TRUE(whole.ok()) << whole.status();
    ExecuteOptions options;
    options.chunk_rows = 1;  // raised to the largest dictionary a filter or group uses
    absl::StatusOr<v1::ResultSet> chunked = Execute(*plan, snap, options);
    ASSERT_TRUE(chunked.ok()) << chunked.status();
    EXPECT_EQ(chunked->SerializeAsString(), whole->SerializeAsString()) << sql;
  }
}

}  // namespace
}  // namespace fednode::query
