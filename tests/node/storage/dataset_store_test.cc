#include "node/storage/dataset_store.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/key_codec.h"
#include "tests/node/storage/test_tables.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::IsOkAndHolds;
using ::fednode::testing::StatusIs;
using ::testing::AllOf;
using testing::Cell;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeSchema;
using testing::MakeTable;
using testing::MakeWrite;
using testing::Row;
using testing::SnapshotRows;

Cell S(const char* s) { return Cell(std::string(s)); }
Cell I(int64_t v) { return Cell(v); }

// Keys of the data column family, read with a plain read-only RocksDB handle
// (the store must be closed).
std::vector<std::string> RawDataKeys(const std::string& path) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : {"default", kCfData, kCfCatalog, kCfMeta, kCfAudit}) {
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return {};
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
  it.reset();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return keys;
}

int CountWithPrefix(const std::vector<std::string>& keys, const std::string& prefix) {
  int n = 0;
  for (const std::string& k : keys) n += absl::StartsWith(k, prefix) ? 1 : 0;
  return n;
}

class DatasetStoreTest : public ::testing::Test {
 protected:
  DatasetStoreOptions Options() {
    DatasetStoreOptions o;
    o.path = dir_.File("db");
    o.sync_commits = false;  // durability has its own test
    o.clock = &clock_;
    return o;
  }

  std::unique_ptr<DatasetStore> OpenStore(const DatasetStoreOptions& o) {
    auto store = DatasetStore::Open(o);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Gemeinden: ags (PK, string), name (string), einwohner (int64).
  static Schema Gemeinden() {
    return MakeSchema({{"ags", v1::COLUMN_TYPE_STRING},
                       {"name", v1::COLUMN_TYPE_STRING},
                       {"einwohner", v1::COLUMN_TYPE_INT64, true}},
                      {"ags"}, "urn:fednode:schema:gemeinden:v1");
  }

  absl::StatusOr<CommitResult> CommitOne(DatasetStore& store, DatasetWrite w) {
    std::vector<DatasetWrite> writes;
    writes.push_back(std::move(w));
    auto r = store.Commit(std::move(writes));
    if (!r.ok()) return r.status();
    return r->at(0);
  }

  std::vector<Row> Rows(DatasetStore& store, const std::string& id) {
    auto snap = store.OpenSnapshot(id);
    EXPECT_TRUE(snap.ok()) << snap.status();
    if (!snap.ok()) return {};
    std::vector<Row> rows = SnapshotRows(*snap);
    EXPECT_EQ(rows.size(), snap->num_rows);
    return rows;
  }

  fednode::testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(DatasetStoreTest, RoundTripsEveryColumnTypeWithNullsAndUmlauts) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  const Schema schema = MakeSchema({{"id", v1::COLUMN_TYPE_INT64},
                                    {"wert", v1::COLUMN_TYPE_DOUBLE, true},
                                    {"ort", v1::COLUMN_TYPE_STRING, true},
                                    {"offen", v1::COLUMN_TYPE_BOOL, true},
                                    {"tag", v1::COLUMN_TYPE_DATE, true},
                                    {"zeit", v1::COLUMN_TYPE_TIMESTAMP, true}},
                                   {"id"});
  const std::vector<Row> rows = {
      {I(1), Cell(1.5), S("Gießen"), Cell(true), I(19723), I(1704067200000000)},
      {I(2), Cell(), S("Bad König"), Cell(false), Cell(), I(-1)},
      {I(3), Cell(-0.25), Cell(), Cell(), I(-719162), Cell()},
      {I(-4), Cell(1e300), S("Ölbach-Übersee ß"), Cell(true), I(0), I(0)},
      {I(5), Cell(0.0), S(""), Cell(false), I(1), I(1)},
  };
  auto r =
      CommitOne(*store, MakeWrite("alle_typen", ImportMode::kReplace, MakeTable(schema, rows)));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->version, 1u);
  EXPECT_EQ(r->rows_written, 5u);
  EXPECT_EQ(r->row_count, 5u);
  EXPECT_FALSE(r->unchanged);

  auto snap = store->OpenSnapshot("alle_typen");
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ(snap->version, 1u);
  EXPECT_EQ(snap->num_rows, 5u);
  EXPECT_EQ(snap->schema.SerializeAsString(), schema.SerializeAsString());
  EXPECT_EQ(SnapshotRows(*snap), rows);

  // Also after a reopen, decoded from disk rather than the cache.
  store.reset();
  store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Rows(*store, "alle_typen"), rows);
}

TEST_F(DatasetStoreTest, ReplaceMakesAVersionOfOnlyTheNewRows) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(
      CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                  MakeTable(Gemeinden(), {{S("06531005"), S("Gießen"), I(90000)},
                                                          {S("06531012"), S("Lich"), I(13000)}}))),
      IsOk());
  auto r = CommitOne(*store,
                     MakeWrite("g", ImportMode::kReplace,
                               MakeTable(Gemeinden(), {{S("06531001"), S("Allendorf"), Cell()}})));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->version, 2u);
  EXPECT_EQ(r->row_count, 1u);
  EXPECT_THAT(Rows(*store, "g"), ElementsAre(Row{S("06531001"), S("Allendorf"), Cell()}));
  // The old version's keys are gone from the primary-key index: appending
  // them again works.
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                          MakeTable(Gemeinden(),
                                                    {{S("06531005"), S("Gießen"), I(90001)}}))),
              IsOk());
}

