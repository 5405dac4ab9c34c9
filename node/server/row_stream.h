// RowStream: a query::RowSink that writes a row result to a gRPC server
// stream as messages of at most kMaxRowsPerMessage rows / about
// kMaxBytesPerMessage bytes, for the admin and federation Query calls.
//
// Audit before data: the first message is held back until it is full or the
// result ends. A result that fits in one message is thus sent by the caller
// after the scan (Finish), when its exact size is known and audited; a
// larger one calls `on_streaming` (which writes an audit entry) once, before
// its first message leaves, and the caller audits the final count before it
// sends the last message with Finish.
//
// The stream writes through a function, so that it serves both gRPC APIs:
// the admin port's synchronous ServerWriter (SyncWriter below) and the
// federation port's completion-queue writer (federation_server.h).
//
// Layer: node/server (the gRPC edge). Not thread-safe: one RowStream per
// call, used by the handler's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/sync_stream.h"

#include "node/query/executor.h"
#include "node/server/admin_service.h"

namespace fednode::server {

// Writes one message to the caller, blocking until gRPC has taken it (the
// federation port's writer returns once the message is serialized, while it
// is still being sent, see federation_server.cc); false when the caller is
// gone (cancelled, deadline passed, connection lost).
template <typename Message>
using MessageWriter = std::function<bool(const Message&)>;

// A MessageWriter on a synchronous server stream. `context` and `writer`
// must outlive it.
template <typename Message>
MessageWriter<Message> SyncWriter(grpc::ServerContext* context,
                                  grpc::ServerWriter<Message>* writer) {
  return
      [context, writer](const Message& m) { return !context->IsCancelled() && writer->Write(m); };
}

template <typename Message>
class RowStream final : public query::RowSink {
 public:
  // `head` holds the first message's fields other than columns, rows,
  // dataset_version and rows_scanned (e.g. the federation's holder and grant).
  // `on_streaming` is called once, before the first message of a result
  // larger than one message is written; its non-OK status stops the query
  // (audit_error() is then true) and nothing is written.
  RowStream(MessageWriter<Message> write, Message head, std::function<grpc::Status()> on_streaming)
      : write_(std::move(write)),
        message_(std::move(head)),
        on_streaming_(std::move(on_streaming)) {}

  // Makes this a stream that only holds: the first message is kept back as
  // usual, and a result larger than one message stops the query with
  // ResourceExhausted (overflowed() is then true) instead of streaming;
  // nothing is written and on_streaming is not called. The federation port
  // answers small results on its completion-queue threads this way and
  // hands larger ones to a worker thread (federation_server.h). Call before
  // the query runs.
  void set_hold_only() { hold_only_ = true; }

  absl::Status OnColumns(const query::v1::ResultSet& header) override {
    *message_.mutable_columns() = header.columns();
    message_.set_dataset_version(header.dataset_version());
    columns_ = header.columns_size();
    if constexpr (requires(Message m) { m.set_rows_scanned(uint64_t{0}); }) {
      message_.set_rows_scanned(header.rows_scanned());
    }
    return absl::OkStatus();
  }

  absl::Status OnRows(google::protobuf::RepeatedPtrField<query::v1::Row>* rows) override {
    // A cancelled call is noticed at the next write, or by the query's
    // interrupt between chunks while the first message is still held back.
    for (query::v1::Row& row : *rows) {
      bytes_ += row.ByteSizeLong();
      *message_.add_rows() = std::move(row);
      ++rows_;
      if (message_.rows_size() >= kMaxRowsPerMessage || bytes_ >= kMaxBytesPerMessage) {
        if (absl::Status sent = StreamOn(); !sent.ok()) return sent;
      }
    }
    return absl::OkStatus();
  }

  // Column batches instead of rows (federation QueryRequest.column_batches);
  // only for messages with a `batch` field. Call before the query runs.
  void set_column_batches(bool on) { batches_ = on; }
  bool WantsColumnBatches() const override { return batches_; }

