// AdminService: the operator's gRPC API (proto/node/v1/admin.proto) over the
// local Unix socket. A thin adapter: proto in, Node call, status mapped at
// the edge, proto out. No business rules here.
//
// Uses gRPC's synchronous API: admin calls are few, and streaming imports and
// query results read naturally as loops; the federation port (issue 4) is
// where per-call CPU matters.
//
// Thread-safety: safe for concurrent use (gRPC calls methods from its pool).
#pragma once

#include <functional>
#include <string>

#include "node/audit/audit_log.h"
#include "node/server/catalog_harvester.h"
#include "node/server/federation_host.h"
#include "node/server/node.h"
#include "node/server/node_metrics.h"
#include "node/server/peer_channels.h"
#include "proto/node/v1/admin.grpc.pb.h"

namespace fednode::server {

// Rows per streamed QueryResponse; with the byte bound below it keeps every
// message far under gRPC's 4 MiB default limit.
inline constexpr int kMaxRowsPerMessage = 4096;
inline constexpr size_t kMaxBytesPerMessage = size_t{1} << 20;

// What the admin service operates on. All pointers must outlive the service.
struct AdminContext {
  Node* node = nullptr;
  FederationHost* federation = nullptr;
  audit::AuditLog* audit = nullptr;
  PeerChannels* peers = nullptr;
  // Harvests the members' catalogs (federation catalog); null without a
  // federation block.
  CatalogHarvester* harvester = nullptr;
  // Opens the federation port once an agreement and credentials are in
  // place (idempotent); returns the bound address.
  std::function<absl::StatusOr<std::string>()> start_federation;
  // The bound federation address, empty when closed.
  std::function<std::string()> federation_address;
  // Records imports and query rows; null records nothing.
  NodeMetrics* metrics = nullptr;
};

class AdminServiceImpl final : public node::v1::AdminService::Service {
 public:
  explicit AdminServiceImpl(AdminContext context) : ctx_(std::move(context)), node_(ctx_.node) {}

  grpc::Status Import(grpc::ServerContext* context,
                      grpc::ServerReader<node::v1::ImportRequest>* reader,
                      node::v1::ImportResponse* response) override;
  grpc::Status ListCatalog(grpc::ServerContext* context,
                           const node::v1::ListCatalogRequest* request,
                           node::v1::ListCatalogResponse* response) override;
  grpc::Status GetCatalogEntry(grpc::ServerContext* context,
                               const node::v1::GetCatalogEntryRequest* request,
                               catalog::v1::CatalogEntry* response) override;
  grpc::Status SetMetadata(grpc::ServerContext* context,
                           const node::v1::SetMetadataRequest* request,
                           catalog::v1::CatalogEntry* response) override;
  grpc::Status ExportCatalog(grpc::ServerContext* context,
                             const node::v1::ExportCatalogRequest* request,
                             node::v1::ExportCatalogResponse* response) override;
  grpc::Status Query(grpc::ServerContext* context, const node::v1::QueryRequest* request,
                     grpc::ServerWriter<node::v1::QueryResponse>* writer) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context,
                             const node::v1::DeleteDatasetRequest* request,
                             node::v1::DeleteDatasetResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const node::v1::GetStatusRequest* request,
                         node::v1::GetStatusResponse* response) override;
  grpc::Status InstallAgreement(grpc::ServerContext* context,
                                const node::v1::InstallAgreementRequest* request,
                                node::v1::AgreementStatus* response) override;
  grpc::Status UpdateAgreement(grpc::ServerContext* context,
                               const node::v1::UpdateAgreementRequest* request,
                               node::v1::AgreementStatus* response) override;
  grpc::Status GetAgreement(grpc::ServerContext* context,
                            const node::v1::GetAgreementRequest* request,
                            node::v1::AgreementStatus* response) override;
  grpc::Status ReadAudit(grpc::ServerContext* context, const node::v1::AuditReadRequest* request,
                         node::v1::AuditReadResponse* response) override;
  grpc::Status VerifyAudit(grpc::ServerContext* context,
                           const node::v1::AuditVerifyRequest* request,
                           node::v1::AuditVerifyResponse* response) override;
  grpc::Status ArchiveAudit(grpc::ServerContext* context,
                            const node::v1::AuditArchiveRequest* request,
                            node::v1::AuditArchiveResponse* response) override;
  grpc::Status ReloadCredentials(grpc::ServerContext* context,
                                 const node::v1::ReloadCredentialsRequest* request,
                                 node::v1::ReloadCredentialsResponse* response) override;

  grpc::Status QueryPeer(grpc::ServerContext* context, const node::v1::QueryPeerRequest* request,
                         grpc::ServerWriter<node::v1::QueryPeerResponse>* writer) override;
  grpc::Status PingPeer(grpc::ServerContext* context, const node::v1::PingPeerRequest* request,
                        node::v1::PingPeerResponse* response) override;
  grpc::Status ListPeers(grpc::ServerContext* context, const node::v1::ListPeersRequest* request,
                         node::v1::ListPeersResponse* response) override;
  // The county's regional statistic: fans one aggregate out to every member
  // in parallel under one deadline, merges the partial aggregates, applies
  // disclosure control with the agreement's parameters and states coverage.
  grpc::Status AggregateFederation(grpc::ServerContext* context,
                                   const node::v1::AggregateFederationRequest* request,
                                   node::v1::AggregateFederationResponse* response) override;

  // A consistent online backup into request->dir (node/server/backup.h).
  grpc::Status CreateBackup(grpc::ServerContext* context,
                            const node::v1::CreateBackupRequest* request,
                            node::v1::CreateBackupResponse* response) override;
  // Harvests every member's catalog now (waiting for a background harvest
  // in progress first) and reports per member.
  grpc::Status RefreshFederationCatalog(
      grpc::ServerContext* context, const node::v1::RefreshFederationCatalogRequest* request,
      node::v1::RefreshFederationCatalogResponse* response) override;
  // Searches the own entries and the harvested ones of the agreement's
  // members, with what this node's grants allow on each.
  grpc::Status SearchFederationCatalog(
      grpc::ServerContext* context, const node::v1::SearchFederationCatalogRequest* request,
      node::v1::SearchFederationCatalogResponse* response) override;

  // Fills `status` from the agreement in force and the node's credentials.
  void DescribeAgreement(node::v1::AgreementStatus* status);

 private:
  // Appends the audit entry of an admin action (caller "admin") and returns
  // `status` as a gRPC status. When the entry cannot be written, the action's
  // outcome is withheld: RESOURCE_EXHAUSTED when the disk is full, else
  // UNAVAILABLE, both "the audit log cannot record this action: ...".
  // `reason` is recorded for a successful action (an error's reason is its
  // status).
  grpc::Status Audited(const absl::Status& status, const std::string& operation,
                       const std::string& dataset_id, uint64_t rows = 0,
                       const std::string& reason = "");

  AdminContext ctx_;
  Node* node_;
};

}  // namespace fednode::server
