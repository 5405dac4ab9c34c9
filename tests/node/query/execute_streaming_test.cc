// ExecuteStreaming: rows handed to a RowSink batch by batch equal Execute's
// result (property-style over random data and plans with a fixed seed); a
// sink's stop and LIMIT end the scan early; a store's snapshot loads its
// segments lazily, across segments with deleted rows.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/query/batch.h"
#include "node/query/executor.h"
#include "node/query/sql.h"
#include "tests/node/query/query_test_util.h"

namespace fednode::query {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using testing::Cell;
using ::testing::HasSubstr;
using testing::MakeSchema;
using testing::MakeSnapshot;
using testing::MakeTable;
namespace sv1 = storage::v1;

// Collects what ExecuteStreaming hands over; stops with `stop` once it has
// received `stop_after_batches` batches (0 = never).
class CollectingSink : public RowSink {
 public:
  absl::Status OnColumns(const v1::ResultSet& header) override {
    ++headers;
    EXPECT_EQ(header.rows_size(), 0);
    EXPECT_EQ(batches, 0) << "columns after rows";
    result = header;
    return absl::OkStatus();
  }
  absl::Status OnRows(google::protobuf::RepeatedPtrField<v1::Row>* rows) override {
    EXPECT_GT(rows->size(), 0);
    max_batch = std::max(max_batch, rows->size());
    for (v1::Row& row : *rows) *result.add_rows() = std::move(row);
    ++batches;
    if (stop_after_batches > 0 && batches >= stop_after_batches) return stop;
    return absl::OkStatus();
  }
  // With want_batches: the batch goes through the wire form and is decoded
  // (and checked) as a peer would. With move_out the sink swaps the batch
  // out (as RowStream does), so that the executor gets fresh objects back;
  // else it leaves the batch, whose objects the executor then fills again.
  bool WantsColumnBatches() const override { return want_batches; }
  absl::Status OnBatch(v1::ColumnBatch* batch) override {
    EXPECT_GT(batch->row_count(), 0u);
    max_batch = std::max(max_batch, static_cast<int>(batch->row_count()));
    if (move_out) {
      held = v1::ColumnBatch();
      held.Swap(batch);
      batch = &held;
    }
    sizes.push_back(RowBytes(*batch));
    v1::ColumnBatch wire;
    EXPECT_TRUE(wire.ParseFromString(batch->SerializeAsString()));
    absl::Status decoded = AppendBatchRows(result.columns(), wire, result.mutable_rows());
    EXPECT_THAT(decoded, IsOk());
    ++batches;
    return decoded;
  }

  // Each batch's values in bytes, row by row, as ExecuteOptions.
  // stream_batch_bytes counts them: 8 per value plus a string's length.
  static std::vector<size_t> RowBytes(const v1::ColumnBatch& batch) {
    std::vector<size_t> bytes(batch.row_count(), 8 * static_cast<size_t>(batch.columns_size()));
    for (const v1::ColumnValues& values : batch.columns()) {
      for (int r = 0; r < values.string_ends_size(); ++r) {
        bytes[static_cast<size_t>(r)] += BatchString(values, static_cast<size_t>(r)).size();
      }
    }
    return bytes;
  }

