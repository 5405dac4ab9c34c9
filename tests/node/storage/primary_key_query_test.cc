// Queries that pin a dataset's primary key (query::Execute over a snapshot
// of a real DatasetStore) read only the rows the primary-key index names,
// and answer exactly what a scan of the same snapshot answers.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/query/executor.h"
#include "node/query/sql.h"
#include "node/storage/dataset_store.h"
#include "node/storage/key_codec.h"
#include "tests/node/storage/test_tables.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;
using testing::MakeSchema;
using testing::MakeTable;
using testing::MakeWrite;
using testing::Row;

// Rows of the "messstellen" dataset: id 1..kRows, wert = 10 * id, name
// "m<id>". With kSegmentRows rows per segment it spans 4 segments.
constexpr int64_t kRows = 1000;
constexpr uint32_t kSegmentRows = 256;

// Param: the segment cache on (rows found are gathered from cached
// segments) or off (only the chunks that hold them are read and decoded).
class PrimaryKeyQueryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    DatasetStoreOptions o;
    o.path = dir_.File("db");
    o.sync_commits = false;
    o.segment_max_rows = kSegmentRows;
    o.segment_chunk_rows = 64;
    if (!GetParam()) o.segment_cache_bytes = 0;
    auto store = DatasetStore::Open(o);
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
    std::vector<Row> rows;
    for (int64_t id = 1; id <= kRows; ++id) {
      rows.push_back({Cell(id), Cell(10 * id), Cell(absl::StrCat("m", id))});
    }
    ASSERT_THAT(Commit("messstellen", ImportMode::kReplace, MakeTable(Messstellen(), rows)),
                IsOk());
  }

  static Schema Messstellen() {
    return MakeSchema({{"id", v1::COLUMN_TYPE_INT64},
                       {"wert", v1::COLUMN_TYPE_INT64},
                       {"name", v1::COLUMN_TYPE_STRING}},
                      {"id"});
  }

  using Cell = testing::Cell;

  absl::Status Commit(const std::string& id, ImportMode mode, Table table) {
    std::vector<DatasetWrite> writes;
    writes.push_back(MakeWrite(id, mode, std::move(table)));
    return store_->Commit(std::move(writes)).status();
  }

  // Runs `sql` through the index (when the filter allows it) and as a full
  // scan, expects the same rows in the same order from both, and returns
  // the lookup's result.
  query::v1::ResultSet Both(const std::string& sql) {
    auto plan = query::ParseSql(sql);
    EXPECT_THAT(plan.status(), IsOk()) << sql;
    if (!plan.ok()) return {};
    auto snapshot = store_->OpenSnapshot(plan->dataset_id());
    EXPECT_THAT(snapshot.status(), IsOk()) << sql;
    if (!snapshot.ok()) return {};
    query::ExecuteOptions scan_options;
    scan_options.use_primary_key = false;
    // Chunks of 64 rows: the result must not depend on how the scan cuts
    // the segments (the lookup hands each segment's rows over in one piece).
    scan_options.chunk_rows = 64;
    auto scanned = query::Execute(*plan, *snapshot, scan_options);
    query::ExecuteOptions lookup_options;
    lookup_options.min_rows_per_key = min_rows_per_key_;
    auto looked_up = query::Execute(*plan, *snapshot, lookup_options);
    EXPECT_THAT(scanned.status(), IsOk()) << sql;
    EXPECT_THAT(looked_up.status(), IsOk()) << sql;
    if (!scanned.ok() || !looked_up.ok()) return {};
    EXPECT_EQ(Text(*looked_up), Text(*scanned)) << sql;
    EXPECT_EQ(scanned->rows_scanned(), snapshot->num_rows) << sql;
    return *std::move(looked_up);
  }

  // Both(sql), expecting the rows `rows` (as Text gives them) and
  // rows_scanned `scanned` of the lookup.
  void Expect(const std::string& sql, const std::string& rows, uint64_t scanned) {
    const query::v1::ResultSet r = Both(sql);
    EXPECT_EQ(Text(r), rows) << sql;
    EXPECT_EQ(r.rows_scanned(), scanned) << sql;
  }

  // The result's rows as "v1,v2;v1,v2" (values in their text form).
  static std::string Text(const query::v1::ResultSet& r) {
    std::vector<std::string> rows;
    for (const query::v1::Row& row : r.rows()) {
      std::vector<std::string> values;
      for (const query::v1::Value& v : row.values()) {
        switch (v.kind_case()) {
          case query::v1::Value::kInt64Value:
            values.push_back(absl::StrCat(v.int64_value()));
            break;
          case query::v1::Value::kDoubleValue:
            values.push_back(absl::StrCat(v.double_value()));
            break;
          case query::v1::Value::kStringValue:
            values.push_back(v.string_value());
            break;
          case query::v1::Value::kNullValue:
            values.push_back("NULL");
            break;
          default:
            values.push_back(v.ShortDebugString());
        }
      }
      rows.push_back(absl::StrJoin(values, ","));
    }
    return absl::StrJoin(rows, ";");
  }

  fednode::testing::TempDir dir_;
  std::unique_ptr<DatasetStore> store_;
  // ExecuteOptions::min_rows_per_key of the lookups: every query that pins
  // the key is looked up, however small the dataset.
  uint64_t min_rows_per_key_ = 0;
};

