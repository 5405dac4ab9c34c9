// Integration tests of the trust layer with a real fednode process on
// loopback: a PKI generated at test time (no key in the repository), a
// signed cooperation agreement, mutual TLS with pinned member identity,
// grants, amendments, credential rotation and the audit log.
//
// The node under test is Stadt Gießen (06531005) holding the car-park data;
// test clients present the certificates of other members (or bad ones)
// directly to its federation port.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/channel.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/sync_stream.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/audit/audit_archive.h"
#include "node/base/testing/temp_dir.h"
#include "proto/federation/v1/federation.grpc.pb.h"
#include "tests/support/federation.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::Pin;
using ::fednode::testing::Quote;
using ::fednode::testing::RunResult;
using ::fednode::testing::SourcePath;
using ::testing::HasSubstr;

constexpr char kGiessen[] = "06531005";
constexpr char kLich[] = "06531011";
constexpr char kAllendorf[] = "06531001";
constexpr char kWettenberg[] = "06531018";
constexpr char kBiebertal[] = "06531002";  // never a member

// The federation PKI of the tests: the federation root CA ("root", the
// agreement's trust anchor) with an issuing intermediate ("fed") for the
// members' node certificates, a sibling intermediate of the same root that
// issues a certificate for a member's AGS with its own key (refused: the key
// is not pinned), an intermediate revoked by the root's CRL, and another
// root nobody trusts.
struct Pki : fednode::testing::TestPki {
  certs::KeyAndCert root, fed, sibling, other_root, revoked_ca;
  std::string fed_crl, root_crl;
};

std::unique_ptr<federation::v1::FederationService::Stub> Client(
    int port, const certs::KeyAndCert* identity, const std::string& chain_pem = "",
    std::shared_ptr<std::string> server_pin = nullptr) {
  return fednode::testing::FederationClient(port, identity, chain_pem, std::move(server_pin));
}

grpc::Status Ping(federation::v1::FederationService::Stub* stub,
                  federation::v1::PingResponse* out = nullptr) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  federation::v1::PingResponse r;
  grpc::Status s = stub->Ping(&ctx, federation::v1::PingRequest(), &r);
  if (out != nullptr) *out = r;
  return s;
}

struct QueryResult {
  grpc::Status status;
  std::vector<federation::v1::QueryResponse> messages;
  size_t rows = 0;
};

QueryResult Query(federation::v1::FederationService::Stub* stub, const query::v1::QueryPlan& plan,
                  const std::string& purpose);

class TrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_.root = pki_.Ca(nullptr, "Land Hessen Test Root");
    pki_.fed = pki_.Ca(&pki_.root, "Föderation Landkreis Gießen CA");
    pki_.sibling = pki_.Ca(&pki_.root, "Andere Föderation CA");
    pki_.other_root = pki_.Ca(nullptr, "Fremde Root");
    pki_.revoked_ca = pki_.Ca(&pki_.root, "Widerrufene Unter-CA");
    for (const char* ags : {kGiessen, kLich, kAllendorf, kWettenberg}) {
      members_[ags] = pki_.Leaf(pki_.fed, ags);
    }
    giessen_next_ = pki_.Leaf(pki_.fed, kGiessen);  // rotation target, pinned beforehand
    revoked_leaf_ = pki_.Leaf(pki_.fed, kLich);
    expired_ =
        pki_.Leaf(pki_.fed, kLich, pki_.now - absl::Hours(24 * 10), pki_.now - absl::Hours(24));
    future_ =
        pki_.Leaf(pki_.fed, kLich, pki_.now + absl::Hours(24), pki_.now + absl::Hours(24 * 10));
    under_revoked_ca_ = pki_.Leaf(pki_.revoked_ca, kLich);
    auto crl = certs::IssueCrl(pki_.fed, {revoked_leaf_.cert_pem}, pki_.now - absl::Hours(1),
                               pki_.now + absl::Hours(24 * 30));
    ASSERT_TRUE(crl.ok()) << crl.status();
    pki_.fed_crl = *crl;
    crl = certs::IssueCrl(pki_.root, {pki_.revoked_ca.cert_pem}, pki_.now - absl::Hours(1),
                          pki_.now + absl::Hours(24 * 30));
    ASSERT_TRUE(crl.ok()) << crl.status();
    pki_.root_crl = *crl;

    WriteCredentials(members_[kGiessen]);
    socket_ = absl::StrCat("/tmp/fednode-trust-", getpid(), "-", counter_++, ".sock");
    WriteConfig(dir_.File("giessen.textproto"), dir_.File("node.crt"));
    node_ = std::make_unique<fednode::testing::NodeProcess>(
        FEDNODE_BIN, dir_.File("giessen.textproto"), dir_.File("fednode.log"));
    ASSERT_TRUE(node_->Start({FEDCTL_BIN, "--socket", socket_, "status"})) << node_->Log();

    // The car-park data the grants are about.
    RunResult r = Fedctl({"import", "--dataset", "parkhaus_rathaus", "--schema",
                          SourcePath("deploy/specs/parkhaus_rathaus.textproto"), "--metadata",
                          SourcePath("deploy/giessen/metadata/parkhaus_rathaus.textproto"),
                          SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv")});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    std::string v1 = AgreementText(1, /*with_wettenberg=*/true, "2029-01-01T00:00:00Z");
    std::string signed_v1 = Sign(v1, {kGiessen, kLich, kAllendorf, kWettenberg});
    std::string path = dir_.File("agreement-v1.textproto");
    std::ofstream(path) << signed_v1;
    auto parsed = agreement::ParseAgreement(signed_v1, "v1");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    r = Fedctl({"agreement", "install", path, "--fingerprint",
                agreement::Fingerprint(parsed->agreement())});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    port_ = ReadPort();
    ASSERT_GT(port_, 0) << node_->Log();
  }

  void TearDown() override {
    if (node_ != nullptr && node_->running()) {
      EXPECT_EQ(node_->Stop(SIGTERM), 0) << node_->Log();
    }
  }

  void WriteCredentials(const certs::KeyAndCert& kc) {
    ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("node.key"), kc.key_pem, 0600).ok());
    ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("node.crt"), kc.cert_pem, 0644).ok());
    ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("chain.crt"), pki_.fed.cert_pem, 0644).ok());
  }

  void WriteConfig(const std::string& path, const std::string& cert_file,
                   const std::string& extra_federation_lines = "",
                   const std::string& extra_lines = "") {
    std::ofstream(path) << extra_lines << "member_ags: \"" << kGiessen << "\"\n"
                        << "member_name: \"Gießen, Universitätsstadt\"\n"
                        << "data_dir: \"" << dir_.File("data") << "\"\n"
                        << "admin_socket: \"" << socket_ << "\"\n"
                        << "federation {\n"
                        << "  listen_address: \"127.0.0.1:0\"\n"
                        << "  port_file: \"" << dir_.File("port") << "\"\n"
                        << "  key_file: \"" << dir_.File("node.key") << "\"\n"
                        << "  cert_file: \"" << cert_file << "\"\n"
                        << "  chain_file: \"" << dir_.File("chain.crt") << "\"\n"
                        << "  reload_interval_seconds: 3600\n"
                        << extra_federation_lines << "}\n";
  }

  int ReadPort() {
    std::ifstream in(dir_.File("port"));
    int port = 0;
    in >> port;
    return port;
  }

  std::string AgreementText(int version, bool with_wettenberg, const std::string& valid_until,
                            const std::string& title = "Test-Kooperationsvereinbarung") {
    std::string t = absl::StrCat(
        "agreement {\n  agreement_id: \"kv-test\"\n  version: ", version,
        "\n  title: ", Quote(title),
        "\n  valid_from: \"2020-01-01T00:00:00Z\"\n  valid_until: ", Quote(valid_until), "\n");
    auto member = [&](const char* ags, const char* name, const std::vector<std::string>& pins) {
      absl::StrAppend(&t, "  members { ags: \"", ags, "\" name: ", Quote(name),
                      " role: ROLE_MUNICIPALITY endpoint: \"localhost:7443\"");
      for (const auto& p : pins) absl::StrAppend(&t, " spki_sha256: \"", p, "\"");
      absl::StrAppend(&t, " }\n");
    };
    member(kGiessen, "Gießen, Universitätsstadt", {Pin(members_[kGiessen]), Pin(giessen_next_)});
    member(kLich, "Lich, Stadt",
           {Pin(members_[kLich]), Pin(revoked_leaf_), Pin(expired_), Pin(future_),
            Pin(under_revoked_ca_)});
    member(kAllendorf, "Allendorf (Lumda), Stadt", {Pin(members_[kAllendorf])});
    if (with_wettenberg) member(kWettenberg, "Wettenberg", {Pin(members_[kWettenberg])});
    absl::StrAppend(&t, "  trust_anchors_pem: ", Quote(pki_.root.cert_pem), "\n");
    absl::StrAppend(&t, "  crls_pem: ", Quote(pki_.root_crl), "\n");
    absl::StrAppend(&t, "  crls_pem: ", Quote(pki_.fed_crl), "\n");
    // Two conditions beyond who and what: purpose and columns.
    absl::StrAppend(&t,
                    "  grants { id: \"lich-parken\" grantees: \"06531011\" holders: \"06531005\" "
                    "datasets: \"parkhaus_rathaus\" access: ACCESS_AGGREGATE "
                    "purposes: \"verkehrsplanung\" columns: \"timestamp\" "
                    "columns: \"occupied_spaces\" }\n",
                    "  grants { id: \"katalog\" grantees: \"*\" holders: \"*\" datasets: \"*\" "
                    "access: ACCESS_CATALOG }\n");
    if (with_wettenberg) {
      absl::StrAppend(&t,
                      "  grants { id: \"wettenberg-zeilen\" grantees: \"06531018\" holders: "
                      "\"06531005\" datasets: \"parkhaus_rathaus\" access: ACCESS_ROWS }\n");
    }
    absl::StrAppend(&t, "  disclosure { min_cell_count: 3 }\n",
                    "  amendment_rule { kind: KIND_MAJORITY }\n}\n");
    return t;
  }

  // Appends the signatures of `signers` (members' keys) to `text`.
  std::string Sign(const std::string& text, const std::vector<std::string>& signers) {
    return fednode::testing::SignAgreementText(text, signers, members_);
  }

  RunResult Fedctl(std::vector<std::string> args) {
    args.insert(args.begin(), {FEDCTL_BIN, "--socket", socket_});
    return fednode::testing::Run(args);
  }

  // Audit entries of the node, parsed from `fedctl audit export`.
  std::vector<nlohmann::json> AuditEntries() {
    RunResult r = Fedctl({"audit", "export"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> out;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  bool AuditHas(const std::string& caller, const std::string& decision,
                const std::string& reason_part) {
    for (const auto& e : AuditEntries()) {
      if (e.value("caller", "") == caller && e.value("decision", "") == decision &&
          absl::StrContains(e.value("reason", ""), reason_part)) {
        return true;
      }
    }
    return false;
  }

  // Polls `done` until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& done,
                      absl::Duration timeout = absl::Seconds(15)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return true;
  }

  // Restarts the node with `extra_federation_lines` and `extra_lines` in
  // its config.
  void Restart(const std::string& extra_federation_lines, const std::string& extra_lines = "") {
    if (node_->running()) {
      ASSERT_EQ(node_->Stop(SIGTERM), 0) << node_->Log();
    }
    WriteConfig(dir_.File("giessen.textproto"), dir_.File("node.crt"), extra_federation_lines,
                extra_lines);
    std::filesystem::remove(dir_.File("port"));
    ASSERT_TRUE(node_->Start({FEDCTL_BIN, "--socket", socket_, "status"})) << node_->Log();
    ASSERT_TRUE(WaitFor([&] { return ReadPort() > 0; })) << node_->Log();
  }

  fednode::testing::TempDir dir_;
  Pki pki_;
  std::map<std::string, certs::KeyAndCert> members_;
  certs::KeyAndCert giessen_next_, revoked_leaf_;
  certs::KeyAndCert expired_, future_, under_revoked_ca_;
  std::string socket_;
  int port_ = 0;
  std::unique_ptr<fednode::testing::NodeProcess> node_;
  static inline int counter_ = 0;
};

QueryResult Query(federation::v1::FederationService::Stub* stub, const query::v1::QueryPlan& plan,
                  const std::string& purpose) {
  QueryResult out;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  federation::v1::QueryRequest req;
  *req.mutable_plan() = plan;
  req.set_purpose(purpose);
  auto reader = stub->Query(&ctx, req);
  federation::v1::QueryResponse m;
  while (reader->Read(&m)) {
    out.rows += m.rows_size();
    out.messages.push_back(m);
  }
  out.status = reader->Finish();
  return out;
}

query::v1::QueryPlan HourlyOccupancy() {
  query::v1::QueryPlan p;
  p.set_dataset_id("parkhaus_rathaus");
  auto* h = p.add_select();
  h->set_alias("h");
  h->mutable_extract()->set_field("hour");
  h->mutable_extract()->set_column("timestamp");
  auto* avg = p.add_select();
  avg->set_alias("occ");
  avg->mutable_aggregate()->set_function(query::v1::AGGREGATE_FUNCTION_AVG);
  avg->mutable_aggregate()->set_column("occupied_spaces");
  p.add_group_by("h");
  return p;
}

TEST_F(TrustTest, MemberWithGrantGetsItsAnswerNamingItsOrigin) {
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  federation::v1::PingResponse pong;
  ASSERT_TRUE(Ping(lich.get(), &pong).ok());
  EXPECT_EQ(pong.caller_ags(), kLich);
  EXPECT_EQ(pong.agreement_version(), 1u);

  QueryResult r = Query(lich.get(), HourlyOccupancy(), "verkehrsplanung");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.rows, 14u);  // hours 8..21 in the source file
  ASSERT_FALSE(r.messages.empty());
  EXPECT_EQ(r.messages[0].holder_ags(), kGiessen);
  EXPECT_EQ(r.messages[0].dataset_id(), "parkhaus_rathaus");
  EXPECT_EQ(r.messages[0].dataset_version(), 1u);
  EXPECT_EQ(r.messages[0].agreement_version(), 1u);
  EXPECT_EQ(r.messages[0].grant_id(), "lich-parken");
  EXPECT_TRUE(AuditHas(kLich, "allow", "grant lich-parken"));
}

