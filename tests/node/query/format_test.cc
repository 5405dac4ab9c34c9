#include "node/query/format.h"

#include <string>

#include "gtest/gtest.h"

#include "node/base/table.h"

namespace fednode::query {
namespace {

namespace sv1 = storage::v1;

v1::ResultSet Sample() {
  v1::ResultSet r;
  auto col = [&](const char* name, sv1::ColumnType t) {
    auto* c = r.add_columns();
    c->set_name(name);
    c->set_type(t);
  };
  col("name", sv1::COLUMN_TYPE_STRING);
  col("n", sv1::COLUMN_TYPE_INT64);
  col("mittel", sv1::COLUMN_TYPE_DOUBLE);
  col("tag", sv1::COLUMN_TYPE_DATE);
  col("zeit", sv1::COLUMN_TYPE_TIMESTAMP);
  col("ok", sv1::COLUMN_TYPE_BOOL);
  int64_t day = 0;
  CivilDayToDays(2024, 1, 31, &day);
  auto* row = r.add_rows();
  row->add_values()->set_string_value("Gießen");
  row->add_values()->set_int64_value(1234);
  row->add_values()->set_double_value(72.549999999999997);
  row->add_values()->set_date_days(day);
  row->add_values()->set_timestamp_micros(day * 86400000000 + 8 * 3600000000LL + 500000);
  row->add_values()->set_bool_value(true);
  row = r.add_rows();
  row->add_values()->set_string_value("Say \"hi\", \"Ölbach\"");
  row->add_values()->set_null_value(true);
  row->add_values()->set_double_value(126.42130000001);
  row->add_values()->set_null_value(true);
  row->add_values()->set_null_value(true);
  row->add_values()->set_bool_value(false);
  return r;
}

TEST(FormatResultTest, TableAlignsByCodePointsAndRightAlignsNumbers) {
  EXPECT_EQ(
      FormatResult(Sample(), Format::kTable),
      " name               | n    | mittel   | tag        | zeit                       | ok\n"
      "--------------------+------+----------+------------+----------------------------+-------\n"
      " Gießen             | 1234 |    72.55 | 2024-01-31 | 2024-01-31T08:00:00.500000 | true\n"
      " Say \"hi\", \"Ölbach\" | NULL | 126.4213 | NULL       | NULL                       | "
      "false\n"
      "(2 rows)\n");
}

TEST(FormatResultTest, CsvQuotesPerRfc4180) {
  EXPECT_EQ(FormatResult(Sample(), Format::kCsv),
            "name,n,mittel,tag,zeit,ok\r\n"
            "Gießen,1234,72.55,2024-01-31,2024-01-31T08:00:00.500000,true\r\n"
            "\"Say \"\"hi\"\", \"\"Ölbach\"\"\",,126.4213,,,false\r\n");
}

TEST(FormatResultTest, JsonIsAnArrayOfObjects) {
  EXPECT_EQ(FormatResult(Sample(), Format::kJson),
            "[\n"
            "{\"name\":\"Gießen\",\"n\":1234,\"mittel\":72.55,\"tag\":\"2024-01-31\","
            "\"zeit\":\"2024-01-31T08:00:00.500000\",\"ok\":true},\n"
            "{\"name\":\"Say \\\"hi\\\", \\\"Ölbach\\\"\",\"n\":null,\"mittel\":126.4213,"
            "\"tag\":null,\"zeit\":null,\"ok\":false}\n"
            "]\n");
  v1::ResultSet empty;
  empty.add_columns()->set_name("x");
  EXPECT_EQ(FormatResult(empty, Format::kJson), "[]\n");
  EXPECT_EQ(FormatResult(empty, Format::kTable), " x\n---\n(0 rows)\n");
}

TEST(FormatResultTest, DoublesUseTenSignificantDigitsWithoutExponent) {
  auto fmt = [](double d) {
    v1::Value v;
    v.set_double_value(d);
    return FormatValue(v);
  };
  EXPECT_EQ(fmt(72.549999999999997), "72.55");
  EXPECT_EQ(fmt(0.1 + 0.2), "0.3");
  EXPECT_EQ(fmt(3.0), "3");
  EXPECT_EQ(fmt(-1.5), "-1.5");
  EXPECT_EQ(fmt(1234567890123.0), "1234567890123");
  EXPECT_EQ(fmt(0.000123456789012), "0.000123456789");
  EXPECT_EQ(fmt(2.5e20), "2.5e+20");
  EXPECT_EQ(fmt(0.0), "0");
}

}  // namespace
}  // namespace fednode::query
