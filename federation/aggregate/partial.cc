#include "federation/aggregate/partial.h"

#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "node/base/status_macros.h"
#include "node/query/executor.h"

namespace fednode::aggregate {
namespace {

using query::v1::AggregateFunction;
using query::v1::SelectItem;
using query::v1::Value;

constexpr absl::string_view kReservedPrefix = "__partial_";

bool NeedsSum(AggregateFunction f) {
  return f == query::v1::AGGREGATE_FUNCTION_SUM || f == query::v1::AGGREGATE_FUNCTION_AVG;
}

SelectItem AggregateItem(AggregateFunction f, const std::string& column, std::string alias) {
  SelectItem item;
  item.set_alias(std::move(alias));
  item.mutable_aggregate()->set_function(f);
  item.mutable_aggregate()->set_column(column);
  return item;
}

std::string FunctionName(AggregateFunction f) { return query::v1::AggregateFunction_Name(f); }

// A value of `v`'s column: either null or of `kind`.
bool HasKindOrNull(const Value& v, Value::KindCase kind) {
  return v.kind_case() == Value::kNullValue || v.kind_case() == kind;
}

bool IsNull(const Value& v) {
  return v.kind_case() == Value::kNullValue || v.kind_case() == Value::KIND_NOT_SET;
}

}  // namespace

Value::KindCase KindOfType(storage::v1::ColumnType type) {
  switch (type) {
    case storage::v1::COLUMN_TYPE_INT64:
      return Value::kInt64Value;
    case storage::v1::COLUMN_TYPE_DOUBLE:
      return Value::kDoubleValue;
    case storage::v1::COLUMN_TYPE_STRING:
      return Value::kStringValue;
    case storage::v1::COLUMN_TYPE_BOOL:
      return Value::kBoolValue;
    case storage::v1::COLUMN_TYPE_DATE:
      return Value::kDateDays;
    case storage::v1::COLUMN_TYPE_TIMESTAMP:
      return Value::kTimestampMicros;
    default:
      return Value::KIND_NOT_SET;
  }
}

int CompareValues(const Value& a, const Value& b) {
  bool an = IsNull(a);
  bool bn = IsNull(b);
  if (an || bn) return an == bn ? 0 : (an ? -1 : 1);
  if (a.kind_case() != b.kind_case()) return a.kind_case() < b.kind_case() ? -1 : 1;
  auto three = [](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (a.kind_case()) {
    case Value::kInt64Value:
      return three(a.int64_value(), b.int64_value());
    case Value::kDoubleValue:
      return three(a.double_value(), b.double_value());
    case Value::kStringValue: {
      int c = a.string_value().compare(b.string_value());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Value::kBoolValue:
      return three(a.bool_value(), b.bool_value());
    case Value::kDateDays:
      return three(a.date_days(), b.date_days());
    case Value::kTimestampMicros:
      return three(a.timestamp_micros(), b.timestamp_micros());
    default:
      return 0;
  }
}

absl::StatusOr<PartialPlan> ToPartialPlan(const query::v1::QueryPlan& plan) {
  if (plan.has_limit() || plan.offset() != 0) {
    return absl::InvalidArgumentError(
        "partial aggregation does not support LIMIT or OFFSET (a partial top-k is not a top-k "
        "of the union)");
  }
  PartialPlan out;
  out.plan.set_dataset_id(plan.dataset_id());
  if (plan.has_filter()) *out.plan.mutable_filter() = plan.filter();

  absl::flat_hash_set<std::string> grouped(plan.group_by().begin(), plan.group_by().end());
  absl::flat_hash_set<std::string> names;
  for (const SelectItem& item : plan.select()) {
    std::string name = query::OutputName(item);
    if (absl::StartsWith(name, kReservedPrefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("output name ", name, " is reserved for partial aggregation"));
    }
    if (!item.has_aggregate() && !grouped.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("select item ", name, " is neither aggregated nor grouped"));
    }
  }
  // Group items first, in GROUP BY order.
  for (const std::string& g : plan.group_by()) {
    const SelectItem* found = nullptr;
    for (const SelectItem& item : plan.select()) {
      if (!item.has_aggregate() && query::OutputName(item) == g) {
        found = &item;
        break;
      }
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("group by ", g, " names no select item"));
    }
    if (!names.insert(g).second) {
      return absl::InvalidArgumentError(absl::StrCat("group by ", g, " given twice"));
    }
    SelectItem item = *found;
    item.set_hidden(false);
    item.set_alias(g);
    *out.plan.add_select() = std::move(item);
    out.group_columns.push_back(g);
    out.plan.add_group_by(g);
  }
  out.units_index = out.plan.select_size();
  *out.plan.add_select() =
      AggregateItem(query::v1::AGGREGATE_FUNCTION_COUNT, "", "__partial_units");

  for (const SelectItem& item : plan.select()) {
    if (!item.has_aggregate() || item.hidden()) continue;
    const SelectItem::Aggregate& agg = item.aggregate();
    if (agg.distinct()) {
      return absl::InvalidArgumentError(absl::StrCat("COUNT(DISTINCT) in ", query::OutputName(item),
                                                     " cannot be merged across members"));
    }
    PartialPlan::Aggregate a;
    a.function = agg.function();
    a.column = agg.column();
    a.output_name = query::OutputName(item);
    if (!names.insert(a.output_name).second) {
      return absl::InvalidArgumentError(absl::StrCat("output name ", a.output_name, " repeated"));
    }
    size_t i = out.aggregates.size();
    auto add = [&](AggregateFunction f, absl::string_view part) {
      *out.plan.add_select() =
          AggregateItem(f, a.column, absl::StrCat(kReservedPrefix, i, "_", part));
      return out.plan.select_size() - 1;
    };
    switch (a.function) {
      case query::v1::AGGREGATE_FUNCTION_COUNT:
        if (!a.column.empty()) a.count_index = add(query::v1::AGGREGATE_FUNCTION_COUNT, "count");
        break;
      case query::v1::AGGREGATE_FUNCTION_SUM:
      case query::v1::AGGREGATE_FUNCTION_AVG:
      case query::v1::AGGREGATE_FUNCTION_MIN:
      case query::v1::AGGREGATE_FUNCTION_MAX:
        if (a.column.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(FunctionName(a.function), " needs a column in ", a.output_name));
        }
        a.count_index = add(query::v1::AGGREGATE_FUNCTION_COUNT, "count");
        if (NeedsSum(a.function)) a.sum_index = add(query::v1::AGGREGATE_FUNCTION_SUM, "sum");
        if (a.function == query::v1::AGGREGATE_FUNCTION_MIN) {
          a.min_index = add(query::v1::AGGREGATE_FUNCTION_MIN, "min");
        }
        if (a.function == query::v1::AGGREGATE_FUNCTION_MAX) {
          a.max_index = add(query::v1::AGGREGATE_FUNCTION_MAX, "max");
        }
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unsupported aggregate function in ", a.output_name));
    }
    out.aggregates.push_back(std::move(a));
  }
  if (out.aggregates.empty()) {
    return absl::InvalidArgumentError("plan has no aggregate; nothing to merge");
  }
  return out;
}

