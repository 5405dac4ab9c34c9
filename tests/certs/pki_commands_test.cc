// End-to-end tests of the `fedctl pki` command functions in a TempDir.
#include "certs/pki_commands.h"

#include <sys/stat.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "certs/pki.h"
#include "node/base/clock.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"

namespace fednode::certs {
namespace {

using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// The AGS of a certificate, or the error text.
std::string AgsOrError(const std::string& cert_pem) {
  absl::StatusOr<std::string> ags = AgsFromCertificate(cert_pem);
  return ags.ok() ? *ags : ags.status().ToString();
}

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2025, 6, 1, 12, 0, 0), absl::UTCTimeZone());

int FileMode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

bool Exists(const std::string& path) { return FileMode(path) >= 0; }

class PkiCommandsTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& rel) const { return dir_.File(rel); }
  std::string Read(const std::string& rel) const { return testing::ReadFileOrDie(Path(rel)); }

  int InitCa(const std::string& rel, bool force = false) {
    PkiInitCaArgs args;
    args.dir = Path(rel);
    args.name = "Föderation Gießen Root CA";
    args.organization = "Landkreis Gießen";
    args.force = force;
    args.clock = &clock_;
    return RunPkiInitCa(args, Reset(), err_);
  }

  int Issue(const std::string& ca, const std::string& out, const std::string& ags = "06531005",
            bool force = false) {
    PkiIssueArgs args;
    args.ca_dir = Path(ca);
    args.ags = ags;
    args.name = "fednode " + ags;
    args.dns_names = {"node.example.de"};
    args.ip_addresses = {"127.0.0.1"};
    args.out_dir = Path(out);
    args.force = force;
    args.clock = &clock_;
    return RunPkiIssue(args, Reset(), err_);
  }

  int Intermediate(const std::string& ca, const std::string& out) {
    PkiIntermediateArgs args;
    args.ca_dir = Path(ca);
    args.name = "Intermediate Gießen";
    args.out_dir = Path(out);
    args.clock = &clock_;
    return RunPkiIntermediate(args, Reset(), err_);
  }

  int Revoke(const std::string& ca, const std::string& cert) {
    PkiRevokeArgs args;
    args.ca_dir = Path(ca);
    args.cert_path = Path(cert);
    args.clock = &clock_;
    return RunPkiRevoke(args, Reset(), err_);
  }

  std::ostringstream& Reset() {
    out_.str("");
    err_.str("");
    return out_;
  }

  // Verifies a node directory's chain.crt against the root in `root_dir`.
  absl::Status VerifyNode(const std::string& node_dir, const std::string& root_dir,
                          const std::vector<std::string>& crls = {}) {
    auto chain = SplitPemCertificates(Read(node_dir + "/chain.crt"));
    if (!chain.ok()) return chain.status();
    EXPECT_FALSE(chain->empty());
    EXPECT_EQ(chain->front(), Read(node_dir + "/node.crt"));
    std::vector<std::string> intermediates(chain->begin() + 1, chain->end());
    return VerifyChain(chain->front(), intermediates, {Read(root_dir + "/ca.crt")}, crls, kNow);
  }

  testing::TempDir dir_;
  FakeClock clock_{kNow};
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(PkiCommandsTest, InitCaWritesKeyWith0600AndPrintsPinButNoKey) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  EXPECT_EQ(FileMode(Path("root/ca.key")), 0600);
  EXPECT_EQ(FileMode(Path("root")), 0700);
  FEDNODE_EXPECT_OK(CheckKeyMatchesCertificate(Read("root/ca.key"), Read("root/ca.crt")));
  auto pin = SpkiSha256(Read("root/ca.crt"));
  ASSERT_TRUE(pin.ok());
  EXPECT_THAT(out_.str(), HasSubstr("spki-sha256: " + *pin));
  EXPECT_THAT(out_.str(), Not(HasSubstr("PRIVATE")));
  EXPECT_THAT(out_.str(), HasSubstr("CN=Föderation Gießen Root CA"));
  auto info = InspectCertificate(Read("root/ca.crt"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->not_before, kNow - absl::Hours(1));
  EXPECT_EQ(info->not_after, kNow + absl::Hours(24 * 3650));
}

TEST_F(PkiCommandsTest, InitCaRefusesToOverwriteWithoutForce) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  const std::string key = Read("root/ca.key");
  EXPECT_EQ(InitCa("root"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("fedctl pki init-ca: refusing to overwrite"));
  EXPECT_THAT(err_.str(), HasSubstr("--force"));
  EXPECT_EQ(Read("root/ca.key"), key);
  ASSERT_EQ(InitCa("root", /*force=*/true), 0) << err_.str();
  EXPECT_NE(Read("root/ca.key"), key);
  EXPECT_EQ(FileMode(Path("root/ca.key")), 0600);
}

