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
#include <string>

#include "absl/strings/string_view.h"
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
  // "unauthenticated" when no member was identified; `code` the gRPC status
  // code's name (e.g. "OK", "PERMISSION_DENIED"); `latency` from the
  // handler's start to its answer.
  void RecordFederationCall(absl::string_view peer, FederationMethod method, absl::string_view code,
                            absl::Duration latency);
  // Rows a query read from storage and returned to its caller.
  void RecordQueryRows(QueryApi api, uint64_t scanned, uint64_t returned);
  // One import: rows stored (0 when it failed) and whether it failed.
  void RecordImport(uint64_t rows, bool failed);

  metrics::Registry* registry() { return registry_; }

 private:
  void Collect(const MetricSources& sources);

  metrics::Registry* registry_;
  metrics::Family<metrics::Counter>* requests_;
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