TEST_P(PrimaryKeyQueryTest, AnEqualityOnTheKeyReadsOneRowOfFourSegments) {
  auto snapshot = store_->OpenSnapshot("messstellen");
  ASSERT_THAT(snapshot.status(), IsOk());
  ASSERT_EQ(snapshot->segments.size(), 4u);
  Expect("SELECT id, wert, name FROM messstellen WHERE id = 700", "700,7000,m700", 1u);
}

TEST_P(PrimaryKeyQueryTest, AnInListReadsTheRowsThatExistInScanOrder) {
  // 5000 is no key; 900 comes before 3 in the list but after it in the scan.
  Expect("SELECT id, wert FROM messstellen WHERE id IN (900, 3, 5000, 257)",
         "3,30;257,2570;900,9000", 3u);
}

TEST_P(PrimaryKeyQueryTest, TheRestOfTheFilterStillAppliesToTheRowsFound) {
  Expect("SELECT id FROM messstellen WHERE id = 5 AND wert > 1000", "", 1u);
  Expect("SELECT id FROM messstellen WHERE wert >= 40 AND id IN (3, 4, 5) AND name <> 'm5'", "4",
         3u);
}

TEST_P(PrimaryKeyQueryTest, AggregatesOverLookedUpRowsCountOnlyThoseRows) {
  Expect("SELECT COUNT(*) AS n, SUM(wert) AS s FROM messstellen WHERE id IN (1, 2, 3)", "3,60", 3u);
}

TEST_P(PrimaryKeyQueryTest, FiltersThatDoNotPinTheKeyScanEveryRow) {
  for (const std::string sql : {
           "SELECT id FROM messstellen WHERE id = 5 OR wert = 60",
           "SELECT id FROM messstellen WHERE wert = 50",
           "SELECT id FROM messstellen WHERE id >= 998",
           "SELECT id FROM messstellen WHERE id NOT IN (1, 2)",
           "SELECT id FROM messstellen WHERE NOT (id = 5)",
       }) {
    const auto r = Both(sql);
    EXPECT_EQ(r.rows_scanned(), static_cast<uint64_t>(kRows)) << sql;
  }
  EXPECT_EQ(Text(Both("SELECT id FROM messstellen WHERE id = 5 OR wert = 60")), "5;6");
}

TEST_P(PrimaryKeyQueryTest, AnOrOfEqualitiesOnTheKeyIsLookedUpAsOneInList) {
  Expect("SELECT id FROM messstellen WHERE id = 5 OR id = 6 OR id IN (900, 5)", "5;6;900", 3u);
  Expect("SELECT id FROM messstellen WHERE (id = 5 OR id = 6) AND wert > 50", "6", 2u);
}

TEST_P(PrimaryKeyQueryTest, MoreThan1024KeysAreScannedInstead) {
  // Ids 500..1524: 1025 keys, of which 500..1000 exist.
  std::vector<std::string> ids;
  for (int64_t id = 500; id <= 1524; ++id) ids.push_back(absl::StrCat(id));
  auto count = [&] {
    return absl::StrCat("SELECT COUNT(*) AS n FROM messstellen WHERE id IN (",
                        absl::StrJoin(ids, ","), ")");
  };
  Expect(count(), "501", kRows);
  ids.pop_back();  // 1024 keys: looked up
  Expect(count(), "501", 501u);
  // Repeated values count once: 1024 distinct keys, 2048 values.
  ids.insert(ids.end(), ids.begin(), ids.end());
  Expect(count(), "501", 501u);
}

