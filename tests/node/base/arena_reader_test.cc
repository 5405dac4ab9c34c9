// ArenaReader: every message of a client stream is read whole into the
// arena, also one larger than the kept block; the previous message is
// dropped at each Read; the end of the stream ends the reads.
#include "node/base/arena_reader.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

#include "proto/query/v1/query.pb.h"

namespace fednode {
namespace {

// A client stream that yields serialized messages, parsed as gRPC does.
class FakeReader : public grpc::ClientReaderInterface<query::v1::ColumnBatch> {
 public:
  explicit FakeReader(std::vector<std::string> wire) : wire_(std::move(wire)) {}
  bool NextMessageSize(uint32_t* size) override {
    if (next_ == wire_.size()) return false;
    *size = static_cast<uint32_t>(wire_[next_].size());
    return true;
  }
  bool Read(query::v1::ColumnBatch* message) override {
    if (next_ == wire_.size()) return false;
    return message->ParseFromString(wire_[next_++]);
  }
  grpc::Status Finish() override { return grpc::Status::OK; }
  void WaitForInitialMetadata() override {}

 private:
  std::vector<std::string> wire_;
  size_t next_ = 0;
};

// A batch of one string column: `n` values of `length` bytes ("ü" is two).
query::v1::ColumnBatch Batch(int n, size_t length) {
  query::v1::ColumnBatch batch;
  batch.set_row_count(static_cast<uint32_t>(n));
  query::v1::ColumnValues* values = batch.add_columns();
  for (int i = 0; i < n; ++i) {
    std::string s = std::to_string(i) + "ü";
    s.resize(length, 'x');
    values->mutable_string_data()->append(s);
    values->add_string_ends(static_cast<uint32_t>(values->string_data().size()));
  }
  return batch;
}

TEST(ArenaReaderTest, ReadsEveryMessageWholeAlsoPastItsBlock) {
  // A 4 KiB block: the second message (about 100 KiB of strings) needs more.
  const std::vector<query::v1::ColumnBatch> sent = {Batch(3, 5), Batch(1000, 100), Batch(0, 0),
                                                    Batch(10, 20)};
  std::vector<std::string> wire;
  for (const auto& b : sent) wire.push_back(b.SerializeAsString());
  FakeReader reader(wire);
  ArenaReader<query::v1::ColumnBatch> in(4096);
  size_t got = 0;
  while (in.Read(&reader)) {
    ASSERT_LT(got, sent.size());
    EXPECT_NE(in.message().GetArena(), nullptr);
    EXPECT_EQ(in.message().SerializeAsString(), wire[got]) << "message " << got;
    ++got;
  }
  EXPECT_EQ(got, sent.size());
  // The end stays the end.
  EXPECT_FALSE(in.Read(&reader));
}

}  // namespace
}  // namespace fednode
