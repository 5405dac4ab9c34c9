// End-to-end tests of the real binaries: a fednode process for Stadt Gießen
// (AGS 06531005) driven by fedctl over its admin socket, on the real files in
// deploy/data. Every expected number is computed here from the raw files with
// a deliberately simple parser of its own, not with node/ingest.
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/temp_dir.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::OutputLines;
using ::fednode::testing::ReadFileOrDie;
using ::fednode::testing::RunResult;
using ::fednode::testing::SourcePath;
using ::testing::HasSubstr;

int64_t ToInt(absl::string_view s) {
  std::string digits = absl::StrReplaceAll(s, {{".", ""}, {" ", ""}});
  int64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(digits, &v)) << "not a number: " << s;
  return v;
}

// Parses fedctl's CSV output (no quoted fields expected in these results).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& line : OutputLines(text)) rows.push_back(absl::StrSplit(line, ','));
  return rows;
}

class GiessenNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fednode_ = FEDNODE_BIN;
    fedctl_ = FEDCTL_BIN;
    // Unix socket paths are limited to 108 bytes: keep it short.
    socket_ = absl::StrCat("/tmp/fednode-e2e-", getpid(), "-", counter_++, ".sock");
    config_ = WriteConfig(dir_.File("data"), socket_, "node.textproto");
    node_ = std::make_unique<fednode::testing::NodeProcess>(fednode_, config_,
                                                            dir_.File("fednode.log"));
    ASSERT_TRUE(node_->Start({fedctl_, "--socket", socket_, "status"})) << node_->Log();
  }

  void TearDown() override {
    if (node_ != nullptr && node_->running()) {
      EXPECT_EQ(node_->Stop(SIGTERM), 0) << "SIGTERM must drain and exit 0\n" << node_->Log();
    }
  }

  std::string WriteConfig(const std::string& data_dir, const std::string& socket,
                          const std::string& name) {
    std::string path = dir_.File(name);
    std::ofstream out(path);
    out << "member_ags: \"06531005\"\n"
        << "member_name: \"Gießen, Universitätsstadt\"\n"
        << "data_dir: \"" << data_dir << "\"\n"
        << "admin_socket: \"" << socket << "\"\n"
        << "catalog_base_uri: \"https://daten.giessen.de/fednode\"\n"
        << "publisher { name: \"Universitätsstadt Gießen\" uri: \"https://www.giessen.de\" "
           "contact_name: \"Statistikstelle\" contact_email: \"statistik@giessen.de\" "
           "contributor_id: \"http://dcat-ap.de/def/contributors/hessen\" }\n";
    return path;
  }

  RunResult Fedctl(std::vector<std::string> args) {
    args.insert(args.begin(), {fedctl_, "--socket", socket_});
    return fednode::testing::Run(args);
  }

  // Imports like deploy/demo.sh does; fails the test on error.
  void Import(const std::string& dataset, const std::string& spec, const std::string& metadata,
              const std::string& file) {
    RunResult r = Fedctl({"import", "--dataset", dataset, "--schema", SourcePath(spec),
                          "--metadata", SourcePath(metadata), file});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  std::vector<std::vector<std::string>> QueryCsv(const std::string& sql) {
    RunResult r = Fedctl({"query", "--format", "csv", sql});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseCsv(r.out);
  }

  fednode::testing::TempDir dir_;
  std::string fednode_, fedctl_, socket_, config_;
  std::unique_ptr<fednode::testing::NodeProcess> node_;
  static inline int counter_ = 0;
};

TEST_F(GiessenNodeTest, ElectionTotalsEqualTheSourceFile) {
  const std::string file =
      SourcePath("deploy/data/giessen/wahlen/Bundestagswahl-Ergebnisse_2013.CSV");
  Import("bundestagswahl_2013", "deploy/specs/bundestagswahl_2013.textproto",
         "deploy/giessen/metadata/bundestagswahl_2013.textproto", file);

  // Independent: lines 4..77 are the 74 districts; fields by position (0-based):
  // 4 = A1+A2, 5 = B, 9 = D, 11 + 2k = F(k+1).
  std::vector<std::string> lines = OutputLines(ReadFileOrDie(file));
  ASSERT_GE(lines.size(), 78u);
  std::map<int, int64_t> sums;
  for (size_t i = 3; i < 77; ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ';');
    for (int col : {4, 5, 9, 11, 13, 15, 17, 19, 31}) sums[col] += ToInt(f[col]);
  }
  EXPECT_EQ(sums[4], 56868);  // published: 56,868 eligible voters
  EXPECT_EQ(sums[5], 39158);  // published: 39,158 voters

  auto rows = QueryCsv(
      "SELECT SUM(a1_a2), SUM(b), SUM(d), SUM(f1), SUM(f2), SUM(f3), SUM(f4), SUM(f5), SUM(f11), "
      "COUNT(*) FROM bundestagswahl_2013");
  ASSERT_EQ(rows.size(), 2u);
  const std::vector<int> cols = {4, 5, 9, 11, 13, 15, 17, 19, 31};
  for (size_t k = 0; k < cols.size(); ++k) {
    EXPECT_EQ(ToInt(rows[1][k]), sums[cols[k]]) << "column " << rows[0][k];
  }
  EXPECT_EQ(rows[1][9], "74");
}

