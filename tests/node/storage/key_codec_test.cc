#include "node/storage/key_codec.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "tests/node/storage/test_tables.h"

namespace fednode::storage {
namespace {

using ::fednode::testing::StatusIs;
using testing::Cell;
using ::testing::HasSubstr;
using testing::MakeSchema;
using testing::MakeTable;
using testing::Row;

TEST(KeyCodecTest, BigEndianSortsLikeNumbers) {
  const std::vector<uint64_t> values = {
      0, 1, 255, 256, 65535, uint64_t{1} << 32, std::numeric_limits<uint64_t>::max()};
  std::vector<std::string> encoded;
  for (uint64_t v : values) {
    std::string s;
    AppendBigEndian64(v, &s);
    ASSERT_EQ(s.size(), 8u);
    absl::string_view in = s;
    uint64_t back = 0;
    ASSERT_TRUE(ConsumeBigEndian64(&in, &back));
    EXPECT_EQ(back, v);
    encoded.push_back(s);
  }
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));
  std::string s32;
  AppendBigEndian32(0x01020304, &s32);
  EXPECT_EQ(s32, std::string("\x01\x02\x03\x04", 4));
}

TEST(KeyCodecTest, EscapedIdsKeepOrderAndAreNotPrefixesOfEachOther) {
  const std::vector<std::string> ids = {
      std::string("a"),  std::string("a\0", 2), std::string("a\0b", 3),  std::string("a\x01", 2),
      std::string("ab"), std::string("abc"),    std::string("a\xff", 2), std::string("b")};
  std::vector<std::string> sorted_ids = ids;
  std::sort(sorted_ids.begin(), sorted_ids.end());
  std::vector<std::string> encoded;
  for (const std::string& id : sorted_ids) {
    std::string e;
    AppendEscaped(id, &e);
    absl::string_view in = e;
    std::string back;
    ASSERT_TRUE(ConsumeEscaped(&in, &back));
    EXPECT_EQ(back, id);
    EXPECT_TRUE(in.empty());
    encoded.push_back(e);
  }
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));
  for (size_t i = 0; i < encoded.size(); ++i) {
    for (size_t j = 0; j < encoded.size(); ++j) {
      if (i != j) {
        EXPECT_FALSE(absl::StartsWith(encoded[j], encoded[i])) << i << " " << j;
      }
    }
  }
}

TEST(KeyCodecTest, ConsumeEscapedRejectsMalformedInput) {
  std::string out;
  absl::string_view unterminated = "abc";
  EXPECT_FALSE(ConsumeEscaped(&unterminated, &out));
  const std::string bad("a\0\x02", 3);
  absl::string_view in = bad;
  EXPECT_FALSE(ConsumeEscaped(&in, &out));
}

TEST(KeyCodecTest, OneDatasetsKeysNeverFallIntoAnothersRange) {
  const std::string ab = DatasetPrefix("ab");
  const std::string ab_end = PrefixSuccessor(ab);
  for (const std::string& key :
       {CurrentVersionKey("abc"), ManifestKey("abc", 1), SegmentHeaderKey("abc", 7),
        PrimaryKeyIndexPrefix("abc"), CurrentVersionKey("a"), ManifestKey("ab\xff", 3)}) {
    EXPECT_FALSE(key >= ab && key < ab_end) << key;
  }
  for (const std::string& key :
       {CurrentVersionKey("ab"), ManifestKey("ab", 99), SegmentHeaderKey("ab", 7),
        SegmentChunkKey("ab", 7, SegmentPart::kValues, 3, 4), PrimaryKeyIndexPrefix("ab")}) {
    EXPECT_TRUE(key >= ab && key < ab_end) << key;
  }
}

TEST(KeyCodecTest, LayoutMatchesTheDocumentedExamples) {
  EXPECT_EQ(CurrentVersionKey("wahl"), std::string("dwahl\0\x01"
                                                   "c",
                                                   8));
  EXPECT_EQ(ManifestKey("wahl", 3), std::string("dwahl\0\x01m\0\0\0\0\0\0\0\x03", 16));
  EXPECT_EQ(SegmentHeaderKey("wahl", 17), std::string("dwahl\0\x01s\0\0\0\0\0\0\0\x11h", 17));
  EXPECT_EQ(SegmentChunkKey("wahl", 17, SegmentPart::kValues, 2, 0),
            std::string("dwahl\0\x01s\0\0\0\0\0\0\0\x11v\0\0\0\x02\0\0\0\0", 25));
  EXPECT_EQ(CatalogEntryKey("wahl"), std::string("ewahl\0\x01", 7));
  EXPECT_EQ(CatalogChangeKey(42), std::string("q\0\0\0\0\0\0\0\x2a", 9));
  EXPECT_EQ(OperatorMetaKey("member_ags"), "u/member_ags");
  EXPECT_EQ(AuditKey(1), std::string("a\0\0\0\0\0\0\0\x01", 9));
  // Versions and segments sort numerically inside a dataset.
  EXPECT_LT(ManifestKey("wahl", 9), ManifestKey("wahl", 10));
  EXPECT_LT(SegmentHeaderKey("wahl", 255), SegmentHeaderKey("wahl", 256));
}