  // One message per batch (the executor cuts batches under
  // kMaxRowsPerMessage rows and about kMaxBytesPerMessage bytes). The first
  // batch is held back like the first rows: a second one means the result
  // is larger than one message. `batch` is handed back holding the last
  // sent batch, cleared, so that the executor refills arrays that keep
  // their capacity instead of allocating new ones for every message.
  absl::Status OnBatch(query::v1::ColumnBatch* batch) override {
    if constexpr (requires(Message m) { m.mutable_batch(); }) {
      if (message_.has_batch()) {
        if (absl::Status sent = StreamOn(); !sent.ok()) return sent;
      }
      rows_ += batch->row_count();
      if (spare_ != nullptr) message_.set_allocated_batch(spare_.release());
      message_.mutable_batch()->Swap(batch);
      return absl::OkStatus();
    } else {
      return absl::UnimplementedError("this answer has no column batches");
    }
  }

  // Writes the held-back rest (for a result that fits in one message: the
  // whole answer, with its columns). Returns false when the caller is gone.
  bool Finish() { return Write().ok(); }

  // The held-back message (the whole answer when the result fits in one
  // message); the stream is empty afterwards.
  Message TakeHeld() {
    sent_ += static_cast<uint64_t>(message_.rows_size());
    if constexpr (requires(Message m) { m.batch(); }) sent_ += message_.batch().row_count();
    Message out = std::move(message_);
    message_.Clear();
    bytes_ = 0;
    return out;
  }

  // HoldOnly: the result was larger than one message.
  bool overflowed() const { return overflowed_; }

  // The result did not fit in one message: on_streaming ran and messages
  // went out.
  bool streaming() const { return streaming_; }
  // Rows handed to the stream so far, and rows written to the caller.
  uint64_t rows() const { return rows_; }
  uint64_t sent() const { return sent_; }
  // Columns per row.
  int columns() const { return columns_; }
  // The write failed or the caller cancelled.
  bool caller_gone() const { return caller_gone_; }
  // on_streaming failed: return this status, nothing was written.
  const std::optional<grpc::Status>& audit_error() const { return audit_error_; }

 private:
  absl::Status CallerGone() {
    caller_gone_ = true;
    return absl::CancelledError("caller gone");
  }

  // Audits "streaming" before the first message leaves, then writes the
  // pending message.
  absl::Status StreamOn() {
    if (hold_only_) {
      overflowed_ = true;
      return absl::ResourceExhaustedError("the result is larger than one message");
    }
    if (!streaming_) {
      grpc::Status audited = on_streaming_();
      if (!audited.ok()) {
        audit_error_ = std::move(audited);
        return absl::UnavailableError("the audit log cannot record this query");
      }
      streaming_ = true;
    }
    return Write();
  }

  absl::Status Write() {
    if (!write_(message_)) return CallerGone();
    sent_ += static_cast<uint64_t>(message_.rows_size());
    if constexpr (requires(Message m) { m.batch(); }) {
      sent_ += message_.batch().row_count();
      // Kept for the next OnBatch (Clear would delete it).
      if (message_.has_batch()) {
        spare_.reset(message_.release_batch());
        spare_->Clear();
      }
    }
    message_.Clear();
    bytes_ = 0;
    return absl::OkStatus();
  }

  MessageWriter<Message> write_;
  Message message_;
  std::function<grpc::Status()> on_streaming_;
  size_t bytes_ = 0;
  uint64_t rows_ = 0;
  uint64_t sent_ = 0;
  int columns_ = 0;
  bool streaming_ = false;
  bool batches_ = false;
  bool caller_gone_ = false;
  bool hold_only_ = false;
  bool overflowed_ = false;
  std::optional<grpc::Status> audit_error_;
  // The last sent batch, cleared (see OnBatch).
  std::unique_ptr<query::v1::ColumnBatch> spare_;
};

}  // namespace fednode::server
