// Tests of federation/aggregate. Expected values are computed independently:
// by loops over the union of the members' rows, by hand, or from the
// Destatis Gemeindeverzeichnis (GV100AD, population 31.12.2020).
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "federation/aggregate/coverage.h"
#include "federation/aggregate/disclosure.h"
#include "federation/aggregate/merge.h"
#include "federation/aggregate/partial.h"
#include "federation/aggregate/table_format.h"
#include "node/base/testing/status_matchers.h"
#include "node/query/executor.h"
#include "tests/node/query/query_test_util.h"

namespace fednode::aggregate {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
using QCell = ::fednode::query::testing::Cell;
using query::v1::AggregateFunction;
using query::v1::Value;

query::v1::SelectItem Col(const std::string& name) {
  query::v1::SelectItem item;
  item.set_column(name);
  return item;
}

query::v1::SelectItem Agg(AggregateFunction f, const std::string& column) {
  query::v1::SelectItem item;
  item.mutable_aggregate()->set_function(f);
  item.mutable_aggregate()->set_column(column);
  return item;
}

Value Str(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

// ---------------------------------------------------------------------------
// Partial plans

query::v1::QueryPlan FullPlan() {
  query::v1::QueryPlan plan;
  plan.set_dataset_id("test");
  *plan.add_select() = Col("klasse");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_COUNT, "");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_COUNT, "x");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_SUM, "x");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_AVG, "x");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_MIN, "x");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_MAX, "x");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_SUM, "y");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_AVG, "y");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_MIN, "y");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_MAX, "s");
  plan.add_group_by("klasse");
  return plan;
}

TEST(PartialPlanTest, RewritesEachFunctionIntoMergeableParts) {
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(FullPlan());
  ASSERT_THAT(pp.status(), IsOk());
  EXPECT_EQ(pp->group_columns, std::vector<std::string>{"klasse"});
  EXPECT_EQ(pp->units_index, 1);
  ASSERT_EQ(pp->aggregates.size(), 10u);
  // COUNT(*) uses the units; AVG needs COUNT and SUM; MIN needs COUNT and MIN.
  EXPECT_EQ(pp->aggregates[0].count_index, -1);
  EXPECT_GE(pp->aggregates[3].count_index, 0);
  EXPECT_GE(pp->aggregates[3].sum_index, 0);
  EXPECT_EQ(pp->aggregates[3].min_index, -1);
  EXPECT_GE(pp->aggregates[4].min_index, 0);
  const query::v1::SelectItem& avg_sum = pp->plan.select(pp->aggregates[3].sum_index);
  EXPECT_EQ(avg_sum.aggregate().function(), query::v1::AGGREGATE_FUNCTION_SUM);
  EXPECT_EQ(avg_sum.aggregate().column(), "x");
  EXPECT_EQ(pp->plan.order_by_size(), 0);
  ASSERT_EQ(pp->plan.group_by_size(), 1);
  EXPECT_EQ(pp->plan.group_by(0), "klasse");
}

