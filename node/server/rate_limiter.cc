#include "node/server/rate_limiter.h"

#include <algorithm>

namespace fednode::server {

RateLimiter::RateLimiter(Options options, const Clock* clock)
    : options_([&] {
        options.burst = std::max(options.burst, 1.0);
        options.max_keys = std::max<size_t>(options.max_keys, 1);
        return options;
      }()),
      clock_(clock != nullptr ? clock : SystemClock::Get()) {}

bool RateLimiter::Allow(absl::string_view key) {
  if (!enabled()) return true;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_keys) EvictOldest();
    it = buckets_.emplace(std::string(key), Bucket{options_.burst, now, 0}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.last));
  b.tokens = std::min(options_.burst, b.tokens + elapsed * options_.per_second);
  b.last = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  ++b.refused;
  return false;
}

uint64_t RateLimiter::TakeRefusedCount(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) return 0;
  return std::exchange(it->second.refused, 0);
}

void RateLimiter::EvictOldest() {
  auto oldest = buckets_.begin();
  for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
    if (it->second.last < oldest->second.last) oldest = it;
  }
  if (oldest != buckets_.end()) buckets_.erase(oldest);
}

}  // namespace fednode::server