TEST_F(PkiCommandsTest, IssueUnderRootWritesNodeFilesThatVerify) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  ASSERT_EQ(Issue("root", "node"), 0) << err_.str();
  EXPECT_EQ(FileMode(Path("node/node.key")), 0600);
  EXPECT_TRUE(Exists(Path("node/node.crt")));
  EXPECT_THAT(out_.str(), Not(HasSubstr("PRIVATE")));
  EXPECT_THAT(out_.str(), HasSubstr("ags: 06531005"));
  auto pin = SpkiSha256(Read("node/node.crt"));
  ASSERT_TRUE(pin.ok());
  EXPECT_THAT(out_.str(), HasSubstr("spki-sha256: " + *pin));
  EXPECT_EQ(AgsOrError(Read("node/node.crt")), "06531005");
  FEDNODE_EXPECT_OK(CheckKeyMatchesCertificate(Read("node/node.key"), Read("node/node.crt")));
  FEDNODE_EXPECT_OK(VerifyNode("node", "root"));

  // A second issue into the same directory is refused and changes nothing.
  const std::string cert = Read("node/node.crt");
  EXPECT_EQ(Issue("root", "node", "06531001"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("refusing to overwrite"));
  EXPECT_EQ(Read("node/node.crt"), cert);
  ASSERT_EQ(Issue("root", "node", "06531001", /*force=*/true), 0) << err_.str();
  EXPECT_EQ(AgsOrError(Read("node/node.crt")), "06531001");
}

TEST_F(PkiCommandsTest, IssueRejectsBadInputWithoutWritingFiles) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  EXPECT_EQ(Issue("root", "node", "123"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("fedctl pki issue: malformed AGS"));
  EXPECT_FALSE(Exists(Path("node/node.key")));

  PkiIssueArgs args;
  args.ca_dir = Path("root");
  args.ags = "06531005";
  args.out_dir = Path("node");
  args.clock = &clock_;
  EXPECT_EQ(RunPkiIssue(args, Reset(), err_), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--dns or --ip"));

  EXPECT_EQ(Issue("missing", "node"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("no such file"));
  EXPECT_FALSE(Exists(Path("node")));
}

TEST_F(PkiCommandsTest, IntermediateCaIssuesNodesWithFullChain) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  ASSERT_EQ(Intermediate("root", "int"), 0) << err_.str();
  EXPECT_EQ(FileMode(Path("int/ca.key")), 0600);
  ASSERT_EQ(Issue("int", "node"), 0) << err_.str();
  auto chain = SplitPemCertificates(Read("node/chain.crt"));
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[1], Read("int/ca.crt"));
  FEDNODE_EXPECT_OK(VerifyNode("node", "root"));
  // An intermediate cannot make further CAs (pathlen 0).
  EXPECT_EQ(Intermediate("int", "int2"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("pathlen 0"));
}

TEST_F(PkiCommandsTest, PinAndShowPrintTheCertificate) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  ASSERT_EQ(Issue("root", "node"), 0) << err_.str();
  auto pin = SpkiSha256(Read("node/node.crt"));
  ASSERT_TRUE(pin.ok());

  EXPECT_EQ(RunPkiPin(PkiPinArgs{Path("node/node.crt")}, Reset(), err_), 0);
  EXPECT_EQ(out_.str(), *pin + "\n");
  // chain.crt starts with the node certificate: same pin.
  EXPECT_EQ(RunPkiPin(PkiPinArgs{Path("node/chain.crt")}, Reset(), err_), 0);
  EXPECT_EQ(out_.str(), *pin + "\n");

  EXPECT_EQ(RunPkiShow(PkiShowArgs{Path("node/node.crt")}, Reset(), err_), 0);
  EXPECT_THAT(out_.str(), HasSubstr("subject: CN=fednode 06531005\n"));
  EXPECT_THAT(out_.str(), HasSubstr("issuer: CN=Föderation Gießen Root CA,O=Landkreis Gießen\n"));
  EXPECT_THAT(out_.str(), HasSubstr("not-before: 2025-06-01T11:00:00Z\n"));
  EXPECT_THAT(out_.str(), HasSubstr("not-after: 2026-06-01T12:00:00Z\n"));
  EXPECT_THAT(out_.str(), HasSubstr("ags: 06531005\n"));
  EXPECT_THAT(out_.str(), HasSubstr("spki-sha256: " + *pin + "\n"));

  EXPECT_EQ(RunPkiShow(PkiShowArgs{Path("root/ca.crt")}, Reset(), err_), 0);
  EXPECT_THAT(out_.str(), HasSubstr("ags: -\n"));

  EXPECT_EQ(RunPkiPin(PkiPinArgs{Path("node/node.key")}, Reset(), err_), 1);
  EXPECT_THAT(err_.str(), HasSubstr("fedctl pki pin: no certificate in"));
  EXPECT_THAT(err_.str(), Not(HasSubstr("PRIVATE")));
  EXPECT_EQ(RunPkiPin(PkiPinArgs{Path("nothing.crt")}, Reset(), err_), 1);
}

