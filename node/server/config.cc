#include "node/server/config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

#include "node/base/log.h"
#include "node/base/status_macros.h"
#include "node/ingest/charset.h"

namespace fednode::server {
namespace {

class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return !s.empty();
}

// Splits "host:port" (host may be "[v6]"); false when it is not that form
// or the port is outside 0..65535.
bool SplitHostPort(const std::string& addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (addr.empty() || colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(addr.substr(colon + 1), port) || *port < 0 || *port > 65535) {
    return false;
  }
  *host = addr.substr(0, colon);
  return true;
}

// 127.0.0.0/8, ::1 or localhost (RFC 1122 3.2.1.3, RFC 4291 2.5.3).
bool IsLoopbackHost(absl::string_view host) {
  return host == "localhost" || host == "[::1]" || absl::StartsWith(host, "127.");
}

}  // namespace

absl::StatusOr<config::v1::NodeConfig> ParseConfig(absl::string_view text,
                                                   absl::string_view source_name) {
  // A config saved in Latin-1 would put bytes into string fields (member and
  // publisher names) that no stored catalog entry could be read back from.
  FEDNODE_RETURN_IF_ERROR(ingest::RequireUtf8(text, source_name));
  config::v1::NodeConfig config;
  google::protobuf::TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", errors.first()));
  }
  return config;
}

absl::Status Validate(const config::v1::NodeConfig& config) {
  const std::string& ags = config.member_ags();
  if (ags.empty()) return absl::InvalidArgumentError("member_ags: required");
  if (!AllDigits(ags) || (ags.size() != 5 && ags.size() != 8)) {
    return absl::InvalidArgumentError(
        absl::StrCat("member_ags: \"", ags,
                     "\" is not an AGS (5 digits for a county, 8 for a municipality, "
                     "written as a string with its leading zero)"));
  }
  if (absl::StripAsciiWhitespace(config.member_name()).empty()) {
    return absl::InvalidArgumentError("member_name: required");
  }
  if (config.data_dir().empty()) return absl::InvalidArgumentError("data_dir: required");
  if (config.admin_socket().size() > 100) {
    // sockaddr_un.sun_path holds 108 bytes on Linux (unix(7)); gRPC needs the
    // "unix:" prefix and a terminator.
    return absl::InvalidArgumentError(
        absl::StrCat("admin_socket: path is ", config.admin_socket().size(),
                     " bytes long; Unix socket paths must be at most 100"));
  }
  if (config.shutdown_grace_seconds() > 300) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shutdown_grace_seconds: ", config.shutdown_grace_seconds(), " is out of range 1..300"));
  }
  LogLevel level;
  if (!ParseLogLevel(config.log_level(), &level)) {
    return absl::InvalidArgumentError(absl::StrCat("log_level: \"", config.log_level(),
                                                   "\" is not one of debug, info, warning, error"));
  }
  const auto& pub = config.publisher();
  if (!pub.contact_email().empty() && !absl::StrContains(pub.contact_email(), "@")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "publisher.contact_email: \"", pub.contact_email(), "\" is not an e-mail address"));
  }
  for (const std::string* uri : {&config.catalog_base_uri(), &config.homepage()}) {
    if (!uri->empty() && !absl::StartsWith(*uri, "http://") &&
        !absl::StartsWith(*uri, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat(uri == &config.homepage() ? "homepage" : "catalog_base_uri", ": \"", *uri,
                       "\" is not an http(s) URI"));
    }
  }
  if (absl::EndsWith(config.catalog_base_uri(), "/")) {
    return absl::InvalidArgumentError("catalog_base_uri: must not end with '/'");
  }
  for (const auto* field : {&pub.uri(), &pub.contributor_id(), &pub.license()}) {
    if (!field->empty() && !absl::StartsWith(*field, "http://") &&
        !absl::StartsWith(*field, "https://")) {
      std::string name = field == &pub.uri()              ? "publisher.uri"
                         : field == &pub.contributor_id() ? "publisher.contributor_id"
                                                          : "publisher.license";
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": \"", *field, "\" is not an http(s) URI"));
    }
  }
  if (config.has_segment_cache_mib() && config.segment_cache_mib() > 65536) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment_cache_mib: ", config.segment_cache_mib(), " is out of range 0..65536"));
  }
  if (config.has_federation()) {
    const auto& f = config.federation();
    const std::string& addr = f.listen_address();
    std::string host;
    int port = -1;
    if (!SplitHostPort(addr, &host, &port)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "federation.listen_address: \"", addr, "\" is not host:port (e.g. \"0.0.0.0:7443\")"));
    }
    if (f.key_file().empty()) return absl::InvalidArgumentError("federation.key_file: required");
    if (f.cert_file().empty()) return absl::InvalidArgumentError("federation.cert_file: required");
    if (f.reload_interval_seconds() > 86400) {
      return absl::InvalidArgumentError("federation.reload_interval_seconds: at most 86400");
    }
    for (const auto& [name, limit] :
         {std::pair{"member_rate_limit", &f.member_rate_limit()},
          std::pair{"refusal_audit_rate_limit", &f.refusal_audit_rate_limit()}}) {
      if (limit->per_second() > 1000000 || limit->burst() > 10000000) {
        return absl::InvalidArgumentError(absl::StrCat(
            "federation.", name, ": per_second at most 1000000, burst at most 10000000"));
      }
      if (limit->burst() > 0 && limit->per_second() == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("federation.", name, ".burst: set without per_second (0 means no limit)"));
      }
    }
    if (f.has_worker_threads() && (f.worker_threads() < 1 || f.worker_threads() > 256)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "federation.worker_threads: ", f.worker_threads(), " is out of range 1..256"));
    }
    if (f.has_max_queued_calls() && (f.max_queued_calls() < 1 || f.max_queued_calls() > 100000)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "federation.max_queued_calls: ", f.max_queued_calls(), " is out of range 1..100000"));
    }
    if (f.catalog_harvest_interval_seconds() > 86400) {
      return absl::InvalidArgumentError(absl::StrCat(
          "federation.catalog_harvest_interval_seconds: ", f.catalog_harvest_interval_seconds(),
          " is out of range 0..86400"));
    }
  }
  if (config.has_http()) {
    const auto& h = config.http();
    std::string host;
    int port = -1;
    if (!SplitHostPort(h.listen_address(), &host, &port)) {
      return absl::InvalidArgumentError(
          absl::StrCat("http.listen_address: \"", h.listen_address(),
                       "\" is not host:port (e.g. \"127.0.0.1:9464\")"));
    }
    if (!IsLoopbackHost(host) && !h.allow_remote()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "http.listen_address: \"", h.listen_address(),
          "\" is not a loopback address; the status page shows what the admin socket shows, to "
          "anyone who can connect: set http.allow_remote: true to allow it"));
    }
    if (h.threads() > 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("http.threads: ", h.threads(), " is out of range 1..16"));
    }
  }
  const auto& audit = config.audit();
  if (audit.retention_days() > 36500) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit.retention_days: ", audit.retention_days(),
                     " is out of range 0..36500 (0 = keep for ever)"));
  }
  if (audit.retention_days() > 0 && audit.archive_dir().empty()) {
    return absl::InvalidArgumentError(
        "audit.archive_dir: required with audit.retention_days (where the archives go)");
  }
  if (!audit.archive_dir().empty()) {
    if (!absl::StartsWith(audit.archive_dir(), "/")) {
      return absl::InvalidArgumentError(absl::StrCat("audit.archive_dir: \"", audit.archive_dir(),
                                                     "\" must be an absolute path"));
    }
    if (PathIsInside(audit.archive_dir(), config.data_dir())) {
      return absl::InvalidArgumentError(absl::StrCat("audit.archive_dir: ", audit.archive_dir(),
                                                     " lies inside data_dir ", config.data_dir(),
                                                     "; archives belong outside it"));
    }
  }
  return absl::OkStatus();
}

