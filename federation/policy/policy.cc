#include "federation/policy/policy.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "federation/agreement/agreement.h"

namespace fednode::policy {
namespace {

namespace av1 = ::fednode::agreement::v1;

template <typename Range, typename T>
bool Contains(const Range& range, const T& value) {
  return std::find(range.begin(), range.end(), value) != range.end();
}

const av1::Member* FindMember(const av1::Agreement& agreement, absl::string_view ags) {
  for (const av1::Member& m : agreement.members()) {
    if (m.ags() == ags) return &m;
  }
  return nullptr;
}

av1::Access AccessFor(Request::Kind kind) {
  switch (kind) {
    case Request::Kind::kCatalog:
      return av1::ACCESS_CATALOG;
    case Request::Kind::kAggregate:
      return av1::ACCESS_AGGREGATE;
    case Request::Kind::kRows:
      return av1::ACCESS_ROWS;
  }
  return av1::ACCESS_UNSPECIFIED;
}

bool MatchesWho(const av1::Grant& grant, const av1::Member& caller) {
  if (!grant.grantees().empty() && !Contains(grant.grantees(), std::string("*")) &&
      !Contains(grant.grantees(), caller.ags())) {
    return false;
  }
  if (!grant.grantee_roles().empty() &&
      !std::any_of(grant.grantee_roles().begin(), grant.grantee_roles().end(),
                   [&](int role) { return role == caller.role(); })) {
    return false;
  }
  return true;
}

bool MatchesHolder(const av1::Grant& grant, absl::string_view holder_ags) {
  return grant.holders().empty() || Contains(grant.holders(), std::string("*")) ||
         Contains(grant.holders(), std::string(holder_ags));
}

bool MatchesWhat(const av1::Grant& grant, absl::string_view dataset_id,
                 absl::string_view conforms_to) {
  if (!grant.datasets().empty() && !Contains(grant.datasets(), std::string("*")) &&
      !Contains(grant.datasets(), std::string(dataset_id))) {
    return false;
  }
  if (!grant.conforms_to().empty() &&
      (conforms_to.empty() || !Contains(grant.conforms_to(), std::string(conforms_to)))) {
    return false;
  }
  return true;
}

// nullopt when the grant is valid at `now`, else the reason it is not.
std::optional<std::string> GrantTimeProblem(const av1::Grant& grant, absl::Time now) {
  if (!grant.valid_from().empty()) {
    absl::StatusOr<absl::Time> from = agreement::ParseRfc3339(grant.valid_from(), "valid_from");
    if (!from.ok()) return absl::StrCat("grant ", grant.id(), " has an unreadable valid_from");
    if (now < *from) {
      return absl::StrCat("grant ", grant.id(), " is not valid before ", grant.valid_from());
    }
  }
  if (!grant.valid_until().empty()) {
    absl::StatusOr<absl::Time> until = agreement::ParseRfc3339(grant.valid_until(), "valid_until");
    if (!until.ok()) return absl::StrCat("grant ", grant.id(), " has an unreadable valid_until");
    if (now >= *until) {
      return absl::StrCat("grant ", grant.id(), " expired at ", grant.valid_until());
    }
  }
  return std::nullopt;
}

std::string Describe(const av1::Agreement& agreement) {
  return absl::StrCat("agreement ", agreement.agreement_id(), " v", agreement.version());
}

Decision Deny(std::string reason, std::string grant_id = "") {
  Decision d;
  d.allow = false;
  d.reason = std::move(reason);
  d.grant_id = std::move(grant_id);
  return d;
}

}  // namespace

absl::string_view KindName(Request::Kind kind) {
  switch (kind) {
    case Request::Kind::kCatalog:
      return "catalog";
    case Request::Kind::kAggregate:
      return "aggregate";
    case Request::Kind::kRows:
      return "rows";
  }
  return "unknown";
}

Decision Decide(const av1::Agreement& agreement, const Caller& caller, const Request& request,
                absl::Time now) {
  const av1::Member* member = FindMember(agreement, caller.ags);
  if (member == nullptr) {
    return Deny(absl::StrCat("caller ", caller.ags, " is not a member of ", Describe(agreement)));
  }
  absl::Status in_force = agreement::CheckInForce(agreement, now);
  if (!in_force.ok()) return Deny(std::string(in_force.message()));
  if (FindMember(agreement, request.holder_ags) == nullptr) {
    return Deny(
        absl::StrCat("holder ", request.holder_ags, " is not a member of ", Describe(agreement)));
  }
  const av1::Access access = AccessFor(request.kind);

  std::optional<Decision> first_failure;
  for (const av1::Grant& grant : agreement.grants()) {
    if (!MatchesWho(grant, *member) || !MatchesHolder(grant, request.holder_ags) ||
        !MatchesWhat(grant, request.dataset_id, request.conforms_to) ||
        !Contains(grant.access(), static_cast<int>(access))) {
      continue;
    }
    // Applicable: the remaining conditions give specific reasons.
    std::optional<std::string> problem = GrantTimeProblem(grant, now);
    if (!problem && !grant.purposes().empty() && !Contains(grant.purposes(), request.purpose)) {
      const std::string allowed = absl::StrJoin(grant.purposes(), ", ");
      problem =
          request.purpose.empty()
              ? absl::StrCat("purpose required: one of ", allowed, " (grant ", grant.id(), ")")
              : absl::StrCat("purpose \"", request.purpose, "\" is not allowed: one of ", allowed,
                             " (grant ", grant.id(), ")");
    }
    if (!problem && !grant.columns().empty()) {
      for (const std::string& column : request.columns) {
        if (!Contains(grant.columns(), column)) {
          problem = absl::StrCat("grant ", grant.id(), " does not allow column ", column);
          break;
        }
      }
    }
    if (problem) {
      if (!first_failure) first_failure = Deny(*std::move(problem), grant.id());
      continue;
    }
    Decision d;
    d.allow = true;
    d.grant_id = grant.id();
    d.reason = absl::StrCat("allowed by grant ", grant.id());
    d.min_cell_count = grant.min_cell_count() != 0 ? grant.min_cell_count()
                       : agreement.disclosure().min_cell_count() != 0
                           ? agreement.disclosure().min_cell_count()
                           : agreement::kDefaultMinCellCount;
    if (!grant.row_filter().empty()) d.row_filters.push_back(grant.row_filter());
    return d;
  }
  if (first_failure) return *std::move(first_failure);
  return Deny(absl::StrCat("no grant for ", caller.ags, " on dataset ", request.dataset_id, " (",
                           KindName(request.kind), ")"));
}

bool MayKnowOf(const av1::Agreement& agreement, const Caller& caller, absl::string_view holder_ags,
               absl::string_view dataset_id, absl::string_view conforms_to, absl::Time now) {
  return GrantedAccess(agreement, caller, holder_ags, dataset_id, conforms_to, now) !=
         av1::ACCESS_UNSPECIFIED;
}

av1::Access GrantedAccess(const av1::Agreement& agreement, const Caller& caller,
                          absl::string_view holder_ags, absl::string_view dataset_id,
                          absl::string_view conforms_to, absl::Time now) {
  const av1::Member* member = FindMember(agreement, caller.ags);
  if (member == nullptr || FindMember(agreement, holder_ags) == nullptr) {
    return av1::ACCESS_UNSPECIFIED;
  }
  if (!agreement::CheckInForce(agreement, now).ok()) return av1::ACCESS_UNSPECIFIED;
  int best = av1::ACCESS_UNSPECIFIED;
  for (const av1::Grant& grant : agreement.grants()) {
    if (MatchesWho(grant, *member) && MatchesHolder(grant, holder_ags) &&
        MatchesWhat(grant, dataset_id, conforms_to) && !GrantTimeProblem(grant, now)) {
      for (int a : grant.access()) {
        if (a <= av1::ACCESS_ROWS) best = std::max(best, a);
      }
    }
  }
  return static_cast<av1::Access>(best);
}

}  // namespace fednode::policy
