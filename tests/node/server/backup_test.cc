// Backups (node/server/backup.h): a copy taken while imports and audit
// appends run holds every import acknowledged before it, each whole; a
// verified backup restores to a database that reads back exactly; damaged,
// incomplete or misused backups are refused with the reason.
#include "node/server/backup.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/audit/audit_log.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/server/node.h"
#include "node/storage/dataset_store.h"
#include "tests/node/storage/test_tables.h"

namespace fednode::server {
namespace {

namespace fs = std::filesystem;
using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using storage::testing::Cell;
using storage::testing::MakeSchema;
using storage::testing::MakeTable;
using storage::testing::MakeWrite;
using storage::testing::Row;
using storage::testing::SnapshotRows;
using ::testing::HasSubstr;

fednode::Schema Einwohner() {
  return MakeSchema({{"ags", storage::v1::COLUMN_TYPE_STRING},
                     {"jahr", storage::v1::COLUMN_TYPE_INT64},
                     {"einwohner", storage::v1::COLUMN_TYPE_INT64}},
                    {"ags", "jahr"});
}

// Rows of import `k` into dataset "import_<k % 4>": k*10 .. k*10+9.
std::vector<Row> ImportRows(int k) {
  std::vector<Row> rows;
  for (int i = 0; i < 10; ++i) {
    rows.push_back({Cell(std::string("06531005")), Cell(int64_t{k * 10 + i}),
                    Cell(int64_t{1000 + k * 10 + i})});
  }
  return rows;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::DatasetStoreOptions o;
    o.path = dir_.File("data");
    o.sync_commits = false;  // speed; durability is the store's own tests'
    auto store = storage::DatasetStore::Open(o);
    ASSERT_THAT(store.status(), IsOk());
    store_ = *std::move(store);
    auto log = audit::AuditLog::Open(store_.get(), audit::AuditLogOptions(), nullptr);
    ASSERT_THAT(log.status(), IsOk());
    audit_ = *std::move(log);
  }

  // Appends import k (catalog entry by the store) and one audit entry.
  absl::Status Import(int k) {
    storage::DatasetWrite w =
        MakeWrite(absl::StrCat("import_", k % 4), storage::ImportMode::kAppend,
                  MakeTable(Einwohner(), ImportRows(k)));
    absl::StatusOr<std::vector<storage::CommitResult>> r = store_->Commit({std::move(w)});
    if (!r.ok()) return r.status();
    audit::v1::AuditEntry e;
    e.set_caller("admin");
    e.set_operation(absl::StrCat("admin.Import ", k));
    return audit_->Append(std::move(e)).status();
  }

  BackupSource Source() {
    BackupSource s;
    s.store = store_.get();
    s.member_ags = "06531005";
    s.member_name = "Gießen, Universitätsstadt";
    return s;
  }

