// Tests of certs/pki.h against a PKI generated at test time (no key files in
// the repository): a root, intermediates A and B (siblings), an intermediate
// that the root revokes, another root, and node certificates under each.
#include "certs/pki.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"

namespace fednode::certs {
namespace {

using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Time Day(int y, int m, int d) {
  return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone());
}

// The AGS of a certificate, or the error text.
std::string AgsOrError(const std::string& cert_pem) {
  absl::StatusOr<std::string> ags = AgsFromCertificate(cert_pem);
  return ags.ok() ? *ags : ags.status().ToString();
}

// "Now" for every verification, inside all default validity periods.
const absl::Time kNow = Day(2025, 6, 1);

CaOptions Ca(const std::string& name, absl::Time from = Day(2025, 1, 1),
             absl::Time to = Day(2035, 1, 1)) {
  CaOptions o;
  o.common_name = name;
  o.organization = "Föderation Landkreis Gießen";
  o.not_before = from;
  o.not_after = to;
  return o;
}

NodeCertOptions Node(const std::string& ags, absl::Time from = Day(2025, 1, 1),
                     absl::Time to = Day(2027, 1, 1)) {
  NodeCertOptions o;
  o.ags = ags;
  o.common_name = "fednode " + ags + " Gießen";
  o.dns_names = {"node-" + ags + ".example.de"};
  o.ip_addresses = {"127.0.0.1", "::1"};
  o.not_before = from;
  o.not_after = to;
  return o;
}

// Parses a certificate with OpenSSL directly, independent of certs/.
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
std::unique_ptr<X509, X509Free> RawCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return std::unique_ptr<X509, X509Free>(x);
}

// The PKI shared by the tests, generated once per process.
struct Pki {
  KeyAndCert root, int_a, int_b, int_a_twin, int_revoked, other_root, other_root_twin;
  KeyAndCert leaf_root, leaf_a, leaf_b, leaf_other, leaf_other_twin, leaf_expired, leaf_future,
      leaf_revoked, leaf_under_revoked_int;
  std::string crl_a;     // by int_a, revokes leaf_revoked
  std::string crl_root;  // by root, revokes int_revoked
};

template <typename T>
T Must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : T();
}

const Pki& GetPki() {
  static const Pki* pki = [] {
    auto* p = new Pki;
    p->root = Must(CreateRootCa(Ca("Test Root CA")));
    p->int_a = Must(IssueIntermediateCa(p->root, Ca("Intermediate A")));
    p->int_b = Must(IssueIntermediateCa(p->root, Ca("Intermediate B")));
    // A sibling with the very same name as A, but its own key.
    p->int_a_twin = Must(IssueIntermediateCa(p->root, Ca("Intermediate A")));
    p->int_revoked = Must(IssueIntermediateCa(p->root, Ca("Intermediate R")));
    p->other_root = Must(CreateRootCa(Ca("Other Root CA")));
    // Another root that copies our root's name.
    p->other_root_twin = Must(CreateRootCa(Ca("Test Root CA")));
    p->leaf_root = Must(IssueNodeCertificate(p->root, Node("06531005")));
    p->leaf_a = Must(IssueNodeCertificate(p->int_a, Node("06531005")));
    p->leaf_b = Must(IssueNodeCertificate(p->int_b, Node("06531001")));
    p->leaf_other = Must(IssueNodeCertificate(p->other_root, Node("06531002")));
    p->leaf_other_twin = Must(IssueNodeCertificate(p->other_root_twin, Node("06531002")));
    p->leaf_expired =
        Must(IssueNodeCertificate(p->int_a, Node("06531003", Day(2024, 1, 1), Day(2025, 1, 1))));
    p->leaf_future =
        Must(IssueNodeCertificate(p->int_a, Node("06531004", Day(2026, 1, 1), Day(2027, 1, 1))));
    p->leaf_revoked = Must(IssueNodeCertificate(p->int_a, Node("06531006")));
    p->leaf_under_revoked_int = Must(IssueNodeCertificate(p->int_revoked, Node("06531007")));
    p->crl_a =
        Must(IssueCrl(p->int_a, {p->leaf_revoked.cert_pem}, Day(2025, 5, 1), Day(2025, 7, 1)));
    p->crl_root =
        Must(IssueCrl(p->root, {p->int_revoked.cert_pem}, Day(2025, 5, 1), Day(2025, 7, 1)));
    return p;
  }();
  return *pki;
}

