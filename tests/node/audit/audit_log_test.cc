// AuditLog: chain, durability across reopen, tamper detection, group commit,
// head signatures, JSON export. A real DatasetStore with synced commits.
#include "node/audit/audit_log.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"

#include "certs/digest.h"
#include "certs/pki.h"
#include "node/audit/audit_archive.h"
#include "node/base/clock.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"

namespace fednode::audit {
namespace {

using audit::v1::AuditEntry;
using audit::v1::HeadSignature;
using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kSecret[] = "test-node-key";
// 2024-05-02T08:30:00Z
constexpr int64_t kStartUnixSeconds = 1714638600;

AuditEntry MakeEntry(int i) {
  AuditEntry e;
  e.set_caller(i % 3 == 0 ? "admin" : "06531005");
  e.set_peer_address(absl::StrCat("ipv4:10.0.0.7:", 40000 + i));
  e.set_operation("federation.Query");
  e.set_dataset_id("wahl");
  e.set_decision(i % 2 == 0 ? audit::v1::DECISION_ALLOW : audit::v1::DECISION_DENY);
  e.set_reason(i % 2 == 0 ? "grant g1" : "no grant for dataset wahl");
  e.set_rows_returned(static_cast<uint64_t>(i));
  e.set_cells_returned(static_cast<uint64_t>(i) * 4);
  e.set_request_id(absl::StrCat("r-", i));
  e.set_purpose("statistik");
  e.set_agreement_version(3);
  return e;
}

// A fake node key: sign = SHA-256(data || secret).
absl::StatusOr<std::string> FakeSign(absl::string_view data, absl::string_view secret) {
  return certs::Sha256Hex(absl::StrCat(data, secret));
}

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest() : clock_(absl::FromUnixSeconds(kStartUnixSeconds)) {}

  void SetUp() override {
    OpenStore();
    OpenLog();
  }

  void OpenStore() {
    storage::DatasetStoreOptions options;
    options.path = dir_.path();
    options.sync_commits = true;
    absl::StatusOr<std::unique_ptr<storage::DatasetStore>> store =
        storage::DatasetStore::Open(options);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
  }

  void OpenLog() {
    absl::StatusOr<std::unique_ptr<AuditLog>> log = AuditLog::Open(store_.get(), options_, &clock_);
    ASSERT_THAT(log, IsOk());
    log_ = *std::move(log);
  }

  // Closes the log and the store and opens both again.
  void Reopen() {
    if (log_ != nullptr) {
      ASSERT_THAT(log_->Close(), IsOk());
    }
    log_.reset();
    store_.reset();
    OpenStore();
    OpenLog();
  }

  void AppendN(int n) {
    for (int i = 0; i < n; ++i) {
      absl::StatusOr<uint64_t> seq = log_->Append(MakeEntry(i));
      ASSERT_THAT(seq, IsOk());
    }
  }

  void UseSigner() {
    options_.sign_head = [](absl::string_view data) { return FakeSign(data, kSecret); };
    options_.verify_head = [](absl::string_view data, absl::string_view signature,
                              absl::string_view spki) -> absl::Status {
      if (spki != "spki-of-test-key") {
        return absl::PermissionDeniedError("unknown key");
      }
      absl::StatusOr<std::string> want = FakeSign(data, kSecret);
      if (!want.ok() || *want != signature) {
        return absl::PermissionDeniedError("bad signature");
      }
      return absl::OkStatus();
    };
    options_.signer_spki_sha256 = "spki-of-test-key";
    options_.sign_every_entries = 10;
  }

  // The stored bytes of entry `seq`.
  std::string RawEntry(uint64_t seq) {
    absl::StatusOr<std::vector<storage::DatasetStore::AuditRecord>> r = store_->ReadAudit(seq, 1);
    EXPECT_THAT(r, IsOk());
    if (!r.ok() || r->empty() || r->front().first != seq) {
      ADD_FAILURE() << "no audit entry " << seq;
      return "";
    }
    return r->front().second;
  }

  AuditEntry StoredEntry(uint64_t seq) {
    AuditEntry e;
    EXPECT_TRUE(e.ParseFromString(RawEntry(seq)));
    return e;
  }

