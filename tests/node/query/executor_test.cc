#include "node/query/executor.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/query/format.h"
#include "node/query/literal.h"
#include "node/query/sql.h"
#include "tests/node/query/query_test_util.h"

namespace fednode::query {
namespace {

using ::fednode::query::testing::Cell;
using ::fednode::query::testing::MakeSchema;
using ::fednode::query::testing::MakeSnapshot;
using ::fednode::query::testing::MakeTable;
using ::fednode::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
namespace sv1 = storage::v1;

int64_t Day(int y, int m, int d) {
  int64_t days = 0;
  EXPECT_TRUE(CivilDayToDays(y, m, d, &days));
  return days;
}
int64_t Ts(int y, int m, int d, int h, int mi) {
  return ((Day(y, m, d) * 24 + h) * 60 + mi) * int64_t{60000000};
}

// Five towns, one column of every type, NULLs in every column.
class ExecutorTest : public ::testing::Test {
 protected:
  ExecutorTest() {
    schema_ = MakeSchema({{"name", sv1::COLUMN_TYPE_STRING},
                          {"pop", sv1::COLUMN_TYPE_INT64},
                          {"area", sv1::COLUMN_TYPE_DOUBLE},
                          {"founded", sv1::COLUMN_TYPE_DATE},
                          {"ts", sv1::COLUMN_TYPE_TIMESTAMP},
                          {"active", sv1::COLUMN_TYPE_BOOL}});
    auto seg1 = MakeTable(schema_, {{std::string("Gießen"), int64_t{90000}, 72.56, Day(1197, 1, 1),
                                     Ts(2024, 1, 1, 8, 30), int64_t{1}},
                                    {std::string("Wetzlar"), int64_t{52000}, 75.67,
                                     Day(1180, 6, 15), Ts(2024, 1, 1, 9, 15), int64_t{0}},
                                    {std::string("Marburg"), Cell{}, 124.5, Day(1222, 3, 1),
                                     Ts(2024, 1, 2, 8, 0), int64_t{1}}});
    auto seg2 = MakeTable(
        schema_,
        {{std::string("Äpfelheim"), int64_t{1200}, Cell{}, Cell{}, Cell{}, Cell{}},
         {Cell{}, int64_t{500}, 3.5, Day(2000, 1, 1), Ts(2023, 12, 31, 23, 59), int64_t{0}},
         {std::string("Gelöscht"), int64_t{1}, 1.0, Day(2000, 1, 1), Ts(2023, 12, 31, 23, 59),
          int64_t{0}}});
    snap_ = MakeSnapshot(schema_, {{seg1, {}}, {seg2, {2}}});
  }

  absl::StatusOr<v1::ResultSet> Sql(const std::string& sql) {
    absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
    if (!plan.ok()) return plan.status();
    return Execute(*plan, snap_);
  }