TEST_P(PrimaryKeyQueryTest, SmallDatasetsAreScannedWhereThatCostsLessThanTheLookups) {
  min_rows_per_key_ = 400;  // 1000 rows: up to 2 keys are looked up
  EXPECT_EQ(Both("SELECT id FROM messstellen WHERE id IN (1, 2)").rows_scanned(), 2u);
  EXPECT_EQ(Both("SELECT id FROM messstellen WHERE id IN (1, 2, 3)").rows_scanned(),
            static_cast<uint64_t>(kRows));
  // The default: one key needs 2048 rows.
  min_rows_per_key_ = query::ExecuteOptions().min_rows_per_key;
  EXPECT_EQ(Both("SELECT id FROM messstellen WHERE id = 1").rows_scanned(),
            static_cast<uint64_t>(kRows));
}

TEST_P(PrimaryKeyQueryTest, AnUpsertedKeyIsFoundInItsNewRowOnly) {
  // Rows 5 and 700 move to a fifth segment; their old rows are hidden.
  ASSERT_THAT(
      Commit("messstellen", ImportMode::kUpsert,
             MakeTable(Messstellen(), {{Cell(int64_t{5}), Cell(int64_t{-1}), Cell("neu")},
                                       {Cell(int64_t{700}), Cell(int64_t{-2}), Cell("neu")}})),
      IsOk());
  Expect("SELECT id, wert, name FROM messstellen WHERE id IN (700, 5, 6)",
         "6,60,m6;5,-1,neu;700,-2,neu", 3u);
  // A replace drops the old index with the old rows.
  ASSERT_THAT(
      Commit("messstellen", ImportMode::kReplace,
             MakeTable(Messstellen(), {{Cell(int64_t{2000}), Cell(int64_t{1}), Cell("x")}})),
      IsOk());
  Expect("SELECT id FROM messstellen WHERE id IN (5, 700, 2000)", "2000", 1u);
}

TEST_P(PrimaryKeyQueryTest, ACompositeKeyIsLookedUpOnlyWhenEveryColumnIsPinned) {
  const Schema wahl = MakeSchema({{"ags", v1::COLUMN_TYPE_STRING},
                                  {"jahr", v1::COLUMN_TYPE_INT64},
                                  {"stimmen", v1::COLUMN_TYPE_INT64}},
                                 {"ags", "jahr"});
  std::vector<Row> rows;
  for (int i = 0; i < 30; ++i) {
    for (int64_t jahr : {2017, 2021, 2025}) {
      rows.push_back({Cell(absl::StrCat("065310", 10 + i)), Cell(jahr), Cell(jahr * 100 + i)});
    }
  }
  ASSERT_THAT(Commit("wahl", ImportMode::kReplace, MakeTable(wahl, rows)), IsOk());
  Expect("SELECT stimmen FROM wahl WHERE ags = '06531012' AND jahr = 2021", "202102", 1u);
  Expect(
      "SELECT ags, jahr FROM wahl WHERE jahr IN (2025, 2017) AND ags IN ('06531039', '06531011', "
      "'99999999')",
      "06531011,2017;06531011,2025;06531039,2017;06531039,2025", 4u);
  // Only part of the key: scanned.
  Expect("SELECT COUNT(*) AS n FROM wahl WHERE ags = '06531012'", "3", 90u);
}

TEST_P(PrimaryKeyQueryTest, ADoubleKeyOfMinusZeroIsFoundByZero) {
  // The key encoding stores -0.0 as +0.0, and -0.0 = 0 in SQL.
  const Schema punkte =
      MakeSchema({{"x", v1::COLUMN_TYPE_DOUBLE}, {"n", v1::COLUMN_TYPE_INT64}}, {"x"});
  ASSERT_THAT(
      Commit("punkte", ImportMode::kReplace,
             MakeTable(punkte, {{Cell(-0.0), Cell(int64_t{1})}, {Cell(2.5), Cell(int64_t{2})}})),
      IsOk());
  Expect("SELECT n FROM punkte WHERE x = 0", "1", 1u);
  Expect("SELECT n FROM punkte WHERE x IN (2.5, 7)", "2", 1u);
}