TEST_F(DatasetStoreTest, AppendAddsASegmentAndKeepsTheOldRows) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                          MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)},
                                                                  {S("2"), S("B"), I(2)}}))),
              IsOk());
  auto r = CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                       MakeTable(Gemeinden(), {{S("3"), S("C"), I(3)}})));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->version, 2u);
  EXPECT_EQ(r->rows_written, 1u);
  EXPECT_EQ(r->row_count, 3u);
  auto snap = store->OpenSnapshot("g");
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ(snap->segments.size(), 2u);
  EXPECT_THAT(SnapshotRows(*snap), ElementsAre(Row{S("1"), S("A"), I(1)}, Row{S("2"), S("B"), I(2)},
                                               Row{S("3"), S("C"), I(3)}));
  // An empty append changes nothing.
  auto empty = CommitOne(*store, MakeWrite("g", ImportMode::kAppend, MakeTable(Gemeinden(), {})));
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->unchanged);
  EXPECT_EQ(empty->version, 2u);
}

TEST_F(DatasetStoreTest, AppendRefusesAnExistingPrimaryKeyNamingIt) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(
      CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                  MakeTable(Gemeinden(), {{S("06531005"), S("Gießen"), I(1)}}))),
      IsOk());
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                          MakeTable(Gemeinden(), {{S("06531012"), S("Lich"), I(2)},
                                                                  {S("06531005"), S("X"), I(3)}}))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("ags=\"06531005\""), HasSubstr("already exists"))));
  EXPECT_EQ(Rows(*store, "g").size(), 1u);
}

TEST_F(DatasetStoreTest, DuplicatePrimaryKeyWithinTheImportIsRefused) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  const Schema schema = MakeSchema({{"ags", v1::COLUMN_TYPE_STRING},
                                    {"jahr", v1::COLUMN_TYPE_INT64},
                                    {"n", v1::COLUMN_TYPE_INT64}},
                                   {"ags", "jahr"});
  EXPECT_THAT(CommitOne(*store, MakeWrite("w", ImportMode::kReplace,
                                          MakeTable(schema, {{S("06531005"), I(2021), I(1)},
                                                             {S("06531005"), I(2022), I(2)},
                                                             {S("06531005"), I(2021), I(3)}}))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("ags=\"06531005\", jahr=2021"), HasSubstr("rows 1 and 3"))));
  EXPECT_THAT(store->OpenSnapshot("w"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("w")));
}

TEST_F(DatasetStoreTest, UpsertReplacesRowsByPrimaryKeyAndAddsNewOnes) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                          MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)},
                                                                  {S("2"), S("B"), I(2)},
                                                                  {S("3"), S("C"), I(3)}}))),
              IsOk());
  auto r = CommitOne(
      *store,
      MakeWrite("g", ImportMode::kUpsert,
                MakeTable(Gemeinden(), {{S("2"), S("B2"), I(20)}, {S("4"), S("D"), I(4)}})));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->version, 2u);
  EXPECT_EQ(r->rows_written, 2u);
  EXPECT_EQ(r->row_count, 4u);
  auto snap = store->OpenSnapshot("g");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 2u);
  EXPECT_THAT(snap->segments[0].deleted_rows, ElementsAre(1u));
  EXPECT_THAT(SnapshotRows(*snap),
              ElementsAre(Row{S("1"), S("A"), I(1)}, Row{S("3"), S("C"), I(3)},
                          Row{S("2"), S("B2"), I(20)}, Row{S("4"), S("D"), I(4)}));

  // Upsert again over rows of both segments.
  r = CommitOne(
      *store,
      MakeWrite("g", ImportMode::kUpsert,
                MakeTable(Gemeinden(), {{S("2"), S("B3"), I(200)}, {S("3"), S("C3"), I(300)}})));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->row_count, 4u);
  snap = store->OpenSnapshot("g");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 3u);
  EXPECT_THAT(snap->segments[0].deleted_rows, ElementsAre(1u, 2u));
  EXPECT_THAT(snap->segments[1].deleted_rows, ElementsAre(0u));
  EXPECT_THAT(SnapshotRows(*snap),
              ElementsAre(Row{S("1"), S("A"), I(1)}, Row{S("4"), S("D"), I(4)},
                          Row{S("2"), S("B3"), I(200)}, Row{S("3"), S("C3"), I(300)}));
}

TEST_F(DatasetStoreTest, UpsertHidingEveryRowOfASegmentDropsTheSegment) {
  DatasetStoreOptions o = Options();
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                          MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}}))),
              IsOk());
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kUpsert,
                                          MakeTable(Gemeinden(), {{S("1"), S("A2"), I(2)}}))),
              IsOk());
  auto snap = store->OpenSnapshot("g");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 1u);
  EXPECT_TRUE(snap->segments[0].deleted_rows.empty());
  EXPECT_THAT(SnapshotRows(*snap), ElementsAre(Row{S("1"), S("A2"), I(2)}));
  store.reset();
  const std::vector<std::string> keys = RawDataKeys(o.path);
  // One segment header, one manifest, one pointer, one index entry.
  EXPECT_EQ(CountWithPrefix(keys, SegmentPrefix("g", 1)), 0);
  EXPECT_EQ(CountWithPrefix(keys, SegmentHeaderKey("g", 2)), 1);
  EXPECT_EQ(CountWithPrefix(keys, ManifestKey("g", 1)), 0);
  EXPECT_EQ(CountWithPrefix(keys, ManifestKey("g", 2)), 1);
  EXPECT_EQ(CountWithPrefix(keys, PrimaryKeyIndexPrefix("g")), 1);
}

