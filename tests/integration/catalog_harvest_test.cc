// Integration test of catalog exchange with three real fednode processes on
// loopback and a PKI generated at test time (no key in the repository):
// Gießen holds two datasets, one of which Lich's grant covers; Lich harvests
// Gießen's catalog (and Allendorf's, which is empty) and searches the
// federation catalog; Gießen's later changes reach Lich incrementally.
//
// The federation ports are bound to port 0, so the agreement with the real
// endpoints is an amendment (v2) of a first agreement installed to open the
// ports (v1), signed by all three members like any amendment.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/testing/temp_dir.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::RunResult;
using ::fednode::testing::SourcePath;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kGiessen[] = "06531005";
constexpr char kLich[] = "06531011";
constexpr char kAllendorf[] = "06531001";

struct Member {
  std::string ags;
  std::string name;
  certs::KeyAndCert credentials;
  std::string socket;
  int port = 0;
  std::unique_ptr<fednode::testing::NodeProcess> process;
};

// The lines of `text` that start with `prefix`.
std::vector<std::string> LinesStartingWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, prefix)) out.emplace_back(line);
  }
  return out;
}

// The whitespace-separated fields of `line`.
std::vector<std::string> Fields(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

class CatalogHarvestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Time now = absl::Now();
    certs::CaOptions ca;
    ca.common_name = "Föderation Landkreis Gießen Test-CA";
    ca.organization = "fednode tests";
    ca.not_before = now - absl::Hours(2);
    ca.not_after = now + absl::Hours(24);
    auto root = certs::CreateRootCa(ca);
    ASSERT_TRUE(root.ok()) << root.status();
    ca_ = *root;
    const std::vector<std::pair<std::string, std::string>> names = {
        {kGiessen, "Gießen, Universitätsstadt"},
        {kLich, "Lich, Stadt"},
        {kAllendorf, "Allendorf (Lumda), Stadt"}};
    for (const auto& [ags, name] : names) {
      Member& m = members_[ags];
      m.ags = ags;
      m.name = name;
      certs::NodeCertOptions o;
      o.ags = ags;
      o.common_name = absl::StrCat("fednode ", ags);
      o.dns_names = {"localhost"};
      o.ip_addresses = {"127.0.0.1"};
      o.not_before = now - absl::Hours(1);
      o.not_after = now + absl::Hours(24);
      auto kc = certs::IssueNodeCertificate(ca_, o);
      ASSERT_TRUE(kc.ok()) << kc.status();
      m.credentials = *kc;
      StartNode(m);
    }
    // v1 opens the ports; v2 names them.
    InstallOnAll(AgreementText(1), /*first=*/true);
    for (auto& [ags, m] : members_) {
      std::ifstream in(dir_.File(absl::StrCat(ags, "/port")));
      in >> m.port;
      ASSERT_GT(m.port, 0) << m.process->Log();
    }
    InstallOnAll(AgreementText(2), /*first=*/false);
  }

  void TearDown() override {
    for (auto& [ags, m] : members_) {
      if (m.process != nullptr && m.process->running()) {
        EXPECT_EQ(m.process->Stop(SIGTERM), 0) << m.process->Log();
      }
    }
  }

  void StartNode(Member& m) {
    const std::string d = dir_.File(m.ags);
    std::filesystem::create_directories(d);
    ASSERT_TRUE(certs::WriteFileAtomically(d + "/node.key", m.credentials.key_pem, 0600).ok());
    ASSERT_TRUE(certs::WriteFileAtomically(d + "/node.crt", m.credentials.cert_pem, 0644).ok());
    m.socket = absl::StrCat("/tmp/fednode-harvest-", getpid(), "-", m.ags, ".sock");
    const std::string config = d + "/node.textproto";
    std::ofstream(config) << "member_ags: \"" << m.ags << "\"\n"
                          << "member_name: \"" << m.name << "\"\n"
                          << "data_dir: \"" << d << "/data\"\n"
                          << "admin_socket: \"" << m.socket << "\"\n"
                          << "federation {\n"
                          << "  listen_address: \"127.0.0.1:0\"\n"
                          << "  port_file: \"" << d << "/port\"\n"
                          << "  key_file: \"" << d << "/node.key\"\n"
                          << "  cert_file: \"" << d << "/node.crt\"\n"
                          << "  reload_interval_seconds: 3600\n"
                          << "  catalog_harvest_interval_seconds: 0\n"
                          << "}\n";
    m.process =
        std::make_unique<fednode::testing::NodeProcess>(FEDNODE_BIN, config, d + "/fednode.log");
    ASSERT_TRUE(m.process->Start({FEDCTL_BIN, "--socket", m.socket, "status"})) << m.process->Log();
  }

  // Gießen's datasets: Lich may aggregate bundestagswahl_2013; only
  // Allendorf may know of landtagswahl_2013. No catalog grant for everyone.
  std::string AgreementText(int version) {
    std::string t =
        absl::StrCat("agreement {\n  agreement_id: \"kv-harvest\"\n  version: ", version,
                     "\n  title: \"Test\"\n  valid_from: \"2020-01-01T00:00:00Z\"\n"
                     "  valid_until: \"2099-01-01T00:00:00Z\"\n");
    for (const auto& [ags, m] : members_) {
      auto pin = certs::SpkiSha256(m.credentials.cert_pem);
      EXPECT_TRUE(pin.ok()) << pin.status();
      absl::StrAppend(&t, "  members { ags: \"", ags, "\" name: \"", m.name,
                      "\" role: ROLE_MUNICIPALITY endpoint: \"127.0.0.1:", m.port == 0 ? 1 : m.port,
                      "\" spki_sha256: \"", pin.value_or(""), "\" }\n");
    }
    absl::StrAppend(
        &t, "  trust_anchors_pem: \"", absl::StrReplaceAll(ca_.cert_pem, {{"\n", "\\n"}}), "\"\n",
        "  grants { id: \"lich-wahl\" grantees: \"06531011\" holders: \"06531005\" "
        "datasets: \"bundestagswahl_2013\" access: ACCESS_AGGREGATE }\n",
        "  grants { id: \"allendorf-wahl\" grantees: \"06531001\" holders: \"06531005\" "
        "datasets: \"landtagswahl_2013\" access: ACCESS_ROWS }\n",
        "  amendment_rule { kind: KIND_MAJORITY }\n}\n");
    auto parsed = agreement::ParseAgreement(t, "agreement");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    if (!parsed.ok()) return t;
    for (const auto& [ags, m] : members_) {
      auto sig = agreement::SignAgreement(parsed->agreement(), ags, m.credentials.key_pem,
                                          m.credentials.cert_pem, absl::Now());
      EXPECT_TRUE(sig.ok()) << sig.status();
      if (!sig.ok()) continue;
      std::string block;
      google::protobuf::TextFormat::PrintToString(*sig, &block);
      absl::StrAppend(&t, "signatures {\n", block, "}\n");
    }
    return t;
  }

  void InstallOnAll(const std::string& text, bool first) {
    const std::string path = dir_.File(first ? "agreement-v1.textproto" : "agreement-v2.textproto");
    std::ofstream(path) << text;
    auto parsed = agreement::ParseAgreement(text, "agreement");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    for (auto& [ags, m] : members_) {
      RunResult r = first ? Fedctl(m, {"agreement", "install", path, "--fingerprint",
                                       agreement::Fingerprint(parsed->agreement())})
                          : Fedctl(m, {"agreement", "update", path});
      ASSERT_EQ(r.exit_code, 0) << ags << ": " << r.err << r.out;
    }
  }

  RunResult Fedctl(const Member& m, std::vector<std::string> args) {
    args.insert(args.begin(), {FEDCTL_BIN, "--socket", m.socket});
    return fednode::testing::Run(args);
  }

  // Lich's `fedctl catalog --federation ...`; fails the test unless exit 0.
  std::string LichCatalog(std::vector<std::string> args) {
    args.insert(args.begin(), {"catalog", "--federation"});
    RunResult r = Fedctl(members_[kLich], args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  void Import(const std::string& dataset, const std::string& file) {
    RunResult r =
        Fedctl(members_[kGiessen],
               {"import", "--dataset", dataset, "--schema",
                SourcePath(absl::StrCat("deploy/specs/", dataset, ".textproto")), "--metadata",
                SourcePath(absl::StrCat("deploy/giessen/metadata/", dataset, ".textproto")),
                SourcePath(absl::StrCat("deploy/data/giessen/wahlen/", file))});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  fednode::testing::TempDir dir_;
  certs::KeyAndCert ca_;
  std::map<std::string, Member> members_;
};

TEST_F(CatalogHarvestTest, LichSeesExactlyItsGrantedDatasetAndLaterChangesIncrementally) {
  Import("bundestagswahl_2013", "Bundestagswahl-Ergebnisse_2013.CSV");
  Import("landtagswahl_2013", "Landtagswahl-Ergebnisse_2013.CSV");

  // First harvest: full, one page per member.
  std::string out = LichCatalog({"--refresh"});
  std::vector<std::string> giessen = LinesStartingWith(out, kGiessen);
  ASSERT_EQ(giessen.size(), 2u) << out;  // the harvest line and the catalog row
  EXPECT_THAT(Fields(giessen[0]), ::testing::ElementsAre(kGiessen, "Gießen,", "Universitätsstadt",
                                                         "ok", "1", "0", "1", "full", "1"));
  std::vector<std::string> allendorf = LinesStartingWith(out, kAllendorf);
  ASSERT_EQ(allendorf.size(), 1u) << out;
  EXPECT_THAT(Fields(allendorf[0]),
              ::testing::ElementsAre(kAllendorf, "Allendorf", "(Lumda),", "Stadt", "ok", "0", "0",
                                     "1", "full", "0"));
  // Holder, title, access under Lich's grant, access class, schema, rows.
  EXPECT_THAT(giessen[1], HasSubstr("Gießen, Universitätsstadt  bundestagswahl_2013  "
                                    "Bundestagswahl 2013 – Ergebnisse nach Wahlbezirken in Gießen"
                                    "  aggregate  federation  "
                                    "urn:fednode:schema:bundestagswahl-2013-wahlbezirk:v1  74  "));
  EXPECT_THAT(out, HasSubstr("(1 dataset)\n"));
  EXPECT_THAT(out, Not(HasSubstr("landtagswahl")));

  // Gießen renames the granted dataset and deletes the other one; Lich's
  // next harvest fetches only the rename (the deletion of a dataset it
  // never saw stays invisible to it).
  const std::string md = dir_.File("bundestagswahl.textproto");
  std::ifstream in(SourcePath("deploy/giessen/metadata/bundestagswahl_2013.textproto"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(md) << absl::StrReplaceAll(
      text, {{"Bundestagswahl 2013 – Ergebnisse nach Wahlbezirken in Gießen",
              "Bundestagswahl 2013 – Wahlbezirke GIESSEN (berichtigt)"}});
  ASSERT_EQ(
      Fedctl(members_[kGiessen], {"catalog", "set-metadata", "bundestagswahl_2013", md}).exit_code,
      0);
  ASSERT_EQ(Fedctl(members_[kGiessen], {"delete", "landtagswahl_2013"}).exit_code, 0);
  out = LichCatalog({"--refresh", "gießen"});
  giessen = LinesStartingWith(out, kGiessen);
  ASSERT_EQ(giessen.size(), 2u) << out;
  EXPECT_THAT(Fields(giessen[0]), ::testing::ElementsAre(kGiessen, "Gießen,", "Universitätsstadt",
                                                         "ok", "1", "0", "1", "incremental", "1"));
  EXPECT_THAT(giessen[1],
              HasSubstr("bundestagswahl_2013  Bundestagswahl 2013 – Wahlbezirke GIESSEN "
                        "(berichtigt)  aggregate"));
  EXPECT_THAT(out, HasSubstr("(1 dataset)\n"));

  // Umlaut folding: "GIESSEN" in the title is found as "Gießen" and
  // "giessen"; another word matches nothing.
  for (const char* word : {"gießen", "Giessen", "GIEẞEN"}) {
    EXPECT_THAT(LichCatalog({word, "bundestagswahl"}), HasSubstr("(1 dataset)\n")) << word;
  }
  EXPECT_THAT(LichCatalog({"münchen"}), HasSubstr("(0 datasets)\n"));

  // The deletion of the granted dataset reaches Lich as a removal.
  ASSERT_EQ(Fedctl(members_[kGiessen], {"delete", "bundestagswahl_2013"}).exit_code, 0);
  out = LichCatalog({"--refresh"});
  giessen = LinesStartingWith(out, kGiessen);
  ASSERT_EQ(giessen.size(), 1u) << out;
  EXPECT_THAT(Fields(giessen[0]), ::testing::ElementsAre(kGiessen, "Gießen,", "Universitätsstadt",
                                                         "ok", "0", "1", "1", "incremental", "0"));
  EXPECT_THAT(out, HasSubstr("(0 datasets)\n"));

  // A member that is down is reported in error; the harvest of the others
  // goes on.
  ASSERT_EQ(members_[kAllendorf].process->Stop(SIGTERM), 0);
  out = LichCatalog({"--refresh"});
  EXPECT_THAT(out, HasSubstr("06531001 Allendorf (Lumda), Stadt: error — page after sequence 0: "))
      << out;
  EXPECT_THAT(out, HasSubstr("; 0 entries from "));
}

}  // namespace
}  // namespace fednode