TEST_P(PrimaryKeyQueryTest, GroupsThatTieOnTheOrderByComeOutByGroupKey) {
  // g falls as id rises: ids 1 and 100 lie in different 64-row chunks of
  // the scan, which meets g = 999 first; the tie on n is broken by g.
  const Schema abnahme =
      MakeSchema({{"id", v1::COLUMN_TYPE_INT64}, {"g", v1::COLUMN_TYPE_INT64}}, {"id"});
  std::vector<Row> rows;
  for (int64_t id = 1; id <= 200; ++id) rows.push_back({Cell(id), Cell(1000 - id)});
  ASSERT_THAT(Commit("abnahme", ImportMode::kReplace, MakeTable(abnahme, rows)), IsOk());
  Expect("SELECT g, COUNT(*) AS n FROM abnahme WHERE id IN (1, 100) GROUP BY g ORDER BY n",
         "900,1;999,1", 2u);
  Expect(
      "SELECT g, COUNT(*) AS n FROM abnahme WHERE id IN (1, 100) GROUP BY g ORDER BY n DESC "
      "LIMIT 1",
      "900,1", 2u);
}

TEST_P(PrimaryKeyQueryTest, StringKeysAndNullsInTheRowsFound) {
  // A string key and a nullable string column: the rows found keep their
  // values and NULLs, in filters, groups and output.
  const Schema orte = MakeSchema({{"ags", v1::COLUMN_TYPE_STRING},
                                  {"kreis", v1::COLUMN_TYPE_STRING, true},
                                  {"leer", v1::COLUMN_TYPE_STRING, true}},
                                 {"ags"});
  std::vector<Row> rows;
  for (int i = 0; i < 600; ++i) {
    rows.push_back({Cell(absl::StrCat("0653", 1000 + i)),
                    i % 3 == 0 ? Cell() : Cell(absl::StrCat("k", i % 7)), Cell()});
  }
  ASSERT_THAT(Commit("orte", ImportMode::kReplace, MakeTable(orte, rows)), IsOk());
  Expect("SELECT ags, kreis, leer FROM orte WHERE ags IN ('06531599', '06531001', '06531003')",
         "06531001,k1,NULL;06531003,NULL,NULL;06531599,k4,NULL", 3u);
  Expect("SELECT ags FROM orte WHERE ags IN ('06531004', '06531003') AND kreis IS NULL", "06531003",
         2u);
  Expect(
      "SELECT kreis, COUNT(*) AS n FROM orte WHERE ags IN ('06531001', '06531008', '06531002', "
      "'06531003') GROUP BY kreis",
      "NULL,1;k1,2;k2,1", 4u);
}

TEST_P(PrimaryKeyQueryTest, NaNEqualsNothingInAnInList) {
  const Schema punkte =
      MakeSchema({{"x", v1::COLUMN_TYPE_DOUBLE}, {"n", v1::COLUMN_TYPE_INT64}}, {"x"});
  ASSERT_THAT(Commit("punkte", ImportMode::kReplace,
                     MakeTable(punkte, {{Cell(std::nan("")), Cell(int64_t{0})},
                                        {Cell(1.0), Cell(int64_t{1})},
                                        {Cell(2.0), Cell(int64_t{2})}})),
              IsOk());
  Expect("SELECT n FROM punkte WHERE x IN (2, 1)", "1;2", 2u);
  Expect("SELECT n FROM punkte WHERE x IN ('NaN')", "", 3u);  // no key left: scanned
  Expect("SELECT n FROM punkte WHERE x IN ('NaN', 2)", "2", 1u);
  Expect("SELECT n FROM punkte WHERE x = 'NaN'", "", 1u);
}

