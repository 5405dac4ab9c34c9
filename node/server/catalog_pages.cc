#include "node/server/catalog_pages.h"

#include <algorithm>

namespace fednode::server {

uint32_t CatalogPageSize(uint32_t requested) {
  if (requested == 0) return kDefaultCatalogPageSize;
  return std::min(requested, kMaxCatalogPageSize);
}

federation::v1::GetCatalogResponse BuildCatalogPage(const storage::CatalogChangePage& changes,
                                                    uint64_t after_sequence,
                                                    const MayKnowFn& may_know) {
  federation::v1::GetCatalogResponse out;
  uint64_t next = after_sequence;
  for (const storage::CatalogChange& c : changes.changes) {
    next = c.seq;
    if (c.entry.has_value() &&
        c.entry->metadata().access_class() != catalog::v1::ACCESS_CLASS_PRIVATE &&
        may_know(c.dataset_id, c.entry->schema().conforms_to())) {
      *out.add_entries() = *c.entry;
      continue;
    }
    const bool saw_before = std::any_of(
        c.prior_conforms_to.begin(), c.prior_conforms_to.end(),
        [&](const std::string& conforms_to) { return may_know(c.dataset_id, conforms_to); });
    if (saw_before) {
      auto* removed = out.add_removed();
      removed->set_dataset_id(c.dataset_id);
      removed->set_change_seq(c.seq);
    }
  }
  out.set_next_sequence(next);
  out.set_more(changes.more);
  return out;
}

}  // namespace fednode::server
