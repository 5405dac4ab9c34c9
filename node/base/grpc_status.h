// The one place where absl::Status and grpc::Status meet. abseil and gRPC
// use the same numeric codes (both follow google.rpc.Code); grpc_status.cc
// static_asserts all 17.
//
// Layer: node/base (target fednode_base_grpc); used by node/server and
// node/cli only. Thread-safe (pure functions).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace fednode {

// Converts at the service edge. For Internal, Unknown and DataLoss the peer
// gets a generic message plus `request_id`, and the detail is logged: the
// other side is another municipality, not our debug console. Other codes
// keep their message.
grpc::Status ToGrpcStatus(const absl::Status& status, const std::string& request_id = "");

// Converts a status received from gRPC; `context` (e.g. "node 06531005")
// prefixes the message when non-empty.
absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& context = "");

}  // namespace fednode
