// Synthetic cases of the JSON import: arrays, JSON lines, paths, children.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/ingest/importer.h"

namespace fednode::ingest {
namespace {

using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kSpec[] = R"pb(
  dataset_id: "lakes"
  primary_key: "name"
  columns { column { name: "name" type: COLUMN_TYPE_STRING } }
  columns {
    column { name: "city" type: COLUMN_TYPE_STRING nullable: true }
    source_name: "operator.city"
  }
  columns { column { name: "lat" type: COLUMN_TYPE_DOUBLE nullable: true } }
  json_children {
    array_field: "m"
    columns { column { name: "t" type: COLUMN_TYPE_INT64 nullable: true } }
    columns { column { name: "coli" type: COLUMN_TYPE_STRING nullable: true } }
  }
)pb";

TEST(JsonImportTest, ArrayWithPathsAndChildren) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, ParseSpecTextproto(kSpec));
  const char* json = R"([
    {"name": "A", "operator": {"city": "Lich"}, "lat": "50.5", "m": [{"t": 16, "coli": "<10"}, {"t": null, "coli": "15"}]},
    {"name": "B", "lat": 49.1, "m": []}
  ])";
  FEDNODE_ASSERT_OK_AND_ASSIGN(auto out, Parse(json, SourceFormat::kJson, spec, "l.json"));
  ASSERT_EQ(out.size(), 2u);
  const Table& lakes = out[0].table;
  const Table& m = out[1].table;
  EXPECT_EQ(out[1].dataset_id, "lakes_m");
  ASSERT_EQ(lakes.num_rows, 2u);
  EXPECT_EQ(lakes.columns[1].StringAt(0), "Lich");
  EXPECT_TRUE(lakes.columns[1].IsNull(1));
  EXPECT_DOUBLE_EQ(lakes.columns[2].doubles[0], 50.5);
  ASSERT_EQ(m.num_rows, 2u);
  EXPECT_THAT(m.schema.primary_key(), ::testing::ElementsAre("name", "ordinal"));
  EXPECT_EQ(m.columns[0].StringAt(1), "A");
  EXPECT_EQ(m.columns[1].ints[1], 2);
  EXPECT_TRUE(m.columns[2].IsNull(1));
  EXPECT_EQ(m.columns[3].StringAt(0), "<10");
}

TEST(JsonImportTest, JsonLinesErrorsNameTheLine) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, ParseSpecTextproto(kSpec));
  const char* jsonl = "{\"name\": \"A\", \"lat\": 1}\n\n{\"name\": \"B\", \"lat\": \"x\"}\n";
  EXPECT_THAT(
      Parse(jsonl, SourceFormat::kJson, spec, "l.jsonl").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "l.jsonl:3: column lat: \"x\" is not a double"));
  EXPECT_THAT(Parse("{\"name\": \"A\"}\n{\"name\": \"A\"}\n", SourceFormat::kJson, spec, "l.jsonl")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("on lines 1 and 2")));
  EXPECT_THAT(
      Parse("{\"name\": \"A\"}\n{\"name\": \n", SourceFormat::kJson, spec, "l.jsonl").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("l.jsonl:2: invalid JSON")));
  EXPECT_THAT(
      Parse("[{\"lat\": 1}]", SourceFormat::kJson, spec, "l.json").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "l.json: record 1: field \"name\" is missing"));
}

