#include "federation/policy/policy.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

#include "federation/agreement/agreement.h"

namespace fednode::policy {
namespace {

using ::testing::HasSubstr;
using Kind = Request::Kind;

// Structurally a valid agreement minus the trust anchor (policy does not
// look at it). Pins are dummies: policy never sees keys.
constexpr char kAgreement[] = R"pb(
  agreement_id: "kv-test"
  version: 3
  valid_from: "2026-01-01T00:00:00Z"
  valid_until: "2028-01-01T00:00:00Z"
  members {
    ags: "06531"
    name: "Landkreis Gießen"
    role: ROLE_COUNTY
    endpoint: "127.0.0.1:7000"
    spki_sha256: "0000000000000000000000000000000000000000000000000000000000000000"
  }
  members {
    ags: "06531005"
    name: "Gießen"
    role: ROLE_MUNICIPALITY
    endpoint: "127.0.0.1:7005"
    spki_sha256: "0000000000000000000000000000000000000000000000000000000000000005"
  }
  members {
    ags: "06531011"
    name: "Lich"
    role: ROLE_MUNICIPALITY
    endpoint: "127.0.0.1:7011"
    spki_sha256: "0000000000000000000000000000000000000000000000000000000000000011"
  }
  members {
    ags: "06531001"
    name: "Allendorf (Lumda)"
    role: ROLE_MUNICIPALITY
    endpoint: "127.0.0.1:7001"
    spki_sha256: "0000000000000000000000000000000000000000000000000000000000000001"
  }
  grants {
    id: "lich-parken"
    grantees: "06531011"
    holders: "06531005"
    datasets: "parkhaus_rathaus"
    datasets: "parkhaus_am_bahnhof"
    access: ACCESS_AGGREGATE
    columns: "timestamp"
    columns: "free_spaces"
    columns: "occupied_spaces"
    purposes: "verkehrsplanung"
    purposes: "klimaschutz"
    row_filter: "free_spaces >= 0"
    min_cell_count: 5
  }
  grants {
    id: "kreis-gv"
    grantee_roles: ROLE_COUNTY
    holders: "*"
    conforms_to: "urn:fednode:schema:gemeindeverzeichnis:v1"
    access: ACCESS_AGGREGATE
    access: ACCESS_ROWS
  }
  grants { id: "katalog" grantees: "*" datasets: "*" access: ACCESS_CATALOG }
  grants {
    id: "bad-zwei"
    grantees: "06531001"
    datasets: "badeseen"
    conforms_to: "urn:fednode:schema:badegewaesser:v1"
    access: ACCESS_ROWS
  }
  grants {
    id: "kreis-und-giessen"
    grantees: "06531"
    grantees: "06531005"
    grantee_roles: ROLE_COUNTY
    holders: "06531001"
    datasets: "wahl"
    access: ACCESS_ROWS
  }
  grants {
    id: "alt"
    grantees: "06531001"
    holders: "06531011"
    datasets: "wahl"
    access: ACCESS_AGGREGATE
    valid_until: "2026-03-01T00:00:00Z"
  }
  grants {
    id: "kuenftig"
    grantees: "06531001"
    holders: "06531011"
    datasets: "freibad"
    access: ACCESS_AGGREGATE
    valid_from: "2027-01-01T00:00:00Z"
  }
  disclosure { min_cell_count: 4 }
  amendment_rule { kind: KIND_MAJORITY required_signers: "06531" }
)pb";

agreement::v1::Agreement TestAgreement() {
  agreement::v1::Agreement a;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(kAgreement, &a));
  return a;
}

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return t;
}

const absl::Time kNow = At("2026-06-01T12:00:00Z");

struct Case {
  const char* name;
  const char* caller;
  Kind kind;
  const char* holder;
  const char* dataset;
  const char* conforms_to;
  std::vector<std::string> columns;
  const char* purpose;
  bool allow;
  const char* reason;  // substring
  const char* grant_id;
};

Request MakeRequest(const Case& c) {
  Request r;
  r.kind = c.kind;
  r.holder_ags = c.holder;
  r.dataset_id = c.dataset;
  r.conforms_to = c.conforms_to;
  r.columns = c.columns;
  r.purpose = c.purpose;
  return r;
}

