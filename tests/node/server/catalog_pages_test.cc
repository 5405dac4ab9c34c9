#include "node/server/catalog_pages.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fednode::server {
namespace {

storage::CatalogChange Live(
    uint64_t seq, const std::string& id, const std::string& conforms_to,
    catalog::v1::AccessClass access = catalog::v1::ACCESS_CLASS_FEDERATION) {
  storage::CatalogChange c;
  c.seq = seq;
  c.dataset_id = id;
  c.entry.emplace();
  c.entry->set_dataset_id(id);
  c.entry->set_change_seq(seq);
  c.entry->mutable_schema()->set_conforms_to(conforms_to);
  c.entry->mutable_metadata()->set_access_class(access);
  return c;
}

storage::CatalogChange Gone(uint64_t seq, const std::string& id, std::vector<std::string> prior) {
  storage::CatalogChange c;
  c.seq = seq;
  c.dataset_id = id;
  c.prior_conforms_to = std::move(prior);
  return c;
}

// The caller may know of datasets conforming to urn:ok and of dataset "frei".
bool MayKnow(absl::string_view id, absl::string_view conforms_to) {
  return conforms_to == "urn:ok" || id == "frei";
}

std::vector<std::string> Ids(const federation::v1::GetCatalogResponse& r) {
  std::vector<std::string> out;
  for (const auto& e : r.entries()) out.push_back(e.dataset_id());
  return out;
}

TEST(CatalogPagesTest, PageSizeDefaultsAndIsCapped) {
  EXPECT_EQ(CatalogPageSize(0), 100u);
  EXPECT_EQ(CatalogPageSize(7), 7u);
  EXPECT_EQ(CatalogPageSize(1000), 1000u);
  EXPECT_EQ(CatalogPageSize(5000), 1000u);
}

TEST(CatalogPagesTest, ShowsVisibleEntriesRemovalsOfWhatWasSeenAndNothingElse) {
  storage::CatalogChangePage page;
  page.changes = {Live(11, "a", "urn:ok"),
                  Live(12, "geheim", "urn:ok", catalog::v1::ACCESS_CLASS_PRIVATE),
                  Live(13, "fremd", "urn:other"),
                  Gone(14, "alt", {"urn:other", "urn:ok"}),
                  Gone(15, "nie", {"urn:other"}),
                  Live(16, "frei", "")};
  page.changes[1].prior_conforms_to = {"urn:ok"};  // was shared, now PRIVATE
  page.more = true;
  federation::v1::GetCatalogResponse r = BuildCatalogPage(page, 10, MayKnow);
  EXPECT_THAT(Ids(r), ::testing::ElementsAre("a", "frei"));
  EXPECT_EQ(r.entries(0).change_seq(), 11u);
  ASSERT_EQ(r.removed_size(), 2);
  EXPECT_EQ(r.removed(0).dataset_id(), "geheim");
  EXPECT_EQ(r.removed(0).change_seq(), 12u);
  EXPECT_EQ(r.removed(1).dataset_id(), "alt");
  EXPECT_EQ(r.removed(1).change_seq(), 14u);
  EXPECT_EQ(r.next_sequence(), 16u);
  EXPECT_TRUE(r.more());
}

TEST(CatalogPagesTest, APageOfInvisibleChangesStillAdvances) {
  storage::CatalogChangePage page;
  page.changes = {Live(5, "x", "urn:other"), Live(6, "y", "urn:other")};
  page.more = true;
  federation::v1::GetCatalogResponse r = BuildCatalogPage(page, 4, MayKnow);
  EXPECT_EQ(r.entries_size(), 0);
  EXPECT_EQ(r.removed_size(), 0);
  EXPECT_EQ(r.next_sequence(), 6u);
  EXPECT_TRUE(r.more());
}

TEST(CatalogPagesTest, AnEmptyPageStaysAtItsStart) {
  federation::v1::GetCatalogResponse r = BuildCatalogPage(storage::CatalogChangePage(), 9, MayKnow);
  EXPECT_EQ(r.next_sequence(), 9u);
  EXPECT_FALSE(r.more());
}

}  // namespace
}  // namespace fednode::server