TEST_F(DatasetStoreTest, UpsertWithoutPrimaryKeyIsRefused) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  const Schema schema = MakeSchema({{"a", v1::COLUMN_TYPE_INT64}});
  EXPECT_THAT(CommitOne(*store, MakeWrite("x", ImportMode::kUpsert, MakeTable(schema, {{I(1)}}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("primary key")));
}

TEST_F(DatasetStoreTest, SchemaMismatchOnAppendOrUpsertNamesTheColumn) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                          MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}}))),
              IsOk());
  Schema other_type = Gemeinden();
  other_type.mutable_columns(2)->set_type(v1::COLUMN_TYPE_DOUBLE);
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                          MakeTable(other_type, {{S("2"), S("B"), Cell(2.0)}}))),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("einwohner"), HasSubstr("double"))));
  Schema renamed = Gemeinden();
  renamed.mutable_columns(1)->set_name("gemeinde");
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kUpsert,
                                          MakeTable(renamed, {{S("2"), S("B"), I(2)}}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("gemeinde")));
  Schema extra = Gemeinden();
  auto* col = extra.add_columns();
  col->set_name("flaeche");
  col->set_type(v1::COLUMN_TYPE_DOUBLE);
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                          MakeTable(extra, {{S("2"), S("B"), I(2), Cell(1.0)}}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("flaeche")));
  // Replace may change the schema.
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                          MakeTable(extra, {{S("2"), S("B"), I(2), Cell(1.0)}}))),
              IsOk());
}

TEST_F(DatasetStoreTest, ReplacingTheSameSourceTwiceIsANoOp) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  const Table t = MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}});
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace, t, "abc123")), IsOk());
  auto before = store->GetCatalogEntry("g");
  ASSERT_THAT(before, IsOk());
  auto again = CommitOne(*store, MakeWrite("g", ImportMode::kReplace, t, "abc123"));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->unchanged);
  EXPECT_EQ(again->version, 1u);
  EXPECT_EQ(again->row_count, 1u);
  auto after = store->GetCatalogEntry("g");
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->change_seq(), before->change_seq());
  // Another source or another schema makes a new version.
  auto changed = CommitOne(*store, MakeWrite("g", ImportMode::kReplace, t, "def456"));
  ASSERT_THAT(changed, IsOk());
  EXPECT_FALSE(changed->unchanged);
  EXPECT_EQ(changed->version, 2u);
  Schema described = Gemeinden();
  described.mutable_columns(2)->set_unit("Personen");
  changed = CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                        MakeTable(described, {{S("1"), S("A"), I(1)}}), "def456"));
  ASSERT_THAT(changed, IsOk());
  EXPECT_EQ(changed->version, 3u);
}

