#include "federation/agreement/agreement.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

#include "certs/pki.h"
#include "federation/agreement/agreement_commands.h"
#include "federation/policy/policy.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"

namespace fednode::agreement {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

const absl::Time kNow = At("2026-06-01T12:00:00Z");

template <typename T>
T Must(absl::StatusOr<T> v) {
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *std::move(v) : T{};
}

// A federation made at test time: a root CA and one node key per member (no
// key files in the repository).
class TestFederation {
 public:
  TestFederation() {
    certs::CaOptions ca;
    ca.common_name = "Test Federation Root CA";
    ca.organization = "fednode tests";
    ca.not_before = kNow - absl::Hours(24 * 365);
    ca.not_after = kNow + absl::Hours(24 * 365 * 5);
    root_ = Must(certs::CreateRootCa(ca));
  }

  const certs::KeyAndCert& root() const { return root_; }

  // The (cached) node key of `ags`; `generation` > 0 gives another key.
  const certs::KeyAndCert& Node(const std::string& ags, int generation = 0,
                                absl::Duration lifetime = absl::Hours(24 * 365)) {
    const std::string key = absl::StrCat(ags, "/", generation);
    auto it = nodes_.find(key);
    if (it != nodes_.end()) return it->second;
    certs::NodeCertOptions options;
    options.ags = ags;
    options.common_name = absl::StrCat("fednode ", ags);
    options.dns_names = {"localhost"};
    options.ip_addresses = {"127.0.0.1"};
    options.not_before = kNow - absl::Hours(24);
    options.not_after = kNow + lifetime;
    return nodes_[key] = Must(certs::IssueNodeCertificate(root_, options));
  }

  std::string Pin(const std::string& ags, int generation = 0) {
    return Must(certs::SpkiSha256(Node(ags, generation).cert_pem));
  }

  // A valid agreement of `members` (the first is the county), majority rule
  // with the county required.
  v1::Agreement Make(const std::vector<std::string>& members, uint64_t version = 1) {
    v1::Agreement a;
    a.set_agreement_id("kv-test");
    a.set_version(version);
    a.set_valid_from("2026-01-01T00:00:00Z");
    a.set_valid_until("2028-01-01T00:00:00Z");
    int port = 7000;
    for (const std::string& ags : members) {
      v1::Member* m = a.add_members();
      m->set_ags(ags);
      m->set_name(absl::StrCat("Mitglied ", ags));
      m->set_role(ags.size() == 5 ? v1::ROLE_COUNTY : v1::ROLE_MUNICIPALITY);
      m->set_endpoint(absl::StrCat("127.0.0.1:", port++));
      m->add_spki_sha256(Pin(ags));
    }
    a.add_trust_anchors_pem(root_.cert_pem);
    v1::Grant* g = a.add_grants();
    g->set_id("katalog");
    g->add_grantees("*");
    g->add_datasets("*");
    g->add_access(v1::ACCESS_CATALOG);
    a.mutable_amendment_rule()->set_kind(v1::AmendmentRule::KIND_MAJORITY);
    a.mutable_amendment_rule()->add_required_signers(members.front());
    return a;
  }

  v1::Signature SignAs(const v1::Agreement& a, const std::string& ags, int generation = 0) {
    const certs::KeyAndCert& node = Node(ags, generation);
    return Must(SignAgreement(a, ags, node.key_pem, node.cert_pem, kNow));
  }

  v1::SignedAgreement Signed(const v1::Agreement& a, const std::vector<std::string>& signers) {
    v1::SignedAgreement s;
    *s.mutable_agreement() = a;
    for (const std::string& ags : signers) *s.add_signatures() = SignAs(a, ags);
    return s;
  }

 private:
  certs::KeyAndCert root_;
  std::map<std::string, certs::KeyAndCert> nodes_;
};

const std::vector<std::string> kFive = {"06531", "06531001", "06531005", "06531011", "06531018"};

std::string ToText(const v1::SignedAgreement& s) {
  std::string text;
  EXPECT_TRUE(google::protobuf::TextFormat::PrintToString(s, &text));
  return text;
}

// ---------------------------------------------------------------- parsing

class AgreementParseTest : public ::testing::Test {
 protected:
  // A valid file with one textual replacement applied.
  absl::StatusOr<v1::SignedAgreement> ParseWith(const std::string& from, const std::string& to) {
    std::string text = ToText(Base());
    if (!from.empty()) {
      EXPECT_THAT(text, HasSubstr(from));
      absl::StrReplaceAll({{from, to}}, &text);
    }
    return ParseAgreement(text, "kv.textproto");
  }

  v1::SignedAgreement Base() {
    v1::SignedAgreement s;
    *s.mutable_agreement() = fed_.Make(kFive);
    v1::Grant* g = s.mutable_agreement()->add_grants();
    g->set_id("lich-parken");
    g->add_grantees("06531011");
    g->add_holders("06531005");
    g->add_datasets("parkhaus_rathaus");
    g->add_access(v1::ACCESS_AGGREGATE);
    g->add_columns("free_spaces");
    g->set_row_filter("free_spaces >= 0");
    g->add_purposes("verkehrsplanung");
    g->set_valid_from("2026-02-01T00:00:00Z");
    g->set_valid_until("2027-01-01T00:00:00Z");
    return s;
  }

  static TestFederation fed_;
};

TestFederation AgreementParseTest::fed_;

TEST_F(AgreementParseTest, ValidFileParses) {
  absl::StatusOr<v1::SignedAgreement> parsed = ParseWith("", "");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->agreement().members_size(), 5);
  EXPECT_EQ(parsed->agreement().grants_size(), 2);
}

