#include "node/query/plan_info.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/query/sql.h"

namespace fednode::query {
namespace {

using ::testing::ElementsAre;

v1::QueryPlan Sql(const std::string& sql) {
  auto plan = ParseSql(sql);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : v1::QueryPlan();
}

TEST(PlanInfoTest, ReferencedColumnsCoverSelectAggregatesExtractAndFilter) {
  EXPECT_THAT(ReferencedColumns(Sql(
                  "SELECT EXTRACT(hour FROM ts) AS h, AVG(occ) FROM p WHERE NOT (kind = 'a' OR "
                  "free BETWEEN 1 AND 2) AND name LIKE 'x%' AND z IS NULL AND y IN (1, 2) GROUP BY "
                  "h")),
              ElementsAre("free", "kind", "name", "occ", "ts", "y", "z"));
  EXPECT_THAT(ReferencedColumns(Sql("SELECT COUNT(*) FROM p")), ElementsAre());
  EXPECT_THAT(ReferencedColumns(Sql("SELECT * FROM p")), ElementsAre("*"));
}

TEST(PlanInfoTest, AggregateOnlyWhenEveryItemIsAnAggregateOrAGroupKey) {
  EXPECT_TRUE(IsAggregate(Sql("SELECT COUNT(*) FROM p")));
  EXPECT_TRUE(IsAggregate(Sql("SELECT k, SUM(v) FROM p GROUP BY k")));
  EXPECT_TRUE(IsAggregate(Sql("SELECT k FROM p GROUP BY k")));
  EXPECT_FALSE(IsAggregate(Sql("SELECT v FROM p")));
  EXPECT_FALSE(IsAggregate(Sql("SELECT * FROM p")));
}

}  // namespace
}  // namespace fednode::query
