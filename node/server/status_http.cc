#include "node/server/status_http.h"

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/log.h"
#include "node/query/format.h"
#include "node/server/status_assets.h"

#include "httplib.h"

namespace fednode::server {
namespace {

using Json = nlohmann::json;

// Content-Security-Policy of every answer: only this origin's script, style
// and images; nothing inline, no frames (W3C CSP Level 3).
constexpr char kCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Audit entries /api/audit returns at most, and by default.
constexpr size_t kMaxAuditEntries = 500;
constexpr size_t kDefaultAuditEntries = 20;

// `message` as JSON with the proto field names (as fedctl's textproto shows
// them) and every field, also unset ones.
Json ProtoJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) {
    return Json::object();
  }
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

void SendJson(httplib::Response& res, const Json& body) {
  // dump's error handler "replace" keeps invalid UTF-8 from an import from
  // throwing.
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void SendError(httplib::Response& res, int status, const absl::Status& error) {
  res.status = status;
  SendJson(res, Json{{"error", std::string(error.message())}});
}

// "127.0.0.1" for "127.0.0.1", "::1" for "[::1]" (getaddrinfo's form).
std::string BindHost(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// The released table of a statistic, cell by cell as fedctl prints it:
// the key columns, n and the aggregates; a suppressed cell has no value,
// only its mark ("primary", "secondary"). Totals are marked by kind.
Json ReleasedTable(const node::v1::LatestStatistic& s, const agreement::v1::Agreement* agreement) {
  const query::v1::ResultSet& rs = s.response().result();
  int total_col = -1;
  int suppressed_col = -1;
  for (int i = 0; i < rs.columns_size(); ++i) {
    if (rs.columns(i).name() == "total") total_col = i;
    if (rs.columns(i).name() == "suppressed") suppressed_col = i;
  }
  Json columns = Json::array();
  std::vector<int> shown;
  for (int i = 0; i < rs.columns_size(); ++i) {
    if (i == total_col || i == suppressed_col) continue;
    shown.push_back(i);
    columns.push_back(rs.columns(i).name());
  }
  const int keys = std::max(total_col, 0);
  Json rows = Json::array();
  for (const query::v1::Row& row : rs.rows()) {
    Json r;
    const auto& v = row.values();
    const std::string total =
        total_col >= 0 && v[total_col].kind_case() == query::v1::Value::kStringValue
            ? v[total_col].string_value()
            : "";
    const std::string mark =
        suppressed_col >= 0 && v[suppressed_col].kind_case() == query::v1::Value::kStringValue
            ? v[suppressed_col].string_value()
            : "";
    r["total"] = total;
    r["suppressed"] = mark;
    std::vector<std::string> label;
    for (int k = 0; k < keys; ++k) {
      if (v[k].kind_case() != query::v1::Value::kNullValue) {
        label.push_back(query::FormatValue(v[k]));
      }
    }
    // A member's row is named as in the agreement.
    if (s.group_by_member() && agreement != nullptr && keys > 0 &&
        v[0].kind_case() == query::v1::Value::kStringValue) {
      const agreement::v1::Member* m = agreement::FindMember(*agreement, v[0].string_value());
      if (m != nullptr) r["member_name"] = m->name();
    }
    r["label"] = total.empty() ? absl::StrJoin(label, " / ") : "Total";
    Json cells = Json::array();
    Json numbers = Json::array();
    for (int i : shown) {
      const query::v1::Value& c = v[i];
      const bool is_key = i < keys;
      if (c.kind_case() == query::v1::Value::kNullValue) {
        cells.push_back(is_key ? Json(total.empty() ? "" : "Total") : Json(nullptr));
        numbers.push_back(nullptr);
        continue;
      }
      cells.push_back(query::FormatValue(c));
      if (c.kind_case() == query::v1::Value::kInt64Value) {
        numbers.push_back(c.int64_value());
      } else if (c.kind_case() == query::v1::Value::kDoubleValue &&
                 std::isfinite(c.double_value())) {
        numbers.push_back(c.double_value());
      } else {
        numbers.push_back(nullptr);
      }
    }
    r["cells"] = std::move(cells);
    r["numbers"] = std::move(numbers);
    rows.push_back(std::move(r));
  }
  return Json{{"columns", columns}, {"key_columns", keys}, {"rows", rows}};
}

}  // namespace

absl::StatusOr<std::unique_ptr<StatusHttpServer>> StatusHttpServer::Start(
    const config::v1::HttpConfig& config, StatusSources sources) {
  auto server = std::unique_ptr<StatusHttpServer>(new StatusHttpServer());
  server->sources_ = sources;
  server->allow_remote_ = config.allow_remote();
  const std::string& addr = config.listen_address();
  const size_t colon = addr.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("http.listen_address: \"", addr, "\" is not host:port"));
  }
  server->host_ = addr.substr(0, colon);
  server->server_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *server->server_;
  const size_t threads = std::max<uint32_t>(config.threads(), 1);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  // Idle keep-alive connections give their thread back soon.
  http.set_keep_alive_timeout(2);
  http.set_keep_alive_max_count(20);
  http.set_write_timeout(5, 0);
  http.set_payload_max_length(4096);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
  // a second process share a port that is in use instead of failing.
  http.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server->Route();

