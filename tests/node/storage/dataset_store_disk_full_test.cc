// DatasetStore on a full disk: a real, size-limited tmpfs (mounted by the
// test; it needs root and skips otherwise). A commit that does not fit is
// refused before anything is written; a write that RocksDB itself fails with
// ENOSPC stops RocksDB's writes, and the store resumes them at the next
// write once space was freed, without reopening.
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"
#include "tests/node/storage/test_tables.h"
#include "tests/support/tmpfs.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using testing::Cell;
using ::testing::HasSubstr;
using testing::MakeSchema;
using testing::MakeTable;
using testing::MakeWrite;
using testing::Row;
using testing::SnapshotRows;
using ::testing::StartsWith;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kDiskBytes = 16 * kMiB;

Schema TextSchema() {
  return MakeSchema({{"id", v1::COLUMN_TYPE_INT64}, {"text", v1::COLUMN_TYPE_STRING}}, {"id"});
}

// `n` rows (first_id + i, 1 KiB of seeded random letters): incompressible
// enough that the commit's size follows the row count.
std::vector<Row> TextRows(int64_t first_id, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> letter(0, 61);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::vector<Row> rows;
  for (int i = 0; i < n; ++i) {
    std::string text(1024, ' ');
    for (char& c : text) c = alphabet[letter(rng)];
    rows.push_back({Cell(first_id + i), Cell(text)});
  }
  return rows;
}

class DatasetStoreDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmpfs_ = std::make_unique<fednode::testing::ScopedTmpfs>(dir_.File("small"), kDiskBytes);
    if (!tmpfs_->ok()) GTEST_SKIP() << tmpfs_->reason();
    DatasetStoreOptions o;
    o.path = tmpfs_->path() + "/data";
    o.write_buffer_bytes = 4 * kMiB;  // small memtables and WAL preallocation
    o.segment_cache_bytes = 0;
    auto store = DatasetStore::Open(o);
    ASSERT_THAT(store.status(), IsOk());
    store_ = std::move(*store);
    base_rows_ = TextRows(0, 200, 1);
    std::vector<DatasetWrite> w;
    w.push_back(MakeWrite("base", ImportMode::kReplace, MakeTable(TextSchema(), base_rows_)));
    ASSERT_THAT(store_->Commit(std::move(w)).status(), IsOk());
  }

  void TearDown() override {
    store_.reset();  // before the unmount
  }

  std::vector<Row> Rows(const std::string& id) {
    auto snap = store_->OpenSnapshot(id);
    EXPECT_THAT(snap.status(), IsOk());
    return snap.ok() ? SnapshotRows(*snap) : std::vector<Row>{};
  }

  fednode::testing::TempDir dir_;
  std::unique_ptr<fednode::testing::ScopedTmpfs> tmpfs_;
  std::unique_ptr<DatasetStore> store_;
  std::vector<Row> base_rows_;
};

TEST_F(DatasetStoreDiskFullTest, CommitBiggerThanTheFreeSpaceIsRefusedAndWritesNothing) {
  const std::string filler = tmpfs_->path() + "/filler";
  const uint64_t free_before = fednode::testing::FreeBytes(tmpfs_->path());
  ASSERT_GT(free_before, 4 * kMiB);
  fednode::testing::FillFile(filler, free_before - 3 * kMiB);
  const uint64_t free_now = fednode::testing::FreeBytes(tmpfs_->path());

  // 4000 rows of 1 KiB: about 4 MiB, more than the 3 MiB left.
  const std::vector<Row> big = TextRows(1000, 4000, 2);
  std::vector<DatasetWrite> w;
  w.push_back(MakeWrite("big", ImportMode::kReplace, MakeTable(TextSchema(), big)));
  absl::Status s = store_->Commit(std::move(w)).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted,
                          StartsWith("disk full: writing dataset big needs about ")));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat(" MiB on the data directory's filesystem (", tmpfs_->path(),
                                     "/data), but only ", free_now / kMiB,
                                     " MiB are free; free space there and try again (nothing "
                                     "was written)")));
  EXPECT_THAT(store_->GetCatalogEntry("big").status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_EQ(Rows("base"), base_rows_);

  ASSERT_EQ(::unlink(filler.c_str()), 0);
  w.clear();
  w.push_back(MakeWrite("big", ImportMode::kReplace, MakeTable(TextSchema(), big)));
  auto r = store_->Commit(std::move(w));
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ((*r)[0].version, 1u);
  EXPECT_EQ((*r)[0].row_count, 4000u);
  EXPECT_EQ(Rows("big"), big);
  EXPECT_EQ(Rows("base"), base_rows_);
}

TEST_F(DatasetStoreDiskFullTest, WritesResumeAfterTheDiskRanFullWithoutReopening) {
  // Fill the filesystem but for 640 KiB, then append audit records of 256
  // KiB (no free-space check there) until RocksDB's own write fails with
  // ENOSPC, the third one at the latest.
  const std::string filler = tmpfs_->path() + "/filler";
  fednode::testing::FillFile(filler, fednode::testing::FreeBytes(tmpfs_->path()) - (640 << 10));
  const std::string record(256 << 10, 'a');
  uint64_t failed_seq = 0;
  absl::Status failed;
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    failed = store_->AppendAudit({{seq, record}});
    if (!failed.ok()) {
      failed_seq = seq;
      break;
    }
  }
  ASSERT_GT(failed_seq, 1u) << "100 records of 256 KiB fit into 640 KiB";
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kResourceExhausted, StartsWith("disk full: ")));
  EXPECT_THAT(std::string(failed.message()),
              HasSubstr(absl::StrCat("free space on the data directory's filesystem (",
                                     tmpfs_->path(), "/data) and try again")));
  // The failed record is not there; reads go on.
  auto last = store_->LastAudit();
  ASSERT_THAT(last.status(), IsOk());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->first, failed_seq - 1);
  EXPECT_EQ(Rows("base"), base_rows_);
  // A catalog edit fails too and leaves the entry as it was.
  auto entry = store_->GetCatalogEntry("base");
  ASSERT_THAT(entry.status(), IsOk());
  catalog::v1::CatalogEntry edited = *entry;
  edited.mutable_metadata()->set_title("edited");
  EXPECT_THAT(store_->PutCatalogEntry(edited),
              StatusIs(absl::StatusCode::kResourceExhausted, StartsWith("disk full: ")));
  auto unchanged = store_->GetCatalogEntry("base");
  ASSERT_THAT(unchanged.status(), IsOk());
  EXPECT_EQ(unchanged->SerializeAsString(), entry->SerializeAsString());

  // Space freed: the very next writes succeed, on the same store.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  EXPECT_THAT(store_->AppendAudit({{failed_seq, "after"}}), IsOk());
  last = store_->LastAudit();
  ASSERT_THAT(last.status(), IsOk());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->first, failed_seq);
  EXPECT_EQ((*last)->second, "after");
  ASSERT_THAT(store_->PutCatalogEntry(edited), IsOk());
  EXPECT_EQ(store_->GetCatalogEntry("base")->metadata().title(), "edited");
  const std::vector<Row> more = TextRows(5000, 100, 3);
  std::vector<DatasetWrite> w;
  w.push_back(MakeWrite("more", ImportMode::kReplace, MakeTable(TextSchema(), more)));
  ASSERT_THAT(store_->Commit(std::move(w)).status(), IsOk());
  EXPECT_EQ(Rows("more"), more);
  EXPECT_EQ(Rows("base"), base_rows_);
}

}  // namespace
}  // namespace fednode::storage
