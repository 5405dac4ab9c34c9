// The holder's side of catalog exchange: one page of the node's catalog
// changes as a member may see it (federation GetCatalog). The federation
// service reads the change log (storage::DatasetStore::ListCatalogChanges)
// and calls BuildCatalogPage with the caller's policy check.
//
// Layer: node/server. Pure functions, safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/strings/string_view.h"

#include "node/storage/dataset_store.h"
#include "proto/federation/v1/federation.pb.h"

namespace fednode::server {

// Changes per page when the caller asks for 0, and the most a page covers
// (a bound on the holder's work and message size per call: 1000 entries of a
// few KiB stay far below gRPC's 4 MiB limit).
inline constexpr uint32_t kDefaultCatalogPageSize = 100;
inline constexpr uint32_t kMaxCatalogPageSize = 1000;

// The page size used for a request asking for `requested` changes.
uint32_t CatalogPageSize(uint32_t requested);

// Whether the caller may know of dataset `dataset_id` with schema
// `conforms_to` (policy::MayKnowOf with the caller bound).
using MayKnowFn = std::function<bool(absl::string_view dataset_id, absl::string_view conforms_to)>;

// The GetCatalog answer for `changes` (read after `after_sequence`):
//   - a change whose dataset exists, is not PRIVATE and is visible to the
//     caller gives its entry;
//   - otherwise, when the caller could see one of the dataset's earlier
//     states (changes.prior_conforms_to), a RemovedEntry;
//   - otherwise nothing: the caller learns neither id nor existence.
// next_sequence is the seq of the last change covered (after_sequence when
// none), so paging advances over changes the caller may not see; `more` is
// changes.more. agreement_version is left to the caller.
federation::v1::GetCatalogResponse BuildCatalogPage(const storage::CatalogChangePage& changes,
                                                    uint64_t after_sequence,
                                                    const MayKnowFn& may_know);

}  // namespace fednode::server
