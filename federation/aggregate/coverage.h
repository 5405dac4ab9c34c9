// Coverage of a regional statistic: which of the agreement's members
// answered, which are missing and why, and what share of the population the
// answering members hold. A result that misses any expected member is
// "partial" and must never be presented as county-wide.
//
// Layer: federation/aggregate, a pure library; called by the county's
// aggregate command with the fan-out's per-member outcomes.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fednode::aggregate {

// A member the agreement expects to answer (agreement Member: ags, name,
// population; population 0 = unknown).
struct ExpectedMember {
  std::string ags;
  std::string name;
  int64_t population = 0;  // inhabitants; 0: unknown
};

enum class Outcome {
  kAnswered,
  kUnreachable,       // connection failed (UNAVAILABLE)
  kRefused,           // the member refused (PERMISSION_DENIED, ...); reason given
  kDeadlineExceeded,  // no answer within the deadline
  kSchemaMismatch,    // the answer did not fit the plan; reason given
  kHoldsNone,         // the member answered that it holds no dataset of the
                      // schema (e.g. a municipality without bathing waters):
                      // covered, contributing nothing
  kNotAsked,          // the caller restricted the question to other members
  kNoOutcome,         // no outcome was reported for an expected member
};

// "answered", "unreachable", "refused", "deadline exceeded", "schema
// mismatch", "holds no such dataset", "not asked", "no outcome".
std::string OutcomeName(Outcome outcome);

// What the fan-out observed for one member. `reason` is shown to the county
// user: no personal data, no record contents.
struct MemberOutcome {
  std::string ags;
  Outcome outcome = Outcome::kNoOutcome;
  std::string reason;  // optional; shown for every outcome except kAnswered
};

struct CoverageEntry {
  std::string ags;
  std::string name;
  int64_t population = 0;
  Outcome outcome = Outcome::kNoOutcome;
  std::string reason;
};

struct Coverage {
  int expected = 0;
  // In the agreement's member order. Members that hold no dataset of the
  // schema are covered (they answered, with nothing to contribute) and
  // listed apart; they count towards the population share.
  std::vector<CoverageEntry> answered;
  std::vector<CoverageEntry> holds_none;
  std::vector<CoverageEntry> missing;
  // True whenever any expected member is missing.
  bool partial = false;
  // Inhabitants of the covered members (answered or holding none) / of all
  // expected members; only
  // when every expected member has a known population, else nullopt.
  std::optional<int64_t> answered_population;
  std::optional<int64_t> expected_population;
  // answered_population / expected_population in [0, 1]; nullopt: unknown.
  std::optional<double> population_share;
};

// ComputeCoverage()
//
// Joins the expected members with the observed outcomes. An expected member
// without an outcome is missing with Outcome::kNoOutcome.
// Errors: InvalidArgument when an expected AGS repeats, or an outcome names
// an AGS that is not expected or is reported twice (a non-member's answer
// must never count).
absl::StatusOr<Coverage> ComputeCoverage(absl::Span<const ExpectedMember> expected,
                                         absl::Span<const MemberOutcome> outcomes);

// CoverageLine()
//
// One line for the user, e.g.
//   "complete: all 18 members answered (100.00 % of the population)"
//   "complete: all 18 members answered (100.00 % of the population); 14 hold
//    no such dataset: 06531001 Allendorf (Lumda), Stadt; ..."
//   "partial: 17 of 18 members answered (94.95 % of the population); missing:
//    06531006 Grünberg, Stadt (unreachable)"
// (one line, no break). The share has two decimals and "." as decimal mark;
// "population share unknown" when not every population is known. Missing
// members are listed in agreement order with "outcome: reason" when a reason
// is given, members not asked only counted ("17 members not asked");
// members holding no such dataset are named after them.
std::string CoverageLine(const Coverage& coverage);

}  // namespace fednode::aggregate