TEST(PartialPlanTest, RejectsWhatCannotBeMerged) {
  query::v1::QueryPlan limited = FullPlan();
  limited.set_limit(5);
  EXPECT_THAT(ToPartialPlan(limited).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LIMIT")));
  query::v1::QueryPlan distinct = FullPlan();
  distinct.mutable_select(2)->mutable_aggregate()->set_distinct(true);
  EXPECT_THAT(ToPartialPlan(distinct).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("DISTINCT")));
  query::v1::QueryPlan plain;
  *plain.add_select() = Col("klasse");
  plain.add_group_by("klasse");
  EXPECT_THAT(ToPartialPlan(plain).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no aggregate")));
}

// ---------------------------------------------------------------------------
// Merge == one computation over the union of the rows (property test)

struct Row {
  std::string klasse;
  bool x_null = false;
  int64_t x = 0;
  bool y_null = false;
  double y = 0;
  std::string s;
};

Schema TestSchema() {
  return query::testing::MakeSchema({{"klasse", storage::v1::COLUMN_TYPE_STRING},
                                     {"x", storage::v1::COLUMN_TYPE_INT64},
                                     {"y", storage::v1::COLUMN_TYPE_DOUBLE},
                                     {"s", storage::v1::COLUMN_TYPE_STRING}});
}

// The member side: the ordinary executor runs the partial plan.
absl::StatusOr<v1::PartialAggregate> MemberPartial(const PartialPlan& pp, const std::string& ags,
                                                   const std::vector<Row>& rows) {
  std::vector<std::vector<QCell>> cells;
  for (const Row& r : rows) {
    cells.push_back({QCell(r.klasse), r.x_null ? QCell() : QCell(r.x),
                     r.y_null ? QCell() : QCell(r.y), QCell(r.s)});
  }
  Schema schema = TestSchema();
  storage::TableSnapshot snap =
      query::testing::MakeSnapshot(schema, {{query::testing::MakeTable(schema, cells), {}}});
  absl::StatusOr<query::v1::ResultSet> rs = query::Execute(pp.plan, snap);
  if (!rs.ok()) return rs.status();
  v1::Origin origin;
  origin.set_member_ags(ags);
  origin.set_dataset_id("test");
  origin.set_agreement_version(4);
  return ToPartial(pp, *rs, origin);
}

// Independent expectation: one pass over the union of the rows.
struct Expected {
  int64_t rows = 0, count_x = 0, sum_x = 0, count_y = 0;
  double sum_y = 0;
  bool has_x = false, has_y = false;
  int64_t min_x = 0, max_x = 0;
  double min_y = 0;
  std::string max_s;
};

void ExpectCellEquals(const Cell& cell, const Expected& e) {
  EXPECT_EQ(cell.units, e.rows);
  ASSERT_EQ(cell.values.size(), 10u);
  EXPECT_EQ(cell.values[0].int64_value(), e.rows);
  EXPECT_EQ(cell.values[1].int64_value(), e.count_x);
  if (e.count_x == 0) {
    EXPECT_TRUE(cell.values[2].has_null_value());
    EXPECT_TRUE(cell.values[3].has_null_value());
    EXPECT_TRUE(cell.values[4].has_null_value());
  } else {
    EXPECT_EQ(cell.values[2].int64_value(), e.sum_x);
    EXPECT_DOUBLE_EQ(cell.values[3].double_value(),
                     static_cast<double>(e.sum_x) / static_cast<double>(e.count_x));
    EXPECT_EQ(cell.values[4].int64_value(), e.min_x);
    EXPECT_EQ(cell.values[5].int64_value(), e.max_x);
  }
  if (e.count_y == 0) {
    EXPECT_TRUE(cell.values[6].has_null_value());
  } else {
    EXPECT_DOUBLE_EQ(cell.values[6].double_value(), e.sum_y);
    EXPECT_DOUBLE_EQ(cell.values[7].double_value(), e.sum_y / static_cast<double>(e.count_y));
    EXPECT_DOUBLE_EQ(cell.values[8].double_value(), e.min_y);
  }
  EXPECT_EQ(cell.values[9].string_value(), e.max_s);
}

void AddToExpected(const Row& r, Expected* e) {
  ++e->rows;
  if (!r.x_null) {
    ++e->count_x;
    e->sum_x += r.x;
    e->min_x = e->has_x ? std::min(e->min_x, r.x) : r.x;
    e->max_x = e->has_x ? std::max(e->max_x, r.x) : r.x;
    e->has_x = true;
  }
  if (!r.y_null) {
    ++e->count_y;
    e->sum_y += r.y;
    e->min_y = e->has_y ? std::min(e->min_y, r.y) : r.y;
    e->has_y = true;
  }
  if (r.s > e->max_s) e->max_s = r.s;
}

TEST(MergeTest, ThreePartialsEqualOneComputationOverTheUnionRandomized) {
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(FullPlan());
  ASSERT_THAT(pp.status(), IsOk());
  std::mt19937_64 rng(20240531);
  const std::vector<std::string> classes = {"A", "B", "C", "D", "Ü"};
  const std::vector<std::string> ags = {"06531001", "06531002", "06531003"};
  for (int iter = 0; iter < 200; ++iter) {
    SCOPED_TRACE(absl::StrCat("iteration ", iter));
    std::vector<std::vector<Row>> members(3);
    std::map<std::string, Expected> expected;  // by klasse
    Expected total;
    for (auto& rows : members) {
      int n = static_cast<int>(rng() % 30);  // a member may have no row
      for (int i = 0; i < n; ++i) {
        Row r;
        r.klasse = classes[rng() % classes.size()];
        r.x_null = rng() % 5 == 0;
        r.x = static_cast<int64_t>(rng() % 2000001) - 1000000;
        r.y_null = rng() % 4 == 0;
        // Multiples of 0.25 below 2^20: every sum is exact in double, so the
        // order of addition does not matter and equality is exact.
        r.y = static_cast<double>(static_cast<int64_t>(rng() % 8001) - 4000) * 0.25;
        r.s = std::string(1, static_cast<char>('a' + rng() % 26));
        rows.push_back(r);
        AddToExpected(r, &expected[r.klasse]);
        AddToExpected(r, &total);
      }
    }
    std::vector<v1::PartialAggregate> partials;
    for (size_t m = 0; m < 3; ++m) {
      absl::StatusOr<v1::PartialAggregate> p = MemberPartial(*pp, ags[m], members[m]);
      ASSERT_THAT(p.status(), IsOk());
      EXPECT_EQ(p->origin().dataset_version(), 7u);
      partials.push_back(*p);
    }
    absl::StatusOr<MergedTable> t = Merge(*pp, partials);
    ASSERT_THAT(t.status(), IsOk());
    ASSERT_EQ(t->cells.size(), expected.size());
    size_t i = 0;
    for (const auto& [klasse, e] : expected) {  // std::map: bytewise order, as the merge
      const Cell& cell = t->cells[i++];
      EXPECT_EQ(cell.key[0].string_value(), klasse);
      ExpectCellEquals(cell, e);
    }
    if (total.rows > 0) {
      ASSERT_TRUE(t->grand_total.has_value());
      ExpectCellEquals(*t->grand_total, total);
    }
  }
}

TEST(MergeTest, GroupByMemberGivesPerMemberRowsAndCountyColumnTotals) {
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(FullPlan());
  ASSERT_THAT(pp.status(), IsOk());
  std::vector<std::vector<Row>> members = {
      {{"A", false, 10, false, 1.5, "k"}, {"B", false, 20, true, 0, "m"}},
      {{"A", false, 5, false, 2.5, "z"}, {"A", true, 0, false, -1.0, "b"}},
      {{"B", false, 7, false, 4.0, "a"}}};
  std::vector<v1::PartialAggregate> partials;
  const std::vector<std::string> ags = {"06531003", "06531001", "06531002"};
  for (size_t m = 0; m < 3; ++m) {
    absl::StatusOr<v1::PartialAggregate> p = MemberPartial(*pp, ags[m], members[m]);
    ASSERT_THAT(p.status(), IsOk());
    partials.push_back(*p);
  }
  absl::StatusOr<MergedTable> t = Merge(*pp, partials, {.group_by_member = true});
  ASSERT_THAT(t.status(), IsOk());
  ASSERT_EQ(t->key_columns.size(), 2u);
  EXPECT_EQ(t->key_columns[0].name(), "member_ags");
  // Cells: (001,A) (002,B) (003,A) (003,B).
  ASSERT_EQ(t->cells.size(), 4u);
  EXPECT_EQ(t->cells[0].key[0].string_value(), "06531001");
  EXPECT_EQ(t->cells[0].units, 2);
  EXPECT_EQ(t->cells[0].values[2].int64_value(), 5);  // SUM(x), NULL skipped
  ASSERT_EQ(t->row_totals.size(), 3u);
  ASSERT_EQ(t->column_totals.size(), 2u);
  // County figures: A has rows 10, 5, NULL -> 3 rows, SUM 15; B: 20 + 7.
  EXPECT_EQ(t->column_totals[0].key[1].string_value(), "A");
  EXPECT_EQ(t->column_totals[0].units, 3);
  EXPECT_EQ(t->column_totals[0].values[2].int64_value(), 15);
  EXPECT_EQ(t->column_totals[1].values[2].int64_value(), 27);
  EXPECT_EQ(t->column_totals[0].members, (std::vector<std::string>{"06531001", "06531003"}));
  EXPECT_EQ(t->grand_total->units, 5);
  EXPECT_EQ(t->grand_total->values[5].int64_value(), 20);  // MAX(x)
}

TEST(MergeTest, Int64OverflowInMergedSumIsOutOfRange) {
  query::v1::QueryPlan plan;
  plan.set_dataset_id("test");
  *plan.add_select() = Col("klasse");
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_SUM, "x");
  plan.add_group_by("klasse");
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(plan);
  ASSERT_THAT(pp.status(), IsOk());
  const int64_t big = std::numeric_limits<int64_t>::max();
  absl::StatusOr<v1::PartialAggregate> a =
      MemberPartial(*pp, "06531001", {{"A", false, big, false, 0, ""}});
  absl::StatusOr<v1::PartialAggregate> b =
      MemberPartial(*pp, "06531002", {{"A", false, 1, false, 0, ""}});
  ASSERT_THAT(a.status(), IsOk());
  ASSERT_THAT(b.status(), IsOk());
  EXPECT_THAT(Merge(*pp, {*a, *b}).status(),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("sum_x")));
  // Back in range after a negative partial: exact (int128) accumulation.
  absl::StatusOr<v1::PartialAggregate> c =
      MemberPartial(*pp, "06531003", {{"A", false, -2, false, 0, ""}});
  ASSERT_THAT(c.status(), IsOk());
  absl::StatusOr<MergedTable> t = Merge(*pp, {*a, *b, *c});
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(t->cells[0].values[0].int64_value(), big - 1);
}

