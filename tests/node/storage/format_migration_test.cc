// Storage format versions at open: a database written in format 1 is
// migrated to format 2 (and its data, catalog and audit chain survive), a
// read-only open reads it without migrating, a newer format is refused.
//
// The format-1 database is made by WriteFormat1Database below. Format 2
// changed only the version record and the audit column family (key_codec.h,
// kFormatVersion history), so the data and catalog records are laid out by
// the storage code, and the parts format 2 changed are then rewritten byte
// by byte as format 1 had them, with the keys spelled out here: the version
// record 's/format_version' = 00 00 00 01, no audit anchor 'c', and audit
// entries 'a' be64(seq) chained from entry 1 by the SHA-256 definition.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

#include "certs/digest.h"
#include "node/audit/audit_log.h"
#include "node/base/log.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"
#include "proto/audit/v1/audit.pb.h"
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

constexpr char kGenesis[] = "0000000000000000000000000000000000000000000000000000000000000000";

std::string Be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

// Format-1 audit entries 1..n: hash = SHA-256(prev_hash hex || the entry's
// encoding without prev_hash and hash).
std::vector<audit::v1::AuditEntry> Format1AuditEntries(int n) {
  std::vector<audit::v1::AuditEntry> out;
  std::string prev = kGenesis;
  for (int i = 1; i <= n; ++i) {
    audit::v1::AuditEntry e;
    e.set_seq(static_cast<uint64_t>(i));
    e.set_time_unix_micros(1700000000000000 + i);
    e.set_caller("admin");
    e.set_operation("admin.Import");
    e.set_dataset_id("gemeinden");
    e.set_decision(audit::v1::DECISION_ALLOW);
    e.set_request_id(absl::StrCat("r-", i));
    std::string canonical;
    e.SerializeToString(&canonical);
    const std::string hash = certs::Sha256Hex(absl::StrCat(prev, canonical));
    e.set_prev_hash(prev);
    e.set_hash(hash);
    prev = hash;
    out.push_back(e);
  }
  return out;
}