  // The first column of every row, formatted ("NULL" for NULL).
  std::vector<std::string> Column0(const std::string& sql) {
    absl::StatusOr<v1::ResultSet> r = Sql(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status();
    std::vector<std::string> out;
    if (!r.ok()) return out;
    for (const auto& row : r->rows()) out.push_back(FormatValue(row.values(0)));
    return out;
  }
  std::vector<std::string> Names(const std::string& where) {
    return Column0("SELECT name FROM test WHERE " + where);
  }

  Schema schema_;
  storage::TableSnapshot snap_;
};

TEST_F(ExecutorTest, SelectStarReturnsVisibleRowsInOrder) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ResultSet r, Sql("SELECT * FROM test"));
  ASSERT_EQ(r.columns_size(), 6);
  EXPECT_EQ(r.columns(3).type(), sv1::COLUMN_TYPE_DATE);
  EXPECT_EQ(r.rows_size(), 5);  // the deleted row is hidden
  EXPECT_EQ(r.dataset_version(), 7u);
  EXPECT_EQ(r.rows_scanned(), 5u);
  EXPECT_EQ(r.rows(0).values(1).int64_value(), 90000);
  EXPECT_TRUE(r.rows(0).values(5).bool_value());
  EXPECT_TRUE(r.rows(3).values(2).has_null_value());
}

TEST_F(ExecutorTest, ComparisonOperators) {
  EXPECT_THAT(Names("pop = 52000"), ElementsAre("Wetzlar"));
  EXPECT_THAT(Names("pop <> 52000"), ElementsAre("Gießen", "Äpfelheim", "NULL"));
  EXPECT_THAT(Names("pop < 1200"), ElementsAre("NULL"));
  EXPECT_THAT(Names("pop <= 1200"), ElementsAre("Äpfelheim", "NULL"));
  EXPECT_THAT(Names("pop > 52000"), ElementsAre("Gießen"));
  EXPECT_THAT(Names("pop >= 52000"), ElementsAre("Gießen", "Wetzlar"));
  EXPECT_THAT(Names("52000 < pop"), ElementsAre("Gießen"));
  EXPECT_THAT(Names("name = 'Wetzlar'"), ElementsAre("Wetzlar"));
  EXPECT_THAT(Names("name > 'M'"), ElementsAre("Wetzlar", "Marburg", "Äpfelheim"));
  EXPECT_THAT(Names("area >= 75.67"), ElementsAre("Wetzlar", "Marburg"));
  EXPECT_THAT(Names("area < 73"), ElementsAre("Gießen", "NULL"));  // int literal, double col
  EXPECT_THAT(Names("pop < 1200.5"), ElementsAre("Äpfelheim", "NULL"));
  EXPECT_THAT(Names("pop = 1200.5"), ElementsAre());
  EXPECT_THAT(Names("active"), ElementsAre("Gießen", "Marburg"));
  EXPECT_THAT(Names("active = false"), ElementsAre("Wetzlar", "NULL"));
}

TEST_F(ExecutorTest, InBetweenAndBoolean) {
  EXPECT_THAT(Names("pop IN (500, 90000)"), ElementsAre("Gießen", "NULL"));
  EXPECT_THAT(Names("name IN ('Marburg', 'Wetzlar')"), ElementsAre("Wetzlar", "Marburg"));
  EXPECT_THAT(Names("name NOT IN ('Marburg', 'Wetzlar')"), ElementsAre("Gießen", "Äpfelheim"));
  EXPECT_THAT(Names("pop BETWEEN 500 AND 52000"), ElementsAre("Wetzlar", "Äpfelheim", "NULL"));
  EXPECT_THAT(Names("pop NOT BETWEEN 500 AND 52000"), ElementsAre("Gießen"));
  // A NULL bound leaves the other comparison to decide: NOT BETWEEN 1000
  // AND NULL is pop < 1000 OR unknown, true for 500 only; BETWEEN 1000 AND
  // NULL is pop >= 1000 AND unknown, never true; and its NOT holds where
  // pop < 1000 made it false.
  EXPECT_THAT(Names("pop NOT BETWEEN 1000 AND NULL"), ElementsAre("NULL"));
  EXPECT_THAT(Names("pop NOT BETWEEN NULL AND 1000"),
              ElementsAre("Gießen", "Wetzlar", "Äpfelheim"));
  EXPECT_THAT(Names("pop BETWEEN 1000 AND NULL"), ElementsAre());
  EXPECT_THAT(Names("NOT (pop BETWEEN 1000 AND NULL)"), ElementsAre("NULL"));
  EXPECT_THAT(Names("pop > 1000 AND area < 100"), ElementsAre("Gießen", "Wetzlar"));
  EXPECT_THAT(Names("pop = 500 OR name = 'Marburg'"), ElementsAre("Marburg", "NULL"));
  EXPECT_THAT(Names("NOT (pop > 1000)"), ElementsAre("NULL"));
  EXPECT_THAT(Names("name IS NULL"), ElementsAre("NULL"));
  EXPECT_THAT(Names("pop IS NOT NULL AND area IS NULL"), ElementsAre("Äpfelheim"));
}

TEST_F(ExecutorTest, NullSemanticsFollowSql) {
  // A comparison with NULL is unknown: the row is excluded, also under NOT.
  EXPECT_THAT(Names("pop = NULL"), ElementsAre());
  EXPECT_THAT(Names("NOT (pop = NULL)"), ElementsAre());
  EXPECT_THAT(Names("pop <> 90000"), ElementsAre("Wetzlar", "Äpfelheim", "NULL"));  // not Marburg
  EXPECT_THAT(Names("NOT (pop <> 90000)"), ElementsAre("Gießen"));
  // IN with NULL: true when matched, else unknown; NOT IN never true.
  EXPECT_THAT(Names("pop IN (1200, NULL)"), ElementsAre("Äpfelheim"));
  EXPECT_THAT(Names("pop NOT IN (1200, NULL)"), ElementsAre());
  // Unknown OR true is true; unknown AND false is false, NOT false is true.
  EXPECT_THAT(Names("pop > 0 OR name = 'Marburg'"),
              ElementsAre("Gießen", "Wetzlar", "Marburg", "Äpfelheim", "NULL"));
  EXPECT_THAT(Names("NOT (pop > 0 AND name = 'x')"),
              ElementsAre("Gießen", "Wetzlar", "Marburg", "Äpfelheim"));
}

TEST_F(ExecutorTest, LikeCountsCodePointsAndIlikeFoldsUmlauts) {
  EXPECT_THAT(Names("name LIKE '_pfelheim'"), ElementsAre("Äpfelheim"));
  EXPECT_THAT(Names("name LIKE 'Gie_en'"), ElementsAre("Gießen"));
  EXPECT_THAT(Names("name LIKE '%r%'"), ElementsAre("Wetzlar", "Marburg"));
  EXPECT_THAT(Names("name NOT LIKE '%r%'"), ElementsAre("Gießen", "Äpfelheim"));
  EXPECT_THAT(Names("name LIKE 'gießen'"), ElementsAre());
  EXPECT_THAT(Names("name ILIKE 'GIESSEN'"), ElementsAre());
  EXPECT_THAT(Names("name ILIKE 'GIEßEN'"), ElementsAre("Gießen"));
  EXPECT_THAT(Names("name ILIKE 'äPFEL%'"), ElementsAre("Äpfelheim"));
  EXPECT_THAT(Names("name ILIKE '%BURG'"), ElementsAre("Marburg"));
  EXPECT_THAT(Names("name LIKE '100\\%'"), ElementsAre());
}

TEST_F(ExecutorTest, AnOrOfEqualitiesOnOneColumnActsAsAnInList) {
  // Each OR against the same filter written by hand as IN, and both against
  // the rows worked out from the table above.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"pop = 52000 OR pop = 1200 OR pop = 7", "pop IN (52000, 1200, 7)"},
      {"name = 'Marburg' OR name = 'Wetzlar' OR name IN ('Gießen')",
       "name IN ('Marburg', 'Wetzlar', 'Gießen')"},
      {"area = 3.5 OR area = 72.56 OR area = 'NaN'", "area IN (3.5, 72.56)"},
      {"founded = '2000-01-01' OR founded = DATE '1197-01-01'",
       "founded IN ('2000-01-01', '1197-01-01')"},
      {"active = true OR active = false", "active IN (true, false)"},
  };
  const std::vector<std::vector<std::string>> want = {
      {"Wetzlar", "Äpfelheim"}, {"Gießen", "Wetzlar", "Marburg"},         {"Gießen", "NULL"},
      {"Gießen", "NULL"},       {"Gießen", "Wetzlar", "Marburg", "NULL"},
  };
  for (size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_THAT(Names(pairs[i].first), ElementsAreArray(want[i])) << pairs[i].first;
    EXPECT_THAT(Names(pairs[i].second), ElementsAreArray(want[i])) << pairs[i].second;
  }
  // Three-valued logic survives NOT: Marburg's pop is NULL, so neither it
  // nor its negation holds.
  EXPECT_THAT(Names("NOT (pop = 52000 OR pop = 1200)"), ElementsAre("Gießen", "NULL"));
  // The other operand keeps its place: Marburg passes by its name, the row
  // without a name is unknown there and stays out.
  EXPECT_THAT(Names("NOT (pop = 52000 OR pop = 1200 OR name = 'Marburg')"), ElementsAre("Gießen"));
  // An IN list holding NULL is never folded: for pop 90000 and 500 it is
  // unknown, not false, so NOT keeps them out.
  EXPECT_THAT(Names("NOT (pop IN (1200, NULL) OR pop = 52000)"), ElementsAre());
  EXPECT_THAT(Names("pop = 52000 OR pop = 52000"), ElementsAre("Wetzlar"));
}

