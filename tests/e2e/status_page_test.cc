// The county's status page in a real browser: the Landkreis Gießen
// federation (deploy/county_demo.sh in setup-only mode, 19 real fednode
// processes on loopback), one regional statistic per case on the county's
// node, then headless Chromium (playwright-core, tests/status_page/) loads
// the page. Every number the page shows is compared with what the node
// answers through fedctl, parsed here from fedctl's text output. The
// screenshots stay in the build directory as artifacts.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "node/base/testing/temp_dir.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::OutputLines;
using ::fednode::testing::RunResult;
using ::fednode::testing::SourcePath;
using ::testing::HasSubstr;

constexpr char kCounty[] = "06531";
constexpr char kGv[] = "urn:fednode:schema:gemeindeverzeichnis:v1";

// Cells of a fedctl table line ("a | b | c"), trimmed.
std::vector<std::string> Cells(absl::string_view line) {
  std::vector<std::string> cells = absl::StrSplit(line, '|');
  for (auto& c : cells) c = std::string(absl::StripAsciiWhitespace(c));
  return cells;
}

// The rows of fedctl aggregate's table: every line with '|' after the
// header, which comes first (its cells are the column names).
std::vector<std::vector<std::string>> AggregateTable(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : OutputLines(out)) {
    if (line.find('|') == std::string::npos) continue;
    rows.push_back(Cells(line));
  }
  return rows;
}

class StatusPageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fednode::testing::TempDir();
    run_ = dir_->File("run");
    setenv("DEMO_PORT_BASE", absl::StrCat(21000 + (getpid() % 1500) * 20).c_str(), 1);
    setenv("DEMO_HTTP_PORT", "0", 1);
    // run_check.sh installs playwright-core below the build directory.
    setenv("FEDNODE_BUILD_DIR", FEDNODE_BUILD_DIR, 1);
    setenv("COUNTY_DEMO_SETUP_ONLY", "1", 1);
    RunResult r = fednode::testing::Run(
        {"/bin/bash", SourcePath("deploy/county_demo.sh"), FEDNODE_BUILD_DIR, run_},
        absl::Seconds(200));
    unsetenv("COUNTY_DEMO_SETUP_ONLY");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_THAT(r.out,
                HasSubstr("the county's status page while the demo runs: http://127.0.0.1:"));
    int port = 0;
    std::ifstream(absl::StrCat(run_, "/", kCounty, "/http.port")) >> port;
    ASSERT_GT(port, 0);
    url_ = new std::string(absl::StrCat("http://127.0.0.1:", port, "/"));
  }

  static void TearDownTestSuite() {
    // The demo's nodes are not our children: SIGTERM each, wait (bounded).
    std::ifstream pids(run_ + "/pids");
    std::vector<pid_t> all;
    for (pid_t pid; pids >> pid;) {
      if (kill(pid, SIGTERM) == 0) all.push_back(pid);
    }
    for (pid_t pid : all) {
      for (int i = 0; i < 200 && kill(pid, 0) == 0; ++i) usleep(50 * 1000);
    }
    delete url_;
    delete dir_;
  }

  static RunResult Fedctl(const std::string& ags, std::vector<std::string> args) {
    args.insert(args.begin(),
                {FEDCTL_BIN, "--socket", absl::StrCat(run_, "/", ags, "/admin.sock")});
    return fednode::testing::Run(args, absl::Seconds(60));
  }

  // Loads the page; the screenshot goes to the build directory.
  static nlohmann::json LoadPage(const std::string& screenshot_name) {
    const std::string screenshot = absl::StrCat(FEDNODE_BUILD_DIR, "/", screenshot_name);
    RunResult r = fednode::testing::Run(
        {"/bin/sh", SourcePath("tests/status_page/run_check.sh"), *url_, screenshot},
        absl::Seconds(150));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::cout << "status page screenshot: " << screenshot << "\n";
    EXPECT_TRUE(std::filesystem::exists(screenshot));
    nlohmann::json page = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(page.is_discarded()) << r.out << r.err;
    if (page.is_discarded()) return nlohmann::json::object();
    EXPECT_EQ(page["errors"], nlohmann::json::array()) << page.dump(1);
    EXPECT_EQ(page["error_banner"], "");
    return page;
  }

  // The statistic table as the page shows it must be fedctl's, cell by cell.
  static void ExpectSameTable(const nlohmann::json& page, const std::string& fedctl_out) {
    std::vector<std::vector<std::string>> table = AggregateTable(fedctl_out);
    ASSERT_GE(table.size(), 2u) << fedctl_out;
    const nlohmann::json& stat = page["statistic"];
    ASSERT_TRUE(stat.is_object()) << page.dump(1);
    std::vector<std::string> columns = stat["columns"];
    EXPECT_EQ(columns, table[0]);
    std::vector<std::vector<std::string>> shown = stat["rows"];
    ASSERT_EQ(shown.size(), table.size() - 1);
    for (size_t i = 0; i < shown.size(); ++i) EXPECT_EQ(shown[i], table[i + 1]) << i;
    const std::vector<std::string> lines = OutputLines(fedctl_out);
    EXPECT_EQ(stat["coverage"], lines[0]);
    EXPECT_EQ(stat["rule"], lines[1]);
  }

  // Population and area per municipality: table, one bar per municipality,
  // peers and the (empty) catalog.
  void PopulationPerMunicipality();
  // Population by urbanisation class with primary and secondary
  // suppression, stored as the county's dataset: the marks, the chart's
  // suppressed bars and the catalog entry.
  void SuppressedCells();

  static fednode::testing::TempDir* dir_;
  static std::string run_;
  static std::string* url_;
};