TEST_F(AgreementParseTest, FindMemberByAgs) {
  const v1::Agreement a = Base().agreement();
  const v1::Member* lich = FindMember(a, "06531011");
  ASSERT_NE(lich, nullptr);
  EXPECT_EQ(lich, &a.members(static_cast<int>(
                      std::find_if(a.members().begin(), a.members().end(),
                                   [](const v1::Member& m) { return m.ags() == "06531011"; }) -
                      a.members().begin())));
  EXPECT_EQ(FindMember(a, "06532001"), nullptr);
  EXPECT_EQ(FindMember(a, ""), nullptr);
}

TEST_F(AgreementParseTest, SyntaxErrorNamesFileLineAndColumn) {
  EXPECT_THAT(ParseAgreement("agreement {\n  version: \"x\"\n}\n", "kv.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kv.textproto:2:")));
  EXPECT_THAT(ParseAgreement("agreement {", "kv.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kv.textproto:1:")));
}

TEST_F(AgreementParseTest, MisspeltConditionKeyRejectedAtLoad) {
  EXPECT_THAT(ParseWith("grantees: \"06531011\"", "grantes: \"06531011\""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("kv.textproto:"), HasSubstr("grantes"))));
  EXPECT_THAT(ParseWith("purposes:", "purpose:"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("purpose")));
}

TEST_F(AgreementParseTest, RepeatedSingularFieldRejected) {
  EXPECT_THAT(ParseWith("version: 1", "version: 1\n  version: 2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version")));
}

TEST_F(AgreementParseTest, MissingAgreementRejected) {
  EXPECT_THAT(
      ParseAgreement("# nothing\n", "kv.textproto"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("agreement { ... } is missing")));
}

struct ValidationCase {
  const char* name;
  // Mutates a valid agreement.
  void (*mutate)(v1::Agreement*);
  const char* message;
};

const ValidationCase kValidationCases[] = {
    {"InvalidUtf8",
     [](v1::Agreement* a) {
       a->mutable_members(2)->set_name(
           "Gie\xdf"
           "en");
     },
     "members[2].name: is not valid UTF-8"},
    {"InvalidUtf8InGrant", [](v1::Agreement* a) { a->mutable_grants(1)->add_purposes("\xc0\xaf"); },
     "grants[1].purposes[1]: is not valid UTF-8"},
    {"EmptyId", [](v1::Agreement* a) { a->clear_agreement_id(); }, "agreement_id:"},
    {"VersionZero", [](v1::Agreement* a) { a->set_version(0); }, "version: must be at least 1"},
    {"BadTime", [](v1::Agreement* a) { a->set_valid_from("2026-01-01"); },
     "valid_from: \"2026-01-01\" is not an RFC 3339 time"},
    {"FromAfterUntil", [](v1::Agreement* a) { a->set_valid_from("2029-01-01T00:00:00Z"); },
     "valid_until: must be after valid_from"},
    {"NoMembers", [](v1::Agreement* a) { a->clear_members(); }, "members: at least one"},
    {"BadAgs", [](v1::Agreement* a) { a->mutable_members(1)->set_ags("6531001"); },
     "members[1].ags: \"6531001\" is not an AGS"},
    {"DuplicateAgs", [](v1::Agreement* a) { a->mutable_members(2)->set_ags("06531001"); },
     "members[2].ags: duplicate member 06531001"},
    {"RoleUnset", [](v1::Agreement* a) { a->mutable_members(0)->clear_role(); },
     "members[0].role: must be set"},
    {"EndpointWithoutPort",
     [](v1::Agreement* a) { a->mutable_members(3)->set_endpoint("lich.de"); },
     "members[3].endpoint"},
    {"EndpointPortOutOfRange",
     [](v1::Agreement* a) { a->mutable_members(3)->set_endpoint("lich.de:70000"); },
     "members[3].endpoint"},
    {"NoPin", [](v1::Agreement* a) { a->mutable_members(4)->clear_spki_sha256(); },
     "members[4].spki_sha256: at least one pinned key"},
    {"UpperCasePin",
     [](v1::Agreement* a) {
       a->mutable_members(4)->set_spki_sha256(0,
                                              absl::AsciiStrToUpper(a->members(4).spki_sha256(0)));
     },
     "members[4].spki_sha256[0]"},
    {"ShortPin", [](v1::Agreement* a) { a->mutable_members(4)->set_spki_sha256(0, "abcd"); },
     "members[4].spki_sha256[0]: \"abcd\" is not 64 lower-case hex digits"},
    {"PinOfTwoMembers",
     [](v1::Agreement* a) { a->mutable_members(4)->add_spki_sha256(a->members(1).spki_sha256(0)); },
     "members[4].spki_sha256[1]: key"},
    {"NoTrustAnchor", [](v1::Agreement* a) { a->clear_trust_anchors_pem(); },
     "trust_anchors_pem: at least one trust anchor"},
    {"BadTrustAnchor", [](v1::Agreement* a) { a->set_trust_anchors_pem(0, "not a pem"); },
     "trust_anchors_pem[0]: not a certificate"},
    {"GrantWithoutId", [](v1::Agreement* a) { a->mutable_grants(1)->clear_id(); }, "grants[1].id"},
    {"DuplicateGrantId", [](v1::Agreement* a) { a->mutable_grants(1)->set_id("katalog"); },
     "grants[1].id: duplicate grant id \"katalog\""},
    {"EmptyWhoCondition", [](v1::Agreement* a) { a->mutable_grants(1)->clear_grantees(); },
     "grants[1]: needs a condition on who"},
    {"EmptyWhatCondition", [](v1::Agreement* a) { a->mutable_grants(1)->clear_datasets(); },
     "grants[1]: needs a condition on what"},
    {"NoAccess", [](v1::Agreement* a) { a->mutable_grants(1)->clear_access(); },
     "grants[1].access: at least one access"},
    {"UnspecifiedAccess",
     [](v1::Agreement* a) { a->mutable_grants(1)->add_access(v1::ACCESS_UNSPECIFIED); },
     "grants[1].access[1]: access must be set"},
    {"GranteeNotMember", [](v1::Agreement* a) { a->mutable_grants(1)->add_grantees("06531099"); },
     "grants[1].grantees[1]: \"06531099\" is not a member"},
    {"HolderNotMember", [](v1::Agreement* a) { a->mutable_grants(1)->set_holders(0, "06532005"); },
     "grants[1].holders[0]"},
    {"UnspecifiedRole",
     [](v1::Agreement* a) { a->mutable_grants(1)->add_grantee_roles(v1::ROLE_UNSPECIFIED); },
     "grants[1].grantee_roles[0]"},
    {"ColumnNotIdentifier",
     [](v1::Agreement* a) { a->mutable_grants(1)->add_columns("free spaces"); },
     "grants[1].columns[1]: \"free spaces\" is not an identifier"},
    {"RowFilterDoesNotParse",
     [](v1::Agreement* a) { a->mutable_grants(1)->set_row_filter("free_spaces >="); },
     "grants[1].row_filter: does not parse"},
    {"RowFilterSmugglesOrderBy",
     [](v1::Agreement* a) { a->mutable_grants(1)->set_row_filter("true) ORDER BY (free_spaces"); },
     "grants[1].row_filter"},
    {"EmptyPurpose", [](v1::Agreement* a) { a->mutable_grants(1)->add_purposes(" "); },
     "grants[1].purposes[1]: must be non-empty"},
    {"GrantValidUntilOutside",
     [](v1::Agreement* a) { a->mutable_grants(1)->set_valid_until("2029-01-01T00:00:00Z"); },
     "grants[1].valid_until: lies after the agreement's valid_until"},
    {"GrantValidFromOutside",
     [](v1::Agreement* a) { a->mutable_grants(1)->set_valid_from("2025-01-01T00:00:00Z"); },
     "grants[1].valid_from: lies before the agreement's valid_from"},
    {"GrantValidityReversed",
     [](v1::Agreement* a) { a->mutable_grants(1)->set_valid_until("2026-01-15T00:00:00Z"); },
     "grants[1]: valid_from must be before valid_until"},
    {"RuleKindUnset", [](v1::Agreement* a) { a->mutable_amendment_rule()->clear_kind(); },
     "amendment_rule.kind: must be set"},
    {"QuorumZero",
     [](v1::Agreement* a) {
       a->mutable_amendment_rule()->set_kind(v1::AmendmentRule::KIND_QUORUM);
     },
     "amendment_rule.quorum"},
    {"QuorumAboveMembers",
     [](v1::Agreement* a) {
       a->mutable_amendment_rule()->set_kind(v1::AmendmentRule::KIND_QUORUM);
       a->mutable_amendment_rule()->set_quorum(6);
     },
     "amendment_rule.quorum: must be between 1 and the number of members (5)"},
    {"RequiredSignerNotMember",
     [](v1::Agreement* a) { a->mutable_amendment_rule()->add_required_signers("06531099"); },
     "amendment_rule.required_signers[1]: \"06531099\" is not a member"},
};

