#include "node/storage/rocksdb_status.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fednode::storage {
namespace {

struct MappingCase {
  rocksdb::Status from;
  absl::StatusCode to;
};

TEST(RocksDbStatusTest, MapsEveryCodeAsTheTableSays) {
  const std::vector<MappingCase> cases = {
      {rocksdb::Status::NotFound("k"), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption("block checksum mismatch"), absl::StatusCode::kDataLoss},
      {rocksdb::Status::InvalidArgument("bad"), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::NotSupported("nope"), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::NoSpace("disk full"), absl::StatusCode::kResourceExhausted},
      {rocksdb::Status::IOError("read failed"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::IOError(rocksdb::Status::kStaleFile), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Busy("conflict"), absl::StatusCode::kAborted},
      {rocksdb::Status::TimedOut("lock"), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::TryAgain("later"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress("closing"), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Aborted("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::Incomplete("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::MergeInProgress("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::Expired("x"), absl::StatusCode::kInternal},
      {rocksdb::Status::ColumnFamilyDropped("x"), absl::StatusCode::kInternal},
  };
  for (const MappingCase& c : cases) {
    const absl::Status s = FromRocksDbStatus(c.from, "reading dataset x");
    EXPECT_EQ(s.code(), c.to) << c.from.ToString();
    const std::string prefix = c.to == absl::StatusCode::kResourceExhausted ? "disk full: " : "";
    EXPECT_EQ(std::string(s.message()), prefix + "reading dataset x: " + c.from.ToString());
  }
}

TEST(RocksDbStatusTest, OkStaysOkAndEmptyContextKeepsTheMessage) {
  EXPECT_TRUE(FromRocksDbStatus(rocksdb::Status::OK(), "ctx").ok());
  const absl::Status s = FromRocksDbStatus(rocksdb::Status::Corruption("bad block"));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(std::string(s.message()), rocksdb::Status::Corruption("bad block").ToString());
}

}  // namespace
}  // namespace fednode::storage
