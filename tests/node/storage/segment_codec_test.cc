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

TEST(SegmentCodecTest, RoundTripsChunkedColumnsWithNulls) {
  std::vector<Row> rows;
  for (int64_t r = 0; r < 23; ++r) {
    rows.push_back({r % 5 == 0 ? Cell() : Cell(r * 1000), r % 7 == 0 ? Cell() : Cell(r * 0.5),
                    r % 3 == 0 ? Cell() : Cell(absl::StrCat("Straße ", r % 4)),
                    r % 2 == 0 ? Cell(true) : Cell(false), Cell(int64_t{19000} + r),
                    Cell(int64_t{1700000000000000} + r)});
  }
  const Table t = MakeTable(AllTypes(), rows);
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

}  // namespace
}  // namespace fednode::storage