TEST_F(GiessenNodeTest, MeanOccupancyPerHourEqualsTheSourceFile) {
  const std::string file = SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv");
  Import("parkhaus_rathaus", "deploy/specs/parkhaus_rathaus.textproto",
         "deploy/giessen/metadata/parkhaus_rathaus.textproto", file);

  // Independent: "2023-10-24T19:50:00,171,79,250" -> hour 19, occupied 79.
  std::map<int, std::pair<double, int>> per_hour;
  std::vector<std::string> lines = OutputLines(ReadFileOrDie(file));
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ',');
    int hour = std::stoi(f[0].substr(11, 2));
    per_hour[hour].first += static_cast<double>(ToInt(f[2]));
    per_hour[hour].second += 1;
  }
  auto rows = QueryCsv(
      "SELECT EXTRACT(hour FROM timestamp) AS h, AVG(occupied_spaces) AS avg_occ, COUNT(*) AS n "
      "FROM parkhaus_rathaus GROUP BY h ORDER BY h");
  ASSERT_EQ(rows.size(), per_hour.size() + 1);
  size_t i = 1;
  for (const auto& [hour, acc] : per_hour) {
    EXPECT_EQ(rows[i][0], absl::StrCat(hour));
    double got = 0;
    ASSERT_TRUE(absl::SimpleAtod(rows[i][1], &got));
    EXPECT_NEAR(got, acc.first / acc.second, 1e-6 * (acc.first / acc.second)) << "hour " << hour;
    EXPECT_EQ(rows[i][2], absl::StrCat(acc.second));
    ++i;
  }
}

TEST_F(GiessenNodeTest, MunicipalityRecordKeepsPopulationAreaAndLeadingZeros) {
  // Gießen's row of the directory, found with a plain split (the AGS fields
  // precede any quoted field): land 06, rb 5, kreis 31, gemeinde 005.
  std::string all =
      ReadFileOrDie(SourcePath("deploy/data/gemeindeverzeichnis/AuszugGV4QAktuell.csv"));
  std::vector<std::string> lines = OutputLines(all);
  std::string extract = lines[0] + "\n";
  std::string row;
  for (const auto& l : lines) {
    std::vector<std::string> f = absl::StrSplit(l, ',');
    if (f.size() > 7 && f[0] == "60" && f[2] == "06" && f[3] == "5" && f[4] == "31" &&
        f[6] == "005") {
      row = l;
    }
  }
  ASSERT_FALSE(row.empty());
  extract += row;  // no final newline, like the source file
  std::string path = dir_.File("gemeindeverzeichnis_06531005.csv");
  std::ofstream(path, std::ios::binary) << extract;
  Import("gemeindeverzeichnis", "deploy/specs/gemeindeverzeichnis.textproto",
         "deploy/giessen/metadata/gemeindeverzeichnis.textproto", path);

  // "60,63,06,5,31,0005,005,"Gießen, Universitätsstadt", 72.55, 89 802, ..."
  std::vector<std::string> quoted = absl::StrSplit(row, "\",");
  std::vector<std::string> f = absl::StrSplit(quoted[1], ',');
  const std::string area = std::string(absl::StripAsciiWhitespace(f[0]));
  const int64_t population = ToInt(f[1]);
  EXPECT_EQ(population, 89802);

  // Expressions are outside the SQL subset: the error names the construct.
  RunResult bad = Fedctl({"query", "SELECT maennlich + 0 FROM gemeindeverzeichnis"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("INVALID_ARGUMENT"));

  auto rows = QueryCsv(
      "SELECT land, rb, kreis, gemeinde, vb, flaeche, bevoelkerung, maennlich, weiblich, "
      "postleitzahl FROM gemeindeverzeichnis WHERE gemeindename LIKE 'Gie_en%'");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][0], "06");
  EXPECT_EQ(rows[1][1], "5");
  EXPECT_EQ(rows[1][2], "31");
  EXPECT_EQ(rows[1][3], "005");
  EXPECT_EQ(rows[1][4], "0005");
  EXPECT_EQ(rows[1][5], area);
  EXPECT_EQ(ToInt(rows[1][6]), population);
  EXPECT_EQ(ToInt(rows[1][7]) + ToInt(rows[1][8]), population);
  EXPECT_EQ(rows[1][9], "35390");
}