absl::StatusOr<v1::PartialAggregate> ToPartial(const PartialPlan& partial,
                                               const query::v1::ResultSet& result,
                                               const v1::Origin& origin) {
  if (result.columns_size() != partial.plan.select_size()) {
    return absl::InvalidArgumentError(absl::StrCat("result has ", result.columns_size(),
                                                   " columns, partial plan ",
                                                   partial.plan.select_size()));
  }
  for (int c = 0; c < result.columns_size(); ++c) {
    std::string want = query::OutputName(partial.plan.select(c));
    if (result.columns(c).name() != want) {
      return absl::InvalidArgumentError(
          absl::StrCat("result column ", c, " is ", result.columns(c).name(), ", expected ", want));
    }
  }
  v1::PartialAggregate out;
  *out.mutable_origin() = origin;
  out.mutable_origin()->set_dataset_version(result.dataset_version());
  size_t ngroup = partial.group_columns.size();
  for (size_t g = 0; g < ngroup; ++g) *out.add_group_columns() = result.columns(g);
  for (const PartialPlan::Aggregate& a : partial.aggregates) {
    v1::AggregateSpec* spec = out.add_aggregates();
    spec->set_function(a.function);
    spec->set_column(a.column);
    spec->set_output_name(a.output_name);
    int typed = a.sum_index >= 0 ? a.sum_index : (a.min_index >= 0 ? a.min_index : a.max_index);
    if (typed >= 0) spec->set_value_type(result.columns(typed).type());
  }
  auto int_at = [&](const query::v1::Row& row, int index, int64_t* v) -> absl::Status {
    const Value& value = row.values(index);
    if (value.kind_case() != Value::kInt64Value || value.int64_value() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("result column ", result.columns(index).name(), " is not a count"));
    }
    *v = value.int64_value();
    return absl::OkStatus();
  };
  for (const query::v1::Row& row : result.rows()) {
    if (row.values_size() != result.columns_size()) {
      return absl::InvalidArgumentError("result row has the wrong number of values");
    }
    v1::PartialGroup group;
    for (size_t g = 0; g < ngroup; ++g) *group.add_key() = row.values(static_cast<int>(g));
    int64_t units = 0;
    FEDNODE_RETURN_IF_ERROR(int_at(row, partial.units_index, &units));
    group.set_units(units);
    for (const PartialPlan::Aggregate& a : partial.aggregates) {
      v1::AggregateState* st = group.add_aggregates();
      int64_t count = units;
      if (a.count_index >= 0) FEDNODE_RETURN_IF_ERROR(int_at(row, a.count_index, &count));
      st->set_count(count);
      if (a.sum_index >= 0) *st->mutable_sum() = row.values(a.sum_index);
      if (a.min_index >= 0) *st->mutable_min() = row.values(a.min_index);
      if (a.max_index >= 0) *st->mutable_max() = row.values(a.max_index);
    }
    if (units == 0 && ngroup > 0) continue;
    *out.add_groups() = std::move(group);
  }
  if (ngroup == 0 && out.groups_size() == 0) {
    return absl::InvalidArgumentError("ungrouped result has no row");
  }
  FEDNODE_RETURN_IF_ERROR(ValidatePartial(partial, out));
  return out;
}

