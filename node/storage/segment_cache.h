// File: segment_cache.h
// -----------------------------------------------------------------------------
// An LRU cache of decoded column segments, bounded by bytes, so that repeated
// queries on a version share one decoded copy instead of decoding again.
// Entries are immutable (shared_ptr<const Table>): evicting one never
// invalidates a snapshot that holds it.
//
// Layer: node/storage, internal; used by DatasetStore.
// Thread-safety: safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "node/base/table.h"

namespace fednode::storage {

class SegmentCache {
 public:
  // capacity_bytes: upper bound of the summed `bytes` of the cached entries;
  // 0 disables caching.
  explicit SegmentCache(size_t capacity_bytes);
  ~SegmentCache() = default;
  SegmentCache(const SegmentCache&) = delete;
  SegmentCache& operator=(const SegmentCache&) = delete;
  SegmentCache(SegmentCache&&) = delete;
  SegmentCache& operator=(SegmentCache&&) = delete;

  // The entry for `key` (the segment's key prefix), marked most recently
  // used; nullptr when absent.
  std::shared_ptr<const Table> Lookup(absl::string_view key);

  // Adds or replaces the entry for `key`, then evicts least recently used
  // entries until the total fits. An entry larger than the capacity is not
  // kept.
  void Insert(absl::string_view key, std::shared_ptr<const Table> table, size_t bytes);

  // Counts Erase and EraseWithPrefix calls. A reader takes it before it
  // reads a segment and passes it to InsertIfNoEraseSince, so that a segment
  // that a commit deleted (and erased) meanwhile is not cached again.
  uint64_t erase_generation() const;
  // Insert, unless Erase or EraseWithPrefix ran since erase_generation()
  // returned `generation` (then the entry may be dead; it is dropped).
  void InsertIfNoEraseSince(uint64_t generation, absl::string_view key,
                            std::shared_ptr<const Table> table, size_t bytes);

  void Erase(absl::string_view key);
  // Erases every entry whose key starts with `prefix`.
  void EraseWithPrefix(absl::string_view prefix);

  size_t size_bytes() const;
  size_t entries() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const Table> table;
    size_t bytes = 0;
  };
  using List = std::list<Entry>;

  void EraseLocked(List::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void InsertLocked(absl::string_view key, std::shared_ptr<const Table> table, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_bytes_;
  mutable absl::Mutex mu_;
  List lru_ ABSL_GUARDED_BY(mu_);  // front = most recently used
  absl::flat_hash_map<std::string, List::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t size_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t erase_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fednode::storage