TEST_F(DatasetStoreTest, ACommitIsAllOrNothingAcrossDatasets) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  std::vector<DatasetWrite> writes;
  writes.push_back(
      MakeWrite("a", ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
  writes.push_back(
      MakeWrite("b", ImportMode::kReplace,
                MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}, {S("1"), S("B"), I(2)}})));
  EXPECT_THAT(store->Commit(std::move(writes)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset b")));
  EXPECT_THAT(store->OpenSnapshot("a"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store->GetCatalogEntry("a"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  // A failing catalog callback aborts the commit too.
  writes.clear();
  writes.push_back(
      MakeWrite("a", ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
  writes.push_back(
      MakeWrite("c", ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
  writes[1].make_catalog_entry =
      [](const v1::DatasetVersion&,
         const catalog::v1::CatalogEntry*) -> absl::StatusOr<catalog::v1::CatalogEntry> {
    return absl::InvalidArgumentError("title missing");
  };
  EXPECT_THAT(store->Commit(std::move(writes)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("title missing")));
  EXPECT_THAT(store->OpenSnapshot("a"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  // Two writes to one dataset in one commit are refused.
  writes.clear();
  writes.push_back(MakeWrite("a", ImportMode::kReplace, MakeTable(Gemeinden(), {})));
  writes.push_back(MakeWrite("a", ImportMode::kAppend, MakeTable(Gemeinden(), {})));
  EXPECT_THAT(store->Commit(std::move(writes)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

TEST_F(DatasetStoreTest, InconsistentTablesAreInvalidArguments) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  Table t = MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}});
  t.num_rows = 2;
  EXPECT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace, t)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset g")));
  EXPECT_THAT(CommitOne(*store, MakeWrite("", ImportMode::kReplace, MakeTable(Gemeinden(), {}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  const Schema nullable_pk = MakeSchema({{"k", v1::COLUMN_TYPE_INT64, true}}, {"k"});
  EXPECT_THAT(
      CommitOne(*store, MakeWrite("n", ImportMode::kReplace, MakeTable(nullable_pk, {{Cell()}}))),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("NULL")));
}

TEST_F(DatasetStoreTest, CatalogIsOrderedByIdAndEveryChangeBumpsTheSequence) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  auto with_title = [](const std::string& title) {
    return [title](const v1::DatasetVersion& version, const catalog::v1::CatalogEntry* previous)
               -> absl::StatusOr<catalog::v1::CatalogEntry> {
      catalog::v1::CatalogEntry e;
      if (previous != nullptr) e = *previous;
      e.mutable_metadata()->set_title(absl::StrCat(title, " v", version.version()));
      return e;
    };
  };
  std::vector<DatasetWrite> writes;
  for (const char* id : {"wahl", "bevoelkerung", "baeder"}) {
    writes.push_back(
        MakeWrite(id, ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
    writes.back().make_catalog_entry = with_title(id);
  }
  ASSERT_THAT(store->Commit(std::move(writes)), IsOk());
  auto list = store->ListCatalog();
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].dataset_id(), "baeder");
  EXPECT_EQ((*list)[1].dataset_id(), "bevoelkerung");
  EXPECT_EQ((*list)[2].dataset_id(), "wahl");
  EXPECT_EQ((*list)[2].metadata().title(), "wahl v1");
  EXPECT_EQ((*list)[2].version(), 1u);
  EXPECT_EQ((*list)[2].row_count(), 1u);
  EXPECT_EQ((*list)[2].schema().columns_size(), 3);
  EXPECT_EQ((*list)[0].change_seq(), 3u);
  EXPECT_EQ((*list)[1].change_seq(), 2u);
  EXPECT_EQ((*list)[2].change_seq(), 1u);

  auto entry = store->GetCatalogEntry("wahl");
  ASSERT_THAT(entry, IsOk());
  entry->mutable_metadata()->set_description("Kommunalwahl 2021");
  ASSERT_THAT(store->PutCatalogEntry(*entry), IsOk());
  entry = store->GetCatalogEntry("wahl");
  ASSERT_THAT(entry, IsOk());
  EXPECT_EQ(entry->change_seq(), 4u);
  EXPECT_EQ(entry->metadata().description(), "Kommunalwahl 2021");

  // A commit's callback sees the previous entry.
  writes.clear();
  writes.push_back(
      MakeWrite("wahl", ImportMode::kAppend, MakeTable(Gemeinden(), {{S("2"), S("B"), I(2)}})));
  writes.back().make_catalog_entry = with_title("wahl");
  ASSERT_THAT(store->Commit(std::move(writes)), IsOk());
  entry = store->GetCatalogEntry("wahl");
  ASSERT_THAT(entry, IsOk());
  EXPECT_EQ(entry->change_seq(), 5u);
  EXPECT_EQ(entry->version(), 2u);
  EXPECT_EQ(entry->row_count(), 2u);
  EXPECT_EQ(entry->metadata().title(), "wahl v2");
  EXPECT_EQ(entry->metadata().description(), "Kommunalwahl 2021");

  catalog::v1::CatalogEntry missing;
  missing.set_dataset_id("nicht_da");
  EXPECT_THAT(store->PutCatalogEntry(missing),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nicht_da")));
  EXPECT_THAT(store->GetCatalogEntry("nicht_da"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nicht_da")));
}

std::vector<uint64_t> Seqs(const CatalogChangePage& page) {
  std::vector<uint64_t> out;
  for (const auto& c : page.changes) out.push_back(c.seq);
  return out;
}

TEST_F(DatasetStoreTest, ChangeLogPagesBySequenceAndKeepsWhatWasShared) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  std::vector<DatasetWrite> writes;
  for (const char* id : {"a", "b", "c"}) {
    writes.push_back(
        MakeWrite(id, ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
  }
  ASSERT_THAT(store->Commit(std::move(writes)), IsOk());  // a=1, b=2, c=3

  auto page = store->ListCatalogChanges(0, 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Seqs(*page), ElementsAre(1u, 2u));
  EXPECT_TRUE(page->more);
  ASSERT_TRUE(page->changes[0].entry.has_value());
  EXPECT_EQ(page->changes[0].dataset_id, "a");
  EXPECT_EQ(page->changes[0].entry->change_seq(), 1u);
  EXPECT_TRUE(page->changes[0].prior_conforms_to.empty());
  page = store->ListCatalogChanges(2, 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Seqs(*page), ElementsAre(3u));
  EXPECT_FALSE(page->more);
  page = store->ListCatalogChanges(3, 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_TRUE(page->changes.empty());
  EXPECT_FALSE(page->more);

  // a becomes PRIVATE (seq 4): its record moves, remembering it was shared.
  auto a = store->GetCatalogEntry("a");
  ASSERT_THAT(a, IsOk());
  a->mutable_metadata()->set_access_class(catalog::v1::ACCESS_CLASS_PRIVATE);
  ASSERT_THAT(store->PutCatalogEntry(*a), IsOk());
  // Another change of the private a (seq 5) keeps that memory.
  a->mutable_metadata()->set_title("geheim");
  ASSERT_THAT(store->PutCatalogEntry(*a), IsOk());
  // b is deleted (seq 6).
  ASSERT_THAT(store->DeleteDataset("b"), IsOk());
  page = store->ListCatalogChanges(0, 10);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Seqs(*page), ElementsAre(3u, 5u, 6u));
  EXPECT_EQ(page->changes[1].dataset_id, "a");
  ASSERT_TRUE(page->changes[1].entry.has_value());
  EXPECT_EQ(page->changes[1].entry->metadata().title(), "geheim");
  EXPECT_THAT(page->changes[1].prior_conforms_to, ElementsAre("urn:fednode:schema:gemeinden:v1"));
  EXPECT_EQ(page->changes[2].dataset_id, "b");
  EXPECT_FALSE(page->changes[2].entry.has_value());
  EXPECT_THAT(page->changes[2].prior_conforms_to, ElementsAre("urn:fednode:schema:gemeinden:v1"));

  // b created again (seq 7): its deletion record stays, without the entry.
  ASSERT_THAT(CommitOne(*store, MakeWrite("b", ImportMode::kReplace,
                                          MakeTable(Gemeinden(), {{S("2"), S("B"), I(2)}}))),
              IsOk());
  page = store->ListCatalogChanges(5, 10);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Seqs(*page), ElementsAre(6u, 7u));
  EXPECT_FALSE(page->changes[0].entry.has_value());
  ASSERT_TRUE(page->changes[1].entry.has_value());
  EXPECT_EQ(page->changes[1].entry->change_seq(), 7u);
  EXPECT_TRUE(page->changes[1].prior_conforms_to.empty());

  // The log survives a reopen.
  store.reset();
  store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  page = store->ListCatalogChanges(4, 1);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Seqs(*page), ElementsAre(5u));
  EXPECT_TRUE(page->more);
}

TEST_F(DatasetStoreTest, HarvestRecordsAreKeptPerMemberAndGeneration) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  HarvestBatch lich;
  lich.peer_ags = "06531011";
  lich.puts = {{1, "x", "X1"}, {1, "a", "A1"}, {2, "a", "A2"}};
  lich.state = "S1";
  ASSERT_THAT(store->WriteHarvest(lich), IsOk());
  HarvestBatch county;  // "06531" is a prefix of "06531011": E() keeps them apart
  county.peer_ags = "06531";
  county.puts = {{1, "k", "K1"}};
  county.state = "C1";
  ASSERT_THAT(store->WriteHarvest(county), IsOk());
  EXPECT_THAT(store->ReadHarvested("06531011", 1), IsOkAndHolds(ElementsAre("A1", "X1")));
  EXPECT_THAT(store->ReadHarvested("06531011", 2), IsOkAndHolds(ElementsAre("A2")));
  EXPECT_THAT(store->ReadHarvested("06531", 1), IsOkAndHolds(ElementsAre("K1")));
  auto state = store->GetHarvestState("06531011");
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->value_or(""), "S1");
  state = store->GetHarvestState("06531018");
  ASSERT_THAT(state, IsOk());
  EXPECT_FALSE(state->has_value());

  HarvestBatch swap;
  swap.peer_ags = "06531011";
  swap.drop_generations = {1};
  swap.deletes = {{2, "a", ""}};
  swap.puts = {{2, "b", "B2"}};
  swap.state = "S2";
  ASSERT_THAT(store->WriteHarvest(swap), IsOk());
  store.reset();
  store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->ReadHarvested("06531011", 1), IsOkAndHolds(ElementsAre()));
  EXPECT_THAT(store->ReadHarvested("06531011", 2), IsOkAndHolds(ElementsAre("B2")));
  EXPECT_THAT(store->ReadHarvested("06531", 1), IsOkAndHolds(ElementsAre("K1")));
  state = store->GetHarvestState("06531011");
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->value_or(""), "S2");
  // The own catalog does not see harvested records.
  EXPECT_THAT(store->ListCatalog(), IsOkAndHolds(ElementsAre()));
}

TEST_F(DatasetStoreTest, DeleteDatasetRemovesRowsSegmentsAndEntry) {
  DatasetStoreOptions o = Options();
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  std::vector<DatasetWrite> writes;
  writes.push_back(
      MakeWrite("a", ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
  writes.push_back(
      MakeWrite("ab", ImportMode::kReplace, MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}})));
  ASSERT_THAT(store->Commit(std::move(writes)), IsOk());
  {
    auto snap = store->OpenSnapshot("a");
    ASSERT_THAT(snap, IsOk());
    ASSERT_THAT(snap->LoadSegment(0), IsOk());  // segments are decoded (and cached) on demand
  }
  EXPECT_GT(store->SegmentCacheEntriesForTest(), 0u);
  ASSERT_THAT(store->DeleteDataset("a"), IsOk());
  EXPECT_THAT(store->OpenSnapshot("a"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store->GetCatalogEntry("a"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(store->DeleteDataset("a"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("a")));
  EXPECT_EQ(Rows(*store, "ab").size(), 1u);  // a neighbour with a longer id survives
  auto list = store->ListCatalog();
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].dataset_id(), "ab");
  store.reset();
  const std::vector<std::string> keys = RawDataKeys(o.path);
  EXPECT_EQ(CountWithPrefix(keys, DatasetPrefix("a")), 0);
  EXPECT_GT(CountWithPrefix(keys, DatasetPrefix("ab")), 0);
}

TEST_F(DatasetStoreTest, ReopenKeepsDataCountersAndMeta) {
  DatasetStoreOptions o = Options();
  {
    auto store = OpenStore(o);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->format_version(), kFormatVersion);
    EXPECT_EQ(store->path(), o.path);
    ASSERT_THAT(store->PutMeta("member_ags", "06531005"), IsOk());
    ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                            MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}}))),
                IsOk());
    EXPECT_THAT(store->GetMeta("other"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("other")));
  }
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->GetMeta("member_ags"), IsOk());
  EXPECT_EQ(*store->GetMeta("member_ags"), "06531005");
  EXPECT_THAT(Rows(*store, "g"), ElementsAre(Row{S("1"), S("A"), I(1)}));
  auto r = CommitOne(*store, MakeWrite("g", ImportMode::kAppend,
                                       MakeTable(Gemeinden(), {{S("2"), S("B"), I(2)}})));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->version, 2u);
  auto entry = store->GetCatalogEntry("g");
  ASSERT_THAT(entry, IsOk());
  EXPECT_EQ(entry->change_seq(), 2u);
  auto snap = store->OpenSnapshot("g");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 2u);
  EXPECT_EQ(Rows(*store, "g").size(), 2u);
}