TEST_F(TrustTest, RequestsThatDoNotParseAreRefusedAndAudited) {
  auto channel = fednode::testing::FederationChannel(port_, &members_[kLich], pki_.fed.cert_pem);
  auto raw = [](absl::string_view bytes) {
    grpc::Slice slice(bytes.data(), bytes.size());
    return grpc::ByteBuffer(&slice, 1);
  };
  auto deadline = [](grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  };
  auto expect_refused = [&](const grpc::Status& s, const std::string& message) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << message;
    EXPECT_EQ(s.error_message(), "the request is not a well-formed " + message);
    EXPECT_TRUE(AuditHas(kLich, "deny", "not a well-formed " + message)) << message;
  };

  // Query (streaming): field 2 (purpose, a string) holding a byte that is
  // not UTF-8, which protobuf refuses to parse.
  {
    const grpc::internal::RpcMethod method("/fednode.federation.v1.FederationService/Query",
                                           grpc::internal::RpcMethod::SERVER_STREAMING, channel);
    grpc::ClientContext ctx;
    deadline(&ctx);
    std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader(
        grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
            channel.get(), method, &ctx, raw(std::string("\x12\x01\xff", 3))));
    grpc::ByteBuffer answer;
    EXPECT_FALSE(reader->Read(&answer));
    expect_refused(reader->Finish(), "fednode.federation.v1.QueryRequest");
  }
  // Aggregate (unary): a field whose length runs past the end.
  {
    const grpc::internal::RpcMethod method("/fednode.federation.v1.FederationService/Aggregate",
                                           grpc::internal::RpcMethod::NORMAL_RPC, channel);
    grpc::ClientContext ctx;
    deadline(&ctx);
    grpc::ByteBuffer answer;
    expect_refused(grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
                       channel.get(), method, &ctx,
                       raw("\x0a\x05"
                           "ab"),
                       &answer),
                   "fednode.federation.v1.AggregateRequest");
  }

  // Well-formed requests on the same port still answer.
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  QueryResult r = Query(lich.get(), HourlyOccupancy(), "verkehrsplanung");
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_TRUE(Ping(lich.get()).ok());
}