class ValidationTableTest : public AgreementParseTest,
                            public ::testing::WithParamInterface<ValidationCase> {};

TEST_P(ValidationTableTest, FailsNamingTheField) {
  v1::SignedAgreement s = Base();
  ASSERT_THAT(ValidateAgreement(s.agreement()), IsOk());
  GetParam().mutate(s.mutable_agreement());
  EXPECT_THAT(ValidateAgreement(s.agreement()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(GetParam().message)));
  // ParseAgreement applies the same validation, with the source name.
  EXPECT_THAT(ParseAgreement(ToText(s), "kv.textproto"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("kv.textproto: "), HasSubstr(GetParam().message))));
}

INSTANTIATE_TEST_SUITE_P(Agreement, ValidationTableTest, ::testing::ValuesIn(kValidationCases),
                         [](const ::testing::TestParamInfo<ValidationCase>& param_info) {
                           return std::string(param_info.param.name);
                         });

TEST_F(AgreementParseTest, IpV6EndpointAndQuorumAccepted) {
  v1::SignedAgreement s = Base();
  s.mutable_agreement()->mutable_members(1)->set_endpoint("[::1]:7443");
  s.mutable_agreement()->mutable_amendment_rule()->set_kind(v1::AmendmentRule::KIND_QUORUM);
  s.mutable_agreement()->mutable_amendment_rule()->set_quorum(5);
  EXPECT_THAT(ValidateAgreement(s.agreement()), IsOk());
}

TEST_F(AgreementParseTest, ApplyDefaultsSetsMinCellCountThree) {
  v1::Agreement a = Base().agreement();
  ApplyDefaults(&a);
  EXPECT_EQ(a.disclosure().min_cell_count(), 3u);
  a.mutable_disclosure()->set_min_cell_count(7);
  ApplyDefaults(&a);
  EXPECT_EQ(a.disclosure().min_cell_count(), 7u);
}

