#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/ingest/importer.h"

namespace fednode::ingest {
namespace {

using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;

TEST(SpecTest, SyntaxErrorNamesLineAndColumn) {
  EXPECT_THAT(ParseSpecTextproto("dataset_id: \"x\"\ncolumns {\n  colum { }\n}\n").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3, column ")));
}

TEST(SpecTest, ValidationNamesTheField) {
  EXPECT_THAT(ParseSpecTextproto("dataset_id: \"x\" columns { column { name: \"a\" } }").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[0].column.type")));
  EXPECT_THAT(ParseSpecTextproto("dataset_id: \"x\" columns { column { name: \"A b\" type: "
                                 "COLUMN_TYPE_INT64 } }")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[0].column.name")));
  EXPECT_THAT(ParseSpecTextproto(
                  "dataset_id: \"x\" columns { column { name: \"a\" type: COLUMN_TYPE_INT64 } }"
                  " columns { column { name: \"a\" type: COLUMN_TYPE_INT64 } }")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("columns[1].column.name: duplicate column")));
  EXPECT_THAT(ParseSpecTextproto("dataset_id: \"x\" primary_key: \"b\" columns { column { name: "
                                 "\"a\" type: COLUMN_TYPE_INT64 } }")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("primary_key[0]")));
  EXPECT_THAT(ParseSpecTextproto("dataset_id: \"x\" columns { column { name: \"a\" type: "
                                 "COLUMN_TYPE_DATE } date_format: \"us\" }")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[0].date_format")));
  EXPECT_THAT(ParseSpecTextproto("dataset_id: \"x\" columns { column { name: \"a\" type: "
                                 "COLUMN_TYPE_DATE } time_zone: \"Mars/Olympus\" }")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[0].time_zone")));
}

TEST(SpecTest, NamesLongerThan63BytesAreRefused) {
  const std::string ok(63, 'a'), too_long(64, 'a');
  auto spec = [](const std::string& dataset, const std::string& column) {
    return absl::StrCat("dataset_id: \"", dataset, "\" columns { column { name: \"", column,
                        "\" type: COLUMN_TYPE_INT64 } }");
  };
  FEDNODE_EXPECT_OK(ParseSpecTextproto(spec(ok, ok)).status());
  EXPECT_THAT(ParseSpecTextproto(spec("d", too_long)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("columns[0].column.name: \"" + too_long + "\" has 64 bytes")));
  EXPECT_THAT(ParseSpecTextproto(spec(too_long, "a")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset_id: \"")));
  // A child dataset's default id is <dataset_id>_<array_field>.
  EXPECT_THAT(
      ParseSpecTextproto(
          absl::StrCat(spec(std::string(60, 'd'), "a"),
                       " primary_key: \"a\" json_children { array_field: \"items\" "
                       "columns { column { name: \"v\" type: COLUMN_TYPE_INT64 } } }"))
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("json_children[0].dataset_id")));
}

TEST(SpecTest, TextprotoHasACommentPerColumnAndRoundTrips) {
  v1::ImportSpec spec;
  spec.set_dataset_id("d");
  spec.mutable_csv()->set_delimiter(";");
  auto* c = spec.add_columns();
  c->mutable_column()->set_name("einwohner");
  c->mutable_column()->set_type(storage::v1::COLUMN_TYPE_INT64);
  c->add_thousands_separators("\xC2\xA0");
  c->set_source_name("Einwohner");
  std::string text = SpecToTextproto(spec);
  EXPECT_THAT(text, HasSubstr("# einwohner: int64, not null, source \"Einwohner\", thousands "
                              "no-break space"));
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec again, ParseSpecTextproto(text));
  EXPECT_EQ(again.SerializeAsString(), spec.SerializeAsString());
}

}  // namespace
}  // namespace fednode::ingest