TEST(KeyCodecTest, SegmentChunkSuffixRoundTrips) {
  const std::string prefix = SegmentPrefix("x", 5);
  const std::string key = SegmentChunkKey("x", 5, SegmentPart::kDictionary, 3, 70000);
  SegmentPart part;
  uint32_t column = 0;
  uint32_t chunk = 0;
  ASSERT_TRUE(ParseSegmentChunkSuffix(absl::string_view(key).substr(prefix.size()), &part, &column,
                                      &chunk));
  EXPECT_EQ(part, SegmentPart::kDictionary);
  EXPECT_EQ(column, 3u);
  EXPECT_EQ(chunk, 70000u);
  EXPECT_FALSE(ParseSegmentChunkSuffix("h", &part, &column, &chunk));
  uint64_t segment = 0;
  uint32_t row = 0;
  ASSERT_TRUE(DecodeRowLocation(EncodeRowLocation(1234567890123, 42), &segment, &row));
  EXPECT_EQ(segment, 1234567890123u);
  EXPECT_EQ(row, 42u);
}

// Encodes each row's key of a one-column table and checks that the byte
// order equals the order of `values` (which the caller gives ascending).
void ExpectKeysAscending(ColumnType type, const std::vector<Cell>& values) {
  std::vector<Row> rows;
  for (const Cell& v : values) rows.push_back({v});
  const Schema schema = MakeSchema({{"k", type}}, {"k"});
  const Table t = MakeTable(schema, rows);
  std::vector<std::string> keys;
  for (size_t r = 0; r < rows.size(); ++r) {
    auto key = EncodePrimaryKey(t, {0}, r);
    ASSERT_TRUE(key.ok());
    keys.push_back(*key);
  }
  for (size_t i = 1; i < keys.size(); ++i) {
    EXPECT_LT(keys[i - 1], keys[i]) << "row " << i;
  }
}

TEST(KeyCodecTest, PrimaryKeyBytesSortLikeValues) {
  ExpectKeysAscending(v1::COLUMN_TYPE_INT64,
                      {Cell(std::numeric_limits<int64_t>::min()), Cell(int64_t{-1000}),
                       Cell(int64_t{-1}), Cell(int64_t{0}), Cell(int64_t{1}),
                       Cell(int64_t{1} << 40), Cell(std::numeric_limits<int64_t>::max())});
  ExpectKeysAscending(v1::COLUMN_TYPE_DOUBLE,
                      {Cell(-std::numeric_limits<double>::infinity()), Cell(-1e300), Cell(-1.5),
                       Cell(-1e-300), Cell(0.0), Cell(1e-300), Cell(2.5), Cell(1e300),
                       Cell(std::numeric_limits<double>::infinity())});
  ExpectKeysAscending(v1::COLUMN_TYPE_STRING,
                      {Cell(std::string("")), Cell(std::string("A")), Cell(std::string("Gie")),
                       Cell(std::string("Gießen")), Cell(std::string("Gießen-Nord")),
                       Cell(std::string("Lich")), Cell(std::string("Ölbach"))});
  ExpectKeysAscending(v1::COLUMN_TYPE_BOOL, {Cell(false), Cell(true)});
}

TEST(KeyCodecTest, NegativeZeroEqualsPositiveZero) {
  const Schema schema = MakeSchema({{"k", v1::COLUMN_TYPE_DOUBLE}}, {"k"});
  const Table t = MakeTable(schema, {{Cell(-0.0)}, {Cell(0.0)}});
  auto a = EncodePrimaryKey(t, {0}, 0);
  auto b = EncodePrimaryKey(t, {0}, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(KeyCodecTest, CompositeKeysSortColumnByColumn) {
  const Schema schema = MakeSchema(
      {{"ags", v1::COLUMN_TYPE_STRING}, {"jahr", v1::COLUMN_TYPE_INT64}}, {"ags", "jahr"});
  const Table t = MakeTable(schema, {{Cell(std::string("06531005")), Cell(int64_t{2})},
                                     {Cell(std::string("06531005")), Cell(int64_t{10})},
                                     {Cell(std::string("065310051")), Cell(int64_t{1})},
                                     {Cell(std::string("06531006")), Cell(int64_t{-5})}});
  auto pk = PrimaryKeyColumns(schema);
  ASSERT_TRUE(pk.ok());
  std::vector<std::string> keys;
  for (size_t r = 0; r < t.num_rows; ++r) keys.push_back(*EncodePrimaryKey(t, *pk, r));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(FormatPrimaryKey(t, *pk, 1), "ags=\"06531005\", jahr=10");
}

TEST(KeyCodecTest, PrimaryKeyErrorsNameTheColumn) {
  const Schema bad = MakeSchema({{"a", v1::COLUMN_TYPE_INT64}}, {"b"});
  EXPECT_THAT(PrimaryKeyColumns(bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column b")));
  const Schema twice = MakeSchema({{"a", v1::COLUMN_TYPE_INT64}}, {"a", "a"});
  EXPECT_THAT(PrimaryKeyColumns(twice),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  const Schema nullable = MakeSchema({{"a", v1::COLUMN_TYPE_INT64, true}}, {"a"});
  const Table t = MakeTable(nullable, {{Cell()}});
  EXPECT_THAT(EncodePrimaryKey(t, {0}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("column a is NULL")));
}

}  // namespace
}  // namespace fednode::storage
