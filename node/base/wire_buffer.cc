#include "node/base/wire_buffer.h"

#include <cstddef>
#include <cstdint>

#include "grpcpp/support/slice.h"

namespace fednode {

grpc::ByteBuffer SerializeToByteBuffer(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  grpc::Slice slice(size);
  // The slice is fresh and not shared yet: writing into it is allowed.
  message.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(slice.begin()));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace fednode
