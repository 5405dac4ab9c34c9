#include "node/server/node_metrics.h"

#include <sys/statvfs.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "federation/agreement/agreement.h"

namespace fednode::server {
namespace {

// Latency buckets of federation calls, seconds: a Ping on loopback takes
// about 0.5 ms, a catalog page a few ms, a scan of 21,000 rows tens of ms,
// and a statistic's partial aggregate must come within the county's 30 s
// deadline.
const std::vector<double>& LatencyBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  return *buckets;
}

constexpr absl::string_view kApiNames[] = {"federation", "admin"};

}  // namespace

absl::string_view FederationMethodName(FederationMethod m) {
  switch (m) {
    case FederationMethod::kPing:
      return "Ping";
    case FederationMethod::kGetCatalog:
      return "GetCatalog";
    case FederationMethod::kQuery:
      return "Query";
    case FederationMethod::kAggregate:
      return "Aggregate";
  }
  return "unknown";
}

NodeMetrics::NodeMetrics(metrics::Registry* registry) : registry_(registry) {
  requests_ = registry->AddCounter("fednode_federation_requests_total",
                                   "Calls on the federation port by calling member (AGS, or "
                                   "\"unauthenticated\"), method and gRPC status code.",
                                   {"peer", "method", "code"});
  auto* latency = registry->AddHistogram(
      "fednode_federation_request_duration_seconds",
      "Time from a federation call's arrival at its handler to its answer, by method.", {"method"},
      LatencyBuckets());
  for (int m = 0; m < 4; ++m) {
    latency_[m] =
        latency->WithLabels({std::string(FederationMethodName(static_cast<FederationMethod>(m)))});
  }
  auto* scanned = registry->AddCounter(
      "fednode_query_rows_scanned_total",
      "Rows read from storage by queries, by API (federation: members' calls; admin: fedctl).",
      {"api"});
  auto* returned = registry->AddCounter(
      "fednode_query_rows_returned_total",
      "Rows (or groups) returned by queries after policy and suppression, by API.", {"api"});
  for (int a = 0; a < 2; ++a) {
    rows_scanned_[a] = scanned->WithLabels({std::string(kApiNames[a])});
    rows_returned_[a] = returned->WithLabels({std::string(kApiNames[a])});
  }
  import_rows_ =
      registry->AddCounter("fednode_import_rows_total", "Rows stored by successful imports.")
          ->Get();
  imports_failed_ = registry
                        ->AddCounter("fednode_import_errors_total",
                                     "Imports refused or failed (nothing of them was stored).")
                        ->Get();
  audit_entries_ =
      registry->AddGauge("fednode_audit_log_entries", "Entries in the audit log.")->Get();
  audit_bytes_ = registry
                     ->AddGauge("fednode_audit_log_bytes",
                                "Size of the audit log in the database (table files and "
                                "memtables of its column family).")
                     ->Get();
  live_sst_bytes_ = registry
                        ->AddGauge("fednode_rocksdb_live_sst_bytes",
                                   "Size of the database's live table files (all column families).")
                        ->Get();
  write_stopped_ = registry
                       ->AddGauge("fednode_rocksdb_write_stopped",
                                  "1 while RocksDB stops writes (write stall), else 0.")
                       ->Get();
  delayed_write_rate_ =
      registry
          ->AddGauge("fednode_rocksdb_delayed_write_rate_bytes_per_second",
                     "The rate RocksDB slows writes to during a write stall; 0 when not delayed.")
          ->Get();
  free_bytes_ = registry
                    ->AddGauge("fednode_data_dir_free_bytes",
                               "Bytes available to the node on the data directory's filesystem.")
                    ->Get();
  certificate_expiry_ = registry->AddGauge(
      "fednode_certificate_expiry_seconds",
      "Seconds until the node's own federation certificate expires (negative: expired).");
  agreement_expiry_ = registry->AddGauge(
      "fednode_agreement_expiry_seconds",
      "Seconds until the agreement in force ends (valid_until; negative: ended).");
  peer_up_ = registry->AddGauge(
      "fednode_peer_up",
      "1 when the last call to the member succeeded, 0 when it failed; absent before the first "
      "call. No call is made for the metric.",
      {"peer"});
  peer_last_contact_ =
      registry->AddGauge("fednode_peer_last_contact_timestamp_seconds",
                         "Unix time of the last call to the member, answered or not.", {"peer"});
  peer_harvest_ok_ = registry->AddGauge(
      "fednode_peer_catalog_harvest_ok",
      "1 when the last harvest of the member's catalog succeeded, 0 when it failed; absent "
      "before the first.",
      {"peer"});
}