constexpr char kGv[] = "urn:fednode:schema:gemeindeverzeichnis:v1";
constexpr char kBad[] = "urn:fednode:schema:badegewaesser:v1";
constexpr char kPark[] = "urn:fednode:schema:parkhaus-belegung:v1";

std::vector<Case> Cases() {
  const std::vector<std::string> park_cols = {"timestamp", "free_spaces"};
  return {
      // lich-parken: everything holds.
      {"LichParkenAllowed", "06531011", Kind::kAggregate, "06531005", "parkhaus_rathaus", kPark,
       park_cols, "verkehrsplanung", true, "allowed by grant lich-parken", "lich-parken"},
      {"LichParkenSecondDatasetAndPurpose",
       "06531011",
       Kind::kAggregate,
       "06531005",
       "parkhaus_am_bahnhof",
       kPark,
       {"occupied_spaces"},
       "klimaschutz",
       true,
       "allowed by grant lich-parken",
       "lich-parken"},
      // Each condition of lich-parken failing alone.
      {"WrongGrantee", "06531001", Kind::kAggregate, "06531005", "parkhaus_rathaus", kPark,
       park_cols, "verkehrsplanung", false,
       "no grant for 06531001 on dataset parkhaus_rathaus (aggregate)", ""},
      {"WrongHolder", "06531011", Kind::kAggregate, "06531001", "parkhaus_rathaus", kPark,
       park_cols, "verkehrsplanung", false,
       "no grant for 06531011 on dataset parkhaus_rathaus (aggregate)", ""},
      {"WrongDataset", "06531011", Kind::kAggregate, "06531005", "parkhaus_neustadt", kPark,
       park_cols, "verkehrsplanung", false,
       "no grant for 06531011 on dataset parkhaus_neustadt (aggregate)", ""},
      {"WrongAccessRows", "06531011", Kind::kRows, "06531005", "parkhaus_rathaus", kPark, park_cols,
       "verkehrsplanung", false, "no grant for 06531011 on dataset parkhaus_rathaus (rows)", ""},
      {"MissingPurpose", "06531011", Kind::kAggregate, "06531005", "parkhaus_rathaus", kPark,
       park_cols, "", false, "purpose required: one of verkehrsplanung, klimaschutz",
       "lich-parken"},
      {"WrongPurpose", "06531011", Kind::kAggregate, "06531005", "parkhaus_rathaus", kPark,
       park_cols, "werbung", false,
       "purpose \"werbung\" is not allowed: one of verkehrsplanung, klimaschutz", "lich-parken"},
      {"ColumnNotAllowed",
       "06531011",
       Kind::kAggregate,
       "06531005",
       "parkhaus_rathaus",
       kPark,
       {"timestamp", "max_spaces"},
       "verkehrsplanung",
       false,
       "grant lich-parken does not allow column max_spaces",
       "lich-parken"},
      // Roles and "*" holders: the county on every member's directory.
      {"CountyRoleOnAnyHolder",
       "06531",
       Kind::kAggregate,
       "06531001",
       "gemeindeverzeichnis",
       kGv,
       {"einwohner", "flaeche"},
       "",
       true,
       "allowed by grant kreis-gv",
       "kreis-gv"},
      {"CountyRoleRows",
       "06531",
       Kind::kRows,
       "06531005",
       "gv",
       kGv,
       {},
       "",
       true,
       "allowed by grant kreis-gv",
       "kreis-gv"},
      {"MunicipalityLacksRole",
       "06531005",
       Kind::kAggregate,
       "06531001",
       "gemeindeverzeichnis",
       kGv,
       {},
       "",
       false,
       "no grant for 06531005 on dataset gemeindeverzeichnis (aggregate)",
       ""},
      {"ConformsToMissing",
       "06531",
       Kind::kAggregate,
       "06531001",
       "gemeindeverzeichnis",
       "",
       {},
       "",
       false,
       "no grant for 06531 on dataset gemeindeverzeichnis (aggregate)",
       ""},
      // "*" grantee and "*" dataset: catalog for everybody, nothing more.
      {"CatalogForEveryMember",
       "06531001",
       Kind::kCatalog,
       "06531005",
       "parkhaus_rathaus",
       kPark,
       {},
       "",
       true,
       "allowed by grant katalog",
       "katalog"},
      {"CatalogDoesNotAllowAggregate",
       "06531001",
       Kind::kAggregate,
       "06531005",
       "badeseen",
       kBad,
       {},
       "",
       false,
       "no grant for 06531001 on dataset badeseen (aggregate)",
       ""},
      // Two what-conditions: both must hold.
      {"TwoWhatBothHold",
       "06531001",
       Kind::kRows,
       "06531011",
       "badeseen",
       kBad,
       {},
       "",
       true,
       "allowed by grant bad-zwei",
       "bad-zwei"},
      {"TwoWhatOnlyDataset",
       "06531001",
       Kind::kRows,
       "06531011",
       "badeseen",
       kPark,
       {},
       "",
       false,
       "no grant for 06531001 on dataset badeseen (rows)",
       ""},
      {"TwoWhatOnlyConformsTo",
       "06531001",
       Kind::kRows,
       "06531011",
       "badeseen_2",
       kBad,
       {},
       "",
       false,
       "no grant for 06531001 on dataset badeseen_2 (rows)",
       ""},
      // Two who-conditions: grantee AND role.
      {"TwoWhoBothHold",
       "06531",
       Kind::kRows,
       "06531001",
       "wahl",
       "",
       {},
       "",
       true,
       "allowed by grant kreis-und-giessen",
       "kreis-und-giessen"},
      {"TwoWhoOnlyGrantee",
       "06531005",
       Kind::kRows,
       "06531001",
       "wahl",
       "",
       {},
       "",
       false,
       "no grant for 06531005 on dataset wahl (rows)",
       ""},
      // Grant validity.
      {"ExpiredGrant",
       "06531001",
       Kind::kAggregate,
       "06531011",
       "wahl",
       "",
       {},
       "",
       false,
       "grant alt expired at 2026-03-01T00:00:00Z",
       "alt"},
      {"GrantNotYetValid",
       "06531001",
       Kind::kAggregate,
       "06531011",
       "freibad",
       "",
       {},
       "",
       false,
       "grant kuenftig is not valid before 2027-01-01T00:00:00Z",
       "kuenftig"},
      // Membership comes first.
      {"NonMember",
       "06531099",
       Kind::kCatalog,
       "06531005",
       "parkhaus_rathaus",
       kPark,
       {},
       "",
       false,
       "caller 06531099 is not a member of agreement kv-test v3",
       ""},
      {"HolderNotMember",
       "06531",
       Kind::kAggregate,
       "06531099",
       "gemeindeverzeichnis",
       kGv,
       {},
       "",
       false,
       "holder 06531099 is not a member of agreement kv-test v3",
       ""},
  };
}

class PolicyTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(PolicyTableTest, DecidesAsExpected) {
  const Case& c = GetParam();
  Decision d = Decide(TestAgreement(), Caller{c.caller}, MakeRequest(c), kNow);
  EXPECT_EQ(d.allow, c.allow) << d.reason;
  EXPECT_THAT(d.reason, HasSubstr(c.reason));
  EXPECT_EQ(d.grant_id, c.grant_id);
  if (!d.allow) {
    EXPECT_TRUE(d.row_filters.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, PolicyTableTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           return std::string(param_info.param.name);
                         });

Request LichRequest() {
  Request r;
  r.kind = Kind::kAggregate;
  r.holder_ags = "06531005";
  r.dataset_id = "parkhaus_rathaus";
  r.conforms_to = kPark;
  r.columns = {"free_spaces"};
  r.purpose = "verkehrsplanung";
  return r;
}

TEST(PolicyTest, RowFilterAndMinCellCountOfTheGrantPassedThrough) {
  Decision d = Decide(TestAgreement(), Caller{"06531011"}, LichRequest(), kNow);
  ASSERT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.min_cell_count, 5u);
  EXPECT_THAT(d.row_filters, ::testing::ElementsAre("free_spaces >= 0"));
}

TEST(PolicyTest, MinCellCountFallsBackToAgreementThenThree) {
  agreement::v1::Agreement a = TestAgreement();
  Request r;
  r.kind = Kind::kAggregate;
  r.holder_ags = "06531001";
  r.dataset_id = "gemeindeverzeichnis";
  r.conforms_to = kGv;
  Decision d = Decide(a, Caller{"06531"}, r, kNow);
  ASSERT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.min_cell_count, 4u);
  EXPECT_TRUE(d.row_filters.empty());
  a.mutable_disclosure()->set_min_cell_count(0);
  d = Decide(a, Caller{"06531"}, r, kNow);
  EXPECT_EQ(d.min_cell_count, agreement::kDefaultMinCellCount);
}