TEST_F(TrustTest, EveryBadCertificateIsRefusedWithItsReasonAndAudited) {
  certs::KeyAndCert other_ca = pki_.Leaf(pki_.other_root, kLich);
  certs::KeyAndCert sibling = pki_.Leaf(pki_.sibling, kLich);
  certs::KeyAndCert unpinned = pki_.Leaf(pki_.fed, kBiebertal);
  certs::KeyAndCert wrong_ags = pki_.Leaf(pki_.fed, kLich);  // AGS ok, key not pinned
  struct Case {
    std::string name;
    const certs::KeyAndCert* identity;
    std::string chain;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"no client certificate", nullptr, "", "no client certificate"},
      {"another CA", &other_ca, pki_.other_root.cert_pem, "not trusted"},
      {"sibling intermediate CA", &sibling, pki_.sibling.cert_pem, "not pinned"},
      {"expired", &expired_, pki_.fed.cert_pem, "expired"},
      {"not yet valid", &future_, pki_.fed.cert_pem, "not yet valid"},
      {"revoked", &revoked_leaf_, pki_.fed.cert_pem, "revoked"},
      {"revoked intermediate", &under_revoked_ca_, pki_.revoked_ca.cert_pem, "revoked"},
      {"valid but not pinned", &unpinned, pki_.fed.cert_pem, "not pinned"},
      {"valid, member's AGS, key not pinned", &wrong_ags, pki_.fed.cert_pem, "not pinned"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto stub = Client(port_, c.identity, c.chain);
    grpc::Status s = Ping(stub.get());
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(c.reason));
    EXPECT_TRUE(AuditHas("unauthenticated", "deny", c.reason)) << c.reason;
  }
}

