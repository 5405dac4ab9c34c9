// Node-side point query without gRPC: what the federation port does for an
// authorized `SELECT * FROM punkte WHERE id = 500` once the caller is
// authenticated — DatasetStore::GetCatalogEntry (policy input), OpenSnapshot
// and query::Execute — on a 1,000-row dataset of ten columns (the one of
// tests/bench/federation.sh) in a real DatasetStore on disk, single thread.
// The parts are timed on their own too. Each against its baseline in the same
// run: the same calls on a store with DatasetStoreOptions.cache_current_state
// off, which reads and parses the catalog entry and the version manifest
// from RocksDB at every call (the store before that cache). Also the catalog
// list a member reads for the county's Aggregate: ListCatalogShared against
// ListCatalog, which parses every entry. And the query's lookup of the row
// in the primary-key index against scanning the dataset for it
// (ExecuteOptions.use_primary_key off), on these 1,000 rows and on
// 1,000,000 rows of the same kind. Reported: ns per call.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "node/base/table.h"
#include "node/catalog/catalog.h"
#include "node/query/executor.h"
#include "node/query/sql.h"
#include "node/storage/dataset_store.h"

#include "benchmark/benchmark.h"

namespace fednode {
namespace {

constexpr char kDatasetId[] = "punkte";
constexpr int64_t kRows = 1000;
constexpr int64_t kLargeRows = 1'000'000;

// The rows of federation.sh's gen(): id (primary key), a municipality, a
// year and seven measurements.
Table PunkteTable(int64_t rows) {
  Table table;
  auto add = [&](const char* name, ColumnType type) {
    auto* c = table.schema.add_columns();
    c->set_name(name);
    c->set_type(type);
  };
  add("id", storage::v1::COLUMN_TYPE_INT64);
  add("gemeinde", storage::v1::COLUMN_TYPE_STRING);
  add("jahr", storage::v1::COLUMN_TYPE_INT64);
  add("w1", storage::v1::COLUMN_TYPE_DOUBLE);
  add("w2", storage::v1::COLUMN_TYPE_DOUBLE);
  add("w3", storage::v1::COLUMN_TYPE_DOUBLE);
  add("w4", storage::v1::COLUMN_TYPE_INT64);
  add("w5", storage::v1::COLUMN_TYPE_INT64);
  add("w6", storage::v1::COLUMN_TYPE_INT64);
  add("w7", storage::v1::COLUMN_TYPE_STRING);
  table.schema.add_primary_key("id");
  std::vector<ColumnBuilder> b;
  for (const auto& c : table.schema.columns()) b.emplace_back(c.type());
  const char* gemeinden[] = {"Gießen",   "Lich",   "Hungen",  "Linden",
                             "Pohlheim", "Buseck", "Laubach", "Grünberg"};
  uint64_t r = 42;
  auto next = [&r] {
    r = r * 6364136223846793005u + 1442695040888963407u;
    return static_cast<double>(r >> 11) / static_cast<double>(uint64_t{1} << 53);
  };
  for (int64_t i = 1; i <= rows; ++i) {
    b[0].AppendInt(i);
    b[1].AppendString(gemeinden[i % 8]);
    b[2].AppendInt(2000 + i % 25);
    b[3].AppendDouble(next() * 1000);
    b[4].AppendDouble(next());
    b[5].AppendDouble(next() * 100);
    b[6].AppendInt(static_cast<int64_t>(next() * 1e6));
    b[7].AppendInt(i % 97);
    b[8].AppendInt(static_cast<int64_t>(next() * 50));
    b[9].AppendString(absl::StrCat("k", i % 1000));
  }
  for (auto& c : b) table.columns.push_back(c.Finish());
  table.num_rows = static_cast<size_t>(rows);
  return table;
}

catalog::NodeIdentity Giessen() {
  catalog::NodeIdentity node;
  node.ags = "06531005";
  node.member_name = "Gießen, Universitätsstadt";
  node.base_uri = "https://daten.giessen.de/fednode";
  node.homepage = "https://www.giessen.de";
  return node;
}

catalog::v1::DatasetMetadata Metadata() {
  catalog::v1::DatasetMetadata md;
  md.set_title("Benchmark data");
  md.set_description("Synthetic rows for tests/bench/point_bench.cc.");
  md.mutable_publisher()->set_name("Universitätsstadt Gießen");
  md.mutable_publisher()->set_uri("https://www.giessen.de");
  md.mutable_contact_point()->set_name("IT");
  md.mutable_contact_point()->set_email("it@giessen.de");
  md.set_access_class(catalog::v1::ACCESS_CLASS_FEDERATION);
  return md;
}

// A store in its own temporary directory holding `punkte`, with its catalog
// entry as an import makes it; removed at exit.
struct Store {
  std::string dir;
  std::unique_ptr<storage::DatasetStore> store;
  query::v1::QueryPlan plan;
};

// cache_current_state: DatasetStoreOptions.cache_current_state; `rows` rows,
// the query asks for the one in the middle.
Store* OpenStore(bool cache_current_state, int64_t rows) {
  auto* s = new Store;
  std::string templ = (std::filesystem::temp_directory_path() / "point_bench.XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  s->dir = templ;
  storage::DatasetStoreOptions options;
  options.path = s->dir + "/db";
  options.cache_current_state = cache_current_state;
  absl::StatusOr<std::unique_ptr<storage::DatasetStore>> store =
      storage::DatasetStore::Open(options);
  if (!store.ok()) std::abort();
  s->store = *std::move(store);
  storage::DatasetWrite w;
  w.dataset_id = kDatasetId;
  w.table = PunkteTable(rows);
  w.source_sha256 = "bench";
  const absl::Time now = absl::Now();
  w.make_catalog_entry = [now](const storage::v1::DatasetVersion& version,
                               const catalog::v1::CatalogEntry* previous) {
    return catalog::BuildEntry(Giessen(), kDatasetId, Metadata(), version.schema(),
                               version.version(), version.row_count(), now, previous);
  };
  std::vector<storage::DatasetWrite> writes;
  writes.push_back(std::move(w));
  if (!s->store->Commit(std::move(writes)).ok()) std::abort();
  absl::StatusOr<query::v1::QueryPlan> plan =
      query::ParseSql(absl::StrCat("SELECT * FROM punkte WHERE id = ", rows / 2));
  if (!plan.ok()) std::abort();
  s->plan = *std::move(plan);
  return s;
}

void CloseStore(Store* s) {
  const std::string dir = s->dir;
  s->store.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// The store of kRows rows with the cache of current states on (`cached`)
// or off.
Store& GetStore(bool cached) {
  static Store* const with_cache = OpenStore(true, kRows);
  static Store* const without_cache = OpenStore(false, kRows);
  static const bool cleanup = [] {
    std::atexit([] {
      CloseStore(with_cache);
      CloseStore(without_cache);
    });
    return true;
  }();
  (void)cleanup;
  return cached ? *with_cache : *without_cache;
}

// A store of `rows` rows (cache on), made at its first use; kRows rows is
// GetStore(true).
Store& GetStoreOfRows(int64_t rows) {
  if (rows == kRows) return GetStore(true);
  static auto* const stores = new std::map<int64_t, Store*>;
  Store*& s = (*stores)[rows];
  if (s == nullptr) {
    s = OpenStore(true, rows);
    if (stores->size() == 1) {
      std::atexit([] {
        for (auto& [n, store] : *stores) CloseStore(store);
      });
    }
  }
  return *s;
}

// The steps of the path; each returns false (the benchmark skipped) when it
// fails.
bool GetEntry(Store& s, benchmark::State& state) {
  absl::StatusOr<catalog::v1::CatalogEntry> entry = s.store->GetCatalogEntry(kDatasetId);
  if (!entry.ok()) {
    state.SkipWithError(std::string(entry.status().message()).c_str());
    return false;
  }
  benchmark::DoNotOptimize(entry->metadata().access_class());
  return true;
}

bool OpenSnapshot(Store& s, benchmark::State& state, storage::TableSnapshot* out) {
  absl::StatusOr<storage::TableSnapshot> snapshot = s.store->OpenSnapshot(kDatasetId);
  if (!snapshot.ok()) {
    state.SkipWithError(std::string(snapshot.status().message()).c_str());
    return false;
  }
  *out = *std::move(snapshot);
  return true;
}

// The node's path: the entry for the policy, the snapshot, the query with
// `options`. `scanned`: the rows_scanned the query must report, so that the
// benchmark runs the path it names (1 for a lookup, the dataset's rows for
// a scan).
void RunPointQuery(benchmark::State& state, Store& s, uint64_t scanned,
                   const query::ExecuteOptions& options = {}) {
  for (auto _ : state) {
    storage::TableSnapshot snapshot;
    if (!GetEntry(s, state) || !OpenSnapshot(s, state, &snapshot)) return;
    absl::StatusOr<query::v1::ResultSet> result = query::Execute(s.plan, snapshot, options);
    if (!result.ok() || result->rows_size() != 1) {
      state.SkipWithError("Execute did not find the row");
      return;
    }
    if (result->rows_scanned() != scanned) {
      state.SkipWithError("the query did not take the path the benchmark names");
      return;
    }
    benchmark::DoNotOptimize(result->rows_size());
  }
}

void RunGetCatalogEntry(benchmark::State& state, Store& s) {
  for (auto _ : state) {
    if (!GetEntry(s, state)) return;
  }
}

void RunOpenSnapshot(benchmark::State& state, Store& s) {
  for (auto _ : state) {
    storage::TableSnapshot snapshot;
    if (!OpenSnapshot(s, state, &snapshot)) return;
    benchmark::DoNotOptimize(snapshot.version);
  }
}

// What a member does for the county's Aggregate to find its dataset of a
// schema: `list` returns every catalog entry, shared from memory
// (ListCatalogShared) or read and parsed from RocksDB at every call
// (ListCatalog, the baseline).
template <typename F>
void RunListCatalog(benchmark::State& state, F list) {
  for (auto _ : state) {
    auto entries = list();
    if (!entries.ok() || entries->size() != 1) {
      state.SkipWithError("the catalog list does not hold the dataset");
      return;
    }
    benchmark::DoNotOptimize(entries->data());
  }
}
void BM_ListCatalogShared(benchmark::State& state) {
  RunListCatalog(state, [] { return GetStore(true).store->ListCatalogShared(); });
}
void BM_ListCatalog(benchmark::State& state) {
  RunListCatalog(state, [] { return GetStore(true).store->ListCatalog(); });
}

// kRows rows: the node scans them (fewer than min_rows_per_key).
void BM_PointQuery(benchmark::State& state) { RunPointQuery(state, GetStore(true), kRows); }
void BM_PointQueryUncached(benchmark::State& state) {
  RunPointQuery(state, GetStore(false), kRows);
}
// The key lookup and the scan on datasets of state.range(0) rows. The
// lookup is forced also where the executor would scan (min_rows_per_key 0),
// so that the break-even of min_rows_per_key is measured.
void BM_PointQueryKeyLookup(benchmark::State& state) {
  query::ExecuteOptions lookup;
  lookup.min_rows_per_key = 0;
  RunPointQuery(state, GetStoreOfRows(state.range(0)), 1, lookup);
}
void BM_PointQueryScan(benchmark::State& state) {
  query::ExecuteOptions scan;
  scan.use_primary_key = false;
  RunPointQuery(state, GetStoreOfRows(state.range(0)), static_cast<uint64_t>(state.range(0)), scan);
}
void BM_GetCatalogEntry(benchmark::State& state) { RunGetCatalogEntry(state, GetStore(true)); }
void BM_GetCatalogEntryUncached(benchmark::State& state) {
  RunGetCatalogEntry(state, GetStore(false));
}
void BM_OpenSnapshot(benchmark::State& state) { RunOpenSnapshot(state, GetStore(true)); }
void BM_OpenSnapshotUncached(benchmark::State& state) { RunOpenSnapshot(state, GetStore(false)); }
BENCHMARK(BM_PointQuery);
BENCHMARK(BM_PointQueryUncached);
BENCHMARK(BM_PointQueryKeyLookup)->Arg(kRows)->Arg(4096)->Arg(100'000)->Arg(kLargeRows);
BENCHMARK(BM_PointQueryScan)->Arg(kRows)->Arg(4096)->Arg(100'000)->Arg(kLargeRows);
BENCHMARK(BM_GetCatalogEntry);
BENCHMARK(BM_GetCatalogEntryUncached);
BENCHMARK(BM_OpenSnapshot);
BENCHMARK(BM_OpenSnapshotUncached);
BENCHMARK(BM_ListCatalogShared);
BENCHMARK(BM_ListCatalog);

}  // namespace
}  // namespace fednode

BENCHMARK_MAIN();
