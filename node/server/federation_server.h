// FederationServer: the federation port (mutual TLS) on gRPC's
// completion-queue ("async") server API, driving FederationServiceImpl.
//
// Threads:
//   - `cq_threads` completion-queue threads, each polling its own queue.
//     They authenticate every call, decide it, and answer the short ones
//     themselves: Ping, row queries over datasets of at most
//     kInlineScanRows rows whose answer fits in one message, and Aggregate
//     over datasets of at most kInlineScanRows rows. Such an answer
//     leaves only once its audit entry is durable, but the thread does not
//     wait for that: the audit log's writer thread sends it
//     (FederationServiceImpl::DeliverAsync), so one fsync covers the
//     entries of many calls and no thread sits in a futex per call.
//   - `workers` worker threads for calls that scan or stream: larger row
//     queries, aggregate queries, Aggregate over larger datasets, and
//     GetCatalog. They write
//     streamed messages one at a time and wait for gRPC to take each
//     (backpressure), and stop a scan when the caller goes away.
// The completion-queue API was chosen over the synchronous one (a thread
// per call from a pool that grew and shrank under load, 3-4 queue
// operations per streamed call) and over the callback API for its lower CPU
// per call (issue 5; docs/BENCHMARKS.md).
//
// Calls waiting for a worker are bounded (max_queued): beyond it a call is
// refused with RESOURCE_EXHAUSTED "node busy" (audited DENY) instead of
// queueing without bound.
//
// Every method is registered raw: requests are parsed here (bytes that do
// not parse are refused with INVALID_ARGUMENT, audited DENY; gRPC's typed
// API cancels such a call itself, unaudited) and each answer is serialized
// once into the bytes gRPC sends (SerializeToByteBuffer,
// node/base/wire_buffer.h); gRPC's typed writer sized every message twice.
//
// Layer: node/server. Thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

#include "node/server/federation_service.h"

namespace fednode::server {

struct FederationServerOptions {
  // "host:port" to listen on (port 0: any free port).
  std::string listen_address;
  // Mutual TLS (identity::FederationServerCredentials).
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // Completion-queue threads; the node uses one per core, at least 2.
  int cq_threads = 2;
  // Worker threads for scans and streams (config federation.worker_threads).
  int workers = 8;
  // Calls waiting for a worker beyond which new ones are refused (config
  // federation.max_queued_calls).
  int max_queued = 256;
  // Largest request accepted, bytes; default 4 MiB.
  int max_receive_message_size = 4 << 20;
};

class FederationServer {
 public:
  // Listens and starts the threads. `service` must outlive the server.
  // Errors: InvalidArgument for thread counts below 1; Unavailable when the
  // address cannot be bound ("cannot listen on ADDRESS").
  static absl::StatusOr<std::unique_ptr<FederationServer>> Start(
      FederationServiceImpl* service, const FederationServerOptions& options);

  // Shutdown(now).
  ~FederationServer();
  FederationServer(const FederationServer&) = delete;
  FederationServer& operator=(const FederationServer&) = delete;

  // The port listened on.
  int port() const;

  // Stops accepting calls, lets the calls in flight finish until `deadline`
  // (then cancels them: scans stop at their next check), waits until every
  // call has ended (its audit entries written or failed) and joins the
  // threads. Idempotent.
  void Shutdown(std::chrono::system_clock::time_point deadline);

  // The implementation (federation_server.cc); named here for its calls.
  class Impl;

 private:
  explicit FederationServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fednode::server
