// Serializing a message for gRPC once. gRPC's typed serialization of a
// protobuf message (grpc::SerializationTraits, proto_utils.h in gRPC 1.51)
// asks the message for its size and then serializes it through
// MessageLite::SerializeToZeroCopyStream, which asks again: every field is
// sized twice. For a column batch that is a varint size per INT64 value,
// twice. A streaming method registered raw (the generated
// WithRawMethod_<Method>) sends the grpc::ByteBuffer made here instead,
// sized once.
//
// Layer: node/base (target fednode_base_grpc); used by node/server's
// federation port. Thread-safe (pure function).
#pragma once

#include "google/protobuf/message_lite.h"
#include "grpcpp/support/byte_buffer.h"

namespace fednode {

// The wire bytes of `message` (its protobuf encoding, exactly as
// SerializeAsString gives them) in one gRPC slice of their size, for
// grpc::ServerAsyncWriter<grpc::ByteBuffer> and friends. Sizes the message
// once (ByteSizeLong) and serializes with the cached sizes.
// REQUIRES: `message` is not changed concurrently, and is smaller than
// 2 GiB (protobuf's own limit for a message).
grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::MessageLite& message);

}  // namespace fednode
