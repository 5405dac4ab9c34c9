#include "node/server/call_stop.h"

#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fednode::server {

query::ExecuteOptions CallStop::Options() {
  query::ExecuteOptions options;
  options.interrupt = [this](uint64_t rows_scanned) -> absl::Status {
    rows_scanned_ = rows_scanned;
    absl::Status stop;
    if (std::chrono::system_clock::now() > deadline_) {
      stop = absl::DeadlineExceededError("deadline passed");
    } else if (cancelled_()) {
      stop = absl::CancelledError("caller cancelled");
    } else {
      return absl::OkStatus();
    }
    stopped_ = true;
    why_ = std::string(stop.message());
    return stop;
  };
  return options;
}

std::string CallStop::AuditReason(const std::string& prefix) const {
  return absl::StrCat(prefix, "stopped: ", why_, " after scanning ", rows_scanned_, " rows");
}

}  // namespace fednode::server
