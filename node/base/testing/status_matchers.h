// GoogleTest matchers for absl::Status / absl::StatusOr (test-only).
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace fednode::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()), result_listener);
}

// An OK StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace fednode::testing

#define FEDNODE_ASSERT_OK(expr) ASSERT_THAT((expr), ::fednode::testing::IsOk())
#define FEDNODE_EXPECT_OK(expr) EXPECT_THAT((expr), ::fednode::testing::IsOk())

// Asserts `rexpr` is OK and moves its value into `lhs`.
#define FEDNODE_ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  FEDNODE_ASSERT_OK_AND_ASSIGN_IMPL(FEDNODE_TEST_CONCAT(statusor_, __LINE__), lhs, rexpr)
#define FEDNODE_TEST_CONCAT_INNER(a, b) a##b
#define FEDNODE_TEST_CONCAT(a, b) FEDNODE_TEST_CONCAT_INNER(a, b)
#define FEDNODE_ASSERT_OK_AND_ASSIGN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                      \
  ASSERT_TRUE(statusor.ok()) << statusor.status();              \
  lhs = std::move(statusor).value()
