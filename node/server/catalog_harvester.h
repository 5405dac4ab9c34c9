// CatalogHarvester: the asking side of catalog exchange. For each member of
// the agreement in force (not this node) it pulls the member's catalog
// changes page by page from a stored cursor (federation GetCatalog: the
// member already filters what this node may see) and keeps the entries in
// the node's database, so that `fedctl catalog --federation` can search the
// whole federation's catalog.
//
// Per member it keeps a PeerHarvestState (catalog.proto; key layout in
// node/storage/key_codec.h, catalog 'p' and 'r'): the generation of entries
// shown, the cursor (the member's change sequence applied), the member's
// agreement version, the last success and the last error. Every page is
// stored with the new cursor in one WriteBatch, so a harvest that breaks off
// keeps what it stored and resumes there; a restart does not re-harvest.
//
// Rules:
//   - while `more` is true, next_sequence must grow with every page, and a
//     harvest takes at most options.max_pages pages: otherwise the member is
//     marked in error ("paging did not advance at sequence N") and what was
//     harvested is kept;
//   - a failed call marks the member in error the same way;
//   - when the member answers under another agreement version than the one
//     its entries were harvested under (grants live in the agreement, so a
//     changed grant is a new version), or its sequence went back (its
//     database was replaced), the harvest restarts from sequence 0 into a
//     new generation, which replaces the old one only once complete; until
//     then the old entries stay shown;
//   - entries are untrusted peer data: one naming another holder, or with a
//     sequence outside its page, fails the page.
//
// Layer: node/server (the pager is the seam to gRPC). Safe for concurrent
// use: harvests run one at a time; a second caller waits.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "node/base/clock.h"
#include "node/server/peer_channels.h"
#include "node/storage/dataset_store.h"
#include "proto/agreement/v1/agreement.pb.h"
#include "proto/catalog/v1/catalog.pb.h"
#include "proto/federation/v1/federation.pb.h"
#include "proto/node/v1/admin.pb.h"

namespace fednode::server {

// Fetches one page of a member's catalog changes.
class CatalogPager {
 public:
  virtual ~CatalogPager() = default;
  // The member's changes after `after_sequence`, at most `page_size`.
  // Errors: the call's failure (Unavailable, DeadlineExceeded,
  // PermissionDenied, ...), the message naming the member.
  // Source: untrusted: the member's answer.
  virtual absl::StatusOr<federation::v1::GetCatalogResponse> GetPage(const std::string& ags,
                                                                     uint64_t after_sequence,
                                                                     uint32_t page_size) = 0;
};

// The production pager: GetCatalog over the member's mutual-TLS channel,
// with a deadline on every call; records the member's health.
class GrpcCatalogPager final : public CatalogPager {
 public:
  // `channels` must outlive the pager. `deadline` bounds each call.
  GrpcCatalogPager(PeerChannels* channels, absl::Duration deadline)
      : channels_(channels), deadline_(deadline) {}
  absl::StatusOr<federation::v1::GetCatalogResponse> GetPage(const std::string& ags,
                                                             uint64_t after_sequence,
                                                             uint32_t page_size) override;

 private:
  PeerChannels* channels_;
  absl::Duration deadline_;
};

struct CatalogHarvesterOptions {
  // Changes asked for per page. Default 100; the holder caps it at 1000.
  uint32_t page_size = 100;
  // Pages one harvest of one member may take before the member is marked in
  // error (paging that never ends). Default 10000 (10 million changes at
  // the holder's cap).
  uint32_t max_pages = 10000;
};

// A member to harvest.
struct HarvestMember {
  std::string ags;
  std::string name;
};

// The members of `agreement` other than `own_ags`, in agreement order.
std::vector<HarvestMember> HarvestMembers(const agreement::v1::Agreement& agreement,
                                          const std::string& own_ags);

class CatalogHarvester {
 public:
  // `store`, `pager` and `clock` must outlive the harvester.
  CatalogHarvester(storage::DatasetStore* store, CatalogPager* pager, const Clock* clock,
                   CatalogHarvesterOptions options = {});

  // Harvests all members at once (a thread each, so one unreachable member
  // costs one call deadline, not one per member in turn); one report per
  // member, in the order given. REQUIRES: the pager is safe for concurrent
  // use when more than one member is given.
  std::vector<node::v1::PeerHarvest> HarvestAll(const std::vector<HarvestMember>& members);
  // Harvests one member: report with entries/removed/pages of this run, the
  // resulting state ("ok" or "error" with detail), entries held, cursor and
  // last success.
  node::v1::PeerHarvest Harvest(const HarvestMember& member);

  // The member's state without harvesting ("never" before its first
  // harvest); entries/removed/pages are 0.
  node::v1::PeerHarvest Describe(const HarvestMember& member);

  // The entries of member `ags` shown now, ordered by dataset id.
  // Errors: DataLoss for a corrupt record; Unavailable for I/O errors.
  absl::StatusOr<std::vector<catalog::v1::HarvestedEntry>> Entries(const std::string& ags);

  // Makes a harvest in progress stop before its next page (its state stays
  // as stored, not marked in error) and later harvests return at once.
  // Safe from any thread.
  void Stop() { stopped_ = true; }

 private:
  absl::StatusOr<catalog::v1::PeerHarvestState> LoadState(const std::string& ags);
  // Pages until the member's last page; updates and stores `state`.
  absl::Status Pull(const std::string& ags, catalog::v1::PeerHarvestState* state,
                    node::v1::PeerHarvest* report);
  // Stores `state` with the records of `batch`.
  absl::Status Store(storage::HarvestBatch batch, const catalog::v1::PeerHarvestState& state);
  // A report of `member` with the fields of `state` (entries, removed,
  // pages 0), or in error when the state could not be read or stored.
  node::v1::PeerHarvest Report(const HarvestMember& member,
                               const absl::StatusOr<catalog::v1::PeerHarvestState>& state);

  storage::DatasetStore* store_;
  CatalogPager* pager_;
  const Clock* clock_;
  const CatalogHarvesterOptions options_;
  // One harvest of a member at a time; members are independent (their
  // records and state are under keys of their own).
  absl::Mutex* MemberLock(const std::string& ags);
  std::atomic<bool> stopped_{false};
  absl::Mutex locks_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<absl::Mutex>> member_locks_
      ABSL_GUARDED_BY(locks_mu_);
};

}  // namespace fednode::server