  fednode::testing::TempDir dir_;
  FakeClock clock_;
  AuditLogOptions options_;
  std::unique_ptr<storage::DatasetStore> store_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, AppendAssignsSeqTimeAndChain) {
  for (int i = 1; i <= 3; ++i) {
    absl::StatusOr<uint64_t> seq = log_->Append(MakeEntry(i));
    ASSERT_THAT(seq, IsOk());
    EXPECT_EQ(*seq, static_cast<uint64_t>(i));
    clock_.Advance(absl::Milliseconds(1));
  }
  EXPECT_EQ(log_->last_seq(), 3U);
  absl::StatusOr<std::vector<AuditEntry>> entries = log_->Read(1, 10);
  ASSERT_THAT(entries, IsOk());
  ASSERT_EQ(entries->size(), 3U);
  std::string prev = kGenesisHash;
  for (size_t i = 0; i < 3; ++i) {
    const AuditEntry& e = (*entries)[i];
    EXPECT_EQ(e.seq(), i + 1);
    EXPECT_EQ(e.time_unix_micros(), kStartUnixSeconds * 1'000'000 + static_cast<int64_t>(i) * 1000);
    EXPECT_EQ(e.request_id(), absl::StrCat("r-", i + 1));
    EXPECT_EQ(e.prev_hash(), prev);
    EXPECT_EQ(e.hash(), ComputeEntryHash(e));
    // The definition spelled out: SHA-256(prev_hash hex || canonical bytes).
    EXPECT_EQ(e.hash(), certs::Sha256Hex(absl::StrCat(prev, CanonicalBytes(e))));
    EXPECT_EQ(e.hash().size(), 64U);
    prev = e.hash();
  }
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 3U);
}

TEST_F(AuditLogTest, CallerValuesOfChainFieldsAreIgnored) {
  AuditEntry e = MakeEntry(1);
  e.set_seq(99);
  e.set_hash("forged");
  e.set_prev_hash("forged");
  e.set_time_unix_micros(5);
  absl::StatusOr<uint64_t> seq = log_->Append(e);
  ASSERT_THAT(seq, IsOk());
  EXPECT_EQ(*seq, 1U);
  const AuditEntry stored = StoredEntry(1);
  EXPECT_EQ(stored.seq(), 1U);
  EXPECT_EQ(stored.prev_hash(), kGenesisHash);
  EXPECT_EQ(stored.time_unix_micros(), kStartUnixSeconds * 1'000'000);
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
}

TEST_F(AuditLogTest, CanonicalBytesIgnoreHashFieldsOnly) {
  AuditEntry e = MakeEntry(2);
  e.set_seq(7);
  const std::string base = CanonicalBytes(e);
  e.set_prev_hash("x");
  e.set_hash("y");
  EXPECT_EQ(CanonicalBytes(e), base);
  e.set_reason("other");
  EXPECT_NE(CanonicalBytes(e), base);
  // Field-number order, defaults omitted: seq (field 1, varint 7) comes first.
  AuditEntry only_seq;
  only_seq.set_seq(7);
  EXPECT_EQ(CanonicalBytes(only_seq), std::string("\x08\x07", 2));
}

// Entries that cover the encoding's corners: every field set, nothing set
// but the log's own fields, a string longer than 127 bytes (a two-byte
// length), non-ASCII text, and large integers.
std::vector<AuditEntry> EncodingCorners() {
  std::vector<AuditEntry> entries = {MakeEntry(1), MakeEntry(2), AuditEntry()};
  AuditEntry long_reason = MakeEntry(3);
  long_reason.set_reason(std::string(300, 'r'));
  long_reason.set_purpose(
      "Pr\xc3\xbc"
      "fung der Stra\xc3\x9f"
      "en");
  long_reason.set_rows_returned(UINT64_MAX);
  long_reason.set_decision(audit::v1::DECISION_ERROR);
  entries.push_back(long_reason);
  return entries;
}

// The stored value is, byte for byte, the deterministic encoding of the
// complete entry (the file comment's definition), whatever the log's writer
// does to build it.
TEST_F(AuditLogTest, StoredValueIsTheDeterministicEncodingOfTheWholeEntry) {
  const std::vector<AuditEntry> entries = EncodingCorners();
  for (const AuditEntry& e : entries) ASSERT_THAT(log_->Append(e), IsOk());
  std::string prev = kGenesisHash;
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t seq = i + 1;
    AuditEntry want = entries[i];
    want.set_seq(seq);
    want.set_time_unix_micros(kStartUnixSeconds * 1'000'000);
    want.set_prev_hash(prev);
    want.set_hash(ComputeEntryHash(want));
    EXPECT_EQ(RawEntry(seq), SerializeDeterministic(want)) << "entry " << seq;
    prev = want.hash();
  }
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
}

// Fields this build does not know (written by a newer one) are encoded after
// the known ones, also after prev_hash and hash; the hash covers them.
TEST_F(AuditLogTest, UnknownFieldsAreStoredAfterTheHashFieldsAndHashed) {
  AuditEntry e = MakeEntry(1);
  google::protobuf::UnknownFieldSet* unknown = e.GetReflection()->MutableUnknownFields(&e);
  unknown->AddLengthDelimited(16, "from a newer build");
  unknown->AddVarint(17, 5);
  ASSERT_THAT(log_->Append(e), IsOk());
  AuditEntry want = e;
  want.set_seq(1);
  want.set_time_unix_micros(kStartUnixSeconds * 1'000'000);
  want.set_prev_hash(kGenesisHash);
  want.set_hash(ComputeEntryHash(want));
  const std::string stored = RawEntry(1);
  EXPECT_EQ(stored, SerializeDeterministic(want));
  EXPECT_THAT(stored, ::testing::EndsWith(std::string("\x88\x01\x05", 3)));
  EXPECT_EQ(StoredEntry(1).hash(), want.hash());
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
}

