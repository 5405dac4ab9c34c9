#include "node/server/catalog_harvester.h"

#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/client_context.h"

#include "federation/agreement/agreement.h"
#include "node/base/grpc_status.h"
#include "node/base/status_macros.h"

namespace fednode::server {
namespace {

using catalog::v1::PeerHarvestState;
using google::protobuf::util::TimeUtil;

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(ts));
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

// Starts a full re-harvest from sequence 0 under `agreement_version` into a
// new generation; an unfinished earlier re-harvest is dropped (into `batch`).
void StartRebuild(uint64_t agreement_version, const std::string& catalog_epoch,
                  PeerHarvestState* state, storage::HarvestBatch* batch) {
  if (state->rebuild_generation() != 0) {
    batch->drop_generations.push_back(state->rebuild_generation());
  }
  state->set_rebuild_generation(std::max(state->generation(), state->rebuild_generation()) + 1);
  state->set_rebuild_cursor(0);
  state->set_rebuild_agreement_version(agreement_version);
  state->set_rebuild_catalog_epoch(catalog_epoch);
}

// Checks an untrusted page of member `ags` requested after `after`.
// Errors: FailedPrecondition when paging does not advance; InvalidArgument
// for an entry of another holder or a sequence outside the page.
absl::Status CheckPage(const std::string& ags, uint64_t after,
                       const federation::v1::GetCatalogResponse& page) {
  if (page.more() && page.next_sequence() <= after) {
    return absl::FailedPreconditionError(
        absl::StrCat("paging did not advance at sequence ", after));
  }
  auto outside = [&](uint64_t seq) { return seq <= after || seq > page.next_sequence(); };
  for (const auto& e : page.entries()) {
    if (e.ags() != ags) {
      return absl::InvalidArgumentError(
          absl::StrCat("the page after sequence ", after, " holds an entry of member ", e.ags()));
    }
    if (outside(e.change_seq())) {
      return absl::InvalidArgumentError(absl::StrCat("the page after sequence ", after,
                                                     " holds entry ", e.dataset_id(),
                                                     " of sequence ", e.change_seq()));
    }
  }
  for (const auto& r : page.removed()) {
    if (outside(r.change_seq())) {
      return absl::InvalidArgumentError(absl::StrCat("the page after sequence ", after, " removes ",
                                                     r.dataset_id(), " at sequence ",
                                                     r.change_seq()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<federation::v1::GetCatalogResponse> GrpcCatalogPager::GetPage(
    const std::string& ags, uint64_t after_sequence, uint32_t page_size) {
  FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<federation::v1::FederationService::Stub> stub,
                           channels_->Stub(ags));
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
  federation::v1::GetCatalogRequest request;
  request.set_after_sequence(after_sequence);
  request.set_page_size(page_size);
  federation::v1::GetCatalogResponse response;
  const absl::Time start = absl::Now();
  grpc::Status s = stub->GetCatalog(&call, request, &response);
  channels_->Record(ags, s, response.agreement_version(), absl::Now() - start);
  if (!s.ok()) return FromGrpcStatus(s, absl::StrCat("member ", ags));
  return response;
}

std::vector<HarvestMember> HarvestMembers(const agreement::v1::Agreement& agreement,
                                          const std::string& own_ags) {
  std::vector<HarvestMember> out;
  for (const auto& m : agreement.members()) {
    if (m.ags() != own_ags) out.push_back({m.ags(), m.name()});
  }
  return out;
}

CatalogHarvester::CatalogHarvester(storage::DatasetStore* store, CatalogPager* pager,
                                   const Clock* clock, CatalogHarvesterOptions options)
    : store_(store), pager_(pager), clock_(clock), options_(options) {}

std::vector<node::v1::PeerHarvest> CatalogHarvester::HarvestAll(
    const std::vector<HarvestMember>& members) {
  std::vector<node::v1::PeerHarvest> out(members.size());
  if (members.size() == 1) {
    out[0] = Harvest(members[0]);
    return out;
  }
  std::vector<std::thread> threads;
  threads.reserve(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    threads.emplace_back([this, &members, &out, i] { out[i] = Harvest(members[i]); });
  }
  for (std::thread& t : threads) t.join();
  return out;
}

absl::Mutex* CatalogHarvester::MemberLock(const std::string& ags) {
  absl::MutexLock lock(&locks_mu_);
  std::unique_ptr<absl::Mutex>& m = member_locks_[ags];
  if (m == nullptr) m = std::make_unique<absl::Mutex>();
  return m.get();
}

absl::StatusOr<PeerHarvestState> CatalogHarvester::LoadState(const std::string& ags) {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> stored, store_->GetHarvestState(ags));
  PeerHarvestState state;
  if (stored.has_value() && !state.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat("harvest state of member ", ags, " is corrupt"));
  }
  state.set_ags(ags);
  return state;
}

absl::Status CatalogHarvester::Store(storage::HarvestBatch batch, const PeerHarvestState& state) {
  batch.peer_ags = state.ags();
  batch.state = state.SerializeAsString();
  return store_->WriteHarvest(batch);
}

node::v1::PeerHarvest CatalogHarvester::Harvest(const HarvestMember& member) {
  absl::MutexLock lock(MemberLock(member.ags));
  node::v1::PeerHarvest run;
  absl::StatusOr<PeerHarvestState> state = LoadState(member.ags);
  absl::Status pulled = state.ok() ? Pull(member.ags, &*state, &run) : absl::OkStatus();
  if (!pulled.ok() && !absl::IsCancelled(pulled)) {
    // Record the error on the state as stored (every stored page is kept).
    state = LoadState(member.ags);
    if (state.ok()) {
      state->set_error(std::string(pulled.message()));
      absl::Status kept = Store(storage::HarvestBatch(), *state);
      if (!kept.ok()) state = kept;
    }
  }
  node::v1::PeerHarvest report = Report(member, state);
  report.set_entries(run.entries());
  report.set_removed(run.removed());
  report.set_pages(run.pages());
  report.set_full(run.full());
  if (absl::IsCancelled(pulled)) {
    report.set_state("error");
    report.set_detail(std::string(pulled.message()));
  }
  return report;
}

absl::Status CatalogHarvester::Pull(const std::string& ags, PeerHarvestState* state,
                                    node::v1::PeerHarvest* report) {
  if (state->generation() == 0 && state->rebuild_generation() == 0) {
    // The first harvest fills generation 1 directly: there is nothing to keep.
    state->set_generation(1);
    state->set_cursor(0);
    report->set_full(true);
  }
  bool adopt_version = state->cursor() == 0 && state->rebuild_generation() == 0;
  for (;;) {
    if (stopped_) return absl::CancelledError("harvest stopped: the node is shutting down");
    const bool rebuilding = state->rebuild_generation() != 0;
    const uint64_t after = rebuilding ? state->rebuild_cursor() : state->cursor();
    if (report->pages() >= options_.max_pages) {
      return absl::FailedPreconditionError(absl::StrCat(
          "paging did not end within ", options_.max_pages, " pages, at sequence ", after));
    }
    absl::StatusOr<federation::v1::GetCatalogResponse> page =
        pager_->GetPage(ags, after, options_.page_size);
    report->set_pages(report->pages() + 1);
    if (!page.ok()) {
      return absl::Status(page.status().code(), absl::StrCat("page after sequence ", after, ": ",
                                                             page.status().message()));
    }
    if (adopt_version) {
      // Nothing harvested yet: the member's version is the basis.
      state->set_agreement_version(page->agreement_version());
      state->set_catalog_epoch(page->catalog_epoch());
      adopt_version = false;
    }
    storage::HarvestBatch batch;
    const uint64_t basis =
        rebuilding ? state->rebuild_agreement_version() : state->agreement_version();
    const std::string& basis_epoch =
        rebuilding ? state->rebuild_catalog_epoch() : state->catalog_epoch();
    const bool went_back = !page->more() && page->next_sequence() < after;
    if (page->agreement_version() != basis || went_back || page->catalog_epoch() != basis_epoch) {
      StartRebuild(page->agreement_version(), page->catalog_epoch(), state, &batch);
      report->set_full(true);
      FEDNODE_RETURN_IF_ERROR(Store(std::move(batch), *state));
      continue;
    }
    FEDNODE_RETURN_IF_ERROR(CheckPage(ags, after, *page));

    // The latest change of each dataset in this page decides.
    std::map<std::string, std::pair<uint64_t, const catalog::v1::CatalogEntry*>> latest;
    for (const auto& e : page->entries()) {
      auto& slot = latest[e.dataset_id()];
      if (e.change_seq() >= slot.first) slot = {e.change_seq(), &e};
    }
    for (const auto& r : page->removed()) {
      auto& slot = latest[r.dataset_id()];
      if (r.change_seq() >= slot.first) slot = {r.change_seq(), nullptr};
    }
    const uint64_t generation = rebuilding ? state->rebuild_generation() : state->generation();
    const google::protobuf::Timestamp now = ToProto(clock_->Now());
    for (const auto& [id, change] : latest) {
      if (change.second == nullptr) {
        batch.deletes.push_back({generation, id, ""});
        continue;
      }
      catalog::v1::HarvestedEntry h;
      *h.mutable_entry() = *change.second;
      *h.mutable_harvested() = now;
      batch.puts.push_back({generation, id, h.SerializeAsString()});
    }
    report->set_entries(report->entries() + page->entries_size());
    report->set_removed(report->removed() + page->removed_size());
    const uint64_t next = std::max(after, page->next_sequence());
    if (rebuilding) {
      state->set_rebuild_cursor(next);
    } else {
      state->set_cursor(next);
    }
    if (!page->more()) {
      if (rebuilding) {
        batch.drop_generations.push_back(state->generation());
        state->set_generation(state->rebuild_generation());
        state->set_cursor(state->rebuild_cursor());
        state->set_agreement_version(state->rebuild_agreement_version());
        state->set_catalog_epoch(state->rebuild_catalog_epoch());
        state->clear_rebuild_catalog_epoch();
        state->clear_rebuild_generation();
        state->clear_rebuild_cursor();
        state->clear_rebuild_agreement_version();
      }
      *state->mutable_last_success() = now;
      state->clear_error();
    }
    FEDNODE_RETURN_IF_ERROR(Store(std::move(batch), *state));
    if (!page->more()) return absl::OkStatus();
  }
}

node::v1::PeerHarvest CatalogHarvester::Report(const HarvestMember& member,
                                               const absl::StatusOr<PeerHarvestState>& state) {
  node::v1::PeerHarvest report;
  report.set_ags(member.ags);
  report.set_name(member.name);
  if (!state.ok()) {
    report.set_state("error");
    report.set_detail(std::string(state.status().message()));
    return report;
  }
  const bool succeeded = state->has_last_success();
  report.set_state(!state->error().empty() ? "error" : succeeded ? "ok" : "never");
  report.set_detail(state->error());
  report.set_cursor(state->cursor());
  if (succeeded) {
    report.set_last_success(agreement::FormatRfc3339(FromProto(state->last_success())));
  }
  if (state->generation() != 0) {
    absl::StatusOr<std::vector<std::string>> held =
        store_->ReadHarvested(state->ags(), state->generation());
    if (held.ok()) report.set_entries_held(held->size());
  }
  return report;
}

node::v1::PeerHarvest CatalogHarvester::Describe(const HarvestMember& member) {
  return Report(member, LoadState(member.ags));
}

absl::StatusOr<std::vector<catalog::v1::HarvestedEntry>> CatalogHarvester::Entries(
    const std::string& ags) {
  FEDNODE_ASSIGN_OR_RETURN(PeerHarvestState state, LoadState(ags));
  std::vector<catalog::v1::HarvestedEntry> out;
  if (state.generation() == 0) return out;
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> values,
                           store_->ReadHarvested(ags, state.generation()));
  out.reserve(values.size());
  for (const std::string& v : values) {
    catalog::v1::HarvestedEntry h;
    if (!h.ParseFromString(v)) {
      return absl::DataLossError(absl::StrCat("a harvested entry of member ", ags, " is corrupt"));
    }
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace fednode::server
