// Harvest logic of CatalogHarvester against a fake member (a CatalogPager
// that pages a change log the way the holder does), on a real DatasetStore.
#include "node/server/catalog_harvester.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"

namespace fednode::server {
namespace {

using ::fednode::testing::IsOk;
using ::testing::ElementsAre;

constexpr char kLich[] = "06531011";

// A member's catalog as its holder pages it: one change-log record per
// dataset at its latest change; ids in `hidden` are skipped (not visible to
// us under the member's grants) but still advance paging.
class FakeMember final : public CatalogPager {
 public:
  void Put(const std::string& id, const std::string& title) {
    Forget(id);
    catalog::v1::CatalogEntry& e = entries_[id];
    e.set_dataset_id(id);
    e.set_ags(ags_);
    e.mutable_metadata()->set_title(title);
    e.set_change_seq(++seq_);
    log_[seq_] = id;
  }
  void Remove(const std::string& id) {
    Forget(id);
    entries_.erase(id);
    log_[++seq_] = id;
  }

  absl::StatusOr<federation::v1::GetCatalogResponse> GetPage(const std::string& ags,
                                                             uint64_t after_sequence,
                                                             uint32_t page_size) override {
    EXPECT_EQ(ags, kLich);
    calls.push_back(after_sequence);
    if (fail_at_call == calls.size()) {
      return absl::UnavailableError("member 06531011: connection refused");
    }
    federation::v1::GetCatalogResponse r;
    r.set_agreement_version(agreement_version);
    r.set_catalog_epoch(epoch);
    if (loop_from.has_value() && after_sequence >= *loop_from) {
      r.set_next_sequence(after_sequence);  // claims more, never advances
      r.set_more(true);
      return r;
    }
    uint64_t next = after_sequence;
    uint32_t n = 0;
    for (auto it = log_.upper_bound(after_sequence); it != log_.end(); ++it) {
      if (n == page_size) {
        r.set_more(true);
        break;
      }
      ++n;
      next = it->first;
      const std::string& id = it->second;
      if (hidden.count(id) != 0) continue;
      auto e = entries_.find(id);
      if (e != entries_.end() && e->second.change_seq() == it->first) {
        *r.add_entries() = e->second;
      } else {
        auto* removed = r.add_removed();
        removed->set_dataset_id(id);
        removed->set_change_seq(it->first);
      }
    }
    r.set_next_sequence(next);
    return r;
  }

  std::vector<uint64_t> calls;        // after_sequence of every call
  size_t fail_at_call = 0;            // 1-based call that fails; 0 never
  std::optional<uint64_t> loop_from;  // from this sequence on, paging loops
  uint64_t agreement_version = 1;
  std::string epoch = "e1";
  std::set<std::string> hidden;
  std::string ags_ = kLich;

 public:
  // The member's database replaced by an older copy: `keep` entries (the
  // first ones written) remain, sequences continue from there.
  void RestoreOlderCopy(size_t keep, const std::string& new_epoch) {
    std::map<uint64_t, std::string> log;
    std::map<std::string, catalog::v1::CatalogEntry> entries;
    for (auto it = log_.begin(); it != log_.end() && log.size() < keep; ++it) {
      log.insert(*it);
      if (entries_.count(it->second) != 0) entries[it->second] = entries_[it->second];
    }
    log_ = log;
    entries_ = entries;
    seq_ = log_.empty() ? 0 : log_.rbegin()->first;
    epoch = new_epoch;
  }

 private:
  void Forget(const std::string& id) {
    for (auto it = log_.begin(); it != log_.end();) {
      it = it->second == id ? log_.erase(it) : std::next(it);
    }
  }
  uint64_t seq_ = 0;
  std::map<uint64_t, std::string> log_;
  std::map<std::string, catalog::v1::CatalogEntry> entries_;
};

class CatalogHarvesterTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    harvester_.reset();
    store_.reset();
    storage::DatasetStoreOptions o;
    o.path = dir_.File("db");
    o.sync_commits = false;
    auto store = storage::DatasetStore::Open(o);
    ASSERT_THAT(store, IsOk());
    store_ = *std::move(store);
    CatalogHarvesterOptions options;
    options.page_size = 2;
    options.max_pages = 50;
    harvester_ = std::make_unique<CatalogHarvester>(store_.get(), &member_, &clock_, options);
  }

  node::v1::PeerHarvest Harvest() { return harvester_->Harvest({kLich, "Lich, Stadt"}); }

