// Throughput of the audit log with durable (synced) appends: 64 threads call
// AuditLog::Append on a real DatasetStore with sync_commits on (heads signed
// every 1000 entries, as on a node), against the same loop with the audit log
// off (a no-op append) in the same run. Prints entries/s of both, their ratio,
// the average group-commit batch, the process CPU per durable entry (all
// threads: appenders, the log's writer, RocksDB's), and the target: a node
// must log 20,000 requests/s. A 256-thread run shows how the batches grow
// with the number of requests in flight; a one-thread run shows the cost of
// an entry without contention (one fsync per entry).
//
// Each benchmark runs for FEDNODE_BENCH_SECONDS of real time (default 3).
// The database lives in a fresh directory under $TMPDIR (or /tmp), removed at
// the end; put TMPDIR on the node's data disk to measure that disk's fsync.
//
// Run: build-audit/tests/bench/audit_bench [--benchmark_filter=...]
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

#include "certs/digest.h"
#include "node/audit/audit_log.h"
#include "node/storage/dataset_store.h"
#include "proto/audit/v1/audit.pb.h"

#include "benchmark/benchmark.h"

namespace fednode::audit {
namespace {

constexpr int kThreads = 64;
constexpr double kTargetEntriesPerSecond = 20'000;

double BenchSeconds() {
  const char* env = std::getenv("FEDNODE_BENCH_SECONDS");  // NOLINT(concurrency-mt-unsafe)
  double s = 0;
  if (env != nullptr && absl::SimpleAtod(env, &s) && s > 0) return s;
  return 3.0;
}

// A typical entry: a federation query allowed by a grant.
v1::AuditEntry MakeEntry(int64_t i) {
  v1::AuditEntry e;
  e.set_caller("06531005");
  e.set_peer_address("ipv4:10.0.0.7:50432");
  e.set_operation("federation.Query");
  e.set_dataset_id("pflegebeduerftige");
  e.set_decision(v1::DECISION_ALLOW);
  e.set_reason("grant g-statistik-2024");
  e.set_rows_returned(static_cast<uint64_t>(i % 100));
  e.set_cells_returned(static_cast<uint64_t>(i % 100) * 6);
  e.set_request_id(absl::StrCat("req-", i));
  e.set_purpose("Regionalstatistik");
  e.set_agreement_version(3);
  return e;
}

// Shared by the benchmark threads; built by Setup, torn down by Teardown.
struct State {
  std::string dir;
  std::unique_ptr<storage::DatasetStore> store;
  std::unique_ptr<AuditLog> log;
  uint64_t batches_before = 0;
  double cpu_start = 0;
  double background_cpu_start = 0;
};
// What one run of BM_AuditAppendSynced did, measured by its Teardown.
struct RunStats {
  double entries_per_second = 0;
  double avg_batch = 0;
  // Process CPU time (all threads) from Setup to Teardown per durable entry.
  double cpu_us_per_entry = 0;
  // The part of it spent by RocksDB's background threads (flushes and
  // compactions).
  double background_cpu_us_per_entry = 0;
};

State* g_state = nullptr;                          // NOLINT: benchmark fixture state
std::atomic<int64_t> g_counter{0};                 // NOLINT: request ids
std::map<std::string, double>* g_rates = nullptr;  // NOLINT: name -> entries/s (64 threads)
RunStats g_last_run;                               // NOLINT: of the last run
std::map<int, RunStats>* g_synced = nullptr;       // NOLINT: threads -> the reported run

// CPU time of the whole process (every thread), in seconds.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU time of RocksDB's background threads (named "rocksdb:low", ...;
// shared by every store of the process), in seconds, from /proc (clock-tick
// resolution).
double RocksDbThreadsCpuSeconds() {
  double ticks = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("rocksdb:", 0) != 0) continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat;
    std::getline(stat_file, stat);
    // Fields after the parenthesised name: state is field 3, utime 14,
    // stime 15.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i >= 14) ticks += std::strtod(field.c_str(), nullptr);
    }
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void SetUpLog(const benchmark::State& /*state*/) {
  g_state = new State;
  std::error_code ec;
  g_state->dir =
      (std::filesystem::temp_directory_path(ec) / absl::StrCat("fednode-audit-bench-", getpid()))
          .string();
  std::filesystem::remove_all(g_state->dir, ec);
  storage::DatasetStoreOptions options;
  options.path = g_state->dir;
  options.sync_commits = true;
  absl::StatusOr<std::unique_ptr<storage::DatasetStore>> store =
      storage::DatasetStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "opening the store: %s\n", store.status().ToString().c_str());
    std::abort();
  }
  g_state->store = *std::move(store);
  // Heads signed every 1000 entries as on a node (the default), with a
  // stand-in for the node key: their records share the family with the
  // entries and shape its files.
  AuditLogOptions log_options;
  log_options.sign_head = [](absl::string_view data) -> absl::StatusOr<std::string> {
    return certs::Sha256Hex(data);
  };
  log_options.signer_spki_sha256 = "bench";
  absl::StatusOr<std::unique_ptr<AuditLog>> log =
      AuditLog::Open(g_state->store.get(), log_options, nullptr);
  if (!log.ok()) {
    std::fprintf(stderr, "opening the audit log: %s\n", log.status().ToString().c_str());
    std::abort();
  }
  g_state->log = *std::move(log);
  g_state->cpu_start = ProcessCpuSeconds();
  g_state->background_cpu_start = RocksDbThreadsCpuSeconds();
}

