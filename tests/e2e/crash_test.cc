// Crash test of the real binaries: a fednode process is killed with SIGKILL
// at random moments while fedctl processes import (append and replace),
// edit catalog metadata and run audited queries concurrently over the admin
// socket. After every kill the test checks the database offline
// (server::VerifyDatabase: it opens, catalog and data agree, the audit chain
// verifies), restarts the node and checks through fedctl that
//   - every import whose fedctl exited 0 is there with exactly its rows;
//   - an import whose call had not returned is wholly there or wholly absent;
//   - each dataset's catalog version and row count match its data;
//   - every acknowledged metadata edit is there;
//   - `fedctl audit verify` passes and holds an entry for every
//     acknowledged audited call.
// A fedctl call that exited 0 counts as acknowledged even when its exit was
// seen after the kill: the node only answers success after the synced
// commit and audit entry, so that is a stronger check than "exited before
// the kill". A call that failed before the kill was issued fails the test.
//
// The kill moments come from a seeded generator; FEDNODE_CRASH_SEED=N
// repeats a run. Every failure names the seed and the round.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/temp_dir.h"
#include "node/server/backup.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::OutputLines;
using ::fednode::testing::RunResult;
using ::testing::HasSubstr;

constexpr int kRounds = 24;  // one kill per round
// The node is killed this long after the load started (uniform, seeded).
constexpr int kMinKillDelayMs = 50;
constexpr int kMaxKillDelayMs = 900;

// One row of a test dataset: (batch, j, txt).
struct Row {
  int64_t batch = 0;
  int64_t j = 0;
  std::string txt;
  bool operator==(const Row& o) const { return batch == o.batch && j == o.j && txt == o.txt; }
};

// The rows of import `batch` of `dataset`: a row count and texts that differ
// per dataset and batch, so every row names where it came from.
std::vector<Row> BatchRows(const std::string& dataset, int64_t batch) {
  const uint64_t h = std::hash<std::string>()(absl::StrCat(dataset, "/", batch));
  const int64_t n = 5 + static_cast<int64_t>(h % 40);
  std::vector<Row> rows;
  for (int64_t j = 0; j < n; ++j) {
    rows.push_back({batch, j,
                    absl::StrCat(dataset, " Import ", batch, " Zeile ", j, " Gießen ",
                                 (h >> 8) % 100000 + j)});
  }
  return rows;
}

std::string Csv(const std::vector<Row>& rows) {
  std::string out = "batch;j;txt\n";
  for (const Row& r : rows) absl::StrAppend(&out, r.batch, ";", r.j, ";", r.txt, "\n");
  return out;
}

constexpr char kSpec[] = R"(dataset_id: "test"
csv {
  encoding: "utf-8"
  delimiter: ";"
  header_line: 1
}
primary_key: "batch"
primary_key: "j"
columns { column { name: "batch" type: COLUMN_TYPE_INT64 } }
columns { column { name: "j" type: COLUMN_TYPE_INT64 } }
columns { column { name: "txt" type: COLUMN_TYPE_STRING } }
)";

std::string Title(const std::string& dataset, int64_t edit) {
  return absl::StrCat("Absturztest ", dataset, " Stand ", edit);
}

std::string Metadata(const std::string& dataset, int64_t edit) {
  return absl::StrCat("title: \"", Title(dataset, edit), "\"\n",
                      "description: \"Testdaten des Absturztests\"\n",
                      "access_class: ACCESS_CLASS_FEDERATION\n");
}

