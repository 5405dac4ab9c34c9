#include "node/base/table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"

namespace fednode {
namespace {

using ::fednode::testing::IsOk;

TEST(ColumnBuilderTest, StringsAreDictionaryEncodedInFirstSeenOrder) {
  ColumnBuilder b(storage::v1::COLUMN_TYPE_STRING);
  b.AppendString("Gießen");
  b.AppendString("Lich");
  b.AppendNull();
  b.AppendString("Gießen");
  Column c = b.Finish();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_THAT(c.dict, ::testing::ElementsAre("Gießen", "Lich"));
  EXPECT_THAT(c.codes, ::testing::ElementsAre(0, 1, 0, 0));
  EXPECT_THAT(c.validity, ::testing::ElementsAre(1, 1, 0, 1));
  EXPECT_TRUE(c.IsNull(2));
  EXPECT_EQ(c.StringAt(3), "Gießen");
}

TEST(TableTest, ValidateRejectsNullInNonNullableColumn) {
  Table t;
  auto* col = t.schema.add_columns();
  col->set_name("ags");
  col->set_type(storage::v1::COLUMN_TYPE_STRING);
  col->set_nullable(false);
  ColumnBuilder b(storage::v1::COLUMN_TYPE_STRING);
  b.AppendNull();
  t.columns.push_back(b.Finish());
  t.num_rows = 1;
  EXPECT_FALSE(ValidateTable(t).ok());
  t.schema.mutable_columns(0)->set_nullable(true);
  EXPECT_THAT(ValidateTable(t), IsOk());
}

TEST(CalendarTest, DaysRoundTripAndRejectInvalidDates) {
  int64_t days = 0;
  ASSERT_TRUE(CivilDayToDays(2023, 12, 31, &days));
  EXPECT_EQ(days, 19722);
  EXPECT_EQ(FormatDate(days), "2023-12-31");
  EXPECT_FALSE(CivilDayToDays(2023, 2, 29, &days));
  EXPECT_TRUE(CivilDayToDays(2024, 2, 29, &days));
  EXPECT_EQ(FormatTimestamp(int64_t{1698177000} * 1000000), "2023-10-24T19:50:00");
}

}  // namespace
}  // namespace fednode