// Golden values written by the build before the writer built the stored
// value without a second encoding: entries stored by any build hash and
// encode the same, so a log written before still verifies.
TEST_F(AuditLogTest, StoredBytesAndHashesMatchEarlierBuilds) {
  for (const AuditEntry& e : EncodingCorners()) ASSERT_THAT(log_->Append(e), IsOk());
  // SHA-256 of the stored value, and the entry's chain hash.
  const std::vector<std::pair<std::string, std::string>> golden = {
      {"06c62407b4e6fed8150f0958e14b6db8f048d5d83b7984b220054ad7119c215f",
       "5864524b525ecd3044df343892f2f3f1bee7a541a25c712ad0a2bf60c61bf1db"},
      {"c562259358a968feb80a95b0e0e3216e53fc2038c1ab8d2448f947ae7e8e0856",
       "807f49b1c00bf6060388a15e22aa0cbcd2ec25c929ea7cc0594616b03b39a346"},
      {"5b5194808e4e0da871034fb0d605abb3852920102ff7a17686ff9c44fa5b4206",
       "4771c390521c652a3401179709b4636e09fe8c734f662386099b1d89297e9d79"},
      {"06dc874d501c67d8541ba87282eefee8da674506d9d5a041ec58d51f6622a9c0",
       "3d935802bb6ea7c820d0952e9d36b436f56117238a33cd5e6ac81cfef219bddb"},
  };
  for (size_t i = 0; i < golden.size(); ++i) {
    const uint64_t seq = i + 1;
    EXPECT_EQ(certs::Sha256Hex(RawEntry(seq)), golden[i].first) << "entry " << seq;
    EXPECT_EQ(StoredEntry(seq).hash(), golden[i].second) << "entry " << seq;
  }
}

TEST_F(AuditLogTest, ReopenContinuesTheChain) {
  AppendN(5);
  const std::string hash5 = StoredEntry(5).hash();
  Reopen();
  EXPECT_EQ(log_->last_seq(), 5U);
  absl::StatusOr<uint64_t> seq = log_->Append(MakeEntry(6));
  ASSERT_THAT(seq, IsOk());
  EXPECT_EQ(*seq, 6U);
  EXPECT_EQ(StoredEntry(6).prev_hash(), hash5);
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 6U);
}

TEST_F(AuditLogTest, TailAndRead) {
  AppendN(7);
  absl::StatusOr<std::vector<AuditEntry>> tail = log_->Tail(3);
  ASSERT_THAT(tail, IsOk());
  ASSERT_EQ(tail->size(), 3U);
  EXPECT_EQ((*tail)[0].seq(), 5U);
  EXPECT_EQ((*tail)[2].seq(), 7U);
  tail = log_->Tail(100);
  ASSERT_THAT(tail, IsOk());
  EXPECT_EQ(tail->size(), 7U);
  absl::StatusOr<std::vector<AuditEntry>> read = log_->Read(6, 100);
  ASSERT_THAT(read, IsOk());
  ASSERT_EQ(read->size(), 2U);
  EXPECT_EQ((*read)[0].seq(), 6U);
}

TEST_F(AuditLogTest, EmptyLogVerifies) {
  uint64_t checked = 7;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 0U);
  absl::StatusOr<std::vector<AuditEntry>> tail = log_->Tail(5);
  ASSERT_THAT(tail, IsOk());
  EXPECT_TRUE(tail->empty());
}

TEST_F(AuditLogTest, ChangedFieldNamesTheEntry) {
  AppendN(20);
  AuditEntry e = StoredEntry(17);
  e.set_decision(audit::v1::DECISION_ALLOW);
  e.set_reason("grant g1");
  e.set_rows_returned(100000);
  ASSERT_THAT(store_->AppendAudit({{17, e.SerializeAsString()}}), IsOk());
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), StatusIs(absl::StatusCode::kDataLoss,
                                               "audit entry 17: hash mismatch (entry changed)"));
  EXPECT_EQ(checked, 16U);
}

TEST_F(AuditLogTest, ChangedAndRehashedEntryBreaksTheNextLink) {
  AppendN(20);
  AuditEntry e = StoredEntry(17);
  e.set_rows_returned(100000);
  e.set_hash(ComputeEntryHash(e));
  ASSERT_THAT(store_->AppendAudit({{17, e.SerializeAsString()}}), IsOk());
  EXPECT_THAT(log_->Verify(nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit entry 18: prev_hash does not match the hash of entry 17 (entry 17 "
                       "changed or chain broken)"));
}

TEST_F(AuditLogTest, GarbageBytesAreReported) {
  AppendN(5);
  ASSERT_THAT(store_->AppendAudit({{3, std::string("\xff\xff\xff", 3)}}), IsOk());
  EXPECT_THAT(log_->Verify(nullptr),
              StatusIs(absl::StatusCode::kDataLoss, "audit entry 3: unparseable (entry changed)"));
}

TEST_F(AuditLogTest, DeletedEntryIsAGap) {
  AppendN(20);
  ASSERT_THAT(store_->DeleteAuditForTest(18, 19), IsOk());
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked),
              StatusIs(absl::StatusCode::kDataLoss, "audit entry 18 missing (gap after 17)"));
  EXPECT_EQ(checked, 17U);
}

