// Imports the real files under deploy/data with the specs in deploy/specs and
// checks figures computed independently (a trivially simple split in the
// test, or totals published by the source; see deploy/data/SOURCES.md).
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/ingest/importer.h"

namespace fednode::ingest {
namespace {

using ::fednode::testing::ReadFileOrDie;
using ::fednode::testing::SourcePath;

v1::ImportSpec LoadSpec(const std::string& name) {
  absl::StatusOr<v1::ImportSpec> spec =
      ParseSpecTextproto(ReadFileOrDie(SourcePath("deploy/specs/" + name)));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : v1::ImportSpec();
}

bool TrimmedEmpty(absl::string_view l) {
  return l.find_first_not_of(" \r\t") == absl::string_view::npos;
}

int64_t Int(const Table& t, absl::string_view col, size_t row) {
  return t.columns[t.ColumnIndex(col)].ints[row];
}

int64_t Sum(const Table& t, absl::string_view col) {
  int64_t s = 0;
  for (int64_t v : t.columns[t.ColumnIndex(col)].ints) s += v;
  return s;
}

// The numbers of one ';' line with '.' thousands separators, by a plain split.
std::vector<int64_t> PlainNumbers(absl::string_view line) {
  std::vector<int64_t> out;
  for (absl::string_view f : absl::StrSplit(line, ';')) {
    int64_t v = 0;
    out.push_back(absl::SimpleAtoi(absl::StrReplaceAll(f, {{".", ""}}), &v) ? v : -1);
  }
  return out;
}

TEST(RealDataTest, BundestagswahlGiessen2013MatchesPublishedTotals) {
  const std::string bytes =
      ReadFileOrDie(SourcePath("deploy/data/giessen/wahlen/Bundestagswahl-Ergebnisse_2013.CSV"));
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      auto out, Parse(bytes, SourceFormat::kCsv, LoadSpec("bundestagswahl_2013.textproto"),
                      "Bundestagswahl-Ergebnisse_2013.CSV"));
  ASSERT_EQ(out.size(), 1u);
  const Table& t = out[0].table;
  EXPECT_EQ(t.num_rows, 74u);
  // Published totals for Stadt Gießen (SOURCES.md): 56,868 eligible, 39,158 voters.
  EXPECT_EQ(Sum(t, "a1_a2"), 56868);
  EXPECT_EQ(Sum(t, "b"), 39158);
  EXPECT_EQ(Int(t, "nr", 0), 101);
  EXPECT_EQ(Int(t, "a1_a2", 0), 1132);
  EXPECT_EQ(t.columns[t.ColumnIndex("bereich")].StringAt(73), "Briefwahl");
  // The file's own total row (line 78, skipped by the spec) equals the sums.
  std::vector<std::string> lines = absl::StrSplit(bytes, "\r\n");
  ASSERT_GE(lines.size(), 78u);
  ASSERT_TRUE(absl::StartsWith(lines[77], ";Gesamt;"));
  std::vector<int64_t> total = PlainNumbers(lines[77]);
  ASSERT_EQ(total.size(), 43u);
  // Fields 3.. of the source are the columns a1 .. f16 of the spec.
  for (int field = 2; field < 42; ++field) {
    int col = field;  // nr, bereich, then one column per field
    EXPECT_EQ(Sum(t, t.schema.columns(col).name()), total[field]) << t.schema.columns(col).name();
  }
}

TEST(RealDataTest, LandtagswahlGiessen2013SumsEqualTheTotalRow) {
  const std::string bytes =
      ReadFileOrDie(SourcePath("deploy/data/giessen/wahlen/Landtagswahl-Ergebnisse_2013.CSV"));
  FEDNODE_ASSERT_OK_AND_ASSIGN(auto out, Parse(bytes, SourceFormat::kCsv,
                                               LoadSpec("landtagswahl_2013.textproto"), "lt.csv"));
  const Table& t = out[0].table;
  EXPECT_EQ(t.num_rows, 74u);
  std::vector<std::string> lines = absl::StrSplit(bytes, "\r\n");
  std::vector<int64_t> total = PlainNumbers(lines[77]);
  ASSERT_EQ(total.size(), 49u);
  for (int field = 2; field < 48; ++field) {
    EXPECT_EQ(Sum(t, t.schema.columns(field).name()), total[field])
        << t.schema.columns(field).name();
  }
  EXPECT_EQ(Sum(t, "a1_a2"), 56377);
}

TEST(RealDataTest, GiessenElectionFilesImportWithAutoEncoding) {
  // Windows-1252/ISO-8859-1 without any UTF-8 sequence: not "mixed".
  for (const char* name : {"bundestagswahl_2013.textproto", "landtagswahl_2013.textproto"}) {
    v1::ImportSpec spec = LoadSpec(name);
    spec.mutable_csv()->clear_encoding();
    const std::string file = absl::StrContains(name, "bundes")
                                 ? "Bundestagswahl-Ergebnisse_2013.CSV"
                                 : "Landtagswahl-Ergebnisse_2013.CSV";
    const std::string bytes = ReadFileOrDie(SourcePath("deploy/data/giessen/wahlen/" + file));
    FEDNODE_ASSERT_OK_AND_ASSIGN(auto out, Parse(bytes, SourceFormat::kCsv, spec, file));
    EXPECT_EQ(out[0].table.num_rows, 74u) << file;
  }
}

void CheckParkhaus(const std::string& file) {
  const std::string bytes = ReadFileOrDie(SourcePath("deploy/data/giessen/parkleitsystem/" + file));
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      auto out, Parse(bytes, SourceFormat::kCsv, LoadSpec("parkhaus_rathaus.textproto"), file));
  const Table& t = out[0].table;
  // Independent: every line after the header that is not empty is a row.
  size_t lines = 0;
  for (absl::string_view l : absl::StrSplit(bytes, '\n')) lines += !TrimmedEmpty(l);
  EXPECT_EQ(t.num_rows, lines - 1);
  EXPECT_EQ(t.num_rows, 21427u);
  for (size_t r = 0; r < t.num_rows; ++r) {
    ASSERT_EQ(Int(t, "free_spaces", r) + Int(t, "occupied_spaces", r), Int(t, "max_spaces", r))
        << "row " << r;
  }
  EXPECT_EQ(FormatTimestamp(Int(t, "timestamp", 0)), "2023-10-24T19:50:00");
  EXPECT_EQ(FormatTimestamp(Int(t, "timestamp", t.num_rows - 1)), "2024-12-28T12:56:00");
}

