// RateLimiter (node/server/rate_limiter.h): token buckets per key on a fake
// clock.
#include "node/server/rate_limiter.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "node/base/clock.h"

namespace fednode::server {
namespace {

TEST(RateLimiterTest, BurstThenSustainedRatePerKey) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  RateLimiter limiter({/*per_second=*/2, /*burst=*/3, /*max_keys=*/10}, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("06531011")) << i;
  EXPECT_FALSE(limiter.Allow("06531011"));
  EXPECT_FALSE(limiter.Allow("06531011"));
  EXPECT_TRUE(limiter.Allow("06531001"));  // another key has its own bucket
  clock.Advance(absl::Milliseconds(500));  // one token back (2/s)
  EXPECT_TRUE(limiter.Allow("06531011"));
  EXPECT_FALSE(limiter.Allow("06531011"));
  EXPECT_EQ(limiter.TakeRefusedCount("06531011"), 3u);
  EXPECT_EQ(limiter.TakeRefusedCount("06531011"), 0u);
  clock.Advance(absl::Hours(1));  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("06531011")) << i;
  EXPECT_FALSE(limiter.Allow("06531011"));
}

TEST(RateLimiterTest, ZeroRateMeansNoLimit) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  RateLimiter limiter({0, 1, 10}, &clock);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.Allow("x"));
  EXPECT_EQ(limiter.TakeRefusedCount("x"), 0u);
}

TEST(RateLimiterTest, KeysBeyondTheBoundEvictTheLongestUnused) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  RateLimiter limiter({1, 1, 3}, &clock);
  for (int k = 0; k < 3; ++k) {
    EXPECT_TRUE(limiter.Allow(absl::StrCat("ipv4:10.0.0.", k)));
    clock.Advance(absl::Milliseconds(1));
  }
  EXPECT_FALSE(limiter.Allow("ipv4:10.0.0.1"));
  EXPECT_TRUE(limiter.Allow("ipv4:10.0.0.9"));  // evicts 10.0.0.0, used longest ago
  // 10.0.0.0 starts again with a full bucket; 10.0.0.1 kept its empty one
  // (it was used last at the refusal above, so 10.0.0.2 is evicted now).
  EXPECT_TRUE(limiter.Allow("ipv4:10.0.0.0"));
  EXPECT_FALSE(limiter.Allow("ipv4:10.0.0.1"));
}

}  // namespace
}  // namespace fednode::server