TEST_F(GiessenNodeTest, BadCellStopsTheImportNamesLineColumnValueAndKeepsTheOldVersion) {
  const std::string file = SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv");
  Import("parkhaus_rathaus", "deploy/specs/parkhaus_rathaus.textproto",
         "deploy/giessen/metadata/parkhaus_rathaus.textproto", file);

  std::vector<std::string> lines = OutputLines(ReadFileOrDie(file));
  std::vector<std::string> f = absl::StrSplit(lines[999], ',');  // physical line 1000
  f[2] = "7x";
  lines[999] = absl::StrJoin(f, ",");
  std::string bad_path = dir_.File("rathaus_bad.csv");
  std::ofstream(bad_path, std::ios::binary) << absl::StrJoin(lines, "\n") << "\n";

  RunResult r = Fedctl({"import", "--dataset", "parkhaus_rathaus", "--schema",
                        SourcePath("deploy/specs/parkhaus_rathaus.textproto"), bad_path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("rathaus_bad.csv:1000"));
  EXPECT_THAT(r.err, HasSubstr("occupied_spaces"));
  EXPECT_THAT(r.err, HasSubstr("\"7x\""));

  // Nothing of the failed import is stored: the first version is intact.
  auto rows = QueryCsv("SELECT COUNT(*), SUM(occupied_spaces) FROM parkhaus_rathaus");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][0], absl::StrCat(lines.size() - 1));

  // A new dataset from the bad file does not appear at all.
  r = Fedctl({"import", "--dataset", "parkhaus_neu", "--schema",
              SourcePath("deploy/specs/parkhaus_rathaus.textproto"), "--metadata",
              SourcePath("deploy/giessen/metadata/parkhaus_rathaus.textproto"), bad_path});
  EXPECT_EQ(r.exit_code, 1);
  RunResult cat = Fedctl({"catalog"});
  EXPECT_EQ(cat.exit_code, 0);
  EXPECT_THAT(cat.out, ::testing::Not(HasSubstr("parkhaus_neu")));
}