TEST(RealDataTest, ParkhausRathausRowsAddUp) { CheckParkhaus("rathaus.csv"); }
TEST(RealDataTest, ParkhausAmBahnhofRowsAddUp) { CheckParkhaus("am_bahnhof.csv"); }

TEST(RealDataTest, GemeindeverzeichnisKeepsLastRowAndLeadingZeros) {
  const std::string bytes =
      ReadFileOrDie(SourcePath("deploy/data/gemeindeverzeichnis/AuszugGV4QAktuell.csv"));
  ASSERT_NE(bytes.back(), '\n');  // the file has no final newline
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      auto out, Parse(bytes, SourceFormat::kCsv, LoadSpec("gemeindeverzeichnis.textproto"),
                      "AuszugGV4QAktuell.csv"));
  const Table& t = out[0].table;
  EXPECT_EQ(t.num_rows, 16068u);
  const Column& satzart = t.columns[t.ColumnIndex("satzart")];
  const Column& land = t.columns[t.ColumnIndex("land")];
  int hessen = 0;
  for (size_t r = 0; r < t.num_rows; ++r) {
    hessen += satzart.StringAt(r) == "60" && land.StringAt(r) == "06";
  }
  EXPECT_EQ(hessen, 426);
  // Last row (no final newline): Schmölln, Stadt.
  const Column& name = t.columns[t.ColumnIndex("gemeindename")];
  EXPECT_EQ(name.StringAt(t.num_rows - 1), "Schmölln, Stadt");
  EXPECT_EQ(Int(t, "bevoelkerung", t.num_rows - 1), 13724);
  // Gießen, AGS 06531005.
  bool found = false;
  for (size_t r = 0; r < t.num_rows; ++r) {
    auto s = [&](absl::string_view c) -> std::string {
      const Column& col = t.columns[t.ColumnIndex(c)];
      return col.IsNull(r) ? "" : col.StringAt(r);
    };
    if (s("satzart") != "60") continue;
    if (s("land") + s("rb") + s("kreis") + s("gemeinde") != "06531005") continue;
    found = true;
    EXPECT_EQ(s("gemeindename"), "Gießen, Universitätsstadt");
    EXPECT_EQ(Int(t, "bevoelkerung", r), 89802);
    EXPECT_EQ(Int(t, "maennlich", r) + Int(t, "weiblich", r), 89802);
    EXPECT_DOUBLE_EQ(t.columns[t.ColumnIndex("flaeche")].doubles[r], 72.55);
    EXPECT_DOUBLE_EQ(t.columns[t.ColumnIndex("laengengrad")].doubles[r], 8.674877);
    EXPECT_DOUBLE_EQ(t.columns[t.ColumnIndex("breitengrad")].doubles[r], 50.586195);
    EXPECT_EQ(s("postleitzahl"), "35390");
    EXPECT_EQ(s("vb"), "0005");
  }
  EXPECT_TRUE(found);
}

