// Realistic catalog data of the Universitätsstadt Gießen (AGS 06531005) for
// the catalog tests and the DCAT-AP.de validation run (test-only).
// Names, licence and contributor follow what Gießen publishes on GovData;
// contact addresses are invented (example.org) and the schemas are the ones
// of the demo datasets in ../shared/data.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "node/catalog/catalog.h"
#include "proto/catalog/v1/catalog.pb.h"
#include "proto/storage/v1/dataset.pb.h"

namespace fednode::catalog::testing {

// Node identity as deploy/giessen would configure it.
NodeIdentity GiessenNode();

// Public metadata of the car-park occupancy dataset ("Parkhausbelegung
// Gießen – Parkhaus Rathaus"), valid for ValidateMetadata.
catalog::v1::DatasetMetadata ParkingMetadata();
storage::v1::Schema ParkingSchema();

// Entries built with BuildEntry: three public ones (car parks, election
// results, bathing waters), one FEDERATION, one RESTRICTED and one PRIVATE
// entry. Commit times are fixed (2025-03-01 ... UTC).
absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> GiessenEntries();

}  // namespace fednode::catalog::testing