TEST_F(TrustTest, RateLimitsRefuseAFloodingMemberAndCapTheRefusalAuditLog) {
  ASSERT_EQ(node_->Stop(SIGTERM), 0) << node_->Log();
  WriteConfig(dir_.File("giessen.textproto"), dir_.File("node.crt"),
              "  member_rate_limit { per_second: 1 burst: 5 }\n"
              "  refusal_audit_rate_limit { per_second: 1 burst: 3 }\n");
  std::remove(dir_.File("port").c_str());  // the restarted node writes its new port
  ASSERT_TRUE(node_->Start({FEDCTL_BIN, "--socket", socket_, "status"})) << node_->Log();
  for (int i = 0; i < 200 && (port_ = ReadPort()) == 0; ++i) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_GT(port_, 0) << node_->Log();
  const size_t entries_before = AuditEntries().size();

  // Lich floods: the burst is admitted, the rest refused with
  // RESOURCE_EXHAUSTED, each refusal audited; Allendorf is not affected.
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  const absl::Time start = absl::Now();
  int ok = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = Ping(lich.get());
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr("rate limit: member 06531011 exceeds 1 calls/s"));
      ++limited;
    }
  }
  // Burst 5, plus at most one token per second that passed.
  const int refills = static_cast<int>(absl::ToDoubleSeconds(absl::Now() - start)) + 1;
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 5 + refills);
  EXPECT_EQ(ok + limited, 20);
  auto allendorf = Client(port_, &members_[kAllendorf], pki_.fed.cert_pem);
  EXPECT_TRUE(Ping(allendorf.get()).ok());

  // Callers without a member's certificate: every call refused, but the
  // audit log gets at most the refusal limit's entries; the count of the
  // others is written with the next audited refusal, so none is lost.
  auto stranger = Client(port_, nullptr, "");
  const absl::Time flood = absl::Now();
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(Ping(stranger.get()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  const int flood_refills = static_cast<int>(absl::ToDoubleSeconds(absl::Now() - flood)) + 1;
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_EQ(Ping(stranger.get()).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  std::vector<nlohmann::json> entries = AuditEntries();
  int member_refusals = 0, unauthenticated_entries = 0;
  int64_t refusals_accounted = 0;
  for (size_t i = entries_before; i < entries.size(); ++i) {
    const nlohmann::json& e = entries[i];
    const std::string reason = e.value("reason", "");
    if (e.value("caller", "") == kLich && absl::StrContains(reason, "rate limit")) {
      ++member_refusals;
    }
    if (e.value("caller", "") != "unauthenticated") continue;
    ++unauthenticated_entries;
    int64_t earlier = 0;
    const size_t and_pos = reason.find("(and ");
    if (and_pos != std::string::npos) {
      ASSERT_TRUE(absl::SimpleAtoi(
          reason.substr(and_pos + 5, reason.find(' ', and_pos + 5) - and_pos - 5), &earlier))
          << reason;
      EXPECT_THAT(reason, HasSubstr("earlier refusals from ipv4:127.0.0.1 not audited one by one"));
    }
    refusals_accounted += 1 + earlier;
  }
  EXPECT_EQ(member_refusals, limited);
  EXPECT_GE(unauthenticated_entries, 4);  // burst 3 + the one after the pause
  EXPECT_LE(unauthenticated_entries, 3 + flood_refills + 1);
  EXPECT_EQ(refusals_accounted, 31);
}

TEST_F(TrustTest, PartialAggregatesAreReleasedToTheCountyOnly) {
  // Lich holds an aggregate grant on the car park, but unsuppressed partial
  // aggregates (with their unit counts) are for the county's merge only.
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  federation::v1::AggregateRequest req;
  *req.mutable_plan() = HourlyOccupancy();
  req.set_conforms_to("urn:fednode:schema:parkhaus-belegung:v1");
  req.set_purpose("verkehrsplanung");
  federation::v1::AggregateResponse resp;
  grpc::Status s = lich->Aggregate(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("released to the county (ROLE_COUNTY) only"));
  EXPECT_EQ(resp.partial().groups_size(), 0);
  EXPECT_TRUE(AuditHas(kLich, "deny", "released to the county (ROLE_COUNTY) only"));
  // And a municipality's node does not compute regional statistics.
  RunResult r = Fedctl({"aggregate", "--conforms-to", "urn:fednode:schema:parkhaus-belegung:v1",
                        "SELECT COUNT(*) FROM parkhaus_rathaus"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr("regional statistics are computed on the county's node"));
}

TEST_F(TrustTest, MemberWithoutGrantIsDeniedAndCannotLearnWhetherADatasetExists) {
  auto allendorf = Client(port_, &members_[kAllendorf], pki_.fed.cert_pem);
  query::v1::QueryPlan existing = HourlyOccupancy();
  query::v1::QueryPlan missing = HourlyOccupancy();
  missing.set_dataset_id("gibt_es_nicht");
  QueryResult a = Query(allendorf.get(), existing, "");
  QueryResult b = Query(allendorf.get(), missing, "");
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(b.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(absl::StrReplaceAll(a.status.error_message(), {{"parkhaus_rathaus", "X"}}),
            absl::StrReplaceAll(b.status.error_message(), {{"gibt_es_nicht", "X"}}));
  EXPECT_TRUE(AuditHas(kAllendorf, "deny", "no grant"));

  // The catalog it sees holds only what a grant lets it know of.
  grpc::ClientContext ctx;
  federation::v1::GetCatalogResponse cat;
  ASSERT_TRUE(allendorf->GetCatalog(&ctx, federation::v1::GetCatalogRequest(), &cat).ok());
  ASSERT_EQ(cat.entries_size(), 1);  // the "katalog" grant
  EXPECT_EQ(cat.entries(0).dataset_id(), "parkhaus_rathaus");
}

TEST_F(TrustTest, GrantWithTwoConditionsAllowsOnlyWhenBothHold) {
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  // Purpose missing.
  QueryResult r = Query(lich.get(), HourlyOccupancy(), "");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("purpose"));
  // Purpose right, a column outside the grant.
  query::v1::QueryPlan plan = HourlyOccupancy();
  plan.mutable_select(1)->mutable_aggregate()->set_column("max_spaces");
  r = Query(lich.get(), plan, "verkehrsplanung");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("max_spaces"));
  // Rows instead of aggregates.
  query::v1::QueryPlan rows;
  rows.set_dataset_id("parkhaus_rathaus");
  rows.add_select()->set_column("occupied_spaces");
  r = Query(lich.get(), rows, "verkehrsplanung");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // Both conditions hold.
  r = Query(lich.get(), HourlyOccupancy(), "verkehrsplanung");
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
}

TEST_F(TrustTest, AggregateAccessNeverReleasesRowsAsGroupKeys) {
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  // GROUP BY the raw timestamp would make each group one row.
  query::v1::QueryPlan p;
  p.set_dataset_id("parkhaus_rathaus");
  p.add_select()->set_column("timestamp");
  p.add_select()->set_column("occupied_spaces");
  auto* n = p.add_select();
  n->set_alias("n");
  n->mutable_aggregate()->set_function(query::v1::AGGREGATE_FUNCTION_COUNT);
  p.add_group_by("timestamp");
  p.add_group_by("occupied_spaces");
  QueryResult r = Query(lich.get(), p, "verkehrsplanung");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("grouping by the timestamp column"));
  EXPECT_TRUE(AuditHas(kLich, "deny", "grouping by"));

  // Groups under the minimum cell count are withheld with their keys: by
  // hour, hour 8 has 29 scrapes, so a minute-of-hour split of hour 8 holds
  // groups under 3 rows somewhere; none of them may show its key.
  query::v1::QueryPlan q = HourlyOccupancy();
  auto* minute = q.add_select();
  minute->set_alias("m");
  minute->mutable_extract()->set_field("minute");
  minute->mutable_extract()->set_column("timestamp");
  q.add_group_by("m");
  r = Query(lich.get(), q, "verkehrsplanung");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  ASSERT_FALSE(r.messages.empty());
  const auto& cols = r.messages[0].columns();
  ASSERT_EQ(cols.size(), 4);
  EXPECT_EQ(cols[3].name(), "suppressed");
  size_t hidden = 0;
  for (const auto& m : r.messages) {
    for (const auto& row : m.rows()) {
      if (!row.values(3).bool_value()) continue;
      ++hidden;
      for (int i = 0; i < 3; ++i) EXPECT_TRUE(row.values(i).has_null_value());
    }
  }
  EXPECT_GT(hidden, 0u);
}

TEST_F(TrustTest, MemberRemovedByAmendmentIsCutOffAtItsNextCall) {
  auto wettenberg = Client(port_, &members_[kWettenberg], pki_.fed.cert_pem);
  query::v1::QueryPlan rows;
  rows.set_dataset_id("parkhaus_rathaus");
  rows.add_select()->set_column("occupied_spaces");
  rows.set_limit(5);
  QueryResult r = Query(wettenberg.get(), rows, "");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.rows, 5u);

  std::string v2 = Sign(AgreementText(2, /*with_wettenberg=*/false, "2029-01-01T00:00:00Z"),
                        {kGiessen, kLich, kAllendorf});
  std::string path = dir_.File("agreement-v2.textproto");
  std::ofstream(path) << v2;
  RunResult u = Fedctl({"agreement", "update", path});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_THAT(u.out, HasSubstr("version 2"));

  // Same channel, same TLS connection: refused at the next call.
  r = Query(wettenberg.get(), rows, "");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("not pinned"));
  EXPECT_TRUE(AuditHas("unauthenticated", "deny", "not pinned"));
}