TEST(MergeTest, RejectsDuplicateMembersAndTamperedPartials) {
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(FullPlan());
  ASSERT_THAT(pp.status(), IsOk());
  absl::StatusOr<v1::PartialAggregate> a =
      MemberPartial(*pp, "06531001", {{"A", false, 1, false, 1, "a"}});
  ASSERT_THAT(a.status(), IsOk());
  EXPECT_THAT(Merge(*pp, {*a, *a}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("two partials")));
  v1::PartialAggregate bad = *a;
  bad.mutable_groups(0)->mutable_aggregates(1)->set_count(5);  // more values than rows
  EXPECT_THAT(Merge(*pp, {bad}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  bad = *a;
  bad.mutable_groups(0)->mutable_key(0)->set_int64_value(3);  // key of the wrong type
  EXPECT_THAT(Merge(*pp, {bad}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(MergeTest, AMemberWhoseValuesDoNotFitIsLeftOutAndNamedNotFatal) {
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(FullPlan());
  ASSERT_THAT(pp.status(), IsOk());
  std::vector<std::optional<v1::PartialAggregate>> partials(4);
  for (int i : {0, 2, 3}) {
    absl::StatusOr<v1::PartialAggregate> p =
        MemberPartial(*pp, absl::StrCat("0653100", i + 1), {{"A", false, i + 1, false, 1.5, "a"}});
    ASSERT_THAT(p.status(), IsOk());
    partials[i] = *p;
  }
  // Member 1 (first in order) sends its group key as a number: it does not
  // fit the others and must not become the basis either.
  partials[0]->mutable_groups(0)->mutable_key(0)->set_int64_value(7);
  std::vector<std::string> rejected;
  size_t merged = 0;
  absl::StatusOr<MergedTable> t = MergeFitting(*pp, {}, partials, &rejected, &merged);
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(merged, 2u);
  EXPECT_THAT(rejected[0], ::testing::Not(::testing::IsEmpty()));
  EXPECT_THAT(rejected[1], ::testing::IsEmpty());  // no answer
  EXPECT_THAT(rejected[2], ::testing::IsEmpty());
  EXPECT_THAT(rejected[3], ::testing::IsEmpty());
  // The table is that of members 3 and 4: x = 3 + 4 in group A.
  absl::StatusOr<MergedTable> want = Merge(*pp, {*partials[2], *partials[3]});
  ASSERT_THAT(want.status(), IsOk());
  ASSERT_EQ(t->cells.size(), want->cells.size());
  ASSERT_FALSE(t->cells.empty());
  EXPECT_EQ(t->cells[0].units, want->cells[0].units);
  EXPECT_EQ(t->cells[0].units, 2);
  EXPECT_THAT(Merge(*pp, {*partials[0], *partials[2]}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  // All fitting: merged at once, nothing rejected.
  partials[0].reset();
  t = MergeFitting(*pp, {}, partials, &rejected, &merged);
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_EQ(merged, 2u);
  for (const std::string& r : rejected) EXPECT_THAT(r, ::testing::IsEmpty());
}

// ---------------------------------------------------------------------------
// Disclosure control

// A table straight from hand-made partials: each group has `units` rows,
// SUM(x) = 100 * units, from the given member.
struct G {
  std::vector<std::string> key;
  int64_t units;
  std::string ags = "06531001";
};

absl::StatusOr<MergedTable> HandTable(int nkeys, const std::vector<G>& groups) {
  query::v1::QueryPlan plan;
  plan.set_dataset_id("test");
  for (int k = 0; k < nkeys; ++k) {
    *plan.add_select() = Col(absl::StrCat("k", k));
    plan.add_group_by(absl::StrCat("k", k));
  }
  *plan.add_select() = Agg(query::v1::AGGREGATE_FUNCTION_SUM, "x");
  absl::StatusOr<PartialPlan> pp = ToPartialPlan(plan);
  if (!pp.ok()) return pp.status();
  std::map<std::string, v1::PartialAggregate> by_member;
  for (const G& g : groups) {
    v1::PartialAggregate& p = by_member[g.ags];
    if (p.group_columns_size() == 0) {
      p.mutable_origin()->set_member_ags(g.ags);
      for (int k = 0; k < nkeys; ++k) {
        auto* c = p.add_group_columns();
        c->set_name(absl::StrCat("k", k));
        c->set_type(storage::v1::COLUMN_TYPE_STRING);
      }
      auto* spec = p.add_aggregates();
      spec->set_function(query::v1::AGGREGATE_FUNCTION_SUM);
      spec->set_column("x");
      spec->set_output_name("sum_x");
      spec->set_value_type(storage::v1::COLUMN_TYPE_INT64);
    }
    v1::PartialGroup* pg = p.add_groups();
    for (const std::string& k : g.key) *pg->add_key() = Str(k);
    pg->set_units(g.units);
    v1::AggregateState* st = pg->add_aggregates();
    st->set_count(g.units);
    st->mutable_sum()->set_int64_value(100 * g.units);
  }
  std::vector<v1::PartialAggregate> partials;
  for (auto& [ags, p] : by_member) partials.push_back(p);
  return Merge(*pp, partials);
}

std::map<std::string, Suppression> Marks(const MergedTable& t) {
  std::map<std::string, Suppression> out;
  for (const Cell& c : t.cells) {
    std::string key;
    for (const Value& v : c.key) key += v.string_value();
    out[key] = c.suppression;
  }
  return out;
}

TEST(DisclosureTest, OneDimensionalOneSmallCellGetsOneComplement) {
  // Units: A 10, B 2 (< 3: primary), C 5, D 4, E 8. The smallest remaining
  // cell is D (4): secondary. Nothing else.
  absl::StatusOr<MergedTable> t =
      HandTable(1, {{{"A"}, 10}, {{"B"}, 2}, {{"C"}, 5}, {{"D"}, 4}, {{"E"}, 8}});
  ASSERT_THAT(t.status(), IsOk());
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  std::map<std::string, Suppression> want = {{"A", Suppression::kNone},
                                             {"B", Suppression::kPrimary},
                                             {"C", Suppression::kNone},
                                             {"D", Suppression::kSecondary},
                                             {"E", Suppression::kNone}};
  EXPECT_EQ(Marks(*t), want);
  EXPECT_EQ(t->grand_total->suppression, Suppression::kNone);
  EXPECT_EQ(t->grand_total->units, 29);
  EXPECT_EQ(t->disclosure_rule,
            "primary: fewer than 3 rows; secondary: complementary suppression against the total");
  EXPECT_THAT(ApplyDisclosureControl({}, &*t),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
}

TEST(DisclosureTest, NoSmallCellSuppressesNothing) {
  absl::StatusOr<MergedTable> t = HandTable(1, {{{"A"}, 3}, {{"B"}, 4}, {{"C"}, 50}});
  ASSERT_THAT(t.status(), IsOk());
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  for (const Cell& c : t->cells) EXPECT_EQ(c.suppression, Suppression::kNone);
  EXPECT_EQ(t->grand_total->suppression, Suppression::kNone);
}

TEST(DisclosureTest, TwoSmallCellsProtectEachOther) {
  absl::StatusOr<MergedTable> t = HandTable(1, {{{"A"}, 1}, {{"B"}, 2}, {{"C"}, 50}});
  ASSERT_THAT(t.status(), IsOk());
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  std::map<std::string, Suppression> want = {
      {"A", Suppression::kPrimary}, {"B", Suppression::kPrimary}, {"C", Suppression::kNone}};
  EXPECT_EQ(Marks(*t), want);
}

// Independent checkers for a table with two key columns. The grid has R+1
// rows and C+1 columns (totals last); -1 marks an empty cell.
struct GridView {
  std::vector<std::vector<int>> sup;  // 1 suppressed, 0 shown, -1 empty
};

GridView View(const MergedTable& t) {
  size_t R = t.row_totals.size(), C = t.column_totals.size();
  GridView g;
  g.sup.assign(R + 1, std::vector<int>(C + 1, -1));
  auto idx = [](const std::vector<Cell>& totals, const Value& v, int pos) {
    for (size_t i = 0; i < totals.size(); ++i) {
      if (totals[i].key[pos].string_value() == v.string_value()) return i;
    }
    ADD_FAILURE() << "no total";
    return size_t{0};
  };
  auto s = [](const Cell& c) { return c.suppression == Suppression::kNone ? 0 : 1; };
  for (const Cell& c : t.cells)
    g.sup[idx(t.row_totals, c.key[0], 0)][idx(t.column_totals, c.key[1], 1)] = s(c);
  for (size_t r = 0; r < R; ++r) g.sup[r][C] = s(t.row_totals[r]);
  for (size_t c = 0; c < C; ++c) g.sup[R][c] = s(t.column_totals[c]);
  g.sup[R][C] = s(*t.grand_total);
  return g;
}

// Every row and column of the grid (each one additive relation with its
// total) holds 0 or at least 2 suppressed entries.
bool EveryLineHasZeroOrTwo(const GridView& g) {
  size_t rows = g.sup.size(), cols = g.sup[0].size();
  for (size_t r = 0; r < rows; ++r) {
    int n = 0;
    for (size_t c = 0; c < cols; ++c) n += g.sup[r][c] == 1;
    if (n == 1) return false;
  }
  for (size_t c = 0; c < cols; ++c) {
    int n = 0;
    for (size_t r = 0; r < rows; ++r) n += g.sup[r][c] == 1;
    if (n == 1) return false;
  }
  return true;
}

// Linear algebra, independent of the graph argument: unknowns are the
// suppressed entries, equations the grid's rows and columns (the shown
// entries are constants). An unknown is recomputable iff its unit vector is
// in the row space of the equation matrix (rank test, Gaussian elimination).
int Rank(std::vector<std::vector<double>> m) {
  int rank = 0;
  size_t cols = m.empty() ? 0 : m[0].size();
  for (size_t c = 0; c < cols && rank < static_cast<int>(m.size()); ++c) {
    size_t pivot = rank;
    while (pivot < m.size() && std::fabs(m[pivot][c]) < 1e-9) ++pivot;
    if (pivot == m.size()) continue;
    std::swap(m[pivot], m[rank]);
    for (size_t r = 0; r < m.size(); ++r) {
      if (r == static_cast<size_t>(rank) || std::fabs(m[r][c]) < 1e-9) continue;
      double f = m[r][c] / m[rank][c];
      for (size_t k = c; k < cols; ++k) m[r][k] -= f * m[rank][k];
    }
    ++rank;
  }
  return rank;
}

int RecomputableCount(const GridView& g) {
  size_t rows = g.sup.size(), cols = g.sup[0].size();
  std::vector<std::pair<size_t, size_t>> unknowns;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      if (g.sup[r][c] == 1) unknowns.push_back({r, c});
    }
  }
  std::vector<std::vector<double>> eq;
  for (size_t r = 0; r < rows; ++r) {  // row r: sum of cells - total = 0
    std::vector<double> e(unknowns.size(), 0);
    for (size_t u = 0; u < unknowns.size(); ++u) {
      if (unknowns[u].first == r) e[u] = unknowns[u].second + 1 == cols ? -1 : 1;
    }
    eq.push_back(e);
  }
  for (size_t c = 0; c < cols; ++c) {
    std::vector<double> e(unknowns.size(), 0);
    for (size_t u = 0; u < unknowns.size(); ++u) {
      if (unknowns[u].second == c) e[u] = unknowns[u].first + 1 == rows ? -1 : 1;
    }
    eq.push_back(e);
  }
  int base = Rank(eq);
  int recomputable = 0;
  for (size_t u = 0; u < unknowns.size(); ++u) {
    std::vector<std::vector<double>> with = eq;
    std::vector<double> unit(unknowns.size(), 0);
    unit[u] = 1;
    with.push_back(unit);
    if (Rank(with) == base) ++recomputable;
  }
  return recomputable;
}

TEST(DisclosureTest, CheckersSeeThroughTheLineRule) {
  // The checkers themselves: one suppressed cell in a 2 x 2 grid (plus
  // totals) is recomputable; two 2 x 2 rectangles joined by one suppressed
  // cell pass the "0 or >= 2 per line" rule, yet the joining cell is a
  // bridge and recomputable. That is why the library protects by cycles.
  GridView single;
  single.sup = {{1, 0, 0}, {0, 0, 0}, {0, 0, 0}};
  EXPECT_FALSE(EveryLineHasZeroOrTwo(single));
  EXPECT_EQ(RecomputableCount(single), 1);
  GridView bridged;
  bridged.sup = {
      {1, 1, 1, 0, 0}, {1, 1, 0, 0, 0}, {0, 0, 1, 1, 0}, {0, 0, 1, 1, 0}, {0, 0, 0, 0, 0}};
  // Row 0 has 3 suppressed cells, column 2 has 3: every line has 0 or >= 2.
  EXPECT_TRUE(EveryLineHasZeroOrTwo(bridged));
  EXPECT_EQ(RecomputableCount(bridged), 1);
}

TEST(DisclosureTest, TwoDimensionalPrimaryCellGetsARectangle) {
  //        A   B   C
  //   X    1  10   7      (X,A) is primary. Cheapest cycle through it:
  //   Y    8  20   5      X-C (7), C-Y (5), Y-A (8) = 20 rows, against
  //   Z    9   6  30      X-B,B-Z,Z-A = 25, X-B,B-Y,Y-A = 38, X-C,C-Z,Z-A = 46.
  absl::StatusOr<MergedTable> t = HandTable(2, {{{"X", "A"}, 1},
                                                {{"X", "B"}, 10},
                                                {{"X", "C"}, 7},
                                                {{"Y", "A"}, 8},
                                                {{"Y", "B"}, 20},
                                                {{"Y", "C"}, 5},
                                                {{"Z", "A"}, 9},
                                                {{"Z", "B"}, 6},
                                                {{"Z", "C"}, 30}});
  ASSERT_THAT(t.status(), IsOk());
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  std::map<std::string, Suppression> want = {
      {"XA", Suppression::kPrimary},   {"XB", Suppression::kNone}, {"XC", Suppression::kSecondary},
      {"YA", Suppression::kSecondary}, {"YB", Suppression::kNone}, {"YC", Suppression::kSecondary},
      {"ZA", Suppression::kNone},      {"ZB", Suppression::kNone}, {"ZC", Suppression::kNone}};
  EXPECT_EQ(Marks(*t), want);
  for (const Cell& c : t->row_totals) EXPECT_EQ(c.suppression, Suppression::kNone);
  for (const Cell& c : t->column_totals) EXPECT_EQ(c.suppression, Suppression::kNone);
  GridView g = View(*t);
  EXPECT_TRUE(EveryLineHasZeroOrTwo(g));
  EXPECT_EQ(RecomputableCount(g), 0);
  // Totals include the suppressed cells: row X = 1 + 10 + 7.
  EXPECT_EQ(t->row_totals[0].units, 18);
  EXPECT_EQ(t->row_totals[0].values[0].int64_value(), 1800);
  EXPECT_EQ(t->disclosure_rule,
            "primary: fewer than 3 rows; secondary: complementary suppression in rows and columns "
            "with totals");
}

TEST(DisclosureTest, TwoDimensionalRandomTablesAreNeverRecomputable) {
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    SCOPED_TRACE(absl::StrCat("iteration ", iter));
    int R = 2 + static_cast<int>(rng() % 4), C = 2 + static_cast<int>(rng() % 4);
    std::vector<G> groups;
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) {
        if (rng() % 6 == 0) continue;  // an empty cell
        int64_t units = rng() % 3 == 0 ? 1 + static_cast<int64_t>(rng() % 2)
                                       : 3 + static_cast<int64_t>(rng() % 40);
        groups.push_back({{std::string(1, static_cast<char>('a' + r)),
                           std::string(1, static_cast<char>('A' + c))},
                          units});
      }
    }
    if (groups.empty()) continue;
    absl::StatusOr<MergedTable> t = HandTable(2, groups);
    ASSERT_THAT(t.status(), IsOk());
    ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
    for (const Cell& c : t->cells) {
      if (c.units < 3) {
        EXPECT_EQ(c.suppression, Suppression::kPrimary);
      }
    }
    GridView g = View(*t);
    EXPECT_TRUE(EveryLineHasZeroOrTwo(g));
    EXPECT_EQ(RecomputableCount(g), 0);
  }
}

TEST(DisclosureTest, ThresholdByMembersVersusRows) {
  // Population by urbanisation class, one row per municipality... except
  // that "städtisch" has 4 rows from only 2 members.
  std::vector<G> groups = {{{"ländlich"}, 1, "06531001"},      {{"ländlich"}, 1, "06531002"},
                           {{"ländlich"}, 1, "06531003"},      {{"städtisch"}, 3, "06531005"},
                           {{"städtisch"}, 1, "06531014"},     {{"halbstädtisch"}, 1, "06531004"},
                           {{"halbstädtisch"}, 1, "06531006"}, {{"halbstädtisch"}, 1, "06531007"},
                           {{"halbstädtisch"}, 1, "06531008"}};
  absl::StatusOr<MergedTable> by_rows = HandTable(1, groups);
  ASSERT_THAT(by_rows.status(), IsOk());
  MergedTable by_members = *by_rows;
  ASSERT_THAT(ApplyDisclosureControl({}, &*by_rows), IsOk());
  for (const Cell& c : by_rows->cells) EXPECT_EQ(c.suppression, Suppression::kNone);

  ASSERT_THAT(
      ApplyDisclosureControl({.min_cell_count = 3, .unit = ThresholdUnit::kMembers}, &by_members),
      IsOk());
  // städtisch: 2 members -> primary; complement: the smaller of ländlich (3
  // members) and halbstädtisch (4 members).
  std::map<std::string, Suppression> want = {{"halbstädtisch", Suppression::kNone},
                                             {"ländlich", Suppression::kSecondary},
                                             {"städtisch", Suppression::kPrimary}};
  EXPECT_EQ(Marks(by_members), want);
  EXPECT_THAT(by_members.disclosure_rule, HasSubstr("primary: fewer than 3 members"));
}

// ---------------------------------------------------------------------------
// Coverage: Landkreis Gießen, population 31.12.2020 (GV100AD_301121).

std::vector<ExpectedMember> Giessen() {
  return {{"06531001", "Allendorf (Lumda), Stadt", 4034},
          {"06531002", "Biebertal", 10055},
          {"06531003", "Buseck", 12973},
          {"06531004", "Fernwald", 7046},
          {"06531005", "Gießen, Universitätsstadt", 90131},
          {"06531006", "Grünberg, Stadt", 13706},
          {"06531007", "Heuchelheim a. d. Lahn", 7891},
          {"06531008", "Hungen, Stadt", 12642},
          {"06531009", "Langgöns", 11690},
          {"06531010", "Laubach, Stadt", 9604},
          {"06531011", "Lich, Stadt", 13880},
          {"06531012", "Linden, Stadt", 13111},
          {"06531013", "Lollar, Stadt", 10399},
          {"06531014", "Pohlheim, Stadt", 18049},
          {"06531015", "Rabenau", 5060},
          {"06531016", "Reiskirchen", 10329},
          {"06531017", "Staufenberg, Stadt", 8448},
          {"06531018", "Wettenberg", 12619}};
}

TEST(CoverageTest, AllAnsweredIsComplete) {
  std::vector<MemberOutcome> outcomes;
  for (const ExpectedMember& m : Giessen()) outcomes.push_back({m.ags, Outcome::kAnswered, ""});
  absl::StatusOr<Coverage> cov = ComputeCoverage(Giessen(), outcomes);
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_FALSE(cov->partial);
  EXPECT_EQ(cov->expected_population, 271667);
  EXPECT_EQ(CoverageLine(*cov), "complete: all 18 members answered (100.00 % of the population)");
}

TEST(CoverageTest, OneUnreachableMemberMakesThePartialResult) {
  std::vector<MemberOutcome> outcomes;
  for (const ExpectedMember& m : Giessen()) {
    outcomes.push_back(
        {m.ags, m.ags == "06531006" ? Outcome::kUnreachable : Outcome::kAnswered, ""});
  }
  absl::StatusOr<Coverage> cov = ComputeCoverage(Giessen(), outcomes);
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_TRUE(cov->partial);
  ASSERT_EQ(cov->missing.size(), 1u);
  EXPECT_EQ(cov->answered.size(), 17u);
  // 271,667 - 13,706 = 257,961; 257,961 / 271,667 = 0.949549...
  EXPECT_EQ(cov->answered_population, 257961);
  EXPECT_NEAR(*cov->population_share, 0.94955, 0.000005);
  EXPECT_EQ(CoverageLine(*cov),
            "partial: 17 of 18 members answered (94.95 % of the population); missing: 06531006 "
            "Grünberg, Stadt (unreachable)");
}

TEST(DisclosureTest, ThresholdOfOneSuppressesNothingAndSaysSo) {
  absl::StatusOr<MergedTable> t = HandTable(1, {{{"A"}, 1}, {{"B"}, 2}});
  ASSERT_THAT(t.status(), IsOk());
  DisclosureOptions options;
  options.min_cell_count = 1;
  ASSERT_THAT(ApplyDisclosureControl(options, &*t), IsOk());
  for (const Cell& c : t->cells) EXPECT_EQ(c.suppression, Suppression::kNone);
  EXPECT_EQ(t->disclosure_rule,
            "none: the grants require at least 1 row per cell, so no cell is suppressed");
}

TEST(CoverageTest, MembersHoldingNoSuchDatasetAreCoveredAndNamed) {
  // Only Heuchelheim, Hungen, Lich and Wettenberg have bathing waters; the
  // others answer that they hold none. Biebertal is unreachable.
  std::vector<MemberOutcome> outcomes;
  for (const ExpectedMember& m : Giessen()) {
    Outcome o = Outcome::kHoldsNone;
    if (m.ags == "06531007" || m.ags == "06531008" || m.ags == "06531011" || m.ags == "06531018") {
      o = Outcome::kAnswered;
    }
    if (m.ags == "06531002") o = Outcome::kUnreachable;
    outcomes.push_back({m.ags, o, ""});
  }
  absl::StatusOr<Coverage> cov = ComputeCoverage(Giessen(), outcomes);
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_TRUE(cov->partial);
  EXPECT_EQ(cov->answered.size(), 4u);
  EXPECT_EQ(cov->holds_none.size(), 13u);
  ASSERT_EQ(cov->missing.size(), 1u);
  // 271,667 - 10,055 (Biebertal) = 261,612 covered.
  EXPECT_EQ(cov->answered_population, 261612);
  const std::string line = CoverageLine(*cov);
  EXPECT_THAT(line, ::testing::StartsWith("partial: 17 of 18 members answered (96.30 % of the "
                                          "population); missing: 06531002 Biebertal "
                                          "(unreachable); 13 hold no such dataset: 06531001 "
                                          "Allendorf (Lumda), Stadt; 06531003 Buseck; "));
  EXPECT_THAT(line, ::testing::EndsWith("06531017 Staufenberg, Stadt"));
  EXPECT_THAT(line, ::testing::Not(HasSubstr("Lich")));

  for (MemberOutcome& o : outcomes) {
    if (o.ags == "06531002") o.outcome = Outcome::kHoldsNone;
  }
  cov = ComputeCoverage(Giessen(), outcomes);
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_FALSE(cov->partial);
  EXPECT_THAT(CoverageLine(*cov),
              ::testing::StartsWith("complete: all 18 members answered (100.00 % of the "
                                    "population); 14 hold no such dataset: 06531001 "));
}

TEST(CoverageTest, MembersNotAskedMakeThePartialResultAndAreCounted) {
  std::vector<MemberOutcome> outcomes;
  for (const ExpectedMember& m : Giessen()) {
    outcomes.push_back({m.ags, m.ags == "06531006" ? Outcome::kAnswered : Outcome::kNotAsked, ""});
  }
  absl::StatusOr<Coverage> cov = ComputeCoverage(Giessen(), outcomes);
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_TRUE(cov->partial);
  // 13,706 / 271,667 = 0.050451...
  EXPECT_EQ(CoverageLine(*cov),
            "partial: 1 of 18 members answered (5.05 % of the population); missing: 17 members "
            "not asked");
  outcomes[1].outcome = Outcome::kUnreachable;  // Biebertal was asked and is down
  cov = ComputeCoverage(Giessen(), outcomes);
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_EQ(CoverageLine(*cov),
            "partial: 1 of 18 members answered (5.05 % of the population); missing: 06531002 "
            "Biebertal (unreachable); 16 members not asked");
}

TEST(CoverageTest, ReasonsUnknownPopulationAndForeignOutcomes) {
  std::vector<ExpectedMember> members = {{"06531001", "Allendorf (Lumda), Stadt", 4034},
                                         {"06531002", "Biebertal", 0},
                                         {"06531003", "Buseck", 12973}};
  absl::StatusOr<Coverage> cov =
      ComputeCoverage(members, {{"06531001", Outcome::kAnswered, ""},
                                {"06531002", Outcome::kRefused, "no grant for dataset einwohner"}});
  ASSERT_THAT(cov.status(), IsOk());
  EXPECT_FALSE(cov->population_share.has_value());
  EXPECT_EQ(CoverageLine(*cov),
            "partial: 1 of 3 members answered (population share unknown); missing: 06531002 "
            "Biebertal (refused: no grant for dataset einwohner); 06531003 Buseck (no outcome)");
  EXPECT_THAT(ComputeCoverage(members, {{"06532001", Outcome::kAnswered, ""}}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ComputeCoverage(members, {{"06531001", Outcome::kAnswered, ""},
                                        {"06531001", Outcome::kAnswered, ""}})
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

// ---------------------------------------------------------------------------
// Output

TEST(FormatTest, TextTableMarksSuppressionAndLabelsPartialTotals) {
  absl::StatusOr<MergedTable> t =
      HandTable(1, {{{"A"}, 10}, {{"B"}, 2}, {{"C"}, 5}, {{"D"}, 4}, {{"Ü"}, 8}});
  ASSERT_THAT(t.status(), IsOk());
  Coverage partial;
  partial.expected = 2;
  partial.partial = true;
  partial.answered.push_back({"06531001", "Allendorf (Lumda), Stadt", 0, Outcome::kAnswered, ""});
  partial.missing.push_back({"06531006", "Grünberg, Stadt", 0, Outcome::kUnreachable, ""});
  EXPECT_THAT(FormatTable(*t, partial), HasSubstr("disclosure control: NOT APPLIED"));
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  std::string text = FormatTable(*t, partial);
  EXPECT_EQ(text,
            "partial: 1 of 2 members answered (population share unknown); missing: 06531006 "
            "Grünberg, Stadt (unreachable)\n"
            "disclosure control: primary: fewer than 3 rows; secondary: complementary suppression "
            "against the total\n"
            " k0                             |   n | sum_x\n"
            "--------------------------------+-----+-------\n"
            " A                              |  10 |  1000\n"
            " B                              | (p) |   (p)\n"
            " C                              |   5 |   500\n"
            " D                              | (s) |   (s)\n"
            " Ü                              |   8 |   800\n"
            " Total (answering members only) |  29 |  2900\n"
            "(p) primary suppression, (s) secondary suppression\n");
}

TEST(FormatTest, TextTableWithoutSuppressedCellsHasNoLegend) {
  absl::StatusOr<MergedTable> t = HandTable(1, {{{"A"}, 10}, {{"B"}, 5}});
  ASSERT_THAT(t.status(), IsOk());
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  Coverage complete;
  complete.expected = 1;
  complete.answered.push_back({"06531001", "Allendorf (Lumda), Stadt", 0, Outcome::kAnswered, ""});
  std::string text = FormatTable(*t, complete);
  // The grand total is the last line; no legend follows it.
  EXPECT_TRUE(absl::EndsWith(text, "\n Total | 15 |  1500\n")) << text;
  EXPECT_THAT(text, Not(HasSubstr("(p) primary suppression")));

  // A two-way table says that a key combination left out has no data.
  absl::StatusOr<MergedTable> two = HandTable(2, {{{"X", "A"}, 10}, {{"Y", "B"}, 5}});
  ASSERT_THAT(two.status(), IsOk());
  ASSERT_THAT(ApplyDisclosureControl({}, &*two), IsOk());
  text = FormatTable(*two, complete);
  EXPECT_TRUE(absl::EndsWith(text, "|  1500\na missing key combination has no data\n")) << text;
}

TEST(FormatTest, ResultSetHidesSuppressedValuesAndFlagsThem) {
  absl::StatusOr<MergedTable> t = HandTable(1, {{{"A"}, 10}, {{"B"}, 2}, {{"C"}, 5}});
  ASSERT_THAT(t.status(), IsOk());
  EXPECT_THAT(ToResultSet(*t).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  ASSERT_THAT(ApplyDisclosureControl({}, &*t), IsOk());
  absl::StatusOr<query::v1::ResultSet> rs = ToResultSet(*t);
  ASSERT_THAT(rs.status(), IsOk());
  std::vector<std::string> names;
  for (const auto& c : rs->columns()) names.push_back(c.name());
  EXPECT_EQ(names, (std::vector<std::string>{"k0", "total", "n", "sum_x", "suppressed"}));
  ASSERT_EQ(rs->rows_size(), 4);
  const query::v1::Row& b = rs->rows(1);
  EXPECT_EQ(b.values(0).string_value(), "B");
  EXPECT_TRUE(b.values(2).has_null_value());
  EXPECT_TRUE(b.values(3).has_null_value());
  EXPECT_EQ(b.values(4).string_value(), "primary");
  EXPECT_EQ(rs->rows(2).values(4).string_value(), "secondary");  // C, the smallest other
  EXPECT_EQ(rs->rows(3).values(1).string_value(), "grand");
  EXPECT_EQ(rs->rows(3).values(2).int64_value(), 17);
}

}  // namespace
}  // namespace fednode::aggregate
