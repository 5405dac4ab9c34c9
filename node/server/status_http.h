// StatusHttpServer: the node's local HTTP port for the operator (config
// block `http`), served by cpp-httplib on its own small thread pool:
//
//   GET /metrics          Prometheus text exposition format 0.0.4
//   GET /                 the read-only status page (HTML; script and style
//   GET /status.js        are separate routes so that the Content-Security-
//   GET /status.css       Policy can forbid inline script)
//   GET /favicon.ico      204 (there is none)
//   GET /api/status       node and agreement state   (admin: GetStatus, GetAgreement)
//   GET /api/peers        peers' recorded health and catalog harvest state
//                         (admin: ListPeers without its pings, catalog --federation)
//   GET /api/catalog      the node's own catalog      (admin: ListCatalog)
//   GET /api/audit?limit=N  the last N audit entries, 1..500, default 20
//                         (admin: ReadAudit with tail)
//   GET /api/statistics   the county's latest regional statistic as fedctl
//                         aggregate printed it ({} when there is none)
//
// Everything is read-only and shows what the admin socket shows the same
// operator, never keys or PEM text; no request makes a network call to a
// peer. Reads are not audited (as GetStatus and ReadAudit on the admin
// socket are not): polling would fill the log. Any method but GET and HEAD
// gets 405; an unknown path 404. Requests whose Host header is not the
// loopback address the port is bound to get 403 unless allow_remote (DNS
// rebinding: a web page must not read the node through the operator's
// browser).
//
// Layer: node/server; NodeServer starts and stops it.
// Thread-safety: Start/Stop from the owning thread; handlers run on the
// pool and only read through the sources' own thread-safe APIs.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

#include "node/audit/audit_log.h"
#include "node/base/metrics.h"
#include "node/server/admin_service.h"
#include "node/server/catalog_harvester.h"
#include "node/server/federation_host.h"
#include "node/server/node.h"
#include "node/server/peer_channels.h"
#include "proto/config/v1/node_config.pb.h"

namespace httplib {
class Server;
}

namespace fednode::server {

// What the routes read. All must outlive the server; federation, peers,
// harvester and audit may be null (then that part is empty).
struct StatusSources {
  Node* node = nullptr;
  // For the agreement's description (AdminServiceImpl::DescribeAgreement).
  AdminServiceImpl* admin = nullptr;
  FederationHost* federation = nullptr;
  PeerChannels* peers = nullptr;
  CatalogHarvester* harvester = nullptr;
  audit::AuditLog* audit = nullptr;
  metrics::Registry* registry = nullptr;
};

class StatusHttpServer {
 public:
  // Binds `config.listen_address()` (validated: server::Validate) and starts
  // serving on config.threads() threads; writes the bound port to
  // config.port_file() when set.
  // Errors: Unavailable "cannot listen on http.listen_address ADDR" when the
  // address cannot be bound (in use, not local); storage-like errors of
  // writing the port file.
  static absl::StatusOr<std::unique_ptr<StatusHttpServer>> Start(
      const config::v1::HttpConfig& config, StatusSources sources);

  ~StatusHttpServer();
  StatusHttpServer(const StatusHttpServer&) = delete;
  StatusHttpServer& operator=(const StatusHttpServer&) = delete;

  // Stops accepting, lets requests in progress finish and joins the threads.
  // Idempotent.
  void Stop();

  // The bound port (the chosen one for port 0) and "host:port".
  int port() const { return port_; }
  const std::string& address() const { return address_; }

 private:
  StatusHttpServer() = default;
  void Route();

  StatusSources sources_;
  bool allow_remote_ = false;
  std::string host_;
  int port_ = 0;
  std::string address_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
};

}  // namespace fednode::server
