#include "node/storage/segment_codec.h"

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "tests/node/storage/test_tables.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::StatusIs;
using testing::Cell;
using testing::MakeSchema;
using testing::MakeTable;
using testing::Row;

using Records = std::map<std::tuple<char, uint32_t, uint32_t>, std::string>;

Records Encode(const Table& t, uint32_t chunk_rows, size_t dict_bytes) {
  Records out;
  EncodeSegment(t, chunk_rows, dict_bytes,
                [&](SegmentPart part, uint32_t column, uint32_t chunk, absl::string_view value) {
                  out[{static_cast<char>(part), column, chunk}] = std::string(value);
                });
  return out;
}

// Decodes in key order, as the store's iterator does ('d' < 'h' < 'v').
absl::StatusOr<Table> Decode(const Records& records, const Schema& schema) {
  auto header = DecodeSegmentHeader(records.at({'h', 0, 0}));
  if (!header.ok()) return header.status();
  auto decoder = SegmentDecoder::Create(*header, schema);
  if (!decoder.ok()) return decoder.status();
  for (const auto& [key, value] : records) {
    auto [part, column, chunk] = key;
    if (part == 'h') continue;
    absl::Status s = decoder->Add(static_cast<SegmentPart>(part), column, chunk, value);
    if (!s.ok()) return s;
  }
  return std::move(*decoder).Finish();
}

Schema AllTypes() {
  return MakeSchema({{"i", v1::COLUMN_TYPE_INT64, true},
                     {"d", v1::COLUMN_TYPE_DOUBLE, true},
                     {"s", v1::COLUMN_TYPE_STRING, true},
                     {"b", v1::COLUMN_TYPE_BOOL, true},
                     {"day", v1::COLUMN_TYPE_DATE, false},
                     {"ts", v1::COLUMN_TYPE_TIMESTAMP, false}});
}

// `n` rows of AllTypes with NULLs in the nullable columns and
// `distinct_strings` different strings.
Table AllTypesTable(int64_t n, int64_t distinct_strings) {
  std::vector<Row> rows;
  for (int64_t r = 0; r < n; ++r) {
    rows.push_back({r % 5 == 0 ? Cell() : Cell(r * 1000), r % 7 == 0 ? Cell() : Cell(r * 0.5),
                    r % 3 == 0 ? Cell() : Cell(absl::StrCat("Straße ", r % distinct_strings)),
                    r % 2 == 0 ? Cell(true) : Cell(false), Cell(int64_t{19000} + r),
                    Cell(int64_t{1700000000000000} + r)});
  }
  return MakeTable(AllTypes(), rows);
}

TEST(SegmentCodecTest, RoundTripsChunkedColumnsWithNulls) {
  const Table t = AllTypesTable(23, 4);
  const Records records = Encode(t, 5, 1 << 20);
  // 6 columns x 5 value chunks, 1 dictionary chunk, 1 header.
  EXPECT_EQ(records.size(), 6u * 5 + 1 + 1);
  auto back = Decode(records, t.schema);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->num_rows, 23u);
  for (size_t c = 0; c < t.columns.size(); ++c) {
    EXPECT_EQ(back->columns[c].ints, t.columns[c].ints) << c;
    EXPECT_EQ(back->columns[c].doubles, t.columns[c].doubles) << c;
    EXPECT_EQ(back->columns[c].codes, t.columns[c].codes) << c;
    EXPECT_EQ(back->columns[c].dict, t.columns[c].dict) << c;
    EXPECT_EQ(back->columns[c].validity, t.columns[c].validity) << c;
  }
}

TEST(SegmentCodecTest, SplitsLargeDictionariesIntoChunks) {
  const Schema schema = MakeSchema({{"s", v1::COLUMN_TYPE_STRING}});
  std::vector<Row> rows;
  for (int r = 0; r < 100; ++r) rows.push_back({Cell(absl::StrCat("Gemeinde-", r, "-ÄÖÜ"))});
  const Table t = MakeTable(schema, rows);
  const Records records = Encode(t, 1000, 64);  // ~3 entries per 64-byte chunk
  int dict_chunks = 0;
  for (const auto& [key, value] : records) dict_chunks += std::get<0>(key) == 'd';
  EXPECT_GT(dict_chunks, 10);
  auto back = Decode(records, schema);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->columns[0].dict, t.columns[0].dict);
}

TEST(SegmentCodecTest, DetectsCorruptChunks) {
  const Table t = MakeTable(AllTypes(), {{Cell(int64_t{1}), Cell(1.0), Cell(std::string("a")),
                                          Cell(true), Cell(int64_t{1}), Cell(int64_t{2})}});
  Records truncated = Encode(t, 10, 1 << 20);
  truncated[{'v', 0, 0}].pop_back();
  EXPECT_THAT(Decode(truncated, t.schema), StatusIs(absl::StatusCode::kDataLoss, ::testing::_));

  Records missing = Encode(t, 10, 1 << 20);
  missing.erase({'v', 5, 0});
  EXPECT_THAT(Decode(missing, t.schema),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("column ts")));

  Records bad_code = Encode(t, 10, 1 << 20);
  bad_code[{'v', 2, 0}][4] = '\x07';  // code 7, dictionary has 1 entry
  EXPECT_THAT(Decode(bad_code, t.schema),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("code")));

  const Schema other = MakeSchema({{"i", v1::COLUMN_TYPE_DOUBLE}});
  EXPECT_THAT(Decode(Encode(t, 10, 1 << 20), other),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::_));
  EXPECT_THAT(DecodeSegmentHeader("garbage"), StatusIs(absl::StatusCode::kDataLoss, ::testing::_));
}

