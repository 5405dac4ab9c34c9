#include "node/server/node_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

#include "node/base/log.h"
#include "node/base/status_macros.h"
#include "node/storage/dataset_store.h"

namespace fednode::server {

absl::StatusOr<std::unique_ptr<NodeServer>> NodeServer::Create(const NodeServerOptions& options) {
  const config::v1::NodeConfig& config = options.config;
  const Clock* clock = options.clock != nullptr ? options.clock : SystemClock::Get();

  storage::DatasetStoreOptions store_options;
  store_options.path = config.data_dir();
  store_options.sync_commits = options.sync_commits;
  FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatasetStore> store,
                           storage::DatasetStore::Open(store_options));

  auto server = std::unique_ptr<NodeServer>(new NodeServer());
  FEDNODE_ASSIGN_OR_RETURN(server->node_, Node::Create(config, std::move(store), clock));
  server->admin_service_ = std::make_unique<AdminServiceImpl>(server->node_.get());
  server->admin_socket_ = config.admin_socket();

  // We hold the data directory's lock, so a socket file here is stale.
  std::error_code ec;
  if (std::filesystem::is_socket(server->admin_socket_, ec)) {
    std::filesystem::remove(server->admin_socket_, ec);
  }
  std::filesystem::create_directories(std::filesystem::path(server->admin_socket_).parent_path(),
                                      ec);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", server->admin_socket_),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(server->admin_service_.get());
  // Imports stream up to kMaxImportBytes in 1 MiB chunks; allow a little slack.
  builder.SetMaxReceiveMessageSize(4 << 20);

  // The socket is created by bind(2) inside BuildAndStart: a restrictive
  // umask makes it 0600 from the first instant.
  mode_t old_mask = ::umask(0077);
  server->admin_server_ = builder.BuildAndStart();
  ::umask(old_mask);
  if (server->admin_server_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on admin socket ", server->admin_socket_));
  }
  FEDNODE_LOG(INFO) << "node " << config.member_ags() << " (" << config.member_name()
                    << ") serving admin API on " << server->admin_socket_ << ", data in "
                    << config.data_dir();
  return server;
}

void NodeServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  if (admin_server_ != nullptr) {
    admin_server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoSeconds(grace));
    admin_server_->Wait();
  }
  std::error_code ec;
  std::filesystem::remove(admin_socket_, ec);
  node_.reset();  // closes the store
  FEDNODE_LOG(INFO) << "node stopped";
}

NodeServer::~NodeServer() { Shutdown(absl::Seconds(1)); }

}  // namespace fednode::server