TEST_F(DatasetStoreTest, NewerFormatVersionIsRefused) {
  DatasetStoreOptions o = Options();
  {
    auto store = OpenStore(o);
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->SetFormatVersionForTest(kFormatVersion + 1), IsOk());
  }
  EXPECT_THAT(
      DatasetStore::Open(o),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr(o.path), HasSubstr(absl::StrCat("format ", kFormatVersion + 1,
                                                               " is newer than this fednode")))));
  // The refused Open released the directory: a second try gives the same
  // answer, not "in use".
  EXPECT_THAT(DatasetStore::Open(o),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
}

TEST_F(DatasetStoreTest, OlderFormatWithoutMigrationIsRefused) {
  DatasetStoreOptions o = Options();
  {
    auto store = OpenStore(o);
    ASSERT_NE(store, nullptr);
    ASSERT_THAT(store->SetFormatVersionForTest(0), IsOk());
  }
  EXPECT_THAT(DatasetStore::Open(o), StatusIs(absl::StatusCode::kFailedPrecondition,
                                              AllOf(HasSubstr(o.path), HasSubstr("migrate"))));
}

TEST_F(DatasetStoreTest, SecondOpenOfTheSameDirectoryFailsAtOnce) {
  DatasetStoreOptions o = Options();
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_THAT(DatasetStore::Open(o),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(o.path)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  store.reset();
  EXPECT_THAT(DatasetStore::Open(o), IsOk());
}

TEST_F(DatasetStoreTest, LargeSegmentsAreSplitIntoChunksAndOldOnesDeleted) {
  DatasetStoreOptions o = Options();
  o.segment_chunk_rows = 100;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  const Schema schema = MakeSchema({{"id", v1::COLUMN_TYPE_INT64},
                                    {"name", v1::COLUMN_TYPE_STRING},
                                    {"wert", v1::COLUMN_TYPE_DOUBLE, true}},
                                   {"id"});
  std::vector<Row> rows;
  for (int64_t i = 0; i < 1050; ++i) {
    rows.push_back({I(i), Cell(absl::StrCat("Straße ", i)),
                    i % 10 == 0 ? Cell() : Cell(static_cast<double>(i) * 0.5)});
  }
  ASSERT_THAT(CommitOne(*store, MakeWrite("gross", ImportMode::kReplace, MakeTable(schema, rows))),
              IsOk());
  EXPECT_EQ(Rows(*store, "gross"), rows);
  store.reset();
  std::vector<std::string> keys = RawDataKeys(o.path);
  // 11 value chunks per column, 11 dictionary chunks (1050 distinct names).
  for (uint32_t c = 0; c < 3; ++c) {
    std::string prefix = SegmentPrefix("gross", 1);
    prefix.push_back('v');
    AppendBigEndian32(c, &prefix);
    EXPECT_EQ(CountWithPrefix(keys, prefix), 11) << c;
  }
  std::string dict_prefix = SegmentPrefix("gross", 1);
  dict_prefix.push_back('d');
  EXPECT_EQ(CountWithPrefix(keys, dict_prefix), 11);
  EXPECT_EQ(CountWithPrefix(keys, PrimaryKeyIndexPrefix("gross")), 1050);

  // Reopened: decoded from disk, equal. A replace deletes segment 1.
  store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Rows(*store, "gross"), rows);
  rows.resize(10);
  ASSERT_THAT(CommitOne(*store, MakeWrite("gross", ImportMode::kReplace, MakeTable(schema, rows))),
              IsOk());
  EXPECT_EQ(Rows(*store, "gross"), rows);
  store.reset();
  keys = RawDataKeys(o.path);
  EXPECT_EQ(CountWithPrefix(keys, SegmentPrefix("gross", 1)), 0);
  EXPECT_GT(CountWithPrefix(keys, SegmentPrefix("gross", 2)), 0);
  EXPECT_EQ(CountWithPrefix(keys, PrimaryKeyIndexPrefix("gross")), 10);
}