TEST(RealDataTest, GenesisHeaderAndFooterAreNotData) {
  const std::string bytes = ReadFileOrDie(SourcePath("deploy/data/genesis/12411-0018.csv"));
  // Inference finds the header (line 6, age groups) and the footer marker.
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, Infer(bytes, SourceFormat::kCsv,
                                                          "bevoelkerung_kreise", "12411-0018.csv"));
  EXPECT_EQ(spec.csv().delimiter(), ";");
  EXPECT_EQ(spec.csv().header_line(), 6);
  EXPECT_EQ(spec.csv().footer_marker(), "__________");
  EXPECT_EQ(spec.csv().encoding(), "iso-8859-1");
  ASSERT_EQ(spec.columns_size(), 37);
  EXPECT_EQ(spec.columns(0).column().type(), storage::v1::COLUMN_TYPE_DATE);
  EXPECT_EQ(spec.columns(1).column().type(), storage::v1::COLUMN_TYPE_STRING);  // 01001
  EXPECT_EQ(spec.columns(3).column().name(), "unter_3_jahre");
  EXPECT_EQ(spec.columns(20).column().name(), "unter_3_jahre_2");
  FEDNODE_ASSERT_OK_AND_ASSIGN(auto out, Parse(bytes, SourceFormat::kCsv, spec, "12411-0018.csv"));
  const Table& t = out[0].table;
  EXPECT_EQ(t.num_rows, 2407u);
  // Landkreis Gießen 06531 on 31.12.2020: 271,667 inhabitants (SOURCES.md).
  int64_t giessen = 0;
  const Column& ags = t.columns[1];
  for (size_t r = 0; r < t.num_rows; ++r) {
    if (ags.StringAt(r) != "06531" || FormatDate(t.columns[0].ints[r]) != "2020-12-31") continue;
    for (int c = 3; c < 37; ++c) giessen += t.columns[c].ints[r];
  }
  EXPECT_EQ(giessen, 271667);
}

TEST(RealDataTest, BadeseenLakesAndMeasurements) {
  const std::string bytes = ReadFileOrDie(SourcePath("deploy/data/hessen/badeseen_hlug_2015.json"));
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      auto out, Parse(bytes, SourceFormat::kJson, LoadSpec("badeseen.textproto"), "badeseen.json"));
  ASSERT_EQ(out.size(), 2u);
  const Table& lakes = out[0].table;
  const Table& m = out[1].table;
  EXPECT_EQ(out[1].dataset_id, "badeseen_measurements");
  EXPECT_EQ(lakes.num_rows, 65u);
  EXPECT_EQ(m.num_rows, 2521u);
  // Independent count of measurements: occurrences of the key in the text.
  size_t keys = 0;
  for (size_t p = bytes.find("\"waterTemperature\""); p != std::string::npos;
       p = bytes.find("\"waterTemperature\"", p + 1)) {
    ++keys;
  }
  EXPECT_EQ(m.num_rows, keys);
  const Column& url = lakes.columns[lakes.ColumnIndex("hlugurl")];
  std::vector<std::string> giessen;
  for (size_t r = 0; r < lakes.num_rows; ++r) {
    if (absl::StrContains(url.StringAt(r), "/giessen/")) {
      giessen.push_back(lakes.columns[lakes.ColumnIndex("name")].StringAt(r));
    }
  }
  EXPECT_THAT(giessen, ::testing::UnorderedElementsAre(
                           "Heuchelheimer See II", "Trais-Horloffer See", "Licher Waldschwimmbad",
                           "Launsbacher See", "Wißmarer See"));
  // First lake, first measurement: "2015-04-26T22:00:00.000Z" is 27 April
  // local time; 16 degC; E. coli "15" stays a string.
  EXPECT_EQ(FormatDate(m.columns[m.ColumnIndex("date")].ints[0]), "2015-04-27");
  EXPECT_EQ(m.columns[m.ColumnIndex("ordinal")].ints[0], 1);
  EXPECT_EQ(m.columns[m.ColumnIndex("water_temperature")].ints[0], 16);
  EXPECT_EQ(m.columns[m.ColumnIndex("escherichia_coli")].StringAt(0), "15");
  EXPECT_EQ(m.columns[m.ColumnIndex("enterococci")].StringAt(0), "<10");
  EXPECT_DOUBLE_EQ(lakes.columns[lakes.ColumnIndex("latitude")].doubles[0], 49.6867);
  size_t nulls = 0;
  const Column& temp = m.columns[m.ColumnIndex("water_temperature")];
  for (size_t r = 0; r < m.num_rows; ++r) nulls += temp.IsNull(r);
  EXPECT_EQ(nulls, 540u);
}

}  // namespace
}  // namespace fednode::ingest