  const std::string bind_host = BindHost(server->host_);
  server->port_ = port == 0 ? http.bind_to_any_port(bind_host) : port;
  if (port != 0 && !http.bind_to_port(bind_host, port)) server->port_ = -1;
  if (server->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on http.listen_address ", addr,
                     " (in use by another process, or not an address of this machine)"));
  }
  server->address_ = absl::StrCat(server->host_, ":", server->port_);
  if (!config.port_file().empty()) {
    absl::Status written =
        certs::WriteFileAtomically(config.port_file(), absl::StrCat(server->port_, "\n"), 0644);
    if (!written.ok()) return written;
  }
  StatusHttpServer* self = server.get();
  auto listening_ended = std::make_shared<std::atomic<bool>>(false);
  server->listener_ = std::thread([self, listening_ended] {
    if (!self->server_->listen_after_bind()) {
      FEDNODE_LOG(ERROR) << "http port " << self->address_ << " stopped serving";
    }
    listening_ended->store(true);
  });
  // httplib's stop() is a no-op until the loop runs: wait for it (bounded),
  // so that a Stop() right after Start() cannot leave the thread behind.
  for (int i = 0; i < 5000 && !http.is_running() && !listening_ended->load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  FEDNODE_LOG(INFO) << "http port " << server->address_ << " open: status page http://"
                    << server->address_ << "/ and metrics at /metrics";
  return server;
}