  // "id=title" of the entries shown.
  std::vector<std::string> Shown() {
    auto entries = harvester_->Entries(kLich);
    EXPECT_THAT(entries, IsOk());
    std::vector<std::string> out;
    if (!entries.ok()) return out;
    for (const auto& h : *entries) {
      out.push_back(absl::StrCat(h.entry().dataset_id(), "=", h.entry().metadata().title()));
    }
    return out;
  }

  fednode::testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1796040000)};  // 2026-11-30T12:00:00Z
  FakeMember member_;
  std::unique_ptr<storage::DatasetStore> store_;
  std::unique_ptr<CatalogHarvester> harvester_;
};

TEST_F(CatalogHarvesterTest, SecondHarvestFetchesOnlyTheChangesAndARestartResumes) {
  member_.Put("a", "A");
  member_.Put("b", "B");
  member_.Put("c", "C");
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "ok");
  EXPECT_EQ(r.detail(), "");
  EXPECT_EQ(r.entries(), 3u);
  EXPECT_EQ(r.removed(), 0u);
  EXPECT_EQ(r.pages(), 2u);
  EXPECT_TRUE(r.full());
  EXPECT_EQ(r.entries_held(), 3u);
  EXPECT_EQ(r.cursor(), 3u);
  EXPECT_EQ(r.last_success(), "2026-11-30T12:00:00Z");
  EXPECT_THAT(member_.calls, ElementsAre(0u, 2u));
  EXPECT_THAT(Shown(), ElementsAre("a=A", "b=B", "c=C"));

  member_.Put("b", "B2");
  clock_.Advance(absl::Minutes(5));
  r = Harvest();
  EXPECT_EQ(r.state(), "ok");
  EXPECT_EQ(r.entries(), 1u);
  EXPECT_EQ(r.pages(), 1u);
  EXPECT_FALSE(r.full());
  EXPECT_EQ(r.cursor(), 4u);
  EXPECT_EQ(r.last_success(), "2026-11-30T12:05:00Z");
  EXPECT_THAT(member_.calls, ElementsAre(0u, 2u, 3u));
  EXPECT_THAT(Shown(), ElementsAre("a=A", "b=B2", "c=C"));

  // After a restart the harvest goes on from the stored cursor.
  Open();
  r = Harvest();
  EXPECT_EQ(r.entries(), 0u);
  EXPECT_EQ(r.pages(), 1u);
  EXPECT_THAT(member_.calls, ElementsAre(0u, 2u, 3u, 4u));
  EXPECT_THAT(Shown(), ElementsAre("a=A", "b=B2", "c=C"));
}

TEST_F(CatalogHarvesterTest, DeletionAndHidingPropagate) {
  member_.Put("a", "A");
  member_.Put("b", "B");
  ASSERT_EQ(Harvest().state(), "ok");
  member_.Remove("a");
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "ok");
  EXPECT_EQ(r.entries(), 0u);
  EXPECT_EQ(r.removed(), 1u);
  EXPECT_EQ(r.entries_held(), 1u);
  EXPECT_THAT(Shown(), ElementsAre("b=B"));
}

TEST_F(CatalogHarvesterTest, LoopingMemberIsMarkedInErrorAndItsEntriesKept) {
  for (const char* id : {"a", "b", "c", "d"}) member_.Put(id, id);
  member_.loop_from = 2;
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "error");
  EXPECT_EQ(r.detail(), "paging did not advance at sequence 2");
  EXPECT_EQ(r.pages(), 2u);
  EXPECT_EQ(r.entries(), 2u);
  EXPECT_EQ(r.entries_held(), 2u);
  EXPECT_EQ(r.cursor(), 2u);
  EXPECT_EQ(r.last_success(), "");
  EXPECT_THAT(Shown(), ElementsAre("a=a", "b=b"));
  // The state is stored: Describe (e.g. after a restart) tells the same.
  Open();
  node::v1::PeerHarvest d = harvester_->Describe({kLich, "Lich, Stadt"});
  EXPECT_EQ(d.state(), "error");
  EXPECT_EQ(d.detail(), "paging did not advance at sequence 2");
  EXPECT_EQ(d.entries_held(), 2u);
}

