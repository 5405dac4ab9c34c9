// Query executor throughput: grouped SUM through Execute vs raw loops over the
// same in-memory vectors, single thread.
//
// Rows: 10 M by default, FEDNODE_BENCH_ROWS overrides; stored as segments of
// at most 1 M rows (as the store writes them). Counters: rows_per_s (rate) and,
// for Execute, x_raw = Execute time / raw grouped loop time in the same run.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "node/query/executor.h"
#include "node/query/sql.h"

#include "benchmark/benchmark.h"

namespace fednode::query {
namespace {

namespace sv1 = storage::v1;

constexpr size_t kSegmentRows = size_t{1} << 20;
constexpr int kRegions = 423;  // Gemeinden of Hessen (order of magnitude)

struct Data {
  storage::TableSnapshot snapshot;
  // Flat copies for the raw baselines.
  std::vector<int64_t> v;
  std::vector<uint32_t> code;
  size_t rows = 0;
};

const Data& GetData() {
  static const Data* const data = [] {
    auto* d = new Data;
    const char* env = std::getenv("FEDNODE_BENCH_ROWS");
    d->rows = env ? std::strtoull(env, nullptr, 10) : 10'000'000;
    Schema& schema = d->snapshot.schema;
    auto add = [&](const char* name, sv1::ColumnType type) {
      auto* c = schema.add_columns();
      c->set_name(name);
      c->set_type(type);
    };
    add("region", sv1::COLUMN_TYPE_STRING);
    add("hour", sv1::COLUMN_TYPE_INT64);
    add("v", sv1::COLUMN_TYPE_INT64);
    d->snapshot.dataset_id = "bench";
    std::vector<std::string> names;
    for (int i = 0; i < kRegions; ++i) names.push_back(absl::StrCat("Gemeinde-", i));
    std::mt19937_64 rng(1);
    d->v.reserve(d->rows);
    d->code.reserve(d->rows);
    for (size_t start = 0; start < d->rows; start += kSegmentRows) {
      size_t n = std::min(kSegmentRows, d->rows - start);
      auto t = std::make_shared<Table>();
      t->schema = schema;
      t->num_rows = n;
      Column region, hour, v;
      region.type = sv1::COLUMN_TYPE_STRING;
      region.dict = names;
      hour.type = v.type = sv1::COLUMN_TYPE_INT64;
      for (size_t i = 0; i < n; ++i) {
        uint32_t c = static_cast<uint32_t>(rng() % kRegions);
        int64_t x = static_cast<int64_t>(rng() % 1000);
        region.codes.push_back(c);
        hour.ints.push_back(static_cast<int64_t>(rng() % 24));
        v.ints.push_back(x);
        d->code.push_back(c);
        d->v.push_back(x);
      }
      t->columns = {std::move(region), std::move(hour), std::move(v)};
      d->snapshot.segments.push_back({std::move(t), {}});
    }
    d->snapshot.num_rows = d->rows;
    return d;
  }();
  return *data;
}

int64_t RawUngrouped(const Data& d) {
  int64_t sum = 0;
  for (int64_t x : d.v) sum += x;
  return sum;
}

std::vector<int64_t> RawGrouped(const Data& d) {
  std::vector<int64_t> sum(kRegions, 0);
  const uint32_t* c = d.code.data();
  const int64_t* v = d.v.data();
  for (size_t i = 0; i < d.rows; ++i) sum[c[i]] += v[i];
  return sum;
}

double SecondsOf(const auto& f) {
  double best = 1e9;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void SetRate(benchmark::State& state, size_t rows) {
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

void BM_RawSumUngrouped(benchmark::State& state) {
  const Data& d = GetData();
  for (auto _ : state) benchmark::DoNotOptimize(RawUngrouped(d));
  SetRate(state, d.rows);
}
BENCHMARK(BM_RawSumUngrouped)->Unit(benchmark::kMillisecond);

void BM_RawSumGroupedByCode(benchmark::State& state) {
  const Data& d = GetData();
  for (auto _ : state) benchmark::DoNotOptimize(RawGrouped(d));
  SetRate(state, d.rows);
}
BENCHMARK(BM_RawSumGroupedByCode)->Unit(benchmark::kMillisecond);

void RunExecute(benchmark::State& state, const char* sql) {
  const Data& d = GetData();
  absl::StatusOr<v1::QueryPlan> plan = ParseSql(sql);
  if (!plan.ok()) {
    state.SkipWithError(std::string(plan.status().message()).c_str());
    return;
  }
  double raw = SecondsOf([&] { benchmark::DoNotOptimize(RawGrouped(d)); });
  double total = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<v1::ResultSet> r = Execute(*plan, d.snapshot);
    total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(r->rows_size());
  }
  SetRate(state, d.rows);
  state.counters["x_raw"] = total / static_cast<double>(state.iterations()) / raw;
}

void BM_ExecuteSumGroupByString(benchmark::State& state) {
  RunExecute(state, "SELECT region, sum(v) FROM bench GROUP BY region");
}
BENCHMARK(BM_ExecuteSumGroupByString)->Unit(benchmark::kMillisecond);

void BM_ExecuteSumGroupBySmallInt(benchmark::State& state) {
  RunExecute(state, "SELECT hour, sum(v) FROM bench GROUP BY hour");
}
BENCHMARK(BM_ExecuteSumGroupBySmallInt)->Unit(benchmark::kMillisecond);

void BM_ExecuteSumUngrouped(benchmark::State& state) {
  RunExecute(state, "SELECT sum(v) FROM bench");
}
BENCHMARK(BM_ExecuteSumUngrouped)->Unit(benchmark::kMillisecond);

void BM_ExecuteFilteredAvgGroupByString(benchmark::State& state) {
  RunExecute(state,
             "SELECT region, avg(v), count(*) FROM bench WHERE hour BETWEEN 8 AND 17 "
             "GROUP BY region");
}
BENCHMARK(BM_ExecuteFilteredAvgGroupByString)->Unit(benchmark::kMillisecond);

// A filter written as an OR of equalities on one column against the same
// filter as an IN list: the executor folds the OR into the IN list, so the two
// should cost the same (before the fold, each OR operand was one pass).
std::string EqualityFilter(bool as_in_list) {
  std::vector<std::string> values;
  for (int x = 0; x < 1000; x += 5) values.push_back(absl::StrCat(x));  // 200 of 1,000 values
  if (as_in_list) return absl::StrCat("v IN (", absl::StrJoin(values, ", "), ")");
  std::vector<std::string> terms;
  for (const std::string& x : values) terms.push_back(absl::StrCat("v = ", x));
  return absl::StrJoin(terms, " OR ");
}

void BM_ExecuteOrOfEqualities(benchmark::State& state) {
  const std::string sql =
      absl::StrCat("SELECT count(*), sum(v) FROM bench WHERE ", EqualityFilter(false));
  RunExecute(state, sql.c_str());
}
BENCHMARK(BM_ExecuteOrOfEqualities)->Unit(benchmark::kMillisecond);

void BM_ExecuteInList(benchmark::State& state) {
  const std::string sql =
      absl::StrCat("SELECT count(*), sum(v) FROM bench WHERE ", EqualityFilter(true));
  RunExecute(state, sql.c_str());
}
BENCHMARK(BM_ExecuteInList)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fednode::query

BENCHMARK_MAIN();