  bool want_batches = false;
  bool move_out = false;
  v1::ColumnBatch held;
  std::vector<std::vector<size_t>> sizes;
  v1::ResultSet result;
  int headers = 0;
  int batches = 0;
  int max_batch = 0;
  int stop_after_batches = 0;
  absl::Status stop = absl::CancelledError("sink stopped");
};

absl::Status Stream(const std::string& sql, const storage::TableSnapshot& snap,
                    const ExecuteOptions& options, CollectingSink* sink) {
  absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
  if (!plan.ok()) return plan.status();
  return ExecuteStreaming(*plan, snap, options, sink);
}

absl::StatusOr<v1::ResultSet> Materialize(const std::string& sql,
                                          const storage::TableSnapshot& snap,
                                          const ExecuteOptions& options) {
  absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
  if (!plan.ok()) return plan.status();
  return Execute(*plan, snap, options);
}

Schema RandomSchema() {
  return MakeSchema({{"id", sv1::COLUMN_TYPE_INT64},
                     {"grp", sv1::COLUMN_TYPE_STRING},
                     {"x", sv1::COLUMN_TYPE_DOUBLE},
                     {"flag", sv1::COLUMN_TYPE_BOOL},
                     {"day", sv1::COLUMN_TYPE_DATE},
                     {"ts", sv1::COLUMN_TYPE_TIMESTAMP}});
}

// 1..4 segments of random rows (NULLs in every column but id) with random
// deleted rows.
storage::TableSnapshot RandomSnapshot(std::mt19937_64* rng, const Schema& schema) {
  std::uniform_int_distribution<int> segments_dist(1, 4);
  std::uniform_int_distribution<int> rows_dist(0, 300);
  std::uniform_int_distribution<int> pct(0, 99);
  std::vector<std::pair<std::shared_ptr<const Table>, std::vector<uint32_t>>> segments;
  int64_t id = 0;
  const int num_segments = segments_dist(*rng);
  for (int s = 0; s < num_segments; ++s) {
    const int n = rows_dist(*rng);
    std::vector<std::vector<Cell>> rows;
    std::vector<uint32_t> deleted;
    for (int r = 0; r < n; ++r) {
      auto maybe_null = [&](Cell c) { return pct(*rng) < 10 ? Cell() : c; };
      rows.push_back(
          {Cell(id++), maybe_null(Cell(absl::StrCat("g", pct(*rng) % 5))),
           maybe_null(Cell(static_cast<double>(pct(*rng)) / 4)),
           maybe_null(Cell(int64_t{pct(*rng) % 2})), maybe_null(Cell(int64_t{19000 + pct(*rng)})),
           maybe_null(
               Cell(static_cast<int64_t>(1700000000000000 + pct(*rng) * int64_t{3600000000})))});
      if (pct(*rng) < 15) deleted.push_back(static_cast<uint32_t>(r));
    }
    segments.emplace_back(MakeTable(schema, rows), std::move(deleted));
  }
  return MakeSnapshot(schema, std::move(segments));
}

std::string RandomSql(std::mt19937_64* rng) {
  std::uniform_int_distribution<int> pct(0, 99);
  static const char* const kSelects[] = {"*",
                                         "id, grp",
                                         "x, flag, day, ts",
                                         "grp, EXTRACT(YEAR FROM day) AS y, EXTRACT(HOUR FROM ts)",
                                         "grp, COUNT(*) AS n, SUM(x) AS sx",
                                         "COUNT(*), MIN(id), MAX(ts)"};
  const int select = pct(*rng) % 6;
  std::string sql = absl::StrCat("SELECT ", kSelects[select], " FROM test");
  switch (pct(*rng) % 5) {
    case 0:
      absl::StrAppend(&sql, " WHERE id BETWEEN ", pct(*rng) * 3, " AND ", 200 + pct(*rng) * 5);
      break;
    case 1:
      absl::StrAppend(&sql, " WHERE x > ", pct(*rng) / 4);
      break;
    case 2:
      absl::StrAppend(&sql, " WHERE grp IN ('g1', 'g3') OR flag IS NULL");
      break;
    default:
      break;
  }
  if (select == 4) absl::StrAppend(&sql, " GROUP BY grp");
  static const char* const kOrders[] = {" ORDER BY id DESC", " ORDER BY grp, id DESC",
                                        " ORDER BY x DESC", " ORDER BY y, grp"};
  if (select <= 3 && pct(*rng) < 25) absl::StrAppend(&sql, kOrders[select]);
  if (select == 4 && pct(*rng) < 50) absl::StrAppend(&sql, " ORDER BY n DESC, grp");
  if (pct(*rng) < 50) absl::StrAppend(&sql, " LIMIT ", pct(*rng) * 5);
  if (pct(*rng) < 30) absl::StrAppend(&sql, " OFFSET ", pct(*rng) * 3);
  return sql;
}

TEST(ExecuteStreamingTest, EqualsExecuteOnRandomDataAndPlans) {
  std::mt19937_64 rng(20261130);
  const Schema schema = RandomSchema();
  int compared = 0;
  for (int round = 0; round < 300; ++round) {
    const storage::TableSnapshot snap = RandomSnapshot(&rng, schema);
    const std::string sql = RandomSql(&rng);
    ExecuteOptions options;
    options.chunk_rows = 1 + static_cast<uint32_t>(rng() % 97);
    options.stream_batch_rows = 1 + static_cast<uint32_t>(rng() % 50);
    absl::StatusOr<v1::ResultSet> want = Materialize(sql, snap, options);
    CollectingSink sink;
    absl::Status got = Stream(sql, snap, options, &sink);
    ASSERT_EQ(got.code(), want.status().code()) << sql << ": " << got << " vs " << want.status();
    if (!want.ok()) continue;
    EXPECT_EQ(sink.headers, 1) << sql;
    EXPECT_LE(sink.max_batch, static_cast<int>(options.stream_batch_rows)) << sql;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(sink.result, *want))
        << sql << "\nstreamed:\n"
        << sink.result.DebugString() << "\nexecuted:\n"
        << want->DebugString();
    // The same as column batches, cut by rows and by bytes.
    options.stream_batch_bytes = 1 + rng() % 3000;
    CollectingSink batch_sink;
    batch_sink.want_batches = true;
    batch_sink.move_out = round % 2 == 0;
    ASSERT_THAT(Stream(sql, snap, options, &batch_sink), IsOk()) << sql;
    EXPECT_LE(batch_sink.max_batch, static_cast<int>(options.stream_batch_rows)) << sql;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(batch_sink.result, *want))
        << sql << " (column batches)\nstreamed:\n"
        << batch_sink.result.DebugString() << "\nexecuted:\n"
        << want->DebugString();
    ++compared;
  }
  EXPECT_GT(compared, 250);
}

