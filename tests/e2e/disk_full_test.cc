// Disk full, with the real binaries: the node's data directory is on a
// 16 MiB tmpfs that the test mounts (root only; it skips otherwise) and
// fills with a filler file. An import bigger than the space left fails with
// fedctl's "disk full" error and exit code 1; the data already there stays
// queryable with the same content, the node keeps answering and the audit
// log verifies (it records the failed import). After the filler is deleted
// the same import succeeds, without a restart.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/temp_dir.h"
#include "tests/support/process.h"
#include "tests/support/tmpfs.h"

namespace fednode {
namespace {

using ::fednode::testing::OutputLines;
using ::fednode::testing::RunResult;
using ::testing::HasSubstr;

constexpr uint64_t kMiB = uint64_t{1} << 20;

constexpr char kSpec[] = R"(dataset_id: "test"
csv {
  encoding: "utf-8"
  delimiter: ";"
  header_line: 1
}
primary_key: "id"
columns { column { name: "id" type: COLUMN_TYPE_INT64 } }
columns { column { name: "txt" type: COLUMN_TYPE_STRING } }
)";

constexpr char kMetadata[] = R"(title: "Speicherplatztest"
description: "Testdaten: volle Platte"
access_class: ACCESS_CLASS_FEDERATION
)";

// Rows "id;txt" with `bytes_per_row` seeded random letters each (hardly
// compressible, so the commit's size follows the file's).
std::vector<std::string> MakeRows(int64_t first_id, int n, size_t bytes_per_row, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::uniform_int_distribution<size_t> letter(0, alphabet.size() - 1);
  std::vector<std::string> rows;
  for (int i = 0; i < n; ++i) {
    std::string txt(bytes_per_row, ' ');
    for (char& c : txt) c = alphabet[letter(rng)];
    rows.push_back(absl::StrCat(first_id + i, ";", txt));
  }
  return rows;
}

