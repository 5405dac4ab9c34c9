#include "node/storage/segment_cache.h"

#include <memory>

#include "gtest/gtest.h"

namespace fednode::storage {
namespace {

std::shared_ptr<const Table> T() { return std::make_shared<const Table>(); }

TEST(SegmentCacheTest, EvictsLeastRecentlyUsedByBytes) {
  SegmentCache cache(100);
  auto a = T();
  cache.Insert("a", a, 40);
  cache.Insert("b", T(), 40);
  EXPECT_EQ(cache.Lookup("a"), a);  // a is now most recent
  cache.Insert("c", T(), 40);       // evicts b
  EXPECT_EQ(cache.Lookup("b"), nullptr);
  EXPECT_NE(cache.Lookup("a"), nullptr);
  EXPECT_NE(cache.Lookup("c"), nullptr);
  EXPECT_EQ(cache.size_bytes(), 80u);
  cache.Insert("huge", T(), 101);  // larger than the capacity: not kept
  EXPECT_EQ(cache.Lookup("huge"), nullptr);
  EXPECT_EQ(cache.entries(), 2u);
}

TEST(SegmentCacheTest, EraseByKeyAndPrefix) {
  SegmentCache cache(1000);
  cache.Insert("d1/s1", T(), 10);
  cache.Insert("d1/s2", T(), 10);
  cache.Insert("d2/s1", T(), 10);
  cache.Erase("d2/s1");
  EXPECT_EQ(cache.entries(), 2u);
  cache.EraseWithPrefix("d1/");
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.size_bytes(), 0u);
}

TEST(SegmentCacheTest, ZeroCapacityCachesNothing) {
  SegmentCache cache(0);
  cache.Insert("a", T(), 1);
  EXPECT_EQ(cache.Lookup("a"), nullptr);
}

TEST(SegmentCacheTest, InsertAfterAnEraseSinceTheReadIsDropped) {
  SegmentCache cache(1000);
  const uint64_t before = cache.erase_generation();
  cache.Erase("d1/s1");  // a commit deleted d1/s1 while a reader decoded it
  cache.InsertIfNoEraseSince(before, "d1/s1", T(), 10);
  EXPECT_EQ(cache.Lookup("d1/s1"), nullptr);
  const uint64_t now = cache.erase_generation();
  cache.InsertIfNoEraseSince(now, "d1/s2", T(), 10);
  EXPECT_NE(cache.Lookup("d1/s2"), nullptr);
  // LRU eviction is no erase: it does not move the generation.
  SegmentCache small(10);
  const uint64_t g = small.erase_generation();
  small.Insert("a", T(), 10);
  small.Insert("b", T(), 10);
  EXPECT_EQ(small.erase_generation(), g);
}

}  // namespace
}  // namespace fednode::storage