TEST_F(AuditLogTest, DeletedFirstEntryIsReported) {
  AppendN(3);
  ASSERT_THAT(store_->DeleteAuditForTest(1, 2), IsOk());
  EXPECT_THAT(log_->Verify(nullptr),
              StatusIs(absl::StatusCode::kDataLoss, "audit entry 1 missing (log starts at 2)"));
}

TEST_F(AuditLogTest, SwappedEntriesAreReordered) {
  AppendN(10);
  const std::string five = RawEntry(5);
  const std::string six = RawEntry(6);
  ASSERT_THAT(store_->AppendAudit({{5, six}, {6, five}}), IsOk());
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), StatusIs(absl::StatusCode::kDataLoss,
                                               "audit entry 5: holds entry 6 (entries "
                                               "reordered)"));
  EXPECT_EQ(checked, 4U);
}

TEST_F(AuditLogTest, TruncatedTailInThisProcessIsReported) {
  AppendN(10);
  ASSERT_THAT(store_->DeleteAuditForTest(8, 11), IsOk());
  EXPECT_THAT(log_->Verify(nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit entry 8 missing (log ends at 7, but 10 entries were written)"));
}

TEST_F(AuditLogTest, TruncatedTailAfterSignedHeadIsDetectedAfterReopen) {
  UseSigner();
  Reopen();
  AppendN(25);
  Reopen();  // Close signs the head at 25.
  absl::StatusOr<std::optional<storage::DatasetStore::AuditRecord>> head = store_->LastAuditHead();
  ASSERT_THAT(head, IsOk());
  ASSERT_TRUE(head->has_value());
  EXPECT_EQ((*head)->first, 25U);

  // Drop entries 21..25 while the node is down.
  ASSERT_THAT(log_->Close(), IsOk());
  log_.reset();
  ASSERT_THAT(store_->DeleteAuditForTest(21, 26), IsOk());
  options_.sign_head = nullptr;  // do not sign at the next close
  Reopen();
  EXPECT_EQ(log_->last_seq(), 20U);
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit entry 21 missing (log ends at 20, but head 25 is signed)"));
  EXPECT_EQ(checked, 20U);

  // Appending new entries in their place does not hide it.
  AppendN(5);
  EXPECT_THAT(log_->Verify(nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit head signature at 25: hash does not match entry 25"));
}

TEST_F(AuditLogTest, HeadSignaturesVerifyAndAForgedOneIsDetected) {
  UseSigner();
  Reopen();
  AppendN(30);
  ASSERT_THAT(log_->Close(), IsOk());
  absl::StatusOr<std::vector<storage::DatasetStore::AuditRecord>> heads =
      store_->ReadAuditHeads(1, 100);
  ASSERT_THAT(heads, IsOk());
  // One batch at a time here, so heads land exactly every 10 entries.
  ASSERT_EQ(heads->size(), 3U);
  HeadSignature h20;
  ASSERT_TRUE(h20.ParseFromString((*heads)[1].second));
  EXPECT_EQ(h20.seq(), 20U);
  EXPECT_EQ(h20.hash(), StoredEntry(20).hash());
  EXPECT_EQ(h20.spki_sha256(), "spki-of-test-key");
  EXPECT_EQ(h20.time_unix_micros(), kStartUnixSeconds * 1'000'000);
  Reopen();
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 30U);

  // A head signed with another key.
  absl::StatusOr<std::string> forged = FakeSign(HeadSigningData(20, h20.hash()), "other-key");
  ASSERT_THAT(forged, IsOk());
  HeadSignature bad = h20;
  bad.set_signature_base64(absl::Base64Escape(*forged));
  ASSERT_THAT(store_->PutAuditHead(20, bad.SerializeAsString()), IsOk());
  EXPECT_THAT(log_->Verify(&checked),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit head signature at 20: signature does not verify: bad signature"));
  EXPECT_EQ(checked, 20U);
}

TEST_F(AuditLogTest, WithoutAKeyHeadsStayUnsignedAndOtherSigningErrorsReachClose) {
  // No key to sign with (a node without a federation block): no head, no
  // error at Close, the chain verifies.
  int calls = 0;
  options_.sign_head = [&calls](absl::string_view) -> absl::StatusOr<std::string> {
    ++calls;
    return absl::FailedPreconditionError("no node key");
  };
  options_.sign_every_entries = 10;
  Reopen();
  AppendN(25);
  EXPECT_THAT(log_->Close(), IsOk());
  EXPECT_EQ(calls, 3);  // at 10, 20 and at Close (25)
  absl::StatusOr<std::vector<storage::DatasetStore::AuditRecord>> heads =
      store_->ReadAuditHeads(1, 100);
  ASSERT_THAT(heads, IsOk());
  EXPECT_THAT(*heads, IsEmpty());
  log_.reset();
  OpenLog();
  EXPECT_THAT(log_->Verify(nullptr), IsOk());

  // A signer that fails for another reason is an error of Close.
  options_.sign_head = [](absl::string_view) -> absl::StatusOr<std::string> {
    return absl::InternalError("HSM unreachable");
  };
  Reopen();
  AppendN(1);
  EXPECT_THAT(log_->Close(), StatusIs(absl::StatusCode::kInternal, "HSM unreachable"));
  log_.reset();
}

TEST_F(AuditLogTest, ConcurrentAppendsFormAGapFreeChain) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  absl::Mutex mu;
  std::vector<uint64_t> seqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint64_t> seq = log_->Append(MakeEntry(t * kPerThread + i));
        ASSERT_THAT(seq, IsOk());
        absl::MutexLock lock(&mu);
        seqs.push_back(*seq);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::sort(seqs.begin(), seqs.end());
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < seqs.size(); ++i) {
    ASSERT_EQ(seqs[i], i + 1);
  }
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_LE(log_->BatchesWrittenForTest(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(AuditLogTest, GroupCommitWritesQueuedEntriesInOneBatch) {
  constexpr int kThreads = 8;
  log_->PauseWriterForTest();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { ASSERT_THAT(log_->Append(MakeEntry(t)), IsOk()); });
  }
  log_->WaitForQueuedForTest(kThreads);
  EXPECT_EQ(log_->BatchesWrittenForTest(), 0U);
  log_->ResumeWriterForTest();
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(log_->BatchesWrittenForTest(), 1U);
  EXPECT_EQ(log_->last_seq(), static_cast<uint64_t>(kThreads));
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
}

TEST_F(AuditLogTest, MaxBatchEntriesSplitsBatches) {
  options_.max_batch_entries = 3;
  Reopen();
  log_->PauseWriterForTest();
  std::vector<std::thread> threads;
  for (int t = 0; t < 7; ++t) {
    threads.emplace_back([&, t] { ASSERT_THAT(log_->Append(MakeEntry(t)), IsOk()); });
  }
  log_->WaitForQueuedForTest(7);
  log_->ResumeWriterForTest();
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(log_->BatchesWrittenForTest(), 3U);
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
}

TEST_F(AuditLogTest, CloseDrainsQueuedEntries) {
  log_->PauseWriterForTest();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { ASSERT_THAT(log_->Append(MakeEntry(t)), IsOk()); });
  }
  log_->WaitForQueuedForTest(4);
  ASSERT_THAT(log_->Close(), IsOk());
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(log_->last_seq(), 4U);
  EXPECT_THAT(log_->Append(MakeEntry(9)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
}

TEST_F(AuditLogTest, AppendAsyncSharesTheBatchWithBlockingCallersAndReportsDurableSeqs) {
  log_->PauseWriterForTest();
  absl::Mutex mu;
  std::vector<uint64_t> async_seqs;
  std::vector<std::thread::id> callback_threads;
  for (int i = 0; i < 3; ++i) {
    log_->AppendAsync(MakeEntry(i), [&](absl::StatusOr<uint64_t> seq) {
      ASSERT_THAT(seq, IsOk());
      absl::MutexLock lock(&mu);
      async_seqs.push_back(*seq);
      callback_threads.push_back(std::this_thread::get_id());
    });
  }
  std::thread blocking([&] { EXPECT_THAT(log_->Append(MakeEntry(3)), IsOk()); });
  log_->WaitForQueuedForTest(4);
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(async_seqs.empty()) << "a callback ran before its entry was written";
  }
  log_->ResumeWriterForTest();
  blocking.join();
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](std::vector<uint64_t>* v) { return v->size() == 3; }, &async_seqs));
  // Queue order is seq order; all four went out in one synced batch.
  EXPECT_EQ(async_seqs, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(log_->BatchesWrittenForTest(), 1U);
  for (const std::thread::id& id : callback_threads) EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
  absl::StatusOr<std::vector<AuditEntry>> stored = log_->Read(1, 10);
  ASSERT_THAT(stored, IsOk());
  ASSERT_EQ(stored->size(), 4U);
  EXPECT_EQ((*stored)[2].request_id(), "r-2");
}