TEST_P(PrimaryKeyQueryTest, StreamingTellsTheRowsItLookedUp) {
  auto plan = query::ParseSql("SELECT name FROM messstellen WHERE id IN (10, 20)");
  ASSERT_THAT(plan.status(), IsOk());
  auto snapshot = store_->OpenSnapshot("messstellen");
  ASSERT_THAT(snapshot.status(), IsOk());
  struct Sink : query::RowSink {
    absl::Status OnColumns(const query::v1::ResultSet& header) override {
      scanned = header.rows_scanned();
      return absl::OkStatus();
    }
    absl::Status OnRows(google::protobuf::RepeatedPtrField<query::v1::Row>* rows) override {
      for (const auto& row : *rows) names.push_back(row.values(0).string_value());
      return absl::OkStatus();
    }
    uint64_t scanned = 0;
    std::vector<std::string> names;
  } sink;
  query::ExecuteOptions options;
  options.min_rows_per_key = 0;
  ASSERT_THAT(query::ExecuteStreaming(*plan, *snapshot, options, &sink), IsOk());
  EXPECT_EQ(sink.scanned, 2u);
  EXPECT_THAT(sink.names, ::testing::ElementsAre("m10", "m20"));
}

TEST_P(PrimaryKeyQueryTest, FindRowsByPrimaryKeyRefusesKeysThatDoNotFitTheSchema) {
  auto snapshot = store_->OpenSnapshot("messstellen");
  ASSERT_THAT(snapshot.status(), IsOk());
  KeyValue id{v1::COLUMN_TYPE_INT64, 3, 0, ""};
  auto rows = snapshot->FindRowsByPrimaryKey({{id}});
  ASSERT_THAT(rows.status(), IsOk());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0], (RowRef{0, 2}));  // id 3 is the third row of segment 0
  EXPECT_THAT(snapshot->FindRowsByPrimaryKey({{id, id}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 values")));
  KeyValue text{v1::COLUMN_TYPE_STRING, 0, 0, "3"};
  EXPECT_THAT(
      snapshot->FindRowsByPrimaryKey({{text}}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value for primary-key column id")));

  ASSERT_THAT(Commit("ohne_schluessel", ImportMode::kReplace,
                     MakeTable(MakeSchema({{"a", v1::COLUMN_TYPE_INT64}}), {{Cell(int64_t{1})}})),
              IsOk());
  auto keyless = store_->OpenSnapshot("ohne_schluessel");
  ASSERT_THAT(keyless.status(), IsOk());
  EXPECT_THAT(keyless->FindRowsByPrimaryKey({{id}}).status(),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("no primary key")));
}

INSTANTIATE_TEST_SUITE_P(SegmentCache, PrimaryKeyQueryTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Cached" : "Uncached";
                         });

TEST(PrimaryKeyEncodingTest, ALiteralEncodesLikeTheStoredValueOfEachType) {
  struct Case {
    ColumnType type;
    testing::Cell cell;
    KeyValue literal;
  };
  const std::vector<Case> cases = {
      {v1::COLUMN_TYPE_INT64, int64_t{-42}, {v1::COLUMN_TYPE_INT64, -42, 0, ""}},
      {v1::COLUMN_TYPE_DATE, int64_t{19000}, {v1::COLUMN_TYPE_DATE, 19000, 0, ""}},
      {v1::COLUMN_TYPE_TIMESTAMP, int64_t{-5}, {v1::COLUMN_TYPE_TIMESTAMP, -5, 0, ""}},
      {v1::COLUMN_TYPE_BOOL, true, {v1::COLUMN_TYPE_BOOL, 1, 0, ""}},
      {v1::COLUMN_TYPE_DOUBLE, -1.5, {v1::COLUMN_TYPE_DOUBLE, 0, -1.5, ""}},
      {v1::COLUMN_TYPE_DOUBLE, -0.0, {v1::COLUMN_TYPE_DOUBLE, 0, 0.0, ""}},
      {v1::COLUMN_TYPE_STRING,
       std::string("Gie\xc3\x9f"
                   "en\0x",
                   9),
       {v1::COLUMN_TYPE_STRING, 0, 0,
        std::string("Gie\xc3\x9f"
                    "en\0x",
                    9)}},
  };
  for (const Case& c : cases) {
    const Table t = MakeTable(MakeSchema({{"k", c.type}}), {{c.cell}});
    std::string stored, literal;
    AppendPrimaryKeyValue(t.columns[0], 0, &stored);
    AppendPrimaryKeyValue(c.literal, &literal);
    EXPECT_EQ(literal, stored) << ColumnTypeName(c.type);
    EXPECT_FALSE(stored.empty());
  }
}

}  // namespace
}  // namespace fednode::storage