TEST_F(DatasetStoreTest, SnapshotsOfACachedVersionShareTheDecodedSegments) {
  auto store = OpenStore(Options());
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                          MakeTable(Gemeinden(), {{S("1"), S("A"), I(1)}}))),
              IsOk());
  auto a = store->OpenSnapshot("g");
  auto b = store->OpenSnapshot("g");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  auto table_a = a->LoadSegment(0);
  auto table_b = b->LoadSegment(0);
  ASSERT_THAT(table_a, IsOk());
  ASSERT_THAT(table_b, IsOk());
  EXPECT_EQ(table_a->get(), table_b->get());
  EXPECT_GT(store->SegmentCacheBytesForTest(), 0u);
  // A snapshot stays valid after a replace deleted its segment; once the
  // store closed, it can no longer load segments (decoded ones stay valid).
  ASSERT_THAT(CommitOne(*store, MakeWrite("g", ImportMode::kReplace,
                                          MakeTable(Gemeinden(), {{S("2"), S("B"), I(2)}}))),
              IsOk());
  EXPECT_THAT(SnapshotRows(*a), ElementsAre(Row{S("1"), S("A"), I(1)}));
  store.reset();
  EXPECT_EQ(table_a->get()->num_rows, 1u);
  EXPECT_THAT(a->LoadSegment(0),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
}