TEST_F(ExecutorTest, LiteralsAreCoercedToColumnTypes) {
  EXPECT_THAT(Names("founded = '1197-01-01'"), ElementsAre("Gießen"));
  EXPECT_THAT(Names("founded = '15.06.1180'"), ElementsAre("Wetzlar"));
  EXPECT_THAT(Names("founded < DATE '1200-01-01'"), ElementsAre("Gießen", "Wetzlar"));
  EXPECT_THAT(Names("ts >= '2024-01-01T09:00'"), ElementsAre("Wetzlar", "Marburg"));
  EXPECT_THAT(Names("ts = TIMESTAMP '2024-01-02 08:00:00'"), ElementsAre("Marburg"));
  EXPECT_THAT(Names("ts < '2024-01-01'"), ElementsAre("NULL"));
  EXPECT_THAT(Names("pop = '52000'"), ElementsAre("Wetzlar"));
  EXPECT_THAT(Sql("SELECT name FROM test WHERE founded = 'gestern'"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("literal 'gestern' does not fit date column founded")));
  EXPECT_THAT(Sql("SELECT name FROM test WHERE name = 5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("string column name")));
  EXPECT_THAT(Sql("SELECT name FROM test WHERE ts >= '2024-01-01T09:00Z'"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("literal '2024-01-01T09:00Z' for ts: a time zone (Z, +01:00) is "
                                 "not accepted")));
  // Neither NaN nor an infinity is an INT64 value or a bound of one, whether
  // spelled as text or as a number too large for a double.
  for (const char* bound : {"'NaN'", "'Infinity'", "'-inf'", "1e400"}) {
    EXPECT_THAT(Sql(absl::StrCat("SELECT name FROM test WHERE pop < ", bound)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("int64 column pop")))
        << bound;
  }
}

TEST(ExecutorOrderTest, NaNSortsAfterEveryNumberAndNullLast) {
  const Schema schema =
      MakeSchema({{"k", sv1::COLUMN_TYPE_STRING}, {"x", sv1::COLUMN_TYPE_DOUBLE}});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Enough rows that a comparator treating NaN as equal to everything would
  // leave numbers out of order around it.
  std::vector<std::vector<Cell>> rows;
  const double xs[] = {3, nan, -1, 2, nan, 0.5, 7, -4, nan, 1};
  for (size_t i = 0; i < std::size(xs); ++i) rows.push_back({absl::StrCat("r", i), xs[i]});
  rows.push_back({std::string("n"), Cell{}});
  storage::TableSnapshot snap = MakeSnapshot(schema, {{MakeTable(schema, rows), {}}});
  absl::StatusOr<v1::QueryPlan> plan = ParseSql("SELECT x FROM test ORDER BY x");
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::StatusOr<v1::ResultSet> r = Execute(*plan, snap);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::string> got;
  for (const auto& row : r->rows()) got.push_back(FormatValue(row.values(0)));
  EXPECT_THAT(got, ElementsAre("-4", "-1", "0.5", "1", "2", "3", "7", "NaN", "NaN", "NaN", "NULL"));
}

TEST_F(ExecutorTest, OrderLimitOffset) {
  // NULL sorts as in PostgreSQL: as if larger than every value (Marburg's
  // pop and the nameless row's name are NULL).
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY pop DESC"),
              ElementsAre("Marburg", "Gießen", "Wetzlar", "Äpfelheim", "NULL"));
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY pop"),
              ElementsAre("NULL", "Äpfelheim", "Wetzlar", "Gießen", "Marburg"));
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY pop NULLS FIRST"),
              ElementsAre("Marburg", "NULL", "Äpfelheim", "Wetzlar", "Gießen"));
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY pop DESC NULLS LAST"),
              ElementsAre("Gießen", "Wetzlar", "Äpfelheim", "NULL", "Marburg"));
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY name LIMIT 2"),
              ElementsAre("Gießen", "Marburg"));
  v1::QueryPlan from_peer;  // a plan with a NULLS order this build does not know
  from_peer.set_dataset_id("test");
  from_peer.add_order_by()->set_output("name");
  from_peer.mutable_order_by(0)->set_nulls(static_cast<v1::NullsOrder>(7));
  EXPECT_THAT(Execute(from_peer, snap_),
              StatusIs(absl::StatusCode::kInvalidArgument, "ORDER BY name: unknown NULLS order 7"));
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY name LIMIT 2 OFFSET 2"),
              ElementsAre("Wetzlar", "Äpfelheim"));  // byte order: Ä after W
  EXPECT_THAT(Column0("SELECT name FROM test LIMIT 2 OFFSET 1"), ElementsAre("Wetzlar", "Marburg"));
  EXPECT_THAT(Column0("SELECT name FROM test OFFSET 10"), ElementsAre());
  // LIMIT 0 returns no row (as in SQL), with and without ORDER BY or groups.
  EXPECT_THAT(Column0("SELECT name FROM test LIMIT 0"), ElementsAre());
  EXPECT_THAT(Column0("SELECT name FROM test ORDER BY name LIMIT 0"), ElementsAre());
  EXPECT_THAT(Column0("SELECT COUNT(*) FROM test LIMIT 0"), ElementsAre());
  EXPECT_THAT(Column0("SELECT name, area FROM test ORDER BY 2 DESC LIMIT 1"),
              ElementsAre("Äpfelheim"));  // its area is NULL, first when descending
  EXPECT_THAT(Column0("SELECT name, area FROM test ORDER BY 2 DESC NULLS LAST LIMIT 1"),
              ElementsAre("Marburg"));
  EXPECT_THAT(Column0("SELECT active, name FROM test ORDER BY active DESC, name"),
              ElementsAre("NULL", "true", "true", "false", "false"));
  EXPECT_THAT(Column0("SELECT name, active FROM test ORDER BY active DESC NULLS LAST, name"),
              ElementsAre("Gießen", "Marburg", "Wetzlar", "NULL", "Äpfelheim"));
}