TEST_F(AgreementParseTest, FingerprintIgnoresLayoutButNotValues) {
  const std::string text = ToText(Base());
  absl::StatusOr<v1::SignedAgreement> a = ParseAgreement(text, "a");
  // Same content, different layout: comments, single-line, fields reordered.
  std::string relaid = absl::StrCat("# a comment\n", text);
  absl::StrReplaceAll({{"\n", " \n\n"}}, &relaid);
  absl::StatusOr<v1::SignedAgreement> b = ParseAgreement(relaid, "b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(CanonicalBytes(a->agreement()), CanonicalBytes(b->agreement()));
  EXPECT_EQ(Fingerprint(a->agreement()), Fingerprint(b->agreement()));
  EXPECT_EQ(Fingerprint(a->agreement()).size(), 64u);
  v1::Agreement changed = a->agreement();
  changed.mutable_grants(1)->set_row_filter("free_spaces >= 1");
  EXPECT_NE(Fingerprint(changed), Fingerprint(a->agreement()));
}

TEST(ExampleAgreementTest, ParsesValidatesAndGrantsAsDocumented) {
  const std::string text =
      testing::ReadFileOrDie(testing::SourcePath("deploy/agreement/example.textproto"));
  absl::StatusOr<v1::SignedAgreement> parsed =
      ParseAgreement(text, "deploy/agreement/example.textproto");
  ASSERT_THAT(parsed, IsOk());
  const v1::Agreement& a = parsed->agreement();
  EXPECT_EQ(a.agreement_id(), "kv-landkreis-giessen");
  ASSERT_EQ(a.members_size(), 19);
  EXPECT_EQ(a.members(0).ags(), "06531");
  EXPECT_EQ(a.members(0).role(), v1::ROLE_COUNTY);
  for (int i = 1; i <= 18; ++i) {
    EXPECT_EQ(a.members(i).ags(), absl::StrCat("06531", i < 10 ? "00" : "0", i));
  }
  EXPECT_EQ(a.disclosure().min_cell_count(), 3u);
  EXPECT_EQ(a.amendment_rule().kind(), v1::AmendmentRule::KIND_MAJORITY);
  EXPECT_THAT(a.amendment_rule().required_signers(), ElementsAre("06531"));
  EXPECT_THAT(a.trust_anchors_pem(), ::testing::SizeIs(1));

  const absl::Time now = At("2027-03-01T00:00:00Z");
  policy::Request gv;
  gv.kind = policy::Request::Kind::kAggregate;
  gv.holder_ags = "06531017";
  gv.dataset_id = "gemeindeverzeichnis";
  gv.conforms_to = "urn:fednode:schema:gemeindeverzeichnis:v1";
  EXPECT_TRUE(policy::Decide(a, policy::Caller{"06531"}, gv, now).allow);
  EXPECT_FALSE(policy::Decide(a, policy::Caller{"06531011"}, gv, now).allow);

  policy::Request park;
  park.kind = policy::Request::Kind::kAggregate;
  park.holder_ags = "06531005";
  park.dataset_id = "parkhaus_rathaus";
  park.conforms_to = "urn:fednode:schema:parkhaus-belegung:v1";
  park.columns = {"timestamp", "free_spaces"};
  park.purpose = "verkehrsplanung";
  policy::Decision d = policy::Decide(a, policy::Caller{"06531011"}, park, now);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.min_cell_count, 5u);
  park.purpose = "";
  EXPECT_FALSE(policy::Decide(a, policy::Caller{"06531011"}, park, now).allow);
  EXPECT_TRUE(policy::MayKnowOf(a, policy::Caller{"06531002"}, "06531005", "parkhaus_rathaus",
                                park.conforms_to, now));
}

// ------------------------------------------------------------ signatures

class SignatureTest : public ::testing::Test {
 protected:
  TestFederation fed_;
};

TEST_F(SignatureTest, EveryMemberSignsAndVerifies) {
  v1::SignedAgreement s = fed_.Signed(fed_.Make(kFive), kFive);
  EXPECT_THAT(VerifySignatures(s), IsOk());
  EXPECT_EQ(*VerifySignatures(s), kFive);
  EXPECT_EQ(s.signatures(0).spki_sha256(), fed_.Pin("06531"));
  EXPECT_EQ(s.signatures(0).signed_at(), "2026-06-01T12:00:00Z");
}

TEST_F(SignatureTest, PartlySignedReturnsOnlyTheSigners) {
  v1::SignedAgreement s = fed_.Signed(fed_.Make(kFive), {"06531011", "06531"});
  EXPECT_THAT(*VerifySignatures(s), ElementsAre("06531", "06531011"));
  s.clear_signatures();
  EXPECT_THAT(*VerifySignatures(s), IsEmpty());
}

