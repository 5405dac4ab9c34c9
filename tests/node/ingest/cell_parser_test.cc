#include "node/ingest/cell_parser.h"

#include "gtest/gtest.h"

#include "node/ingest/charset.h"

namespace fednode::ingest {
namespace {

TEST(CellParserTest, Int64GroupingAndRange) {
  NumberFormat dot;
  dot.thousands_dot = true;
  int64_t v = 0;
  EXPECT_EQ(ParseInt64("1.234.567", dot, &v), NumberResult::kOk);
  EXPECT_EQ(v, 1234567);
  EXPECT_EQ(ParseInt64("1.23", dot, &v), NumberResult::kSyntax);
  EXPECT_EQ(ParseInt64("1234.567", dot, &v), NumberResult::kSyntax);
  EXPECT_EQ(ParseInt64(".123", dot, &v), NumberResult::kSyntax);
  EXPECT_EQ(ParseInt64("", dot, &v), NumberResult::kSyntax);
  EXPECT_EQ(ParseInt64("-", dot, &v), NumberResult::kSyntax);
  EXPECT_EQ(ParseInt64("99999999999999999999", dot, &v), NumberResult::kOverflow);
  EXPECT_EQ(ParseInt64("1.2e3", NumberFormat(), &v), NumberResult::kSyntax);
}

TEST(CellParserTest, DoubleRejectsNonFiniteWords) {
  double d = 0;
  EXPECT_EQ(ParseDouble("inf", NumberFormat(), &d), NumberResult::kSyntax);
  EXPECT_EQ(ParseDouble("nan", NumberFormat(), &d), NumberResult::kSyntax);
  EXPECT_EQ(ParseDouble("1,5", NumberFormat(), &d), NumberResult::kSyntax);
  NumberFormat comma;
  comma.decimal = ',';
  EXPECT_EQ(ParseDouble("-1,5", comma, &d), NumberResult::kOk);
  EXPECT_DOUBLE_EQ(d, -1.5);
  EXPECT_EQ(ParseDouble(",5", comma, &d), NumberResult::kOk);
  EXPECT_DOUBLE_EQ(d, 0.5);
}

TEST(CellParserTest, DatesAndLeapYears) {
  ParsedDateTime p;
  EXPECT_TRUE(ParseDateTime("29.02.2024", DateFormat::kAuto, &p));
  EXPECT_FALSE(ParseDateTime("29.02.2023", DateFormat::kAuto, &p));
  EXPECT_FALSE(ParseDateTime("2023-13-01", DateFormat::kAuto, &p));
  EXPECT_TRUE(ParseDateTime("1.1.2023", DateFormat::kDe, &p));
  EXPECT_FALSE(ParseDateTime("2023-01-01", DateFormat::kDe, &p));
  EXPECT_TRUE(ParseDateTime("20231229", DateFormat::kYyyymmdd, &p));
  EXPECT_EQ(FormatDate(p.days), "2023-12-29");
  EXPECT_TRUE(ParseDateTime("2023-10-24T19:50:00+02:00", DateFormat::kIso, &p));
  EXPECT_TRUE(p.has_zone);
  EXPECT_EQ(p.offset_seconds, 7200);
}

TEST(CharsetTest, ColumnNamesAreLowerSnakeAscii) {
  EXPECT_EQ(NormalizeColumnName("Fläche km²"), "flaeche_km");
  EXPECT_EQ(NormalizeColumnName(" Nr "), "nr");
  EXPECT_EQ(NormalizeColumnName("A1+A2"), "a1_a2");
  EXPECT_EQ(NormalizeColumnName("Straße/Größe"), "strasse_groesse");
  EXPECT_EQ(NormalizeColumnName("Übersicht Öl"), "uebersicht_oel");
  EXPECT_EQ(NormalizeColumnName("Café"), "cafe");
  EXPECT_EQ(NormalizeColumnName("2020"), "c_2020");
  EXPECT_EQ(NormalizeColumnName("---"), "");
}

}  // namespace
}  // namespace fednode::ingest