TEST(JsonImportTest, MessagesUseTheRightArticleAndTheFileText) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, ParseSpecTextproto(kSpec));
  auto error = [&](const char* json) {
    return Parse(json, SourceFormat::kJson, spec, "l.json").status();
  };
  // Child column t is an int64.
  EXPECT_THAT(error(R"([{"name": "A", "m": [{"t": [1]}]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "l.json: record 1: m[1]: column t: a JSON array is not an int64"));
  EXPECT_THAT(error(R"([{"name": "A", "m": [{"t": 100000000000000000000}]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "l.json: record 1: m[1]: column t: number out of the int64 range"));
  EXPECT_THAT(error(R"([{"name": "A", "m": [{"t": 18446744073709551615}]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("number 18446744073709551615 is out of the int64 range")));
  EXPECT_THAT(
      error(R"([{"name": "A", "m": [{"t": 1.5}]}])"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("number 1.5 is not an int64")));
  EXPECT_THAT(error(R"([{"name": "A", "m": [{"t": true}]}])"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("true is not an int64")));
  // A missing field of a child's non-nullable column names the field path.
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      v1::ImportSpec nested,
      ParseSpecTextproto(R"pb(dataset_id: "x"
                              columns {
                                column { name: "city" type: COLUMN_TYPE_STRING }
                                source_name: "operator.city"
                              })pb"));
  EXPECT_THAT(
      Parse("{\"a\": 1}\n{\"operator\": {}}\n", SourceFormat::kJson, nested, "l.jsonl").status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "l.jsonl:1: field \"operator.city\" is missing (column city)"));
}

TEST(JsonImportTest, LargeNumbersKeepTheirValueInDoubleAndStringColumns) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      v1::ImportSpec spec,
      ParseSpecTextproto(R"pb(dataset_id: "x"
                              columns { column { name: "d" type: COLUMN_TYPE_DOUBLE } }
                              columns { column { name: "s" type: COLUMN_TYPE_STRING } }
                              columns { column { name: "i" type: COLUMN_TYPE_INT64 } })pb"));
  FEDNODE_ASSERT_OK_AND_ASSIGN(
      auto out, Parse(R"([{"d": 18446744073709551615, "s": 50.586195, "i": 9.2233720368547e18}])",
                      SourceFormat::kJson, spec, "l.json"));
  const Table& t = out[0].table;
  EXPECT_DOUBLE_EQ(t.columns[0].doubles[0], 18446744073709551615.0);
  EXPECT_EQ(t.columns[1].StringAt(0), "50.586195");
  EXPECT_EQ(t.columns[2].ints[0], 9223372036854700032);
}

TEST(JsonImportTest, NulAndByteOrderMarkInStringsAreRefused) {
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec, ParseSpecTextproto(kSpec));
  EXPECT_THAT(Parse(R"([{"name": "A\u0000B"}])", SourceFormat::kJson, spec, "l.json").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("l.json: record 1: column name: NUL character")));
  EXPECT_THAT(Parse("{\"name\": \"A\"}\n{\"name\": \"\xEF\xBB\xBF"
                    "B\"}\n",
                    SourceFormat::kJson, spec, "l.jsonl")
                  .status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("l.jsonl:2: column name: U+FEFF (byte order mark)")));
}

TEST(JsonImportTest, InferFindsKeyChildrenAndTypes) {
  const char* json = R"([
    {"name": "A", "lat": "50.5", "waterTemp": 3, "m": [{"date": "2015-04-26T22:00:00.000Z", "v": 1}]},
    {"name": "B", "lat": "49.25", "waterTemp": null, "m": [{"date": "2015-05-26T22:00:00.000Z", "v": "<10"}]}
  ])";
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec spec,
                               Infer(json, SourceFormat::kJson, "l", "l.json"));
  ASSERT_EQ(spec.columns_size(), 3);
  EXPECT_EQ(spec.columns(1).column().type(), storage::v1::COLUMN_TYPE_DOUBLE);
  EXPECT_EQ(spec.columns(2).column().name(), "water_temp");
  EXPECT_EQ(spec.columns(2).column().type(), storage::v1::COLUMN_TYPE_INT64);
  EXPECT_THAT(spec.primary_key(), ::testing::ElementsAre("name"));
  ASSERT_EQ(spec.json_children_size(), 1);
  EXPECT_EQ(spec.json_children(0).columns(0).column().type(), storage::v1::COLUMN_TYPE_TIMESTAMP);
  EXPECT_EQ(spec.json_children(0).columns(1).column().type(), storage::v1::COLUMN_TYPE_STRING);
  FEDNODE_ASSERT_OK_AND_ASSIGN(v1::ImportSpec again, ParseSpecTextproto(SpecToTextproto(spec)));
  FEDNODE_ASSERT_OK_AND_ASSIGN(auto out, Parse(json, SourceFormat::kJson, again, "l.json"));
  EXPECT_EQ(out[1].table.num_rows, 2u);
}

}  // namespace
}  // namespace fednode::ingest