TEST_F(TrustTest, BadAgreementsAreRefused) {
  auto try_update = [&](const std::string& name, const std::string& text) {
    std::string path = dir_.File(name + ".textproto");
    std::ofstream(path) << text;
    return Fedctl({"agreement", "update", path});
  };
  std::string v3 = AgreementText(3, true, "2029-01-01T00:00:00Z");
  // Unsigned.
  RunResult r = try_update("unsigned", v3);
  EXPECT_EQ(r.exit_code, 1);
  // Under-signed: 1 of 4, the rule asks for a majority.
  r = try_update("undersigned", Sign(v3, {kLich}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("06531011"));
  // Forged: a key that is not pinned for the member it claims.
  certs::KeyAndCert forger = pki_.Leaf(pki_.fed, kAllendorf);
  {
    auto parsed = agreement::ParseAgreement(v3, "v3");
    ASSERT_TRUE(parsed.ok());
    std::string forged = Sign(v3, {kGiessen, kLich});
    auto sig = agreement::SignAgreement(parsed->agreement(), kAllendorf, forger.key_pem,
                                        forger.cert_pem, absl::Now());
    ASSERT_TRUE(sig.ok()) << sig.status();
    std::string block;
    google::protobuf::TextFormat::PrintToString(*sig, &block);
    r = try_update("forged", absl::StrCat(forged, "signatures {\n", block, "}\n"));
    EXPECT_EQ(r.exit_code, 1);
  }
  // Tampered after signing.
  std::string signed_v3 = Sign(v3, {kGiessen, kLich, kAllendorf});
  r = try_update("tampered", absl::StrReplaceAll(signed_v3, {{"Test-Kooperationsvereinbarung",
                                                              "Geänderte Vereinbarung"}}));
  EXPECT_EQ(r.exit_code, 1);
  // Downgrade and replay: versions 0 and 1 after v1.
  r = try_update("replay", Sign(AgreementText(1, true, "2029-01-01T00:00:00Z"),
                                {kGiessen, kLich, kAllendorf, kWettenberg}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not newer than current v1"));
  // Expired.
  r = try_update("expired", Sign(AgreementText(3, true, "2021-01-01T00:00:00Z"),
                                 {kGiessen, kLich, kAllendorf}));
  EXPECT_EQ(r.exit_code, 1);
  // A CRL that does not parse would refuse everyone: rejected at load.
  {
    std::string garbage = absl::StrReplaceAll(
        AgreementText(3, true, "2029-01-01T00:00:00Z"),
        {{"  disclosure {",
          "  crls_pem: \"-----BEGIN X509 CRL-----\\nAAAA\\n-----END X509 CRL-----\\n\"\n"
          "  disclosure {"}});
    r = try_update("garbage-crl", garbage);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("crls_pem"));
  }
  // A misspelt condition key is rejected at load.
  std::string misspelt = absl::StrReplaceAll(v3, {{"purposes:", "purpose:"}});
  r = try_update("misspelt", Sign(v3, {kGiessen, kLich, kAllendorf}) + "\n" + misspelt);
  EXPECT_EQ(r.exit_code, 1);
  // Still version 1 in force, and the properly signed v3 is accepted.
  r = Fedctl({"agreement", "show"});
  EXPECT_THAT(r.out, HasSubstr("version 1"));
  r = try_update("good", signed_v3);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(TrustTest, CertificateRotationTakesEffectWithoutRestart) {
  auto seen = std::make_shared<std::string>();
  auto before = Client(port_, &members_[kLich], pki_.fed.cert_pem, seen);
  ASSERT_TRUE(Ping(before.get()).ok());
  EXPECT_EQ(*seen, Pin(members_[kGiessen]));

  // A half-written (mismatched) set is refused; the old credentials stay.
  ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("node.crt"), giessen_next_.cert_pem, 0644).ok());
  RunResult r = Fedctl({"credentials", "reload"});
  EXPECT_EQ(r.exit_code, 1);
  auto seen_mid = std::make_shared<std::string>();
  auto mid = Client(port_, &members_[kLich], pki_.fed.cert_pem, seen_mid);
  ASSERT_TRUE(Ping(mid.get()).ok());
  EXPECT_EQ(*seen_mid, Pin(members_[kGiessen]));

  // A key the agreement does not pin is refused too: it would cut the node off.
  certs::KeyAndCert unpinned = pki_.Leaf(pki_.fed, kGiessen);
  WriteCredentials(unpinned);
  r = Fedctl({"credentials", "reload"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not pinned"));

  // The complete new set is taken over: new handshakes see the new key.
  WriteCredentials(giessen_next_);
  r = Fedctl({"credentials", "reload"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(Pin(giessen_next_)));
  auto seen_after = std::make_shared<std::string>();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {  // gRPC re-reads the staged files every second
    auto after = Client(port_, &members_[kLich], pki_.fed.cert_pem, seen_after);
    ASSERT_TRUE(Ping(after.get()).ok());
    if (*seen_after == Pin(giessen_next_)) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(*seen_after, Pin(giessen_next_));
  // The connection made before the rotation still works.
  EXPECT_TRUE(Ping(before.get()).ok());
}

TEST_F(TrustTest, NodeRefusesToStartWithBrokenOwnCredentials) {
  ASSERT_EQ(node_->Stop(SIGTERM), 0);
  // Key does not match the certificate.
  ASSERT_TRUE(
      certs::WriteFileAtomically(dir_.File("other.crt"), giessen_next_.cert_pem, 0644).ok());
  WriteConfig(dir_.File("mismatch.textproto"), dir_.File("other.crt"));
  RunResult r = fednode::testing::Run({FEDNODE_BIN, "--config", dir_.File("mismatch.textproto")},
                                      absl::Seconds(30));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("match"));
  // Incomplete chain: the intermediate is missing from the chain file.
  ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("chain.crt"), "", 0644).ok());
  WriteConfig(dir_.File("nochain.textproto"), dir_.File("node.crt"));
  r = fednode::testing::Run({FEDNODE_BIN, "--config", dir_.File("nochain.textproto")},
                            absl::Seconds(30));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("does not verify to the agreement's trust anchors"));
  // A private key readable by others.
  ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("chain.crt"), pki_.fed.cert_pem, 0644).ok());
  ASSERT_EQ(::chmod(dir_.File("node.key").c_str(), 0640), 0);
  r = fednode::testing::Run({FEDNODE_BIN, "--config", dir_.File("giessen.textproto")},
                            absl::Seconds(30));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("the private key is readable by group or others (mode 0640)"));
  // The data directory the node made is its user's only.
  struct stat st {};
  ASSERT_EQ(::stat(dir_.File("data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST_F(TrustTest, AgreementFileIsInstalledOnSighupAndBadOnesAreRefused) {
  const std::string file = dir_.File("agreement-file.textproto");
  const std::string v1 = Sign(AgreementText(1, true, "2029-01-01T00:00:00Z"),
                              {kGiessen, kLich, kAllendorf, kWettenberg});
  ASSERT_TRUE(certs::WriteFileAtomically(file, v1, 0644).ok());
  ASSERT_NO_FATAL_FAILURE(Restart(absl::StrCat("  agreement_file: ", Quote(file), "\n")));
  // At start: the same version is ignored.
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(node_->Log(), "ignored: not newer than v1");
  })) << node_->Log();

  // A newer version, properly signed, is installed on SIGHUP.
  ASSERT_TRUE(certs::WriteFileAtomically(
                  file,
                  Sign(AgreementText(2, /*with_wettenberg=*/false, "2029-01-01T00:00:00Z"),
                       {kGiessen, kLich, kAllendorf}),
                  0644)
                  .ok());
  ASSERT_EQ(::kill(node_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(Fedctl({"agreement", "show"}).out, "version 2");
  })) << node_->Log();
  EXPECT_TRUE(AuditHas("admin", "allow", "installed"));

  // An under-signed v3 is refused naming the reason; v2 stays.
  ASSERT_TRUE(certs::WriteFileAtomically(
                  file, Sign(AgreementText(3, false, "2029-01-01T00:00:00Z"), {kLich}), 0644)
                  .ok());
  ASSERT_EQ(::kill(node_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(node_->Log(), "agreement_file refused") &&
           absl::StrContains(node_->Log(), "agreement v2 stays in force");
  })) << node_->Log();
  EXPECT_THAT(Fedctl({"agreement", "show"}).out, HasSubstr("version 2"));
  EXPECT_TRUE(AuditHas("admin", "error", "agreement-file.textproto"));

  // The old version again: ignored.
  ASSERT_TRUE(certs::WriteFileAtomically(file, v1, 0644).ok());
  ASSERT_EQ(::kill(node_->pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(node_->Log(), "ignored: not newer than v2");
  })) << node_->Log();
  EXPECT_THAT(Fedctl({"agreement", "show"}).out, HasSubstr("version 2"));
}

