// DatasetStore's current states in memory (DatasetStoreOptions.
// cache_current_state): GetCatalogEntry and OpenSnapshot show every write as
// soon as it returned, never an entry of another version than the snapshot
// beside it, with the cache on and off, after a reopen and under concurrent
// commits.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"
#include "tests/node/storage/test_tables.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::IsOkAndHolds;
using ::fednode::testing::StatusIs;
using testing::Cell;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeSchema;
using testing::MakeTable;
using testing::MakeWrite;
using testing::Row;
using testing::SnapshotRows;

using catalog::v1::CatalogEntry;

Cell S(const char* s) { return Cell(std::string(s)); }
Cell I(int64_t v) { return Cell(v); }

// k (primary key), v.
Schema KvSchema() {
  return MakeSchema({{"k", v1::COLUMN_TYPE_INT64}, {"v", v1::COLUMN_TYPE_STRING}}, {"k"});
}

// A write whose catalog entry is titled after the version it makes:
// "v<version>".
DatasetWrite TitledWrite(const std::string& id, ImportMode mode, const std::vector<Row>& rows,
                         const std::string& sha = "") {
  DatasetWrite w = MakeWrite(id, mode, MakeTable(KvSchema(), rows), sha);
  w.make_catalog_entry = [](const v1::DatasetVersion& version,
                            const CatalogEntry* /*previous*/) -> absl::StatusOr<CatalogEntry> {
    CatalogEntry entry;
    entry.mutable_metadata()->set_title(absl::StrCat("v", version.version()));
    return entry;
  };
  return w;
}

// Two threads running `reader` until Stop (or the destructor) sets *done
// and joins them.
class TwoReaders {
 public:
  TwoReaders(std::atomic<bool>* done, const std::function<void()>& reader)
      : done_(done), first_(reader), second_(reader) {}
  ~TwoReaders() { Stop(); }
  void Stop() {
    if (!first_.joinable()) return;
    *done_ = true;
    first_.join();
    second_.join();
  }

 private:
  std::atomic<bool>* done_;
  std::thread first_;
  std::thread second_;
};

class DatasetStoreStateTest : public ::testing::Test {
 protected:
  DatasetStoreOptions Options(const std::string& name, bool cache_current_state = true) {
    DatasetStoreOptions o;
    o.path = dir_.File(name);
    o.sync_commits = false;
    o.cache_current_state = cache_current_state;
    return o;
  }

