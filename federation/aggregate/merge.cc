#include "federation/aggregate/merge.h"

#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "node/base/status_macros.h"

namespace fednode::aggregate {
namespace {

using query::v1::Value;

struct KeyLess {
  bool operator()(const std::vector<Value>& a, const std::vector<Value>& b) const {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      int c = CompareValues(a[i], b[i]);
      if (c != 0) return c < 0;
    }
    return a.size() < b.size();
  }
};

// Exact accumulation; converted to MergedState at the end.
struct Accumulator {
  int64_t count = 0;
  absl::int128 sum_int = 0;
  double sum_double = 0;
  Value min;
  Value max;
};

struct CellBuilder {
  int64_t units = 0;
  std::set<std::string> members;
  std::vector<Accumulator> acc;
};

Value NullValue() {
  Value v;
  v.set_null_value(true);
  return v;
}

bool IsNull(const Value& v) {
  return v.kind_case() == Value::kNullValue || v.kind_case() == Value::KIND_NOT_SET;
}

void TakeMin(const Value& v, Value* into) {
  if (IsNull(v)) return;
  if (IsNull(*into) || CompareValues(v, *into) < 0) *into = v;
}

void TakeMax(const Value& v, Value* into) {
  if (IsNull(v)) return;
  if (IsNull(*into) || CompareValues(v, *into) > 0) *into = v;
}

void AddAccumulator(const Accumulator& from, Accumulator* into) {
  into->count += from.count;
  into->sum_int += from.sum_int;
  into->sum_double += from.sum_double;
  TakeMin(from.min, &into->min);
  TakeMax(from.max, &into->max);
}

void AddBuilder(const CellBuilder& from, CellBuilder* into) {
  into->units += from.units;
  into->members.insert(from.members.begin(), from.members.end());
  if (into->acc.empty()) into->acc.resize(from.acc.size());
  for (size_t i = 0; i < from.acc.size(); ++i) AddAccumulator(from.acc[i], &into->acc[i]);
}

absl::StatusOr<Cell> Finish(CellKind kind, std::vector<Value> key, const CellBuilder& b,
                            const PartialPlan& partial, const std::vector<OutputAggregate>& outs,
                            const std::vector<bool>& int_sums) {
  Cell cell;
  cell.kind = kind;
  cell.key = std::move(key);
  cell.units = b.units;
  cell.members.assign(b.members.begin(), b.members.end());
  for (size_t i = 0; i < outs.size(); ++i) {
    const Accumulator& a = i < b.acc.size() ? b.acc[i] : Accumulator();
    const OutputAggregate& out = outs[i];
    bool int_sum = int_sums[i];
    MergedState st;
    st.count = a.count;
    st.int_sum = int_sum;
    bool fits = a.sum_int >= std::numeric_limits<int64_t>::min() &&
                a.sum_int <= std::numeric_limits<int64_t>::max();
    st.sum_overflow = int_sum && !fits;
    st.sum_int = fits ? static_cast<int64_t>(a.sum_int) : 0;
    st.sum_double = int_sum ? static_cast<double>(a.sum_int) : a.sum_double;
    st.min = IsNull(a.min) ? NullValue() : a.min;
    st.max = IsNull(a.max) ? NullValue() : a.max;
    Value v = NullValue();
    switch (out.function) {
      case query::v1::AGGREGATE_FUNCTION_COUNT:
        v.set_int64_value(partial.aggregates[i].column.empty() ? b.units : a.count);
        break;
      case query::v1::AGGREGATE_FUNCTION_SUM:
        if (a.count == 0) break;
        if (int_sum) {
          if (st.sum_overflow) {
            return absl::OutOfRangeError(
                absl::StrCat("integer overflow in merged ", out.name, " (SUM of int64)"));
          }
          v.set_int64_value(st.sum_int);
        } else {
          v.set_double_value(st.sum_double);
        }
        break;
      case query::v1::AGGREGATE_FUNCTION_AVG:
        if (a.count > 0) v.set_double_value(st.sum_double / static_cast<double>(a.count));
        break;
      case query::v1::AGGREGATE_FUNCTION_MIN:
        v = st.min;
        break;
      case query::v1::AGGREGATE_FUNCTION_MAX:
        v = st.max;
        break;
      default:
        return absl::InternalError("unexpected aggregate function");
    }
    cell.values.push_back(std::move(v));
    cell.states.push_back(std::move(st));
  }
  return cell;
}

}  // namespace