TEST_F(SignatureTest, SignRefusesAMismatchedKeyOrAgs) {
  const v1::Agreement a = fed_.Make(kFive);
  const certs::KeyAndCert& lich = fed_.Node("06531011");
  const certs::KeyAndCert& giessen = fed_.Node("06531005");
  EXPECT_THAT(SignAgreement(a, "06531011", giessen.key_pem, lich.cert_pem, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signing key")));
  EXPECT_THAT(SignAgreement(a, "06531005", lich.key_pem, lich.cert_pem, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the certificate names member 06531011, not 06531005")));
}

TEST_F(SignatureTest, ForgedSignatureByNonMemberKeyIsPermissionDenied) {
  const v1::Agreement a = fed_.Make(kFive);
  v1::SignedAgreement s = fed_.Signed(a, {"06531"});
  // A valid certificate for Gießen's AGS from the same CA, but a key the
  // agreement does not pin.
  *s.add_signatures() = fed_.SignAs(a, "06531005", /*generation=*/1);
  EXPECT_THAT(VerifySignatures(s),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("signature of 06531005"), HasSubstr("is not pinned"))));
  // The same from a certificate of another CA.
  TestFederation other;
  v1::SignedAgreement t = fed_.Signed(a, {"06531"});
  *t.add_signatures() = other.SignAs(a, "06531011");
  EXPECT_THAT(VerifySignatures(t),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature of 06531011")));
}

TEST_F(SignatureTest, TamperedAgreementIsPermissionDenied) {
  v1::SignedAgreement s = fed_.Signed(fed_.Make(kFive), kFive);
  s.mutable_agreement()->mutable_grants(0)->add_access(v1::ACCESS_ROWS);
  EXPECT_THAT(VerifySignatures(s),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("signature of 06531"), HasSubstr("does not verify"))));
}

TEST_F(SignatureTest, SignatureWithSwappedCertificateOrPinIsPermissionDenied) {
  v1::SignedAgreement s = fed_.Signed(fed_.Make(kFive), {"06531005"});
  // The named pin is not the certificate's key.
  s.mutable_signatures(0)->set_spki_sha256(fed_.Pin("06531011"));
  EXPECT_THAT(VerifySignatures(s),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature of 06531005")));
  // Lich's certificate and pin presented as Gießen's signature.
  v1::SignedAgreement t = fed_.Signed(fed_.Make(kFive), {"06531011"});
  t.mutable_signatures(0)->set_signer_ags("06531005");
  EXPECT_THAT(VerifySignatures(t),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("signature of 06531005")));
}

TEST_F(SignatureTest, MalformedOrDuplicateSignatureIsInvalidArgument) {
  v1::SignedAgreement s = fed_.Signed(fed_.Make(kFive), {"06531005"});
  s.mutable_signatures(0)->set_signature_base64("***");
  EXPECT_THAT(VerifySignatures(s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("signature of 06531005")));
  v1::SignedAgreement t = fed_.Signed(fed_.Make(kFive), {"06531005", "06531005"});
  EXPECT_THAT(VerifySignatures(t), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("second signature of 06531005")));
}

// ---------------------------------------------------------- initial install