  static std::unique_ptr<DatasetStore> Open(const DatasetStoreOptions& o) {
    auto store = DatasetStore::Open(o);
    EXPECT_THAT(store.status(), IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  static absl::Status Commit(DatasetStore& store, DatasetWrite w) {
    std::vector<DatasetWrite> writes;
    writes.push_back(std::move(w));
    return store.Commit(std::move(writes)).status();
  }

  // Both readers show `version` of "d", titled `title`, with `rows`.
  static void ExpectState(DatasetStore& store, uint64_t version, const std::string& title,
                          const std::vector<Row>& rows) {
    auto entry = store.GetCatalogEntry("d");
    ASSERT_THAT(entry.status(), IsOk());
    EXPECT_EQ(entry->version(), version);
    EXPECT_EQ(entry->metadata().title(), title);
    EXPECT_EQ(entry->row_count(), rows.size());
    auto snap = store.OpenSnapshot("d");
    ASSERT_THAT(snap.status(), IsOk());
    EXPECT_EQ(snap->version, version);
    EXPECT_EQ(snap->num_rows, rows.size());
    EXPECT_EQ(SnapshotRows(*snap), rows);
    ExpectListsAgree(store);
  }

  // ListCatalogShared shows the same entries, in the same order, as
  // ListCatalog, which parses every entry from RocksDB.
  static void ExpectListsAgree(DatasetStore& store) {
    auto parsed = store.ListCatalog();
    ASSERT_THAT(parsed.status(), IsOk());
    auto shared = store.ListCatalogShared();
    ASSERT_THAT(shared.status(), IsOk());
    ASSERT_EQ(shared->size(), parsed->size());
    for (size_t i = 0; i < parsed->size(); ++i) {
      EXPECT_EQ((*shared)[i]->SerializeAsString(), (*parsed)[i].SerializeAsString()) << i;
    }
  }

  fednode::testing::TempDir dir_;
};

TEST_F(DatasetStoreStateTest, EveryWriteShowsAtOnceWithTheCacheOnAndOff) {
  for (const bool cache : {true, false}) {
    SCOPED_TRACE(cache ? "cache on" : "cache off");
    auto store = Open(Options(cache ? "on" : "off", cache));
    ASSERT_NE(store, nullptr);
    const size_t cached = cache ? 1 : 0;

    ASSERT_THAT(
        Commit(*store, TitledWrite("d", ImportMode::kReplace, {{I(1), S("a")}, {I(2), S("b")}})),
        IsOk());
    ExpectState(*store, 1, "v1", {{I(1), S("a")}, {I(2), S("b")}});
    EXPECT_EQ(store->CachedStatesForTest(), cached);
    ExpectState(*store, 1, "v1", {{I(1), S("a")}, {I(2), S("b")}});  // from memory

    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kAppend, {{I(3), S("c")}})), IsOk());
    ExpectState(*store, 2, "v2", {{I(1), S("a")}, {I(2), S("b")}, {I(3), S("c")}});

    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kUpsert, {{I(1), S("A")}})), IsOk());
    ExpectState(*store, 3, "v3", {{I(2), S("b")}, {I(3), S("c")}, {I(1), S("A")}});

    // A metadata edit: a new entry beside the same version.
    auto entry = store->GetCatalogEntry("d");
    ASSERT_THAT(entry.status(), IsOk());
    const uint64_t seq = entry->change_seq();
    entry->mutable_metadata()->set_title("edited");
    ASSERT_THAT(store->PutCatalogEntry(*entry), IsOk());
    ExpectState(*store, 3, "edited", {{I(2), S("b")}, {I(3), S("c")}, {I(1), S("A")}});
    EXPECT_GT(store->GetCatalogEntry("d")->change_seq(), seq);

    // A replace; its identical repetition changes nothing.
    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, {{I(9), S("z")}}, "sha")),
                IsOk());
    ExpectState(*store, 4, "v4", {{I(9), S("z")}});
    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, {{I(9), S("z")}}, "sha")),
                IsOk());
    ExpectState(*store, 4, "v4", {{I(9), S("z")}});

    // A commit whose catalog entry fails writes nothing and keeps the state.
    DatasetWrite failing = TitledWrite("d", ImportMode::kReplace, {{I(5), S("x")}});
    failing.make_catalog_entry = [](const v1::DatasetVersion&, const CatalogEntry*) {
      return absl::StatusOr<CatalogEntry>(absl::FailedPreconditionError("no metadata"));
    };
    EXPECT_THAT(Commit(*store, std::move(failing)),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no metadata")));
    ExpectState(*store, 4, "v4", {{I(9), S("z")}});

    // A delete: gone from both, and from memory; a new dataset of that id
    // starts at version 1.
    ASSERT_THAT(store->DeleteDataset("d"), IsOk());
    EXPECT_THAT(store->GetCatalogEntry("d").status(),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("d")));
    EXPECT_THAT(store->OpenSnapshot("d").status(),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("d")));
    EXPECT_EQ(store->CachedStatesForTest(), 0u);
    EXPECT_THAT(store->ListCatalogShared(), IsOkAndHolds(IsEmpty()));
    // Several datasets, one id with a byte that keys escape (NUL): listed
    // in the order of their ids, each once.
    const std::vector<std::string> ids = {"b", "a", std::string("a\0z", 3), "a-1"};
    for (const std::string& id : ids) {
      ASSERT_THAT(Commit(*store, TitledWrite(id, ImportMode::kReplace, {{I(1), S("x")}})), IsOk());
    }
    ExpectListsAgree(*store);
    auto listed = store->ListCatalogShared();
    ASSERT_THAT(listed.status(), IsOk());
    std::vector<std::string> listed_ids;
    for (const auto& e : *listed) listed_ids.push_back(e->dataset_id());
    EXPECT_EQ(listed_ids, (std::vector<std::string>{"a", std::string("a\0z", 3), "a-1", "b"}));
    for (const std::string& id : ids) ASSERT_THAT(store->DeleteDataset(id), IsOk());
    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, {{I(7), S("neu")}})), IsOk());
    ExpectState(*store, 1, "v1", {{I(7), S("neu")}});
    EXPECT_EQ(store->CachedStatesForTest(), cached);
  }
}