void TearDownLog(const benchmark::State& /*state*/) {
  const double cpu = ProcessCpuSeconds() - g_state->cpu_start;
  const double background_cpu = RocksDbThreadsCpuSeconds() - g_state->background_cpu_start;
  const uint64_t entries = g_state->log->last_seq();
  const uint64_t batches = g_state->log->BatchesWrittenForTest();
  g_last_run.avg_batch =
      batches > 0 ? static_cast<double>(entries) / static_cast<double>(batches) : 0;
  g_last_run.cpu_us_per_entry = entries > 0 ? cpu * 1e6 / static_cast<double>(entries) : 0;
  g_last_run.background_cpu_us_per_entry =
      entries > 0 ? background_cpu * 1e6 / static_cast<double>(entries) : 0;
  absl::Status s = g_state->log->Verify(nullptr);
  if (!s.ok()) {
    std::fprintf(stderr, "audit chain does not verify: %s\n", s.ToString().c_str());
    std::abort();
  }
  s = g_state->log->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "closing the audit log: %s\n", s.ToString().c_str());
  }
  g_state->log.reset();
  g_state->store.reset();
  std::error_code ec;
  std::filesystem::remove_all(g_state->dir, ec);
  delete g_state;
  g_state = nullptr;
}

// Audit on: every iteration is one durable Append.
void BM_AuditAppendSynced(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<uint64_t> seq = g_state->log->Append(MakeEntry(g_counter++));
    if (!seq.ok()) {
      state.SkipWithError(seq.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(*seq);
  }
  state.SetItemsProcessed(state.iterations());
}

// Audit off: the same loop, the entry built and dropped.
void BM_AuditOff(benchmark::State& state) {
  for (auto _ : state) {
    v1::AuditEntry e = MakeEntry(g_counter++);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_AuditAppendSynced)
    ->Threads(kThreads)
    ->UseRealTime()
    ->MinTime(BenchSeconds())
    ->Setup(SetUpLog)
    ->Teardown(TearDownLog);
BENCHMARK(BM_AuditOff)->Threads(kThreads)->UseRealTime()->MinTime(BenchSeconds());
// Informational: more requests in flight make larger batches (the bound is
// in-flight requests / fsync latency, not the fsync rate).
BENCHMARK(BM_AuditAppendSynced)
    ->Threads(4 * kThreads)
    ->UseRealTime()
    ->MinTime(BenchSeconds())
    ->Setup(SetUpLog)
    ->Teardown(TearDownLog);
// Informational: one caller, so one entry per fsync and no contention; the
// CPU per entry is the log's own path (hash, encoding, RocksDB write).
BENCHMARK(BM_AuditAppendSynced)
    ->Threads(1)
    ->UseRealTime()
    ->MinTime(BenchSeconds())
    ->Setup(SetUpLog)
    ->Teardown(TearDownLog);

// Console output plus the items/s of every run, for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    benchmark::ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      // With --benchmark_repetitions the median aggregate is the figure;
      // mean/stddev/cv aggregates (cv is a fraction) must not overwrite it.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      if (run.threads == kThreads) {
        (*g_rates)[run.run_name.function_name] = it->second.value;
      }
      if (run.run_name.function_name == "BM_AuditAppendSynced") {
        RunStats stats = g_last_run;
        stats.entries_per_second = it->second.value;
        (*g_synced)[static_cast<int>(run.threads)] = stats;
      }
    }
  }
};

}  // namespace
}  // namespace fednode::audit

int main(int argc, char** argv) {
  using fednode::audit::g_rates;
  using fednode::audit::g_synced;
  benchmark::Initialize(&argc, argv);
  std::map<std::string, double> rates;
  g_rates = &rates;
  std::map<int, fednode::audit::RunStats> synced;
  g_synced = &synced;
  fednode::audit::SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  const double on = rates.count("BM_AuditAppendSynced") ? rates["BM_AuditAppendSynced"] : 0;
  const double off = rates.count("BM_AuditOff") ? rates["BM_AuditOff"] : 0;
  std::printf("\naudit on  (64 threads, synced group commit): %.0f entries/s", on);
  std::printf("\naudit off (same loop, no-op append):         %.0f entries/s\n", off);
  for (const auto& [threads, stats] : synced) {
    std::printf(
        "audit on, %3d threads: %.0f entries/s, %.1f entries per fsync, "
        "%.2f us process CPU per entry (%.2f of it RocksDB's background threads)\n",
        threads, stats.entries_per_second, stats.avg_batch, stats.cpu_us_per_entry,
        stats.background_cpu_us_per_entry);
  }
  if (on > 0 && off > 0) {
    std::printf("ratio on/off: %.4f\n", on / off);
  }
  std::printf("target: %.0f entries/s with sync on -> %s\n",
              fednode::audit::kTargetEntriesPerSecond,
              on >= fednode::audit::kTargetEntriesPerSecond ? "met" : "NOT met");
  return 0;
}
