// The HTTP status port of a real NodeServer in this process: routes,
// read-only methods, security headers, the Host check, the metrics after a
// real federation call over mutual TLS, and a port that is taken.
#include "node/server/status_http.h"

#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "federation/agreement/agreement.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/server/config.h"
#include "node/server/node_server.h"
#include "proto/node/v1/admin.grpc.pb.h"
#include "tests/support/federation.h"

#include "httplib.h"

namespace fednode::server {
namespace {

using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGiessen[] = "06531005";
constexpr char kLich[] = "06531011";

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

class StatusHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = pki_.Ca(nullptr, "Test Root");
    giessen_ = pki_.Leaf(root_, kGiessen);
    lich_ = pki_.Leaf(root_, kLich);
    ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("node.key"), giessen_.key_pem, 0600).ok());
    WriteFile(dir_.File("node.crt"), giessen_.cert_pem);
    socket_ = absl::StrCat("/tmp/fednode-http-", getpid(), ".sock");
    config_.set_member_ags(kGiessen);
    config_.set_member_name("Gießen, Universitätsstadt");
    config_.set_data_dir(dir_.File("data"));
    config_.set_admin_socket(socket_);
    auto* f = config_.mutable_federation();
    f->set_listen_address("127.0.0.1:0");
    f->set_key_file(dir_.File("node.key"));
    f->set_cert_file(dir_.File("node.crt"));
    f->set_port_file(dir_.File("federation.port"));
    f->set_catalog_harvest_interval_seconds(0);
    config_.mutable_http()->set_listen_address("127.0.0.1:0");
    config_.mutable_http()->set_port_file(dir_.File("http.port"));
    ASSERT_THAT(Validate(config_), fednode::testing::IsOk());
    ApplyDefaults(&config_);
    NodeServerOptions options;
    options.config = config_;
    options.sync_commits = false;
    auto server = NodeServer::Create(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    std::ifstream(dir_.File("http.port")) >> http_port_;
    ASSERT_GT(http_port_, 0);
    EXPECT_EQ(server_->http_address(), absl::StrCat("127.0.0.1:", http_port_));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", http_port_);
    client_->set_connection_timeout(5, 0);
    client_->set_read_timeout(5, 0);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown(absl::Seconds(2));
  }

  // Installs a two-member agreement (Gießen, this node; Lich, the caller)
  // through the admin socket; the federation port opens.
  void InstallAgreement() {
    std::string text =
        "agreement {\n  agreement_id: \"kv-http\"\n  version: 1\n  title: \"Test\"\n"
        "  valid_from: \"2020-01-01T00:00:00Z\"\n  valid_until: \"2099-01-01T00:00:00Z\"\n";
    for (const auto& [ags, name, kc] :
         {std::tuple{kGiessen, "Gießen, Universitätsstadt", &giessen_},
          std::tuple{kLich, "Lich, Stadt", &lich_}}) {
      absl::StrAppend(&text, "  members { ags: \"", ags, "\" name: ", testing::Quote(name),
                      " role: ROLE_MUNICIPALITY endpoint: \"127.0.0.1:1\" spki_sha256: \"",
                      testing::Pin(*kc), "\" }\n");
    }
    absl::StrAppend(&text, "  trust_anchors_pem: ", testing::Quote(root_.cert_pem), "\n",
                    "  grants { id: \"katalog\" grantees: \"*\" holders: \"*\" datasets: \"*\" "
                    "access: ACCESS_CATALOG }\n  amendment_rule { kind: KIND_MAJORITY }\n}\n");
    text =
        testing::SignAgreementText(text, {kGiessen, kLich}, {{kGiessen, giessen_}, {kLich, lich_}});
    auto parsed = agreement::ParseAgreement(text, "agreement");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    auto admin = node::v1::AdminService::NewStub(
        grpc::CreateChannel(absl::StrCat("unix:", socket_), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    node::v1::InstallAgreementRequest request;
    request.set_text(text);
    request.set_fingerprint(agreement::Fingerprint(parsed->agreement()));
    node::v1::AgreementStatus status;
    grpc::Status s = admin->InstallAgreement(&ctx, request, &status);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::ifstream(dir_.File("federation.port")) >> federation_port_;
    ASSERT_GT(federation_port_, 0);
  }

  std::string Metrics() {
    httplib::Result res = client_->Get("/metrics");
    EXPECT_TRUE(res) << httplib::to_string(res.error());
    if (!res) return "";
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return res->body;
  }

  fednode::testing::TempDir dir_;
  fednode::testing::TestPki pki_;
  certs::KeyAndCert root_, giessen_, lich_;
  std::string socket_;
  config::v1::NodeConfig config_;
  std::unique_ptr<NodeServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int http_port_ = 0;
  int federation_port_ = 0;
};

TEST_F(StatusHttpTest, FederationCallMovesTheCountersAndMetricsParse) {
  InstallAgreement();
  const std::string before = Metrics();
  EXPECT_THAT(before, Not(HasSubstr("fednode_federation_requests_total{")));

  auto stub = testing::FederationClient(federation_port_, &lich_, root_.cert_pem);
  for (int i = 0; i < 2; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    federation::v1::PingResponse pong;
    grpc::Status s = stub->Ping(&ctx, federation::v1::PingRequest(), &pong);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string after = Metrics();
  EXPECT_THAT(after,
              HasSubstr("fednode_federation_requests_total{peer=\"06531011\",method=\"Ping\","
                        "code=\"OK\"} 2\n"));
  EXPECT_THAT(after,
              HasSubstr("fednode_federation_request_duration_seconds_count{method=\"Ping\"} 2\n"));
  EXPECT_THAT(after, HasSubstr("fednode_federation_request_duration_seconds_bucket{method=\"Ping\","
                               "le=\"+Inf\"} 2\n"));
  EXPECT_THAT(after, HasSubstr("# TYPE fednode_certificate_expiry_seconds gauge\n"
                               "fednode_certificate_expiry_seconds "));
  EXPECT_THAT(after, HasSubstr("fednode_agreement_expiry_seconds "));
  EXPECT_THAT(after, HasSubstr("fednode_audit_log_entries "));
  EXPECT_THAT(after, HasSubstr("fednode_data_dir_free_bytes "));

  // Every line is a comment or `name{labels} value` with a number.
  std::istringstream lines(after);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    const std::string value = line.substr(space + 1);
    double v = 0;
    EXPECT_TRUE(value == "+Inf" || value == "-Inf" || value == "NaN" || absl::SimpleAtod(value, &v))
        << line;
    ++samples;
  }
  EXPECT_GT(samples, 20);

  // The caller's health is what the node recorded; Lich was never called.
  httplib::Result peers = client_->Get("/api/peers");
  ASSERT_TRUE(peers);
  nlohmann::json p = nlohmann::json::parse(peers->body);
  ASSERT_EQ(p["peers"].size(), 1u);
  EXPECT_EQ(p["peers"][0]["ags"], kLich);
  EXPECT_EQ(p["peers"][0]["state"], "unknown");
}

TEST_F(StatusHttpTest, OnlyGetIsServedUnknownPathsAre404AndHeadersAreSet) {
  httplib::Result page = client_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("<script src=\"/status.js\""));
  EXPECT_THAT(page->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'self'"));
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  httplib::Result js = client_->Get("/status.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_THAT(js->body, Not(HasSubstr("innerHTML")));

  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    httplib::Request req;
    req.method = method;
    req.path = "/api/status";
    httplib::Result res = client_->send(req);
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 405) << method;
    EXPECT_EQ(res->get_header_value("Allow"), "GET, HEAD");
  }
  httplib::Result missing = client_->Get("/etc/passwd");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  httplib::Result audit = client_->Get("/api/audit?limit=0");
  ASSERT_TRUE(audit);
  EXPECT_EQ(audit->status, 400);

  // A name that resolved to this port by DNS rebinding is refused.
  httplib::Result rebound = client_->Get("/api/status", {{"Host", "evil.example:80"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);

  httplib::Result status = client_->Get("/api/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 200);
  nlohmann::json s = nlohmann::json::parse(status->body);
  EXPECT_EQ(s["node"]["member_ags"], kGiessen);
  EXPECT_EQ(s["agreement"]["installed"], false);
  EXPECT_THAT(status->body, Not(HasSubstr("PRIVATE KEY")));
  httplib::Result stats = client_->Get("/api/statistics");
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->body, "{}");
}

TEST_F(StatusHttpTest, TakenPortIsUnavailableNamingTheAddress) {
  config::v1::HttpConfig taken;
  taken.set_listen_address(absl::StrCat("127.0.0.1:", http_port_));
  taken.set_threads(1);
  StatusSources sources;
  sources.node = server_->node();
  EXPECT_THAT(StatusHttpServer::Start(taken, sources),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("http.listen_address 127.0.0.1:", http_port_))));
}

}  // namespace
}  // namespace fednode::server
