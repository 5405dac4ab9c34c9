#include "node/catalog/vocabulary.h"

#include <algorithm>

namespace fednode::catalog {

// Source: tests/dcat-ap-de/vocab/dcat-ap-de-licenses-20210721.rdf, every
// skos:Concept in document order (owl:versionInfo 20210721).
const std::array<absl::string_view, 34> kDcatApDeLicenses = {
    "http://dcat-ap.de/def/licenses/dl-zero-de/2.0",
    "http://dcat-ap.de/def/licenses/dl-by-de/2.0",
    "http://dcat-ap.de/def/licenses/cc-by/4.0",
    "http://dcat-ap.de/def/licenses/apache",
    "http://dcat-ap.de/def/licenses/bsd",
    "http://dcat-ap.de/def/licenses/cc-by",
    "http://dcat-ap.de/def/licenses/cc-by-de/3.0",
    "http://dcat-ap.de/def/licenses/cc-by-sa",
    "http://dcat-ap.de/def/licenses/cc-by-sa-de/3.0",
    "http://dcat-ap.de/def/licenses/cc-by-sa/4.0",
    "http://dcat-ap.de/def/licenses/ccpdm/1.0",
    "http://dcat-ap.de/def/licenses/cc-zero",
    "http://dcat-ap.de/def/licenses/dl-by-de/1.0",
    "http://dcat-ap.de/def/licenses/geonutz/20130319",
    "http://dcat-ap.de/def/licenses/geoNutz/20131001",
    "http://dcat-ap.de/def/licenses/gfdl",
    "http://dcat-ap.de/def/licenses/gpl/3.0",
    "http://dcat-ap.de/def/licenses/mozilla",
    "http://dcat-ap.de/def/licenses/odbl",
    "http://dcat-ap.de/def/licenses/odby",
    "http://dcat-ap.de/def/licenses/odcpddl",
    "http://dcat-ap.de/def/licenses/officialWork",
    "http://dcat-ap.de/def/licenses/other-open",
    "http://dcat-ap.de/def/licenses/other-opensource",
    "http://dcat-ap.de/def/licenses/cc-by-nc",
    "http://dcat-ap.de/def/licenses/cc-by-nc-de/3.0",
    "http://dcat-ap.de/def/licenses/cc-by-nc/4.0",
    "http://dcat-ap.de/def/licenses/cc-by-nd",
    "http://dcat-ap.de/def/licenses/cc-by-nd/3.0",
    "http://dcat-ap.de/def/licenses/cc-by-nd/4.0",
    "http://dcat-ap.de/def/licenses/dl-by-nc-de/1.0",
    "http://dcat-ap.de/def/licenses/other-closed",
    "http://dcat-ap.de/def/licenses/other-commercial",
    "http://dcat-ap.de/def/licenses/other-freeware",
};

// Source: tests/dcat-ap-de/vocab/eu-data-theme-20161225-1.rdf (without OP_DATPRO).
const std::array<absl::string_view, 13> kDataThemes = {
    "AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL",
    "INTR", "JUST", "REGI", "SOCI", "TECH", "TRAN",
};

// Source: tests/dcat-ap-de/vocab/eu-frequency-20220615-0.ttl (all 38 codes).
const std::array<absl::string_view, 38> kFrequencies = {
    "10MIN",        "12HRS",       "15MIN",     "1MIN",        "30MIN",       "5MIN",
    "ANNUAL",       "ANNUAL_2",    "ANNUAL_3",  "AS_NEEDED",   "BIDECENNIAL", "BIENNIAL",
    "BIHOURLY",     "BIMONTHLY",   "BIWEEKLY",  "CONT",        "DAILY",       "DAILY_2",
    "DECENNIAL",    "HOURLY",      "IRREG",     "MONTHLY",     "MONTHLY_2",   "MONTHLY_3",
    "NEVER",        "NOT_PLANNED", "OTHER",     "QUADRENNIAL", "QUARTERLY",   "QUINQUENNIAL",
    "TRIDECENNIAL", "TRIENNIAL",   "TRIHOURLY", "UNKNOWN",     "UPDATE_CONT", "WEEKLY",
    "WEEKLY_2",     "WEEKLY_3",
};

namespace {

template <size_t N>
bool Contains(const std::array<absl::string_view, N>& table, absl::string_view value) {
  return std::find(table.begin(), table.end(), value) != table.end();
}

}  // namespace

bool IsDcatApDeLicense(absl::string_view uri) { return Contains(kDcatApDeLicenses, uri); }
bool IsDataTheme(absl::string_view code) { return Contains(kDataThemes, code); }
bool IsFrequency(absl::string_view code) { return Contains(kFrequencies, code); }

}  // namespace fednode::catalog
