// Throughput of the CSV import: ingest::Parse (bytes -> typed Table) against
// two raw baselines over the same bytes in the same run: libcsv with empty
// callbacks, and a plain memchr line/field split. Prints rows/s and ratios.
//
// Input: a generated plain UTF-8 CSV with 10 columns (4 int64, 3 double,
// 3 string, one of them AGS-like with leading zeros), FEDNODE_BENCH_ROWS rows
// (default 10,000,000, about 700 MB).
//
// Run: build-ingest/tests/bench/ingest_bench [--benchmark_filter=...]
#include <csv.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "node/ingest/importer.h"
#include "tests/bench/bench_csv.h"

#include "benchmark/benchmark.h"

namespace fednode::ingest {
namespace {

int64_t BenchRows() {
  const char* env = std::getenv("FEDNODE_BENCH_ROWS");  // NOLINT(concurrency-mt-unsafe)
  int64_t n = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return 10'000'000;
}

// The generated CSV (bench_csv.h), made once per process.
const std::string& Data() {
  static const std::string* data = [] {
    auto* s = new std::string;
    const int64_t rows = BenchRows();
    s->reserve(static_cast<size_t>(rows) * 72);
    s->append(bench::kCsvHeader);
    for (int64_t i = 0; i < rows; ++i) bench::AppendCsvRow(i, s);
    return s;
  }();
  return *data;
}

v1::ImportSpec BenchSpec() {
  v1::ImportSpec spec;
  spec.set_dataset_id("bench");
  spec.mutable_csv()->set_encoding("utf-8");
  spec.mutable_csv()->set_delimiter(",");
  spec.mutable_csv()->set_header_line(1);
  struct Col {
    const char* name;
    ColumnType type;
  };
  const Col cols[] = {
      {"id", storage::v1::COLUMN_TYPE_INT64},         {"ags", storage::v1::COLUMN_TYPE_STRING},
      {"name", storage::v1::COLUMN_TYPE_STRING},      {"category", storage::v1::COLUMN_TYPE_STRING},
      {"population", storage::v1::COLUMN_TYPE_INT64}, {"area_km2", storage::v1::COLUMN_TYPE_DOUBLE},
      {"lat", storage::v1::COLUMN_TYPE_DOUBLE},       {"lon", storage::v1::COLUMN_TYPE_DOUBLE},
      {"year", storage::v1::COLUMN_TYPE_INT64},       {"count", storage::v1::COLUMN_TYPE_INT64}};
  for (const Col& c : cols) {
    v1::ColumnSpec* cs = spec.add_columns();
    cs->mutable_column()->set_name(c.name);
    cs->mutable_column()->set_type(c.type);
  }
  return spec;
}

// Best rows/s of each benchmark in this run, for the ratio printed at the end.
double g_parse = 0, g_libcsv = 0, g_memchr = 0;

template <typename F>
void RunRows(benchmark::State& state, double* best, F&& body) {
  const std::string& data = Data();
  const int64_t rows = BenchRows();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    body(data);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rows / s > *best) *best = rows / s;
  }
  state.counters["rows_per_s"] =
      benchmark::Counter(static_cast<double>(rows) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(data.size()) * state.iterations());
}

void BM_Parse(benchmark::State& state) {
  const v1::ImportSpec spec = BenchSpec();
  RunRows(state, &g_parse, [&](const std::string& data) {
    auto out = Parse(data, SourceFormat::kCsv, spec, "bench.csv");
    if (!out.ok() || (*out)[0].table.num_rows != static_cast<size_t>(BenchRows())) {
      state.SkipWithError(out.ok() ? "wrong row count"
                                   : std::string(out.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(out);
  });
}

void EmptyField(void*, size_t, void*) {}
void CountRecord(int, void* rows) { ++*static_cast<int64_t*>(rows); }

void BM_LibcsvEmptyCallbacks(benchmark::State& state) {
  RunRows(state, &g_libcsv, [&](const std::string& data) {
    csv_parser p;
    csv_init(&p, CSV_REPALL_NL);
    int64_t records = 0;
    constexpr size_t kChunk = size_t{1} << 20;
    for (size_t off = 0; off < data.size(); off += kChunk) {
      csv_parse(&p, data.data() + off, std::min(kChunk, data.size() - off), EmptyField, CountRecord,
                &records);
    }
    csv_fini(&p, EmptyField, CountRecord, &records);
    csv_free(&p);
    benchmark::DoNotOptimize(records);
  });
}

void BM_MemchrSplit(benchmark::State& state) {
  RunRows(state, &g_memchr, [&](const std::string& data) {
    const char* p = data.data();
    const char* end = p + data.size();
    int64_t fields = 0;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) nl = end;
      for (const char* f = p; f < nl;) {
        const char* c = static_cast<const char*>(std::memchr(f, ',', static_cast<size_t>(nl - f)));
        ++fields;
        f = c == nullptr ? nl : c + 1;
      }
      p = nl + 1;
    }
    benchmark::DoNotOptimize(fields);
  });
}

BENCHMARK(BM_MemchrSplit)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_LibcsvEmptyCallbacks)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_Parse)->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace fednode::ingest

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("generating %" PRId64 " rows ...\n", fednode::ingest::BenchRows());
  std::printf("%zu bytes\n", fednode::ingest::Data().size());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  using fednode::ingest::g_libcsv;
  using fednode::ingest::g_memchr;
  using fednode::ingest::g_parse;
  if (g_parse > 0) {
    // Best repetitions here; the table of tests/bench/run.sh judges medians.
    std::printf("best repetitions: Parse %.2f M rows/s\n", g_parse / 1e6);
    if (g_libcsv > 0) {
      std::printf("best repetitions: libcsv empty callbacks %.2f M rows/s; Parse/libcsv = %.2f\n",
                  g_libcsv / 1e6, g_parse / g_libcsv);
    }
    if (g_memchr > 0) {
      std::printf("best repetitions: memchr split %.2f M rows/s; Parse/memchr = %.2f\n",
                  g_memchr / 1e6, g_parse / g_memchr);
    }
  }
  return 0;
}
