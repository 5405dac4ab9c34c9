// Time helpers of agreement.h, in their own object file so that
// federation/policy links without the signature code (and certs/).
#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "federation/agreement/agreement.h"
#include "node/base/status_macros.h"

namespace fednode::agreement {

namespace {

// The last few times parsed on this thread. The federation port checks the
// agreement's and its grants' validity times at every call; these strings
// change only with the agreement, and absl::ParseTime costs about 2 % of a
// point query's CPU (perf, federation benchmark).
struct ParsedTimes {
  static constexpr size_t kSlots = 8;
  std::string text[kSlots];
  absl::Time time[kSlots];
  size_t used = 0;
  size_t next = 0;
};

}  // namespace

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view value, absl::string_view field) {
  thread_local ParsedTimes memo;
  for (size_t i = 0; i < memo.used; ++i) {
    if (memo.text[i] == value) return memo.time[i];
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, value, &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": \"", value, "\" is not an RFC 3339 time (e.g. 2026-01-01T00:00:00Z)"));
  }
  memo.text[memo.next].assign(value.data(), value.size());
  memo.time[memo.next] = t;
  memo.next = (memo.next + 1) % ParsedTimes::kSlots;
  memo.used = std::max(memo.used, memo.next == 0 ? ParsedTimes::kSlots : memo.next);
  return t;
}

std::string FormatRfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::Status CheckInForce(const v1::Agreement& agreement, absl::Time now) {
  FEDNODE_ASSIGN_OR_RETURN(absl::Time from, ParseRfc3339(agreement.valid_from(), "valid_from"));
  FEDNODE_ASSIGN_OR_RETURN(absl::Time until, ParseRfc3339(agreement.valid_until(), "valid_until"));
  if (now < from) {
    return absl::FailedPreconditionError(absl::StrCat("agreement ", agreement.agreement_id(), " v",
                                                      agreement.version(), " not valid before ",
                                                      agreement.valid_from()));
  }
  if (now >= until) {
    return absl::FailedPreconditionError(absl::StrCat("agreement ", agreement.agreement_id(), " v",
                                                      agreement.version(), " expired at ",
                                                      agreement.valid_until()));
  }
  return absl::OkStatus();
}

}  // namespace fednode::agreement
