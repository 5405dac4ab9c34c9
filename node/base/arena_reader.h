// ArenaReader: reads the messages of a gRPC client stream one at a time
// into a protobuf arena whose first block is kept from message to message.
// A message of many small parts (a column batch: a std::string per value)
// then costs no malloc and free per part; the parse is the same.
//
// Layer: node/base (target fednode_base_grpc); used by node/server
// (QueryPeer) and by tests/bench. Not thread-safe: one reader per stream.
#pragma once

#include <cstddef>
#include <vector>

#include "google/protobuf/arena.h"
#include "grpcpp/support/sync_stream.h"  // grpc::ClientReaderInterface

namespace fednode {

template <typename Message>
class ArenaReader {
 public:
  // `block_bytes`: the arena's kept first block. A message that needs more
  // gets further blocks, freed at the next Read. Default 4 MiB: a streamed
  // message of about 1 MiB of values (RowStream's cut) fits.
  explicit ArenaReader(size_t block_bytes = size_t{4} << 20)
      : block_(block_bytes), arena_(Options(&block_)) {}
  ArenaReader(const ArenaReader&) = delete;
  ArenaReader& operator=(const ArenaReader&) = delete;

  // Reads the next message of `reader` into the arena, dropping the
  // previous one. Returns false at the end of the stream or when the read
  // failed (then the reader's Finish tells why).
  bool Read(grpc::ClientReaderInterface<Message>* reader) {
    message_ = nullptr;
    arena_.Reset();
    Message* m = google::protobuf::Arena::CreateMessage<Message>(&arena_);
    if (!reader->Read(m)) return false;
    message_ = m;
    return true;
  }

  // The message read last. REQUIRES: the last Read returned true. Valid
  // until the next Read or the reader's end.
  Message& message() { return *message_; }

 private:
  static google::protobuf::ArenaOptions Options(std::vector<char>* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block->data();
    options.initial_block_size = block->size();
    return options;
  }

  std::vector<char> block_;  // before arena_: outlives it
  google::protobuf::Arena arena_;
  Message* message_ = nullptr;
};

}  // namespace fednode