TEST_F(DatasetStoreStateTest, DatasetsThatDoNotExistAreNotRemembered) {
  auto store = Open(Options("db"));
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 100; ++i) {
    const std::string id = absl::StrCat("fehlt", i);
    EXPECT_THAT(store->GetCatalogEntry(id).status(),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
    EXPECT_THAT(store->OpenSnapshot(id).status(),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr(id)));
  }
  EXPECT_EQ(store->CachedStatesForTest(), 0u);
  EXPECT_EQ(store->OpenSnapshotsForTest(), 0u);
}

TEST_F(DatasetStoreStateTest, AReopenedStoreReadsTheStateLastCommitted) {
  const DatasetStoreOptions o = Options("db");
  CatalogEntry before;
  {
    auto store = Open(o);
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, {{I(1), S("a")}})), IsOk());
    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kAppend, {{I(2), S("b")}})), IsOk());
    auto entry = store->GetCatalogEntry("d");
    ASSERT_THAT(entry.status(), IsOk());
    entry->mutable_metadata()->set_title("edited");
    ASSERT_THAT(store->PutCatalogEntry(*entry), IsOk());
    auto latest = store->GetCatalogEntry("d");
    ASSERT_THAT(latest.status(), IsOk());
    before = *latest;
  }
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CachedStatesForTest(), 0u);  // filled on first use
  auto entry = store->GetCatalogEntry("d");
  ASSERT_THAT(entry.status(), IsOk());
  EXPECT_EQ(entry->SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(store->CachedStatesForTest(), 1u);
  ExpectState(*store, 2, "edited", {{I(1), S("a")}, {I(2), S("b")}});
}

TEST_F(DatasetStoreStateTest, SnapshotFromMemoryKeepsItsSegmentsAcrossAReplaceAndADelete) {
  DatasetStoreOptions o = Options("db");
  o.segment_max_rows = 2;
  o.segment_cache_bytes = 0;  // every load reads RocksDB, through the snapshot
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  const std::vector<Row> rows = {{I(1), S("a")}, {I(2), S("b")}, {I(3), S("c")}};
  ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, rows)), IsOk());
  ASSERT_EQ(store->CachedStatesForTest(), 1u);
  auto snap = store->OpenSnapshot("d");  // the manifest from memory
  ASSERT_THAT(snap.status(), IsOk());
  ASSERT_EQ(snap->segments.size(), 2u);
  EXPECT_EQ(store->OpenSnapshotsForTest(), 1u);
  ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, {{I(4), S("d")}})), IsOk());
  ASSERT_THAT(store->DeleteDataset("d"), IsOk());
  EXPECT_EQ(SnapshotRows(*snap), rows);
}