TEST_F(ExecutorTest, ExtractInSelectAndGroupBy) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      v1::ResultSet r,
      Sql("SELECT EXTRACT(hour FROM ts) AS h, count(*) AS n, avg(area) AS a FROM test "
          "GROUP BY h"));
  ASSERT_EQ(r.rows_size(), 4);
  EXPECT_EQ(FormatResult(r, Format::kCsv),
            "h,n,a\r\n,1,\r\n8,2,98.53\r\n9,1,75.67\r\n23,1,3.5\r\n");
  EXPECT_THAT(Column0("SELECT extract(year FROM founded) FROM test"),
              ElementsAre("1197", "1180", "1222", "NULL", "2000"));
  EXPECT_THAT(Column0("SELECT extract(dow FROM ts) FROM test WHERE name = 'Gießen'"),
              ElementsAre("1"));  // 2024-01-01 was a Monday
  EXPECT_THAT(Column0("SELECT extract(isodow FROM founded) FROM test WHERE pop = 500"),
              ElementsAre("6"));  // 2000-01-01 was a Saturday
  EXPECT_THAT(Column0("SELECT extract(month FROM ts), count(*) FROM test GROUP BY 1"),
              ElementsAre("NULL", "1", "12"));
}

TEST_F(ExecutorTest, AggregatesWithoutGroupBy) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      v1::ResultSet r,
      Sql("SELECT count(*), count(pop), sum(pop), min(pop), max(pop), avg(pop), sum(area), "
          "min(name), max(name), min(founded), max(ts), count(DISTINCT active) FROM test"));
  EXPECT_EQ(FormatResult(r, Format::kCsv),
            "count,count_pop,sum_pop,min_pop,max_pop,avg_pop,sum_area,min_name,max_name,"
            "min_founded,max_ts,count_distinct_active\r\n"
            "5,4,143700,500,90000,35925,276.23,Gießen,Äpfelheim,1180-06-15,2024-01-02T08:00:00,"
            "2\r\n");
  EXPECT_EQ(r.columns(2).type(), sv1::COLUMN_TYPE_INT64);
  EXPECT_EQ(r.columns(5).type(), sv1::COLUMN_TYPE_DOUBLE);
  EXPECT_EQ(r.columns(7).type(), sv1::COLUMN_TYPE_STRING);
  // Over no row: COUNT is 0, the others NULL.
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      r, Sql("SELECT count(*), sum(pop), min(name), avg(area) FROM test WHERE pop > 1000000"));
  EXPECT_EQ(FormatResult(r, Format::kCsv), "count,sum_pop,min_name,avg_area\r\n0,,,\r\n");
}

