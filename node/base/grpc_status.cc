#include "node/base/grpc_status.h"

#include "absl/strings/str_cat.h"

#include "node/base/log.h"

namespace fednode {
namespace {

#define FEDNODE_SAME_CODE(a, g) \
  static_assert(static_cast<int>(absl::StatusCode::a) == static_cast<int>(grpc::StatusCode::g))
FEDNODE_SAME_CODE(kOk, OK);
FEDNODE_SAME_CODE(kCancelled, CANCELLED);
FEDNODE_SAME_CODE(kUnknown, UNKNOWN);
FEDNODE_SAME_CODE(kInvalidArgument, INVALID_ARGUMENT);
FEDNODE_SAME_CODE(kDeadlineExceeded, DEADLINE_EXCEEDED);
FEDNODE_SAME_CODE(kNotFound, NOT_FOUND);
FEDNODE_SAME_CODE(kAlreadyExists, ALREADY_EXISTS);
FEDNODE_SAME_CODE(kPermissionDenied, PERMISSION_DENIED);
FEDNODE_SAME_CODE(kResourceExhausted, RESOURCE_EXHAUSTED);
FEDNODE_SAME_CODE(kFailedPrecondition, FAILED_PRECONDITION);
FEDNODE_SAME_CODE(kAborted, ABORTED);
FEDNODE_SAME_CODE(kOutOfRange, OUT_OF_RANGE);
FEDNODE_SAME_CODE(kUnimplemented, UNIMPLEMENTED);
FEDNODE_SAME_CODE(kInternal, INTERNAL);
FEDNODE_SAME_CODE(kUnavailable, UNAVAILABLE);
FEDNODE_SAME_CODE(kDataLoss, DATA_LOSS);
FEDNODE_SAME_CODE(kUnauthenticated, UNAUTHENTICATED);
#undef FEDNODE_SAME_CODE

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status, const std::string& request_id) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      FEDNODE_LOG(ERROR) << "request " << request_id << ": " << status;
      return grpc::Status(code, absl::StrCat("internal error (request id ", request_id,
                                             "); the node's log has the detail"));
    default:
      return grpc::Status(code, std::string(status.message()));
  }
}

absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& context) {
  if (status.ok()) return absl::OkStatus();
  std::string msg = context.empty() ? status.error_message()
                                    : absl::StrCat(context, ": ", status.error_message());
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), msg);
}

}  // namespace fednode