NodeMetrics::CallerCounters& NodeMetrics::CountersOf(absl::string_view peer) {
  {
    absl::ReaderMutexLock lock(&callers_mu_);
    auto it = callers_.find(peer);
    if (it != callers_.end()) return *it->second;
  }
  absl::MutexLock lock(&callers_mu_);
  std::unique_ptr<CallerCounters>& counters = callers_[peer];
  if (counters == nullptr) counters = std::make_unique<CallerCounters>();
  return *counters;
}

void NodeMetrics::RecordFederationCall(absl::string_view peer, FederationMethod method,
                                       absl::StatusCode code, absl::Duration latency) {
  const int m = static_cast<int>(method);
  const int c = static_cast<int>(code);
  if (c >= 0 && c < 17) {
    std::atomic<metrics::Counter*>& cell = CountersOf(peer)[m][c];
    metrics::Counter* counter = cell.load(std::memory_order_acquire);
    if (counter == nullptr) {
      // A series appears on /metrics once it counted a call. Two first
      // calls at once store the same pointer (WithLabels is idempotent).
      counter = requests_->WithLabels({std::string(peer), std::string(FederationMethodName(method)),
                                       absl::StatusCodeToString(code)});
      cell.store(counter, std::memory_order_release);
    }
    counter->Increment();
  }
  latency_[m]->Observe(absl::ToDoubleSeconds(latency));
}

void NodeMetrics::RecordQueryRows(QueryApi api, uint64_t scanned, uint64_t returned) {
  rows_scanned_[static_cast<int>(api)]->Increment(scanned);
  rows_returned_[static_cast<int>(api)]->Increment(returned);
}

void NodeMetrics::RecordImport(uint64_t rows, bool failed) {
  if (failed) {
    imports_failed_->Increment();
  } else {
    import_rows_->Increment(rows);
  }
}

void NodeMetrics::CollectFrom(MetricSources sources) {
  registry_->AddCollectHook([this, sources = std::move(sources)] { Collect(sources); });
}

void NodeMetrics::Collect(const MetricSources& s) {
  const absl::Time now = absl::Now();
  if (s.store != nullptr) {
    const storage::DatasetStore::Stats stats = s.store->GetStats();
    live_sst_bytes_->Set(static_cast<double>(stats.live_sst_bytes));
    audit_bytes_->Set(static_cast<double>(stats.audit_bytes));
    write_stopped_->Set(stats.write_stopped ? 1 : 0);
    delayed_write_rate_->Set(static_cast<double>(stats.delayed_write_rate));
  }
  struct statvfs fs {};
  if (!s.data_dir.empty() && ::statvfs(s.data_dir.c_str(), &fs) == 0) {
    free_bytes_->Set(static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize));
  }
  if (s.audit != nullptr) audit_entries_->Set(static_cast<double>(s.audit->last_seq()));

  certificate_expiry_->Clear();
  agreement_expiry_->Clear();
  peer_up_->Clear();
  peer_last_contact_->Clear();
  peer_harvest_ok_->Clear();
  if (s.federation == nullptr) return;
  if (s.federation->stager() != nullptr) {
    const identity::OwnCredentials own = s.federation->stager()->current();
    if (!own.cert_pem.empty()) {
      certificate_expiry_->Get()->Set(absl::ToDoubleSeconds(own.not_after - now));
    }
  }
  auto signed_agreement = s.federation->agreement();
  if (signed_agreement == nullptr) return;
  const agreement::v1::Agreement& a = signed_agreement->agreement();
  absl::StatusOr<absl::Time> until = agreement::ParseRfc3339(a.valid_until(), "valid_until");
  if (until.ok()) agreement_expiry_->Get()->Set(absl::ToDoubleSeconds(*until - now));
  if (s.peers != nullptr) {
    for (const node::v1::PeerHealth& h : s.peers->Recorded(a)) {
      if (h.state() == "unknown") continue;
      peer_up_->WithLabels({h.ags()})->Set(h.state() == "ok" ? 1 : 0);
      absl::StatusOr<absl::Time> last = agreement::ParseRfc3339(h.last_contact(), "last_contact");
      if (last.ok()) peer_last_contact_->WithLabels({h.ags()})->Set(absl::ToUnixSeconds(*last));
    }
  }
  if (s.harvester != nullptr) {
    for (const HarvestMember& m : HarvestMembers(a, s.federation->own_ags())) {
      const node::v1::PeerHarvest p = s.harvester->Describe(m);
      if (p.state() == "never") continue;
      peer_harvest_ok_->WithLabels({m.ags})->Set(p.state() == "ok" ? 1 : 0);
    }
  }
}

}  // namespace fednode::server