TEST_F(AuditLogTest, AppendAsyncQueuedBeforeCloseIsWrittenAndAfterCloseFailsAtOnce) {
  log_->PauseWriterForTest();
  absl::Notification written;
  uint64_t seq = 0;
  log_->AppendAsync(MakeEntry(0), [&](absl::StatusOr<uint64_t> s) {
    ASSERT_THAT(s, IsOk());
    seq = *s;
    written.Notify();
  });
  log_->WaitForQueuedForTest(1);
  ASSERT_THAT(log_->Close(), IsOk());
  ASSERT_TRUE(written.HasBeenNotified()) << "Close returned before the queued callback ran";
  EXPECT_EQ(seq, 1U);
  bool refused = false;
  log_->AppendAsync(MakeEntry(1), [&](absl::StatusOr<uint64_t> s) {
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("closed")));
    refused = true;
  });
  EXPECT_TRUE(refused) << "after Close the callback runs on the calling thread";
  EXPECT_EQ(log_->last_seq(), 1U);
}

TEST_F(AuditLogTest, InvalidOptionsAreRejected) {
  AuditLogOptions bad;
  bad.max_batch_entries = 0;
  EXPECT_THAT(AuditLog::Open(store_.get(), bad, &clock_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_batch_entries")));
  EXPECT_THAT(AuditLog::Open(nullptr, AuditLogOptions(), &clock_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("store")));
}

// ---- Retention: archive, cut, verify across the cut ----

class AuditArchiveTest : public AuditLogTest {
 protected:
  void SetUp() override {
    UseSigner();
    AuditLogTest::SetUp();
  }

  // n entries, then the clock moves on a day.
  void AppendDay(int n) {
    AppendN(n);
    clock_.Advance(absl::Hours(24));
  }

  absl::StatusOr<ArchiveResult> ArchiveBefore(absl::Time before, const std::string& name) {
    ArchiveRequest r;
    r.before = before;
    r.path = dir_.File(name);
    r.member_ags = "06531005";
    r.record.set_caller("admin");
    r.record.set_operation("audit.Archive");
    return log_->Archive(r);
  }

  absl::StatusOr<ArchiveReport> VerifyFile(const std::string& name) {
    absl::StatusOr<v1::AuditArchive> archive = ReadArchiveFile(dir_.File(name));
    if (!archive.ok()) return archive.status();
    return VerifyArchive(*archive, options_.verify_head);
  }

  // Changes the archive file `name` with `edit` and writes it back.
  void EditFile(const std::string& name, const std::function<void(v1::AuditArchive*)>& edit) {
    absl::StatusOr<v1::AuditArchive> archive = ReadArchiveFile(dir_.File(name));
    ASSERT_THAT(archive, IsOk());
    edit(&*archive);
    ASSERT_THAT(certs::WriteFileAtomically(dir_.File(name), SerializeArchive(*archive), 0600),
                IsOk());
  }

  absl::Time Day(int d) const {
    return absl::FromUnixSeconds(kStartUnixSeconds) + absl::Hours(24) * d;
  }
};

TEST_F(AuditArchiveTest, ArchiveCutsOldEntriesAndTheChainVerifiesAcrossTheCut) {
  AppendDay(5);  // day 0: entries 1..5
  AppendDay(3);  // day 1: entries 6..8
  const std::string hash5 = StoredEntry(5).hash();
  absl::StatusOr<ArchiveResult> r = ArchiveBefore(Day(1), "a1.fnarchive");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->count, 5U);
  EXPECT_EQ(r->first_seq, 1U);
  EXPECT_EQ(r->last_seq, 5U);
  EXPECT_EQ(r->last_hash, hash5);
  EXPECT_EQ(r->record_seq, 9U);
  EXPECT_FALSE(r->more);

  // The file: owner-only, its digest as reported, its chain and signature.
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("a1.fnarchive").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  uint64_t size = 0;
  EXPECT_EQ(certs::Sha256FileHex(dir_.File("a1.fnarchive"), &size).value_or(""), r->file_sha256);
  absl::StatusOr<ArchiveReport> report = VerifyFile("a1.fnarchive");
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->signature_checked);
  EXPECT_EQ(report->statement.member_ags(), "06531005");
  EXPECT_EQ(report->statement.prev_hash(), kGenesisHash);
  EXPECT_EQ(report->statement.first_time_unix_micros(), kStartUnixSeconds * 1'000'000);

  // The live log: 6..9, entry 9 records the cut, the anchor links to 5.
  absl::StatusOr<std::vector<AuditEntry>> live = log_->Read(1, 100);
  ASSERT_THAT(live, IsOk());
  ASSERT_EQ(live->size(), 4U);
  EXPECT_EQ(live->front().seq(), 6U);
  EXPECT_EQ(live->front().prev_hash(), hash5);
  const AuditEntry& record = live->back();
  EXPECT_EQ(record.operation(), "audit.Archive");
  EXPECT_EQ(record.rows_returned(), 5U);
  EXPECT_EQ(record.reason(), absl::StrCat("archived entries 1..5 to ", dir_.File("a1.fnarchive"),
                                          " (sha256 ", r->file_sha256, ")"));
  absl::StatusOr<v1::ChainAnchor> anchor = log_->Anchor();
  ASSERT_THAT(anchor, IsOk());
  EXPECT_EQ(anchor->seq(), 5U);
  EXPECT_EQ(anchor->hash(), hash5);
  EXPECT_EQ(anchor->archive_sha256(), r->file_sha256);
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 4U);

  // Across a restart, with heads signed after the cut.
  Reopen();
  AppendN(12);
  Reopen();
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 16U);
}