// What the test knows about one dataset.
struct DatasetModel {
  std::string id;
  bool append = false;
  // Imports known to be committed, in order (batch 0 created the dataset).
  std::vector<int64_t> committed;
  // The import whose call did not return success when the node was killed.
  std::optional<int64_t> uncertain;
  int64_t next_batch = 1;
  // Metadata edits: the last acknowledged one and one whose call did not
  // return (0 = the metadata of the first import).
  int64_t acked_edit = 0;
  std::optional<int64_t> uncertain_edit;
  // Row counts of every import started so far (for the concurrent queries).
  std::set<int64_t> started_row_counts;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("FEDNODE_CRASH_SEED");  // NOLINT(concurrency-mt-unsafe)
    uint64_t seed = 0;
    if (env == nullptr || !absl::SimpleAtoi(env, &seed)) seed = std::random_device()();
    seed_ = seed;
    std::cout << "crash test seed " << seed_ << " (FEDNODE_CRASH_SEED=" << seed_
              << " repeats it)\n";
    socket_ = absl::StrCat("/tmp/fednode-crash-", getpid(), ".sock");
    data_dir_ = dir_.File("data");
    spec_ = dir_.File("spec.textproto");
    std::ofstream(spec_) << kSpec;
    node_ = std::make_unique<fednode::testing::NodeProcess>(
        FEDNODE_BIN,
        fednode::testing::WriteNodeConfig(dir_.File("node.textproto"), data_dir_, socket_),
        dir_.File("fednode.log"));
    for (const char* id : {"log_a", "log_b", "snap_a", "snap_b"}) {
      DatasetModel m;
      m.id = id;
      m.append = absl::StartsWith(m.id, "log_");
      models_.push_back(std::move(m));
    }
  }

  void TearDown() override {
    if (node_ != nullptr && node_->running()) node_->Stop(SIGTERM);
  }

  RunResult Fedctl(std::vector<std::string> args) {
    args.insert(args.begin(), {FEDCTL_BIN, "--socket", socket_});
    return fednode::testing::Run(args, absl::Seconds(60));
  }

  bool StartNode() { return node_->Start({FEDCTL_BIN, "--socket", socket_, "status"}); }

  // Writes the CSV of `batch` of `m` and returns its path.
  std::string WriteBatchFile(const DatasetModel& m, int64_t batch) {
    const std::string path = dir_.File(absl::StrCat(m.id, "-", batch, ".csv"));
    std::ofstream(path, std::ios::binary) << Csv(BatchRows(m.id, batch));
    return path;
  }

  std::string WriteMetadataFile(const std::string& dataset, int64_t edit) {
    const std::string path = dir_.File(absl::StrCat(dataset, "-meta-", edit, ".textproto"));
    std::ofstream(path) << Metadata(dataset, edit);
    return path;
  }

  // A fedctl call ended with `r`: true when acknowledged. A failure seen
  // before the kill was issued fails the test.
  bool Acknowledged(const RunResult& r, const std::string& what) {
    if (r.exit_code == 0) {
      acked_audited_.fetch_add(1);
      return true;
    }
    absl::MutexLock lock(&mu_);
    if (!killed_) {
      ADD_FAILURE() << "seed " << seed_ << " round " << round_ << ": " << what
                    << " failed while the node was up (exit " << r.exit_code << "): " << r.err;
    }
    return false;
  }

  // Imports batch after batch into `m` until a call fails or the node is
  // killed.
  void ImportLoop(DatasetModel* m) {
    while (!Killed()) {
      int64_t batch = 0;
      {
        absl::MutexLock lock(&mu_);
        batch = m->next_batch++;
        m->started_row_counts.insert(static_cast<int64_t>(BatchRows(m->id, batch).size()));
      }
      const std::string file = WriteBatchFile(*m, batch);
      RunResult r = Fedctl({"import", "--dataset", m->id, "--schema", spec_, "--mode",
                            m->append ? "append" : "replace", file});
      const bool acked = Acknowledged(r, absl::StrCat("import ", m->id, " batch ", batch));
      absl::MutexLock lock(&mu_);
      if (acked) {
        m->committed.push_back(batch);
        continue;
      }
      m->uncertain = batch;
      return;
    }
  }

  // Edits the metadata of the datasets in turn.
  void MetadataLoop() {
    for (int64_t n = 1; !Killed(); ++n) {
      DatasetModel* m = nullptr;
      int64_t edit = 0;
      {
        absl::MutexLock lock(&mu_);
        m = &models_[static_cast<size_t>(n) % models_.size()];
        edit = ++edit_counter_;
      }
      RunResult r = Fedctl({"catalog", "set-metadata", m->id, WriteMetadataFile(m->id, edit)});
      const bool acked = Acknowledged(r, absl::StrCat("set-metadata ", m->id, " ", edit));
      absl::MutexLock lock(&mu_);
      if (acked) {
        m->acked_edit = edit;
        continue;
      }
      m->uncertain_edit = edit;
      return;
    }
  }

  // Audited queries: the row count of a replaced dataset is always the row
  // count of one of its imports.
  void QueryLoop() {
    for (size_t n = 0; !Killed(); ++n) {
      DatasetModel* m = &models_[2 + n % 2];  // snap_a, snap_b
      RunResult r =
          Fedctl({"query", "--format", "csv", absl::StrCat("SELECT COUNT(*) FROM ", m->id)});
      if (!Acknowledged(r, absl::StrCat("query ", m->id))) return;
      std::vector<std::string> lines = OutputLines(r.out);
      int64_t count = -1;
      if (lines.size() != 2 || !absl::SimpleAtoi(lines[1], &count)) {
        ADD_FAILURE() << "seed " << seed_ << " round " << round_ << ": query output " << r.out;
        return;
      }
      absl::MutexLock lock(&mu_);
      EXPECT_TRUE(m->started_row_counts.contains(count))
          << "seed " << seed_ << " round " << round_ << ": " << m->id << " has " << count
          << " rows, which no import of it had";
    }
  }

  bool Killed() {
    absl::MutexLock lock(&mu_);
    return killed_;
  }

  // The rows of `m` on the restarted node, grouped by batch.
  std::map<int64_t, std::vector<Row>> StoredBatches(const DatasetModel& m) {
    RunResult r = Fedctl({"query", "--format", "csv",
                          absl::StrCat("SELECT batch, j, txt FROM ", m.id, " ORDER BY batch, j")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<int64_t, std::vector<Row>> out;
    std::vector<std::string> lines = OutputLines(r.out);
    EXPECT_FALSE(lines.empty());
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> f = absl::StrSplit(lines[i], absl::MaxSplits(',', 2));
      Row row;
      if (f.size() != 3 || !absl::SimpleAtoi(f[0], &row.batch) || !absl::SimpleAtoi(f[1], &row.j)) {
        ADD_FAILURE() << m.id << ": unexpected line " << lines[i];
        continue;
      }
      row.txt = f[2];
      out[row.batch].push_back(row);
    }
    return out;
  }

  // Checks `m` on the restarted node against the model and resolves the
  // uncertain import and edit. `offline` is what VerifyDatabase read before
  // the restart.
  void CheckDataset(DatasetModel* m, const server::DatabaseReport& offline) {
    SCOPED_TRACE(m->id);
    std::map<int64_t, std::vector<Row>> stored = StoredBatches(*m);
    uint64_t rows = 0;
    for (const auto& [batch, batch_rows] : stored) {
      // Never partial: a batch is there with exactly its rows.
      EXPECT_EQ(batch_rows, BatchRows(m->id, batch)) << "batch " << batch;
      rows += batch_rows.size();
    }
    if (m->append) {
      std::set<int64_t> expected(m->committed.begin(), m->committed.end());
      std::set<int64_t> present;
      for (const auto& [batch, unused] : stored) present.insert(batch);
      if (m->uncertain.has_value() && present.contains(*m->uncertain)) {
        expected.insert(*m->uncertain);
        m->committed.push_back(*m->uncertain);
        ++unacked_present_;
      } else if (m->uncertain.has_value()) {
        ++unacked_absent_;
      }
      EXPECT_EQ(present, expected) << "acknowledged imports missing or unknown ones present";
    } else {
      ASSERT_EQ(stored.size(), 1u) << "a replaced dataset holds exactly one import";
      const int64_t batch = stored.begin()->first;
      if (m->uncertain.has_value() && batch == *m->uncertain) {
        m->committed.push_back(batch);
        ++unacked_present_;
      } else {
        if (m->uncertain.has_value()) ++unacked_absent_;
        EXPECT_EQ(batch, m->committed.back()) << "not the last acknowledged import";
      }
    }
    m->uncertain.reset();

    // Catalog and data agree, offline and on the node: one version per
    // committed import.
    const uint64_t version = m->committed.size();
    bool found = false;
    for (const auto& d : offline.datasets) {
      if (d.dataset_id != m->id) continue;
      found = true;
      EXPECT_EQ(d.version, version);
      EXPECT_EQ(d.row_count, rows);
    }
    EXPECT_TRUE(found) << "not in the catalog";
    RunResult show = Fedctl({"catalog", "show", m->id});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    acked_audited_.fetch_add(1);
    EXPECT_THAT(show.out, HasSubstr(absl::StrCat("version:      ", version, " (", rows, " rows)")));

    // Metadata: the last acknowledged edit, or a later unacknowledged one.
    const bool has_uncertain_title =
        m->uncertain_edit.has_value() &&
        show.out.find(absl::StrCat("title:        ", Title(m->id, *m->uncertain_edit), "\n")) !=
            std::string::npos;
    if (has_uncertain_title) {
      m->acked_edit = *m->uncertain_edit;
    } else {
      EXPECT_THAT(show.out,
                  HasSubstr(absl::StrCat("title:        ", Title(m->id, m->acked_edit), "\n")));
    }
    m->uncertain_edit.reset();
  }

  fednode::testing::TempDir dir_;
  uint64_t seed_ = 0;
  std::string socket_, data_dir_, spec_;
  std::unique_ptr<fednode::testing::NodeProcess> node_;
  std::vector<DatasetModel> models_;
  std::atomic<uint64_t> acked_audited_{0};
  // Imports whose call had not returned at the kill, found there / absent.
  int unacked_present_ = 0;
  int unacked_absent_ = 0;

  absl::Mutex mu_;
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  int round_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t edit_counter_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(CrashTest, AcknowledgedWorkSurvivesKillNineAndNothingIsPartial) {
  ASSERT_TRUE(StartNode()) << node_->Log();
  for (DatasetModel& m : models_) {
    RunResult r = Fedctl({"import", "--dataset", m.id, "--schema", spec_, "--metadata",
                          WriteMetadataFile(m.id, 0), "--mode", m.append ? "append" : "replace",
                          WriteBatchFile(m, 0)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    acked_audited_.fetch_add(1);
    m.committed.push_back(0);
    m.started_row_counts.insert(static_cast<int64_t>(BatchRows(m.id, 0).size()));
  }

  std::mt19937_64 rng(seed_);
  std::uniform_int_distribution<int> delay_ms(kMinKillDelayMs, kMaxKillDelayMs);
  int kills = 0;
  for (int round = 1; round <= kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("seed ", seed_, " round ", round));
    {
      absl::MutexLock lock(&mu_);
      killed_ = false;
      round_ = round;
    }
    std::vector<std::thread> load;
    for (DatasetModel& m : models_) load.emplace_back([this, &m] { ImportLoop(&m); });
    load.emplace_back([this] { MetadataLoop(); });
    load.emplace_back([this] { QueryLoop(); });

    // The kill moment is the only thing timed here: a random point of the
    // load, not a synchronisation.
    absl::SleepFor(absl::Milliseconds(delay_ms(rng)));
    {
      absl::MutexLock lock(&mu_);
      killed_ = true;
    }
    // The node must still be running (WNOWAIT: looked at, not reaped).
    siginfo_t exited = {};
    const bool died_by_itself = ::waitid(P_PID, static_cast<id_t>(node_->pid()), &exited,
                                         WEXITED | WNOHANG | WNOWAIT) == 0 &&
                                exited.si_pid != 0;
    EXPECT_EQ(node_->Stop(SIGKILL), -1);
    ++kills;
    for (std::thread& t : load) t.join();
    ASSERT_FALSE(died_by_itself) << "the node died before the kill (status " << exited.si_status
                                 << ")\n"
                                 << node_->Log();

    // Offline, before the restart: the database as the next start sees it.
    absl::StatusOr<server::DatabaseReport> offline = server::VerifyDatabase(data_dir_);
    ASSERT_TRUE(offline.ok()) << offline.status();
    EXPECT_EQ(offline->audit_entries_checked, offline->audit_last_seq);
    EXPECT_GE(offline->audit_last_seq, acked_audited_.load())
        << "an acknowledged audited call has no audit entry";
    EXPECT_EQ(offline->datasets.size(), models_.size());

    ASSERT_TRUE(StartNode()) << "the node does not start after kill -9\n" << node_->Log();
    for (DatasetModel& m : models_) CheckDataset(&m, *offline);
    RunResult verify = Fedctl({"audit", "verify"});
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    std::vector<std::string> words = absl::StrSplit(verify.out, ' ');
    uint64_t entries = 0;
    ASSERT_GE(words.size(), 4u) << verify.out;
    ASSERT_TRUE(absl::SimpleAtoi(words[3], &entries)) << verify.out;
    EXPECT_EQ(verify.out,
              absl::StrCat("audit log intact: ", entries, " entries, hash chain verified\n"));
    EXPECT_GE(entries, acked_audited_.load());
    if (HasFailure()) return;  // the seed and round are in the failures above
  }
  EXPECT_GE(kills, 20);
  size_t committed = 0;
  for (const DatasetModel& m : models_) committed += m.committed.size();
  std::cout << "seed " << seed_ << ": " << kills << " kills, " << committed
            << " imports committed, of the unacknowledged ones " << unacked_present_
            << " found whole and " << unacked_absent_ << " wholly absent; " << acked_audited_.load()
            << " acknowledged audited calls\n";
  EXPECT_EQ(node_->Stop(SIGTERM), 0) << node_->Log();
}

}  // namespace
}  // namespace fednode