absl::StatusOr<MergedTable> Merge(const PartialPlan& partial,
                                  absl::Span<const v1::PartialAggregate> partials,
                                  const MergeOptions& options) {
  MergedTable table;
  std::set<std::string> seen;
  for (const v1::PartialAggregate& p : partials) {
    FEDNODE_RETURN_IF_ERROR(ValidatePartial(partial, p));
    if (!seen.insert(p.origin().member_ags()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two partials from member ", p.origin().member_ags()));
    }
  }
  table.members.assign(seen.begin(), seen.end());

  // Column and value types: from the first partial; the others must agree.
  if (options.group_by_member) {
    query::v1::ResultColumn c;
    c.set_name("member_ags");
    c.set_type(storage::v1::COLUMN_TYPE_STRING);
    table.key_columns.push_back(c);
  }
  for (const std::string& g : partial.group_columns) {
    query::v1::ResultColumn c;
    c.set_name(g);
    table.key_columns.push_back(c);
  }
  for (const PartialPlan::Aggregate& a : partial.aggregates) {
    OutputAggregate out;
    out.name = a.output_name;
    out.function = a.function;
    if (a.function == query::v1::AGGREGATE_FUNCTION_COUNT)
      out.type = storage::v1::COLUMN_TYPE_INT64;
    if (a.function == query::v1::AGGREGATE_FUNCTION_AVG) out.type = storage::v1::COLUMN_TYPE_DOUBLE;
    table.aggregates.push_back(out);
  }
  size_t offset = options.group_by_member ? 1 : 0;
  std::vector<storage::v1::ColumnType> value_types(partial.aggregates.size(),
                                                   storage::v1::COLUMN_TYPE_UNSPECIFIED);
  for (size_t pi = 0; pi < partials.size(); ++pi) {
    const v1::PartialAggregate& p = partials[pi];
    for (int g = 0; g < p.group_columns_size(); ++g) {
      query::v1::ResultColumn& c = table.key_columns[offset + g];
      if (pi == 0) {
        c.set_type(p.group_columns(g).type());
      } else if (c.type() != p.group_columns(g).type()) {
        return absl::InvalidArgumentError(absl::StrCat("partial from member ",
                                                       p.origin().member_ags(), ": group column ",
                                                       c.name(), " has another type"));
      }
    }
    for (int i = 0; i < p.aggregates_size(); ++i) {
      storage::v1::ColumnType t = p.aggregates(i).value_type();
      if (pi == 0) {
        value_types[i] = t;
      } else if (value_types[i] != t) {
        return absl::InvalidArgumentError(
            absl::StrCat("partial from member ", p.origin().member_ags(), ": ",
                         partial.aggregates[i].output_name, " has another value type"));
      }
    }
  }
  for (size_t i = 0; i < table.aggregates.size(); ++i) {
    OutputAggregate& out = table.aggregates[i];
    if (out.function == query::v1::AGGREGATE_FUNCTION_SUM ||
        out.function == query::v1::AGGREGATE_FUNCTION_MIN ||
        out.function == query::v1::AGGREGATE_FUNCTION_MAX) {
      out.type = value_types[i];
    }
  }
  // AVG over an INT64 column sums exactly in int128; over DOUBLE in double.
  std::vector<bool> int_sum(partial.aggregates.size());
  for (size_t i = 0; i < int_sum.size(); ++i) {
    int_sum[i] = value_types[i] == storage::v1::COLUMN_TYPE_INT64;
  }

  std::map<std::vector<Value>, CellBuilder, KeyLess> groups;
  size_t naggs = partial.aggregates.size();
  for (const v1::PartialAggregate& p : partials) {
    for (const v1::PartialGroup& g : p.groups()) {
      std::vector<Value> key;
      if (options.group_by_member) {
        Value ags;
        ags.set_string_value(p.origin().member_ags());
        key.push_back(std::move(ags));
      }
      for (const Value& v : g.key()) key.push_back(IsNull(v) ? NullValue() : v);
      CellBuilder& b = groups[key];
      b.acc.resize(naggs);
      b.units += g.units();
      if (g.units() > 0) b.members.insert(p.origin().member_ags());
      for (size_t i = 0; i < naggs; ++i) {
        const v1::AggregateState& st = g.aggregates(static_cast<int>(i));
        Accumulator& a = b.acc[i];
        a.count += st.count();
        if (st.has_sum() && !IsNull(st.sum())) {
          if (int_sum[i]) {
            a.sum_int += st.sum().int64_value();
          } else {
            a.sum_double += st.sum().double_value();
          }
        }
        if (st.has_min()) TakeMin(st.min(), &a.min);
        if (st.has_max()) TakeMax(st.max(), &a.max);
      }
    }
  }
  if (table.key_columns.empty() && groups.empty()) {
    groups[{}].acc.resize(naggs);  // no partial at all: one empty cell
  }

  size_t nkeys = table.key_columns.size();
  CellBuilder grand;
  grand.acc.resize(naggs);
  std::map<std::vector<Value>, CellBuilder, KeyLess> rows;
  std::map<std::vector<Value>, CellBuilder, KeyLess> cols;
  for (const auto& [key, b] : groups) {
    FEDNODE_ASSIGN_OR_RETURN(Cell cell,
                             Finish(CellKind::kCell, key, b, partial, table.aggregates, int_sum));
    table.cells.push_back(std::move(cell));
    AddBuilder(b, &grand);
    if (nkeys == 2) {
      AddBuilder(b, &rows[{key[0], NullValue()}]);
      AddBuilder(b, &cols[{NullValue(), key[1]}]);
    }
  }
  auto finish_all = [&](const std::map<std::vector<Value>, CellBuilder, KeyLess>& m, CellKind kind,
                        std::vector<Cell>* out) -> absl::Status {
    for (const auto& [key, b] : m) {
      FEDNODE_ASSIGN_OR_RETURN(Cell cell, Finish(kind, key, b, partial, table.aggregates, int_sum));
      out->push_back(std::move(cell));
    }
    return absl::OkStatus();
  };
  FEDNODE_RETURN_IF_ERROR(finish_all(rows, CellKind::kRowTotal, &table.row_totals));
  FEDNODE_RETURN_IF_ERROR(finish_all(cols, CellKind::kColumnTotal, &table.column_totals));
  if (nkeys > 0) {
    FEDNODE_ASSIGN_OR_RETURN(
        Cell total, Finish(CellKind::kGrandTotal, std::vector<Value>(nkeys, NullValue()), grand,
                           partial, table.aggregates, int_sum));
    table.grand_total = std::move(total);
  }
  return table;
}

absl::StatusOr<MergedTable> MergeFitting(
    const PartialPlan& partial, const MergeOptions& options,
    const std::vector<std::optional<v1::PartialAggregate>>& partials,
    std::vector<std::string>* rejected, size_t* merged) {
  rejected->assign(partials.size(), "");
  std::vector<size_t> present;
  std::vector<v1::PartialAggregate> all;
  for (size_t i = 0; i < partials.size(); ++i) {
    if (!partials[i].has_value()) continue;
    present.push_back(i);
    all.push_back(*partials[i]);
  }
  *merged = all.size();
  absl::StatusOr<MergedTable> table = Merge(partial, all, options);
  if (table.ok() || !absl::IsInvalidArgument(table.status())) return table;

  // Some partial does not fit: choose the basis that fits most others.
  size_t basis = present.front();
  int best = -1;
  for (size_t i : present) {
    int partners = 0;
    for (size_t j : present) {
      if (i == j) continue;
      std::vector<v1::PartialAggregate> pair = {*partials[i], *partials[j]};
      partners += Merge(partial, pair, options).ok() ? 1 : 0;
    }
    if (partners > best) {
      best = partners;
      basis = i;
    }
  }
  std::vector<v1::PartialAggregate> accepted;
  // `table` keeps the failure until a partial merges (then *merged > 0).
  std::vector<size_t> order = {basis};
  for (size_t i : present) {
    if (i != basis) order.push_back(i);
  }
  for (size_t i : order) {
    accepted.push_back(*partials[i]);
    absl::StatusOr<MergedTable> with = Merge(partial, accepted, options);
    if (with.ok()) {
      table = std::move(with);
    } else {
      accepted.pop_back();
      (*rejected)[i] = std::string(with.status().message());
    }
  }
  *merged = accepted.size();
  return table;
}

}  // namespace fednode::aggregate