// Readers in other threads during commits and metadata edits: each call
// shows a state at least as new as the last write returned before it, a
// later call never an older state than an earlier one, the entry always of
// the version whose rows the snapshot beside it reads, and every segment of
// a snapshot stays readable.
TEST_F(DatasetStoreStateTest, ConcurrentReadersSeeEntriesAndVersionsOfOneState) {
  DatasetStoreOptions o = Options("db");
  o.segment_max_rows = 16;
  o.segment_cache_bytes = 0;  // every snapshot reads its segments from RocksDB
  auto store = Open(o);
  ASSERT_NE(store, nullptr);
  // Version n: 20 + (n % 5) * 10 rows, every v "n".
  auto rows_of = [](uint64_t version) {
    std::vector<Row> rows;
    for (uint64_t k = 0; k < 20 + (version % 5) * 10; ++k) {
      rows.push_back({I(static_cast<int64_t>(k)), Cell(absl::StrCat(version))});
    }
    return rows;
  };
  ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, rows_of(1))), IsOk());

  std::atomic<uint64_t> returned{1};  // the version of the last returned write
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  auto check_entry = [&](const CatalogEntry& e) {
    const std::string title = absl::StrCat("v", e.version());
    return (e.metadata().title() == title ||
            e.metadata().title() == absl::StrCat(title, " edited")) &&
           e.row_count() == rows_of(e.version()).size();
  };
  auto reader = [&] {
    uint64_t seen = 0;
    while (!done.load()) {
      const uint64_t floor = returned.load();
      auto first = store->GetCatalogEntry("d");
      auto snap = store->OpenSnapshot("d");
      auto second = store->GetCatalogEntry("d");
      if (!first.ok() || !snap.ok() || !second.ok()) {
        ADD_FAILURE() << first.status() << " " << snap.status() << " " << second.status();
        return;
      }
      if (first->version() < std::max(floor, seen) || snap->version < first->version() ||
          second->version() < snap->version || !check_entry(*first) || !check_entry(*second)) {
        ADD_FAILURE() << "after version " << std::max(floor, seen) << ": entry " << first->version()
                      << " (" << first->metadata().title() << "), snapshot " << snap->version
                      << ", entry " << second->version() << " (" << second->metadata().title()
                      << ")";
        return;
      }
      seen = second->version();
      if (SnapshotRows(*snap) != rows_of(snap->version)) {
        ADD_FAILURE() << "snapshot of version " << snap->version << " reads other rows";
        return;
      }
      ++checks;
    }
  };
  TwoReaders readers(&done, reader);
  for (uint64_t version = 2; version <= 150; ++version) {
    ASSERT_THAT(Commit(*store, TitledWrite("d", ImportMode::kReplace, rows_of(version))), IsOk());
    returned = version;
    auto entry = store->GetCatalogEntry("d");
    ASSERT_THAT(entry.status(), IsOk());
    EXPECT_EQ(entry->version(), version);
    entry->mutable_metadata()->set_title(absl::StrCat("v", version, " edited"));
    ASSERT_THAT(store->PutCatalogEntry(*entry), IsOk());
    EXPECT_EQ(store->GetCatalogEntry("d")->metadata().title(),
              absl::StrCat("v", version, " edited"));
  }
  // Let the readers check the last state too.
  const int seen = checks.load();
  while (checks.load() < seen + 2 && !::testing::Test::HasFailure()) std::this_thread::yield();
  readers.Stop();
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(store->OpenSnapshotsForTest(), 0u);
}

// A write of `id` whose catalog entry is titled `title`.
DatasetWrite WriteTitled(const std::string& id, const std::string& title, int64_t k) {
  DatasetWrite w = MakeWrite(id, ImportMode::kReplace, MakeTable(KvSchema(), {{I(k), S("x")}}));
  w.make_catalog_entry = [title](const v1::DatasetVersion&,
                                 const CatalogEntry*) -> absl::StatusOr<CatalogEntry> {
    CatalogEntry entry;
    entry.mutable_metadata()->set_title(title);
    return entry;
  };
  return w;
}

