// Integration tests of the federation with real fednode processes on
// loopback: the county's merged regional statistic against a computation
// over the union of the members' rows, a member down, a member that
// refuses, a member that answers too late (an in-process fake), disclosure
// control end to end, a result over 4 MiB, and cancellation reaching the
// peer's scan and its audit log. PKI and agreement are made at test time.
//
// One federation serves every test (started once, in SetUpTestSuite):
//   06531     the county (Landkreis), asks;
//   06531001  holds rows 0..999 of the generated table, and `big`, `huge`;
//   06531002  holds rows 1000..1999 (with the one "Sonderfall" row);
//   06531003  holds rows 2000..2999;
//   06531004  holds other rows, but no grant lets the county aggregate them;
//   06531005  a fake member inside this test; its Aggregate waits `fake_delay`;
//   06531006  joined the federation, then its process was stopped.
#include "tests/support/federation.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/testing/temp_dir.h"
#include "node/query/format.h"
#include "proto/federation/v1/federation.grpc.pb.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::Quote;
using ::fednode::testing::RunResult;
using ::testing::HasSubstr;

constexpr char kCounty[] = "06531";
constexpr char kSchema[] = "urn:fednode:schema:test-leistungen:v1";
constexpr int kTableRows = 3000;  // rows 0..2999 over members 001..003
constexpr int kSonderfallRow = 1500;
constexpr int kBigRows = 60000;     // with a 100-byte label: over 4 MiB
constexpr int kHugeRows = 2000000;  // the scan cancelled by a 1 s deadline

struct MemberSpec {
  const char* ags;
  const char* name;
  int64_t population;  // 0: none (the county)
};
const MemberSpec kMembers[] = {
    {"06531", "Landkreis Gießen", 0},          {"06531001", "Allendorf (Lumda)", 10000},
    {"06531002", "Biebertal", 20000},          {"06531003", "Buseck", 30000},
    {"06531004", "Fernwald", 15000},           {"06531005", "Gießen (Fake)", 5000},
    {"06531006", "Grünberg (gestoppt)", 20000}};

// One row of the generated table "leistungen" (payments of a municipal
// service by district and category). Deterministic in `i`.
struct Row {
  std::string district, category;
  int64_t amount;
  double value;  // a multiple of 0.25: sums are exact in double
};
Row MakeRow(int i) {
  static const char* const kDistricts[] = {"Altstadt",   "Nordstadt", "Oststadt",
                                           "Südviertel", "Weststadt", "Hafen"};
  static const char* const kCategories[] = {
      "Kita",   "Kita",   "Kita",  "Kita",  "Kita",  "Kita",   "Schule", "Schule",
      "Schule", "Schule", "Sport", "Sport", "Sport", "Kultur", "Kultur", "Soziales"};
  Row r;
  r.district = kDistricts[(i * 7) % 6];
  r.category = i == kSonderfallRow ? "Sonderfall" : kCategories[i % 16];
  r.amount = (static_cast<int64_t>(i) * 37) % 1000 + 1;
  r.value = static_cast<double>((i * 13) % 400) * 0.25;
  return r;
}

std::string Csv(int from, int to) {
  std::string out = "district,category,amount,value\n";
  for (int i = from; i < to; ++i) {
    Row r = MakeRow(i);
    absl::StrAppend(&out, r.district, ",", r.category, ",", r.amount, ",", r.value, "\n");
  }
  return out;
}

std::string Spec(const std::string& dataset, const std::string& conforms_to,
                 const std::vector<std::pair<std::string, std::string>>& columns) {
  std::string s = absl::StrCat("dataset_id: ", Quote(dataset), "\n");
  if (!conforms_to.empty()) absl::StrAppend(&s, "conforms_to: ", Quote(conforms_to), "\n");
  absl::StrAppend(&s, "csv { encoding: \"utf-8\" delimiter: \",\" header_line: 1 }\n");
  for (const auto& [name, type] : columns) {
    absl::StrAppend(&s, "columns { column { name: ", Quote(name), " type: ", type,
                    " } source_name: ", Quote(name), " }\n");
  }
  return s;
}

const std::vector<std::pair<std::string, std::string>> kLeistungenColumns = {
    {"district", "COLUMN_TYPE_STRING"},
    {"category", "COLUMN_TYPE_STRING"},
    {"amount", "COLUMN_TYPE_INT64"},
    {"value", "COLUMN_TYPE_DOUBLE"}};

