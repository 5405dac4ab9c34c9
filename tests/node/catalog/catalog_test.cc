#include "node/catalog/catalog.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <nlohmann/json.hpp>

#include "node/base/testing/status_matchers.h"
#include "node/catalog/vocabulary.h"
#include "tests/node/catalog/giessen_fixture.h"

namespace fednode::catalog {
namespace {

using catalog::v1::CatalogEntry;
using catalog::v1::DatasetMetadata;
using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using testing::GiessenEntries;
using testing::GiessenNode;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ParkingMetadata;
using testing::ParkingSchema;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

absl::Time T(int64_t unix_seconds) { return absl::FromUnixSeconds(unix_seconds); }

// ---- vocabulary -------------------------------------------------------------

TEST(VocabularyTest, LicenceTableMatchesTheOfficialList) {
  EXPECT_TRUE(IsDcatApDeLicense("http://dcat-ap.de/def/licenses/dl-by-de/2.0"));
  EXPECT_TRUE(IsDcatApDeLicense("http://dcat-ap.de/def/licenses/dl-zero-de/2.0"));
  EXPECT_TRUE(IsDcatApDeLicense("http://dcat-ap.de/def/licenses/cc-by/4.0"));
  EXPECT_FALSE(IsDcatApDeLicense("https://dcat-ap.de/def/licenses/dl-by-de/2.0"));
  EXPECT_FALSE(IsDcatApDeLicense("http://dcat-ap.de/def/licenses/dl-by-de"));
  for (absl::string_view uri : kDcatApDeLicenses) {
    EXPECT_TRUE(absl::StartsWith(uri, kLicenseUriPrefix)) << uri;
  }
}

TEST(VocabularyTest, ThemesAndFrequencies) {
  for (absl::string_view code : {"AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR",
                                 "JUST", "REGI", "SOCI", "TECH", "TRAN"}) {
    EXPECT_TRUE(IsDataTheme(code)) << code;
  }
  EXPECT_FALSE(IsDataTheme("tran"));
  EXPECT_FALSE(IsDataTheme("OP_DATPRO"));
  EXPECT_TRUE(IsFrequency("ANNUAL"));
  EXPECT_TRUE(IsFrequency("15MIN"));
  EXPECT_FALSE(IsFrequency("YEARLY"));
}

// ---- ValidateMetadata --------------------------------------------------------

TEST(ValidateMetadataTest, AcceptsCompletePublicMetadata) {
  EXPECT_THAT(ValidateMetadata(ParkingMetadata()), IsOk());
}

TEST(ValidateMetadataTest, TitleAndDescriptionAreRequired) {
  DatasetMetadata m = ParkingMetadata();
  m.set_title("  \t");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.title is required"));
  m = ParkingMetadata();
  m.clear_description();
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.description is required"));
}

TEST(ValidateMetadataTest, AccessClassMustBeSetAndKnown) {
  DatasetMetadata m = ParkingMetadata();
  m.set_access_class(catalog::v1::ACCESS_CLASS_UNSPECIFIED);
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.access_class is required"));
  m.set_access_class(static_cast<catalog::v1::AccessClass>(17));
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.access_class")));
}

TEST(ValidateMetadataTest, PublicNeedsLicencePublisherContactAndContributor) {
  DatasetMetadata m = ParkingMetadata();
  m.clear_license();
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.license is required"));

  m = ParkingMetadata();
  m.mutable_publisher()->clear_name();
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.publisher.name is required"));

  m = ParkingMetadata();
  m.mutable_contact_point()->clear_name();
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.contact_point.name is required"));

  m = ParkingMetadata();
  m.mutable_contact_point()->clear_email();
  EXPECT_THAT(ValidateMetadata(m),
              StatusIs(kInvalid, "metadata.contact_point needs an email or a url"));
  m.mutable_contact_point()->set_url("https://www.giessen.de/Kontakt");
  EXPECT_THAT(ValidateMetadata(m), IsOk());

  m = ParkingMetadata();
  m.clear_contributor_id();
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.contributor_id is required"));
}

TEST(ValidateMetadataTest, NonPublicNeedsOnlyTitleDescriptionAndAccessClass) {
  DatasetMetadata m;
  m.set_title("Meldedaten");
  m.set_description("Altersstruktur nach Stadtteil.");
  m.set_access_class(catalog::v1::ACCESS_CLASS_RESTRICTED);
  EXPECT_THAT(ValidateMetadata(m), IsOk());
}

TEST(ValidateMetadataTest, LicenceMustComeFromTheDcatApDeList) {
  DatasetMetadata m = ParkingMetadata();
  m.set_license("https://creativecommons.org/licenses/by/4.0/");
  EXPECT_THAT(ValidateMetadata(m),
              StatusIs(kInvalid, HasSubstr("metadata.license \"https://creativecommons.org")));
  // Also when not public: the entry may become public later.
  m.set_access_class(catalog::v1::ACCESS_CLASS_FEDERATION);
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.license")));
}

TEST(ValidateMetadataTest, ThemesMustBeEuCodesOnce) {
  DatasetMetadata m = ParkingMetadata();
  m.add_themes("VERKEHR");
  EXPECT_THAT(ValidateMetadata(m),
              StatusIs(kInvalid, HasSubstr("metadata.themes[2] \"VERKEHR\" is not an EU "
                                           "data-theme code")));
  m = ParkingMetadata();
  m.add_themes("TRAN");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.themes[2]")));
}

TEST(ValidateMetadataTest, DatesMustBeRealIsoDatesInOrder) {
  DatasetMetadata m = ParkingMetadata();
  m.set_temporal_start("2024-02-30");
  EXPECT_THAT(ValidateMetadata(m),
              StatusIs(kInvalid, "metadata.temporal_start must be a date YYYY-MM-DD"));
  m.set_temporal_start("01.01.2024");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.temporal_start")));
  m.set_temporal_start("2024-02-29");
  EXPECT_THAT(ValidateMetadata(m), IsOk());
  m.set_temporal_end("2024-2-1");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.temporal_end")));
  m.set_temporal_end("2023-12-31");
  EXPECT_THAT(ValidateMetadata(m),
              StatusIs(kInvalid, "metadata.temporal_end is before metadata.temporal_start"));
}

TEST(ValidateMetadataTest, ContributorIdMustBeADcatApDeContributorUri) {
  DatasetMetadata m = ParkingMetadata();
  m.set_contributor_id("hessen");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.contributor_id")));
  m.set_contributor_id("http://dcat-ap.de/def/contributors/");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.contributor_id")));
  m.set_contributor_id("http://dcat-ap.de/def/contributors/hessen> .");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.contributor_id")));
}

TEST(ValidateMetadataTest, EmailUrlsFrequencyAndKeywordsAreChecked) {
  DatasetMetadata m = ParkingMetadata();
  m.mutable_contact_point()->set_email("mailto:parken@giessen.example.org");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.contact_point.email")));
  // The address itself is not echoed (personal data).
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, Not(HasSubstr("parken@"))));
  m.mutable_contact_point()->set_email("parken at giessen");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.contact_point.email")));