TEST_F(ExecutorTest, GroupsAreOrderedByKeyWithNullFirst) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      v1::ResultSet r,
      Sql("SELECT active, count(*) AS n, sum(pop) AS s FROM test GROUP BY active"));
  EXPECT_EQ(FormatResult(r, Format::kCsv),
            "active,n,s\r\n,1,1200\r\nfalse,2,52500\r\ntrue,2,90000\r\n");
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      r, Sql("SELECT active, count(*) AS n FROM test GROUP BY active ORDER BY n DESC, active "
             "LIMIT 2"));
  EXPECT_EQ(FormatResult(r, Format::kCsv), "active,n\r\nfalse,2\r\ntrue,2\r\n");
  // Grouping and ordering by columns that are not returned.
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      r, Sql("SELECT count(*) AS n FROM test GROUP BY active ORDER BY n DESC, active DESC"));
  EXPECT_EQ(FormatResult(r, Format::kCsv), "n\r\n2\r\n2\r\n1\r\n");
  EXPECT_EQ(r.columns_size(), 1);
  EXPECT_THAT(Column0("SELECT name FROM test WHERE pop > 1000 ORDER BY pop"),
              ElementsAre("Äpfelheim", "Wetzlar", "Gießen"));
  // GROUP BY without aggregates lists distinct values.
  EXPECT_THAT(Column0("SELECT founded FROM test GROUP BY founded"),
              ElementsAre("NULL", "1180-06-15", "1197-01-01", "1222-03-01", "2000-01-01"));
}