// The fake member 06531005: FederationService over mutual TLS with its node
// certificate from the test PKI; Aggregate waits `delay` (or until the
// caller is gone), then refuses.
class FakeMember final : public federation::v1::FederationService::Service {
 public:
  std::atomic<int> delay_ms{0};
  std::atomic<int> aggregates{0};

  grpc::Status Aggregate(grpc::ServerContext* context,
                         const federation::v1::AggregateRequest* /*request*/,
                         federation::v1::AggregateResponse* /*response*/) override {
    ++aggregates;
    const absl::Time until = absl::Now() + absl::Milliseconds(delay_ms.load());
    while (absl::Now() < until && !context->IsCancelled()) absl::SleepFor(absl::Milliseconds(20));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "fake member: no grant");
  }
};

struct Node {
  std::string ags;
  std::string dir;
  std::string socket;
  std::unique_ptr<fednode::testing::NodeProcess> process;
  int port = 0;
};

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

class FederationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fednode::testing::TempDir();
    pki_ = new fednode::testing::TestPki();
    keys_ = new std::map<std::string, certs::KeyAndCert>();
    nodes_ = new std::map<std::string, Node>();
    root_ = pki_->Ca(nullptr, "Föderation Test Root");
    fed_ = pki_->Ca(&root_, "Föderation Landkreis Gießen Test-CA");
    for (const MemberSpec& m : kMembers) (*keys_)[m.ags] = pki_->Leaf(fed_, m.ags);

    // The fake member listens first: its port goes into the agreement.
    fake_ = new FakeMember();
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    const certs::KeyAndCert& fk = (*keys_)["06531005"];
    ssl.pem_key_cert_pairs.push_back({fk.key_pem, fk.cert_pem + fed_.cert_pem});
    ssl.pem_root_certs = root_.cert_pem;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &fake_port_);
    builder.RegisterService(fake_);
    fake_server_ = builder.BuildAndStart().release();
    ASSERT_GT(fake_port_, 0);

    // Real nodes: start, install agreement v1 (endpoints not known yet).
    std::string v1 = SignedAgreement(1);
    std::string v1_path = WriteFile(dir_->File("agreement-v1.textproto"), v1);
    auto parsed = agreement::ParseAgreement(v1, "v1");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    const std::string fingerprint = agreement::Fingerprint(parsed->agreement());
    for (const MemberSpec& m : kMembers) {
      if (std::string(m.ags) == "06531005") continue;
      Node& n = (*nodes_)[m.ags];
      n.ags = m.ags;
      n.dir = dir_->File(m.ags);
      ASSERT_EQ(mkdir(n.dir.c_str(), 0700), 0);
      n.socket = absl::StrCat("/tmp/fednode-fed-", getpid(), "-", m.ags, ".sock");
      const certs::KeyAndCert& kc = (*keys_)[m.ags];
      ASSERT_TRUE(certs::WriteFileAtomically(n.dir + "/node.key", kc.key_pem, 0600).ok());
      WriteFile(n.dir + "/node.crt", kc.cert_pem);
      WriteFile(n.dir + "/chain.crt", fed_.cert_pem);
      WriteFile(
          n.dir + "/fednode.textproto",
          absl::StrCat("member_ags: ", Quote(m.ags), "\nmember_name: ", Quote(m.name),
                       "\ndata_dir: ", Quote(n.dir + "/data"), "\nadmin_socket: ", Quote(n.socket),
                       "\nfederation {\n  listen_address: \"127.0.0.1:0\"\n  port_file: ",
                       Quote(n.dir + "/port"), "\n  key_file: ", Quote(n.dir + "/node.key"),
                       "\n  cert_file: ", Quote(n.dir + "/node.crt"),
                       "\n  chain_file: ", Quote(n.dir + "/chain.crt"), "\n}\n"));
      n.process = std::make_unique<fednode::testing::NodeProcess>(
          FEDNODE_BIN, n.dir + "/fednode.textproto", n.dir + "/fednode.log");
      ASSERT_TRUE(n.process->Start({FEDCTL_BIN, "--socket", n.socket, "status"}))
          << n.process->Log();
      RunResult r = Fedctl(m.ags, {"agreement", "install", v1_path, "--fingerprint", fingerprint});
      ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
      std::ifstream(n.dir + "/port") >> n.port;
      ASSERT_GT(n.port, 0) << n.process->Log();
    }
    // Version 2 names every member's real endpoint.
    std::string v2_path = WriteFile(dir_->File("agreement-v2.textproto"), SignedAgreement(2));
    for (auto& [ags, n] : *nodes_) {
      RunResult r = Fedctl(ags, {"agreement", "update", v2_path});
      ASSERT_EQ(r.exit_code, 0) << ags << ": " << r.err << r.out;
    }

    // Data: slices of one table, and the union on the county for comparison.
    const std::string spec =
        WriteFile(dir_->File("leistungen.spec"), Spec("leistungen", kSchema, kLeistungenColumns));
    const std::string md =
        WriteFile(dir_->File("leistungen.md"),
                  "title: \"Leistungen nach Kategorie\"\ndescription: \"Synthetische Testdaten\"\n"
                  "access_class: ACCESS_CLASS_FEDERATION\n");
    const std::map<std::string, std::pair<int, int>> slices = {{"06531001", {0, 1000}},
                                                               {"06531002", {1000, 2000}},
                                                               {"06531003", {2000, 3000}},
                                                               {"06531004", {3000, 3500}}};
    for (const auto& [ags, range] : slices) {
      std::string csv = WriteFile(dir_->File(ags + ".csv"), Csv(range.first, range.second));
      RunResult r = Fedctl(
          ags, {"import", "--dataset", "leistungen", "--schema", spec, "--metadata", md, csv});
      ASSERT_EQ(r.exit_code, 0) << ags << ": " << r.err;
    }
    const std::string union_spec =
        WriteFile(dir_->File("union.spec"), Spec("leistungen_alle", "", kLeistungenColumns));
    RunResult r =
        Fedctl(kCounty, {"import", "--dataset", "leistungen_alle", "--schema", union_spec,
                         "--metadata", md, WriteFile(dir_->File("union.csv"), Csv(0, kTableRows))});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    // 06531006 was a member with a running node; now it is down.
    ASSERT_EQ((*nodes_)["06531006"].process->Stop(SIGTERM), 0);
  }

  static void TearDownTestSuite() {
    if (nodes_ != nullptr) {
      for (auto& [ags, n] : *nodes_) {
        if (n.process != nullptr && n.process->running()) {
          EXPECT_EQ(n.process->Stop(SIGTERM), 0) << ags << ": " << n.process->Log();
        }
      }
    }
    if (fake_server_ != nullptr) {
      fake_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
      delete fake_server_;
    }
    delete fake_;
    delete nodes_;
    delete keys_;
    delete pki_;
    delete dir_;
  }

  // The agreement (version 1 or 2), signed by every member. Version 1 has
  // placeholder endpoints; version 2 the ports the nodes bound.
  static std::string SignedAgreement(int version) {
    std::string t =
        absl::StrCat("agreement {\n  agreement_id: \"kv-fed-test\"\n  version: ", version,
                     "\n  title: \"Test\"\n  valid_from: \"2020-01-01T00:00:00Z\"\n"
                     "  valid_until: \"2099-01-01T00:00:00Z\"\n");
    for (const MemberSpec& m : kMembers) {
      int port = 1;
      if (version > 1) port = std::string(m.ags) == "06531005" ? fake_port_ : (*nodes_)[m.ags].port;
      absl::StrAppend(&t, "  members { ags: ", Quote(m.ags), " name: ", Quote(m.name), " role: ",
                      std::string(m.ags) == kCounty ? "ROLE_COUNTY" : "ROLE_MUNICIPALITY",
                      " endpoint: \"127.0.0.1:", port,
                      "\" spki_sha256: ", Quote(fednode::testing::Pin((*keys_)[m.ags])));
      if (m.population > 0) {
        absl::StrAppend(&t, " population: ", m.population, " population_date: \"2019-12-31\"");
      }
      absl::StrAppend(&t, " }\n");
    }
    absl::StrAppend(&t, "  trust_anchors_pem: ", Quote(root_.cert_pem), "\n");
    // 06531004 is no holder of the county's aggregate grant: it refuses.
    absl::StrAppend(
        &t,
        "  grants { id: \"kreis-leistungen\" min_cell_count: 1 grantee_roles: ROLE_COUNTY "
        "holders: \"06531001\" holders: \"06531002\" holders: \"06531003\" holders: \"06531005\" "
        "holders: \"06531006\" conforms_to: ",
        Quote(kSchema),
        " access: ACCESS_AGGREGATE purposes: \"regionalstatistik\" }\n"
        "  grants { id: \"kreis-zeilen\" grantees: \"06531\" holders: \"06531001\" "
        "datasets: \"big\" datasets: \"huge\" access: ACCESS_ROWS purposes: \"pruefung\" }\n"
        "  grants { id: \"katalog\" grantees: \"*\" holders: \"*\" datasets: \"*\" "
        "access: ACCESS_CATALOG }\n"
        "  disclosure { min_cell_count: 3 }\n  amendment_rule { kind: KIND_MAJORITY }\n}\n");
    std::vector<std::string> signers;
    for (const MemberSpec& m : kMembers) signers.push_back(m.ags);
    return fednode::testing::SignAgreementText(t, signers, *keys_);
  }

  static RunResult Fedctl(const std::string& ags, std::vector<std::string> args,
                          absl::Duration timeout = absl::Seconds(60)) {
    args.insert(args.begin(), {FEDCTL_BIN, "--socket", (*nodes_)[ags].socket});
    return fednode::testing::Run(args, timeout);
  }

  // `fedctl aggregate --format json` on the county: the rows, and the
  // coverage line and rule from stderr.
  struct Aggregated {
    RunResult run;
    nlohmann::json rows;
    std::string coverage;
  };
  static Aggregated Aggregate(const std::string& sql, std::vector<std::string> extra = {},
                              int deadline_seconds = 10) {
    std::vector<std::string> args = {
        "aggregate", "--conforms-to",     kSchema,
        "--purpose", "regionalstatistik", "--format",
        "json",      "--deadline",        absl::StrCat(deadline_seconds)};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(sql);
    Aggregated a;
    a.run = Fedctl(kCounty, args);
    EXPECT_EQ(a.run.exit_code, 0) << a.run.err;
    if (a.run.exit_code == 0) a.rows = nlohmann::json::parse(a.run.out);
    std::vector<std::string> lines = absl::StrSplit(a.run.err, '\n');
    if (!lines.empty()) a.coverage = lines[0];
    return a;
  }

  // Audit entries of a node, from `fedctl audit export`.
  static std::vector<nlohmann::json> AuditEntries(const std::string& ags) {
    RunResult r = Fedctl(ags, {"audit", "export"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> out;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  static inline fednode::testing::TempDir* dir_ = nullptr;
  static inline fednode::testing::TestPki* pki_ = nullptr;
  static inline certs::KeyAndCert root_, fed_;
  static inline std::map<std::string, certs::KeyAndCert>* keys_ = nullptr;
  static inline std::map<std::string, Node>* nodes_ = nullptr;
  static inline FakeMember* fake_ = nullptr;
  static inline grpc::Server* fake_server_ = nullptr;
  static inline int fake_port_ = 0;
};

constexpr char kByCategory[] =
    "SELECT category, COUNT(*) AS cnt, SUM(amount) AS total_amount, MIN(amount) AS min_amount, "
    "MAX(value) AS max_value, AVG(value) AS avg_value FROM leistungen GROUP BY category";

// Per category, from the generating rule.
struct Expected {
  int64_t cnt = 0, sum = 0, min = INT64_MAX;
  double max = -1, vsum = 0;
};
std::map<std::string, Expected> ExpectedByCategory() {
  std::map<std::string, Expected> out;
  for (int i = 0; i < kTableRows; ++i) {
    Row r = MakeRow(i);
    Expected& e = out[r.category];
    ++e.cnt;
    e.sum += r.amount;
    e.min = std::min(e.min, r.amount);
    e.max = std::max(e.max, r.value);
    e.vsum += r.value;
  }
  return out;
}

std::string Fmt(double d) {
  query::v1::Value v;
  v.set_double_value(d);
  return query::FormatValue(v);
}

// A JSON number as the table prints it (doubles to 10 significant digits).
std::string JsonNumber(const nlohmann::json& j) {
  if (j.is_number_integer()) return absl::StrCat(j.get<int64_t>());
  if (j.is_number()) return Fmt(j.get<double>());
  return j.dump();
}

TEST_F(FederationTest, NoContributionIsAnErrorNotAnEmptyTable) {
  RunResult r = Fedctl(
      kCounty, {"aggregate", "--conforms-to", "urn:fednode:schema:gibt-es-nicht:v1", "--purpose",
                "regionalstatistik", "--deadline", "10", "SELECT COUNT(*) AS n FROM x"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("no member contributed data: partial: "));
}

TEST_F(FederationTest, MergedAggregateEqualsTheUnionComputedOnOneNodeAndInCpp) {
  Aggregated a = Aggregate(kByCategory);
  ASSERT_EQ(a.run.exit_code, 0);
  // The same SQL over the union, run locally on the county's node.
  RunResult local = Fedctl(
      kCounty, {"query", "--format", "json",
                absl::StrReplaceAll(kByCategory, {{"FROM leistungen", "FROM leistungen_alle"}})});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  nlohmann::json union_rows = nlohmann::json::parse(local.out);
  std::map<std::string, nlohmann::json> by_key;
  for (const auto& row : union_rows) by_key[row["category"].get<std::string>()] = row;

  const std::map<std::string, Expected> want = ExpectedByCategory();
  ASSERT_EQ(by_key.size(), want.size());
  size_t cells = 0;
  for (const auto& row : a.rows) {
    if (!row["total"].is_null()) {
      // The grand total: every row of the union.
      EXPECT_EQ(row["total"], "grand");
      EXPECT_EQ(row["cnt"].get<int64_t>(), kTableRows);
      continue;
    }
    const std::string key = row["category"].get<std::string>();
    ASSERT_TRUE(want.count(key)) << key;
    const Expected& e = want.at(key);
    EXPECT_TRUE(row["suppressed"].is_null()) << key;
    for (const char* col : {"cnt", "total_amount", "min_amount", "max_value", "avg_value"}) {
      EXPECT_EQ(JsonNumber(row[col]), JsonNumber(by_key[key][col])) << key << " " << col;
    }
    EXPECT_EQ(row["n"].get<int64_t>(), e.cnt) << key;
    EXPECT_EQ(row["cnt"].get<int64_t>(), e.cnt) << key;
    EXPECT_EQ(row["total_amount"].get<int64_t>(), e.sum) << key;
    EXPECT_EQ(row["min_amount"].get<int64_t>(), e.min) << key;
    EXPECT_EQ(JsonNumber(row["max_value"]), Fmt(e.max)) << key;
    EXPECT_EQ(JsonNumber(row["avg_value"]), Fmt(e.vsum / static_cast<double>(e.cnt))) << key;
    ++cells;
  }
  EXPECT_EQ(cells, want.size());
}

TEST_F(FederationTest, MemberDownRefusingAndLateAreNamedWithTheCoveredPopulationShare) {
  fake_->delay_ms = 30000;  // far beyond the deadline
  const int before = fake_->aggregates.load();
  const absl::Time start = absl::Now();
  Aggregated a = Aggregate(kByCategory, {}, /*deadline_seconds=*/3);
  const absl::Duration took = absl::Now() - start;
  fake_->delay_ms = 0;
  ASSERT_EQ(a.run.exit_code, 0);
  EXPECT_EQ(fake_->aggregates.load(), before + 1);
  // Returns at all, soon after the deadline (generous bound, not a timing test).
  EXPECT_LT(took, absl::Seconds(3 + 10));

  // Answered: 001, 002, 003 = 60000 of 100000 inhabitants in the agreement.
  int64_t answered = 0, total = 0;
  for (const MemberSpec& m : kMembers) {
    total += m.population;
    const std::string ags = m.ags;
    if (ags == "06531001" || ags == "06531002" || ags == "06531003") answered += m.population;
  }
  const std::string share =
      absl::StrFormat("%.2f %% of the population",
                      100.0 * static_cast<double>(answered) / static_cast<double>(total));
  EXPECT_EQ(share, "60.00 % of the population");
  EXPECT_THAT(a.coverage,
              HasSubstr(absl::StrCat("partial: 3 of 6 members answered (", share, ")")));
  EXPECT_THAT(a.coverage, HasSubstr("06531006 Grünberg (gestoppt) (unreachable"));
  EXPECT_THAT(a.coverage, HasSubstr("06531004 Fernwald (refused: "));
  EXPECT_THAT(a.coverage, HasSubstr("no grant"));
  EXPECT_THAT(a.coverage, HasSubstr("06531005 Gießen (Fake) (deadline exceeded"));

  // The answering members' partials are merged: the union's totals.
  bool grand = false;
  for (const auto& row : a.rows) {
    if (row["total"] == "grand") {
      grand = true;
      EXPECT_EQ(row["cnt"].get<int64_t>(), kTableRows);
    }
  }
  EXPECT_TRUE(grand);
  // The refusal is in the refusing member's audit log.
  bool denied = false;
  for (const auto& e : AuditEntries("06531004")) {
    if (e["caller"] == kCounty && e["operation"] == "federation.Aggregate" &&
        e["decision"] != "allow" && absl::StrContains(e["reason"].get<std::string>(), "no grant")) {
      denied = true;
    }
  }
  EXPECT_TRUE(denied);
}

TEST_F(FederationTest, SuppressionHidesTheSmallCellAndOneMoreSoTheTotalRevealsNeither) {
  Aggregated a = Aggregate(kByCategory, {"--min-cell-count", "3"});
  ASSERT_EQ(a.run.exit_code, 0);
  EXPECT_THAT(a.run.err, HasSubstr("primary: fewer than 3 rows"));
  const std::map<std::string, Expected> want = ExpectedByCategory();
  ASSERT_EQ(want.at("Sonderfall").cnt, 1);
  // Secondary: the other category with the fewest rows (all counts differ).
  std::string secondary;
  for (const auto& [key, e] : want) {
    if (key != "Sonderfall" && (secondary.empty() || e.cnt < want.at(secondary).cnt)) {
      secondary = key;
    }
  }
  int64_t shown_cnt = 0, shown_sum = 0;
  for (const auto& row : a.rows) {
    if (row["total"] == "grand") {
      EXPECT_TRUE(row["suppressed"].is_null());
      EXPECT_EQ(row["cnt"].get<int64_t>(), kTableRows);
      int64_t sum = 0;
      for (const auto& [key, e] : want) sum += e.sum;
      EXPECT_EQ(row["total_amount"].get<int64_t>(), sum);
      continue;
    }
    const std::string key = row["category"].get<std::string>();
    if (key == "Sonderfall") {
      EXPECT_EQ(row["suppressed"], "primary");
      EXPECT_TRUE(row["cnt"].is_null() && row["total_amount"].is_null() && row["n"].is_null());
    } else if (key == secondary) {
      EXPECT_EQ(row["suppressed"], "secondary");
      EXPECT_TRUE(row["cnt"].is_null() && row["total_amount"].is_null());
    } else {
      EXPECT_TRUE(row["suppressed"].is_null()) << key;
      EXPECT_EQ(row["cnt"].get<int64_t>(), want.at(key).cnt) << key;
      EXPECT_EQ(row["total_amount"].get<int64_t>(), want.at(key).sum) << key;
      EXPECT_EQ(row["min_amount"].get<int64_t>(), want.at(key).min) << key;
      shown_cnt += want.at(key).cnt;
      shown_sum += want.at(key).sum;
    }
  }
  // What the total reveals is only the sum of both hidden cells.
  EXPECT_EQ(kTableRows - shown_cnt, want.at("Sonderfall").cnt + want.at(secondary).cnt);
  int64_t all_sum = 0;
  for (const auto& [key, e] : want) all_sum += e.sum;
  EXPECT_EQ(all_sum - shown_sum, want.at("Sonderfall").sum + want.at(secondary).sum);
  // The table text marks them.
  RunResult table = Fedctl(kCounty, {"aggregate", "--conforms-to", kSchema, "--purpose",
                                     "regionalstatistik", "--min-cell-count", "3", kByCategory});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, ::testing::ContainsRegex("Sonderfall *\\| *\\(p\\)"));
  EXPECT_THAT(table.out, ::testing::ContainsRegex(secondary + " *\\| *\\(s\\)"));
}

TEST_F(FederationTest, RowResultOverFourMebibytesArrivesComplete) {
  std::string csv = "id,label\n";
  int64_t id_sum = 0;
  for (int i = 0; i < kBigRows; ++i) {
    int64_t id = int64_t{1000003} * i % 9999991;
    id_sum += id;
    std::string label = absl::StrCat("Zeile ", i, " ");
    label.resize(100, 'x');  // 100 bytes, no blanks for the importer to trim
    absl::StrAppend(&csv, id, ",", label, "\n");
  }
  ASSERT_GT(csv.size(), size_t{4} << 20);
  const std::string spec =
      WriteFile(dir_->File("big.spec"),
                Spec("big", "", {{"id", "COLUMN_TYPE_INT64"}, {"label", "COLUMN_TYPE_STRING"}}));
  const std::string md = WriteFile(dir_->File("big.md"),
                                   "title: \"Groß\"\ndescription: \"Zeilen\"\n"
                                   "access_class: ACCESS_CLASS_FEDERATION\n");
  RunResult r = Fedctl("06531001", {"import", "--dataset", "big", "--schema", spec, "--metadata",
                                    md, WriteFile(dir_->File("big.csv"), csv)});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Fedctl(kCounty, {"query", "--peer", "06531001", "--purpose", "pruefung", "--format", "csv",
                       "SELECT * FROM big"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), size_t{4} << 20);
  int64_t rows = 0, sum = 0;
  bool header = true;
  for (absl::string_view line : absl::StrSplit(r.out, "\r\n", absl::SkipEmpty())) {
    if (header) {
      EXPECT_EQ(line, "id,label");
      header = false;
      continue;
    }
    int64_t id = 0;
    ASSERT_TRUE(absl::SimpleAtoi(line.substr(0, line.find(',')), &id)) << line;
    sum += id;
    ++rows;
  }
  EXPECT_EQ(rows, kBigRows);
  EXPECT_EQ(sum, id_sum);
}

TEST_F(FederationTest, CancelledQueryStopsAtThePeerAndIsAudited) {
  // A few million rows, written without per-row formatting overhead.
  std::string csv = "id,grp,v\n";
  csv.reserve(size_t{kHugeRows} * 24);
  for (int i = 0; i < kHugeRows; ++i) {
    absl::StrAppend(&csv, i, ",g", i % 4, ",", i % 1000, ".5\n");
  }
  const std::string spec = WriteFile(dir_->File("huge.spec"), Spec("huge", "",
                                                                   {{"id", "COLUMN_TYPE_INT64"},
                                                                    {"grp", "COLUMN_TYPE_STRING"},
                                                                    {"v", "COLUMN_TYPE_DOUBLE"}}));
  const std::string md = WriteFile(dir_->File("huge.md"),
                                   "title: \"Sehr groß\"\ndescription: \"Zeilen\"\n"
                                   "access_class: ACCESS_CLASS_FEDERATION\n");
  RunResult r = Fedctl("06531001", {"import", "--dataset", "huge", "--schema", spec, "--metadata",
                                    md, WriteFile(dir_->File("huge.csv"), csv)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  csv.clear();

  // The county asks directly, with its own certificate and a 1 s deadline.
  const Node& holder = (*nodes_)["06531001"];
  auto county = fednode::testing::FederationClient(holder.port, &(*keys_)[kCounty], fed_.cert_pem);
  federation::v1::QueryRequest req;
  req.mutable_plan()->set_dataset_id("huge");
  req.set_purpose("pruefung");
  size_t received = 0;
  grpc::Status status;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    auto reader = county->Query(&ctx, req);
    federation::v1::QueryResponse m;
    // A slow reader (the whole answer would take about 10 s): the holder
    // streams faster than a deadline of 1 s would otherwise catch.
    while (reader->Read(&m)) {
      received += static_cast<size_t>(m.rows_size());
      absl::SleepFor(absl::Milliseconds(20));
    }
    status = reader->Finish();
  }
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
              status.error_code() == grpc::StatusCode::CANCELLED)
      << status.error_code() << " " << status.error_message();
  EXPECT_LT(received, static_cast<size_t>(kHugeRows));

  // The holder's audit log says the query was stopped (bounded wait: the
  // entry is written when the holder notices).
  std::string reason;
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (reason.empty() && absl::Now() < until) {
    for (const auto& e : AuditEntries("06531001")) {
      if (e["caller"] == kCounty && e["operation"] == "federation.Query" &&
          e["dataset_id"] == "huge" && e["decision"] == "error") {
        reason = e["reason"].get<std::string>();
      }
    }
    if (reason.empty()) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_THAT(
      reason,
      ::testing::AnyOf(
          ::testing::MatchesRegex("grant kreis-zeilen; stopped: (deadline passed|caller cancelled) "
                                  "after scanning [0-9]+ rows"),
          ::testing::MatchesRegex("stream stopped by the caller after [0-9]+ rows")));

  // The holder answers the next small question at once.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  req.mutable_plan()->set_limit(3);
  auto reader = county->Query(&ctx, req);
  federation::v1::QueryResponse m;
  size_t rows = 0;
  while (reader->Read(&m)) rows += static_cast<size_t>(m.rows_size());
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rows, 3u);
}

}  // namespace
}  // namespace fednode