TEST(PolicyTest, ExpiredAgreementDeniesEverything) {
  Decision d =
      Decide(TestAgreement(), Caller{"06531011"}, LichRequest(), At("2028-01-01T00:00:00Z"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, "agreement kv-test v3 expired at 2028-01-01T00:00:00Z");
}

TEST(PolicyTest, AgreementNotYetValidDenies) {
  Decision d =
      Decide(TestAgreement(), Caller{"06531011"}, LichRequest(), At("2025-12-31T23:59:59Z"));
  EXPECT_FALSE(d.allow);
  EXPECT_THAT(d.reason, HasSubstr("not valid before 2026-01-01T00:00:00Z"));
}

TEST(PolicyTest, NonMemberDeniedEvenWhenAgreementExpired) {
  Decision d =
      Decide(TestAgreement(), Caller{"06531099"}, LichRequest(), At("2030-01-01T00:00:00Z"));
  EXPECT_FALSE(d.allow);
  EXPECT_THAT(d.reason, HasSubstr("caller 06531099 is not a member"));
}

TEST(PolicyTest, NoGrantsDeniesByDefault) {
  agreement::v1::Agreement a = TestAgreement();
  a.clear_grants();
  Decision d = Decide(a, Caller{"06531011"}, LichRequest(), kNow);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason, "no grant for 06531011 on dataset parkhaus_rathaus (aggregate)");
}

TEST(PolicyTest, FirstMatchingGrantWins) {
  agreement::v1::Agreement a = TestAgreement();
  // A broader grant placed before lich-parken, without filter or purpose.
  agreement::v1::Grant broad;
  broad.set_id("breit");
  broad.add_grantees("*");
  broad.add_datasets("parkhaus_rathaus");
  broad.add_access(agreement::v1::ACCESS_AGGREGATE);
  a.mutable_grants()->Add(std::move(broad));
  a.mutable_grants()->SwapElements(0, a.grants_size() - 1);
  Decision d = Decide(a, Caller{"06531011"}, LichRequest(), kNow);
  ASSERT_TRUE(d.allow);
  EXPECT_EQ(d.grant_id, "breit");
  EXPECT_TRUE(d.row_filters.empty());
}

TEST(PolicyTest, LaterGrantAllowsWhenEarlierApplicableGrantFails) {
  agreement::v1::Agreement a = TestAgreement();
  agreement::v1::Grant fallback;
  fallback.set_id("lich-alle-spalten");
  fallback.add_grantees("06531011");
  fallback.add_datasets("parkhaus_rathaus");
  fallback.add_access(agreement::v1::ACCESS_AGGREGATE);
  *a.add_grants() = fallback;
  Request r = LichRequest();
  r.columns = {"max_spaces"};  // lich-parken does not allow it
  Decision d = Decide(a, Caller{"06531011"}, r, kNow);
  ASSERT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.grant_id, "lich-alle-spalten");
}

TEST(PolicyTest, EmptyHoldersMeansEveryMember) {
  agreement::v1::Agreement a = TestAgreement();
  a.mutable_grants(0)->clear_holders();
  Request r = LichRequest();
  r.holder_ags = "06531001";
  EXPECT_TRUE(Decide(a, Caller{"06531011"}, r, kNow).allow);
}

TEST(PolicyTest, EmptyColumnsMeansAll) {
  agreement::v1::Agreement a = TestAgreement();
  a.mutable_grants(0)->clear_columns();
  Request r = LichRequest();
  r.columns = {"max_spaces", "anything"};
  EXPECT_TRUE(Decide(a, Caller{"06531011"}, r, kNow).allow);
}

TEST(PolicyTest, GrantValidityBoundaries) {
  Request r;
  r.kind = Kind::kAggregate;
  r.holder_ags = "06531011";
  r.dataset_id = "freibad";
  EXPECT_FALSE(Decide(TestAgreement(), Caller{"06531001"}, r, At("2026-12-31T23:59:59Z")).allow);
  EXPECT_TRUE(Decide(TestAgreement(), Caller{"06531001"}, r, At("2027-01-01T00:00:00Z")).allow);
  r.dataset_id = "wahl";
  EXPECT_TRUE(Decide(TestAgreement(), Caller{"06531001"}, r, At("2026-02-28T23:59:59Z")).allow);
  EXPECT_FALSE(Decide(TestAgreement(), Caller{"06531001"}, r, At("2026-03-01T00:00:00Z")).allow);
}