  m = ParkingMetadata();
  m.set_landing_page("www.giessen.de");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.landing_page")));
  m.set_landing_page("https://www.giessen.de/a b");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.landing_page")));

  m = ParkingMetadata();
  m.mutable_contact_point()->set_url("javascript:alert(1)");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.contact_point.url")));

  m = ParkingMetadata();
  m.mutable_publisher()->set_uri("urn:x");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.publisher.uri")));

  m = ParkingMetadata();
  m.set_frequency("annual");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, HasSubstr("metadata.frequency")));

  m = ParkingMetadata();
  m.add_keywords(" ");
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.keywords[4] is blank"));
}

TEST(WithPublisherDefaultsTest, FillsOnlyEmptyFields) {
  DatasetMetadata m;
  m.set_title("T");
  m.set_description("D");
  m.set_access_class(catalog::v1::ACCESS_CLASS_PUBLIC);
  EXPECT_THAT(ValidateMetadata(m), StatusIs(kInvalid, "metadata.license is required"));

  const DatasetMetadata filled = WithPublisherDefaults(GiessenNode(), m);
  EXPECT_EQ(filled.publisher().name(), "Universitätsstadt Gießen");
  EXPECT_EQ(filled.contact_point().name(), "Statistikstelle der Universitätsstadt Gießen");
  EXPECT_EQ(filled.contact_point().email(), "statistik@giessen.example.org");
  EXPECT_EQ(filled.contributor_id(), "http://dcat-ap.de/def/contributors/hessen");
  EXPECT_EQ(filled.license(), "http://dcat-ap.de/def/licenses/dl-by-de/2.0");
  EXPECT_THAT(ValidateMetadata(filled), IsOk());

  const DatasetMetadata own = WithPublisherDefaults(GiessenNode(), ParkingMetadata());
  EXPECT_EQ(own.contact_point().name(), "Straßenverkehrsamt – Parkleitsystem");
  EXPECT_EQ(own.contact_point().email(), "parken@giessen.example.org");

  NodeIdentity bare = GiessenNode();
  bare.publisher.clear_name();
  EXPECT_EQ(WithPublisherDefaults(bare, m).publisher().name(), "Gießen, Universitätsstadt");
}