// Writes a format-1 database with one dataset "gemeinden" (2 rows), its
// catalog entry, the member and 3 audit entries into `path`.
void WriteFormat1Database(const std::string& path) {
  {
    DatasetStoreOptions o;
    o.path = path;
    o.sync_commits = false;
    auto store = DatasetStore::Open(o);
    ASSERT_THAT(store, IsOk());
    const Schema schema = MakeSchema(
        {{"ags", v1::COLUMN_TYPE_STRING}, {"einwohner", v1::COLUMN_TYPE_INT64}}, {"ags"});
    std::vector<DatasetWrite> writes;
    writes.push_back(MakeWrite("gemeinden", ImportMode::kReplace,
                               MakeTable(schema, {{std::string("06531005"), int64_t{89802}},
                                                  {std::string("06531011"), int64_t{13627}}})));
    ASSERT_THAT((*store)->Commit(std::move(writes)), IsOk());
    ASSERT_THAT((*store)->PutMeta("member_ags", "06531005"), IsOk());
  }
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : {"default", "data", "catalog", "meta", "audit"}) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(db_options, path, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteBatch batch;
  ASSERT_TRUE(batch.Put(handles[3], "s/format_version", std::string("\0\0\0\1", 4)).ok());
  ASSERT_TRUE(batch.Delete(handles[4], "c").ok());
  for (const audit::v1::AuditEntry& e : Format1AuditEntries(3)) {
    ASSERT_TRUE(batch.Put(handles[4], "a" + Be64(e.seq()), e.SerializeAsString()).ok());
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE(db->Write(wo, &batch).ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

// Captures the log lines while alive.
class LogCapture {
 public:
  LogCapture() {
    SetLogSink([this](LogLevel, absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogSink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  int Count(absl::string_view text) {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const std::string& l : lines_) n += absl::StrContains(l, text) ? 1 : 0;
    return n;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> lines_;
};

class FormatMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(WriteFormat1Database(path_)); }

  DatasetStoreOptions Options(bool read_only) const {
    DatasetStoreOptions o;
    o.path = path_;
    o.create_if_missing = false;
    o.read_only = read_only;
    return o;
  }

  // Data, catalog and the audit chain as WriteFormat1Database left them.
  static void ExpectContent(DatasetStore& store) {
    auto snap = store.OpenSnapshot("gemeinden");
    ASSERT_THAT(snap, IsOk());
    EXPECT_EQ(testing::SnapshotRows(*snap),
              (std::vector<Row>{{std::string("06531005"), int64_t{89802}},
                                {std::string("06531011"), int64_t{13627}}}));
    auto entry = store.GetCatalogEntry("gemeinden");
    ASSERT_THAT(entry, IsOk());
    EXPECT_EQ(entry->row_count(), 2U);
    auto ags = store.GetMeta("member_ags");
    ASSERT_THAT(ags, IsOk());
    EXPECT_EQ(*ags, "06531005");
    auto log = audit::AuditLog::Open(&store, audit::AuditLogOptions(), nullptr);
    ASSERT_THAT(log, IsOk());
    uint64_t checked = 0;
    EXPECT_THAT((*log)->Verify(&checked), IsOk());
    EXPECT_EQ(checked, 3U);
    auto entries = (*log)->Read(1, 10);
    ASSERT_THAT(entries, IsOk());
    EXPECT_EQ(entries->size(), 3U);
    EXPECT_THAT((*log)->Close(), IsOk());
  }

  fednode::testing::TempDir dir_;
  std::string path_ = dir_.File("db");
};

TEST_F(FormatMigrationTest, Format1IsMigratedAtOpenOnceAndEverythingSurvives) {
  LogCapture logs;
  {
    auto store = DatasetStore::Open(Options(false));
    ASSERT_THAT(store, IsOk());
    EXPECT_EQ((*store)->format_version(), 2U);
    EXPECT_THAT((*store)->GetAuditAnchor(), IsOk());
    ExpectContent(**store);
    // The migrated log goes on: entry 4 continues from entry 3.
    auto log = audit::AuditLog::Open(store->get(), audit::AuditLogOptions(), nullptr);
    ASSERT_THAT(log, IsOk());
    EXPECT_THAT((*log)->Append(audit::v1::AuditEntry()), ::fednode::testing::IsOkAndHolds(4U));
    EXPECT_THAT((*log)->Verify(nullptr), IsOk());
    EXPECT_THAT((*log)->Close(), IsOk());
  }
  EXPECT_EQ(logs.Count(absl::StrCat("migrated data directory ", path_, " from format 1 to 2")), 1);
  // Idempotent: the next open finds format 2 and migrates nothing.
  auto again = DatasetStore::Open(Options(false));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->format_version(), 2U);
  EXPECT_EQ(logs.Count("migrated data directory"), 1);
}

TEST_F(FormatMigrationTest, ReadOnlyOpenReadsFormat1WithoutMigrating) {
  {
    auto store = DatasetStore::Open(Options(true));
    ASSERT_THAT(store, IsOk());
    EXPECT_EQ((*store)->format_version(), 1U);
    auto anchor = (*store)->GetAuditAnchor();
    ASSERT_THAT(anchor, IsOk());
    EXPECT_EQ(*anchor, "");  // the genesis
    ExpectContent(**store);
    DatasetStore::AuditCut cut{1, ""};
    EXPECT_THAT((*store)->AppendAudit({}, &cut),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("migrate")));
  }
  // Still format 1 on disk: a read-write open migrates it now.
  auto store = DatasetStore::Open(Options(false));
  ASSERT_THAT(store, IsOk());
  EXPECT_EQ((*store)->format_version(), 2U);
}

TEST_F(FormatMigrationTest, NewerFormatIsRefusedNamingBothVersions) {
  {
    auto store = DatasetStore::Open(Options(false));
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->SetFormatVersionForTest(99), IsOk());
  }
  for (bool read_only : {false, true}) {
    EXPECT_THAT(DatasetStore::Open(Options(read_only)),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         HasSubstr(absl::StrCat("data directory ", path_,
                                                ": format 99 is newer than this fednode (2); "
                                                "upgrade fednode or restore a backup"))));
  }
}

}  // namespace
}  // namespace fednode::storage
