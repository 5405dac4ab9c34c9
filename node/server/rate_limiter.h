// RateLimiter: token buckets per key (a member's AGS, a source address), so
// that no single caller can take a node's capacity or fill its audit log.
//
// A bucket holds at most `burst` tokens and refills at `per_second`; each
// admitted call takes one (the token-bucket algorithm, as in RFC 2697's
// single-rate meter without colours). Keys beyond `max_keys` evict the
// bucket unused longest, so an unbounded key space (addresses) costs bounded
// memory; an evicted key starts again with a full bucket.
//
// Layer: node/server. Thread-safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "node/base/clock.h"

namespace fednode::server {

class RateLimiter {
 public:
  struct Options {
    // Sustained calls per second per key; 0 = no limit (Allow is always true).
    double per_second = 0;
    // Calls admitted at once after a quiet period; at least 1.
    double burst = 1;
    // Most keys tracked. Default 10,000.
    size_t max_keys = 10000;
  };
  // `clock` must outlive the limiter (nullptr = SystemClock).
  RateLimiter(Options options, const Clock* clock);

  // Takes one token of `key`'s bucket: true when the call is admitted. When
  // refused, the refusal is counted for `key`.
  bool Allow(absl::string_view key);
  // The refusals counted for `key` since the last call of this function for
  // it, and resets the count (for one audit entry summing them up).
  uint64_t TakeRefusedCount(absl::string_view key);

  bool enabled() const { return options_.per_second > 0; }
  const Options& options() const { return options_; }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
    uint64_t refused = 0;
  };
  void EvictOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const Clock* clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fednode::server