// ---- BuildEntry ----------------------------------------------------------------

TEST(BuildEntryTest, FirstVersionIsIssuedWhenModified) {
  const absl::Time t = T(1736496000);  // 2025-01-10T08:00:00Z
  FEDNODE_ASSERT_OK_AND_ASSIGN(CatalogEntry e,
                               BuildEntry(GiessenNode(), "parkhausbelegung", ParkingMetadata(),
                                          ParkingSchema(), 1, 35040, t, nullptr));
  EXPECT_EQ(e.dataset_id(), "parkhausbelegung");
  EXPECT_EQ(e.ags(), "06531005");
  EXPECT_EQ(e.member_name(), "Gießen, Universitätsstadt");
  EXPECT_EQ(e.version(), 1u);
  EXPECT_EQ(e.row_count(), 35040u);
  EXPECT_EQ(e.schema().columns_size(), 4);
  EXPECT_EQ(e.schema().conforms_to(), "urn:fednode:schema:parkhausbelegung:v1");
  EXPECT_EQ(e.modified().seconds(), 1736496000);
  EXPECT_EQ(e.issued().seconds(), 1736496000);
  EXPECT_EQ(e.metadata().title(), ParkingMetadata().title());
}

TEST(BuildEntryTest, LaterVersionKeepsIssuedAndChangeSeq) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(CatalogEntry first,
                               BuildEntry(GiessenNode(), "parkhausbelegung", ParkingMetadata(),
                                          ParkingSchema(), 1, 10, T(1736496000), nullptr));
  first.set_change_seq(41);
  const absl::Time later = T(1740810600) + absl::Microseconds(250);
  FEDNODE_ASSERT_OK_AND_ASSIGN(CatalogEntry second,
                               BuildEntry(GiessenNode(), "parkhausbelegung", ParkingMetadata(),
                                          ParkingSchema(), 2, 20, later, &first));
  EXPECT_EQ(second.issued().seconds(), 1736496000);
  EXPECT_EQ(second.modified().seconds(), 1740810600);
  EXPECT_EQ(second.modified().nanos(), 250000);
  EXPECT_EQ(second.version(), 2u);
  EXPECT_EQ(second.change_seq(), 41u);
}