TEST_F(AuditArchiveTest, SuccessiveArchivesLinkAndNothingOldEnoughWritesNothing) {
  AppendDay(4);  // 1..4
  AppendDay(4);  // 5..8
  AppendDay(2);  // 9..10
  absl::StatusOr<ArchiveResult> first = ArchiveBefore(Day(1), "a1.fnarchive");
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(first->last_seq, 4U);
  // The second takes 5..8 (9 and 10 are of day 2, the first cut's record
  // 11 of day 3).
  absl::StatusOr<ArchiveResult> second = ArchiveBefore(Day(2), "a2.fnarchive");
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->first_seq, 5U);
  EXPECT_EQ(second->last_seq, 8U);
  absl::StatusOr<ArchiveReport> r1 = VerifyFile("a1.fnarchive");
  absl::StatusOr<ArchiveReport> r2 = VerifyFile("a2.fnarchive");
  ASSERT_THAT(r1, IsOk());
  ASSERT_THAT(r2, IsOk());
  EXPECT_THAT(CheckArchivesLink(r1->statement, r2->statement), IsOk());
  EXPECT_THAT(CheckArchivesLink(r2->statement, r1->statement),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("do not link")));
  EXPECT_THAT(log_->Verify(nullptr), IsOk());

  absl::StatusOr<ArchiveResult> none = ArchiveBefore(Day(2), "a3.fnarchive");
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->count, 0U);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("a3.fnarchive")));
}