class PkiTest : public ::testing::Test {
 protected:
  const Pki& pki_ = GetPki();
};

// --- Identity: AGS, SANs, pins -------------------------------------------

TEST_F(PkiTest, AgsFromCertificateReadsUriSan) {
  EXPECT_EQ(AgsOrError(pki_.leaf_a.cert_pem), "06531005");
  auto ags = AgsFromCertificate(pki_.leaf_b.cert_pem);
  ASSERT_TRUE(ags.ok()) << ags.status();
  EXPECT_EQ(*ags, "06531001");
}

TEST_F(PkiTest, AgsFromCertificateRejectsCaWithoutAgs) {
  EXPECT_THAT(AgsFromCertificate(pki_.root.cert_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subjectAltName")));
}

TEST_F(PkiTest, NodeCertificateCarriesDnsAndIpSans) {
  auto cert = RawCert(pki_.leaf_a.cert_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert.get(), "node-06531005.example.de", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "other.example.de", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 0);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_NE(X509_get_extended_key_usage(cert.get()) & XKU_SSL_CLIENT, 0u);
  EXPECT_NE(X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER, 0u);
}

TEST_F(PkiTest, KeysArePkcs8P256) {
  // The marker is split so that no private-key text stands in the tree.
  EXPECT_THAT(pki_.leaf_a.key_pem, StartsWith(absl::StrCat("-----BEGIN PRIV", "ATE KEY-----")));
  BIO* bio =
      BIO_new_mem_buf(pki_.leaf_a.key_pem.data(), static_cast<int>(pki_.leaf_a.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  char group[64] = {0};
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_group_name(key, group, sizeof(group), &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EVP_PKEY_free(key);
}

TEST_F(PkiTest, PinIsStableAndEqualsSha256OfSubjectPublicKeyInfo) {
  auto pin1 = SpkiSha256(pki_.leaf_a.cert_pem);
  auto pin2 = SpkiSha256(pki_.leaf_a.cert_pem);
  ASSERT_TRUE(pin1.ok()) << pin1.status();
  ASSERT_TRUE(pin2.ok()) << pin2.status();
  EXPECT_EQ(*pin1, *pin2);
  EXPECT_EQ(pin1->size(), 64u);

  // Independently: SHA-256 over i2d_PUBKEY of the certificate's key.
  auto cert = RawCert(pki_.leaf_a.cert_pem);
  ASSERT_NE(cert, nullptr);
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(cert.get()), &der);
  ASSERT_GT(len, 0);
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  EXPECT_EQ(*pin1, absl::BytesToHexString(
                       absl::string_view(reinterpret_cast<const char*>(md), sizeof(md))));

  auto other = SpkiSha256(pki_.leaf_b.cert_pem);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*pin1, *other);
  // The same key re-certified keeps its pin: the pin names the key.
  auto info = InspectCertificate(pki_.leaf_a.cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->spki_sha256, *pin1);
}

TEST_F(PkiTest, InspectCertificateReportsNamesValidityAndSerial) {
  NodeCertOptions options = Node("06531005");
  options.serial = 0x1234abcd;
  auto node = IssueNodeCertificate(pki_.int_a, options);
  ASSERT_TRUE(node.ok()) << node.status();
  auto info = InspectCertificate(node->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->subject, "CN=fednode 06531005 Gießen");
  EXPECT_EQ(info->issuer, "CN=Intermediate A,O=Föderation Landkreis Gießen");
  EXPECT_EQ(info->not_before, Day(2025, 1, 1));
  EXPECT_EQ(info->not_after, Day(2027, 1, 1));
  EXPECT_EQ(info->serial_hex, "1234abcd");
}

TEST_F(PkiTest, RandomSerialsDiffer) {
  auto a = InspectCertificate(pki_.leaf_a.cert_pem);
  auto b = InspectCertificate(pki_.leaf_revoked.cert_pem);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->serial_hex, b->serial_hex);
  EXPECT_GE(a->serial_hex.size(), 30u);
}

TEST_F(PkiTest, SplitPemCertificatesKeepsOrder) {
  auto certs = SplitPemCertificates("leading text\n" + pki_.leaf_a.cert_pem + pki_.int_a.cert_pem);
  ASSERT_TRUE(certs.ok()) << certs.status();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0], pki_.leaf_a.cert_pem);
  EXPECT_EQ((*certs)[1], pki_.int_a.cert_pem);
  auto none = SplitPemCertificates("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// --- Keys ------------------------------------------------------------------

TEST_F(PkiTest, CheckKeyMatchesCertificate) {
  FEDNODE_EXPECT_OK(CheckKeyMatchesCertificate(pki_.leaf_a.key_pem, pki_.leaf_a.cert_pem));
  EXPECT_THAT(CheckKeyMatchesCertificate(pki_.leaf_b.key_pem, pki_.leaf_a.cert_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
}

TEST_F(PkiTest, IssuingWithMismatchedIssuerKeyFails) {
  KeyAndCert mixed{pki_.int_b.key_pem, pki_.int_a.cert_pem};
  EXPECT_THAT(IssueNodeCertificate(mixed, Node("06531005")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(IssueIntermediateCa(KeyAndCert{pki_.other_root.key_pem, pki_.root.cert_pem}, Ca("X")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
  EXPECT_THAT(IssueCrl(mixed, {}, Day(2025, 5, 1), Day(2025, 6, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
}

TEST_F(PkiTest, OnlyCasIssue) {
  EXPECT_THAT(IssueNodeCertificate(pki_.leaf_a, Node("06531005")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not a CA")));
  // Intermediates have pathlen 0: no CA below them.
  EXPECT_THAT(IssueIntermediateCa(pki_.int_a, Ca("Below A")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("pathlen 0")));
}

TEST_F(PkiTest, MalformedNodeOptionsAreInvalidArgument) {
  for (const char* ags : {"", "123", "0653100a", "065310051", "06 31005"}) {
    EXPECT_THAT(IssueNodeCertificate(pki_.int_a, Node(ags)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AGS")))
        << ags;
  }
  EXPECT_TRUE(IssueNodeCertificate(pki_.int_a, Node("06531")).ok());  // a county's 5 digits

  for (const char* ip : {"300.1.1.1", "localhost", "1.2.3", ""}) {
    NodeCertOptions o = Node("06531005");
    o.ip_addresses = {ip};
    EXPECT_THAT(IssueNodeCertificate(pki_.int_a, o),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("IP")))
        << ip;
  }
  for (const char* dns : {"bad_name.de", "-x.de", "a..b", "", "x,URI:urn:fednode:ags:1"}) {
    NodeCertOptions o = Node("06531005");
    o.dns_names = {dns};
    EXPECT_THAT(IssueNodeCertificate(pki_.int_a, o),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("DNS")))
        << dns;
  }
  EXPECT_THAT(IssueNodeCertificate(pki_.int_a, Node("06531005", Day(2026, 1, 1), Day(2025, 1, 1))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not_after")));
  EXPECT_THAT(CreateRootCa(Ca("")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("name")));
  EXPECT_THAT(CreateRootCa(Ca(std::string(65, 'x'))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("CN")));
}

// --- Unparseable input -------------------------------------------------------

TEST_F(PkiTest, GarbagePemIsInvalidArgument) {
  const std::vector<std::string> garbage = {
      "", "hello", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
      pki_.leaf_a.cert_pem.substr(0, pki_.leaf_a.cert_pem.size() / 2)};
  for (const std::string& g : garbage) {
    EXPECT_THAT(SpkiSha256(g), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PEM")));
    EXPECT_THAT(AgsFromCertificate(g), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(InspectCertificate(g), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(VerifyChain(g, {}, {pki_.root.cert_pem}, {}, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {g}, {pki_.root.cert_pem}, {}, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(
        VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem}, {g}, kNow),
        StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(CheckKeyMatchesCertificate(g, pki_.leaf_a.cert_pem),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(Sign(g, "data"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(VerifySignature(g, "data", "sig"),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(IssueNodeCertificate(KeyAndCert{g, pki_.int_a.cert_pem}, Node("06531005")),
                StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  }
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {}, {}, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("trust anchor")));
}

TEST_F(PkiTest, ErrorMessagesNeverContainKeyMaterial) {
  auto status = CheckKeyMatchesCertificate(pki_.leaf_b.key_pem, pki_.leaf_a.cert_pem);
  EXPECT_FALSE(absl::StrContains(status.message(), "PRIVATE"));
  std::string broken_key = pki_.leaf_a.key_pem;
  broken_key[40] = '*';
  auto sign = Sign(broken_key, "x");
  ASSERT_FALSE(sign.ok());
  EXPECT_FALSE(absl::StrContains(sign.status().message(), broken_key.substr(30, 20)));
}

// --- Chain verification --------------------------------------------------------

TEST_F(PkiTest, VerifyChainAcceptsGoodChains) {
  FEDNODE_EXPECT_OK(
      VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem}, {}, kNow));
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_root.cert_pem, {}, {pki_.root.cert_pem}, {}, kNow));
  // Several anchors, a chain with extra certificates, and CRLs that revoke
  // other certificates: still fine. The root itself has no CRL here.
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_b.cert_pem, pki_.int_a.cert_pem},
                                {pki_.other_root.cert_pem, pki_.root.cert_pem},
                                {pki_.crl_a, pki_.crl_root}, kNow));
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_b.cert_pem, {pki_.int_b.cert_pem}, {pki_.root.cert_pem},
                                {pki_.crl_root}, kNow));
  FEDNODE_EXPECT_OK(
      VerifyChain(pki_.leaf_root.cert_pem, {}, {pki_.root.cert_pem}, {pki_.crl_root}, kNow));
}

TEST_F(PkiTest, VerifyChainRefusesAnotherCa) {
  EXPECT_THAT(VerifyChain(pki_.leaf_other.cert_pem, {}, {pki_.root.cert_pem}, {}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("issuer not trusted")));
  // A foreign root with our root's name is not our root.
  EXPECT_THAT(VerifyChain(pki_.leaf_other_twin.cert_pem, {}, {pki_.root.cert_pem}, {}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("issuer not trusted")));
  // Our intermediate cannot be rooted at the other root.
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.other_root.cert_pem},
                          {}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("issuer not trusted")));
  // Without its intermediate a leaf has no path.
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {}, {pki_.root.cert_pem}, {}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("issuer not trusted")));
}

TEST_F(PkiTest, VerifyChainRefusesSiblingIntermediate) {
  EXPECT_THAT(
      VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_b.cert_pem}, {pki_.root.cert_pem}, {}, kNow),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("issuer not trusted")));
  // Same name as A, different key.
  EXPECT_THAT(
      VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a_twin.cert_pem}, {pki_.root.cert_pem}, {}, kNow),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("issuer not trusted")));
}

TEST_F(PkiTest, VerifyChainRefusesExpiredCertificate) {
  EXPECT_THAT(VerifyChain(pki_.leaf_expired.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                          {}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("certificate expired at 2025-01-01T00:00:00Z")));
  // A good certificate after its end.
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem}, {},
                          Day(2027, 1, 2)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("certificate expired at 2027-01-01T00:00:00Z")));
}