  fednode::testing::TempDir dir_;
  std::unique_ptr<storage::DatasetStore> store_;
  std::unique_ptr<audit::AuditLog> audit_;
};

TEST_F(BackupTest, BackupUnderLoadHoldsEveryAcknowledgedImportAndRestoresExactly) {
  for (int k = 0; k < 8; ++k) ASSERT_THAT(Import(k), IsOk());
  // Imports keep running (and are acknowledged) while the backup is taken.
  std::atomic<int> acknowledged{8};
  std::atomic<bool> stop{false};
  std::thread load([&] {
    for (int k = 8; !stop.load() && k < 2000; ++k) {
      if (!Import(k).ok()) return;
      acknowledged.store(k + 1);
    }
  });
  while (acknowledged.load() < 20) std::this_thread::yield();
  const int before = acknowledged.load();
  absl::StatusOr<node::v1::BackupManifest> m = CreateBackup(Source(), dir_.File("backup"));
  stop.store(true);
  load.join();
  ASSERT_THAT(m.status(), IsOk());
  EXPECT_EQ(m->member_ags(), "06531005");
  ASSERT_EQ(m->datasets_size(), 4);

  absl::StatusOr<BackupReport> report = VerifyBackup(dir_.File("backup"));
  ASSERT_THAT(report.status(), IsOk());
  // Each dataset holds the first n imports of its residue class, whole:
  // its rows are exactly those of imports d, d+4, ..., consecutively.
  uint64_t rows = 0;
  int imports_in_backup = 0;
  for (const auto& d : m->datasets()) {
    EXPECT_EQ(d.row_count() % 10, 0u) << d.dataset_id();
    rows += d.row_count();
    imports_in_backup += static_cast<int>(d.row_count() / 10);
  }
  EXPECT_GE(imports_in_backup, before) << "an acknowledged import is missing from the backup";
  EXPECT_EQ(report->rows_checked, rows);
  EXPECT_EQ(report->datasets_checked, 4u);
  // Every import in the backup was audited before the next one began; the
  // audit chain verifies and holds at least the acknowledged ones.
  EXPECT_GE(report->audit_entries_checked, static_cast<uint64_t>(before));
  EXPECT_EQ(report->audit_entries_checked, m->audit_last_seq());

  ASSERT_THAT(RestoreBackup(dir_.File("backup"), dir_.File("restored")).status(), IsOk());
  storage::DatasetStoreOptions o;
  o.path = dir_.File("restored");
  o.create_if_missing = false;
  auto restored = storage::DatasetStore::Open(o);
  ASSERT_THAT(restored.status(), IsOk());
  for (const auto& d : m->datasets()) {
    auto snap = (*restored)->OpenSnapshot(d.dataset_id());
    ASSERT_THAT(snap.status(), IsOk());
    EXPECT_EQ(snap->version, d.version());
    const int residue = d.dataset_id().back() - '0';
    std::vector<Row> want;
    for (int k = residue; want.size() < d.row_count(); k += 4) {
      for (Row& r : ImportRows(k)) want.push_back(std::move(r));
    }
    EXPECT_EQ(SnapshotRows(*snap), want) << d.dataset_id();
  }
  // A restored database gets a new catalog epoch (peers harvest it anew).
  EXPECT_THAT((*restored)->GetMeta(kCatalogEpochKey).status(), IsOk());
  auto log = audit::AuditLog::Open(restored->get(), audit::AuditLogOptions(), nullptr);
  ASSERT_THAT(log.status(), IsOk());
  uint64_t checked = 0;
  EXPECT_THAT((*log)->Verify(&checked), IsOk());
  EXPECT_EQ(checked, m->audit_last_seq());
}

TEST_F(BackupTest, BackupAfterAnAuditCutVerifiesFromTheAnchorAndItsRestoreIsMarked) {
  // A log with a (fake) signer, so that it can be archived.
  ASSERT_THAT(audit_->Close(), IsOk());
  audit::AuditLogOptions options;
  options.sign_head = [](absl::string_view data) -> absl::StatusOr<std::string> {
    return std::string(data);
  };
  auto log = audit::AuditLog::Open(store_.get(), options, nullptr);
  ASSERT_THAT(log.status(), IsOk());
  audit_ = *std::move(log);
  for (int k = 0; k < 6; ++k) ASSERT_THAT(Import(k), IsOk());
  audit::ArchiveRequest archive;
  archive.before = absl::InfiniteFuture();
  archive.through_seq = 4;
  archive.path = dir_.File("audit.fnarchive");
  archive.member_ags = "06531005";
  auto archived = audit_->Archive(archive);
  ASSERT_THAT(archived.status(), IsOk());
  ASSERT_EQ(archived->last_seq, 4U);

  auto manifest = CreateBackup(Source(), dir_.File("backup"));
  ASSERT_THAT(manifest.status(), IsOk());
  EXPECT_EQ(manifest->audit_last_seq(), 7U);  // 6 imports and the cut
  auto verified = VerifyBackup(dir_.File("backup"));
  ASSERT_THAT(verified.status(), IsOk());
  EXPECT_EQ(verified->audit_entries_checked, 3U);  // 5..7, from the anchor at 4

  auto restored = RestoreBackup(dir_.File("backup"), dir_.File("restored"));
  ASSERT_THAT(restored.status(), IsOk());
  storage::DatasetStoreOptions o;
  o.path = dir_.File("restored");
  auto store = storage::DatasetStore::Open(o);
  ASSERT_THAT(store.status(), IsOk());
  auto mark = (*store)->GetMeta(kRestoredFromMetaKey);
  ASSERT_THAT(mark.status(), IsOk());
  EXPECT_THAT(*mark, HasSubstr(absl::StrCat("backup taken at ", manifest->created(),
                                            " (manifest sha256 ")));
}

TEST_F(BackupTest, BackupFilesAreCopiesNotLinksAndOwnerOnly) {
  ASSERT_THAT(Import(0), IsOk());
  ASSERT_THAT(CreateBackup(Source(), dir_.File("b")).status(), IsOk());
  for (const auto& e : fs::directory_iterator(dir_.File("b/db"))) {
    EXPECT_EQ(fs::hard_link_count(e.path()), 1u) << e.path();
    EXPECT_EQ(fs::status(e.path()).permissions() & (fs::perms::group_all | fs::perms::others_all),
              fs::perms::none)
        << e.path();
  }
  EXPECT_FALSE(fs::exists(dir_.File("b/.checkpoint")));
}

TEST_F(BackupTest, DamagedIncompleteAndMisusedBackupsAreRefusedWithTheReason) {
  ASSERT_THAT(Import(0), IsOk());
  EXPECT_THAT(CreateBackup(Source(), "relative/dir").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  ASSERT_THAT(CreateBackup(Source(), dir_.File("b")).status(), IsOk());
  EXPECT_THAT(CreateBackup(Source(), dir_.File("b")).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("is not empty")));
  EXPECT_THAT(RestoreBackup(dir_.File("b"), dir_.File("data")).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("is not empty")));

