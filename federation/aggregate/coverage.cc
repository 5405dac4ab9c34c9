#include "federation/aggregate/coverage.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fednode::aggregate {

std::string OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAnswered:
      return "answered";
    case Outcome::kUnreachable:
      return "unreachable";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kDeadlineExceeded:
      return "deadline exceeded";
    case Outcome::kSchemaMismatch:
      return "schema mismatch";
    case Outcome::kHoldsNone:
      return "holds no such dataset";
    case Outcome::kNotAsked:
      return "not asked";
    case Outcome::kNoOutcome:
      return "no outcome";
  }
  return "unknown";
}

absl::StatusOr<Coverage> ComputeCoverage(absl::Span<const ExpectedMember> expected,
                                         absl::Span<const MemberOutcome> outcomes) {
  absl::flat_hash_set<std::string> known;
  for (const ExpectedMember& m : expected) {
    if (!known.insert(m.ags).second) {
      return absl::InvalidArgumentError(absl::StrCat("expected member ", m.ags, " given twice"));
    }
  }
  absl::flat_hash_map<std::string, const MemberOutcome*> by_ags;
  for (const MemberOutcome& o : outcomes) {
    if (!known.contains(o.ags)) {
      return absl::InvalidArgumentError(
          absl::StrCat("outcome for ", o.ags, ", which is not an expected member"));
    }
    if (!by_ags.emplace(o.ags, &o).second) {
      return absl::InvalidArgumentError(absl::StrCat("two outcomes for member ", o.ags));
    }
  }
  Coverage cov;
  cov.expected = static_cast<int>(expected.size());
  bool populations_known = true;
  int64_t answered_pop = 0;
  int64_t total_pop = 0;
  for (const ExpectedMember& m : expected) {
    CoverageEntry entry{m.ags, m.name, m.population, Outcome::kNoOutcome, ""};
    auto it = by_ags.find(m.ags);
    if (it != by_ags.end()) {
      entry.outcome = it->second->outcome;
      entry.reason = it->second->reason;
    }
    if (m.population <= 0) populations_known = false;
    total_pop += m.population > 0 ? m.population : 0;
    if (entry.outcome == Outcome::kAnswered || entry.outcome == Outcome::kHoldsNone) {
      answered_pop += m.population > 0 ? m.population : 0;
      (entry.outcome == Outcome::kAnswered ? cov.answered : cov.holds_none)
          .push_back(std::move(entry));
    } else {
      cov.missing.push_back(std::move(entry));
    }
  }
  cov.partial = !cov.missing.empty();
  if (populations_known && total_pop > 0) {
    cov.answered_population = answered_pop;
    cov.expected_population = total_pop;
    cov.population_share = static_cast<double>(answered_pop) / static_cast<double>(total_pop);
  }
  return cov;
}

namespace {

// Appends the members (members not asked are only counted, at the end).
void AppendMembers(const std::vector<CoverageEntry>& members, bool with_outcome,
                   std::string* line) {
  size_t shown = 0;
  size_t not_asked = 0;
  for (const CoverageEntry& m : members) {
    if (m.outcome == Outcome::kNotAsked) {
      ++not_asked;
      continue;
    }
    absl::StrAppend(line, shown++ > 0 ? "; " : "", m.ags, m.name.empty() ? "" : " ", m.name);
    if (with_outcome) {
      absl::StrAppend(line, " (", OutcomeName(m.outcome), m.reason.empty() ? "" : ": ", m.reason,
                      ")");
    }
  }
  if (not_asked > 0) {
    absl::StrAppend(line, shown > 0 ? "; " : "", not_asked, " member", not_asked == 1 ? "" : "s",
                    " not asked");
  }
}

}  // namespace

std::string CoverageLine(const Coverage& coverage) {
  std::string share =
      coverage.population_share.has_value()
          ? absl::StrFormat("%.2f %% of the population", *coverage.population_share * 100.0)
          : std::string("population share unknown");
  const size_t covered = coverage.answered.size() + coverage.holds_none.size();
  std::string line =
      coverage.partial
          ? absl::StrCat("partial: ", covered, " of ", coverage.expected, " members answered (",
                         share, "); missing: ")
          : absl::StrCat("complete: all ", coverage.expected, " members answered (", share, ")");
  AppendMembers(coverage.missing, /*with_outcome=*/true, &line);
  if (!coverage.holds_none.empty()) {
    absl::StrAppend(&line, "; ", coverage.holds_none.size(), " hold no such dataset: ");
    AppendMembers(coverage.holds_none, /*with_outcome=*/false, &line);
  }
  return line;
}

}  // namespace fednode::aggregate