TEST_F(CatalogHarvesterTest, PagingWithoutEndIsBoundedByMaxPages) {
  for (int i = 0; i < 120; ++i) member_.Put(absl::StrCat("d", 100 + i), "x");
  node::v1::PeerHarvest r = Harvest();  // 60 pages needed, 50 allowed
  EXPECT_EQ(r.state(), "error");
  EXPECT_EQ(r.detail(), "paging did not end within 50 pages, at sequence 100");
  EXPECT_EQ(r.entries_held(), 100u);
  EXPECT_EQ(r.cursor(), 100u);
}

TEST_F(CatalogHarvesterTest, BrokenMemberKeepsEarlierPagesAndTheirCursorThenResumes) {
  for (const char* id : {"a", "b", "c", "d", "e"}) member_.Put(id, id);
  member_.fail_at_call = 2;
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "error");
  EXPECT_EQ(r.detail(), "page after sequence 2: member 06531011: connection refused");
  EXPECT_EQ(r.entries_held(), 2u);
  EXPECT_EQ(r.cursor(), 2u);
  EXPECT_THAT(Shown(), ElementsAre("a=a", "b=b"));

  member_.fail_at_call = 0;
  r = Harvest();
  EXPECT_EQ(r.state(), "ok");
  EXPECT_EQ(r.detail(), "");
  EXPECT_EQ(r.entries(), 3u);
  EXPECT_EQ(r.pages(), 2u);
  EXPECT_THAT(member_.calls, ElementsAre(0u, 2u, 2u, 4u));
  EXPECT_THAT(Shown(), ElementsAre("a=a", "b=b", "c=c", "d=d", "e=e"));
}

TEST_F(CatalogHarvesterTest, NewAgreementVersionReharvestsFullyAndSwapsOnlyWhenComplete) {
  member_.Put("a", "A");
  member_.Put("b", "B");
  member_.Put("c", "C");
  ASSERT_EQ(Harvest().state(), "ok");
  // Version 2: b is no longer visible to us. The re-harvest breaks off
  // after its first page: the old entries stay shown.
  member_.agreement_version = 2;
  member_.hidden = {"b"};
  member_.calls.clear();
  member_.fail_at_call = 3;
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "error");
  EXPECT_TRUE(r.full());
  EXPECT_THAT(member_.calls, ElementsAre(3u, 0u, 2u));
  EXPECT_THAT(Shown(), ElementsAre("a=A", "b=B", "c=C"));

  member_.fail_at_call = 0;
  member_.calls.clear();
  r = Harvest();
  EXPECT_EQ(r.state(), "ok");
  EXPECT_EQ(r.entries(), 1u);
  EXPECT_THAT(member_.calls, ElementsAre(2u));
  EXPECT_EQ(r.entries_held(), 2u);
  EXPECT_THAT(Shown(), ElementsAre("a=A", "c=C"));

  // Incremental again under version 2.
  member_.Put("d", "D");
  member_.calls.clear();
  r = Harvest();
  EXPECT_FALSE(r.full());
  EXPECT_THAT(member_.calls, ElementsAre(3u));
  EXPECT_THAT(Shown(), ElementsAre("a=A", "c=C", "d=D"));
}

TEST_F(CatalogHarvesterTest, MemberRestoredFromAnOlderBackupIsReharvestedInFull) {
  member_.Put("a", "A");
  member_.Put("b", "B");
  member_.Put("c", "C");
  ASSERT_EQ(Harvest().state(), "ok");
  // Restored to the copy holding a and b (sequences 1, 2), then a new
  // dataset takes sequence 3 again: without the new epoch the harvester
  // would take it for the change it already has.
  member_.RestoreOlderCopy(2, "e2");
  member_.Put("n", "N");
  member_.calls.clear();
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "ok");
  EXPECT_TRUE(r.full());
  EXPECT_THAT(member_.calls, ElementsAre(3u, 0u, 2u));
  EXPECT_THAT(Shown(), ElementsAre("a=A", "b=B", "n=N"));
  member_.calls.clear();
  r = Harvest();
  EXPECT_FALSE(r.full());
  EXPECT_THAT(member_.calls, ElementsAre(3u));
}

TEST_F(CatalogHarvesterTest, EntryOfAnotherHolderFailsThePage) {
  member_.Put("a", "A");
  member_.ags_ = "06531005";  // the member claims an entry of Gießen
  member_.Put("b", "B");
  node::v1::PeerHarvest r = Harvest();
  EXPECT_EQ(r.state(), "error");
  EXPECT_EQ(r.detail(), "the page after sequence 0 holds an entry of member 06531005");
  EXPECT_EQ(r.entries_held(), 0u);
}

}  // namespace
}  // namespace fednode::server