TEST_F(TrustTest, AuditArchiveRoundTripThroughFednodeAndFedctl) {
  ASSERT_TRUE(certs::WriteFileAtomically(dir_.File("root.crt"), pki_.root.cert_pem, 0644).ok());
  ASSERT_NO_FATAL_FAILURE(
      Restart("", absl::StrCat("audit { archive_dir: ", Quote(dir_.File("archive")), " }\n")));
  auto lich = Client(ReadPort(), &members_[kLich], pki_.fed.cert_pem);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Ping(lich.get()).ok()) << node_->Log();

  // Everything up to now goes into the first archive (in audit.archive_dir).
  RunResult r = Fedctl({"audit", "archive", "--older-than-days", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err << node_->Log();
  EXPECT_THAT(r.out, HasSubstr("archived entries 1.."));
  const std::string first = dir_.File("archive/audit-06531005-000000000001.fnarchive");
  EXPECT_THAT(r.out, HasSubstr(first));
  r = Fedctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(AuditHas("admin", "allow", absl::StrCat("to ", first, " (sha256 ")));

  const std::vector<std::string> verify_first = {FEDCTL_BIN,       "audit",
                                                 "verify-archive", first,
                                                 "--cert",         dir_.File("node.crt"),
                                                 "--chain",        dir_.File("chain.crt"),
                                                 "--ca",           dir_.File("root.crt"),
                                                 "--data-dir",     dir_.File("data")};
  r = fednode::testing::Run(verify_first);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("signature verified"));
  EXPECT_THAT(r.out, HasSubstr("live log  the live log continues from entry"));
  EXPECT_THAT(r.out, HasSubstr("result    valid"));

  // A second archive continues the first; the first no longer meets the
  // live log directly.
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Ping(lich.get()).ok());
  const std::string second = dir_.File("second.fnarchive");
  r = Fedctl({"audit", "archive", "--before", "2099-01-01", "--out", second});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Without --data-dir, with --next.
  std::vector<std::string> linked(verify_first.begin(), verify_first.begin() + 10);
  linked.insert(linked.end(), {"--next", second});
  r = fednode::testing::Run(linked);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("continues this archive"));
  r = fednode::testing::Run(verify_first);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("--next"));
  // With the data directory and --next: linked through the next archive.
  std::vector<std::string> with_next = verify_first;
  with_next.insert(with_next.end(), {"--next", second});
  r = fednode::testing::Run(with_next);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("live log  continues from a later archive"));
  // Without the certificate the signature is unchecked: not a pass.
  r = fednode::testing::Run({FEDCTL_BIN, "audit", "verify-archive", second});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("NOT VERIFIED"));

  // A changed entry is named.
  auto archive = audit::ReadArchiveFile(first);
  ASSERT_TRUE(archive.ok()) << archive.status();
  archive->mutable_entries(1)->set_decision(audit::v1::DECISION_DENY);
  ASSERT_TRUE(certs::WriteFileAtomically(first, audit::SerializeArchive(*archive), 0600).ok());
  r = fednode::testing::Run(linked);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("archived entry 2: hash mismatch (entry changed)"));

  // A backup after the cuts verifies, and its restore is audited at the
  // next start; the restored log still verifies from its anchor.
  const std::string backup = dir_.File("backup");
  r = Fedctl({"backup", "create", backup});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Fedctl({"backup", "verify", backup});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(node_->Stop(SIGTERM), 0);
  std::filesystem::rename(dir_.File("data"), dir_.File("data-before-restore"));
  r = fednode::testing::Run(
      {FEDCTL_BIN, "--config", dir_.File("giessen.textproto"), "backup", "restore", backup});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(node_->Start({FEDCTL_BIN, "--socket", socket_, "status"})) << node_->Log();
  EXPECT_TRUE(AuditHas("admin", "allow", "restored from backup taken at"));
  r = Fedctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

TEST_F(TrustTest, AuditLogVerifiesAfterTheTraffic) {
  auto lich = Client(port_, &members_[kLich], pki_.fed.cert_pem);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Ping(lich.get()).ok());
  auto nobody = Client(port_, nullptr);
  EXPECT_FALSE(Ping(nobody.get()).ok());
  RunResult r = Fedctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("intact"));
  std::vector<nlohmann::json> entries = AuditEntries();
  ASSERT_EQ(entries.size(), 8u);  // import, install, 5 pings, 1 refusal
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].value("seq", uint64_t{0}), i + 1);
  }
}

}  // namespace
}  // namespace fednode
