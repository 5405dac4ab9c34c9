#include "node/storage/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace fednode::storage {

absl::Status FromRocksDbStatus(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) {
    return absl::OkStatus();
  }
  absl::StatusCode code = absl::StatusCode::kInternal;
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      code = absl::StatusCode::kNotFound;
      break;
    case rocksdb::Status::kCorruption:
      code = absl::StatusCode::kDataLoss;
      break;
    case rocksdb::Status::kInvalidArgument:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case rocksdb::Status::kNotSupported:
      code = absl::StatusCode::kUnimplemented;
      break;
    case rocksdb::Status::kIOError:
      code = s.subcode() == rocksdb::Status::kNoSpace ? absl::StatusCode::kResourceExhausted
                                                      : absl::StatusCode::kUnavailable;
      break;
    case rocksdb::Status::kBusy:
      code = absl::StatusCode::kAborted;
      break;
    case rocksdb::Status::kTimedOut:
      code = absl::StatusCode::kDeadlineExceeded;
      break;
    case rocksdb::Status::kTryAgain:
    case rocksdb::Status::kShutdownInProgress:
      code = absl::StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  std::string message = s.ToString();
  if (!context.empty()) {
    message = absl::StrCat(context, ": ", message);
  }
  if (code == absl::StatusCode::kResourceExhausted) {
    message = absl::StrCat("disk full: ", message);
  }
  return absl::Status(code, message);
}

}  // namespace fednode::storage
