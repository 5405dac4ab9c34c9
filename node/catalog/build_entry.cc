// NodeIdentityFromConfig, GeocodingForAgs and BuildEntry.
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "node/base/status_macros.h"
#include "node/catalog/catalog.h"
#include "node/catalog/internal.h"
#include "node/catalog/vocabulary.h"

namespace fednode::catalog {
namespace {

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t seconds = micros / 1000000;
  int64_t sub = micros % 1000000;
  if (sub < 0) {
    sub += 1000000;
    seconds -= 1;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(sub * 1000));
}

}  // namespace

NodeIdentity NodeIdentityFromConfig(const config::v1::NodeConfig& config,
                                    absl::string_view base_uri, absl::string_view homepage) {
  NodeIdentity node;
  node.ags = config.member_ags();
  node.member_name = config.member_name();
  node.publisher = config.publisher();
  node.base_uri = std::string(base_uri);
  node.homepage = std::string(homepage);
  return node;
}

absl::StatusOr<PoliticalGeocoding> GeocodingForAgs(absl::string_view ags) {
  if (!AllDigits(ags)) {
    return absl::InvalidArgumentError("ags must be 2, 5 or 8 digits (state, county, municipality)");
  }
  const std::string prefix(kGeocodingUriPrefix);
  switch (ags.size()) {
    case 8:
      return PoliticalGeocoding{absl::StrCat(prefix, "municipalityKey/", ags),
                                absl::StrCat(prefix, "Level/municipality")};
    case 5:
      return PoliticalGeocoding{absl::StrCat(prefix, "districtKey/", ags),
                                absl::StrCat(prefix, "Level/administrativeDistrict")};
    case 2:
      return PoliticalGeocoding{absl::StrCat(prefix, "stateKey/", ags),
                                absl::StrCat(prefix, "Level/state")};
    default:
      return absl::InvalidArgumentError(
          "ags must be 2, 5 or 8 digits (state, county, municipality)");
  }
}

absl::StatusOr<catalog::v1::CatalogEntry> BuildEntry(const NodeIdentity& node,
                                                     absl::string_view dataset_id,
                                                     const catalog::v1::DatasetMetadata& metadata,
                                                     const storage::v1::Schema& schema,
                                                     uint64_t version, uint64_t row_count,
                                                     absl::Time modified,
                                                     const catalog::v1::CatalogEntry* previous) {
  if (!internal::IsValidDatasetId(dataset_id)) {
    return absl::InvalidArgumentError(
        "dataset_id must be 1..256 bytes without spaces or control characters");
  }
  if (absl::StatusOr<PoliticalGeocoding> geo = GeocodingForAgs(node.ags); !geo.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("node.", geo.status().message()));
  }
  if (previous != nullptr && previous->dataset_id() != dataset_id) {
    return absl::InvalidArgumentError(absl::StrCat("previous entry is of dataset ",
                                                   internal::Abbreviate(previous->dataset_id()),
                                                   ", not ", internal::Abbreviate(dataset_id)));
  }
  catalog::v1::DatasetMetadata effective = WithPublisherDefaults(node, metadata);
  FEDNODE_RETURN_IF_ERROR(ValidateMetadata(effective));

  catalog::v1::CatalogEntry entry;
  entry.set_dataset_id(std::string(dataset_id));
  *entry.mutable_metadata() = std::move(effective);
  entry.set_ags(node.ags);
  entry.set_member_name(node.member_name);
  *entry.mutable_schema() = schema;
  entry.set_version(version);
  entry.set_row_count(row_count);
  SetTimestamp(modified, entry.mutable_modified());
  if (previous != nullptr && previous->has_issued()) {
    *entry.mutable_issued() = previous->issued();
  } else {
    *entry.mutable_issued() = entry.modified();
  }
  if (previous != nullptr) entry.set_change_seq(previous->change_seq());
  return entry;
}

}  // namespace fednode::catalog