void ApplyDefaults(config::v1::NodeConfig* config) {
  if (config->admin_socket().empty()) {
    config->set_admin_socket(absl::StrCat(config->data_dir(), "/admin.sock"));
  }
  if (config->shutdown_grace_seconds() == 0) config->set_shutdown_grace_seconds(10);
  if (!config->has_segment_cache_mib()) config->set_segment_cache_mib(128);
  if (config->has_federation()) {
    auto* f = config->mutable_federation();
    if (!f->has_member_rate_limit()) f->mutable_member_rate_limit()->set_per_second(200);
    if (!f->has_refusal_audit_rate_limit()) {
      f->mutable_refusal_audit_rate_limit()->set_per_second(10);
    }
    for (auto* limit : {f->mutable_member_rate_limit(), f->mutable_refusal_audit_rate_limit()}) {
      if (limit->burst() == 0) limit->set_burst(2 * limit->per_second());
    }
    if (!f->has_worker_threads()) f->set_worker_threads(8);
    if (!f->has_max_queued_calls()) f->set_max_queued_calls(256);
  }
  if (config->has_http() && config->http().threads() == 0) config->mutable_http()->set_threads(2);
  if (config->log_level().empty()) config->set_log_level("info");
}

absl::StatusOr<config::v1::NodeConfig> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  FEDNODE_ASSIGN_OR_RETURN(config::v1::NodeConfig config, ParseConfig(ss.str(), path));
  FEDNODE_RETURN_IF_ERROR(Annotate(Validate(config), path));
  ApplyDefaults(&config);
  if (config.admin_socket().size() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": admin_socket: the default <data_dir>/admin.sock is longer than 100 "
                     "bytes; set admin_socket to a shorter path"));
  }
  return config;
}

bool PathIsInside(const std::string& path, const std::string& dir) {
  if (path.empty() || dir.empty()) return false;
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  if (ec) return false;
  const std::filesystem::path d = std::filesystem::weakly_canonical(dir, ec);
  if (ec) return false;
  // Component by component: "/srv/data2" is not inside "/srv/data".
  auto di = d.begin(), pi = p.begin();
  for (; di != d.end() && pi != p.end(); ++di, ++pi) {
    if (di->empty()) break;  // a trailing separator ends the directory
    if (*di != *pi) return false;
  }
  return di == d.end() || di->empty();
}

}  // namespace fednode::server
