#include "node/server/admin_service.h"

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"

#include "node/base/grpc_status.h"
#include "node/base/log.h"

namespace fednode::server {
namespace {

std::string NextRequestId() {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat("admin-", counter.fetch_add(1) + 1);
}

grpc::Status Edge(const absl::Status& status, absl::string_view method) {
  if (!status.ok()) {
    FEDNODE_LOG(INFO) << "admin " << method << ": " << absl::StatusCodeToString(status.code());
  }
  return ToGrpcStatus(status, NextRequestId());
}

}  // namespace

grpc::Status AdminServiceImpl::Import(grpc::ServerContext* /*context*/,
                                      grpc::ServerReader<node::v1::ImportRequest>* reader,
                                      node::v1::ImportResponse* response) {
  node::v1::ImportRequest request;
  if (!reader->Read(&request) || !request.has_header()) {
    return Edge(absl::InvalidArgumentError("import: the first message must carry the header"),
                "Import");
  }
  node::v1::ImportHeader header = request.header();
  std::string source = std::move(*request.mutable_chunk());
  while (reader->Read(&request)) {
    if (source.size() + request.chunk().size() > kMaxImportBytes) {
      return Edge(absl::ResourceExhaustedError(absl::StrCat("import: source is larger than ",
                                                            kMaxImportBytes >> 20, " MiB")),
                  "Import");
    }
    source.append(request.chunk());
  }
  absl::StatusOr<node::v1::ImportResponse> result = node_->Import(header, source);
  if (!result.ok()) return Edge(result.status(), "Import");
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ListCatalog(grpc::ServerContext* /*context*/,
                                           const node::v1::ListCatalogRequest* request,
                                           node::v1::ListCatalogResponse* response) {
  auto entries = node_->ListCatalog(request->search());
  if (!entries.ok()) return Edge(entries.status(), "ListCatalog");
  for (auto& e : *entries) *response->add_entries() = std::move(e);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::GetCatalogEntry(grpc::ServerContext* /*context*/,
                                               const node::v1::GetCatalogEntryRequest* request,
                                               catalog::v1::CatalogEntry* response) {
  auto entry = node_->GetCatalogEntry(request->dataset_id());
  if (!entry.ok()) return Edge(entry.status(), "GetCatalogEntry");
  *response = std::move(*entry);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::SetMetadata(grpc::ServerContext* /*context*/,
                                           const node::v1::SetMetadataRequest* request,
                                           catalog::v1::CatalogEntry* response) {
  auto entry = node_->SetMetadata(request->dataset_id(), request->metadata());
  if (!entry.ok()) return Edge(entry.status(), "SetMetadata");
  *response = std::move(*entry);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::ExportCatalog(grpc::ServerContext* /*context*/,
                                             const node::v1::ExportCatalogRequest* request,
                                             node::v1::ExportCatalogResponse* response) {
  auto exported = node_->ExportCatalog(request->format());
  if (!exported.ok()) return Edge(exported.status(), "ExportCatalog");
  *response = std::move(*exported);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Query(grpc::ServerContext* context,
                                     const node::v1::QueryRequest* request,
                                     grpc::ServerWriter<node::v1::QueryResponse>* writer) {
  absl::StatusOr<query::v1::ResultSet> result = node_->Query(*request);
  if (!result.ok()) return Edge(result.status(), "Query");
  node::v1::QueryResponse message;
  *message.mutable_columns() = result->columns();
  message.set_dataset_version(result->dataset_version());
  message.set_rows_scanned(result->rows_scanned());
  size_t bytes = 0;
  for (auto& row : *result->mutable_rows()) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    bytes += row.ByteSizeLong();
    *message.add_rows() = std::move(row);
    if (message.rows_size() >= kMaxRowsPerMessage || bytes >= kMaxBytesPerMessage) {
      if (!writer->Write(message)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      message.Clear();
      bytes = 0;
    }
  }
  if (!writer->Write(message)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::DeleteDataset(grpc::ServerContext* /*context*/,
                                             const node::v1::DeleteDatasetRequest* request,
                                             node::v1::DeleteDatasetResponse* /*response*/) {
  return Edge(node_->DeleteDataset(request->dataset_id()), "DeleteDataset");
}

grpc::Status AdminServiceImpl::GetStatus(grpc::ServerContext* /*context*/,
                                         const node::v1::GetStatusRequest* /*request*/,
                                         node::v1::GetStatusResponse* response) {
  auto status = node_->Status();
  if (!status.ok()) return Edge(status.status(), "GetStatus");
  *response = std::move(*status);
  return grpc::Status::OK;
}

}  // namespace fednode::server