TEST_F(GiessenNodeTest, ReplacingWithTheSameFileIsIdempotent) {
  const std::string file = SourcePath("deploy/data/giessen/parkleitsystem/am_bahnhof.csv");
  Import("parkhaus_am_bahnhof", "deploy/specs/parkhaus_am_bahnhof.textproto",
         "deploy/giessen/metadata/parkhaus_am_bahnhof.textproto", file);
  RunResult r = Fedctl({"import", "--dataset", "parkhaus_am_bahnhof", "--schema",
                        SourcePath("deploy/specs/parkhaus_am_bahnhof.textproto"), file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("unchanged (same content as version 1"));
}

TEST_F(GiessenNodeTest, NewDatasetWithoutMetadataIsRefusedWithTheReason) {
  RunResult r = Fedctl({"import", "--dataset", "rathaus", "--schema",
                        SourcePath("deploy/specs/parkhaus_rathaus.textproto"),
                        SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--metadata"));
}

TEST_F(GiessenNodeTest, UnsupportedSqlNamesTheConstruct) {
  Import("bundestagswahl_2013", "deploy/specs/bundestagswahl_2013.textproto",
         "deploy/giessen/metadata/bundestagswahl_2013.textproto",
         SourcePath("deploy/data/giessen/wahlen/Bundestagswahl-Ergebnisse_2013.CSV"));
  RunResult r = Fedctl({"query",
                        "SELECT a.nr FROM bundestagswahl_2013 a JOIN landtagswahl_2013 b "
                        "ON a.nr = b.nr"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("JOIN"));
  r = Fedctl({"query", "SELECT nope FROM bundestagswahl_2013"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("nope"));
  r = Fedctl({"query", "SELECT * FROM gibt_es_nicht"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("NOT_FOUND"));
}

TEST_F(GiessenNodeTest, AcknowledgedImportSurvivesKillNineAndRestart) {
  Import("parkhaus_rathaus", "deploy/specs/parkhaus_rathaus.textproto",
         "deploy/giessen/metadata/parkhaus_rathaus.textproto",
         SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv"));
  EXPECT_EQ(node_->Stop(SIGKILL), -1);
  ASSERT_TRUE(node_->Start({fedctl_, "--socket", socket_, "status"})) << node_->Log();
  auto rows = QueryCsv("SELECT COUNT(*) FROM parkhaus_rathaus");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1][0], "21427");
}

TEST_F(GiessenNodeTest, SecondNodeOnTheSameDataDirectoryIsRefusedAtOnce) {
  std::string other_socket = socket_ + "2";
  std::string config = WriteConfig(dir_.File("data"), other_socket, "second.textproto");
  RunResult r = fednode::testing::Run({fednode_, "--config", config}, absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(dir_.File("data")));
}

TEST_F(GiessenNodeTest, BrokenConfigIsRefusedNamingTheField) {
  std::string path = dir_.File("broken.textproto");
  std::ofstream(path) << "member_ags: \"6531005\"\nmember_name: \"Gießen\"\ndata_dir: \"/x\"\n";
  RunResult r = fednode::testing::Run({fednode_, "--config", path, "--check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("member_ags"));
  std::ofstream(path) << "member_ags: \"06531005\"\nmember_nme: \"Gießen\"\n";
  r = fednode::testing::Run({fednode_, "--config", path, "--check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("member_nme"));
}

TEST_F(GiessenNodeTest, CatalogExportPassesTheDcatApDeShapes) {
  Import("parkhaus_rathaus", "deploy/specs/parkhaus_rathaus.textproto",
         "deploy/giessen/metadata/parkhaus_rathaus.textproto",
         SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv"));
  std::string all =
      ReadFileOrDie(SourcePath("deploy/data/gemeindeverzeichnis/AuszugGV4QAktuell.csv"));
  std::vector<std::string> lines = OutputLines(all);
  std::string extract = lines[0] + "\n";
  for (const auto& l : lines) {
    if (l.rfind("60,63,06,5,31,0005,005,", 0) == 0) extract += l + "\n";
  }
  std::string path = dir_.File("gv.csv");
  std::ofstream(path, std::ios::binary) << extract;
  Import("gemeindeverzeichnis", "deploy/specs/gemeindeverzeichnis.textproto",
         "deploy/giessen/metadata/gemeindeverzeichnis.textproto", path);

  for (const std::string format : {"turtle", "jsonld"}) {
    std::string out = dir_.File(format == "turtle" ? "catalog.ttl" : "catalog.jsonld");
    RunResult r = Fedctl({"catalog", "export", "--format", format, "-o", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string doc = ReadFileOrDie(out);
    EXPECT_THAT(doc, HasSubstr("Gemeindeverzeichnis – Universitätsstadt Gießen"));
    // Federation-only entries never leave through the public export.
    EXPECT_THAT(doc, ::testing::Not(HasSubstr("parkhaus_rathaus")));
    RunResult v = fednode::testing::Run(
        {"/bin/sh", SourcePath("tests/dcat-ap-de/run_validator.sh"), out}, absl::Seconds(240));
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_THAT(v.out, HasSubstr("0 violations"));
  }
}

TEST_F(GiessenNodeTest, AdminSocketPathThatIsARegularFileIsNeverRemoved) {
  std::string victim = dir_.File("victim.txt");
  std::ofstream(victim) << "important\n";
  std::string config = WriteConfig(dir_.File("other-data"), victim, "victim.textproto");
  RunResult r = fednode::testing::Run({fednode_, "--config", config}, absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("is not a socket"));
  EXPECT_EQ(ReadFileOrDie(victim), "important\n");
}

TEST_F(GiessenNodeTest, AdminSocketOfARunningNodeIsNotTakenOver) {
  std::string config = WriteConfig(dir_.File("other-data"), socket_, "thief.textproto");
  RunResult r = fednode::testing::Run({fednode_, "--config", config}, absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("in use by another running node"));
  EXPECT_EQ(Fedctl({"status"}).exit_code, 0);  // the first node still answers
}

TEST_F(GiessenNodeTest, ImportWithoutSchemaReusesTheDatasetsRecipe) {
  const std::string file = SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv");
  Import("parkhaus_rathaus", "deploy/specs/parkhaus_rathaus.textproto",
         "deploy/giessen/metadata/parkhaus_rathaus.textproto", file);
  RunResult r = Fedctl({"import", "--dataset", "parkhaus_rathaus", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("unchanged"));  // same bytes, same recipe
  r = Fedctl({"catalog", "show", "parkhaus_rathaus"});
  EXPECT_THAT(r.out, HasSubstr("primary key:  timestamp"));
  EXPECT_THAT(r.out, HasSubstr("urn:fednode:schema:parkhaus-belegung:v1"));
}

TEST_F(GiessenNodeTest, EveryAdminActionIsAudited) {
  Import("parkhaus_rathaus", "deploy/specs/parkhaus_rathaus.textproto",
         "deploy/giessen/metadata/parkhaus_rathaus.textproto",
         SourcePath("deploy/data/giessen/parkleitsystem/rathaus.csv"));
  EXPECT_EQ(Fedctl({"query", "SELECT COUNT(*) FROM parkhaus_rathaus"}).exit_code, 0);
  EXPECT_EQ(Fedctl({"query", "SELECT nope FROM parkhaus_rathaus"}).exit_code, 1);
  RunResult r = Fedctl({"audit", "tail", "-n", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("admin.Import"));
  EXPECT_THAT(r.out, HasSubstr("admin.Query"));
  EXPECT_THAT(r.out, HasSubstr("error"));
  r = Fedctl({"audit", "verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace fednode