TEST(BuildEntryTest, AppliesPublisherDefaultsThenValidates) {
  DatasetMetadata m;
  m.set_title("Einwohner nach Stadtteil");
  m.set_description("Stand 31.12.");
  m.set_access_class(catalog::v1::ACCESS_CLASS_PUBLIC);
  FEDNODE_ASSERT_OK_AND_ASSIGN(CatalogEntry e,
                               BuildEntry(GiessenNode(), "einwohner", m, {}, 1, 0, T(0), nullptr));
  EXPECT_EQ(e.metadata().license(), "http://dcat-ap.de/def/licenses/dl-by-de/2.0");

  m.clear_title();
  EXPECT_THAT(BuildEntry(GiessenNode(), "einwohner", m, {}, 1, 0, T(0), nullptr),
              StatusIs(kInvalid, "metadata.title is required"));
}

TEST(BuildEntryTest, RejectsBadIdsAgsAndForeignPrevious) {
  EXPECT_THAT(BuildEntry(GiessenNode(), "", ParkingMetadata(), {}, 1, 0, T(0), nullptr),
              StatusIs(kInvalid, HasSubstr("dataset_id")));
  EXPECT_THAT(BuildEntry(GiessenNode(), "park haus", ParkingMetadata(), {}, 1, 0, T(0), nullptr),
              StatusIs(kInvalid, HasSubstr("dataset_id")));
  NodeIdentity node = GiessenNode();
  node.ags = "6531005";
  EXPECT_THAT(BuildEntry(node, "p", ParkingMetadata(), {}, 1, 0, T(0), nullptr),
              StatusIs(kInvalid, HasSubstr("node.ags")));
  CatalogEntry other;
  other.set_dataset_id("wahl");
  EXPECT_THAT(BuildEntry(GiessenNode(), "p", ParkingMetadata(), {}, 1, 0, T(0), &other),
              StatusIs(kInvalid, HasSubstr("previous entry")));
}

TEST(GeocodingTest, MunicipalityCountyAndState) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(PoliticalGeocoding city, GeocodingForAgs("06531005"));
  EXPECT_EQ(city.uri, "http://dcat-ap.de/def/politicalGeocoding/municipalityKey/06531005");
  EXPECT_EQ(city.level_uri, "http://dcat-ap.de/def/politicalGeocoding/Level/municipality");
  FEDNODE_ASSERT_OK_AND_ASSIGN(PoliticalGeocoding county, GeocodingForAgs("06531"));
  EXPECT_EQ(county.uri, "http://dcat-ap.de/def/politicalGeocoding/districtKey/06531");
  EXPECT_EQ(county.level_uri,
            "http://dcat-ap.de/def/politicalGeocoding/Level/administrativeDistrict");
  FEDNODE_ASSERT_OK_AND_ASSIGN(PoliticalGeocoding state, GeocodingForAgs("06"));
  EXPECT_EQ(state.uri, "http://dcat-ap.de/def/politicalGeocoding/stateKey/06");
  EXPECT_THAT(GeocodingForAgs("0653100"), StatusIs(kInvalid, HasSubstr("ags")));
  EXPECT_THAT(GeocodingForAgs("0653100x"), StatusIs(kInvalid, HasSubstr("ags")));
  EXPECT_THAT(GeocodingForAgs(""), StatusIs(kInvalid, HasSubstr("ags")));
}

// ---- search ----------------------------------------------------------------------

TEST(FoldForSearchTest, FoldsCaseAndUmlauts) {
  EXPECT_EQ(FoldForSearch("Gießen"), "giessen");
  EXPECT_EQ(FoldForSearch("GIESSEN"), "giessen");
  EXPECT_EQ(FoldForSearch("Parkhäuser"), "parkhaeuser");
  EXPECT_EQ(FoldForSearch("ÄÖÜ äöü ẞ"), "aeoeue aeoeue ss");
  // Decomposed input (u + combining diaeresis) folds like the composed form.
  EXPECT_EQ(FoldForSearch("Gru\xCC\x88n"), "gruen");
  // Ill-formed UTF-8 does not crash.
  EXPECT_EQ(FoldForSearch("a\xFF"), "a\xEF\xBF\xBD");
}

class MatchesSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = BuildEntry(GiessenNode(), "parkhausbelegung", ParkingMetadata(), ParkingSchema(), 1, 1,
                        T(0), nullptr);
    ASSERT_TRUE(e.ok()) << e.status();
    entry_ = *std::move(e);
  }
  CatalogEntry entry_;
};

TEST_F(MatchesSearchTest, AllWordsMustOccurCaseAndUmlautInsensitively) {
  EXPECT_TRUE(MatchesSearch(entry_, "gießen"));
  EXPECT_TRUE(MatchesSearch(entry_, "GIESSEN"));
  EXPECT_TRUE(MatchesSearch(entry_, "giessen rathaus"));
  EXPECT_TRUE(MatchesSearch(entry_, "parkhaeuser"));
  EXPECT_TRUE(MatchesSearch(entry_, "PARKHÄUSER"));
  EXPECT_TRUE(MatchesSearch(entry_, "  stellplaetze \t verkehr "));
  EXPECT_FALSE(MatchesSearch(entry_, "giessen wahl"));
  EXPECT_FALSE(MatchesSearch(entry_, "Marburg"));
}

TEST_F(MatchesSearchTest, LooksAtIdKeywordsDescriptionAndMemberName) {
  EXPECT_TRUE(MatchesSearch(entry_, "parkhausbelegung"));    // dataset id / title
  EXPECT_TRUE(MatchesSearch(entry_, "Stellplätze"));         // keyword
  EXPECT_TRUE(MatchesSearch(entry_, "parkleitsystem"));      // description
  EXPECT_TRUE(MatchesSearch(entry_, "universitaetsstadt"));  // member name
  EXPECT_FALSE(MatchesSearch(entry_, "zeitpunkt"));          // column names are not searched
  EXPECT_TRUE(MatchesSearch(entry_, "rathaus\nberliner"));   // split at any whitespace
  EXPECT_FALSE(MatchesSearch(entry_, "parken@"));            // contact is not searched
}

TEST_F(MatchesSearchTest, EmptyQueryMatchesEverything) {
  EXPECT_TRUE(MatchesSearch(entry_, ""));
  EXPECT_TRUE(MatchesSearch(entry_, " \t "));
}

// ---- export ------------------------------------------------------------------------

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto entries = GiessenEntries();
    ASSERT_TRUE(entries.ok()) << entries.status();
    entries_ = *std::move(entries);
    turtle_ = ExportTurtle(GiessenNode(), entries_);
    jsonld_ = ExportJsonLd(GiessenNode(), entries_);
  }
  std::vector<CatalogEntry> entries_;
  std::string turtle_;
  std::string jsonld_;
};

TEST_F(ExportTest, OnlyPublicEntriesAppear) {
  for (const std::string& doc : {turtle_, jsonld_}) {
    EXPECT_THAT(doc, HasSubstr("/datasets/parkhausbelegung"));
    EXPECT_THAT(doc, HasSubstr("/datasets/kommunalwahl_2021"));
    EXPECT_THAT(doc, HasSubstr("/datasets/badesee-temperatur"));
    EXPECT_THAT(doc, Not(HasSubstr("geheim")));
    EXPECT_THAT(doc, Not(HasSubstr("Geheimtitel")));
  }
}

