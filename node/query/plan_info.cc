#include "node/query/plan_info.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"

#include "node/query/executor.h"

namespace fednode::query {
namespace {

void FilterColumns(const v1::Filter& f, std::vector<std::string>* out) {
  switch (f.kind_case()) {
    case v1::Filter::kCompare:
      out->push_back(f.compare().column());
      break;
    case v1::Filter::kIn:
      out->push_back(f.in().column());
      break;
    case v1::Filter::kBetween:
      out->push_back(f.between().column());
      break;
    case v1::Filter::kLike:
      out->push_back(f.like().column());
      break;
    case v1::Filter::kIsNull:
      out->push_back(f.is_null().column());
      break;
    case v1::Filter::kAnd:
      for (const auto& g : f.and_().operands()) FilterColumns(g, out);
      break;
    case v1::Filter::kOr:
      for (const auto& g : f.or_().operands()) FilterColumns(g, out);
      break;
    case v1::Filter::kNot:
      FilterColumns(f.not_(), out);
      break;
    default:
      break;
  }
}

}  // namespace

std::vector<std::string> ReferencedColumns(const v1::QueryPlan& plan) {
  std::vector<std::string> out;
  if (plan.select().empty()) out.emplace_back("*");
  for (const auto& item : plan.select()) {
    switch (item.kind_case()) {
      case v1::SelectItem::kColumn:
        out.push_back(item.column());
        break;
      case v1::SelectItem::kAggregate:
        if (!item.aggregate().column().empty()) out.push_back(item.aggregate().column());
        break;
      case v1::SelectItem::kExtract:
        out.push_back(item.extract().column());
        break;
      default:
        break;
    }
  }
  if (plan.has_filter()) FilterColumns(plan.filter(), &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool IsAggregate(const v1::QueryPlan& plan) {
  bool any_aggregate = false;
  absl::flat_hash_set<std::string> groups(plan.group_by().begin(), plan.group_by().end());
  for (const auto& item : plan.select()) {
    if (item.kind_case() == v1::SelectItem::kAggregate) {
      any_aggregate = true;
    } else if (!groups.contains(OutputName(item))) {
      return false;  // a plain value outside the groups: rows
    }
  }
  return any_aggregate || (!plan.group_by().empty() && !plan.select().empty());
}

}  // namespace fednode::query
