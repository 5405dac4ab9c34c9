// NodeMetrics: the node's metric families (names `fednode_...`, Prometheus
// naming conventions: base units in the name, `_total` for counters) and the
// scrape-time collector of state the node already keeps (storage sizes,
// audit log, credentials, agreement, peer health). Nothing here makes a
// network call: peer health is what the last call to each peer recorded.
//
// Layer: node/server. The federation and admin services record calls; the
// HTTP status port (status_http.h) renders the registry.
// Thread-safety: safe for concurrent use.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "node/audit/audit_log.h"
#include "node/base/metrics.h"
#include "node/server/catalog_harvester.h"
#include "node/server/federation_host.h"
#include "node/server/peer_channels.h"
#include "node/storage/dataset_store.h"

namespace fednode::server {

// The federation API's methods, as the `method` label names them.
enum class FederationMethod { kPing = 0, kGetCatalog, kQuery, kAggregate };

// Which API served a query (the `api` label of the row counters).
enum class QueryApi { kFederation = 0, kAdmin };

// Where the scrape-time collector reads state. Pointers may be null (that
// part is then not exported) and must outlive the NodeMetrics.
struct MetricSources {
  storage::DatasetStore* store = nullptr;
  // The data directory: its filesystem's free bytes are exported.
  std::string data_dir;
  audit::AuditLog* audit = nullptr;
  FederationHost* federation = nullptr;
  PeerChannels* peers = nullptr;
  CatalogHarvester* harvester = nullptr;
};

class NodeMetrics {
 public:
  // Registers every family in `registry` (which must outlive this object).
  explicit NodeMetrics(metrics::Registry* registry);
  NodeMetrics(const NodeMetrics&) = delete;
  NodeMetrics& operator=(const NodeMetrics&) = delete;

  // Adds the scrape-time collector of `sources` to the registry. Call once.
  void CollectFrom(MetricSources sources);

  // One call on the federation port: `peer` is the caller's AGS, or
  // "unauthenticated" when no member was identified; `code` the call's
  // status code (the `code` label is its name, e.g. "OK",
  // "PERMISSION_DENIED"; gRPC's codes are abseil's); `latency` from the
  // handler's start to its answer.
  void RecordFederationCall(absl::string_view peer, FederationMethod method, absl::StatusCode code,
                            absl::Duration latency);
  // Rows a query read from storage and returned to its caller.
  void RecordQueryRows(QueryApi api, uint64_t scanned, uint64_t returned);
  // One import: rows stored (0 when it failed) and whether it failed.
  void RecordImport(uint64_t rows, bool failed);

  metrics::Registry* registry() { return registry_; }

 private:
  void Collect(const MetricSources& sources);

  // The request counters of one caller, by method and gRPC code (0..16),
  // created on the caller's first call: a call then costs one reader lock
  // and one hash of the AGS, no allocation. Callers are the agreement's
  // members and "unauthenticated", so the map stays small.
  // Cells start null (C++20 value-initialises atomics) and are filled on
  // the first call with that method and code.
  using CallerCounters = std::array<std::array<std::atomic<metrics::Counter*>, 17>, 4>;
  CallerCounters& CountersOf(absl::string_view peer);

  metrics::Registry* registry_;
  metrics::Family<metrics::Counter>* requests_;
  absl::Mutex callers_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<CallerCounters>> callers_
      ABSL_GUARDED_BY(callers_mu_);
  std::array<metrics::Histogram*, 4> latency_{};      // by FederationMethod
  std::array<metrics::Counter*, 2> rows_scanned_{};   // by QueryApi
  std::array<metrics::Counter*, 2> rows_returned_{};  // by QueryApi
  metrics::Counter* import_rows_;
  metrics::Counter* imports_failed_;
  metrics::Gauge* audit_entries_;
  metrics::Gauge* audit_bytes_;
  metrics::Gauge* live_sst_bytes_;
  metrics::Gauge* write_stopped_;
  metrics::Gauge* delayed_write_rate_;
  metrics::Gauge* free_bytes_;
  metrics::Family<metrics::Gauge>* certificate_expiry_;
  metrics::Family<metrics::Gauge>* agreement_expiry_;
  metrics::Family<metrics::Gauge>* peer_up_;
  metrics::Family<metrics::Gauge>* peer_last_contact_;
  metrics::Family<metrics::Gauge>* peer_harvest_ok_;
};

// The `method` label of `m` ("Ping", "GetCatalog", "Query", "Aggregate").
absl::string_view FederationMethodName(FederationMethod m);

}  // namespace fednode::server
