// NodeServer: the composition root. Opens the store, builds the Node and
// serves the admin API (with gRPC health checking and server reflection) on
// the local Unix socket. Only this file constructs concrete implementations.
//
// Thread-safety: Create/Wait/Shutdown from one owning thread; the services
// run on gRPC's threads.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/server.h"

#include "node/base/clock.h"
#include "node/server/admin_service.h"
#include "node/server/node.h"
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

class NodeServer {
 public:
  // Opens the data directory and starts serving. The admin socket is
  // created with mode 0600 (the file permission is the admin API's
  // authorization); a stale socket file left by a killed node is replaced.
  // Errors: FailedPrecondition when the data directory is in use by another
  // process or belongs to another member; Unavailable when the socket cannot
  // be bound; storage errors from DatasetStore::Open.
  static absl::StatusOr<std::unique_ptr<NodeServer>> Create(const NodeServerOptions& options);

  ~NodeServer();
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // Stops accepting calls, lets calls in flight finish until `grace` has
  // passed (then cancels them), and closes the store.
  void Shutdown(absl::Duration grace);

  Node* node() { return node_.get(); }
  const std::string& admin_socket() const { return admin_socket_; }

 private:
  NodeServer() = default;

  std::unique_ptr<Node> node_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::unique_ptr<grpc::Server> admin_server_;
  std::string admin_socket_;
  bool shut_down_ = false;
};

}  // namespace fednode::server
