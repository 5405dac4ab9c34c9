// End-to-end test of the Landkreis Gießen federation demo
// (deploy/county_demo.sh): 19 real fednode processes on loopback. Every
// number the demo prints is compared with a value computed here from the raw
// source files with a parser of the test's own.
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "node/base/testing/temp_dir.h"
#include "tests/support/process.h"

namespace fednode {
namespace {

using ::fednode::testing::ReadFileOrDie;
using ::fednode::testing::SourcePath;
using ::testing::HasSubstr;

struct Municipality {
  std::string ags;
  std::string name;
  int64_t population = 0;
  std::string urbanisation;
};

int64_t Digits(absl::string_view s) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d += c;
  }
  int64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(d, &v)) << s;
  return v;
}

// The 18 rows of Landkreis Gießen in the Destatis directory extract.
std::map<std::string, Municipality> ReadDirectory() {
  std::map<std::string, Municipality> out;
  std::string text =
      ReadFileOrDie(SourcePath("deploy/data/gemeindeverzeichnis/AuszugGV4QAktuell.csv"));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> head = absl::StrSplit(line, absl::MaxSplits(',', 7));
    if (head.size() < 8 || head[0] != "60" || head[2] != "06" || head[3] != "5" ||
        head[4] != "31") {
      continue;
    }
    Municipality m;
    m.ags = absl::StrCat("06531", head[6]);
    std::string rest = head[7];
    if (!rest.empty() && rest[0] == '"') {
      size_t end = rest.find('"', 1);
      m.name = rest.substr(1, end - 1);
      rest = rest.substr(end + 2);
    } else {
      m.name = rest.substr(0, rest.find(','));
      rest = rest.substr(rest.find(',') + 1);
    }
    std::vector<std::string> f = absl::StrSplit(rest, ',');
    m.population = Digits(f[1]);  // f[0] is the area
    m.urbanisation = std::string(absl::StripAsciiWhitespace(f.back()));
    out[m.ags] = m;
  }
  return out;
}

// The table row of `key` in fedctl's aggregate output: its cells, trimmed.
std::vector<std::string> Row(const std::string& block, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(block, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() > 1 && absl::StripAsciiWhitespace(cells[0]) == key) {
      for (auto& c : cells) c = std::string(absl::StripAsciiWhitespace(c));
      return cells;
    }
  }
  return {};
}

// The part of the demo output after the line containing `marker`.
std::string After(const std::string& text, const std::string& marker) {
  size_t pos = text.find(marker);
  return pos == std::string::npos ? "" : text.substr(pos);
}

// Per year (of the sampling day in local time) over the bathing waters of
// Heuchelheim, Hungen, Lich and Wettenberg in the HLUG file: measurements,
// measurements with a temperature, the highest temperature (-1: none) and
// the measurements at or above 24 °C.
struct BathingYear {
  int measurements = 0;
  int with_temperature = 0;
  int64_t max_temperature = -1;
  int at_least_24 = 0;
};
std::map<int, BathingYear> ReadBathingWaters() {
  const nlohmann::json lakes = nlohmann::json::parse(
      ReadFileOrDie(SourcePath("deploy/data/hessen/badeseen_hlug_2015.json")));
  absl::TimeZone berlin;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  std::map<int, BathingYear> out;
  for (const auto& lake : lakes) {
    const std::string city = lake.value("city", "");
    if (city != "Heuchelheim" && city != "Hungen" && city != "Lich" && city != "Wettenberg") {
      continue;
    }
    for (const auto& m : lake["measurements"]) {
      absl::Time t;
      std::string err;
      EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, m["date"].get<std::string>(), &t, &err))
          << err;
      BathingYear& y = out[static_cast<int>(absl::ToCivilYear(t, berlin).year())];
      ++y.measurements;
      if (!m.contains("waterTemperature") || m["waterTemperature"].is_null()) continue;
      const int64_t temp = m["waterTemperature"].get<int64_t>();
      ++y.with_temperature;
      y.max_temperature = std::max(y.max_temperature, temp);
      if (temp >= 24) ++y.at_least_24;
    }
  }
  return out;
}