TEST_F(AuditArchiveTest, TamperedArchivesAreNamedBySequenceNumber) {
  AppendDay(6);
  AppendDay(1);
  ASSERT_THAT(ArchiveBefore(Day(1), "a.fnarchive"), IsOk());
  const std::string pristine = ::fednode::testing::ReadFileOrDie(dir_.File("a.fnarchive"));
  auto restore = [&] {
    ASSERT_THAT(certs::WriteFileAtomically(dir_.File("a.fnarchive"), pristine, 0600), IsOk());
  };

  EditFile("a.fnarchive", [](v1::AuditArchive* a) { a->mutable_entries(2)->set_reason("x"); });
  EXPECT_THAT(
      VerifyFile("a.fnarchive"),
      StatusIs(absl::StatusCode::kDataLoss, "archived entry 3: hash mismatch (entry changed)"));
  restore();
  EditFile("a.fnarchive", [](v1::AuditArchive* a) { a->mutable_entries()->DeleteSubrange(3, 1); });
  EXPECT_THAT(VerifyFile("a.fnarchive"),
              StatusIs(absl::StatusCode::kDataLoss, "archived entry 4 missing (gap after 3)"));
  restore();
  // Changed and rehashed: the next link breaks.
  EditFile("a.fnarchive", [](v1::AuditArchive* a) {
    AuditEntry* e = a->mutable_entries(1);
    e->set_reason("x");
    e->set_hash(ComputeEntryHash(*e));
  });
  EXPECT_THAT(
      VerifyFile("a.fnarchive"),
      StatusIs(absl::StatusCode::kDataLoss,
               HasSubstr("archived entry 3: prev_hash does not match the hash of entry 2")));
  restore();
  // The last entry dropped and the statement shortened to match: the
  // signature no longer verifies.
  EditFile("a.fnarchive", [](v1::AuditArchive* a) {
    a->mutable_entries()->RemoveLast();
    a->mutable_statement()->set_last_seq(5);
    a->mutable_statement()->set_count(5);
    a->mutable_statement()->set_last_hash(a->entries(4).hash());
    a->mutable_statement()->set_last_time_unix_micros(a->entries(4).time_unix_micros());
  });
  EXPECT_THAT(
      VerifyFile("a.fnarchive"),
      StatusIs(absl::StatusCode::kDataLoss,
               "archive statement of entries 1..5: signature does not verify: bad signature"));
  restore();
  // Signed by another key.
  EditFile("a.fnarchive", [](v1::AuditArchive* a) {
    a->set_signature_base64(
        absl::Base64Escape(FakeSign(ArchiveSigningData(a->statement()), "other-key").value_or("")));
  });
  EXPECT_THAT(VerifyFile("a.fnarchive"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("signature does not verify")));
  restore();
  EXPECT_THAT(VerifyFile("a.fnarchive"), IsOk());
}

TEST_F(AuditArchiveTest, AForgedAnchorIsDetected) {
  AppendDay(3);
  AppendDay(1);
  ASSERT_THAT(ArchiveBefore(Day(1), "a.fnarchive"), IsOk());
  absl::StatusOr<v1::ChainAnchor> anchor = log_->Anchor();
  ASSERT_THAT(anchor, IsOk());
  // An anchor moved on to entry 4 (cutting it) without a signed archive.
  v1::ChainAnchor forged = *anchor;
  forged.set_seq(4);
  forged.set_hash(StoredEntry(4).hash());
  storage::DatasetStore::AuditCut cut{4, forged.SerializeAsString()};
  ASSERT_THAT(store_->AppendAudit({}, &cut), IsOk());
  EXPECT_THAT(log_->Verify(nullptr),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("audit chain anchor at 4: does not match the statement")));
}