absl::Status ValidatePartial(const PartialPlan& partial, const v1::PartialAggregate& p) {
  std::string who = absl::StrCat("partial from member ", p.origin().member_ags(), ": ");
  auto bad = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(who, parts...));
  };
  if (p.group_columns_size() != static_cast<int>(partial.group_columns.size())) {
    return bad("has ", p.group_columns_size(), " group columns, expected ",
               partial.group_columns.size());
  }
  for (int g = 0; g < p.group_columns_size(); ++g) {
    if (p.group_columns(g).name() != partial.group_columns[g]) {
      return bad("group column ", g, " is ", p.group_columns(g).name(), ", expected ",
                 partial.group_columns[g]);
    }
  }
  if (p.aggregates_size() != static_cast<int>(partial.aggregates.size())) {
    return bad("has ", p.aggregates_size(), " aggregates, expected ", partial.aggregates.size());
  }
  for (int i = 0; i < p.aggregates_size(); ++i) {
    const v1::AggregateSpec& s = p.aggregates(i);
    const PartialPlan::Aggregate& a = partial.aggregates[i];
    if (s.function() != a.function || s.column() != a.column || s.output_name() != a.output_name) {
      return bad("aggregate ", i, " is not ", a.output_name);
    }
    bool typed = a.sum_index >= 0 || a.min_index >= 0 || a.max_index >= 0;
    Value::KindCase kind = KindOfType(s.value_type());
    if (typed && kind == Value::KIND_NOT_SET) return bad(a.output_name, " has no value type");
    if (a.sum_index >= 0 && kind != Value::kInt64Value && kind != Value::kDoubleValue) {
      return bad(a.output_name, " sums a non-numeric type");
    }
  }
  if (partial.group_columns.empty() && p.groups_size() != 1) {
    return bad("ungrouped plan needs exactly one group, got ", p.groups_size());
  }
  for (const v1::PartialGroup& group : p.groups()) {
    if (group.key_size() != p.group_columns_size()) return bad("group key has the wrong size");
    for (int g = 0; g < group.key_size(); ++g) {
      if (!HasKindOrNull(group.key(g), KindOfType(p.group_columns(g).type()))) {
        return bad("group key value of ", p.group_columns(g).name(), " has the wrong type");
      }
    }
    if (group.units() < 0) return bad("negative units");
    if (group.units() == 0 && !partial.group_columns.empty()) return bad("group with 0 units");
    if (group.aggregates_size() != p.aggregates_size()) return bad("group has the wrong states");
    for (int i = 0; i < group.aggregates_size(); ++i) {
      const v1::AggregateState& st = group.aggregates(i);
      const PartialPlan::Aggregate& a = partial.aggregates[i];
      Value::KindCase kind = KindOfType(p.aggregates(i).value_type());
      if (st.count() < 0 || st.count() > group.units()) {
        return bad(a.output_name, ": count outside [0, units]");
      }
      auto check = [&](bool wanted, bool has, const Value& v, absl::string_view what) {
        if (wanted != has)
          return bad(a.output_name, ": ", what, wanted ? " missing" : " unexpected");
        if (!wanted) return absl::OkStatus();
        if ((st.count() == 0) != IsNull(v)) {
          return bad(a.output_name, ": ", what, " must be null exactly when count is 0");
        }
        if (!HasKindOrNull(v, kind)) return bad(a.output_name, ": ", what, " has the wrong type");
        if (v.kind_case() == Value::kDoubleValue && std::isnan(v.double_value())) {
          return bad(a.output_name, ": ", what, " is NaN");
        }
        return absl::OkStatus();
      };
      FEDNODE_RETURN_IF_ERROR(check(a.sum_index >= 0, st.has_sum(), st.sum(), "sum"));
      FEDNODE_RETURN_IF_ERROR(check(a.min_index >= 0, st.has_min(), st.min(), "min"));
      FEDNODE_RETURN_IF_ERROR(check(a.max_index >= 0, st.has_max(), st.max(), "max"));
    }
  }
  return absl::OkStatus();
}

}  // namespace fednode::aggregate