std::string WriteCsv(const std::string& path, const std::vector<std::string>& rows) {
  std::ofstream out(path, std::ios::binary);
  out << "id;txt\n";
  for (const std::string& r : rows) out << r << "\n";
  return path;
}

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmpfs_ = std::make_unique<fednode::testing::ScopedTmpfs>(dir_.File("small"), 16 * kMiB);
    if (!tmpfs_->ok()) GTEST_SKIP() << tmpfs_->reason();
    socket_ = absl::StrCat("/tmp/fednode-diskfull-", getpid(), ".sock");
    data_dir_ = tmpfs_->path() + "/data";
    spec_ = dir_.File("spec.textproto");
    std::ofstream(spec_) << kSpec;
    metadata_ = dir_.File("metadata.textproto");
    std::ofstream(metadata_) << kMetadata;
    node_ = std::make_unique<fednode::testing::NodeProcess>(
        FEDNODE_BIN,
        fednode::testing::WriteNodeConfig(dir_.File("node.textproto"), data_dir_, socket_),
        dir_.File("fednode.log"));
    ASSERT_TRUE(node_->Start({FEDCTL_BIN, "--socket", socket_, "status"})) << node_->Log();
  }

  void TearDown() override {
    // Stopped before the tmpfs is unmounted (members are destroyed in
    // reverse order: node_, then tmpfs_).
    if (node_ != nullptr && node_->running()) {
      EXPECT_EQ(node_->Stop(SIGTERM), 0) << node_->Log();
    }
  }

  RunResult Fedctl(std::vector<std::string> args) {
    args.insert(args.begin(), {FEDCTL_BIN, "--socket", socket_});
    return fednode::testing::Run(args, absl::Seconds(60));
  }

  // The dataset's rows as "id;txt", ordered by id.
  std::vector<std::string> Rows(const std::string& dataset) {
    RunResult r = Fedctl({"query", "--format", "csv",
                          absl::StrCat("SELECT id, txt FROM ", dataset, " ORDER BY id")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> lines = OutputLines(r.out);
    std::vector<std::string> rows;
    for (size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> f = absl::StrSplit(lines[i], absl::MaxSplits(',', 1));
      rows.push_back(f.size() == 2 ? absl::StrCat(f[0], ";", f[1]) : lines[i]);
    }
    return rows;
  }

  fednode::testing::TempDir dir_;
  std::unique_ptr<fednode::testing::ScopedTmpfs> tmpfs_;
  std::string socket_, data_dir_, spec_, metadata_;
  std::unique_ptr<fednode::testing::NodeProcess> node_;
};

TEST_F(DiskFullTest, ImportIntoAFullDiskFailsClearlyAndSucceedsOnceSpaceIsFreed) {
  const std::vector<std::string> base = MakeRows(1, 200, 100, 1);
  RunResult r = Fedctl({"import", "--dataset", "base", "--schema", spec_, "--metadata", metadata_,
                        WriteCsv(dir_.File("base.csv"), base)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Rows("base"), base);

  // The import is a third of the free space (so it fits once the filler is
  // gone: it needs about twice its size plus 1 MiB), the filler leaves half
  // the import's size.
  const uint64_t free_bytes = fednode::testing::FreeBytes(tmpfs_->path());
  ASSERT_GT(free_bytes, 4 * kMiB) << "the node's files took most of the 16 MiB";
  const size_t row_bytes = 1000;
  const int big_rows = static_cast<int>(free_bytes / 3 / (row_bytes + 8));
  const std::vector<std::string> big = MakeRows(1, big_rows, row_bytes, 2);
  const std::string big_csv = WriteCsv(dir_.File("big.csv"), big);
  const uint64_t big_bytes = static_cast<uint64_t>(std::ifstream(big_csv, std::ios::ate).tellg());
  const std::string filler = tmpfs_->path() + "/filler";
  fednode::testing::FillFile(filler, free_bytes - big_bytes / 2);
  const uint64_t left = fednode::testing::FreeBytes(tmpfs_->path());
  ASSERT_LT(left, big_bytes);

  r = Fedctl({"import", "--dataset", "big", "--schema", spec_, "--metadata", metadata_, big_csv});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  std::smatch m;
  const std::regex expected(
      "fedctl: RESOURCE_EXHAUSTED: disk full: writing dataset big needs about ([0-9]+) MiB on "
      "the data directory's filesystem \\(" +
      data_dir_ +
      "\\), but only ([0-9]+) MiB are free; free space there and try again \\(nothing was "
      "written\\)\n");
  ASSERT_TRUE(std::regex_match(r.err, m, expected)) << r.err;
  uint64_t needed_mib = 0, free_mib = 0;
  ASSERT_TRUE(absl::SimpleAtoi(m[1].str(), &needed_mib));
  ASSERT_TRUE(absl::SimpleAtoi(m[2].str(), &free_mib));
  EXPECT_EQ(free_mib, left / kMiB);
  EXPECT_GT(needed_mib, free_mib);

  // The node answers; the data already there is unchanged; nothing of the
  // failed import is stored; the audit log records the failure and verifies.
  r = Fedctl({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("datasets:        1 (200 rows)\n"));
  EXPECT_EQ(Rows("base"), base);
  r = Fedctl({"catalog", "show", "big"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
  r = Fedctl({"audit", "tail", "-n", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("admin.Import"));
  EXPECT_THAT(r.out, HasSubstr("RESOURCE_EXHAUSTED: disk full: writing dataset big"));
  // Audited so far: import base, query base, the failed import, query base,
  // catalog show big (status and audit reads are not audited).
  r = Fedctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "audit log intact: 5 entries, hash chain verified\n");

  // Space freed: the same import succeeds on the same node process.
  ASSERT_EQ(::unlink(filler.c_str()), 0);
  r = Fedctl({"import", "--dataset", "big", "--schema", spec_, "--metadata", metadata_, big_csv});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("big: version 1, ", big_rows, " rows imported, ", big_rows,
                                " rows in the dataset\n"));
  EXPECT_EQ(Rows("big"), big);
  EXPECT_EQ(Rows("base"), base);
  // And the import, query big (streamed: larger than one message, so an
  // entry before its first message and one with the count), query base.
  r = Fedctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "audit log intact: 9 entries, hash chain verified\n");
}

}  // namespace
}  // namespace fednode