TEST_F(DatasetStoreTest, ConcurrentReaderSeesExactlyOneVersionPerSnapshot) {
  DatasetStoreOptions o = Options();
  o.sync_commits = true;
  o.segment_cache_bytes = 0;  // decode every snapshot from RocksDB
  o.segment_chunk_rows = 64;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  const Schema schema = MakeSchema(
      {{"k", v1::COLUMN_TYPE_INT64}, {"v", v1::COLUMN_TYPE_INT64}, {"s", v1::COLUMN_TYPE_STRING}},
      {"k"});
  auto make = [&](int64_t marker) {
    std::vector<Row> rows;
    const int64_t n = 300 + (marker % 7) * 50;  // the row count varies with the version
    for (int64_t k = 0; k < n; ++k)
      rows.push_back({I(k), I(marker), Cell(absl::StrCat("v", marker))});
    return MakeTable(schema, rows);
  };
  ASSERT_THAT(CommitOne(*store, MakeWrite("mix", ImportMode::kReplace, make(1))), IsOk());

  std::atomic<bool> done{false};
  std::atomic<int> snapshots{0};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto snap = store->OpenSnapshot("mix");
      if (!snap.ok()) {
        ADD_FAILURE() << snap.status();
        ++failures;
        return;
      }
      const std::vector<Row> rows = SnapshotRows(*snap);
      const int64_t marker = static_cast<int64_t>(snap->version);
      const size_t expected = 300 + static_cast<size_t>(marker % 7) * 50;
      bool ok = rows.size() == expected;
      for (const Row& row : rows) {
        ok = ok && row[1] == I(marker) && row[2] == Cell(absl::StrCat("v", marker));
      }
      if (!ok) {
        ADD_FAILURE() << "snapshot of version " << marker << " mixes versions";
        ++failures;
        return;
      }
      ++snapshots;
    }
  });
  for (int64_t version = 2; version <= 51; ++version) {
    auto r = CommitOne(*store, MakeWrite("mix", ImportMode::kReplace, make(version)));
    ASSERT_THAT(r, IsOk());
    ASSERT_EQ(r->version, static_cast<uint64_t>(version));
  }
  // Let the reader check the final version at least once more.
  const int seen = snapshots.load();
  while (snapshots.load() == seen && failures.load() == 0) std::this_thread::yield();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(snapshots.load(), 0);
}

// Rows k = 0 .. n-1 of a PK table: k, v = k * 10 + version, s = "s<k % 7>".
Table NumberedTable(int64_t n, int64_t version, int64_t first = 0) {
  const Schema schema = MakeSchema(
      {{"k", v1::COLUMN_TYPE_INT64}, {"v", v1::COLUMN_TYPE_INT64}, {"s", v1::COLUMN_TYPE_STRING}},
      {"k"});
  std::vector<Row> rows;
  for (int64_t k = first; k < first + n; ++k) {
    rows.push_back({I(k), I(k * 10 + version), Cell(absl::StrCat("s", k % 7))});
  }
  return MakeTable(schema, rows);
}

