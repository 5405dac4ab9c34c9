// Policy: (agreement, caller, request, now) -> decision, deny by default.
//
// Layer: federation/policy; called by the node answering a peer (the holder)
// for every federation request, and when it filters the catalog a peer sees.
// Pure: no I/O, no clock reads (`now` is passed in), no logging; the caller
// writes the audit entry from the Decision.
//
// How a decision is made (Decide):
//   1. A caller who is not a member of the agreement is denied before
//      anything else (so a non-member learns nothing about grants).
//   2. The agreement must be in force at `now`.
//   3. The holder (the node answering) must be a member.
//   4. Grants are tried in the order they appear in the agreement; the FIRST
//      grant whose conditions all hold decides (its min_cell_count and
//      row_filter apply). Conditions of a grant, all of which must hold when
//      set:
//        who    grantees contain the caller's AGS or "*";
//               grantee_roles contain the caller's role;
//        holder holders are empty, contain "*", or contain the holder's AGS;
//        what   datasets contain request.dataset_id or "*" (every dataset);
//               conforms_to contains request.conforms_to;
//        access the grant lists the access the request kind needs (catalog,
//               aggregate, rows; a higher one does not include a lower one);
//        time   valid_from <= now < valid_until (when set);
//        purpose purposes are empty or contain request.purpose;
//        columns columns are empty or contain every referenced column.
//      A grant that matches who, holder, what and access is "applicable";
//      when none is applicable the reason is "no grant for <caller> on
//      dataset <id> (<kind>)"; when some are but all fail on time, purpose or
//      columns, the reason is that of the first applicable grant.
//   Order the agreement's grants from specific to general when they differ in
//   row_filter or min_cell_count: the first match wins.
//
// Thread-safety: pure functions, safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "proto/agreement/v1/agreement.pb.h"

namespace fednode::policy {

// The verified identity of the peer: the member whose pinned key the TLS
// client certificate carries (certs::PeerAuthProcessor). Never taken from the
// request body.
struct Caller {
  std::string ags;
};

// What the peer asks for, as the holder understands it (the holder derives
// every field from the parsed query plan and its own catalog, not from
// claims of the peer, except `purpose`, which the peer declares).
struct Request {
  enum class Kind { kCatalog, kAggregate, kRows };
  Kind kind = Kind::kCatalog;
  // The member answering (whose data is asked for), by AGS.
  std::string holder_ags;
  // The dataset asked for, and its schema's conforms_to id from the holder's
  // catalog ("" when it has none).
  std::string dataset_id;
  std::string conforms_to;
  // Every column the query references (selected, filtered, grouped,
  // aggregated, ordered); empty for catalog requests.
  std::vector<std::string> columns;
  // The purpose the caller declares, e.g. "verkehrsplanung"; may be empty.
  std::string purpose;
};

struct Decision {
  bool allow = false;
  // Why, for the audit log and the denied peer, e.g. "allowed by grant
  // lich-parken" or "grant lich-parken does not allow column max_spaces".
  std::string reason;
  // The grant that allowed, or whose condition failed first; "" when none.
  std::string grant_id;
  // Aggregates only: cells with fewer contributing units are suppressed.
  // The grant's value, else the agreement's disclosure default, else 3.
  uint32_t min_cell_count = 0;
  // SQL boolean expressions the holder ANDs to the query's filter (from the
  // deciding grant's row_filter). Empty: none.
  std::vector<std::string> row_filters;
};

// "catalog", "aggregate", "rows".
absl::string_view KindName(Request::Kind kind);

// Decide()
//
// The decision for `request` by `caller` under `agreement` at `now` (see the
// file comment for the rules and their order). Never fails: anything that
// cannot be evaluated (an unparseable time) denies.
// REQUIRES: `agreement` passed ValidateAgreement (it was installed through
// CheckInitial or CheckAmendment).
Decision Decide(const agreement::v1::Agreement& agreement, const Caller& caller,
                const Request& request, absl::Time now);

// MayKnowOf()
//
// Whether `caller` may see the catalog entry of dataset `dataset_id` (schema
// `conforms_to`) held by `holder_ags`: the caller is a member, the agreement
// and some grant are in force, and that grant matches who, holder and what
// with any access at all (purposes and columns are not considered). No grant:
// the entry is invisible.
bool MayKnowOf(const agreement::v1::Agreement& agreement, const Caller& caller,
               absl::string_view holder_ags, absl::string_view dataset_id,
               absl::string_view conforms_to, absl::Time now);

// GrantedAccess()
//
// The highest access (ROWS > AGGREGATE > CATALOG) that the grants in force
// give `caller` on dataset `dataset_id` (schema `conforms_to`) held by
// `holder_ags`, judged like MayKnowOf: who, holder, what and time; purposes
// and columns are not considered (a query must still satisfy them).
// ACCESS_UNSPECIFIED when MayKnowOf is false.
agreement::v1::Access GrantedAccess(const agreement::v1::Agreement& agreement, const Caller& caller,
                                    absl::string_view holder_ags, absl::string_view dataset_id,
                                    absl::string_view conforms_to, absl::Time now);

}  // namespace fednode::policy