TEST_F(PkiTest, VerifyChainRefusesNotYetValidCertificate) {
  EXPECT_THAT(
      VerifyChain(pki_.leaf_future.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem}, {}, kNow),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr("certificate not yet valid (valid from 2026-01-01T00:00:00Z)")));
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_future.cert_pem, {pki_.int_a.cert_pem},
                                {pki_.root.cert_pem}, {}, Day(2026, 2, 1)));
  // Before the whole PKI existed.
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem}, {},
                          Day(2020, 1, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not yet valid")));
}

TEST_F(PkiTest, VerifyChainRefusesRevokedLeaf) {
  // Without the CRL the leaf is fine; with it, it is revoked.
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_revoked.cert_pem, {pki_.int_a.cert_pem},
                                {pki_.root.cert_pem}, {}, kNow));
  auto info = InspectCertificate(pki_.leaf_revoked.cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_THAT(VerifyChain(pki_.leaf_revoked.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                          {pki_.crl_a}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("certificate revoked (serial " + info->serial_hex + ")")));
  // Other leaves of the same CA stay valid under that CRL.
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                                {pki_.crl_a}, kNow));
}

TEST_F(PkiTest, VerifyChainRefusesRevokedIntermediate) {
  FEDNODE_EXPECT_OK(VerifyChain(pki_.leaf_under_revoked_int.cert_pem, {pki_.int_revoked.cert_pem},
                                {pki_.root.cert_pem}, {}, kNow));
  EXPECT_THAT(VerifyChain(pki_.leaf_under_revoked_int.cert_pem, {pki_.int_revoked.cert_pem},
                          {pki_.root.cert_pem}, {pki_.crl_root}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("intermediate CA revoked (CA CN=Intermediate R")));
}

