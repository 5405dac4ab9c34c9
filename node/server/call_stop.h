// Stopping a query when the gRPC caller is gone: an ExecuteOptions::interrupt
// that reads the server call's state, and a record of why and when it
// stopped for the audit entry.
//
// Layer: node/server (the gRPC edge); used by the admin and federation
// services. Not thread-safe: one CallStop per call, used by the handler's
// thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "grpcpp/server_context.h"

#include "node/query/executor.h"

namespace fednode::server {

class CallStop {
 public:
  // A call of the synchronous API. `context` must outlive the options
  // returned by Options().
  explicit CallStop(const grpc::ServerContext* context)
      : deadline_(context->deadline()), cancelled_([context] { return context->IsCancelled(); }) {}
  // A call whose cancellation is known otherwise (the completion-queue API
  // may ask ServerContext::IsCancelled only after the call is done):
  // `cancelled` returns true once the caller went away. Called on the
  // query's thread; must be cheap and thread-safe.
  CallStop(std::chrono::system_clock::time_point deadline, std::function<bool()> cancelled)
      : deadline_(deadline), cancelled_(std::move(cancelled)) {}

  // Options whose interrupt stops the query once the call's deadline has
  // passed (DeadlineExceeded, "deadline passed") or the caller cancelled it
  // (Cancelled, "caller cancelled"). REQUIRES: `this` outlives the options.
  query::ExecuteOptions Options();

  // True when the interrupt stopped a query; then why() is "deadline passed"
  // or "caller cancelled".
  bool stopped() const { return stopped_; }
  const std::string& why() const { return why_; }
  // Rows the query had scanned at its last check: when it stopped, the rows
  // scanned by then; when it ran to its end, all it scanned (the executor
  // checks once more after its last chunk).
  uint64_t rows_scanned() const { return rows_scanned_; }

  // The audit reason of a stopped query: "<prefix>stopped: <why> after
  // scanning <N> rows".
  std::string AuditReason(const std::string& prefix) const;

 private:
  std::chrono::system_clock::time_point deadline_;
  std::function<bool()> cancelled_;
  bool stopped_ = false;
  std::string why_;
  uint64_t rows_scanned_ = 0;
};

}  // namespace fednode::server
