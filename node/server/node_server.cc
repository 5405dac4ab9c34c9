#include "node/server/node_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/log.h"
#include "node/base/status_macros.h"
#include "node/server/audit_retention.h"
#include "node/server/backup.h"
#include "node/storage/dataset_store.h"

namespace fednode::server {

namespace {

// Deadline of each catalog page call to a member.
constexpr absl::Duration kCatalogPageDeadline = absl::Seconds(10);
// Background catalog harvest interval when the config sets none.
constexpr uint32_t kDefaultCatalogHarvestIntervalSeconds = 300;
// How often audit.retention_days is applied (and once at start).
constexpr absl::Duration kAuditRetentionInterval = absl::Hours(1);

// Checks the admin socket path before binding: creates its directory, and
// removes a socket file only when no process accepts connections on it.
absl::Status PrepareAdminSocketPath(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::filesystem::file_status st = std::filesystem::symlink_status(path, ec);
  if (ec || st.type() == std::filesystem::file_type::not_found) return absl::OkStatus();
  if (st.type() != std::filesystem::file_type::socket) {
    return absl::FailedPreconditionError(
        absl::StrCat("admin_socket ", path,
                     " exists and is not a socket; refusing to replace it (check the config)"));
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd >= 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (live) {
      return absl::FailedPreconditionError(absl::StrCat(
          "admin_socket ", path, " is in use by another running node; give each node its own"));
    }
  }
  std::filesystem::remove(path, ec);  // stale: left by a node that was killed
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeServer>> NodeServer::Create(const NodeServerOptions& options) {
  const config::v1::NodeConfig& config = options.config;
  const Clock* clock = options.clock != nullptr ? options.clock : SystemClock::Get();

  storage::DatasetStoreOptions store_options;
  store_options.path = config.data_dir();
  store_options.sync_commits = options.sync_commits;
  store_options.segment_cache_bytes = size_t{config.segment_cache_mib()} << 20;
  FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatasetStore> store,
                           storage::DatasetStore::Open(store_options));

  auto server = std::unique_ptr<NodeServer>(new NodeServer());
  server->config_ = config;
  server->metrics_ = std::make_unique<NodeMetrics>(&server->registry_);
  FEDNODE_ASSIGN_OR_RETURN(server->node_, Node::Create(config, std::move(store), clock));
  NodeServer* self = server.get();

  // The audit log signs its head with the node key in force; a signature by
  // an earlier (rotated) key is checked only for its place in the chain.
  audit::AuditLogOptions audit_options;
  audit_options.sign_head = [self](absl::string_view data) -> absl::StatusOr<std::string> {
    if (self->federation_ == nullptr || self->federation_->stager() == nullptr) {
      return absl::FailedPreconditionError(
          "no node key: signing needs a federation block with key_file and cert_file");
    }
    identity::OwnCredentials own = self->federation_->stager()->current();
    if (own.key_pem.empty()) {
      return absl::FailedPreconditionError(
          "no node key loaded: signing needs an installed agreement (fedctl agreement install)");
    }
    return certs::Sign(own.key_pem, data);
  };
  audit_options.verify_head = [self](absl::string_view data, absl::string_view signature,
                                     absl::string_view spki) -> absl::Status {
    if (self->federation_ == nullptr || self->federation_->stager() == nullptr) {
      return absl::OkStatus();
    }
    identity::OwnCredentials own = self->federation_->stager()->current();
    if (own.spki_sha256 != spki) return absl::OkStatus();
    return certs::VerifySignature(own.cert_pem, data, signature);
  };
  audit_options.current_signer_spki_sha256 = [self]() -> std::string {
    if (self->federation_ == nullptr || self->federation_->stager() == nullptr) return "";
    return self->federation_->stager()->current().spki_sha256;
  };
  FEDNODE_ASSIGN_OR_RETURN(server->audit_,
                           audit::AuditLog::Open(server->node_->store(), audit_options, clock));
  FEDNODE_RETURN_IF_ERROR(server->AuditRestore());

  audit::AuditLog* audit_log = server->audit_.get();
  bool audit_off = false;
#ifdef FEDNODE_BENCH_HOOKS
  // Benchmark builds only (CMake FEDNODE_BENCH_HOOKS): the audit-on/off
  // comparison of tests/bench/federation.sh.
  audit_off = std::getenv("FEDNODE_BENCH_AUDIT_OFF") != nullptr;
  if (audit_off) {
    FEDNODE_LOG(WARNING) << "BENCHMARK BUILD: FEDNODE_BENCH_AUDIT_OFF set, federation requests "
                            "are NOT audited";
  }
#endif
  FEDNODE_ASSIGN_OR_RETURN(
      server->federation_,
      FederationHost::Create(config, server->node_->store(), clock,
                             [audit_log, audit_off](audit::v1::AuditEntry e) -> absl::Status {
                               if (audit_off) return absl::OkStatus();
                               return audit_log->Append(std::move(e)).status();
                             }));
  server->federation_->set_async_audit(
      [audit_log, audit_off](audit::v1::AuditEntry e,
                             absl::AnyInvocable<void(absl::Status) &&> done) {
        if (audit_off) {
          std::move(done)(absl::OkStatus());
          return;
        }
        audit_log->AppendAsync(std::move(e),
                               [done = std::move(done)](absl::StatusOr<uint64_t> seq) mutable {
                                 std::move(done)(seq.status());
                               });
      });

  server->peers_ = std::make_unique<PeerChannels>(server->federation_.get());
  server->pager_ = std::make_unique<GrpcCatalogPager>(server->peers_.get(), kCatalogPageDeadline);
  server->harvester_ =
      std::make_unique<CatalogHarvester>(server->node_->store(), server->pager_.get(), clock);
  AdminContext ctx;
  ctx.peers = server->peers_.get();
  ctx.harvester = server->harvester_.get();
  ctx.node = server->node_.get();
  ctx.federation = server->federation_.get();
  ctx.audit = server->audit_.get();
  ctx.start_federation = [self]() { return self->StartFederation(); };
  ctx.federation_address = [self]() { return self->federation_address(); };
  ctx.metrics = server->metrics_.get();
  server->admin_service_ = std::make_unique<AdminServiceImpl>(std::move(ctx));
  server->federation_service_ = std::make_unique<FederationServiceImpl>(
      server->node_.get(), server->federation_.get(), server->metrics_.get());
  server->admin_socket_ = config.admin_socket();

  // Never remove anything but a stale socket: a regular file or a directory
  // at that path is an operator's mistake to report, and a socket another
  // live node answers on belongs to that node.
  FEDNODE_RETURN_IF_ERROR(PrepareAdminSocketPath(server->admin_socket_));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", server->admin_socket_),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(server->admin_service_.get());
  // Imports stream up to kMaxImportBytes in 1 MiB chunks; allow a little slack.
  builder.SetMaxReceiveMessageSize(kAdminMaxRequestBytes);

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

  MetricSources metric_sources;
  metric_sources.store = server->node_->store();
  metric_sources.data_dir = config.data_dir();
  metric_sources.audit = server->audit_.get();
  metric_sources.federation = server->federation_.get();
  metric_sources.peers = server->peers_.get();
  metric_sources.harvester = server->harvester_.get();
  server->metrics_->CollectFrom(std::move(metric_sources));
  if (config.has_http()) {
    StatusSources sources;
    sources.node = server->node_.get();
    sources.admin = server->admin_service_.get();
    sources.federation = server->federation_.get();
    sources.peers = server->peers_.get();
    sources.harvester = server->harvester_.get();
    sources.audit = server->audit_.get();
    sources.registry = &server->registry_;
    FEDNODE_ASSIGN_OR_RETURN(server->http_, StatusHttpServer::Start(config.http(), sources));
  }

  if (config.has_federation()) {
    // A newer agreement waiting in the file is taken before the port opens;
    // a refused one is logged, and the node starts with the one in force.
    server->ReloadAgreementFile().IgnoreError();
    if (server->federation_->agreement() != nullptr) {
      FEDNODE_RETURN_IF_ERROR(server->federation_->ReloadCredentials());
      FEDNODE_RETURN_IF_ERROR(server->StartFederation().status());
    } else {
      FEDNODE_LOG(WARNING) << "no agreement installed: the federation port stays closed until "
                              "`fedctl agreement install`";
    }
    uint32_t interval = config.federation().reload_interval_seconds();
    server->watcher_ = std::thread(
        [self, interval] { self->WatchCredentials(absl::Seconds(interval == 0 ? 10 : interval)); });
    const uint32_t harvest = config.federation().has_catalog_harvest_interval_seconds()
                                 ? config.federation().catalog_harvest_interval_seconds()
                                 : kDefaultCatalogHarvestIntervalSeconds;
    if (harvest > 0) {
      server->harvest_thread_ =
          std::thread([self, harvest] { self->HarvestCatalogs(absl::Seconds(harvest)); });
    }
  }
  if (config.audit().retention_days() > 0) {
    server->retention_thread_ =
        std::thread([self] { self->ApplyRetention(kAuditRetentionInterval); });
  }
  return server;
}

absl::Status NodeServer::AuditRestore() {
  absl::StatusOr<std::string> restored = node_->store()->GetMeta(kRestoredFromMetaKey);
  if (absl::IsNotFound(restored.status())) return absl::OkStatus();
  FEDNODE_RETURN_IF_ERROR(restored.status());
  audit::v1::AuditEntry e;
  e.set_caller("admin");
  e.set_operation("admin.RestoreBackup");
  e.set_decision(audit::v1::DECISION_ALLOW);
  e.set_reason(absl::StrCat("restored from ", *restored));
  FEDNODE_RETURN_IF_ERROR(audit_->Append(std::move(e)).status());
  FEDNODE_LOG(INFO) << "data directory restored from " << *restored;
  return node_->store()->DeleteMeta(kRestoredFromMetaKey);
}

absl::Status NodeServer::ReloadAgreementFile() {
  if (!config_.has_federation() || config_.federation().agreement_file().empty()) {
    return absl::OkStatus();
  }
  const std::string& path = config_.federation().agreement_file();
  absl::StatusOr<FederationHost::FileUpdate> update = federation_->UpdateFromFile(path);
  audit::v1::AuditEntry e;
  e.set_caller("admin");
  e.set_operation("node.AgreementFile");
  if (!update.ok()) {
    auto a = federation_->agreement();
    FEDNODE_LOG(WARNING) << "agreement_file refused: " << update.status().message()
                         << (a == nullptr ? std::string()
                                          : absl::StrCat("; agreement v", a->agreement().version(),
                                                         " stays in force"));
    e.set_decision(audit::v1::DECISION_ERROR);
    e.set_reason(std::string(update.status().message().substr(0, 500)));
    FEDNODE_RETURN_IF_ERROR(federation_->Audit(std::move(e)));
    return update.status();
  }
  FEDNODE_LOG(INFO) << update->detail;
  if (!update->installed) return absl::OkStatus();
  e.set_decision(audit::v1::DECISION_ALLOW);
  e.set_reason(update->detail);
  FEDNODE_RETURN_IF_ERROR(federation_->Audit(std::move(e)));
  return StartFederation().status();
}

void NodeServer::ApplyRetention(absl::Duration interval) {
  do {
    absl::StatusOr<uint64_t> archived =
        ApplyAuditRetention(audit_.get(), config_, federation_->clock()->Now());
    if (!archived.ok()) {
      FEDNODE_LOG(WARNING) << "audit retention (" << config_.audit().retention_days()
                           << " days): " << archived.status().message();
    }
  } while (!stop_watcher_.WaitForNotificationWithTimeout(interval));
}

absl::StatusOr<std::string> NodeServer::StartFederation() {
  absl::MutexLock lock(&mu_);
  if (federation_server_ != nullptr) return federation_address_;
  if (!config_.has_federation()) {
    return absl::FailedPreconditionError("the config has no federation block");
  }
  FEDNODE_RETURN_IF_ERROR(federation_->ReloadCredentials());
  FederationServerOptions options;
  options.listen_address = config_.federation().listen_address();
  options.credentials = identity::FederationServerCredentials(*federation_->stager());
  options.cq_threads = static_cast<int>(std::max(2U, std::thread::hardware_concurrency()));
  options.workers = static_cast<int>(config_.federation().worker_threads());
  options.max_queued = static_cast<int>(config_.federation().max_queued_calls());
  FEDNODE_ASSIGN_OR_RETURN(federation_server_,
                           FederationServer::Start(federation_service_.get(), options));
  const int port = federation_server_->port();
  std::string host = config_.federation().listen_address();
  host = host.substr(0, host.rfind(':'));
  federation_address_ = absl::StrCat(host, ":", port);
  if (!config_.federation().port_file().empty()) {
    FEDNODE_RETURN_IF_ERROR(certs::WriteFileAtomically(config_.federation().port_file(),
                                                       absl::StrCat(port, "\n"), 0644));
  }
  auto a = federation_->agreement();
  FEDNODE_LOG(INFO) << "federation port " << federation_address_ << " open (mutual TLS; agreement "
                    << a->agreement().agreement_id() << " v" << a->agreement().version() << ")";
  return federation_address_;
}

std::string NodeServer::federation_address() const {
  absl::MutexLock lock(&mu_);
  return federation_address_;
}

absl::Status NodeServer::ReloadCredentials() {
  if (federation_ == nullptr || federation_->agreement() == nullptr) return absl::OkStatus();
  return federation_->ReloadCredentials();
}

void NodeServer::WatchCredentials(absl::Duration interval) {
  while (!stop_watcher_.WaitForNotificationWithTimeout(interval)) {
    auto a = federation_->agreement();
    if (a == nullptr) continue;
    absl::Status s = federation_->ReloadCredentials();
    if (!s.ok()) FEDNODE_LOG(WARNING) << "TLS credentials: " << s.message();
    std::vector<std::string> own;
    if (federation_->stager() != nullptr) {
      std::string pem = federation_->stager()->current().cert_pem;
      if (!pem.empty()) own.push_back(pem);
    }
    for (const auto& w :
         agreement::ExpiryWarnings(a->agreement(), own, SystemClock::Get()->Now())) {
      FEDNODE_LOG(WARNING) << w.message;
    }
  }
}

void NodeServer::HarvestCatalogs(absl::Duration interval) {
  while (!stop_watcher_.WaitForNotificationWithTimeout(interval)) {
    auto a = federation_->agreement();
    if (a == nullptr) continue;
    for (const node::v1::PeerHarvest& p :
         harvester_->HarvestAll(HarvestMembers(a->agreement(), federation_->own_ags()))) {
      if (p.state() == "error") {
        FEDNODE_LOG(WARNING) << "catalog harvest of member " << p.ags() << ": " << p.detail();
      } else if (p.entries() + p.removed() > 0) {
        FEDNODE_LOG(INFO) << "catalog harvest of member " << p.ags() << ": " << p.entries()
                          << " entries, " << p.removed() << " removed";
      }
    }
  }
}

void NodeServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  // A harvest in progress stops before its next page (each page has a
  // deadline), so neither thread delays the shutdown by more than one call.
  if (harvester_ != nullptr) harvester_->Stop();
  // The status page reads everything below: it stops first.
  if (http_ != nullptr) http_->Stop();
  stop_watcher_.Notify();
  if (watcher_.joinable()) watcher_.join();
  if (harvest_thread_.joinable()) harvest_thread_.join();
  if (retention_thread_.joinable()) retention_thread_.join();
  auto deadline = std::chrono::system_clock::now() + absl::ToChronoSeconds(grace);
  {
    absl::MutexLock lock(&mu_);
    if (federation_server_ != nullptr) {
      federation_server_->Shutdown(deadline);
    }
  }
  if (admin_server_ != nullptr) {
    admin_server_->Shutdown(deadline);
    admin_server_->Wait();
    // Only the node that bound the socket removes it.
    std::error_code ec;
    if (std::filesystem::is_socket(admin_socket_, ec)) std::filesystem::remove(admin_socket_, ec);
  }
  if (audit_ != nullptr) {
    absl::Status closed = audit_->Close();
    if (!closed.ok()) FEDNODE_LOG(ERROR) << "audit log close: " << closed;
  }
  http_.reset();
  federation_service_.reset();
  admin_service_.reset();
  harvester_.reset();
  pager_.reset();
  peers_.reset();
  federation_.reset();
  audit_.reset();
  node_.reset();  // closes the store
  FEDNODE_LOG(INFO) << "node stopped";
}

NodeServer::~NodeServer() { Shutdown(absl::Seconds(1)); }

}  // namespace fednode::server