TEST_F(AuditArchiveTest, FailedCutLeavesTheLogWholeAndARerunReplacesTheFile) {
  AppendDay(5);
  AppendDay(2);
  log_->FailNextCutForTest();
  EXPECT_THAT(ArchiveBefore(Day(1), "a.fnarchive"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cutting the audit log")));
  // The file was written (durable first), nothing was cut.
  EXPECT_TRUE(std::filesystem::exists(dir_.File("a.fnarchive")));
  EXPECT_THAT(VerifyFile("a.fnarchive"), IsOk());
  uint64_t checked = 0;
  EXPECT_THAT(log_->Verify(&checked), IsOk());
  EXPECT_EQ(checked, 7U);
  absl::StatusOr<v1::ChainAnchor> anchor = log_->Anchor();
  ASSERT_THAT(anchor, IsOk());
  EXPECT_EQ(anchor->seq(), 0U);

  // The rerun replaces the uncut file.
  absl::StatusOr<ArchiveResult> rerun = ArchiveBefore(Day(1), "a.fnarchive");
  ASSERT_THAT(rerun, IsOk());
  EXPECT_EQ(rerun->first_seq, 1U);
  EXPECT_EQ(rerun->last_seq, 5U);
  EXPECT_THAT(VerifyFile("a.fnarchive"), IsOk());
  EXPECT_THAT(log_->Verify(nullptr), IsOk());
  // Now cut: the same name is refused for the next archive.
  clock_.Advance(absl::Hours(48));
  EXPECT_THAT(ArchiveBefore(Day(5), "a.fnarchive"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("a.fnarchive exists")));
}

TEST_F(AuditArchiveTest, ArchiveNeedsASignerAnAbsolutePathAndAnIntactChain) {
  AppendDay(3);
  AppendDay(1);
  ArchiveRequest relative;
  relative.before = Day(1);
  relative.path = "a.fnarchive";
  EXPECT_THAT(log_->Archive(relative),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("absolute path")));
  // A changed entry is not archived: nothing is written or cut.
  AuditEntry e = StoredEntry(2);
  e.set_reason("changed");
  ASSERT_THAT(store_->AppendAudit({{2, e.SerializeAsString()}}), IsOk());
  EXPECT_THAT(ArchiveBefore(Day(1), "a.fnarchive"),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit entry 2: hash mismatch (entry changed); nothing archived"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("a.fnarchive")));

  options_.sign_head = nullptr;
  Reopen();
  EXPECT_THAT(ArchiveBefore(Day(1), "b.fnarchive"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("node key")));
}

TEST(AuditJsonTest, JsonLineIsExact) {
  AuditEntry e;
  e.set_seq(17);
  e.set_time_unix_micros(1714638600000123);
  e.set_caller("06531005");
  e.set_peer_address("ipv4:10.0.0.7:50432");
  e.set_operation("federation.Query");
  e.set_dataset_id("wahl");
  e.set_decision(audit::v1::DECISION_DENY);
  e.set_reason("no grant: \"wahl\"\n");
  e.set_rows_returned(0);
  e.set_cells_returned(0);
  e.set_request_id("r-1");
  e.set_purpose("Statistik Gießen");
  e.set_agreement_version(3);
  e.set_prev_hash("aa");
  e.set_hash("bb");
  EXPECT_EQ(ToJsonLine(e),
            "{\"seq\":17,\"time\":\"2024-05-02T08:30:00.000123Z\","
            "\"time_unix_micros\":1714638600000123,\"caller\":\"06531005\","
            "\"peer_address\":\"ipv4:10.0.0.7:50432\",\"operation\":\"federation.Query\","
            "\"dataset_id\":\"wahl\",\"decision\":\"deny\","
            "\"reason\":\"no grant: \\\"wahl\\\"\\n\",\"rows_returned\":0,\"cells_returned\":0,"
            "\"request_id\":\"r-1\",\"purpose\":\"Statistik Gießen\",\"agreement_version\":3,"
            "\"prev_hash\":\"aa\",\"hash\":\"bb\"}\n");
}

TEST(AuditJsonTest, InvalidUtf8IsReplacedNotThrown) {
  AuditEntry e;
  e.set_decision(audit::v1::DECISION_ALLOW);
  e.set_reason(std::string("a\xff", 2));
  const std::string line = ToJsonLine(e);
  EXPECT_THAT(line, HasSubstr("\"reason\":\"a\xEF\xBF\xBD\""));
  EXPECT_THAT(line, HasSubstr("\"decision\":\"allow\""));
  EXPECT_THAT(line, HasSubstr("\"time\":\"1970-01-01T00:00:00.000000Z\""));
}

}  // namespace
}  // namespace fednode::audit