TEST_F(PkiCommandsTest, RevokeAndCrl) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  ASSERT_EQ(Issue("root", "node1", "06531001"), 0) << err_.str();
  ASSERT_EQ(Issue("root", "node2", "06531002"), 0) << err_.str();

  ASSERT_EQ(Revoke("root", "node1/node.crt"), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("revoked serial"));
  EXPECT_THAT(out_.str(), HasSubstr("(1 revoked, next update 2025-07-01T12:00:00Z)"));
  const std::string crl = Read("root/ca.crl");
  EXPECT_THAT(VerifyNode("node1", "root", {crl}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("certificate revoked")));
  FEDNODE_EXPECT_OK(VerifyNode("node2", "root", {crl}));

  // Revoking again keeps one entry.
  ASSERT_EQ(Revoke("root", "node1/node.crt"), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("already revoked"));
  auto revoked = SplitPemCertificates(Read("root/revoked.pem"));
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->size(), 1u);

  // A certificate of another CA is refused and the list stays as it was.
  ASSERT_EQ(InitCa("other"), 0) << err_.str();
  ASSERT_EQ(Issue("other", "foreign"), 0) << err_.str();
  EXPECT_EQ(Revoke("root", "foreign/node.crt"), 1);
  EXPECT_THAT(err_.str(), HasSubstr("not issued by this CA"));
  revoked = SplitPemCertificates(Read("root/revoked.pem"));
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->size(), 1u);

  // crl re-issues from revoked.pem with the new validity.
  clock_.Advance(absl::Hours(24 * 20));
  PkiCrlArgs crl_args;
  crl_args.ca_dir = Path("root");
  crl_args.days = 7;
  crl_args.clock = &clock_;
  ASSERT_EQ(RunPkiCrl(crl_args, Reset(), err_), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("(1 revoked, next update 2025-06-28T12:00:00Z)"));
  const std::string crl2 = Read("root/ca.crl");
  EXPECT_NE(crl2, crl);
  auto chain = SplitPemCertificates(Read("node1/chain.crt"));
  ASSERT_TRUE(chain.ok());
  EXPECT_THAT(
      VerifyChain(chain->front(), {}, {Read("root/ca.crt")}, {crl2}, kNow + absl::Hours(24 * 20)),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("certificate revoked")));
  EXPECT_THAT(VerifyChain(Read("node2/node.crt"), {}, {Read("root/ca.crt")}, {crl2},
                          kNow + absl::Hours(24 * 30)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("crl expired")));
}

TEST_F(PkiCommandsTest, CrlWithoutRevocationsAndRevokedIntermediate) {
  ASSERT_EQ(InitCa("root"), 0) << err_.str();
  PkiCrlArgs crl_args;
  crl_args.ca_dir = Path("root");
  crl_args.clock = &clock_;
  ASSERT_EQ(RunPkiCrl(crl_args, Reset(), err_), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("(0 revoked"));

  ASSERT_EQ(Intermediate("root", "int"), 0) << err_.str();
  ASSERT_EQ(Issue("int", "node"), 0) << err_.str();
  FEDNODE_EXPECT_OK(VerifyNode("node", "root", {Read("root/ca.crl")}));
  ASSERT_EQ(Revoke("root", "int/ca.crt"), 0) << err_.str();
  EXPECT_THAT(
      VerifyNode("node", "root", {Read("root/ca.crl")}),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("intermediate CA revoked")));
}

TEST_F(PkiCommandsTest, InvalidArgumentsFail) {
  PkiInitCaArgs args;
  args.dir = Path("root");
  args.clock = &clock_;
  EXPECT_EQ(RunPkiInitCa(args, Reset(), err_), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--name is required"));
  args.name = "Root";
  args.days = 0;
  EXPECT_EQ(RunPkiInitCa(args, Reset(), err_), 1);
  EXPECT_THAT(err_.str(), HasSubstr("--days must be between"));
  EXPECT_FALSE(Exists(Path("root")));
}

}  // namespace
}  // namespace fednode::certs
