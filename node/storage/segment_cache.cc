#include "node/storage/segment_cache.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"

namespace fednode::storage {

SegmentCache::SegmentCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

std::shared_ptr<const Table> SegmentCache::Lookup(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->table;
}

void SegmentCache::Insert(absl::string_view key, std::shared_ptr<const Table> table, size_t bytes) {
  if (bytes > capacity_bytes_) {
    return;
  }
  absl::MutexLock lock(&mu_);
  InsertLocked(key, std::move(table), bytes);
}

uint64_t SegmentCache::erase_generation() const {
  absl::MutexLock lock(&mu_);
  return erase_generation_;
}

void SegmentCache::InsertIfNoEraseSince(uint64_t generation, absl::string_view key,
                                        std::shared_ptr<const Table> table, size_t bytes) {
  if (bytes > capacity_bytes_) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (erase_generation_ == generation) {
    InsertLocked(key, std::move(table), bytes);
  }
}

void SegmentCache::InsertLocked(absl::string_view key, std::shared_ptr<const Table> table,
                                size_t bytes) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    EraseLocked(it->second);
  }
  lru_.push_front(Entry{std::string(key), std::move(table), bytes});
  index_.emplace(lru_.front().key, lru_.begin());
  size_bytes_ += bytes;
  while (size_bytes_ > capacity_bytes_ && !lru_.empty()) {
    EraseLocked(std::prev(lru_.end()));
  }
}

void SegmentCache::Erase(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  ++erase_generation_;
  auto it = index_.find(key);
  if (it != index_.end()) {
    EraseLocked(it->second);
  }
}

void SegmentCache::EraseWithPrefix(absl::string_view prefix) {
  absl::MutexLock lock(&mu_);
  ++erase_generation_;
  std::vector<List::iterator> doomed;
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    if (absl::StartsWith(it->key, prefix)) {
      doomed.push_back(it);
    }
  }
  for (List::iterator it : doomed) {
    EraseLocked(it);
  }
}

size_t SegmentCache::size_bytes() const {
  absl::MutexLock lock(&mu_);
  return size_bytes_;
}

size_t SegmentCache::entries() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

void SegmentCache::EraseLocked(List::iterator it) {
  size_bytes_ -= it->bytes;
  index_.erase(it->key);
  lru_.erase(it);
}

}  // namespace fednode::storage