TEST_F(ExportTest, TurtleHasTheDcatApDeProperties) {
  for (absl::string_view needle : {
           "<https://daten.giessen.example.org/fednode/catalog>",
           "a dcat:Catalog",
           "dct:title \"Datenkatalog Gießen, Universitätsstadt\"@de",
           "dct:language <http://publications.europa.eu/resource/authority/language/DEU>",
           "foaf:homepage <https://www.giessen.de>",
           "dcat:dataset <https://daten.giessen.example.org/fednode/datasets/parkhausbelegung>",
           "a dcat:Dataset",
           "dct:title \"Parkhausbelegung Gießen – Parkhaus Rathaus\"@de",
           "a foaf:Agent",
           "foaf:name \"Universitätsstadt Gießen\"@de",
           "a vcard:Organization",
           "vcard:hasEmail <mailto:parken@giessen.example.org>",
           "vcard:hasURL <https://www.giessen.de/Umwelt>",
           "dcat:keyword \"Parkhäuser\"@de",
           "dcat:theme <http://publications.europa.eu/resource/authority/data-theme/TRAN>",
           "dcatde:contributorID <http://dcat-ap.de/def/contributors/hessen>",
           "dcatde:politicalGeocodingURI "
           "<http://dcat-ap.de/def/politicalGeocoding/municipalityKey/06531005>",
           "dcatde:politicalGeocodingLevelURI "
           "<http://dcat-ap.de/def/politicalGeocoding/Level/municipality>",
           "dct:spatial <http://dcat-ap.de/def/politicalGeocoding/municipalityKey/06531005>",
           "a dct:PeriodOfTime",
           "dcat:startDate \"2024-01-01\"^^xsd:date",
           "dcat:endDate \"2024-12-31\"^^xsd:date",
           "dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/"
           "15MIN>",
           "dct:conformsTo <urn:fednode:schema:parkhausbelegung:v1>",
           "dct:issued \"2025-01-10T08:00:00Z\"^^xsd:dateTime",
           "dct:modified \"2025-03-01T06:30:00Z\"^^xsd:dateTime",
           "a dcat:Distribution",
           "dct:license <http://dcat-ap.de/def/licenses/dl-by-de/2.0>",
           "dcatde:licenseAttributionByText \"Universitätsstadt Gießen, Parkleitsystem\"@de",
           "dct:format <http://publications.europa.eu/resource/authority/file-type/CSV>",
           "dcat:accessURL <https://www.giessen.de/Parken>",
           "frei (int64, Einheit: Stellplätze): Freie Stellplätze",
           "Primärschlüssel: zeitpunkt, parkhaus.",
       }) {
    EXPECT_THAT(turtle_, HasSubstr(std::string(needle)));
  }
  // Without a landing page the access URL is the dataset IRI the node serves.
  EXPECT_THAT(turtle_, HasSubstr("dcat:accessURL "
                                 "<https://daten.giessen.example.org/fednode/datasets/"
                                 "badesee-temperatur>"));
  // Defaults: the election entry got the node's licence and contact.
  EXPECT_THAT(turtle_, HasSubstr("vcard:hasEmail <mailto:statistik@giessen.example.org>"));
  // Catalog modified = latest entry.
  EXPECT_THAT(turtle_, HasSubstr("dct:modified \"2025-03-01T06:30:00Z\"^^xsd:dateTime"));
}

TEST_F(ExportTest, TurtleEscapesStrings) {
  // Quotes, backslashes, tabs and newlines are escaped; umlauts, ß, °, „“ stay UTF-8.
  EXPECT_THAT(turtle_, HasSubstr("dct:title \"Wassertemperatur am Badesee \\\"Dutenhofener "
                                 "See\\\" (Gießen/Wetzlar)\"@de"));
  EXPECT_THAT(turtle_, HasSubstr("in °C.\\tPfad der Rohdaten: C:\\\\daten\\\\bad.csv\\nHinweis: "
                                 "Werte über 25 °C sind „geprüft“.\"@de"));
  EXPECT_THAT(turtle_, HasSubstr("Parkhaus \\\"Rathaus\\\" (Berliner Platz)"));
  // No raw newline inside any literal: every line is a prefix, a subject, a
  // property, a bracket or blank.
  for (absl::string_view line : absl::StrSplit(turtle_, '\n')) {
    if (line.empty() || line[0] == '#' || line[0] == '@' || line[0] == '<') continue;
    EXPECT_TRUE(absl::StartsWith(line, "    ")) << "line: " << line;
  }
}

