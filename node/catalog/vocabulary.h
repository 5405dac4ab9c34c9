// Controlled vocabularies of DCAT-AP.de 2.0 that the catalog checks metadata
// against, as constant tables (node/catalog). Used by ValidateMetadata and the
// DCAT-AP.de export; fedctl may use them for help texts.
//
// Each table is copied from the vocabulary file of the repository's offline
// DCAT-AP.de kit (tests/dcat-ap-de/vocab/, provenance in
// tests/dcat-ap-de/SOURCES.md); the comment of each table names the file and
// its version. When the kit gets a newer vocabulary file, update the table.
//
// Pure data and pure functions: safe for concurrent use.
#pragma once

#include <array>

#include "absl/strings/string_view.h"

namespace fednode::catalog {

// The DCAT-AP.de licence list: every skos:Concept of
// tests/dcat-ap-de/vocab/dcat-ap-de-licenses-20210721.rdf
// (scheme http://dcat-ap.de/def/licenses, owl:versionInfo 20210721, the version
// the DCAT-AP.de 2.0 shapes import; 34 licences). Konvention 31 requires
// dct:license of a distribution delivered to GovData to be one of these.
inline constexpr absl::string_view kLicenseUriPrefix = "http://dcat-ap.de/def/licenses/";
extern const std::array<absl::string_view, 34> kDcatApDeLicenses;

// EU data-theme codes (dcat:theme), from
// tests/dcat-ap-de/vocab/eu-data-theme-20161225-1.rdf (EU Vocabularies table
// "Data theme", version 20161225-1). OP_DATPRO ("provisional data") is left
// out: it is a placeholder, not a theme an operator should choose.
inline constexpr absl::string_view kDataThemeUriPrefix =
    "http://publications.europa.eu/resource/authority/data-theme/";
extern const std::array<absl::string_view, 13> kDataThemes;

// EU frequency codes (dct:accrualPeriodicity), from
// tests/dcat-ap-de/vocab/eu-frequency-20220615-0.ttl (EU Vocabularies table
// "Frequency", version 20220615-0; 38 codes).
inline constexpr absl::string_view kFrequencyUriPrefix =
    "http://publications.europa.eu/resource/authority/frequency/";
extern const std::array<absl::string_view, 38> kFrequencies;

// Prefix of dcatde:contributorID values (DCAT-AP.de list of contributors,
// tests/dcat-ap-de/vocab/dcat-ap-de-contributors-20251021.rdf). Only the form
// is checked: the list grows whenever GovData admits a new contributor.
inline constexpr absl::string_view kContributorUriPrefix = "http://dcat-ap.de/def/contributors/";

// Other IRIs the export uses. Sources: DCAT-AP.de 2.0 specification
// (https://www.dcat-ap.de/def/dcatde/2.0/spec/) and EU Vocabularies.
inline constexpr absl::string_view kLanguageGerman =
    "http://publications.europa.eu/resource/authority/language/DEU";
inline constexpr absl::string_view kFileTypeCsv =
    "http://publications.europa.eu/resource/authority/file-type/CSV";
inline constexpr absl::string_view kMediaTypeCsv =
    "https://www.iana.org/assignments/media-types/text/csv";
inline constexpr absl::string_view kGeocodingUriPrefix =
    "http://dcat-ap.de/def/politicalGeocoding/";

// True when `uri` is exactly one of kDcatApDeLicenses (case-sensitive).
bool IsDcatApDeLicense(absl::string_view uri);
// True when `code` is one of kDataThemes (upper case, e.g. "TRAN").
bool IsDataTheme(absl::string_view code);
// True when `code` is one of kFrequencies (upper case, e.g. "ANNUAL").
bool IsFrequency(absl::string_view code);

}  // namespace fednode::catalog