fednode::testing::TempDir* StatusPageTest::dir_ = nullptr;
std::string StatusPageTest::run_;
std::string* StatusPageTest::url_ = nullptr;

// One test, two statistics: starting the federation costs more than both.
TEST_F(StatusPageTest, ShowsTheLatestStatisticPeersAndCatalogAsFedctlAnswers) {
  PopulationPerMunicipality();
  // A statistic with suppressed cells replaces it as the latest.
  SuppressedCells();
}

void StatusPageTest::PopulationPerMunicipality() {
  RunResult agg = Fedctl(
      kCounty, {"aggregate", "--conforms-to", kGv, "--purpose", "regionalstatistik", "--by-member",
                "SELECT SUM(bevoelkerung) AS einwohner, SUM(flaeche) AS flaeche_km2 FROM "
                "gemeindeverzeichnis"});
  ASSERT_EQ(agg.exit_code, 0) << agg.err;
  RunResult peers = Fedctl(kCounty, {"peers"});
  ASSERT_EQ(peers.exit_code, 0) << peers.err;
  RunResult catalog = Fedctl(kCounty, {"catalog"});
  ASSERT_EQ(catalog.exit_code, 0) << catalog.err;

  nlohmann::json page = LoadPage("status_page_by_member.png");
  EXPECT_EQ(page["member"], "06531 Landkreis Gießen");
  ExpectSameTable(page, agg.out);

  // One bar per municipality, none suppressed (the grant allows cells of one).
  std::vector<std::string> bars = page["chart"]["bars"];
  EXPECT_EQ(bars.size(), 18u);
  EXPECT_TRUE(page["chart"]["suppressed"].empty());
  for (const auto& row : AggregateTable(agg.out)) {
    if (row[0] == "member_ags" || row[0] == "Total") continue;
    EXPECT_NE(std::find(bars.begin(), bars.end(), row[0]), bars.end()) << row[0];
  }

  // Peers: the state fedctl peers measured, for every member.
  std::map<std::string, std::string> state;
  for (const std::string& line : OutputLines(peers.out)) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() > 2 && f[0].size() == 8 && absl::StartsWith(f[0], "06531")) {
      // NAME may have spaces: the state is the first word of the known set.
      for (const auto& w : f) {
        if (w == "ok" || w == "unreachable" || w == "refused" || w == "deadline" || w == "error") {
          state[f[0]] = w;
          break;
        }
      }
    }
  }
  ASSERT_EQ(state.size(), 18u) << peers.out;
  ASSERT_EQ(page["peers"].size(), 18u);
  for (const auto& p : page["peers"]) EXPECT_EQ(p["state"], state[p["ags"]]) << p.dump();

  // Catalog: the county holds no dataset yet; fedctl says so too.
  EXPECT_THAT(catalog.out, HasSubstr("(0 datasets)"));
  EXPECT_EQ(page["catalog_count"], "(0 datasets)");
}

void StatusPageTest::SuppressedCells() {
  RunResult agg = Fedctl(
      kCounty,
      {"aggregate", "--conforms-to", kGv, "--purpose", "regionalstatistik",
       "--threshold-in-members", "--min-cell-count", "3", "--store", "bevoelkerung_verstaedterung",
       "--metadata", SourcePath("deploy/landkreis/metadata/bevoelkerung_verstaedterung.textproto"),
       "SELECT verstaedterungbezeichnung, COUNT(*) AS gemeinden, SUM(bevoelkerung) AS einwohner "
       "FROM gemeindeverzeichnis GROUP BY verstaedterungbezeichnung"});
  ASSERT_EQ(agg.exit_code, 0) << agg.err;
  RunResult catalog = Fedctl(kCounty, {"catalog"});
  ASSERT_EQ(catalog.exit_code, 0) << catalog.err;

  nlohmann::json page = LoadPage("status_page_suppressed.png");
  ExpectSameTable(page, agg.out);

  // fedctl marks (p) and (s); the chart draws exactly those rows as
  // "suppressed" bars, with the mark and no number.
  std::map<std::string, std::string> marks;
  for (const auto& row : AggregateTable(agg.out)) {
    if (row.size() > 1 && (row[1] == "(p)" || row[1] == "(s)")) marks[row[0]] = row[1];
  }
  ASSERT_EQ(marks.size(), 2u) << agg.out;
  ASSERT_EQ(page["chart"]["suppressed"].size(), marks.size()) << page.dump(1);
  for (const auto& s : page["chart"]["suppressed"]) {
    const std::string label = s["label"];
    EXPECT_EQ(s["text"], absl::StrCat("suppressed ", marks[label])) << label;
  }
  for (const std::string bar : page["chart"]["bars"]) EXPECT_EQ(marks.count(bar), 0u) << bar;

  // The stored result is the county's one catalog entry, with fedctl's rows.
  std::string rows;
  for (const std::string& line : OutputLines(catalog.out)) {
    std::vector<std::string> f = absl::StrSplit(line, "  ", absl::SkipEmpty());
    if (!f.empty() && absl::StripAsciiWhitespace(f[0]) == "bevoelkerung_verstaedterung") {
      rows = std::string(absl::StripAsciiWhitespace(f[3]));
    }
  }
  ASSERT_FALSE(rows.empty()) << catalog.out;
  ASSERT_EQ(page["catalog"].size(), 1u);
  EXPECT_EQ(page["catalog"][0]["dataset_id"], "bevoelkerung_verstaedterung");
  EXPECT_EQ(page["catalog"][0]["rows"], rows);
  EXPECT_EQ(page["catalog_count"], "(1 datasets)");
}

}  // namespace
}  // namespace fednode