TEST_F(PkiTest, VerifyChainRefusesStaleOrForeignCrl) {
  // The CRL's next update has passed: fail closed.
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                          {pki_.crl_a}, Day(2025, 8, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("crl expired")));
  EXPECT_THAT(VerifyChain(pki_.leaf_a.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                          {pki_.crl_a}, Day(2025, 4, 1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("crl not yet valid")));
  // A CRL naming A but signed by A's twin (same name, other key) is not A's
  // CRL: it neither replaces A's real CRL nor counts as one.
  auto forged = IssueCrl(pki_.int_a_twin, {}, Day(2025, 5, 1), Day(2025, 7, 1));
  ASSERT_TRUE(forged.ok()) << forged.status();
  EXPECT_THAT(VerifyChain(pki_.leaf_revoked.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                          {*forged, pki_.crl_a}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("certificate revoked")));
  EXPECT_THAT(VerifyChain(pki_.leaf_revoked.cert_pem, {pki_.int_a.cert_pem}, {pki_.root.cert_pem},
                          {pki_.crl_a, *forged}, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("certificate revoked")));
}

TEST_F(PkiTest, IssueCrlRefusesCertificatesOfAnotherCa) {
  EXPECT_THAT(IssueCrl(pki_.int_a, {pki_.leaf_b.cert_pem}, Day(2025, 5, 1), Day(2025, 7, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not issued by this CA")));
  // Same issuer name, other key.
  EXPECT_THAT(IssueCrl(pki_.int_a_twin, {pki_.leaf_a.cert_pem}, Day(2025, 5, 1), Day(2025, 7, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not issued by this CA")));
  EXPECT_THAT(IssueCrl(pki_.int_a, {}, Day(2025, 7, 1), Day(2025, 5, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// --- Signatures --------------------------------------------------------------

TEST_F(PkiTest, SignAndVerifyRoundTrip) {
  const std::string data = "agreement v2: members 06531005, 06531001";
  auto sig = Sign(pki_.leaf_a.key_pem, data);
  ASSERT_TRUE(sig.ok()) << sig.status();
  FEDNODE_EXPECT_OK(VerifySignature(pki_.leaf_a.cert_pem, data, *sig));
  // ECDSA is randomized, but every signature verifies.
  auto sig2 = Sign(pki_.leaf_a.key_pem, data);
  ASSERT_TRUE(sig2.ok());
  FEDNODE_EXPECT_OK(VerifySignature(pki_.leaf_a.cert_pem, data, *sig2));
  FEDNODE_EXPECT_OK(VerifySignature(pki_.leaf_a.cert_pem, "", *Sign(pki_.leaf_a.key_pem, "")));
}

TEST_F(PkiTest, VerifySignatureDetectsTampering) {
  const std::string data = "agreement v2";
  auto sig = Sign(pki_.leaf_a.key_pem, data);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_THAT(VerifySignature(pki_.leaf_a.cert_pem, "agreement v3", *sig),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_THAT(VerifySignature(pki_.leaf_b.cert_pem, data, *sig),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  for (size_t i : {size_t{0}, size_t{5}, sig->size() - 1}) {
    std::string bad = *sig;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_THAT(VerifySignature(pki_.leaf_a.cert_pem, data, bad),
                StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_))
        << i;
  }
  EXPECT_THAT(VerifySignature(pki_.leaf_a.cert_pem, data, ""),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_THAT(VerifySignature(pki_.leaf_a.cert_pem, data, sig->substr(0, sig->size() - 1)),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

// --- Files ---------------------------------------------------------------------

TEST(WriteFileAtomicallyTest, WritesContentWithExactMode) {
  testing::TempDir dir;
  const std::string key = dir.File("node.key");
  FEDNODE_ASSERT_OK(WriteFileAtomically(key, "secret", 0600));
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(testing::ReadFileOrDie(key), "secret");

  // Replacing keeps the new mode and content; the umask does not matter.
  const mode_t old_umask = umask(0077);
  const std::string crt = dir.File("node.crt");
  FEDNODE_ASSERT_OK(WriteFileAtomically(crt, "one", 0644));
  FEDNODE_ASSERT_OK(WriteFileAtomically(crt, "two", 0644));
  umask(old_umask);
  ASSERT_EQ(stat(crt.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(testing::ReadFileOrDie(crt), "two");

  EXPECT_THAT(WriteFileAtomically(dir.File("missing/x"), "x", 0600),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("missing/x")));
}

}  // namespace
}  // namespace fednode::certs
