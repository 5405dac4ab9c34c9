// ValidateMetadata and WithPublisherDefaults.
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

#include "node/catalog/catalog.h"
#include "node/catalog/internal.h"
#include "node/catalog/vocabulary.h"

namespace fednode::catalog {
namespace {

using catalog::v1::AccessClass;
using catalog::v1::DatasetMetadata;

bool IsBlank(absl::string_view s) { return absl::StripAsciiWhitespace(s).empty(); }

absl::Status Required(absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat("metadata.", field, " is required"));
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("metadata.", field, " ", why));
}

// "YYYY-MM-DD" naming a day that exists.
bool ParseIsoDate(absl::string_view s, absl::CivilDay* day) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  const int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  const int month = (s[5] - '0') * 10 + (s[6] - '0');
  const int dom = (s[8] - '0') * 10 + (s[9] - '0');
  const absl::CivilDay d(year, month, dom);
  // CivilDay normalises out-of-range fields (2024-02-30 -> 2024-03-01).
  if (d.year() != year || d.month() != month || d.day() != dom) return false;
  *day = d;
  return true;
}

// local@domain.tld without spaces, IRI-unsafe characters or a mailto: prefix.
bool LooksLikeEmail(absl::string_view s) {
  if (absl::StartsWithIgnoreCase(s, "mailto:")) return false;
  if (!internal::IsIriSafe(s)) return false;
  const size_t at = s.find('@');
  if (at == absl::string_view::npos || at == 0 || s.find('@', at + 1) != absl::string_view::npos) {
    return false;
  }
  const absl::string_view domain = s.substr(at + 1);
  const size_t dot = domain.rfind('.');
  return dot != absl::string_view::npos && dot > 0 && dot + 1 < domain.size();
}

absl::Status CheckHttpUri(absl::string_view field, absl::string_view value) {
  if (!internal::IsHttpUri(value)) {
    return Invalid(field, "must be an http or https URI without spaces");
  }
  return absl::OkStatus();
}

