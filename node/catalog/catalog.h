// Catalog logic of a node: validation of the metadata an operator writes,
// construction of the CatalogEntry the node holds, full-text search over
// entries, and the DCAT-AP.de 2.0 export of the public entries (Turtle and
// JSON-LD) for open-data portals such as GovData.
//
// Layer: node/catalog. Pure functions over protos, no storage and no I/O; the
// DatasetStore (node/storage) persists the entries, the server and fedctl call
// these functions. Time is always passed in, never read from a clock.
//
// All functions are safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "proto/catalog/v1/catalog.pb.h"
#include "proto/config/v1/node_config.pb.h"
#include "proto/storage/v1/dataset.pb.h"

namespace fednode::catalog {

// Who the node is, as far as the catalog needs it. Built once from the
// NodeConfig (NodeIdentityFromConfig) and passed to BuildEntry and the exports.
struct NodeIdentity {
  // AGS of the member: 8 digits for a municipality ("06531005"), 5 for a
  // county ("06531"), 2 for a state ("06"). Leading zeros are significant.
  std::string ags;
  // Official name of the member, e.g. "Gießen, Universitätsstadt".
  std::string member_name;
  // Publisher defaults from NodeConfig.publisher: used for every field that a
  // dataset's metadata leaves empty (publisher, contact point, contributor id,
  // licence).
  config::v1::PublisherDefaults publisher;
  // Public base URI under which the node's catalog is published, without a
  // trailing slash, e.g. "https://daten.giessen.de/fednode". The export mints
  // IRIs below it: "<base_uri>/catalog", "<base_uri>/datasets/<dataset_id>",
  // "<base_uri>/datasets/<dataset_id>/csv". Empty: "urn:fednode:<ags>" is used
  // instead (valid RDF, but the access URLs then are not resolvable).
  std::string base_uri;
  // foaf:homepage of the catalog (http or https), e.g. "https://www.giessen.de".
  // Optional.
  std::string homepage;
};

// Copies the identity fields of `config` (member_ags, member_name, publisher)
// and sets base_uri and homepage. Does not validate: config validation is
// node/server's job; BuildEntry checks what it relies on.
NodeIdentity NodeIdentityFromConfig(const config::v1::NodeConfig& config,
                                    absl::string_view base_uri, absl::string_view homepage);

// ---------------------------------------------------------------------------
// Validation

// Checks metadata as it will be stored and published. Apply the node's
// publisher defaults first (WithPublisherDefaults) when fields may come from
// the node config; BuildEntry does that itself.
//
// Rules, for every access class:
//   - title and description are not blank (not only whitespace);
//   - access_class is PUBLIC, FEDERATION, RESTRICTED or PRIVATE;
//   - license, when set, is a DCAT-AP.de licence URI (kDcatApDeLicenses);
//   - themes are EU data-theme codes (kDataThemes), each at most once;
//   - keywords are not blank;
//   - temporal_start / temporal_end, when set, are ISO dates "YYYY-MM-DD"
//     that exist, and start <= end;
//   - contributor_id, when set, is "http://dcat-ap.de/def/contributors/<id>"
//     with <id> of [A-Za-z0-9_-];
//   - frequency, when set, is an EU frequency code (kFrequencies);
//   - landing_page, publisher.uri and contact_point.url, when set, are http or
//     https URIs without spaces or characters an IRI may not contain;
//   - contact_point.email, when set, looks like local@domain.tld (no
//     "mailto:" prefix).
// Additionally for PUBLIC entries (GovData's Konventionen K01, K12/13, K31,
// K36): license, publisher.name, contributor_id, contact_point.name and one
// of contact_point.email / contact_point.url are required.
//
// Errors: InvalidArgument for the first rule broken, naming the field path
// below "metadata", e.g. "metadata.title is required",
// "metadata.themes[2] \"FOO\" is not an EU data-theme code". Messages never
// contain the e-mail address.
absl::Status ValidateMetadata(const catalog::v1::DatasetMetadata& metadata);

// `metadata` with every empty publisher/contact/contributor/licence field
// taken from node.publisher (publisher.name falls back to node.member_name
// when the defaults name none either). Fields the operator set are kept.
catalog::v1::DatasetMetadata WithPublisherDefaults(const NodeIdentity& node,
                                                   const catalog::v1::DatasetMetadata& metadata);

// ---------------------------------------------------------------------------
// Entries

// dcatde:politicalGeocodingURI and dcatde:politicalGeocodingLevelURI of a
// member, from its AGS (DCAT-AP.de 2.0 spec, "Geopolitische Abdeckung"):
//   8 digits "06531005" -> .../politicalGeocoding/municipalityKey/06531005,
//                          level .../politicalGeocoding/Level/municipality
//   5 digits "06531"    -> .../politicalGeocoding/districtKey/06531,
//                          level .../politicalGeocoding/Level/administrativeDistrict
//   2 digits "06"       -> .../politicalGeocoding/stateKey/06,
//                          level .../politicalGeocoding/Level/state
// Errors: InvalidArgument when `ags` is not 2, 5 or 8 ASCII digits.
struct PoliticalGeocoding {
  std::string uri;
  std::string level_uri;
};
absl::StatusOr<PoliticalGeocoding> GeocodingForAgs(absl::string_view ags);

// Builds the catalog entry of a dataset version at commit time.
//
// The entry gets: dataset_id; the metadata after WithPublisherDefaults; ags
// and member_name of the node; schema; version; row_count; modified =
// `modified`; issued = previous->issued when `previous` has one, otherwise
// `modified` (first publication). change_seq is copied from `previous` (0
// without): the DatasetStore assigns the next value when it persists the
// entry.
//
// Shapes: dataset_id is 1..256 bytes without ASCII controls or spaces (the
// export percent-encodes it as an IRI path segment). `previous`, when given,
// must be the stored entry of the same dataset_id.
// Units: `modified` is the commit instant (UTC); stored with microsecond
// precision.
// Errors: InvalidArgument for a malformed dataset_id, an AGS that
// GeocodingForAgs rejects ("node.ags ..."), metadata that ValidateMetadata
// rejects (same message), or a `previous` of another dataset.
// Source: metadata from the operator (trusted to be theirs, but checked);
// schema, version and row_count from the DatasetStore commit.
// REQUIRES: `previous` is null or valid for the duration of the call.
absl::StatusOr<catalog::v1::CatalogEntry> BuildEntry(const NodeIdentity& node,
                                                     absl::string_view dataset_id,
                                                     const catalog::v1::DatasetMetadata& metadata,
                                                     const storage::v1::Schema& schema,
                                                     uint64_t version, uint64_t row_count,
                                                     absl::Time modified,
                                                     const catalog::v1::CatalogEntry* previous);

// ---------------------------------------------------------------------------
// Search

// Folds text for search: Unicode NFC, full case folding (so "ß" and "ẞ"
// become "ss"), then "ä"/"ö"/"ü" become "ae"/"oe"/"ue". Thus "Gießen",
// "GIESSEN" and "giessen" fold alike, as do "Parkhäuser" and "PARKHAEUSER".
// Invalid UTF-8 sequences become U+FFFD.
std::string FoldForSearch(absl::string_view text);

// True when every word of `words` (split at whitespace) occurs, after
// FoldForSearch, as a substring of one of the entry's title, description,
// keywords, dataset id or member name. No words (empty or blank query):
// true. Access class is not looked at: the caller filters what the asker may
// see first.
bool MatchesSearch(const catalog::v1::CatalogEntry& entry, absl::string_view words);

// ---------------------------------------------------------------------------
// DCAT-AP.de export

// The PUBLIC entries of `entries` as one DCAT-AP.de 2.0 catalog in Turtle
// (UTF-8). Entries of any other access class never appear, not even their
// ids. Output order follows `entries`; the output is deterministic.
//
// Graph (IRIs as in NodeIdentity::base_uri; literals in German, @de):
//   <base>/catalog  a dcat:Catalog: dct:title "Datenkatalog <member_name>",
//     dct:description, dct:publisher, dct:language DEU, foaf:homepage (when
//     set), dct:modified (latest entry), dcat:dataset ...
//   <base>/datasets/<id>  a dcat:Dataset: dct:identifier (the dataset IRI),
//     dct:title, dct:description, dct:publisher [foaf:Agent, foaf:name],
//     dcat:contactPoint [vcard:Organization, vcard:fn, vcard:hasEmail
//     <mailto:..>, vcard:hasURL], dcat:keyword, dcat:theme (EU data-theme),
//     dcatde:contributorID, dcatde:politicalGeocodingURI,
//     dcatde:politicalGeocodingLevelURI, dct:spatial (the geocoding URI),
//     dct:temporal [dct:PeriodOfTime, dcat:startDate, dcat:endDate],
//     dct:accrualPeriodicity, dcat:landingPage, dct:language DEU,
//     dct:conformsTo (schema.conforms_to), owl:versionInfo (version),
//     dct:issued, dct:modified (xsd:dateTime, UTC), dcat:distribution.
//   <base>/datasets/<id>/csv  a dcat:Distribution: dct:title, dct:description
//     (row count and the schema: each column with type, unit, description,
//     and the primary key), dct:license, dcatde:licenseAttributionByText,
//     dct:format CSV, dcat:mediaType text/csv, dcat:accessURL,
//     dct:conformsTo, dct:issued, dct:modified.
// dcat:accessURL is the landing page when the metadata names one, otherwise
// the dataset IRI <base>/datasets/<id> (the node's base URI serves it).
// licenseAttributionByText is the metadata's license_attribution, or the
// publisher name when empty.
//
// REQUIRES: the entries were built by BuildEntry (valid metadata); fields
// that would make invalid RDF are still escaped or percent-encoded, never
// emitted raw.
std::string ExportTurtle(const NodeIdentity& node,
                         const std::vector<catalog::v1::CatalogEntry>& entries);

// The same graph as ExportTurtle as one JSON-LD document (UTF-8) with an
// inline @context (prefixes only) and an @graph array; no remote context.
std::string ExportJsonLd(const NodeIdentity& node,
                         const std::vector<catalog::v1::CatalogEntry>& entries);

}  // namespace fednode::catalog