TEST_F(DatasetStoreTest, CommitWritesSegmentsOfAtMostSegmentMaxRows) {
  DatasetStoreOptions o = Options();
  o.segment_max_rows = 100;
  o.segment_chunk_rows = 32;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("n", ImportMode::kReplace, NumberedTable(350, 1))),
              IsOk());
  auto snap = store->OpenSnapshot("n");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 4u);
  EXPECT_EQ(snap->segments[0].num_rows(), 100u);
  EXPECT_EQ(snap->segments[3].num_rows(), 50u);
  // Nothing is decoded until a segment is loaded.
  EXPECT_EQ(snap->segments[0].table, nullptr);
  // A segment's dictionary holds only its own strings.
  auto last = snap->LoadSegment(3);
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ((*last)->columns[2].dict.size(), 7u);
  std::vector<Row> rows = SnapshotRows(*snap);
  ASSERT_EQ(rows.size(), 350u);
  for (int64_t k = 0; k < 350; ++k) {
    EXPECT_EQ(rows[static_cast<size_t>(k)],
              (Row{I(k), I(k * 10 + 1), Cell(absl::StrCat("s", k % 7))}));
  }

  // The primary-key index points into the right segment: an upsert over
  // rows of the first, third and last segment hides exactly those rows.
  Table update = NumberedTable(0, 2);
  {
    std::vector<Row> changed;
    for (int64_t k : {5, 230, 349}) {
      changed.push_back({I(k), I(k * 10 + 2), Cell(absl::StrCat("s", k % 7))});
    }
    changed.push_back({I(400), I(4002), Cell(std::string("neu"))});
    update = MakeTable(update.schema, changed);
  }
  auto r = CommitOne(*store, MakeWrite("n", ImportMode::kUpsert, std::move(update)));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->row_count, 351u);
  snap = store->OpenSnapshot("n");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 5u);
  EXPECT_THAT(snap->segments[0].deleted_rows, ElementsAre(5u));
  EXPECT_TRUE(snap->segments[1].deleted_rows.empty());
  EXPECT_THAT(snap->segments[2].deleted_rows, ElementsAre(30u));
  EXPECT_THAT(snap->segments[3].deleted_rows, ElementsAre(49u));
  rows = SnapshotRows(*snap);
  ASSERT_EQ(rows.size(), 351u);
  EXPECT_EQ(rows[5], (Row{I(6), I(61), S("s6")}));
  EXPECT_EQ(rows[347], (Row{I(5), I(52), S("s5")}));
  EXPECT_EQ(rows[350], (Row{I(400), I(4002), S("neu")}));
  // Append refuses a key of a later segment.
  EXPECT_THAT(CommitOne(*store, MakeWrite("n", ImportMode::kAppend, NumberedTable(1, 3, 250))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("already exists")));
}

TEST_F(DatasetStoreTest, ReplaceDuringAScanLeavesTheScanOnTheOldVersion) {
  DatasetStoreOptions o = Options();
  o.segment_max_rows = 64;
  o.segment_cache_bytes = 0;  // every load reads RocksDB
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("n", ImportMode::kReplace, NumberedTable(300, 1))),
              IsOk());
  auto snap = store->OpenSnapshot("n");
  ASSERT_THAT(snap, IsOk());
  ASSERT_EQ(snap->segments.size(), 5u);
  auto first = snap->LoadSegment(0);
  ASSERT_THAT(first, IsOk());
  // A replace deletes every segment the scan has still to read, then a
  // delete of the dataset; the scan reads the old version to its end.
  ASSERT_THAT(CommitOne(*store, MakeWrite("n", ImportMode::kReplace, NumberedTable(10, 2))),
              IsOk());
  ASSERT_THAT(store->DeleteDataset("n"), IsOk());
  const std::vector<Row> rows = SnapshotRows(*snap);
  ASSERT_EQ(rows.size(), 300u);
  for (int64_t k = 0; k < 300; ++k) {
    EXPECT_EQ(rows[static_cast<size_t>(k)][1], I(k * 10 + 1));
  }
  EXPECT_THAT(store->OpenSnapshot("n"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("n")));
}

TEST_F(DatasetStoreTest, SnapshotReleasesItsRocksDbSnapshotWhenTheLastCopyGoes) {
  DatasetStoreOptions o = Options();
  o.segment_max_rows = 64;
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("n", ImportMode::kReplace, NumberedTable(100, 1))),
              IsOk());
  EXPECT_EQ(store->OpenSnapshotsForTest(), 0u);
  {
    auto snap = store->OpenSnapshot("n");
    ASSERT_THAT(snap, IsOk());
    EXPECT_EQ(store->OpenSnapshotsForTest(), 1u);
    TableSnapshot copy = *snap;
    snap = absl::NotFoundError("gone");
    EXPECT_EQ(store->OpenSnapshotsForTest(), 1u);
    EXPECT_EQ(SnapshotRows(copy).size(), 100u);
  }
  EXPECT_EQ(store->OpenSnapshotsForTest(), 0u);
  // Failed opens hold none either.
  EXPECT_THAT(store->OpenSnapshot("fehlt"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("")));
  EXPECT_EQ(store->OpenSnapshotsForTest(), 0u);
}

TEST_F(DatasetStoreTest, VersionLargerThanTheCacheIsReadWithoutCaching) {
  DatasetStoreOptions o = Options();
  o.segment_max_rows = 100;
  o.segment_cache_bytes = 8 << 10;  // 8 KiB: one 100-row segment fits, 20 do not
  auto store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  ASSERT_THAT(CommitOne(*store, MakeWrite("gross", ImportMode::kReplace, NumberedTable(2000, 1))),
              IsOk());
  ASSERT_THAT(CommitOne(*store, MakeWrite("klein", ImportMode::kReplace, NumberedTable(50, 1))),
              IsOk());
  EXPECT_EQ(Rows(*store, "klein").size(), 50u);
  EXPECT_EQ(store->SegmentCacheEntriesForTest(), 1u);
  EXPECT_EQ(Rows(*store, "gross").size(), 2000u);
  // The big scan left the small hot dataset in the cache.
  EXPECT_EQ(store->SegmentCacheEntriesForTest(), 1u);
  auto a = store->OpenSnapshot("klein");
  auto b = store->OpenSnapshot("klein");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->LoadSegment(0)->get(), b->LoadSegment(0)->get());
}

TEST_F(DatasetStoreTest, OpenRefusesABadSegmentMaxRows) {
  DatasetStoreOptions o = Options();
  o.segment_max_rows = 0;
  EXPECT_THAT(DatasetStore::Open(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("segment_max_rows")));
}

}  // namespace
}  // namespace fednode::storage