  // A table file changed by one byte.
  fs::copy(dir_.File("b"), dir_.File("changed"), fs::copy_options::recursive);
  std::string sst;
  for (const auto& e : fs::directory_iterator(dir_.File("changed/db"))) {
    if (e.path().extension() == ".sst") sst = e.path().string();
  }
  ASSERT_FALSE(sst.empty());
  {
    std::fstream f(sst, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x5a');
  }
  const std::string name = fs::path(sst).filename().string();
  EXPECT_THAT(
      VerifyBackup(dir_.File("changed")).status(),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr(absl::StrCat("db/", name, " changed"))));
  EXPECT_THAT(RestoreBackup(dir_.File("changed"), dir_.File("r1")).status(),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::_));
  EXPECT_FALSE(fs::exists(dir_.File("r1")));

  // A file missing, and a file that is not in the manifest.
  fs::copy(dir_.File("b"), dir_.File("missing"), fs::copy_options::recursive);
  fs::remove(dir_.File(absl::StrCat("missing/db/", name)));
  EXPECT_THAT(VerifyBackup(dir_.File("missing")).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(absl::StrCat(name, " is missing"))));
  fs::copy(dir_.File("b"), dir_.File("extra"), fs::copy_options::recursive);
  std::ofstream(dir_.File("extra/db/000999.log")) << "x";
  EXPECT_THAT(
      VerifyBackup(dir_.File("extra")).status(),
      StatusIs(absl::StatusCode::kDataLoss, HasSubstr("000999.log is not in the manifest")));

  // Cut short before its manifest was written.
  fs::copy(dir_.File("b"), dir_.File("cut"), fs::copy_options::recursive);
  fs::remove(dir_.File(absl::StrCat("cut/", kBackupManifestName)));
  EXPECT_THAT(VerifyBackup(dir_.File("cut")).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("incomplete backup")));
  EXPECT_THAT(VerifyBackup(dir_.File("nowhere")).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does not exist")));

  // A manifest edited to name another member.
  ASSERT_THAT(store_->PutMeta("member_ags", "06531005"), IsOk());
  ASSERT_THAT(CreateBackup(Source(), dir_.File("owned")).status(), IsOk());
  fs::copy(dir_.File("owned"), dir_.File("renamed"), fs::copy_options::recursive);
  {
    const std::string path = dir_.File(absl::StrCat("renamed/", kBackupManifestName));
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("06531005"), 8, "06531011");
    std::ofstream(path, std::ios::trunc) << text;
  }
  EXPECT_THAT(VerifyBackup(dir_.File("renamed")).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("names member 06531011, but the database holds the data of "
                                 "06531005")));
  // Restoring one member's backup for another member's node.
  EXPECT_THAT(RestoreBackup(dir_.File("owned"), dir_.File("r3"), "06531011").status(),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("holds the data of member 06531005")));
  EXPECT_FALSE(fs::exists(dir_.File("r3")));
  // A backup inside the live data directory.
  BackupSource inside = Source();
  inside.data_dir = dir_.File("data");
  EXPECT_THAT(CreateBackup(inside, dir_.File("data/backup")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inside the data directory")));
  // An existing empty directory open to all becomes owner-only.
  fs::create_directory(dir_.File("open"));
  fs::permissions(dir_.File("open"), fs::perms::all);
  ASSERT_THAT(CreateBackup(Source(), dir_.File("open")).status(), IsOk());
  EXPECT_EQ(fs::status(dir_.File("open")).permissions(), fs::perms::owner_all);

  // The untouched backup still verifies and restores.
  EXPECT_THAT(RestoreBackup(dir_.File("b"), dir_.File("r2")).status(), IsOk());
}

}  // namespace
}  // namespace fednode::server
