// FederationService: the gRPC adapter of the federation port. For each call:
// authenticate the caller from its TLS certificate (FederationHost), check
// the agreement is in force, decide with federation/policy BEFORE anything
// is looked up, run the query on the node, audit the outcome durably, then
// answer. Refusals carry the reason; every one is audited.
//
// Safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>

#include "node/server/call_stop.h"
#include "node/server/federation_host.h"
#include "node/server/node.h"
#include "node/server/node_metrics.h"
#include "proto/audit/v1/audit.pb.h"
#include "proto/federation/v1/federation.grpc.pb.h"

namespace fednode::server {

class FederationServiceImpl final : public federation::v1::FederationService::Service {
 public:
  // `node`, `host` and `metrics` (optional: null records nothing) must
  // outlive the service.
  FederationServiceImpl(Node* node, FederationHost* host, NodeMetrics* metrics = nullptr)
      : node_(node), host_(host), metrics_(metrics) {}

  grpc::Status Ping(grpc::ServerContext* context, const federation::v1::PingRequest* request,
                    federation::v1::PingResponse* response) override;
  grpc::Status GetCatalog(grpc::ServerContext* context,
                          const federation::v1::GetCatalogRequest* request,
                          federation::v1::GetCatalogResponse* response) override;
  grpc::Status Query(grpc::ServerContext* context, const federation::v1::QueryRequest* request,
                     grpc::ServerWriter<federation::v1::QueryResponse>* writer) override;
  grpc::Status Aggregate(grpc::ServerContext* context,
                         const federation::v1::AggregateRequest* request,
                         federation::v1::AggregateResponse* response) override;

 private:
  // Authenticated caller plus the agreement it was judged under.
  struct Caller {
    identity::Member member;
    std::shared_ptr<const agreement::v1::SignedAgreement> agreement;
    std::string request_id;
    std::string peer;
  };
  // Authenticates the caller; `*peer` becomes its AGS once known (metrics).
  absl::StatusOr<Caller> Authenticate(grpc::ServerContext* context, const std::string& operation,
                                      std::string* peer);

  // The handlers; `*peer` as for Authenticate.
  grpc::Status ServePing(grpc::ServerContext* context, federation::v1::PingResponse* response,
                         std::string* peer);
  grpc::Status ServeGetCatalog(grpc::ServerContext* context,
                               const federation::v1::GetCatalogRequest* request,
                               federation::v1::GetCatalogResponse* response, std::string* peer);
  grpc::Status ServeQuery(grpc::ServerContext* context, const federation::v1::QueryRequest* request,
                          grpc::ServerWriter<federation::v1::QueryResponse>* writer,
                          std::string* peer);
  grpc::Status ServeAggregate(grpc::ServerContext* context,
                              const federation::v1::AggregateRequest* request,
                              federation::v1::AggregateResponse* response, std::string* peer);
  // Runs `serve(&peer)` and records the call (caller, method, code, latency).
  template <typename F>
  grpc::Status Observed(FederationMethod method, F serve);

  // Runs the allowed row query `run` and streams its rows to the caller
  // (RowStream), audited under `e` (the query's entry without decision):
  // a result that fits in one message gets one ALLOW entry "<grant>" with
  // its exact rows and cells before it is sent; a larger one an ALLOW entry
  // "<grant>; streaming" before its first message and "<grant>; streamed N
  // rows" with the counts before its last. A query error gets an ERROR
  // entry (StreamStopped when the caller went away). `stop` stops the scan
  // for the call's deadline or cancellation. With `column_batches` the rows
  // go out as QueryResponse.batch, one batch per message.
  grpc::Status StreamRows(grpc::ServerContext* context,
                          grpc::ServerWriter<federation::v1::QueryResponse>* writer,
                          const node::v1::QueryRequest& run, CallStop* stop,
                          federation::v1::QueryResponse head, const audit::v1::AuditEntry& e,
                          const std::string& grant, bool column_batches);
  // Audits (ERROR, "stream stopped by the caller after <sent> rows") that the
  // caller of the query audited under `query_entry` went away after `sent`
  // rows; returns CANCELLED, or the audit log's error.
  grpc::Status StreamStopped(const audit::v1::AuditEntry& query_entry, uint64_t sent);

  Node* node_;
  FederationHost* host_;
  NodeMetrics* metrics_;
};

}  // namespace fednode::server