TEST(ExecuteStreamingTest, ColumnBatchesEndOnceTheirValuesReachStreamBatchBytes) {
  std::mt19937_64 rng(7);
  const Schema schema = RandomSchema();
  for (int round = 0; round < 20; ++round) {
    const storage::TableSnapshot snap = RandomSnapshot(&rng, schema);
    ExecuteOptions options;
    options.chunk_rows = 1 + static_cast<uint32_t>(rng() % 200);
    options.stream_batch_rows = 1 + static_cast<uint32_t>(rng() % 100);
    options.stream_batch_bytes = 1 + rng() % 1500;
    for (const char* sql : {"SELECT * FROM test", "SELECT id, x FROM test WHERE x > 5"}) {
      CollectingSink sink;
      sink.want_batches = true;
      ASSERT_THAT(Stream(sql, snap, options, &sink), IsOk()) << sql;
      for (size_t b = 0; b < sink.sizes.size(); ++b) {
        const std::vector<size_t>& rows = sink.sizes[b];
        size_t bytes = 0;
        for (size_t r = 0; r + 1 < rows.size(); ++r) bytes += rows[r];
        // No row after the one that reached the limit...
        EXPECT_LT(bytes, options.stream_batch_bytes) << sql << ", batch " << b;
        // ... and every batch but the last is full by rows or by bytes.
        if (b + 1 < sink.sizes.size() && rows.size() < options.stream_batch_rows) {
          EXPECT_GE(bytes + rows.back(), options.stream_batch_bytes) << sql << ", batch " << b;
        }
      }
    }
  }
}

// Three segments of 1000 rows each; id = row number.
storage::TableSnapshot ThreeSegments() {
  const Schema schema = MakeSchema({{"id", sv1::COLUMN_TYPE_INT64}});
  std::vector<std::pair<std::shared_ptr<const Table>, std::vector<uint32_t>>> segments;
  for (int s = 0; s < 3; ++s) {
    std::vector<std::vector<Cell>> rows;
    for (int r = 0; r < 1000; ++r) rows.push_back({Cell(int64_t{s * 1000 + r})});
    segments.emplace_back(MakeTable(schema, rows), std::vector<uint32_t>{});
  }
  return MakeSnapshot(schema, std::move(segments));
}

TEST(ExecuteStreamingTest, SinkStopEndsTheScanWithItsStatus) {
  const storage::TableSnapshot snap = ThreeSegments();
  ExecuteOptions options;
  options.chunk_rows = 100;
  options.stream_batch_rows = 10;
  uint64_t scanned = 0;
  options.interrupt = [&scanned](uint64_t rows) {
    scanned = rows;
    return absl::OkStatus();
  };
  CollectingSink sink;
  sink.stop_after_batches = 2;
  EXPECT_THAT(Stream("SELECT id FROM test", snap, options, &sink),
              StatusIs(absl::StatusCode::kCancelled, "sink stopped"));
  EXPECT_EQ(sink.result.rows_size(), 20);
  EXPECT_EQ(sink.batches, 2);
  // The scan ended in its first chunk.
  EXPECT_LE(scanned, 100u);
}

TEST(ExecuteStreamingTest, LimitEndsTheScanOnceEnoughRowsWentOut) {
  const storage::TableSnapshot snap = ThreeSegments();
  ExecuteOptions options;
  options.chunk_rows = 100;
  uint64_t scanned = 0;
  options.interrupt = [&scanned](uint64_t rows) {
    scanned = rows;
    return absl::OkStatus();
  };
  CollectingSink sink;
  ASSERT_THAT(Stream("SELECT id FROM test WHERE id >= 950 LIMIT 70 OFFSET 5", snap, options, &sink),
              IsOk());
  ASSERT_EQ(sink.result.rows_size(), 70);
  EXPECT_EQ(sink.result.rows(0).values(0).int64_value(), 955);
  EXPECT_EQ(sink.result.rows(69).values(0).int64_value(), 1024);
  EXPECT_EQ(sink.result.rows_scanned(), 3000u);
  // Segments 0 and the first chunk of segment 1 were scanned, no more.
  EXPECT_EQ(scanned, 1100u);
}

