// NodeServer: the composition root. Opens the store and the audit log,
// builds the Node and the FederationHost, serves the admin API (with gRPC
// health checking and server reflection) on the local Unix socket, and — once
// an agreement is installed and the config has a federation block — the
// federation API on its TCP port with mutual TLS. Only this file constructs
// concrete implementations.
//
// Thread-safety: Create/Shutdown from one owning thread; ReloadCredentials
// and the services from any thread.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"

#include "node/audit/audit_log.h"
#include "node/base/clock.h"
#include "node/base/metrics.h"
#include "node/server/admin_service.h"
#include "node/server/catalog_harvester.h"
#include "node/server/federation_host.h"
#include "node/server/federation_server.h"
#include "node/server/federation_service.h"
#include "node/server/node.h"
#include "node/server/node_metrics.h"
#include "node/server/peer_channels.h"
#include "node/server/status_http.h"
#include "proto/config/v1/node_config.pb.h"

namespace fednode::server {

struct NodeServerOptions {
  // Validated config with defaults applied (LoadConfig). Required.
  config::v1::NodeConfig config;
  // Domain clock. Default SystemClock::Get(); must outlive the server.
  const Clock* clock = nullptr;
  // fsync every commit (see DatasetStoreOptions). Default true.
  bool sync_commits = true;
};

// Largest request the admin socket accepts, bytes: an import chunk (1 MiB)
// with room to spare, or a SQL statement (fedctl checks it before sending).
inline constexpr int kAdminMaxRequestBytes = 4 << 20;

class NodeServer {
 public:
  // Opens the data directory and starts serving. The admin socket is
  // created with mode 0600 (the file permission is the admin API's
  // authorization); a stale socket file left by a killed node is replaced.
  // With an installed agreement and a federation block, the node's own
  // credentials must verify: it refuses to start when its chain is
  // incomplete, its key does not match or the agreement has no trust anchor.
  // With an `http` block, the HTTP status port (status_http.h) opens too.
  // Errors: FailedPrecondition for those and when the data directory is in
  // use by another process or belongs to another member; Unavailable when a
  // port (federation or http, naming its address) or the socket cannot be
  // bound; storage errors from Open.
  static absl::StatusOr<std::unique_ptr<NodeServer>> Create(const NodeServerOptions& options);

  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // Stops accepting calls, lets calls in flight finish until `grace` has
  // passed (then cancels them), closes the audit log and the store.
  void Shutdown(absl::Duration grace);

  // Re-reads the TLS files (SIGHUP); the old credentials stay on error.
  absl::Status ReloadCredentials();

  // Reads federation.agreement_file (at start and on SIGHUP) and installs it
  // when it is a valid newer version (FederationHost::UpdateFromFile),
  // opening the federation port if it was closed. Logs INFO when installed
  // or ignored (older or equal version), WARNING naming the reason when
  // refused; the agreement in force stays then. An install or refusal is
  // audited (operation "node.AgreementFile"). OK without the config field.
  // Errors: as UpdateFromFile.
  absl::Status ReloadAgreementFile();

  Node* node() { return node_.get(); }
  const std::string& admin_socket() const { return admin_socket_; }
  // "host:port" of the federation port, empty when closed.
  std::string federation_address() const;
  // "host:port" of the HTTP status port (config block `http`), empty when off.
  std::string http_address() const { return http_ != nullptr ? http_->address() : ""; }
  // The node's metrics (rendered at the HTTP port's /metrics).
  metrics::Registry* metrics_registry() { return &registry_; }

 private:
  NodeServer() = default;
  absl::StatusOr<std::string> StartFederation();
  void WatchCredentials(absl::Duration interval);
  // Harvests the members' catalogs every `interval` until shutdown.
  void HarvestCatalogs(absl::Duration interval);
  // Applies audit.retention_days at once and then every `interval` until
  // shutdown.
  void ApplyRetention(absl::Duration interval);
  // After a restore (backup.h), appends the audit entry naming the backup
  // and clears the mark.
  absl::Status AuditRestore();

  config::v1::NodeConfig config_;
  // Declared first: destroyed last, after everything that records into it.
  metrics::Registry registry_;
  std::unique_ptr<NodeMetrics> metrics_;
  std::unique_ptr<Node> node_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<FederationHost> federation_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<FederationServiceImpl> federation_service_;
  std::unique_ptr<PeerChannels> peers_;
  std::unique_ptr<GrpcCatalogPager> pager_;
  std::unique_ptr<CatalogHarvester> harvester_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::string admin_socket_;
  std::unique_ptr<StatusHttpServer> http_;

  mutable absl::Mutex mu_;
  std::unique_ptr<FederationServer> federation_server_ ABSL_GUARDED_BY(mu_);
  std::string federation_address_ ABSL_GUARDED_BY(mu_);

  // Stops the credential watcher and the catalog harvester threads.
  absl::Notification stop_watcher_;
  std::thread watcher_;
  std::thread harvest_thread_;
  std::thread retention_thread_;
  bool shut_down_ = false;
};

}  // namespace fednode::server