TEST(CountyDemoTest, RegionalStatisticsEqualTheSourceFiles) {
  std::map<std::string, Municipality> dir = ReadDirectory();
  ASSERT_EQ(dir.size(), 18u);
  int64_t total = 0;
  std::map<std::string, std::pair<int, int64_t>> by_class;
  for (const auto& [ags, m] : dir) {
    total += m.population;
    by_class[m.urbanisation].first += 1;
    by_class[m.urbanisation].second += m.population;
  }
  EXPECT_EQ(total, 270688);  // Landkreis Gießen, 31.12.2019, as the file gives it

  fednode::testing::TempDir dir_;
  // The demo listens on fixed loopback ports; derive a base from the pid so
  // parallel runs on one machine do not collide.
  setenv("DEMO_PORT_BASE", absl::StrCat(20000 + (getpid() % 2000) * 20).c_str(), 1);
  fednode::testing::RunResult r = fednode::testing::Run(
      {"/bin/bash", SourcePath("deploy/county_demo.sh"), FEDNODE_BUILD_DIR, dir_.File("run")},
      absl::Seconds(240));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string& out = r.out;
  EXPECT_THAT(out, HasSubstr("signed by   06531, 06531001"));
  EXPECT_THAT(out, HasSubstr("missing     nobody"));

  // Population per municipality and for the county.
  std::string pop = After(out, "--by-member");
  EXPECT_THAT(pop, HasSubstr("complete: all 18 members answered (100.00 % of the population)"));
  for (const auto& [ags, m] : dir) {
    std::vector<std::string> row = Row(pop, ags);
    ASSERT_GE(row.size(), 4u) << ags;
    EXPECT_EQ(row[2], absl::StrCat(m.population)) << ags << " " << m.name;
  }
  std::vector<std::string> tot = Row(pop, "Total");
  ASSERT_GE(tot.size(), 3u);
  EXPECT_EQ(tot[2], absl::StrCat(total));

  // Population by urbanisation class: classes of fewer than 3 municipalities
  // are suppressed, and a second cell with them.
  std::string cls = After(out, "--threshold-in-members");
  for (const auto& [name, count_pop] : by_class) {
    std::vector<std::string> row = Row(cls, name);
    ASSERT_GE(row.size(), 4u) << name;
    if (count_pop.first < 3) {
      EXPECT_EQ(row[3], "(p)") << name;
    } else if (row[3] != "(s)") {
      EXPECT_EQ(row[2], absl::StrCat(count_pop.first)) << name;
      EXPECT_EQ(row[3], absl::StrCat(count_pop.second)) << name;
    }
  }
  int suppressed = 0;
  for (absl::string_view line : absl::StrSplit(cls.substr(0, cls.find("(p) primary")), '\n')) {
    if (absl::StrContains(line, "(p)") || absl::StrContains(line, "(s)")) ++suppressed;
  }
  EXPECT_GE(suppressed, 2);
  EXPECT_EQ(Row(cls, "Total").size() > 3 ? Row(cls, "Total")[3] : "", absl::StrCat(total));

  // The federation catalog: the county harvested all 18 members and finds
  // the four members' bathing waters, the measurements under its aggregate
  // grant; Lich finds Gießen's two car parks under its aggregate grant.
  std::string fedcat = After(out, "--refresh Badegewässer");
  fedcat = fedcat.substr(0, fedcat.find("--refresh Parkhaus"));
  for (const auto& [ags, m] : dir) {
    EXPECT_THAT(fedcat, ::testing::ContainsRegex(absl::StrCat(ags, " .* ok +[0-9]+ +0 +1 +full")))
        << ags;
  }
  EXPECT_THAT(fedcat, HasSubstr("(8 datasets)"));
  for (const char* lake_ags : {"06531007", "06531008", "06531011", "06531018"}) {
    EXPECT_THAT(fedcat, ::testing::ContainsRegex(absl::StrCat(
                            lake_ags, " .* badeseen_measurements .* aggregate +federation")));
  }
  std::string parking = After(out, "--refresh Parkhaus");
  EXPECT_THAT(parking, ::testing::ContainsRegex(
                           "06531005 .* parkhaus_am_bahnhof .* aggregate +federation .* 21427"));
  EXPECT_THAT(parking, HasSubstr("(2 datasets)"));

  // Bathing waters: per year the highest water temperature and the
  // measurements at or above 24 °C, over the four members that have bathing
  // waters; the other 14 are named as holding none, and the result is still
  // complete.
  std::map<int, BathingYear> bathing = ReadBathingWaters();
  ASSERT_EQ(bathing.size(), 8u);  // 2008..2015
  std::string bw = After(out, "max_wassertemperatur FROM");
  EXPECT_THAT(bw.substr(0, bw.find('\n', bw.find('\n') + 1)),
              HasSubstr("complete: all 18 members answered (100.00 % of the population); 14 hold "
                        "no such dataset: 06531001 Allendorf (Lumda), Stadt;"));
  std::string bw24 = After(out, "messungen_ab_24_grad FROM");
  int total_measurements = 0;
  int total_24 = 0;
  for (const auto& [year, y] : bathing) {
    std::vector<std::string> row = Row(bw, absl::StrCat(year));
    ASSERT_EQ(row.size(), 5u) << year;
    EXPECT_EQ(row[2], absl::StrCat(y.measurements)) << year;
    EXPECT_EQ(row[3], absl::StrCat(y.with_temperature)) << year;
    EXPECT_EQ(row[4], y.max_temperature < 0 ? "NULL" : absl::StrCat(y.max_temperature)) << year;
    std::vector<std::string> row24 = Row(bw24, absl::StrCat(year));
    if (y.at_least_24 == 0) {
      EXPECT_TRUE(row24.empty()) << year;
    } else {
      ASSERT_EQ(row24.size(), 3u) << year;
      EXPECT_EQ(row24[2], absl::StrCat(y.at_least_24)) << year;
    }
    total_measurements += y.measurements;
    total_24 += y.at_least_24;
  }
  EXPECT_EQ(total_measurements, 197);  // 36 + 38 + 42 + 81 imported, as printed
  EXPECT_EQ(Row(bw, "Total").at(2), absl::StrCat(total_measurements));
  EXPECT_EQ(Row(bw24, "Total").at(2), absl::StrCat(total_24));

  // A member down: the result is partial, names it, and states the share.
  std::string partial = After(out, "is stopped");
  const Municipality& gruenberg = dir.at("06531006");
  char share[32];
  std::snprintf(
      share, sizeof share, "%.2f %%",
      100.0 * static_cast<double>(total - gruenberg.population) / static_cast<double>(total));
  EXPECT_THAT(partial, HasSubstr(absl::StrCat("partial: 17 of 18 members answered (", share)));
  EXPECT_THAT(partial, HasSubstr("missing: 06531006 Grünberg, Stadt (unreachable"));
  std::vector<std::string> prow;
  for (absl::string_view line : absl::StrSplit(partial, '\n')) {
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() == 3 && absl::StripAsciiWhitespace(cells[0]) == "17") {
      prow = {std::string(absl::StripAsciiWhitespace(cells[1]))};
    }
  }
  ASSERT_EQ(prow.size(), 1u) << partial;
  EXPECT_EQ(prow[0], absl::StrCat(total - gruenberg.population));

  // Restarted, the member is reached again without restarting the county,
  // and the county-wide total is complete once more.
  std::string back = After(out, "is started again");
  EXPECT_THAT(back, HasSubstr("reconnected after"));
  char alone_share[32];
  std::snprintf(alone_share, sizeof alone_share, "%.2f %%",
                100.0 * static_cast<double>(gruenberg.population) / static_cast<double>(total));
  EXPECT_THAT(back, HasSubstr(absl::StrCat("partial: 1 of 18 members answered (", alone_share,
                                           " of the population); missing: 17 members not asked")));
  EXPECT_THAT(back, HasSubstr(absl::StrCat("\n 1 |     ", gruenberg.population, " |")));
  EXPECT_THAT(back, HasSubstr("complete: all 18 members answered (100.00 % of the population)"));
  EXPECT_THAT(back, HasSubstr(absl::StrCat(" 18 |    ", total, " |")));

  // The county stored the disclosure-controlled result and publishes it: the
  // stored dataset keeps the suppression marks, and its DCAT-AP.de export
  // passes the official shapes.
  EXPECT_THAT(out, HasSubstr("bevoelkerung_verstaedterung  Bevölkerung nach Verstädterungsgrad"));
  EXPECT_THAT(out, HasSubstr("| primary"));
  EXPECT_THAT(out, HasSubstr("| secondary"));
  EXPECT_THAT(out, HasSubstr(absl::StrCat("| grand |   18 |    ", total)));
  fednode::testing::RunResult v =
      fednode::testing::Run({"/bin/sh", SourcePath("tests/dcat-ap-de/run_validator.sh"),
                             dir_.File("run/county_catalog.ttl")},
                            absl::Seconds(240));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_THAT(v.out, HasSubstr("0 violations"));

  // Lich's aggregate request is answered, the row-level one refused and
  // audited at Gießen.
  // (fedctl writes the origin line and refusals to stderr.)
  EXPECT_THAT(r.err, HasSubstr("released under grant lich-parkhaus-giessen"));
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED: member 06531005: no grant for 06531011"));
  EXPECT_THAT(out, HasSubstr("DENY   parkhaus_am_bahnhof"));
  EXPECT_THAT(out, HasSubstr("audit log intact"));
}

}  // namespace
}  // namespace fednode