bool IsContributorId(absl::string_view uri) {
  if (!absl::StartsWith(uri, kContributorUriPrefix)) return false;
  const absl::string_view id = uri.substr(kContributorUriPrefix.size());
  if (id.empty()) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace

absl::Status ValidateMetadata(const DatasetMetadata& m) {
  if (IsBlank(m.title())) return Required("title");
  if (IsBlank(m.description())) return Required("description");

  switch (m.access_class()) {
    case catalog::v1::ACCESS_CLASS_PUBLIC:
    case catalog::v1::ACCESS_CLASS_FEDERATION:
    case catalog::v1::ACCESS_CLASS_RESTRICTED:
    case catalog::v1::ACCESS_CLASS_PRIVATE:
      break;
    case catalog::v1::ACCESS_CLASS_UNSPECIFIED:
      return Required("access_class");
    default:
      return Invalid("access_class",
                     absl::StrCat("has unknown value ", static_cast<int>(m.access_class())));
  }
  const bool is_public = m.access_class() == catalog::v1::ACCESS_CLASS_PUBLIC;

  // Licence (K31).
  if (m.license().empty()) {
    if (is_public) return Required("license");
  } else if (!IsDcatApDeLicense(m.license())) {
    return Invalid("license", absl::StrCat("\"", internal::Abbreviate(m.license()),
                                           "\" is not a DCAT-AP.de licence URI (e.g. ",
                                           "http://dcat-ap.de/def/licenses/dl-by-de/2.0)"));
  }

  // Publisher (K36).
  if (IsBlank(m.publisher().name()) && is_public) return Required("publisher.name");
  if (!m.publisher().uri().empty()) {
    if (absl::Status s = CheckHttpUri("publisher.uri", m.publisher().uri()); !s.ok()) return s;
  }

  // Contact point (K01).
  const auto& cp = m.contact_point();
  if (is_public) {
    if (IsBlank(cp.name())) return Required("contact_point.name");
    if (cp.email().empty() && cp.url().empty()) {
      return Invalid("contact_point", "needs an email or a url");
    }
  }
  if (!cp.email().empty() && !LooksLikeEmail(cp.email())) {
    return Invalid("contact_point.email", "is not an e-mail address (local@domain, no mailto:)");
  }
  if (!cp.url().empty()) {
    if (absl::Status s = CheckHttpUri("contact_point.url", cp.url()); !s.ok()) return s;
  }

  // Contributor (K12/13).
  if (m.contributor_id().empty()) {
    if (is_public) return Required("contributor_id");
  } else if (!IsContributorId(m.contributor_id())) {
    return Invalid("contributor_id", absl::StrCat("\"", internal::Abbreviate(m.contributor_id()),
                                                  "\" is not a DCAT-AP.de contributor URI (",
                                                  kContributorUriPrefix, "<id>)"));
  }

  for (int i = 0; i < m.keywords_size(); ++i) {
    if (IsBlank(m.keywords(i))) return Invalid(absl::StrCat("keywords[", i, "]"), "is blank");
  }
  for (int i = 0; i < m.themes_size(); ++i) {
    const std::string field = absl::StrCat("themes[", i, "]");
    if (!IsDataTheme(m.themes(i))) {
      return Invalid(field, absl::StrCat("\"", internal::Abbreviate(m.themes(i)),
                                         "\" is not an EU data-theme code (AGRI ECON EDUC ENER "
                                         "ENVI GOVE HEAL INTR JUST REGI SOCI TECH TRAN)"));
    }
    for (int j = 0; j < i; ++j) {
      if (m.themes(j) == m.themes(i)) {
        return Invalid(field, absl::StrCat("\"", m.themes(i), "\" repeats themes[", j, "]"));
      }
    }
  }

  absl::CivilDay start, end;
  const bool has_start = !m.temporal_start().empty();
  const bool has_end = !m.temporal_end().empty();
  if (has_start && !ParseIsoDate(m.temporal_start(), &start)) {
    return Invalid("temporal_start", "must be a date YYYY-MM-DD");
  }
  if (has_end && !ParseIsoDate(m.temporal_end(), &end)) {
    return Invalid("temporal_end", "must be a date YYYY-MM-DD");
  }
  if (has_start && has_end && end < start) {
    return Invalid("temporal_end", "is before metadata.temporal_start");
  }

  if (!m.frequency().empty() && !IsFrequency(m.frequency())) {
    return Invalid("frequency", absl::StrCat("\"", internal::Abbreviate(m.frequency()),
                                             "\" is not an EU frequency code (e.g. ANNUAL, "
                                             "DAILY, IRREG)"));
  }
  if (!m.landing_page().empty()) {
    if (absl::Status s = CheckHttpUri("landing_page", m.landing_page()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

DatasetMetadata WithPublisherDefaults(const NodeIdentity& node, const DatasetMetadata& metadata) {
  DatasetMetadata m = metadata;
  const config::v1::PublisherDefaults& d = node.publisher;
  if (IsBlank(m.publisher().name())) {
    m.mutable_publisher()->set_name(!IsBlank(d.name()) ? d.name() : node.member_name);
  }
  if (m.publisher().uri().empty() && !d.uri().empty()) m.mutable_publisher()->set_uri(d.uri());
  // The contact point is taken over as a whole only when the operator named
  // none, so that a dataset's own contact never gets the node's e-mail mixed in.
  const auto& cp = m.contact_point();
  if (IsBlank(cp.name()) && cp.email().empty() && cp.url().empty()) {
    m.mutable_contact_point()->set_name(d.contact_name());
    m.mutable_contact_point()->set_email(d.contact_email());
  }
  if (m.contributor_id().empty()) m.set_contributor_id(d.contributor_id());
  if (m.license().empty()) m.set_license(d.license());
  return m;
}

}  // namespace fednode::catalog