TEST(ExecuteStreamingTest, OrderByAndAggregatesComeAfterTheScanInBatches) {
  const storage::TableSnapshot snap = ThreeSegments();
  ExecuteOptions options;
  options.stream_batch_rows = 1000;
  CollectingSink sink;
  ASSERT_THAT(Stream("SELECT id FROM test ORDER BY id DESC", snap, options, &sink), IsOk());
  ASSERT_EQ(sink.result.rows_size(), 3000);
  EXPECT_EQ(sink.batches, 3);
  EXPECT_EQ(sink.result.rows(0).values(0).int64_value(), 2999);
  CollectingSink agg;
  ASSERT_THAT(Stream("SELECT COUNT(*) AS n FROM test", snap, options, &agg), IsOk());
  ASSERT_EQ(agg.result.rows_size(), 1);
  EXPECT_EQ(agg.result.rows(0).values(0).int64_value(), 3000);
}

// A store-backed snapshot loads its segments one at a time, also when an
// upsert hid rows in several of them.
TEST(ExecuteStreamingTest, StoreSnapshotLoadsSegmentsLazilyAcrossDeletedRows) {
  fednode::testing::TempDir dir;
  storage::DatasetStoreOptions o;
  o.path = dir.File("db");
  o.sync_commits = false;
  o.segment_max_rows = 50;
  o.segment_cache_bytes = 0;
  auto store = storage::DatasetStore::Open(o);
  ASSERT_THAT(store, IsOk());
  Schema schema = MakeSchema({{"k", sv1::COLUMN_TYPE_INT64}, {"v", sv1::COLUMN_TYPE_STRING}});
  schema.add_primary_key("k");
  auto write = [&](storage::ImportMode mode, int64_t first, int64_t n, const std::string& tag) {
    std::vector<std::vector<Cell>> rows;
    for (int64_t k = first; k < first + n; ++k) rows.push_back({Cell(k), Cell(tag)});
    storage::DatasetWrite w;
    w.dataset_id = "test";
    w.mode = mode;
    w.table = *MakeTable(schema, rows);
    std::vector<storage::DatasetWrite> writes;
    writes.push_back(std::move(w));
    return (*store)->Commit(std::move(writes)).status();
  };
  ASSERT_THAT(write(storage::ImportMode::kReplace, 0, 200, "alt"), IsOk());
  // Keys 40..59 and 140..159 (segments 0, 1, 2 and 3) get new values.
  ASSERT_THAT(write(storage::ImportMode::kUpsert, 40, 20, "neu"), IsOk());
  ASSERT_THAT(write(storage::ImportMode::kUpsert, 140, 20, "neu"), IsOk());
  auto snap = (*store)->OpenSnapshot("test");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 6u);
  for (const auto& seg : snap->segments) EXPECT_EQ(seg.table, nullptr);

  CollectingSink sink;
  ExecuteOptions options;
  options.stream_batch_rows = 7;
  ASSERT_THAT(Stream("SELECT k, v FROM test WHERE v = 'neu'", *snap, options, &sink), IsOk());
  ASSERT_EQ(sink.result.rows_size(), 40);
  std::vector<int64_t> keys;
  for (const auto& row : sink.result.rows()) keys.push_back(row.values(0).int64_value());
  std::sort(keys.begin(), keys.end());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(keys[i], i < 20 ? 40 + i : 120 + i);
  CollectingSink all;
  ASSERT_THAT(Stream("SELECT k FROM test", *snap, options, &all), IsOk());
  EXPECT_EQ(all.result.rows_size(), 200);
  EXPECT_EQ(all.result.rows_scanned(), 200u);
  auto counted = Materialize("SELECT v, COUNT(*) AS n FROM test GROUP BY v", *snap, options);
  ASSERT_THAT(counted, IsOk());
  ASSERT_EQ(counted->rows_size(), 2);
  EXPECT_EQ(counted->rows(0).values(1).int64_value(), 160);
  EXPECT_EQ(counted->rows(1).values(1).int64_value(), 40);
  // The snapshot still holds no decoded segment.
  for (const auto& seg : snap->segments) EXPECT_EQ(seg.table, nullptr);
}

}  // namespace
}  // namespace fednode::query