void StatusHttpServer::Route() {
  httplib::Server& http = *server_;
  http.set_default_headers({{"Content-Security-Policy", kCsp},
                            {"X-Content-Type-Options", "nosniff"},
                            {"X-Frame-Options", "DENY"},
                            {"Referrer-Policy", "no-referrer"},
                            {"Cache-Control", "no-store"}});
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
      SendJson(res, Json{{"error", "read-only: only GET and HEAD"}});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!allow_remote_) {
      // Host must name this loopback port (RFC 9110 7.2); anything else is a
      // name that resolved here by rebinding.
      const std::string host = req.get_header_value("Host");
      const std::string port = absl::StrCat(":", port_);
      const bool local =
          host == absl::StrCat(host_, port) || host == absl::StrCat("localhost", port) ||
          host == absl::StrCat("127.0.0.1", port) || host == absl::StrCat("[::1]", port);
      if (!local) {
        SendError(res, 403, absl::PermissionDeniedError("Host header is not this loopback port"));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      SendJson(res, Json{{"error", res.status == 404 ? "not found" : "error"}});
    }
  });

  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(sources_.registry != nullptr ? sources_.registry->Render() : "",
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kStatusPageHtml), "text/html; charset=utf-8");
  });
  // Browsers ask for it on their own; no icon, and no 404 in their console.
  http.Get("/favicon.ico",
           [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  http.Get("/status.js", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kStatusPageJs), "text/javascript; charset=utf-8");
  });
  http.Get("/status.css", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kStatusPageCss), "text/css; charset=utf-8");
  });

  http.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
    absl::StatusOr<node::v1::GetStatusResponse> status = sources_.node->Status();
    if (!status.ok()) return SendError(res, 503, status.status());
    node::v1::AgreementStatus agreement;
    if (sources_.admin != nullptr) sources_.admin->DescribeAgreement(&agreement);
    SendJson(res, Json{{"node", ProtoJson(*status)}, {"agreement", ProtoJson(agreement)}});
  });
  http.Get("/api/peers", [this](const httplib::Request&, httplib::Response& res) {
    Json peers = Json::array();
    auto signed_agreement =
        sources_.federation != nullptr ? sources_.federation->agreement() : nullptr;
    if (signed_agreement != nullptr && sources_.peers != nullptr) {
      const agreement::v1::Agreement& a = signed_agreement->agreement();
      for (const node::v1::PeerHealth& h : sources_.peers->Recorded(a)) {
        Json p = ProtoJson(h);
        if (sources_.harvester != nullptr) {
          p["harvest"] = ProtoJson(sources_.harvester->Describe({h.ags(), h.name()}));
        }
        peers.push_back(std::move(p));
      }
    }
    SendJson(res, Json{{"peers", std::move(peers)}});
  });
  http.Get("/api/catalog", [this](const httplib::Request&, httplib::Response& res) {
    absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> entries = sources_.node->ListCatalog("");
    if (!entries.ok()) return SendError(res, 503, entries.status());
    Json out = Json::array();
    for (const catalog::v1::CatalogEntry& e : *entries) {
      out.push_back(Json{
          {"dataset_id", e.dataset_id()},
          {"title", e.metadata().title()},
          {"access_class",
           absl::AsciiStrToLower(absl::StripPrefix(
               catalog::v1::AccessClass_Name(e.metadata().access_class()), "ACCESS_CLASS_"))},
          {"rows", e.row_count()},
          {"version", e.version()},
          {"modified", agreement::FormatRfc3339(absl::FromUnixSeconds(e.modified().seconds()))}});
    }
    SendJson(res, Json{{"entries", std::move(out)}});
  });
  http.Get("/api/audit", [this](const httplib::Request& req, httplib::Response& res) {
    if (sources_.audit == nullptr) return SendJson(res, Json{{"entries", Json::array()}});
    size_t limit = kDefaultAuditEntries;
    if (req.has_param("limit")) {
      if (!absl::SimpleAtoi(req.get_param_value("limit"), &limit) || limit == 0 ||
          limit > kMaxAuditEntries) {
        return SendError(res, 400,
                         absl::InvalidArgumentError(absl::StrCat(
                             "limit: a number of entries from 1 to ", kMaxAuditEntries)));
      }
    }
    absl::StatusOr<std::vector<audit::v1::AuditEntry>> tail = sources_.audit->Tail(limit);
    if (!tail.ok()) return SendError(res, 503, tail.status());
    Json entries = Json::array();
    for (const audit::v1::AuditEntry& e : *tail) entries.push_back(ProtoJson(e));
    SendJson(res, Json{{"entries", std::move(entries)}, {"last_seq", sources_.audit->last_seq()}});
  });
  http.Get("/api/statistics", [this](const httplib::Request&, httplib::Response& res) {
    absl::StatusOr<std::optional<node::v1::LatestStatistic>> latest =
        sources_.node->LatestStatistic();
    if (!latest.ok()) return SendError(res, 503, latest.status());
    if (!latest->has_value()) return SendJson(res, Json::object());
    const node::v1::LatestStatistic& s = **latest;
    auto signed_agreement =
        sources_.federation != nullptr ? sources_.federation->agreement() : nullptr;
    Json out{{"conforms_to", s.conforms_to()},
             {"sql", s.sql()},
             {"purpose", s.purpose()},
             {"by_member", s.group_by_member()},
             {"computed_at", s.computed_at()},
             {"coverage_line", s.response().coverage_line()},
             {"disclosure_rule", s.response().disclosure_rule()},
             {"partial", s.response().partial()},
             {"table", ReleasedTable(s, signed_agreement != nullptr ? &signed_agreement->agreement()
                                                                    : nullptr)}};
    SendJson(res, out);
  });
}

void StatusHttpServer::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (listener_.joinable()) listener_.join();
  server_.reset();
  FEDNODE_LOG(INFO) << "http port " << address_ << " closed";
}

StatusHttpServer::~StatusHttpServer() { Stop(); }

}  // namespace fednode::server