TEST_F(SignatureTest, InitialInstallNeedsFingerprintValidityAndEverySignature) {
  const v1::Agreement a = fed_.Make(kFive);
  const std::string fp = Fingerprint(a);
  v1::SignedAgreement all = fed_.Signed(a, kFive);
  EXPECT_THAT(CheckInitial(all, fp, kNow), IsOk());
  // The operator may paste it upper-case with colons.
  std::string pasted;
  for (size_t i = 0; i < fp.size(); i += 2) {
    absl::StrAppend(&pasted, i ? ":" : "", absl::AsciiStrToUpper(fp.substr(i, 2)));
  }
  EXPECT_THAT(CheckInitial(all, pasted, kNow), IsOk());

  EXPECT_THAT(CheckInitial(all, std::string(64, 'a'), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fingerprint mismatch")));
  EXPECT_THAT(
      CheckInitial(fed_.Signed(a, {"06531", "06531001", "06531005"}), fp, kNow),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("unsigned by 06531011, 06531018")));
  EXPECT_THAT(CheckInitial(fed_.Signed(a, {}), fp, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("unsigned by 06531,")));
  EXPECT_THAT(CheckInitial(all, fp, At("2028-01-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("agreement kv-test v1 expired at 2028-01-01T00:00:00Z")));
  v1::SignedAgreement tampered = all;
  tampered.mutable_agreement()->set_title("changed");
  EXPECT_THAT(CheckInitial(tampered, Fingerprint(tampered.agreement()), kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
}

TEST(CheckInForceTest, BoundariesAndMessages) {
  v1::Agreement a;
  a.set_agreement_id("kv");
  a.set_version(3);
  a.set_valid_from("2026-01-01T00:00:00Z");
  a.set_valid_until("2027-01-01T00:00:00Z");
  EXPECT_THAT(CheckInForce(a, At("2026-01-01T00:00:00Z")), IsOk());
  EXPECT_THAT(CheckInForce(a, At("2026-12-31T23:59:59Z")), IsOk());
  EXPECT_THAT(CheckInForce(a, At("2027-01-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "agreement kv v3 expired at 2027-01-01T00:00:00Z"));
  EXPECT_THAT(CheckInForce(a, At("2025-12-31T23:59:59Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "agreement kv v3 not valid before 2026-01-01T00:00:00Z"));
  a.set_valid_until("soon");
  EXPECT_THAT(CheckInForce(a, kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("soon")));
}

// --------------------------------------------------------------- amendments

class AmendmentTest : public SignatureTest {
 protected:
  void SetUp() override { current_ = fed_.Signed(fed_.Make(kFive, 2), kFive); }

  v1::Agreement Next(uint64_t version = 3) {
    v1::Agreement a = current_.agreement();
    a.set_version(version);
    a.set_title("v3: Lich darf parken");
    return a;
  }

  v1::SignedAgreement current_;
};

TEST_F(AmendmentTest, MajorityWithCountyIsEnough) {
  // 3 of 5 is more than half; the county is among them.
  EXPECT_THAT(
      CheckAmendment(current_, fed_.Signed(Next(), {"06531", "06531001", "06531005"}), kNow),
      IsOk());
}

TEST_F(AmendmentTest, UnderSignedIsRefusedNamingTheMissing) {
  EXPECT_THAT(CheckAmendment(current_, fed_.Signed(Next(), {"06531", "06531001"}), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("not enough signatures for v3"),
                             HasSubstr("a majority (3 of 5 members)"),
                             HasSubstr("unsigned by 06531005, 06531011, 06531018"))));
  EXPECT_THAT(CheckAmendment(current_, fed_.Signed(Next(), {}), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("counted 0 (none)")));
}

TEST_F(AmendmentTest, RequiredSignerMissingIsRefused) {
  EXPECT_THAT(
      CheckAmendment(current_,
                     fed_.Signed(Next(), {"06531001", "06531005", "06531011", "06531018"}), kNow),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("missing required 06531")));
}

TEST_F(AmendmentTest, AllMembersAndQuorumRules) {
  v1::Agreement cur = current_.agreement();
  cur.mutable_amendment_rule()->set_kind(v1::AmendmentRule::KIND_ALL_MEMBERS);
  v1::SignedAgreement all_rule = fed_.Signed(cur, kFive);
  EXPECT_THAT(
      CheckAmendment(all_rule, fed_.Signed(Next(), {"06531", "06531001", "06531005", "06531011"}),
                     kNow),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("all members (5 of 5")));
  EXPECT_THAT(CheckAmendment(all_rule, fed_.Signed(Next(), kFive), kNow), IsOk());

  cur.mutable_amendment_rule()->set_kind(v1::AmendmentRule::KIND_QUORUM);
  cur.mutable_amendment_rule()->set_quorum(2);
  v1::SignedAgreement quorum_rule = fed_.Signed(cur, kFive);
  EXPECT_THAT(CheckAmendment(quorum_rule, fed_.Signed(Next(), {"06531", "06531018"}), kNow),
              IsOk());
  EXPECT_THAT(CheckAmendment(quorum_rule, fed_.Signed(Next(), {"06531"}), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("a quorum of 2")));
}

TEST_F(AmendmentTest, DowngradeAndReplayAreRefusedNamingBothVersions) {
  v1::SignedAgreement older = fed_.Signed(Next(1), kFive);
  EXPECT_THAT(CheckAmendment(current_, older, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("candidate v1"), HasSubstr("current v2"))));
  EXPECT_THAT(CheckAmendment(current_, current_, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("candidate v2"), HasSubstr("not newer than current v2"))));
}

TEST_F(AmendmentTest, OtherAgreementIdIsRefused) {
  v1::Agreement other = Next();
  other.set_agreement_id("kv-anderer-kreis");
  EXPECT_THAT(CheckAmendment(current_, fed_.Signed(other, kFive), kNow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kv-anderer-kreis")));
}

TEST_F(AmendmentTest, CandidateMustBeInForce) {
  v1::Agreement future = Next();
  future.set_valid_from("2027-01-01T00:00:00Z");
  EXPECT_THAT(CheckAmendment(current_, fed_.Signed(future, kFive), kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not valid before")));
  EXPECT_THAT(CheckAmendment(current_, fed_.Signed(Next(), kFive), At("2028-02-01T00:00:00Z")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired at")));
}

TEST_F(AmendmentTest, ExpiredCurrentCanStillBeAmendedUnderItsRule) {
  v1::Agreement cur = current_.agreement();
  cur.set_valid_until("2026-03-01T00:00:00Z");
  v1::SignedAgreement expired_current = fed_.Signed(cur, kFive);
  EXPECT_THAT(
      CheckAmendment(expired_current, fed_.Signed(Next(), {"06531", "06531001", "06531005"}), kNow),
      IsOk());
}

TEST_F(AmendmentTest, TamperedOrForgedSignatureOnCandidateIsPermissionDenied) {
  v1::SignedAgreement candidate = fed_.Signed(Next(), {"06531", "06531001", "06531005"});
  candidate.mutable_agreement()->set_title("changed after signing");
  EXPECT_THAT(CheckAmendment(current_, candidate, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("does not verify")));
  v1::SignedAgreement forged = fed_.Signed(Next(), {"06531", "06531001"});
  *forged.add_signatures() = fed_.SignAs(forged.agreement(), "06531005", /*generation=*/1);
  EXPECT_THAT(CheckAmendment(current_, forged, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("signature of 06531005"), HasSubstr("neither in"))));
}

TEST_F(AmendmentTest, RemovedMemberCannotSignItsReadmission) {
  // v2 -> v3 removes Lich (signed by the majority).
  v1::Agreement without_lich = Next(3);
  without_lich.mutable_members()->DeleteSubrange(3, 1);
  v1::SignedAgreement v3 = fed_.Signed(without_lich, {"06531", "06531001", "06531005"});
  ASSERT_THAT(CheckAmendment(current_, v3, kNow), IsOk());
  // v4 re-admits Lich. Of v3's 4 members, 3 are needed. Lich signs with its
  // (again pinned) key, but only the county and Allendorf of v3 sign.
  v1::Agreement readmit = current_.agreement();
  readmit.set_version(4);
  v1::SignedAgreement v4 = fed_.Signed(readmit, {"06531", "06531001", "06531011"});
  EXPECT_THAT(*VerifySignaturesAgainst(v4, v3.agreement()), ElementsAre("06531", "06531001"));
  EXPECT_THAT(CheckAmendment(v3, v4, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("counted 2 (06531, 06531001)"),
                             HasSubstr("a majority (3 of 4 members)"))));
  *v4.add_signatures() = fed_.SignAs(readmit, "06531005");
  EXPECT_THAT(CheckAmendment(v3, v4, kNow), IsOk());
}

TEST_F(AmendmentTest, NewMemberSignatureDoesNotCount) {
  v1::Agreement bigger = Next();
  v1::Member* m = bigger.add_members();
  m->set_ags("06531014");
  m->set_name("Pohlheim");
  m->set_role(v1::ROLE_MUNICIPALITY);
  m->set_endpoint("127.0.0.1:7014");
  m->add_spki_sha256(fed_.Pin("06531014"));
  v1::SignedAgreement candidate = fed_.Signed(bigger, {"06531", "06531001", "06531014"});
  EXPECT_THAT(*VerifySignatures(candidate), ElementsAre("06531", "06531001", "06531014"));
  EXPECT_THAT(*VerifySignaturesAgainst(candidate, current_.agreement()),
              ElementsAre("06531", "06531001"));
  EXPECT_THAT(CheckAmendment(current_, candidate, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("counted 2")));
}

TEST_F(AmendmentTest, KeyRotationCountsOnlyTheKeyPinnedInTheCurrentVersion) {
  // v3 replaces Gießen's key by a new one.
  v1::Agreement rotated = Next();
  rotated.mutable_members(2)->set_spki_sha256(0, fed_.Pin("06531005", 1));
  // Signed by Gießen with the NEW key: valid, but it does not count yet.
  v1::SignedAgreement with_new = fed_.Signed(rotated, {"06531", "06531001"});
  *with_new.add_signatures() = fed_.SignAs(rotated, "06531005", 1);
  EXPECT_THAT(CheckAmendment(current_, with_new, kNow),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("counted 2")));
  // Signed with the OLD key, pinned in the current version: counts.
  v1::SignedAgreement with_old = fed_.Signed(rotated, {"06531", "06531001", "06531005"});
  ASSERT_THAT(CheckAmendment(current_, with_old, kNow), IsOk());
  // After v3, the old key is worthless for v4.
  v1::Agreement v4 = rotated;
  v4.set_version(4);
  v1::SignedAgreement old_key_v4 = fed_.Signed(v4, {"06531", "06531001", "06531005"});
  EXPECT_THAT(CheckAmendment(with_old, old_key_v4, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("signature of 06531005"), HasSubstr("neither in"))));
}

// ------------------------------------------------------------ expiry warnings

TEST_F(SignatureTest, ExpiryWarningsForAgreementAndPinnedCertificates) {
  v1::Agreement a = fed_.Make(kFive);
  a.set_valid_until("2026-06-20T00:00:00Z");
  // Lich's key comes from a certificate expiring in 10 days.
  const certs::KeyAndCert& lich = fed_.Node("06531011", 2, absl::Hours(24 * 10));
  a.mutable_members(3)->add_spki_sha256(fed_.Pin("06531011", 2));
  const certs::KeyAndCert& stranger = fed_.Node("06531099", 0, absl::Hours(24 * 2));
  std::vector<Warning> w = ExpiryWarnings(
      a, {fed_.Node("06531005").cert_pem, lich.cert_pem, stranger.cert_pem, "garbage"}, kNow);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].subject, "agreement kv-test v1");
  EXPECT_EQ(w[0].expires_at, At("2026-06-20T00:00:00Z"));
  EXPECT_THAT(w[0].message, HasSubstr("expires at 2026-06-20T00:00:00Z (in 18 days)"));
  EXPECT_THAT(w[1].subject, HasSubstr("certificate of 06531011"));
  EXPECT_THAT(w[1].message, HasSubstr("(in 10 days)"));
  EXPECT_THAT(w[2].message, HasSubstr("could not be inspected"));
  // Nothing within the window: no warnings; an expired agreement says so.
  EXPECT_THAT(ExpiryWarnings(fed_.Make(kFive), {fed_.Node("06531005").cert_pem}, kNow), IsEmpty());
  EXPECT_THAT(ExpiryWarnings(a, {}, At("2026-07-01T00:00:00Z"))[0].message,
              HasSubstr("expired at 2026-06-20T00:00:00Z"));
}

// ------------------------------------------------- fedctl agreement sign|verify

class AgreementCommandsTest : public SignatureTest {
 protected:
  void SetUp() override {
    for (const std::string& ags : kFive) {
      const certs::KeyAndCert& node = fed_.Node(ags);
      Write(ags + ".key", node.key_pem);
      Write(ags + ".crt", node.cert_pem);
    }
    v1::SignedAgreement s;
    *s.mutable_agreement() = fed_.Make(kFive);
    text_ = absl::StrCat("# Kooperationsvereinbarung (test)\n# keep this comment\n", ToText(s));
    Write("kv.textproto", text_);
  }

  void Write(const std::string& name, const std::string& data) {
    std::ofstream(dir_.File(name), std::ios::binary) << data;
  }

  int Sign(const std::string& ags, std::string* out_text = nullptr,
           std::string* err_text = nullptr) {
    AgreementSignArgs args;
    args.agreement_path = dir_.File("kv.textproto");
    args.signer_ags = ags;
    args.key_path = dir_.File(ags + ".key");
    args.cert_path = dir_.File(ags + ".crt");
    args.now = kNow;
    std::ostringstream out, err;
    int rc = RunAgreementSign(args, out, err);
    if (out_text) *out_text = out.str();
    if (err_text) *err_text = err.str();
    return rc;
  }

  int Verify(std::string* out_text, std::string* err_text, const std::string& fingerprint = "",
             const std::string& current = "") {
    AgreementVerifyArgs args;
    args.agreement_path = dir_.File("kv.textproto");
    args.expected_fingerprint = fingerprint;
    args.current_path = current;
    args.now = kNow;
    std::ostringstream out, err;
    int rc = RunAgreementVerify(args, out, err);
    *out_text = out.str();
    *err_text = err.str();
    return rc;
  }

  testing::TempDir dir_;
  std::string text_;
};

TEST_F(AgreementCommandsTest, SignAppendsKeepsCommentsAndVerifyReportsWhoIsMissing) {
  std::string out, err;
  ASSERT_EQ(Sign("06531", &out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("signed agreement kv-test v1 as 06531"));
  ASSERT_EQ(Sign("06531005"), 0);
  const std::string file = testing::ReadFileOrDie(dir_.File("kv.textproto"));
  EXPECT_THAT(file, HasSubstr("# keep this comment"));
  absl::StatusOr<v1::SignedAgreement> parsed = ParseAgreement(file, "kv");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->signatures_size(), 2);
  EXPECT_THAT(*VerifySignatures(*parsed), ElementsAre("06531", "06531005"));

  EXPECT_EQ(Verify(&out, &err), 2) << err;
  EXPECT_THAT(out, HasSubstr(absl::StrCat("fingerprint ", Fingerprint(parsed->agreement()))));
  EXPECT_THAT(out, HasSubstr("signed by   06531, 06531005"));
  EXPECT_THAT(out, HasSubstr("missing     06531001, 06531011, 06531018"));
  EXPECT_THAT(out, HasSubstr("in force"));
}

TEST_F(AgreementCommandsTest, ResigningReplacesTheSignature) {
  ASSERT_EQ(Sign("06531011"), 0);
  std::string out, err;
  ASSERT_EQ(Sign("06531011", &out), 0);
  EXPECT_THAT(out, HasSubstr("replaced the earlier signature"));
  absl::StatusOr<v1::SignedAgreement> parsed =
      ParseAgreement(testing::ReadFileOrDie(dir_.File("kv.textproto")), "kv");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->signatures_size(), 1);
}

TEST_F(AgreementCommandsTest, FullySignedVerifiesAndPassesTheInitialCheck) {
  for (const std::string& ags : kFive) ASSERT_EQ(Sign(ags), 0) << ags;
  std::string out, err;
  EXPECT_EQ(Verify(&out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("valid, signed by every member"));
  absl::StatusOr<v1::SignedAgreement> parsed =
      ParseAgreement(testing::ReadFileOrDie(dir_.File("kv.textproto")), "kv");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(Verify(&out, &err, Fingerprint(parsed->agreement())), 0) << err;
  EXPECT_THAT(out, HasSubstr("may be installed as the first agreement"));
  EXPECT_EQ(Verify(&out, &err, std::string(64, '0')), 1);
  EXPECT_THAT(err, HasSubstr("fingerprint mismatch"));
}

TEST_F(AgreementCommandsTest, VerifyFailsOnATamperedFile) {
  ASSERT_EQ(Sign("06531"), 0);
  std::string file = testing::ReadFileOrDie(dir_.File("kv.textproto"));
  absl::StrReplaceAll({{"kv-test", "kv-tset"}}, &file);
  Write("kv.textproto", file);
  std::string out, err;
  EXPECT_EQ(Verify(&out, &err), 1);
  EXPECT_THAT(err, HasSubstr("signature of 06531 does not verify"));
}

TEST_F(AgreementCommandsTest, VerifyAsAmendmentOfTheCurrentFile) {
  for (const std::string& ags : kFive) ASSERT_EQ(Sign(ags), 0);
  const std::string current = dir_.File("current.textproto");
  std::ofstream(current, std::ios::binary) << testing::ReadFileOrDie(dir_.File("kv.textproto"));
  v1::SignedAgreement next;
  *next.mutable_agreement() = fed_.Make(kFive, 2);
  Write("kv.textproto", ToText(next));
  std::string out, err;
  ASSERT_EQ(Sign("06531"), 0);
  ASSERT_EQ(Sign("06531001"), 0);
  EXPECT_EQ(Verify(&out, &err, "", current), 1);
  EXPECT_THAT(err, HasSubstr("not enough signatures for v2"));
  ASSERT_EQ(Sign("06531018"), 0);
  EXPECT_EQ(Verify(&out, &err, "", current), 0) << err;
  EXPECT_THAT(out, HasSubstr("valid amendment of v1"));
}

TEST_F(AgreementCommandsTest, SignRefusesAnInvalidFileAndLeavesItUnchanged) {
  Write("kv.textproto", absl::StrCat(text_, "\nbogus_field: 1\n"));
  std::string out, err;
  EXPECT_EQ(Sign("06531", &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("bogus_field"));
  EXPECT_EQ(testing::ReadFileOrDie(dir_.File("kv.textproto")),
            absl::StrCat(text_, "\nbogus_field: 1\n"));
}

TEST_F(AgreementCommandsTest, SignWarnsWhenTheKeyIsNotPinnedHere) {
  const certs::KeyAndCert& rotated = fed_.Node("06531005", 1);
  Write("new.key", rotated.key_pem);
  Write("new.crt", rotated.cert_pem);
  AgreementSignArgs args;
  args.agreement_path = dir_.File("kv.textproto");
  args.signer_ags = "06531005";
  args.key_path = dir_.File("new.key");
  args.cert_path = dir_.File("new.crt");
  args.now = kNow;
  std::ostringstream out, err;
  EXPECT_EQ(RunAgreementSign(args, out, err), 0) << err.str();
  EXPECT_THAT(err.str(), HasSubstr("is not pinned for 06531005"));
}

}  // namespace
}  // namespace fednode::agreement