TEST_F(ExportTest, ControlCharactersAndBadIrisNeverLeakRaw) {
  CatalogEntry e = entries_[0];
  e.mutable_metadata()->set_title(
      std::string("A\x01"
                  "B\x7f"
                  "C\r"));
  e.mutable_metadata()->set_landing_page("https://x.example/<evil> \"q\"");
  e.set_dataset_id("a b/c#d");
  const std::string ttl = ExportTurtle(GiessenNode(), {e});
  EXPECT_THAT(ttl, HasSubstr("\"A\\u0001B\\u007FC\\r\"@de"));
  EXPECT_THAT(ttl, Not(HasSubstr("<evil>")));
  EXPECT_THAT(ttl, HasSubstr("/datasets/a%20b%2Fc%23d>"));
}

TEST_F(ExportTest, JsonLdIsValidJsonWithInlineContext) {
  const nlohmann::json doc = nlohmann::json::parse(jsonld_, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded());
  ASSERT_TRUE(doc.contains("@context"));
  EXPECT_EQ(doc["@context"]["dcat"], "http://www.w3.org/ns/dcat#");
  EXPECT_EQ(doc["@context"]["dcatde"], "http://dcat-ap.de/def/dcatde/");
  const nlohmann::json& graph = doc["@graph"];
  ASSERT_EQ(graph.size(), 4u);  // catalog + 3 public datasets
  EXPECT_EQ(graph[0]["@type"][0], "dcat:Catalog");
  EXPECT_EQ(graph[0]["dcat:dataset"].size(), 3u);
  const nlohmann::json& park = graph[1];
  EXPECT_EQ(park["@id"], "https://daten.giessen.example.org/fednode/datasets/parkhausbelegung");
  EXPECT_EQ(park["dct:title"][0]["@value"], "Parkhausbelegung Gießen – Parkhaus Rathaus");
  EXPECT_EQ(park["dct:title"][0]["@language"], "de");
  // Escaping round-trips: the parsed value equals the original text.
  EXPECT_EQ(park["dct:description"][0]["@value"], ParkingMetadata().description());
  EXPECT_EQ(park["dct:issued"][0]["@type"], "xsd:dateTime");
  EXPECT_EQ(park["dcat:distribution"][0]["dcat:accessURL"][0]["@id"],
            "https://www.giessen.de/Parken");
  EXPECT_EQ(graph[3]["dct:title"][0]["@value"],
            "Wassertemperatur am Badesee \"Dutenhofener See\" (Gießen/Wetzlar)");
}

TEST_F(ExportTest, PublisherWithUriIsDescribedOnce) {
  CatalogEntry e = entries_[0];
  e.mutable_metadata()->mutable_publisher()->set_uri("https://www.giessen.de");
  const std::string ttl = ExportTurtle(GiessenNode(), {e});
  EXPECT_THAT(ttl, HasSubstr("dct:publisher <https://www.giessen.de>"));
  EXPECT_THAT(ttl, HasSubstr("\n<https://www.giessen.de>\n    a foaf:Agent ;\n    foaf:name "
                             "\"Universitätsstadt Gießen\"@de ."));
  const nlohmann::json doc =
      nlohmann::json::parse(ExportJsonLd(GiessenNode(), {e}), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["@graph"][1]["dct:publisher"][0]["@id"], "https://www.giessen.de");
  EXPECT_EQ(doc["@graph"][1]["dct:publisher"][0]["@type"][0], "foaf:Agent");
}

TEST_F(ExportTest, EmptyCatalogAndNoBaseUri) {
  NodeIdentity node = GiessenNode();
  node.base_uri.clear();
  const std::string ttl = ExportTurtle(node, {});
  EXPECT_THAT(ttl, HasSubstr("<urn:fednode:06531005/catalog>"));
  EXPECT_THAT(ttl, Not(HasSubstr("dcat:dataset")));
  const nlohmann::json doc = nlohmann::json::parse(ExportJsonLd(node, {}), nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["@graph"].size(), 1u);
}

TEST_F(ExportTest, ExportIsDeterministic) {
  EXPECT_EQ(ExportTurtle(GiessenNode(), entries_), turtle_);
  EXPECT_EQ(ExportJsonLd(GiessenNode(), entries_), jsonld_);
}

}  // namespace
}  // namespace fednode::catalog