// DecodeSegmentRows over `records`, counting the chunks it fetched.
absl::StatusOr<Table> DecodeRows(const Records& records, const Schema& schema,
                                 const std::vector<uint32_t>& rows, int* fetched = nullptr) {
  auto header = DecodeSegmentHeader(records.at({'h', 0, 0}));
  if (!header.ok()) return header.status();
  return DecodeSegmentRows(
      *header, schema, rows,
      [&](SegmentPart part, uint32_t column, uint32_t chunk) -> absl::StatusOr<absl::string_view> {
        auto it = records.find({static_cast<char>(part), column, chunk});
        if (it == records.end()) return absl::NotFoundError("no such chunk");
        if (fetched != nullptr) ++*fetched;
        return absl::string_view(it->second);
      });
}

void ExpectSameTable(const Table& a, const Table& b) {
  ASSERT_EQ(a.num_rows, b.num_rows);
  ASSERT_EQ(a.columns.size(), b.columns.size());
  for (size_t c = 0; c < a.columns.size(); ++c) {
    EXPECT_EQ(a.columns[c].type, b.columns[c].type) << c;
    EXPECT_EQ(a.columns[c].ints, b.columns[c].ints) << c;
    EXPECT_EQ(a.columns[c].doubles, b.columns[c].doubles) << c;
    EXPECT_EQ(a.columns[c].codes, b.columns[c].codes) << c;
    EXPECT_EQ(a.columns[c].dict, b.columns[c].dict) << c;
    EXPECT_EQ(a.columns[c].validity, b.columns[c].validity) << c;
  }
}

TEST(SegmentCodecTest, DecodesChosenRowsAsGatheredFromTheWholeSegment) {
  // 40 rows in value chunks of 6, strings with NULLs and a dictionary cut
  // into chunks of about 3 entries.
  const Table t = AllTypesTable(40, 11);
  const Records records = Encode(t, 6, 48);
  for (const std::vector<uint32_t>& pick : std::vector<std::vector<uint32_t>>{
           {}, {0}, {39}, {3, 9}, {1, 2, 5, 6, 7, 30, 38}, {0, 3, 6, 9, 12, 15, 18, 21, 24, 27}}) {
    SCOPED_TRACE(::testing::PrintToString(pick));
    auto some = DecodeRows(records, t.schema, pick);
    ASSERT_TRUE(some.ok()) << some.status();
    ExpectSameTable(*some, GatherRows(t, pick));
  }
  // Row 7 alone: one value chunk per column (6) and the dictionary chunks up
  // to its entry, not the whole segment (42 records).
  int fetched = 0;
  ASSERT_TRUE(DecodeRows(records, t.schema, {7}, &fetched).ok());
  EXPECT_LT(fetched, 6 + 4);
  EXPECT_GE(fetched, 6 + 1);
}

TEST(SegmentCodecTest, DecodingChosenRowsChecksThemAndTheChunks) {
  const Table t = MakeTable(
      AllTypes(), {{Cell(int64_t{1}), Cell(1.0), Cell(std::string("a")), Cell(true),
                    Cell(int64_t{1}), Cell(int64_t{2})},
                   {Cell(), Cell(), Cell(), Cell(false), Cell(int64_t{3}), Cell(int64_t{4})}});
  const Records records = Encode(t, 10, 1 << 20);
  EXPECT_THAT(DecodeRows(records, t.schema, {1, 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("sorted")));
  EXPECT_THAT(DecodeRows(records, t.schema, {2}),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("below 2")));

  Records missing = records;
  missing.erase({'v', 5, 0});
  EXPECT_THAT(DecodeRows(missing, t.schema, {0}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("column ts")));
  Records truncated = records;
  truncated[{'v', 1, 0}].pop_back();
  EXPECT_THAT(DecodeRows(truncated, t.schema, {1}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("value chunk size")));
  Records bad_code = records;
  bad_code[{'v', 2, 0}][4] = '\x07';  // row 0's code 7; the dictionary has 1 entry
  EXPECT_THAT(DecodeRows(bad_code, t.schema, {0}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("code")));
  // Row 1's string is NULL: its code is not looked up.
  EXPECT_TRUE(DecodeRows(bad_code, t.schema, {1}).ok());
  Records no_dictionary = records;
  no_dictionary.erase({'d', 2, 0});
  EXPECT_THAT(DecodeRows(no_dictionary, t.schema, {0}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("column s")));
  const Schema other = MakeSchema({{"i", v1::COLUMN_TYPE_DOUBLE}});
  EXPECT_THAT(DecodeRows(records, other, {0}),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("columns")));
}

}  // namespace
}  // namespace fednode::storage