TEST(PolicyTest, KindNames) {
  EXPECT_EQ(KindName(Kind::kCatalog), "catalog");
  EXPECT_EQ(KindName(Kind::kAggregate), "aggregate");
  EXPECT_EQ(KindName(Kind::kRows), "rows");
}

TEST(MayKnowOfTest, AnyAccessOnTheDatasetMakesItVisible) {
  const agreement::v1::Agreement a = TestAgreement();
  // Catalog grant: every member sees every dataset.
  EXPECT_TRUE(MayKnowOf(a, Caller{"06531001"}, "06531005", "parkhaus_rathaus", kPark, kNow));
  // Without the catalog grant only specific grants count.
  agreement::v1::Agreement no_catalog = a;
  no_catalog.mutable_grants()->DeleteSubrange(2, 1);
  EXPECT_TRUE(
      MayKnowOf(no_catalog, Caller{"06531011"}, "06531005", "parkhaus_rathaus", kPark, kNow));
  EXPECT_FALSE(
      MayKnowOf(no_catalog, Caller{"06531001"}, "06531005", "parkhaus_rathaus", kPark, kNow));
  EXPECT_FALSE(
      MayKnowOf(no_catalog, Caller{"06531011"}, "06531001", "parkhaus_rathaus", kPark, kNow));
  EXPECT_TRUE(MayKnowOf(no_catalog, Caller{"06531"}, "06531011", "gv", kGv, kNow));
  // Expired and future grants do not make anything visible.
  EXPECT_FALSE(MayKnowOf(no_catalog, Caller{"06531001"}, "06531011", "wahl", "", kNow));
  EXPECT_FALSE(MayKnowOf(no_catalog, Caller{"06531001"}, "06531011", "freibad", "", kNow));
}

TEST(MayKnowOfTest, NonMemberAndExpiredAgreementSeeNothing) {
  const agreement::v1::Agreement a = TestAgreement();
  EXPECT_FALSE(MayKnowOf(a, Caller{"06531099"}, "06531005", "parkhaus_rathaus", kPark, kNow));
  EXPECT_FALSE(MayKnowOf(a, Caller{"06531001"}, "06531005", "parkhaus_rathaus", kPark,
                         At("2029-01-01T00:00:00Z")));
}

TEST(GrantedAccessTest, HighestAccessOfTheMatchingGrantsIgnoringPurposeAndColumns) {
  const agreement::v1::Agreement a = TestAgreement();
  using agreement::v1::ACCESS_AGGREGATE;
  using agreement::v1::ACCESS_CATALOG;
  using agreement::v1::ACCESS_ROWS;
  using agreement::v1::ACCESS_UNSPECIFIED;
  // lich-parken (aggregate, with purposes and columns) beats katalog.
  EXPECT_EQ(GrantedAccess(a, Caller{"06531011"}, "06531005", "parkhaus_rathaus", kPark, kNow),
            ACCESS_AGGREGATE);
  // Only the catalog grant for another member.
  EXPECT_EQ(GrantedAccess(a, Caller{"06531001"}, "06531005", "parkhaus_rathaus", kPark, kNow),
            ACCESS_CATALOG);
  // The county: aggregate and rows on the directory.
  EXPECT_EQ(GrantedAccess(a, Caller{"06531"}, "06531011", "gv", kGv, kNow), ACCESS_ROWS);
  // Without the catalog grant, nothing.
  agreement::v1::Agreement no_catalog = a;
  no_catalog.mutable_grants()->DeleteSubrange(2, 1);
  EXPECT_EQ(
      GrantedAccess(no_catalog, Caller{"06531001"}, "06531005", "parkhaus_rathaus", kPark, kNow),
      ACCESS_UNSPECIFIED);
  EXPECT_EQ(GrantedAccess(a, Caller{"06531099"}, "06531005", "parkhaus_rathaus", kPark, kNow),
            ACCESS_UNSPECIFIED);
}

}  // namespace
}  // namespace fednode::policy