// Two ListCatalogShared calls in a row list `n` entries each, entry by entry
// the same objects (the list kept) or others (parsed again).
void ExpectListedTwice(DatasetStore& store, size_t n, bool same_objects) {
  auto first = store.ListCatalogShared();
  auto again = store.ListCatalogShared();
  ASSERT_THAT(first.status(), IsOk());
  ASSERT_THAT(again.status(), IsOk());
  ASSERT_EQ(first->size(), n);
  ASSERT_EQ(again->size(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ((*first)[i].get() == (*again)[i].get(), same_objects) << i;
  }
}

TEST_F(DatasetStoreStateTest, SharedCatalogListIsParsedAgainOnlyAfterTheCatalogChanged) {
  auto store = Open(Options("db"));
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(Commit(*store, WriteTitled("a", "A", 1)), IsOk());
  ASSERT_THAT(Commit(*store, WriteTitled("b", "B", 1)), IsOk());
  ExpectListedTwice(*store, 2, /*same_objects=*/true);

  // Each kind of catalog change shows at the next call.
  ASSERT_THAT(Commit(*store, WriteTitled("c", "C", 1)), IsOk());
  ExpectListsAgree(*store);
  auto entry = store->GetCatalogEntry("a");
  ASSERT_THAT(entry.status(), IsOk());
  entry->mutable_metadata()->set_title("A edited");
  ASSERT_THAT(store->PutCatalogEntry(*entry), IsOk());
  ExpectListsAgree(*store);
  ASSERT_THAT(store->DeleteDataset("b"), IsOk());
  auto after = store->ListCatalogShared();
  ASSERT_THAT(after.status(), IsOk());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0]->metadata().title(), "A edited");
  EXPECT_EQ((*after)[1]->dataset_id(), "c");
  ExpectListsAgree(*store);

  // With the cache off every call parses the catalog.
  auto uncached = Open(Options("off", /*cache_current_state=*/false));
  ASSERT_NE(uncached, nullptr);
  ASSERT_THAT(Commit(*uncached, WriteTitled("a", "A", 1)), IsOk());
  ExpectListedTwice(*uncached, 1, /*same_objects=*/false);
}

TEST_F(DatasetStoreStateTest, SharedCatalogListShowsACommitOfSeveralDatasetsWhole) {
  auto store = Open(Options("db"));
  ASSERT_NE(store, nullptr);
  // Each commit writes "a" and "b" together; exactly one of them is titled
  // "mark", alternating. A list that mixed two moments would show none or
  // both.
  auto commit_round = [&](int round) {
    std::vector<DatasetWrite> writes;
    writes.push_back(WriteTitled("a", round % 2 == 0 ? "mark" : "-", round));
    writes.push_back(WriteTitled("b", round % 2 == 0 ? "-" : "mark", round));
    return store->Commit(std::move(writes)).status();
  };
  ASSERT_THAT(commit_round(0), IsOk());
  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  auto reader = [&] {
    while (!done.load()) {
      auto list = store->ListCatalogShared();
      if (!list.ok() || list->size() != 2 || (*list)[0] == nullptr || (*list)[1] == nullptr ||
          (*list)[0]->dataset_id() != "a" || (*list)[1]->dataset_id() != "b") {
        ADD_FAILURE() << "not the two datasets: " << list.status();
        return;
      }
      const int marks =
          ((*list)[0]->metadata().title() == "mark") + ((*list)[1]->metadata().title() == "mark");
      if (marks != 1) {
        ADD_FAILURE() << marks << " entries marked: versions " << (*list)[0]->version() << ", "
                      << (*list)[1]->version();
        return;
      }
      ++checks;
    }
  };
  TwoReaders readers(&done, reader);
  for (int round = 1; round <= 200 && !::testing::Test::HasFailure(); ++round) {
    ASSERT_THAT(commit_round(round), IsOk());
  }
  readers.Stop();
  EXPECT_GT(checks.load(), 0);
}

}  // namespace
}  // namespace fednode::storage