TEST_F(ExecutorTest, SumOfInt64OverflowIsOutOfRange) {
  Schema schema = MakeSchema({{"k", sv1::COLUMN_TYPE_STRING}, {"v", sv1::COLUMN_TYPE_INT64}});
  int64_t big = std::numeric_limits<int64_t>::max() - 1;
  auto t = MakeTable(schema, {{std::string("a"), big}, {std::string("a"), int64_t{5}}});
  storage::TableSnapshot snap = MakeSnapshot(schema, {{t, {}}});
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::QueryPlan plan,
                               ParseSql("SELECT k, sum(v) FROM test GROUP BY k"));
  EXPECT_THAT(Execute(plan, snap),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("overflow in sum_v")));
  FEDNODE_ASSERT_OK_AND_ASSIGN(plan, ParseSql("SELECT sum(v) FROM test WHERE v < 0"));
  FEDNODE_EXPECT_OK(Execute(plan, snap));
  // AVG does not overflow: it is computed in double.
  FEDNODE_ASSERT_OK_AND_ASSIGN(plan, ParseSql("SELECT avg(v) FROM test"));
  FEDNODE_EXPECT_OK(Execute(plan, snap));
}

TEST_F(ExecutorTest, ValidationErrorsNameTheColumnOrConstruct) {
  auto err = [&](const std::string& sql) { return Sql(sql).status(); };
  EXPECT_THAT(err("SELECT nope FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown column nope")));
  EXPECT_THAT(err("SELECT name FROM test WHERE nix = 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown column nix")));
  EXPECT_THAT(err("SELECT sum(name) FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("SUM needs a numeric column, name is string")));
  EXPECT_THAT(err("SELECT name, count(*) FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("column name must appear in GROUP BY")));
  EXPECT_THAT(err("SELECT extract(hour FROM founded) FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("founded is a date")));
  EXPECT_THAT(err("SELECT extract(hour FROM pop) FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("EXTRACT needs a date or timestamp column, pop is int64")));
  EXPECT_THAT(err("SELECT extract(century FROM ts) FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'century'")));
  EXPECT_THAT(err("SELECT name FROM test WHERE pop LIKE 'a%'"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("pop is int64")));
  EXPECT_THAT(err("SELECT name, name FROM test"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("duplicate output column")));

  v1::QueryPlan plan;
  plan.add_select()->set_column("name");
  plan.add_order_by()->set_output("pop");
  EXPECT_THAT(ValidatePlan(plan, schema_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ORDER BY pop does not name an output column")));
  plan.clear_order_by();
  plan.add_group_by("area");
  EXPECT_THAT(ValidatePlan(plan, schema_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("GROUP BY area")));
  plan.clear_group_by();
  plan.set_dataset_id("other");
  FEDNODE_EXPECT_OK(ValidatePlan(plan, schema_));
  EXPECT_THAT(Execute(plan, snap_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset other")));
}

TEST_F(ExecutorTest, StructuredPlanWithoutSql) {
  v1::QueryPlan plan;
  plan.set_dataset_id("test");
  auto* c = plan.mutable_filter()->mutable_compare();
  c->set_column("founded");
  c->set_op(v1::COMPARE_OP_GE);
  c->mutable_value()->set_date_days(Day(1200, 1, 1));
  plan.add_select()->set_column("name");
  auto* agg = plan.add_select();
  agg->set_alias("flaeche");
  agg->mutable_aggregate()->set_function(v1::AGGREGATE_FUNCTION_MAX);
  agg->mutable_aggregate()->set_column("area");
  plan.add_group_by("name");
  auto* o = plan.add_order_by();
  o->set_output("flaeche");
  o->set_descending(true);
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ResultSet r, Execute(plan, snap_));
  EXPECT_EQ(FormatResult(r, Format::kCsv), "name,flaeche\r\nMarburg,124.5\r\n,3.5\r\n");
}

// ---------------------------------------------------------------------------
// Randomized grouped aggregates on a multi-segment snapshot with deleted
// rows, against a naive reference.

struct RefGroup {
  int64_t rows = 0, count_v = 0, sum_v = 0;
  std::optional<int64_t> min_v, max_v;
  double sum_d = 0;
  int64_t count_d = 0;
  std::set<int64_t> distinct_v;
  std::optional<std::string> min_s;
};

class GroupedReferenceTest : public ::testing::TestWithParam<int> {};

TEST_P(GroupedReferenceTest, MatchesNaiveLoop) {
  std::mt19937_64 rng(GetParam());
  Schema schema = MakeSchema({{"region", sv1::COLUMN_TYPE_STRING},
                              {"k", sv1::COLUMN_TYPE_INT64},
                              {"big", sv1::COLUMN_TYPE_INT64},
                              {"v", sv1::COLUMN_TYPE_INT64},
                              {"d", sv1::COLUMN_TYPE_DOUBLE},
                              {"s", sv1::COLUMN_TYPE_STRING}});
  const std::vector<std::string> regions = {"Nord", "Süd", "Ost", "West", "Mitte", "Ärger"};
  std::vector<std::pair<std::shared_ptr<const Table>, std::vector<uint32_t>>> segs;
  std::vector<std::vector<Cell>> visible;
  for (int s = 0; s < 4; ++s) {
    std::vector<std::vector<Cell>> rows;
    int n = 1 + static_cast<int>(rng() % 400);
    // Each segment sees a different subset of regions (different dict codes).
    for (int i = 0; i < n; ++i) {
      auto maybe_null = [&](Cell c) { return rng() % 10 == 0 ? Cell{} : c; };
      rows.push_back({maybe_null(std::string(regions[(rng() % 4) + (s % 3)])),
                      maybe_null(static_cast<int64_t>(rng() % 5) - 2),
                      maybe_null(static_cast<int64_t>(rng() % 7) * int64_t{1000000007}),
                      maybe_null(static_cast<int64_t>(rng() % 2001) - 1000),
                      maybe_null(static_cast<double>(rng() % 1000) / 8.0),
                      maybe_null(std::string(1, static_cast<char>('a' + rng() % 26)))});
    }
    std::vector<uint32_t> deleted;
    for (int i = 0; i < n; ++i) {
      if (rng() % 5 == 0) {
        deleted.push_back(i);
      } else {
        visible.push_back(rows[i]);
      }
    }
    segs.emplace_back(MakeTable(schema, rows), deleted);
  }
  storage::TableSnapshot snap = MakeSnapshot(schema, segs);

  // Key of a cell for the reference: (is_null, int, string).
  using Key = std::tuple<bool, int64_t, std::string>;
  auto key_of = [](const Cell& c) -> Key {
    if (c.kind == Cell::kNull) return {false, 0, ""};
    if (c.kind == Cell::kInt) return {true, c.i, ""};
    return {true, 0, c.s};
  };
  auto key_text = [](const Key& k) -> std::string {
    if (!std::get<0>(k)) return "NULL";
    return std::get<2>(k).empty() ? std::to_string(std::get<1>(k)) : std::get<2>(k);
  };
  for (const std::vector<int>& key_cols :
       std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 1}, {1, 0, 2}, {}}) {
    std::map<std::vector<Key>, RefGroup> ref;
    for (const auto& row : visible) {
      if (row[3].kind == Cell::kInt && row[3].i < -900) continue;
      // (v IS NULL rows are kept by the OR below.)
      std::vector<Key> key;
      for (int c : key_cols) key.push_back(key_of(row[c]));
      RefGroup& g = ref[key];
      ++g.rows;
      if (row[3].kind == Cell::kInt) {
        int64_t v = row[3].i;
        ++g.count_v;
        g.sum_v += v;
        g.min_v = g.min_v ? std::min(*g.min_v, v) : v;
        g.max_v = g.max_v ? std::max(*g.max_v, v) : v;
        g.distinct_v.insert(v);
      }
      if (row[4].kind == Cell::kDouble) {
        g.sum_d += row[4].d;
        ++g.count_d;
      }
      if (row[5].kind == Cell::kString) {
        const std::string& s = row[5].s;
        if (!g.min_s || s < *g.min_s) g.min_s = s;
      }
    }
    if (key_cols.empty() && ref.empty()) ref[{}];
    const char* names[] = {"region", "k", "big"};
    std::string keys;
    for (int c : key_cols) keys += std::string(names[c]) + ", ";
    std::string group_by = keys.empty() ? "" : " GROUP BY " + keys.substr(0, keys.size() - 2);
    std::string sql = "SELECT " + keys +
                      "count(*), count(v), sum(v), min(v), max(v), avg(d), count(DISTINCT v), "
                      "min(s) FROM test WHERE NOT (v < -900) OR v IS NULL" +
                      group_by;
    SCOPED_TRACE(sql);
    FEDNODE_ASSERT_OK_AND_ASSIGN(v1::QueryPlan plan, ParseSql(sql));
    FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ResultSet r, Execute(plan, snap));
    std::vector<std::string> want;
    for (const auto& [key, g] : ref) {
      std::string line;
      for (const Key& k : key) line += key_text(k) + "|";
      line += std::to_string(g.rows) + "|" + std::to_string(g.count_v) + "|" +
              (g.count_v ? std::to_string(g.sum_v) : "NULL") + "|" +
              (g.min_v ? std::to_string(*g.min_v) : "NULL") + "|" +
              (g.max_v ? std::to_string(*g.max_v) : "NULL") + "|";
      v1::Value avg;
      if (g.count_d) {
        avg.set_double_value(g.sum_d / static_cast<double>(g.count_d));
      } else {
        avg.set_null_value(true);
      }
      line += FormatValue(avg) + "|" + std::to_string(g.distinct_v.size()) + "|" +
              (g.min_s ? *g.min_s : "NULL");
      want.push_back(line);
    }
    std::vector<std::string> got;
    for (const auto& row : r.rows()) {
      std::string line;
      for (int c = 0; c < row.values_size(); ++c) {
        line += (c ? "|" : "") + FormatValue(row.values(c));
      }
      got.push_back(line);
    }
    // The reference map orders NULL (false) first, then by value; strings
    // compare bytewise as in the executor.
    EXPECT_EQ(got, want);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, GroupedReferenceTest, ::testing::Values(1, 2, 3, 42));

TEST(ExecutorLargeTest, GroupedSumOnSmallIntAndHashedKeysAcrossSegments) {
  Schema schema = MakeSchema({{"k", sv1::COLUMN_TYPE_INT64}, {"v", sv1::COLUMN_TYPE_INT64}});
  std::vector<std::pair<std::shared_ptr<const Table>, std::vector<uint32_t>>> segs;
  std::map<int64_t, int64_t> want;
  for (int s = 0; s < 3; ++s) {
    std::vector<std::vector<Cell>> rows;
    for (int i = 0; i < 5000; ++i) {
      // Segment 1 spreads keys widely (hashed path), the others densely.
      int64_t k = s == 1 ? int64_t{i % 37} * 1000003 : (i % 37);
      rows.push_back({k, int64_t{i}});
      want[k] += i;
    }
    segs.emplace_back(MakeTable(schema, rows), std::vector<uint32_t>{});
  }
  storage::TableSnapshot snap = MakeSnapshot(schema, segs);
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::QueryPlan plan, ParseSql("SELECT k, sum(v) FROM t GROUP BY k"));
  plan.clear_dataset_id();
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ResultSet r, Execute(plan, snap));
  ASSERT_EQ(r.rows_size(), static_cast<int>(want.size()));
  int i = 0;
  for (const auto& [k, sum] : want) {
    EXPECT_EQ(r.rows(i).values(0).int64_value(), k);
    EXPECT_EQ(r.rows(i).values(1).int64_value(), sum);
    ++i;
  }
}

}  // namespace
}  // namespace fednode::query
