#include "node/server/row_stream.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

#include "node/query/batch.h"
#include "proto/federation/v1/federation.pb.h"

namespace fednode::server {
namespace {

using federation::v1::QueryResponse;

// Fills `batch` as the executor does (Clear, then one ColumnValues per
// column): rows first .. first + n - 1 of an INT64 column n = row and a
// STRING column s = "w<row>".
void FillBatch(int first, int n, query::v1::ColumnBatch* batch) {
  batch->Clear();
  query::v1::ColumnValues* ints = batch->add_columns();
  query::v1::ColumnValues* strings = batch->add_columns();
  for (int r = first; r < first + n; ++r) {
    ints->add_int64s(r);
    strings->mutable_string_data()->append(absl::StrCat("w", r));
    strings->add_string_ends(static_cast<uint32_t>(strings->string_data().size()));
  }
  query::SealBatch(static_cast<uint32_t>(n), batch);
}

TEST(RowStreamTest, SentBatchesComeBackClearedWithTheirCapacityAndEachMessageHoldsItsRows) {
  // The writer copies each message, as gRPC serializes it before Write
  // returns; the batch it held may then be reused.
  std::vector<QueryResponse> sent;
  RowStream<QueryResponse> stream(
      [&](const QueryResponse& m) {
        sent.push_back(m);
        return true;
      },
      QueryResponse(), [] { return grpc::Status::OK; });
  stream.set_column_batches(true);
  query::v1::ResultSet header;
  header.add_columns()->set_name("n");
  header.mutable_columns(0)->set_type(storage::v1::COLUMN_TYPE_INT64);
  header.add_columns()->set_name("s");
  header.mutable_columns(1)->set_type(storage::v1::COLUMN_TYPE_STRING);
  ASSERT_TRUE(stream.OnColumns(header).ok());

  constexpr int kRows = 100;
  constexpr int kBatches = 4;
  query::v1::ColumnBatch batch;
  for (int b = 0; b < kBatches; ++b) {
    FillBatch(b * kRows, kRows, &batch);
    ASSERT_TRUE(stream.OnBatch(&batch).ok());
    if (b == 0) continue;  // the first batch is held back; nothing was sent
    // The batch sent last comes back cleared, its arrays still allocated.
    EXPECT_EQ(batch.row_count(), 0u) << "batch " << b;
    EXPECT_EQ(batch.columns_size(), 0) << "batch " << b;
    query::v1::ColumnValues* reused = batch.add_columns();
    EXPECT_EQ(reused->int64s_size(), 0);
    EXPECT_GE(reused->int64s().Capacity(), kRows) << "batch " << b;
    query::v1::ColumnValues* reused_strings = batch.add_columns();
    EXPECT_TRUE(reused_strings->string_data().empty());
    EXPECT_GE(reused_strings->string_data().capacity(), static_cast<size_t>(kRows * 3))
        << "batch " << b;
    EXPECT_GE(reused_strings->string_ends().Capacity(), kRows) << "batch " << b;
  }
  ASSERT_TRUE(stream.Finish());

  ASSERT_EQ(sent.size(), static_cast<size_t>(kBatches));
  EXPECT_EQ(sent[0].columns_size(), 2);  // the header, in the first message only
  for (size_t b = 1; b < sent.size(); ++b) EXPECT_EQ(sent[b].columns_size(), 0) << b;
  EXPECT_EQ(stream.sent(), static_cast<uint64_t>(kBatches * kRows));
  for (int b = 0; b < kBatches; ++b) {
    const query::v1::ColumnBatch& got = sent[static_cast<size_t>(b)].batch();
    ASSERT_TRUE(query::ValidateBatch(header.columns(), got).ok()) << "message " << b;
    ASSERT_EQ(got.row_count(), static_cast<uint32_t>(kRows));
    for (int k = 0; k < kRows; ++k) {
      const int row = b * kRows + k;
      EXPECT_EQ(got.columns(0).int64s(k), row);
      EXPECT_EQ(query::BatchString(got.columns(1), static_cast<size_t>(k)), absl::StrCat("w", row));
    }
  }
}

}  // namespace
}  // namespace fednode::server
