// The audit column family methods of DatasetStore: AppendAudit, ReadAudit,
// LastAudit and the head-signature records.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"
#include "node/storage/key_codec.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using Records = std::vector<DatasetStore::AuditRecord>;

class DatasetStoreAuditTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    DatasetStoreOptions options;
    options.path = dir_.path();
    options.sync_commits = true;
    absl::StatusOr<std::unique_ptr<DatasetStore>> store = DatasetStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  fednode::testing::TempDir dir_;
  std::unique_ptr<DatasetStore> store_;
};

TEST(AuditKeyTest, KeysRoundTripAndSortBySeq) {
  EXPECT_EQ(AuditKey(1), std::string("a\0\0\0\0\0\0\0\1", 9));
  EXPECT_EQ(AuditHeadKey(1000), std::string("h\0\0\0\0\0\0\x03\xe8", 9));
  EXPECT_LT(AuditKey(255), AuditKey(256));
  uint64_t seq = 0;
  EXPECT_TRUE(ParseAuditKey(AuditKey(77), kAuditEntryPrefix, &seq));
  EXPECT_EQ(seq, 77U);
  EXPECT_FALSE(ParseAuditKey(AuditKey(77), kAuditHeadPrefix, &seq));
  EXPECT_FALSE(ParseAuditKey("a\1\2", kAuditEntryPrefix, &seq));
}

TEST_F(DatasetStoreAuditTest, EmptyLogHasNoLastRecord) {
  absl::StatusOr<std::optional<DatasetStore::AuditRecord>> last = store_->LastAudit();
  ASSERT_THAT(last, IsOk());
  EXPECT_FALSE(last->has_value());
  absl::StatusOr<std::optional<DatasetStore::AuditRecord>> head = store_->LastAuditHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_FALSE(head->has_value());
  absl::StatusOr<Records> read = store_->ReadAudit(1, 10);
  ASSERT_THAT(read, IsOk());
  EXPECT_TRUE(read->empty());
}

TEST_F(DatasetStoreAuditTest, AppendReadLastAndReopen) {
  ASSERT_THAT(store_->AppendAudit({{1, "one"}, {2, "two"}, {3, "three"}}), IsOk());
  ASSERT_THAT(store_->AppendAudit({{4, "four"}}), IsOk());
  ASSERT_THAT(store_->AppendAudit({}), IsOk());

  absl::StatusOr<Records> read = store_->ReadAudit(2, 2);
  ASSERT_THAT(read, IsOk());
  EXPECT_THAT(*read, ElementsAre(Pair(2U, "two"), Pair(3U, "three")));
  read = store_->ReadAudit(0, 100);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->size(), 4U);
  read = store_->ReadAudit(1, 0);
  ASSERT_THAT(read, IsOk());
  EXPECT_TRUE(read->empty());

  Reopen();
  absl::StatusOr<std::optional<DatasetStore::AuditRecord>> last = store_->LastAudit();
  ASSERT_THAT(last, IsOk());
  ASSERT_TRUE(last->has_value());
  EXPECT_THAT(**last, Pair(4U, "four"));
}

TEST_F(DatasetStoreAuditTest, HeadRecordsAreSeparateFromEntries) {
  ASSERT_THAT(store_->AppendAudit({{1, "e1"}, {2, "e2"}}), IsOk());
  ASSERT_THAT(store_->PutAuditHead(1, "h1"), IsOk());
  ASSERT_THAT(store_->PutAuditHead(2, "h2"), IsOk());
  absl::StatusOr<std::optional<DatasetStore::AuditRecord>> head = store_->LastAuditHead();
  ASSERT_THAT(head, IsOk());
  ASSERT_TRUE(head->has_value());
  EXPECT_THAT(**head, Pair(2U, "h2"));
  absl::StatusOr<Records> heads = store_->ReadAuditHeads(1, 10);
  ASSERT_THAT(heads, IsOk());
  EXPECT_THAT(*heads, ElementsAre(Pair(1U, "h1"), Pair(2U, "h2")));
  absl::StatusOr<Records> entries = store_->ReadAudit(1, 10);
  ASSERT_THAT(entries, IsOk());
  EXPECT_THAT(*entries, ElementsAre(Pair(1U, "e1"), Pair(2U, "e2")));
}

TEST_F(DatasetStoreAuditTest, SeqZeroIsRejected) {
  EXPECT_THAT(store_->AppendAudit({{0, "x"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seq 0")));
  EXPECT_THAT(store_->PutAuditHead(0, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seq 0")));
}

TEST_F(DatasetStoreAuditTest, DeleteForTestLeavesAGap) {
  ASSERT_THAT(store_->AppendAudit({{1, "a"}, {2, "b"}, {3, "c"}}), IsOk());
  ASSERT_THAT(store_->DeleteAuditForTest(2, 3), IsOk());
  absl::StatusOr<Records> read = store_->ReadAudit(1, 10);
  ASSERT_THAT(read, IsOk());
  EXPECT_THAT(*read, ElementsAre(Pair(1U, "a"), Pair(3U, "c")));
}

}  // namespace
}  // namespace fednode::storage
