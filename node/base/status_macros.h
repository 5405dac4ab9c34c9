// Status propagation macros (abseil 20220623 ships none).
//
// Plain if/temporary forms without GNU statement expressions, so they work in
// any C++20 compiler. Safe for use from any thread.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FEDNODE_STATUS_CONCAT_INNER(a, b) a##b
#define FEDNODE_STATUS_CONCAT(a, b) FEDNODE_STATUS_CONCAT_INNER(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define FEDNODE_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status fednode_status_ = (expr);           \
    if (!fednode_status_.ok()) return fednode_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (a declaration or an lvalue).
#define FEDNODE_ASSIGN_OR_RETURN(lhs, rexpr) \
  FEDNODE_ASSIGN_OR_RETURN_IMPL(FEDNODE_STATUS_CONCAT(fednode_statusor_, __LINE__), lhs, rexpr)

#define FEDNODE_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

// Prefixes a non-OK status's message with `context` ("context: message").
namespace fednode {
absl::Status Annotate(const absl::Status& status, absl::string_view context);
}  // namespace fednode
