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

#include "node/server/node.h"
#include "proto/node/v1/admin.grpc.pb.h"

namespace fednode::server {

// Rows per streamed QueryResponse; with the byte bound below it keeps every
// message far under gRPC's 4 MiB default limit.
inline constexpr int kMaxRowsPerMessage = 4096;
inline constexpr size_t kMaxBytesPerMessage = size_t{1} << 20;

class AdminServiceImpl final : public node::v1::AdminService::Service {
 public:
  // `node` must outlive this service.
  explicit AdminServiceImpl(Node* node) : node_(node) {}

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

 private:
  Node* node_;
};

}  // namespace fednode::server
