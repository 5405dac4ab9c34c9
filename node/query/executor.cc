#include "node/query/executor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <unicode/uchar.h>

#include "node/base/status_macros.h"
#include "node/query/batch.h"
#include "node/query/literal.h"

namespace fednode::query {
namespace {

namespace sv1 = storage::v1;
using storage::KeyValue;
using storage::RowRef;
using storage::TableSnapshot;

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
// A plan without LIMIT.
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000000;

bool IsIntLike(ColumnType t) {
  return t == sv1::COLUMN_TYPE_INT64 || t == sv1::COLUMN_TYPE_BOOL || t == sv1::COLUMN_TYPE_DATE ||
         t == sv1::COLUMN_TYPE_TIMESTAMP;
}
bool IsNumeric(ColumnType t) { return t == sv1::COLUMN_TYPE_INT64 || t == sv1::COLUMN_TYPE_DOUBLE; }

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// ---------------------------------------------------------------------------
// Literals coerced to a column type.

struct Literal {
  bool is_null = false;
  // For an INT64 column compared with a non-integral number: the number.
  bool fractional = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
};

std::string DescribeValue(const v1::Value& v) {
  switch (v.kind_case()) {
    case v1::Value::kNullValue:
      return "NULL";
    case v1::Value::kInt64Value:
      return absl::StrCat(v.int64_value());
    case v1::Value::kDoubleValue:
      return absl::StrCat(v.double_value());
    case v1::Value::kStringValue:
      return absl::StrCat("'", v.string_value(), "'");
    case v1::Value::kBoolValue:
      return v.bool_value() ? "TRUE" : "FALSE";
    case v1::Value::kDateDays:
      return absl::StrCat("DATE '", FormatDate(v.date_days()), "'");
    case v1::Value::kTimestampMicros:
      return absl::StrCat("TIMESTAMP '", FormatTimestamp(v.timestamp_micros()), "'");
    case v1::Value::KIND_NOT_SET:
      break;
  }
  return "(empty value)";
}

absl::StatusOr<Literal> CoerceLiteral(const v1::Value& v, ColumnType type,
                                      absl::string_view column) {
  Literal lit;
  auto mismatch = [&]() {
    return absl::InvalidArgumentError(absl::StrCat("literal ", DescribeValue(v), " does not fit ",
                                                   ColumnTypeName(type), " column ", column));
  };
  if (v.kind_case() == v1::Value::kNullValue) {
    lit.is_null = true;
    return lit;
  }
  if (v.kind_case() == v1::Value::KIND_NOT_SET) {
    return absl::InvalidArgumentError(absl::StrCat("missing literal for column ", column));
  }
  switch (type) {
    case sv1::COLUMN_TYPE_INT64: {
      double d = 0;
      if (v.has_int64_value()) {
        lit.i = v.int64_value();
        return lit;
      }
      if (v.has_double_value()) {
        d = v.double_value();
      } else if (v.has_string_value()) {
        absl::string_view s = absl::StripAsciiWhitespace(v.string_value());
        if (absl::SimpleAtoi(s, &lit.i)) return lit;
        if (!absl::SimpleAtod(s, &d)) return mismatch();
      } else {
        return mismatch();
      }
      // NaN and the infinities are no INT64 value and no bound of one.
      if (!std::isfinite(d)) return mismatch();
      if (d == std::floor(d) && d >= -9.2233720368547758e18 && d < 9.2233720368547758e18) {
        lit.i = static_cast<int64_t>(d);
      } else {
        lit.fractional = true;
        lit.d = d;
      }
      return lit;
    }
    case sv1::COLUMN_TYPE_DOUBLE:
      if (v.has_double_value()) {
        lit.d = v.double_value();
      } else if (v.has_int64_value()) {
        lit.d = static_cast<double>(v.int64_value());
      } else if (!v.has_string_value() ||
                 !absl::SimpleAtod(absl::StripAsciiWhitespace(v.string_value()), &lit.d)) {
        return mismatch();
      }
      return lit;
    case sv1::COLUMN_TYPE_STRING:
      if (!v.has_string_value()) return mismatch();
      lit.s = v.string_value();
      return lit;
    case sv1::COLUMN_TYPE_BOOL:
      if (v.has_bool_value()) {
        lit.i = v.bool_value() ? 1 : 0;
      } else if (v.has_int64_value() && (v.int64_value() == 0 || v.int64_value() == 1)) {
        lit.i = v.int64_value();
      } else if (v.has_string_value()) {
        std::string s = absl::AsciiStrToLower(absl::StripAsciiWhitespace(v.string_value()));
        if (s == "true" || s == "t" || s == "1") {
          lit.i = 1;
        } else if (s == "false" || s == "f" || s == "0") {
          lit.i = 0;
        } else {
          return mismatch();
        }
      } else {
        return mismatch();
      }
      return lit;
    case sv1::COLUMN_TYPE_DATE:
      if (v.has_date_days()) {
        lit.i = v.date_days();
      } else if (!v.has_string_value() || !ParseDateLiteral(v.string_value(), &lit.i)) {
        return mismatch();
      }
      return lit;
    case sv1::COLUMN_TYPE_TIMESTAMP:
      if (v.has_timestamp_micros()) {
        lit.i = v.timestamp_micros();
      } else if (v.has_date_days()) {
        lit.i = v.date_days() * kMicrosPerDay;
      } else if (!v.has_string_value() || !ParseTimestampLiteral(v.string_value(), &lit.i)) {
        if (v.has_string_value() && HasTimeZone(v.string_value())) {
          return absl::InvalidArgumentError(
              absl::StrCat("literal ", DescribeValue(v), " for ", column, ": ", kTimeZoneRefused));
        }
        return mismatch();
      }
      return lit;
    default:
      break;
  }
  return mismatch();
}

// ---------------------------------------------------------------------------
// LIKE on Unicode code points.

std::u32string DecodeUtf8(absl::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char32_t cp = c;
    size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    if (i + len > s.size()) {
      len = 1;
      cp = c;
    } else {
      for (size_t k = 1; k < len; ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

char32_t FoldCase(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

// A compiled LIKE pattern: code points with % and _ as wildcards; backslash
// escapes the next character.
struct LikePattern {
  enum Kind : uint8_t { kChar, kAnyOne, kAnySeq };
  std::vector<std::pair<Kind, char32_t>> items;
  bool case_insensitive = false;

  static LikePattern Compile(absl::string_view pattern, bool ci) {
    LikePattern p;
    p.case_insensitive = ci;
    std::u32string cps = DecodeUtf8(pattern);
    for (size_t i = 0; i < cps.size(); ++i) {
      char32_t c = cps[i];
      if (c == U'\\' && i + 1 < cps.size()) {
        p.items.emplace_back(kChar, ci ? FoldCase(cps[++i]) : cps[++i]);
      } else if (c == U'%') {
        if (p.items.empty() || p.items.back().first != kAnySeq) p.items.emplace_back(kAnySeq, 0);
      } else if (c == U'_') {
        p.items.emplace_back(kAnyOne, 0);
      } else {
        p.items.emplace_back(kChar, ci ? FoldCase(c) : c);
      }
    }
    return p;
  }

  bool Matches(absl::string_view text) const {
    std::u32string s = DecodeUtf8(text);
    if (case_insensitive) {
      for (char32_t& c : s) c = FoldCase(c);
    }
    // Greedy matching with backtracking to the last %.
    size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < s.size()) {
      if (pi < items.size() && items[pi].first == kAnySeq) {
        star_p = pi++;
        star_s = si;
      } else if (pi < items.size() && (items[pi].first == kAnyOne || items[pi].second == s[si])) {
        ++pi;
        ++si;
      } else if (star_p != SIZE_MAX) {
        pi = star_p + 1;
        si = ++star_s;
      } else {
        return false;
      }
    }
    while (pi < items.size() && items[pi].first == kAnySeq) ++pi;
    return pi == items.size();
  }
};

// ---------------------------------------------------------------------------
// Bound (validated) plan.

struct BoundFilter {
  enum Kind { kCompare, kIn, kBetween, kLike, kIsNull, kAnd, kOr, kNot, kConst };
  Kind kind = kConst;
  int col = -1;
  ColumnType type = sv1::COLUMN_TYPE_UNSPECIFIED;
  v1::CompareOp op = v1::COMPARE_OP_EQ;
  Literal lit, lit2;
  bool negated = false;
  // kConst: value for rows where `col` is not NULL (always unknown when
  // `unknown` is set, e.g. a comparison with a NULL literal).
  bool const_value = false;
  bool unknown = false;
  std::vector<int64_t> in_ints;
  std::vector<double> in_doubles;
  std::vector<std::string> in_strings;
  bool in_has_null = false;
  LikePattern like;
  std::vector<BoundFilter> children;
};

enum class ExtractField {
  kYear,
  kQuarter,
  kMonth,
  kDay,
  kDoy,
  kDow,
  kIsodow,
  kHour,
  kMinute,
  kSecond,
  kEpoch
};

struct BoundItem {
  enum Kind { kColumn, kExtract, kAggregate };
  Kind kind = kColumn;
  std::string name;
  ColumnType out_type = sv1::COLUMN_TYPE_UNSPECIFIED;
  int col = -1;  // -1 for COUNT(*)
  ColumnType col_type = sv1::COLUMN_TYPE_UNSPECIFIED;
  ExtractField field = ExtractField::kYear;
  v1::AggregateFunction fn = v1::AGGREGATE_FUNCTION_UNSPECIFIED;
  bool distinct = false;
  bool hidden = false;  // computed for ORDER BY / GROUP BY only
};

struct BoundOrder {
  int output = 0;
  bool descending = false;
  bool nulls_first = false;
};

struct BoundPlan {
  bool has_filter = false;
  BoundFilter filter;
  std::vector<BoundItem> items;
  bool aggregate = false;        // grouped or has aggregates
  std::vector<int> group_items;  // indexes into items, in GROUP BY order
  std::vector<BoundOrder> order;
  uint64_t limit = kNoLimit;
  uint64_t offset = 0;
};

struct SchemaIndex {
  const Schema* schema;
  absl::flat_hash_map<std::string, int> by_name;
  explicit SchemaIndex(const Schema& s) : schema(&s) {
    for (int i = 0; i < s.columns_size(); ++i) by_name.emplace(s.columns(i).name(), i);
  }
  absl::StatusOr<int> Find(absl::string_view name, absl::string_view context) const {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown column ", name, " in ", context));
    }
    return it->second;
  }
  ColumnType Type(int col) const { return schema->columns(col).type(); }
};

// Rewrites `col op x` for an INT64 column and a non-integral number x into an
// equivalent integer comparison or a constant.
void BindFractionalCompare(BoundFilter* f) {
  double x = f->lit.d;
  auto set_const = [&](bool v) {
    f->kind = BoundFilter::kConst;
    f->const_value = v;
  };
  if (f->op == v1::COMPARE_OP_EQ || f->op == v1::COMPARE_OP_NE) {
    set_const(f->op == v1::COMPARE_OP_NE);
    return;
  }
  bool upper = f->op == v1::COMPARE_OP_LT || f->op == v1::COMPARE_OP_LE;  // col < x
  // col < x  <=> col <= floor(x);  col > x  <=> col >= ceil(x).
  double bound = upper ? std::floor(x) : std::ceil(x);
  if (bound >= 9.2233720368547758e18) {
    set_const(upper);
    return;
  }
  if (bound < -9.2233720368547758e18) {
    set_const(!upper);
    return;
  }
  f->lit.fractional = false;
  f->lit.i = static_cast<int64_t>(bound);
  f->op = upper ? v1::COMPARE_OP_LE : v1::COMPARE_OP_GE;
}

// Sorts `v` and keeps each value once.
template <typename T>
void SortUnique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Adds `lit` (coerced to in->type) to the value lists of the IN filter `in`
// (sorted later: SortUnique).
void AddInValue(Literal lit, BoundFilter* in) {
  if (lit.is_null) {
    in->in_has_null = true;
  } else if (lit.fractional) {
    // Never equal to an integer.
  } else if (IsIntLike(in->type)) {
    in->in_ints.push_back(lit.i);
  } else if (in->type == sv1::COLUMN_TYPE_DOUBLE) {
    // NaN equals nothing, as in `column = 'NaN'` (and it would break the
    // sorted list's binary search).
    if (!std::isnan(lit.d)) in->in_doubles.push_back(lit.d);
  } else {
    in->in_strings.push_back(std::move(lit.s));
  }
}

// True for `col = literal` and `col IN (literals)` without NULL.
bool IsEqualityOnColumn(const BoundFilter& f) {
  return (f.kind == BoundFilter::kCompare && f.op == v1::COMPARE_OP_EQ) ||
         (f.kind == BoundFilter::kIn && !f.negated && !f.in_has_null);
}

// Rewrites the operands of an OR that compare one column for equality
// (`c = 1 OR c = 2 OR c IN (3, 4)`) into one `c IN (1, 2, 3, 4)`. Under SQL's
// three-valued logic both are NULL for a NULL c, true when c is one of the
// values and false otherwise, so the rewrite holds under NOT as well. The IN
// costs one lookup per row (a short scan, a hash set or a binary search) where
// the OR cost one pass per operand, and a key lookup sees one IN list. Other
// operands keep their place.
void FoldEqualitiesIntoIn(BoundFilter* f) {
  absl::flat_hash_map<int, int> count;  // equalities per column
  for (const BoundFilter& c : f->children) {
    if (IsEqualityOnColumn(c)) ++count[c.col];
  }
  if (std::none_of(count.begin(), count.end(), [](const auto& e) { return e.second > 1; })) {
    return;
  }
  std::vector<BoundFilter> kept;
  absl::flat_hash_map<int, size_t> in_of_column;  // column -> its IN in `kept`
  for (BoundFilter& c : f->children) {
    if (!IsEqualityOnColumn(c) || count[c.col] < 2) {
      kept.push_back(std::move(c));
      continue;
    }
    auto [it, first] = in_of_column.try_emplace(c.col, kept.size());
    if (first) {
      BoundFilter in;
      in.kind = BoundFilter::kIn;
      in.col = c.col;
      in.type = c.type;
      kept.push_back(std::move(in));
    }
    BoundFilter& in = kept[it->second];
    if (c.kind == BoundFilter::kIn) {
      in.in_ints.insert(in.in_ints.end(), c.in_ints.begin(), c.in_ints.end());
      in.in_doubles.insert(in.in_doubles.end(), c.in_doubles.begin(), c.in_doubles.end());
      for (std::string& v : c.in_strings) in.in_strings.push_back(std::move(v));
    } else {
      AddInValue(std::move(c.lit), &in);
    }
  }
  for (const auto& [col, index] : in_of_column) {
    BoundFilter& in = kept[index];
    SortUnique(in.in_ints);
    SortUnique(in.in_doubles);
    SortUnique(in.in_strings);
  }
  if (kept.size() == 1) {
    BoundFilter only = std::move(kept[0]);
    *f = std::move(only);
    return;
  }
  f->children = std::move(kept);
}

absl::Status BindFilter(const v1::Filter& in, const SchemaIndex& schema, BoundFilter* out) {
  auto bind_col = [&](const std::string& name, absl::string_view what) -> absl::Status {
    FEDNODE_ASSIGN_OR_RETURN(out->col, schema.Find(name, what));
    out->type = schema.Type(out->col);
    return absl::OkStatus();
  };
  switch (in.kind_case()) {
    case v1::Filter::kCompare: {
      out->kind = BoundFilter::kCompare;
      FEDNODE_RETURN_IF_ERROR(bind_col(in.compare().column(), "filter"));
      if (in.compare().op() == v1::COMPARE_OP_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            absl::StrCat("comparison on column ", in.compare().column(), " has no operator"));
      }
      out->op = in.compare().op();
      FEDNODE_ASSIGN_OR_RETURN(
          out->lit, CoerceLiteral(in.compare().value(), out->type, in.compare().column()));
      if (out->lit.is_null) {
        out->kind = BoundFilter::kConst;
        out->unknown = true;
      } else if (out->lit.fractional) {
        BindFractionalCompare(out);
      }
      return absl::OkStatus();
    }
    case v1::Filter::kIn: {
      out->kind = BoundFilter::kIn;
      out->negated = in.in().negated();
      FEDNODE_RETURN_IF_ERROR(bind_col(in.in().column(), "IN filter"));
      if (in.in().values().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("IN list on column ", in.in().column(), " is empty"));
      }
      for (const v1::Value& v : in.in().values()) {
        FEDNODE_ASSIGN_OR_RETURN(Literal lit, CoerceLiteral(v, out->type, in.in().column()));
        AddInValue(std::move(lit), out);
      }
      // Sorted for binary search; each value once, so that a repeated value
      // is not looked up (and counted against kMaxKeyLookups) twice.
      SortUnique(out->in_ints);
      SortUnique(out->in_doubles);
      SortUnique(out->in_strings);
      return absl::OkStatus();
    }
    case v1::Filter::kBetween: {
      const auto& b = in.between();
      out->kind = BoundFilter::kBetween;
      out->negated = b.negated();
      FEDNODE_RETURN_IF_ERROR(bind_col(b.column(), "BETWEEN filter"));
      FEDNODE_ASSIGN_OR_RETURN(out->lit, CoerceLiteral(b.low(), out->type, b.column()));
      FEDNODE_ASSIGN_OR_RETURN(out->lit2, CoerceLiteral(b.high(), out->type, b.column()));
      if (out->lit.is_null || out->lit2.is_null) {
        // With a NULL bound, as its definition in SQL: `c BETWEEN a AND b` is
        // `c >= a AND c <= b`, `c NOT BETWEEN a AND b` is `c < a OR c > b`;
        // the comparison with NULL is unknown, the other one still decides
        // (x NOT BETWEEN 10 AND NULL holds for x < 10).
        v1::Filter spelled;
        v1::Filter::List* both = b.negated() ? spelled.mutable_or_() : spelled.mutable_and_();
        auto* low = both->add_operands()->mutable_compare();
        low->set_column(b.column());
        low->set_op(b.negated() ? v1::COMPARE_OP_LT : v1::COMPARE_OP_GE);
        *low->mutable_value() = b.low();
        auto* high = both->add_operands()->mutable_compare();
        high->set_column(b.column());
        high->set_op(b.negated() ? v1::COMPARE_OP_GT : v1::COMPARE_OP_LE);
        *high->mutable_value() = b.high();
        *out = BoundFilter();
        return BindFilter(spelled, schema, out);
      }
      if (out->lit.fractional) {
        double c = std::ceil(out->lit.d);
        out->lit.i = c > 9.2e18    ? std::numeric_limits<int64_t>::max()
                     : c < -9.2e18 ? std::numeric_limits<int64_t>::min()
                                   : static_cast<int64_t>(c);
      }
      if (out->lit2.fractional) {
        double c = std::floor(out->lit2.d);
        out->lit2.i = c > 9.2e18    ? std::numeric_limits<int64_t>::max()
                      : c < -9.2e18 ? std::numeric_limits<int64_t>::min()
                                    : static_cast<int64_t>(c);
      }
      return absl::OkStatus();
    }
    case v1::Filter::kLike: {
      const auto& l = in.like();
      out->kind = BoundFilter::kLike;
      out->negated = l.negated();
      FEDNODE_RETURN_IF_ERROR(bind_col(l.column(), "LIKE filter"));
      if (out->type != sv1::COLUMN_TYPE_STRING) {
        return absl::InvalidArgumentError(absl::StrCat(l.case_insensitive() ? "ILIKE" : "LIKE",
                                                       " needs a string column, ", l.column(),
                                                       " is ", ColumnTypeName(out->type)));
      }
      out->like = LikePattern::Compile(l.pattern(), l.case_insensitive());
      return absl::OkStatus();
    }
    case v1::Filter::kIsNull:
      out->kind = BoundFilter::kIsNull;
      out->negated = in.is_null().negated();
      return bind_col(in.is_null().column(), "IS NULL filter");
    case v1::Filter::kAnd:
    case v1::Filter::kOr: {
      bool is_and = in.kind_case() == v1::Filter::kAnd;
      out->kind = is_and ? BoundFilter::kAnd : BoundFilter::kOr;
      const auto& ops = is_and ? in.and_().operands() : in.or_().operands();
      if (ops.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(is_and ? "AND" : "OR", " filter has no operands"));
      }
      out->children.resize(ops.size());
      for (int i = 0; i < ops.size(); ++i) {
        FEDNODE_RETURN_IF_ERROR(BindFilter(ops[i], schema, &out->children[i]));
      }
      if (!is_and) FoldEqualitiesIntoIn(out);
      return absl::OkStatus();
    }
    case v1::Filter::kNot:
      out->kind = BoundFilter::kNot;
      out->children.resize(1);
      return BindFilter(in.not_(), schema, &out->children[0]);
    case v1::Filter::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("empty filter expression");
}

absl::StatusOr<ExtractField> ParseExtractField(absl::string_view field, ColumnType type,
                                               absl::string_view column) {
  static const auto* const kFields = new absl::flat_hash_map<std::string, ExtractField>{
      {"year", ExtractField::kYear},     {"quarter", ExtractField::kQuarter},
      {"month", ExtractField::kMonth},   {"day", ExtractField::kDay},
      {"doy", ExtractField::kDoy},       {"dow", ExtractField::kDow},
      {"isodow", ExtractField::kIsodow}, {"hour", ExtractField::kHour},
      {"minute", ExtractField::kMinute}, {"second", ExtractField::kSecond},
      {"epoch", ExtractField::kEpoch}};
  auto it = kFields->find(absl::AsciiStrToLower(field));
  if (it == kFields->end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EXTRACT field '", field,
        "' is not supported (year, quarter, month, day, doy, dow, isodow, hour, minute, second, "
        "epoch)"));
  }
  if (type != sv1::COLUMN_TYPE_DATE && type != sv1::COLUMN_TYPE_TIMESTAMP) {
    return absl::InvalidArgumentError(absl::StrCat("EXTRACT needs a date or timestamp column, ",
                                                   column, " is ", ColumnTypeName(type)));
  }
  ExtractField f = it->second;
  if (type == sv1::COLUMN_TYPE_DATE &&
      (f == ExtractField::kHour || f == ExtractField::kMinute || f == ExtractField::kSecond)) {
    return absl::InvalidArgumentError(
        absl::StrCat("EXTRACT(", field, ") needs a timestamp column, ", column, " is a date"));
  }
  return f;
}

// Value of `field` of a DATE (days) or TIMESTAMP (micros) value.
inline int64_t ExtractValue(ExtractField field, bool timestamp, int64_t v) {
  int64_t days = timestamp ? FloorDiv(v, kMicrosPerDay) : v;
  int64_t micros_of_day = timestamp ? v - days * kMicrosPerDay : 0;
  switch (field) {
    case ExtractField::kHour:
      return micros_of_day / (int64_t{3600} * 1000000);
    case ExtractField::kMinute:
      return micros_of_day / (int64_t{60} * 1000000) % 60;
    case ExtractField::kSecond:
      return micros_of_day / 1000000 % 60;
    case ExtractField::kEpoch:
      return timestamp ? FloorDiv(v, 1000000) : days * 86400;
    case ExtractField::kDow:
      return ((days % 7) + 7 + 4) % 7;  // 1970-01-01 was a Thursday (4)
    case ExtractField::kIsodow: {
      int64_t dow = ((days % 7) + 7 + 4) % 7;
      return dow == 0 ? 7 : dow;
    }
    default:
      break;
  }
  int64_t y = 0;
  int m = 0, d = 0;
  DaysToCivil(days, &y, &m, &d);
  switch (field) {
    case ExtractField::kYear:
      return y;
    case ExtractField::kQuarter:
      return (m - 1) / 3 + 1;
    case ExtractField::kMonth:
      return m;
    case ExtractField::kDay:
      return d;
    case ExtractField::kDoy: {
      int64_t jan1 = 0;
      CivilDayToDays(y, 1, 1, &jan1);
      return days - jan1 + 1;
    }
    default:
      return 0;
  }
}

const char* AggregateName(v1::AggregateFunction fn) {
  switch (fn) {
    case v1::AGGREGATE_FUNCTION_COUNT:
      return "count";
    case v1::AGGREGATE_FUNCTION_SUM:
      return "sum";
    case v1::AGGREGATE_FUNCTION_MIN:
      return "min";
    case v1::AGGREGATE_FUNCTION_MAX:
      return "max";
    case v1::AGGREGATE_FUNCTION_AVG:
      return "avg";
    default:
      return "aggregate";
  }
}

absl::StatusOr<BoundPlan> Bind(const v1::QueryPlan& plan, const Schema& schema) {
  SchemaIndex index(schema);
  BoundPlan out;
  if (plan.has_filter() && plan.filter().kind_case() != v1::Filter::KIND_NOT_SET) {
    out.has_filter = true;
    FEDNODE_RETURN_IF_ERROR(BindFilter(plan.filter(), index, &out.filter));
  }
  bool has_aggregate = false;
  if (plan.select().empty()) {
    if (!plan.group_by().empty()) {
      return absl::InvalidArgumentError("GROUP BY needs an explicit select list, not *");
    }
    for (int i = 0; i < schema.columns_size(); ++i) {
      BoundItem item;
      item.kind = BoundItem::kColumn;
      item.name = schema.columns(i).name();
      item.col = i;
      item.col_type = item.out_type = schema.columns(i).type();
      out.items.push_back(std::move(item));
    }
  }
  for (const v1::SelectItem& s : plan.select()) {
    BoundItem item;
    switch (s.kind_case()) {
      case v1::SelectItem::kColumn: {
        item.kind = BoundItem::kColumn;
        FEDNODE_ASSIGN_OR_RETURN(item.col, index.Find(s.column(), "select list"));
        item.col_type = item.out_type = index.Type(item.col);
        break;
      }
      case v1::SelectItem::kExtract: {
        item.kind = BoundItem::kExtract;
        FEDNODE_ASSIGN_OR_RETURN(item.col, index.Find(s.extract().column(), "EXTRACT"));
        item.col_type = index.Type(item.col);
        FEDNODE_ASSIGN_OR_RETURN(item.field, ParseExtractField(s.extract().field(), item.col_type,
                                                               s.extract().column()));
        item.out_type = sv1::COLUMN_TYPE_INT64;
        break;
      }
      case v1::SelectItem::kAggregate: {
        const auto& a = s.aggregate();
        item.kind = BoundItem::kAggregate;
        item.fn = a.function();
        item.distinct = a.distinct();
        has_aggregate = true;
        const char* fname = AggregateName(item.fn);
        if (item.fn == v1::AGGREGATE_FUNCTION_UNSPECIFIED) {
          return absl::InvalidArgumentError("aggregate without function in select list");
        }
        if (a.column().empty()) {
          if (item.fn != v1::AGGREGATE_FUNCTION_COUNT || item.distinct) {
            return absl::InvalidArgumentError(
                absl::StrCat(absl::AsciiStrToUpper(fname), " needs a column"));
          }
          item.out_type = sv1::COLUMN_TYPE_INT64;
          break;
        }
        FEDNODE_ASSIGN_OR_RETURN(
            item.col, index.Find(a.column(), absl::StrCat(absl::AsciiStrToUpper(fname))));
        item.col_type = index.Type(item.col);
        if (item.distinct && item.fn != v1::AGGREGATE_FUNCTION_COUNT) {
          return absl::InvalidArgumentError(absl::StrCat(
              "DISTINCT is only supported in COUNT, not in ", absl::AsciiStrToUpper(fname)));
        }
        switch (item.fn) {
          case v1::AGGREGATE_FUNCTION_COUNT:
            item.out_type = sv1::COLUMN_TYPE_INT64;
            break;
          case v1::AGGREGATE_FUNCTION_SUM:
          case v1::AGGREGATE_FUNCTION_AVG:
            if (!IsNumeric(item.col_type)) {
              return absl::InvalidArgumentError(
                  absl::StrCat(absl::AsciiStrToUpper(fname), " needs a numeric column, ",
                               a.column(), " is ", ColumnTypeName(item.col_type)));
            }
            item.out_type =
                item.fn == v1::AGGREGATE_FUNCTION_AVG ? sv1::COLUMN_TYPE_DOUBLE : item.col_type;
            break;
          default:
            item.out_type = item.col_type;
            break;
        }
        break;
      }
      case v1::SelectItem::KIND_NOT_SET:
        return absl::InvalidArgumentError("empty select item");
    }
    item.name = OutputName(s);
    item.hidden = s.hidden();
    out.items.push_back(std::move(item));
  }
  absl::flat_hash_map<std::string, int> by_name;
  for (size_t i = 0; i < out.items.size(); ++i) {
    if (!by_name.emplace(out.items[i].name, static_cast<int>(i)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate output column name ", out.items[i].name, "; use an alias"));
    }
  }
  std::vector<bool> grouped(out.items.size(), false);
  for (const std::string& g : plan.group_by()) {
    auto it = by_name.find(g);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("GROUP BY ", g, " does not name an output column of the select list"));
    }
    if (out.items[it->second].kind == BoundItem::kAggregate) {
      return absl::InvalidArgumentError(absl::StrCat("cannot GROUP BY aggregate ", g));
    }
    if (grouped[it->second]) continue;
    grouped[it->second] = true;
    out.group_items.push_back(it->second);
  }
  out.aggregate = has_aggregate || !plan.group_by().empty();
  if (out.aggregate) {
    for (size_t i = 0; i < out.items.size(); ++i) {
      if (out.items[i].kind != BoundItem::kAggregate && !grouped[i]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "column ", out.items[i].name, " must appear in GROUP BY or be used in an aggregate"));
      }
    }
  }
  for (const v1::OrderBy& o : plan.order_by()) {
    if (!v1::NullsOrder_IsValid(o.nulls())) {
      return absl::InvalidArgumentError(
          absl::StrCat("ORDER BY ", o.output(), ": unknown NULLS order ", o.nulls()));
    }
    BoundOrder bo;
    bo.descending = o.descending();
    // PostgreSQL: NULL is larger than every value unless NULLS FIRST/LAST.
    bo.nulls_first =
        o.nulls() == v1::NULLS_ORDER_DEFAULT ? o.descending() : o.nulls() == v1::NULLS_ORDER_FIRST;
    int64_t pos = 0;
    if (!o.output().empty() && o.output()[0] == '#' &&
        absl::SimpleAtoi(absl::string_view(o.output()).substr(1), &pos)) {
      if (pos < 1 || pos > static_cast<int64_t>(out.items.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("ORDER BY position ", pos, " is not in the select list"));
      }
      bo.output = static_cast<int>(pos - 1);
    } else {
      auto it = by_name.find(o.output());
      if (it == by_name.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("ORDER BY ", o.output(), " does not name an output column"));
      }
      bo.output = it->second;
    }
    out.order.push_back(bo);
  }
  out.limit = plan.has_limit() ? plan.limit() : kNoLimit;
  out.offset = plan.offset();
  return out;
}

// ---------------------------------------------------------------------------
// Filter evaluation: three-valued logic over the rows [begin, begin + n) of
// one segment, vectorized. For the k-th row of the range `t[k]` is 1 when the
// filter is true and `f[k]` is 1 when it is false; both are 0 when it is
// unknown (NULL).

template <typename T, typename Cmp>
void CompareLoop(const T* v, size_t n, T x, uint8_t* m, Cmp cmp) {
  for (size_t i = 0; i < n; ++i) m[i] = cmp(v[i], x) ? 1 : 0;
}

template <typename T>
void CompareValues(const T* v, size_t n, T x, v1::CompareOp op, uint8_t* m) {
  switch (op) {
    case v1::COMPARE_OP_EQ:
      CompareLoop(v, n, x, m, [](T a, T b) { return a == b; });
      break;
    case v1::COMPARE_OP_NE:
      CompareLoop(v, n, x, m, [](T a, T b) { return a != b; });
      break;
    case v1::COMPARE_OP_LT:
      CompareLoop(v, n, x, m, [](T a, T b) { return a < b; });
      break;
    case v1::COMPARE_OP_LE:
      CompareLoop(v, n, x, m, [](T a, T b) { return a <= b; });
      break;
    case v1::COMPARE_OP_GT:
      CompareLoop(v, n, x, m, [](T a, T b) { return a > b; });
      break;
    default:
      CompareLoop(v, n, x, m, [](T a, T b) { return a >= b; });
      break;
  }
}

bool CompareScalar(int c, v1::CompareOp op) {
  switch (op) {
    case v1::COMPARE_OP_EQ:
      return c == 0;
    case v1::COMPARE_OP_NE:
      return c != 0;
    case v1::COMPARE_OP_LT:
      return c < 0;
    case v1::COMPARE_OP_LE:
      return c <= 0;
    case v1::COMPARE_OP_GT:
      return c > 0;
    default:
      return c >= 0;
  }
}

// Predicate of one dictionary entry of a string column.
bool StringPredicate(const BoundFilter& f, const std::string& s) {
  switch (f.kind) {
    case BoundFilter::kCompare:
      return CompareScalar(s.compare(f.lit.s), f.op);
    case BoundFilter::kIn:
      return std::binary_search(f.in_strings.begin(), f.in_strings.end(), s);
    case BoundFilter::kBetween:
      return s >= f.lit.s && s <= f.lit2.s;
    case BoundFilter::kLike:
      return f.like.Matches(s);
    default:
      return false;
  }
}

void EvalFilter(const BoundFilter& f, const Table& table, size_t begin, size_t n, uint8_t* t,
                uint8_t* fl) {
  switch (f.kind) {
    case BoundFilter::kAnd:
    case BoundFilter::kOr: {
      EvalFilter(f.children[0], table, begin, n, t, fl);
      std::vector<uint8_t> ct(n), cf(n);
      for (size_t c = 1; c < f.children.size(); ++c) {
        EvalFilter(f.children[c], table, begin, n, ct.data(), cf.data());
        if (f.kind == BoundFilter::kAnd) {
          for (size_t i = 0; i < n; ++i) {
            t[i] &= ct[i];
            fl[i] |= cf[i];
          }
        } else {
          for (size_t i = 0; i < n; ++i) {
            t[i] |= ct[i];
            fl[i] &= cf[i];
          }
        }
      }
      return;
    }
    case BoundFilter::kNot:
      EvalFilter(f.children[0], table, begin, n, fl, t);  // swap true and false
      return;
    default:
      break;
  }
  const Column& col = table.columns[f.col];
  if (f.kind == BoundFilter::kIsNull) {
    for (size_t i = 0; i < n; ++i) {
      uint8_t is_null = col.IsNull(begin + i) ? 1 : 0;
      t[i] = f.negated ? 1 - is_null : is_null;
      fl[i] = 1 - t[i];
    }
    return;
  }
  // m = predicate ignoring NULLs.
  uint8_t* m = t;
  switch (f.kind) {
    case BoundFilter::kConst:
      std::memset(m, f.const_value ? 1 : 0, n);
      break;
    case BoundFilter::kCompare:
      if (IsIntLike(f.type)) {
        CompareValues(col.ints.data() + begin, n, f.lit.i, f.op, m);
      } else if (f.type == sv1::COLUMN_TYPE_DOUBLE) {
        CompareValues(col.doubles.data() + begin, n, f.lit.d, f.op, m);
      }
      break;
    case BoundFilter::kBetween:
      if (IsIntLike(f.type)) {
        const int64_t* v = col.ints.data() + begin;
        int64_t lo = f.lit.i, hi = f.lit2.i;
        for (size_t i = 0; i < n; ++i) m[i] = (v[i] >= lo) & (v[i] <= hi);
      } else if (f.type == sv1::COLUMN_TYPE_DOUBLE) {
        const double* v = col.doubles.data() + begin;
        double lo = f.lit.d, hi = f.lit2.d;
        for (size_t i = 0; i < n; ++i) m[i] = (v[i] >= lo) & (v[i] <= hi);
      }
      break;
    case BoundFilter::kIn:
      if (IsIntLike(f.type)) {
        const int64_t* v = col.ints.data() + begin;
        if (f.in_ints.size() <= 8) {
          for (size_t i = 0; i < n; ++i) {
            uint8_t hit = 0;
            for (int64_t x : f.in_ints) hit |= (v[i] == x);
            m[i] = hit;
          }
        } else {
          absl::flat_hash_set<int64_t> set(f.in_ints.begin(), f.in_ints.end());
          for (size_t i = 0; i < n; ++i) m[i] = set.contains(v[i]) ? 1 : 0;
        }
      } else if (f.type == sv1::COLUMN_TYPE_DOUBLE) {
        const double* v = col.doubles.data() + begin;
        for (size_t i = 0; i < n; ++i) {
          m[i] = !std::isnan(v[i]) &&
                         std::binary_search(f.in_doubles.begin(), f.in_doubles.end(), v[i])
                     ? 1
                     : 0;
        }
      }
      break;
    default:
      break;
  }
  if (f.type == sv1::COLUMN_TYPE_STRING && f.kind != BoundFilter::kConst) {
    std::vector<uint8_t> dm(col.dict.size());
    for (size_t c = 0; c < col.dict.size(); ++c) dm[c] = StringPredicate(f, col.dict[c]) ? 1 : 0;
    const uint32_t* codes = col.codes.data() + begin;
    if (dm.empty()) {
      std::memset(m, 0, n);
    } else {
      for (size_t i = 0; i < n; ++i) m[i] = dm[codes[i]];
    }
  }
  // Apply NULLs: unknown where the column is NULL, or where an IN list with a
  // NULL does not match.
  bool unknown_if_false = f.kind == BoundFilter::kIn && f.in_has_null;
  const uint8_t* valid = col.validity.empty() ? nullptr : col.validity.data() + begin;
  for (size_t i = 0; i < n; ++i) {
    uint8_t ok = valid ? valid[i] : 1;
    if (f.unknown) ok = 0;
    uint8_t p = m[i];
    t[i] = p & ok;
    fl[i] = (1 - p) & ok & (unknown_if_false ? 0 : 1);
  }
  if (f.negated) {
    for (size_t i = 0; i < n; ++i) std::swap(t[i], fl[i]);
  }
}

// Rows of one chunk [begin, begin + n) of a segment that pass the filter
// and are not deleted; row indexes are the segment's.
struct Selection {
  bool dense = true;  // all rows begin..begin+n-1
  size_t begin = 0;
  size_t n = 0;
  std::vector<uint32_t> rows;
  size_t size() const { return dense ? n : rows.size(); }
  // The table rows at positions [from, from + count) of the selection.
  TableRows Slice(size_t from, size_t count) const {
    return dense ? TableRows{begin + from, count, nullptr}
                 : TableRows{0, count, rows.data() + from};
  }
};

// One loaded segment during the scan: its decoded rows and the sorted rows
// hidden in the snapshot's version.
struct SegmentView {
  const Table& table;
  const std::vector<uint32_t>& deleted_rows;
};

Selection Select(const BoundPlan& plan, const SegmentView& seg, size_t begin, size_t end) {
  const Table& table = seg.table;
  Selection sel;
  sel.begin = begin;
  sel.n = end - begin;
  bool deleted_here = false;
  auto first_deleted = std::lower_bound(seg.deleted_rows.begin(), seg.deleted_rows.end(), begin);
  deleted_here = first_deleted != seg.deleted_rows.end() && *first_deleted < end;
  if (!plan.has_filter && !deleted_here) return sel;
  sel.dense = false;
  std::vector<uint8_t> t(sel.n, 1), f(sel.n, 0);
  if (plan.has_filter) EvalFilter(plan.filter, table, begin, sel.n, t.data(), f.data());
  for (auto it = first_deleted; it != seg.deleted_rows.end() && *it < end; ++it) t[*it - begin] = 0;
  size_t count = 0;
  for (size_t i = 0; i < sel.n; ++i) count += t[i];
  sel.rows.reserve(count);
  for (size_t i = 0; i < sel.n; ++i) {
    if (t[i]) sel.rows.push_back(static_cast<uint32_t>(begin + i));
  }
  return sel;
}

template <typename F>
inline void ForEachRow(const Selection& s, F&& f) {
  if (s.dense) {
    for (size_t k = 0; k < s.n; ++k) f(k, s.begin + k);
  } else {
    const uint32_t* rows = s.rows.data();
    size_t n = s.rows.size();
    for (size_t k = 0; k < n; ++k) f(k, rows[k]);
  }
}

// ---------------------------------------------------------------------------
// Output columns (before ordering and limiting).

struct OutColumn {
  ColumnType type = sv1::COLUMN_TYPE_UNSPECIFIED;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<std::string> strings;
  std::vector<uint8_t> nulls;  // 1 = NULL

  void PushNull() {
    nulls.push_back(1);
    if (type == sv1::COLUMN_TYPE_DOUBLE) {
      doubles.push_back(0);
    } else if (type == sv1::COLUMN_TYPE_STRING) {
      strings.emplace_back();
    } else {
      ints.push_back(0);
    }
  }
  void PushInt(int64_t v) {
    nulls.push_back(0);
    ints.push_back(v);
  }
  void PushDouble(double v) {
    nulls.push_back(0);
    doubles.push_back(v);
  }
  void PushString(std::string v) {
    nulls.push_back(0);
    strings.push_back(std::move(v));
  }
  // Appends row `i` of `col`.
  void PushFrom(const Column& col, size_t i) {
    if (col.IsNull(i)) {
      PushNull();
    } else if (type == sv1::COLUMN_TYPE_DOUBLE) {
      PushDouble(col.doubles[i]);
    } else if (type == sv1::COLUMN_TYPE_STRING) {
      PushString(col.StringAt(i));
    } else {
      PushInt(col.ints[i]);
    }
  }
  size_t size() const { return nulls.size(); }

  // <0, 0, >0; NULL sorts first. A NaN sorts after every other double and
  // equals NaN, as in PostgreSQL (and a strict weak order for std::sort).
  int Compare(size_t a, size_t b) const {
    if (nulls[a] || nulls[b]) return static_cast<int>(nulls[b]) - static_cast<int>(nulls[a]);
    if (type == sv1::COLUMN_TYPE_DOUBLE) {
      const double x = doubles[a], y = doubles[b];
      if (std::isnan(x) || std::isnan(y)) {
        return static_cast<int>(std::isnan(x)) - static_cast<int>(std::isnan(y));
      }
      return x < y ? -1 : (y < x ? 1 : 0);
    }
    if (type == sv1::COLUMN_TYPE_STRING) {
      int c = strings[a].compare(strings[b]);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    return ints[a] < ints[b] ? -1 : (ints[b] < ints[a] ? 1 : 0);
  }

  void ToValue(size_t i, v1::Value* v) const {
    if (nulls[i]) {
      v->set_null_value(true);
      return;
    }
    switch (type) {
      case sv1::COLUMN_TYPE_DOUBLE:
        v->set_double_value(doubles[i]);
        break;
      case sv1::COLUMN_TYPE_STRING:
        v->set_string_value(strings[i]);
        break;
      case sv1::COLUMN_TYPE_BOOL:
        v->set_bool_value(ints[i] != 0);
        break;
      case sv1::COLUMN_TYPE_DATE:
        v->set_date_days(ints[i]);
        break;
      case sv1::COLUMN_TYPE_TIMESTAMP:
        v->set_timestamp_micros(ints[i]);
        break;
      default:
        v->set_int64_value(ints[i]);
        break;
    }
  }
};

// Sorts rows by `keys` (stable), then writes [offset, offset+limit) to `result`.
void EmitRows(const std::vector<OutColumn>& cols, const std::vector<BoundItem>& items,
              const std::vector<BoundOrder>& keys, uint64_t offset, uint64_t limit,
              v1::ResultSet* result) {
  size_t n = cols.empty() ? 0 : cols[0].size();
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  if (!keys.empty()) {
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      for (const BoundOrder& k : keys) {
        const OutColumn& col = cols[k.output];
        if (col.nulls[a] != col.nulls[b]) return (col.nulls[a] != 0) == k.nulls_first;
        int c = col.Compare(a, b);
        if (c != 0) return k.descending ? c > 0 : c < 0;
      }
      return false;
    });
  }
  size_t begin = std::min<uint64_t>(offset, n);
  size_t end = begin + std::min<uint64_t>(n - begin, limit);
  for (size_t r = begin; r < end; ++r) {
    v1::Row* row = result->add_rows();
    for (size_t c = 0; c < cols.size(); ++c) {
      if (!items[c].hidden) cols[c].ToValue(order[r], row->add_values());
    }
  }
}

// ---------------------------------------------------------------------------
// Scanning in chunks, asking ExecuteOptions::interrupt between them.

// Adds the string columns of `f` to `out`.
void FilterStringColumns(const BoundFilter& f, std::vector<int>* out) {
  if (f.col >= 0 && f.type == sv1::COLUMN_TYPE_STRING) out->push_back(f.col);
  for (const BoundFilter& c : f.children) FilterStringColumns(c, out);
}

// ---------------------------------------------------------------------------
// Primary-key lookups instead of a scan.

// Most primary keys one query looks up in the index (the product of the
// candidate values of the key columns); a query with more is scanned.
constexpr size_t kMaxKeyLookups = 1024;

// The values `f` allows for column `f.col` when it is an equality (col = v)
// or a non-negated IN list, typed as the column; empty otherwise.
std::vector<KeyValue> KeyCandidates(const BoundFilter& f) {
  std::vector<KeyValue> out;
  auto add = [&](int64_t i, double d, const std::string* s) {
    KeyValue& v = out.emplace_back();
    v.type = f.type;
    v.int_value = i;
    v.double_value = d;
    if (s != nullptr) v.string_value = *s;
  };
  if (f.kind == BoundFilter::kCompare && f.op == v1::COMPARE_OP_EQ) {
    add(f.lit.i, f.lit.d, f.type == sv1::COLUMN_TYPE_STRING ? &f.lit.s : nullptr);
  } else if (f.kind == BoundFilter::kIn && !f.negated) {
    for (int64_t i : f.in_ints) add(i, 0, nullptr);
    for (double d : f.in_doubles) add(0, d, nullptr);
    for (const std::string& s : f.in_strings) add(0, 0, &s);
  }
  return out;
}

// For each column that a conjunct of the filter's top-level AND pins to a
// list of values: the shortest such list.
void CollectKeyCandidates(const BoundFilter& f,
                          absl::flat_hash_map<int, std::vector<KeyValue>>* out) {
  if (f.kind == BoundFilter::kAnd) {
    for (const BoundFilter& c : f.children) CollectKeyCandidates(c, out);
    return;
  }
  std::vector<KeyValue> values = KeyCandidates(f);
  if (values.empty()) return;
  auto [it, inserted] = out->try_emplace(f.col, std::move(values));
  if (!inserted && values.size() < it->second.size()) it->second = std::move(values);
}

// The rows of `snapshot` that the plan's filter can hold, when it pins every
// primary-key column to at most kMaxKeyLookups keys in all: looked up in the
// primary-key index. nullopt when the whole snapshot must be scanned: no
// primary key, a filter that does not pin it, too many keys, too few rows
// per key (options.min_rows_per_key), or a snapshot without an index. The
// filter is still applied to the rows found, so a row is only ever left out
// here when no key value lets it pass.
absl::StatusOr<std::optional<std::vector<RowRef>>> KeyRows(const BoundPlan& plan,
                                                           const TableSnapshot& snapshot,
                                                           const ExecuteOptions& options) {
  const Schema& schema = snapshot.schema;
  if (!options.use_primary_key || !plan.has_filter || schema.primary_key().empty()) {
    return std::nullopt;
  }
  absl::flat_hash_map<int, std::vector<KeyValue>> candidates;
  CollectKeyCandidates(plan.filter, &candidates);
  std::vector<const std::vector<KeyValue>*> per_column;
  size_t combinations = 1;
  for (const std::string& name : schema.primary_key()) {
    int col = -1;
    for (int i = 0; i < schema.columns_size(); ++i) {
      if (schema.columns(i).name() == name) col = i;
    }
    auto it = candidates.find(col);
    if (it == candidates.end()) return std::nullopt;
    combinations *= it->second.size();
    if (combinations > kMaxKeyLookups) return std::nullopt;
    per_column.push_back(&it->second);
  }
  if (snapshot.num_rows / combinations < options.min_rows_per_key) return std::nullopt;
  // Every combination of the columns' values, the last column varying fastest.
  std::vector<std::vector<KeyValue>> keys(1);
  for (const std::vector<KeyValue>* values : per_column) {
    std::vector<std::vector<KeyValue>> next;
    next.reserve(keys.size() * values->size());
    for (const std::vector<KeyValue>& prefix : keys) {
      for (const KeyValue& v : *values) {
        next.push_back(prefix);
        next.back().push_back(v);
      }
    }
    keys = std::move(next);
  }
  absl::StatusOr<std::vector<RowRef>> rows = snapshot.FindRowsByPrimaryKey(keys);
  if (absl::IsUnimplemented(rows.status())) return std::nullopt;
  if (!rows.ok()) return rows.status();
  return std::optional<std::vector<RowRef>>(*std::move(rows));
}

class Scan {
 public:
  Scan(const BoundPlan& plan, const ExecuteOptions& options) : options_(options) {
    if (plan.has_filter) FilterStringColumns(plan.filter, &dict_cols_);
    if (plan.aggregate) {
      for (const BoundItem& item : plan.items) {
        if (item.col >= 0 && item.col_type == sv1::COLUMN_TYPE_STRING) {
          dict_cols_.push_back(item.col);
        }
      }
    }
  }

  // Rows per chunk of `table`: options.chunk_rows, raised to the largest
  // dictionary the query works through per chunk (string filters, string
  // group keys and aggregate inputs), so that this work stays linear in the
  // rows scanned.
  size_t ChunkRows(const Table& table) const {
    size_t rows = std::max<size_t>(options_.chunk_rows, 1);
    for (int c : dict_cols_) rows = std::max(rows, table.columns[c].dict.size());
    return rows;
  }

  // Asks options.interrupt; a stop keeps its code, with the rows scanned so
  // far in the message.
  absl::Status Check() const {
    if (!options_.interrupt) return absl::OkStatus();
    absl::Status s = options_.interrupt(scanned_);
    if (s.ok()) return s;
    return absl::Status(
        s.code(), absl::StrCat("query stopped after ", scanned_, " rows scanned: ", s.message()));
  }

  // Calls `body(seg, begin, end)` for every chunk of every segment until it
  // returns false, with a Check before each chunk and one after the last.
  // The segments are loaded one at a time (TableSnapshot::LoadSegment) and
  // dropped once scanned, so the scan holds one decoded segment.
  // `body` returns false to end the scan.
  // With Restrict, only the given rows are visited, each segment's rows as
  // one chunk (ForEachRestrictedChunk).
  template <typename F>
  absl::Status ForEachChunk(const TableSnapshot& snapshot, F&& body) {
    if (restricted_) return ForEachRestrictedChunk(snapshot, body);
    for (size_t s = 0; s < snapshot.segments.size(); ++s) {
      FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table, Load(snapshot, s));
      const SegmentView seg{*table, snapshot.segments[s].deleted_rows};
      const size_t num_rows = table->num_rows;
      const size_t step = ChunkRows(*table);
      for (size_t begin = 0; begin < num_rows; begin += step) {
        FEDNODE_RETURN_IF_ERROR(Check());
        const size_t end = std::min(num_rows, begin + step);
        scanned_ += end - begin;
        if (!body(seg, begin, end)) return Check();
      }
    }
    return Check();
  }

  // Visit only `rows` (sorted by segment and row, each once; from
  // KeyRows) instead of every row of the snapshot.
  void Restrict(std::vector<RowRef> rows) {
    restricted_ = true;
    rows_ = std::move(rows);
  }

 private:
  // Segment `s` of the snapshot, checked against its schema.
  static absl::StatusOr<std::shared_ptr<const Table>> Load(const TableSnapshot& snapshot,
                                                           size_t s) {
    FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table, snapshot.LoadSegment(s));
    if (table->columns.size() != static_cast<size_t>(snapshot.schema.columns_size())) {
      return absl::InternalError(
          absl::StrCat("segment of dataset ", snapshot.dataset_id, " does not match its schema"));
    }
    return table;
  }

  // The restricted rows of each segment, read as one small table of their
  // own (TableSnapshot::LoadRows) and handed to `body` as one chunk: the
  // per-chunk work that grows with a string column's dictionary then grows
  // with the rows found.
  template <typename F>
  absl::Status ForEachRestrictedChunk(const TableSnapshot& snapshot, F& body) {
    static const std::vector<uint32_t> kNoneHidden;  // FindRowsByPrimaryKey skips hidden rows
    std::vector<uint32_t> rows;
    size_t i = 0;
    while (i < rows_.size()) {
      const size_t s = rows_[i].segment;
      rows.clear();
      for (; i < rows_.size() && rows_[i].segment == s; ++i) rows.push_back(rows_[i].row);
      FEDNODE_RETURN_IF_ERROR(Check());
      FEDNODE_ASSIGN_OR_RETURN(const Table gathered, snapshot.LoadRows(s, rows));
      scanned_ += rows.size();
      if (!body(SegmentView{gathered, kNoneHidden}, 0, rows.size())) return Check();
    }
    return Check();
  }

  const ExecuteOptions& options_;
  std::vector<int> dict_cols_;
  uint64_t scanned_ = 0;
  bool restricted_ = false;
  std::vector<RowRef> rows_;
};

// Narrows `scan` to the rows a primary-key lookup finds (KeyRows), if any,
// and sets header->rows_scanned to their number.
absl::Status UseKeyLookup(const BoundPlan& plan, const TableSnapshot& snapshot,
                          const ExecuteOptions& options, Scan* scan, v1::ResultSet* header) {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::vector<RowRef>> rows,
                           KeyRows(plan, snapshot, options));
  if (!rows.has_value()) return absl::OkStatus();
  header->set_rows_scanned(rows->size());
  scan->Restrict(*std::move(rows));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Plain (non-aggregate) queries.

absl::Status RunProjection(const BoundPlan& plan, const TableSnapshot& snapshot, Scan* scan,
                           v1::ResultSet* result) {
  std::vector<OutColumn> cols(plan.items.size());
  for (size_t c = 0; c < cols.size(); ++c) cols[c].type = plan.items[c].out_type;
  // Without ORDER BY the first offset+limit rows suffice.
  uint64_t cap = (plan.order.empty() && plan.limit <= kNoLimit - plan.offset)
                     ? plan.offset + plan.limit
                     : kNoLimit;
  uint64_t produced = 0;
  absl::Status scanned =
      scan->ForEachChunk(snapshot, [&](const SegmentView& seg, size_t begin, size_t end) {
        if (produced >= cap) return false;
        Selection sel = Select(plan, seg, begin, end);
        const Table& table = seg.table;
        ForEachRow(sel, [&](size_t, size_t i) {
          if (produced >= cap) return;
          ++produced;
          for (size_t c = 0; c < cols.size(); ++c) {
            const BoundItem& item = plan.items[c];
            const Column& col = table.columns[item.col];
            if (item.kind == BoundItem::kColumn) {
              cols[c].PushFrom(col, i);
            } else if (col.IsNull(i)) {
              cols[c].PushNull();
            } else {
              cols[c].PushInt(ExtractValue(item.field, item.col_type == sv1::COLUMN_TYPE_TIMESTAMP,
                                           col.ints[i]));
            }
          }
        });
        return true;
      });
  FEDNODE_RETURN_IF_ERROR(scanned);
  EmitRows(cols, plan.items, plan.order, plan.offset, plan.limit, result);
  return absl::OkStatus();
}

// Sets `v` to row `i` of `col` as output item `item` of a plain query; the
// same values as OutColumn::PushFrom / PushInt and ToValue give.
void RowValue(const BoundItem& item, const Column& col, size_t i, v1::Value* v) {
  if (col.IsNull(i)) {
    v->set_null_value(true);
    return;
  }
  if (item.kind == BoundItem::kExtract) {
    v->set_int64_value(
        ExtractValue(item.field, item.col_type == sv1::COLUMN_TYPE_TIMESTAMP, col.ints[i]));
    return;
  }
  switch (item.out_type) {
    case sv1::COLUMN_TYPE_DOUBLE:
      v->set_double_value(col.doubles[i]);
      break;
    case sv1::COLUMN_TYPE_STRING:
      v->set_string_value(col.StringAt(i));
      break;
    case sv1::COLUMN_TYPE_BOOL:
      v->set_bool_value(col.ints[i] != 0);
      break;
    case sv1::COLUMN_TYPE_DATE:
      v->set_date_days(col.ints[i]);
      break;
    case sv1::COLUMN_TYPE_TIMESTAMP:
      v->set_timestamp_micros(col.ints[i]);
      break;
    default:
      v->set_int64_value(col.ints[i]);
      break;
  }
}

// Calls `emit(seg, sel, from, to)` for the output rows of a plain query
// chunk by chunk, in scan order, after OFFSET and up to LIMIT: positions
// [from, to) (non-empty) of the chunk's selection `sel` (the scan ends once
// LIMIT rows went out). A non-OK status from `emit` stops the scan and is
// returned; else the scan's status.
template <typename F>
absl::Status ForEachOutputRange(const BoundPlan& plan, const TableSnapshot& snapshot, Scan* scan,
                                F&& emit) {
  uint64_t skip = plan.offset;
  uint64_t left = plan.limit;
  absl::Status stopped;
  absl::Status scanned =
      scan->ForEachChunk(snapshot, [&](const SegmentView& seg, size_t begin, size_t end) {
        if (left == 0) return false;
        const Selection sel = Select(plan, seg, begin, end);
        const size_t skipped = static_cast<size_t>(std::min<uint64_t>(skip, sel.size()));
        skip -= skipped;
        const size_t take = static_cast<size_t>(std::min<uint64_t>(left, sel.size() - skipped));
        left -= take;
        if (take > 0) stopped = emit(seg, sel, skipped, skipped + take);
        return stopped.ok() && left > 0;
      });
  FEDNODE_RETURN_IF_ERROR(stopped);
  return scanned;
}

// StreamProjection's form for a column-batch sink: the rows go out as
// ColumnBatch messages built straight from the scanned columns, column by
// column (a bulk copy per numeric column and chunk of rows).
absl::Status StreamProjectionBatches(const BoundPlan& plan, const TableSnapshot& snapshot,
                                     Scan* scan, size_t batch_rows, size_t batch_bytes,
                                     RowSink* sink) {
  std::vector<const BoundItem*> items;
  // The columns whose values count with their length (BatchBytes).
  std::vector<int> string_cols;
  for (const BoundItem& item : plan.items) {
    if (item.hidden) continue;
    items.push_back(&item);
    if (item.kind == BoundItem::kColumn && item.out_type == sv1::COLUMN_TYPE_STRING) {
      string_cols.push_back(item.col);
    }
  }
  // Bytes per row besides the strings: 8 per value.
  const size_t row_bytes = 8 * items.size();
  // Kept across batches: a sink that hands back a cleared batch has its
  // objects filled again.
  v1::ColumnBatch batch;
  size_t rows = 0, bytes = 0;
  auto reset = [&] {
    batch.Clear();
    for (size_t c = 0; c < items.size(); ++c) batch.add_columns();
    rows = 0;
    bytes = 0;
  };
  auto flush = [&] {
    SealBatch(static_cast<uint32_t>(rows), &batch);
    absl::Status sent = sink->OnBatch(&batch);
    reset();
    return sent;
  };
  reset();
  auto emit = [&](const SegmentView& seg, const Selection& sel, size_t from,
                  size_t to) -> absl::Status {
    const Table& table = seg.table;
    while (from < to) {
      // The rows that go into this batch: up to batch_rows, and up to
      // the first that brings its values to batch_bytes.
      size_t n = std::min(to - from, batch_rows - rows);
      if (string_cols.empty()) {
        if (row_bytes > 0) n = std::min(n, (batch_bytes - bytes + row_bytes - 1) / row_bytes);
        bytes += n * row_bytes;
      } else {
        const TableRows candidates = sel.Slice(from, n);
        size_t k = 0;
        while (k < n && bytes < batch_bytes) {
          const size_t i = candidates[k++];
          bytes += row_bytes;
          for (int c : string_cols) {
            const Column& col = table.columns[c];
            if (!col.IsNull(i)) bytes += col.StringAt(i).size();
          }
        }
        n = k;
      }
      const TableRows slice = sel.Slice(from, n);
      for (size_t c = 0; c < items.size(); ++c) {
        const BoundItem& item = *items[c];
        const Column& col = table.columns[item.col];
        v1::ColumnValues* values = batch.mutable_columns(static_cast<int>(c));
        if (item.kind == BoundItem::kExtract) {
          const bool ts = item.col_type == sv1::COLUMN_TYPE_TIMESTAMP;
          AppendColumnToBatch(
              col, slice, [&](int64_t v) { return ExtractValue(item.field, ts, v); }, values);
        } else {
          AppendColumnToBatch(col, slice, values);
        }
      }
      rows += n;
      from += n;
      if (rows >= batch_rows || bytes >= batch_bytes) FEDNODE_RETURN_IF_ERROR(flush());
    }
    return absl::OkStatus();
  };
  FEDNODE_RETURN_IF_ERROR(ForEachOutputRange(plan, snapshot, scan, emit));
  return rows > 0 ? flush() : absl::OkStatus();
}

// A plain query without ORDER BY, streamed: rows go to `sink` in batches of
// at most `batch_rows` as the scan finds them, after OFFSET and up to LIMIT;
// nothing of the result is kept beyond one batch.
absl::Status StreamProjection(const BoundPlan& plan, const TableSnapshot& snapshot, Scan* scan,
                              size_t batch_rows, RowSink* sink) {
  google::protobuf::RepeatedPtrField<v1::Row> batch;
  auto flush = [&] {
    absl::Status sent = sink->OnRows(&batch);
    batch.Clear();
    return sent;
  };
  auto emit = [&](const SegmentView& seg, const Selection& sel, size_t from,
                  size_t to) -> absl::Status {
    const TableRows slice = sel.Slice(from, to - from);
    for (size_t k = 0; k < slice.size(); ++k) {
      v1::Row* row = batch.Add();
      for (const BoundItem& item : plan.items) {
        if (!item.hidden) {
          RowValue(item, seg.table.columns[item.col], slice[k], row->add_values());
        }
      }
      if (static_cast<size_t>(batch.size()) >= batch_rows) FEDNODE_RETURN_IF_ERROR(flush());
    }
    return absl::OkStatus();
  };
  FEDNODE_RETURN_IF_ERROR(ForEachOutputRange(plan, snapshot, scan, emit));
  return batch.empty() ? absl::OkStatus() : flush();
}

// ---------------------------------------------------------------------------
// Grouping.

// Distinct values of one group key, each with a dense id.
struct KeyDict {
  ColumnType type = sv1::COLUMN_TYPE_UNSPECIFIED;
  std::vector<int64_t> ints;  // int-like and double bits
  std::vector<std::string> strings;
  std::vector<uint8_t> nulls;
  absl::flat_hash_map<int64_t, uint32_t> int_index;
  absl::flat_hash_map<std::string, uint32_t> string_index;
  uint32_t null_id = kNone;

  uint32_t size() const { return static_cast<uint32_t>(nulls.size()); }
  uint32_t Null() {
    if (null_id == kNone) {
      null_id = size();
      nulls.push_back(1);
      ints.push_back(0);
      strings.emplace_back();
    }
    return null_id;
  }
  uint32_t Int(int64_t v) {
    auto [it, inserted] = int_index.try_emplace(v, size());
    if (inserted) {
      nulls.push_back(0);
      ints.push_back(v);
      strings.emplace_back();
    }
    return it->second;
  }
  uint32_t String(const std::string& s) {
    auto [it, inserted] = string_index.try_emplace(s, size());
    if (inserted) {
      nulls.push_back(0);
      ints.push_back(0);
      strings.push_back(s);
    }
    return it->second;
  }
};

int64_t DoubleBits(double d) {
  if (d == 0) d = 0;  // -0.0 and 0.0 are one group
  int64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}
double BitsDouble(int64_t bits) {
  double d = 0;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// Per-segment local ids of one group key: `ids[k]` for the k-th selected row
// lies in [0, card); `to_key[id]` is the KeyDict id (kNone until seen).
struct LocalKey {
  const uint32_t* ids = nullptr;
  std::vector<uint32_t> owned;
  uint32_t card = 0;
  std::vector<uint32_t> to_key;
  // How to create the KeyDict id of a local id on first sight.
  enum Mode { kCode, kOffset, kDirect } mode = kDirect;
  const Column* col = nullptr;
  int64_t base = 0;
};

void BuildLocalKey(const BoundItem& item, const Table& table, const Selection& sel, KeyDict* dict,
                   LocalKey* lk) {
  const Column& col = table.columns[item.col];
  size_t n = sel.size();
  lk->col = &col;
  if (item.kind == BoundItem::kColumn && item.col_type == sv1::COLUMN_TYPE_STRING) {
    lk->mode = LocalKey::kCode;
    uint32_t null_id = static_cast<uint32_t>(col.dict.size());
    lk->card = null_id + 1;
    if (sel.dense && !col.has_nulls()) {
      lk->ids = col.codes.data() + sel.begin;
      return;
    }
    lk->owned.resize(n);
    uint32_t* out = lk->owned.data();
    const uint32_t* codes = col.codes.data();
    if (col.has_nulls()) {
      const uint8_t* valid = col.validity.data();
      ForEachRow(sel, [&](size_t k, size_t i) { out[k] = valid[i] ? codes[i] : null_id; });
    } else {
      ForEachRow(sel, [&](size_t k, size_t i) { out[k] = codes[i]; });
    }
    lk->ids = out;
    return;
  }
  if (item.col_type == sv1::COLUMN_TYPE_DOUBLE) {
    lk->mode = LocalKey::kDirect;
    lk->owned.resize(n);
    uint32_t* out = lk->owned.data();
    ForEachRow(sel, [&](size_t k, size_t i) {
      out[k] = col.IsNull(i) ? dict->Null() : dict->Int(DoubleBits(col.doubles[i]));
    });
    lk->ids = out;
    lk->card = dict->size();
    return;
  }
  // Int-like column or EXTRACT: values of the selected rows.
  std::vector<int64_t> extracted;
  const int64_t* vals = col.ints.data();
  bool by_row = true;  // vals indexed by row (else by position k)
  if (item.kind == BoundItem::kExtract) {
    extracted.resize(n);
    bool ts = item.col_type == sv1::COLUMN_TYPE_TIMESTAMP;
    ForEachRow(
        sel, [&](size_t k, size_t i) { extracted[k] = ExtractValue(item.field, ts, col.ints[i]); });
    vals = extracted.data();
    by_row = false;
  }
  const uint8_t* valid = col.has_nulls() ? col.validity.data() : nullptr;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  ForEachRow(sel, [&](size_t k, size_t i) {
    if (valid && !valid[i]) return;
    int64_t v = vals[by_row ? i : k];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  });
  lk->owned.resize(n);
  uint32_t* out = lk->owned.data();
  lk->ids = out;
  uint64_t range = lo > hi ? 0 : static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (range < std::max<uint64_t>(4096, n) && range < (uint64_t{1} << 22)) {
    lk->mode = LocalKey::kOffset;
    lk->base = lo > hi ? 0 : lo;
    uint32_t null_local = static_cast<uint32_t>(range + 1);
    lk->card = null_local + 1;
    int64_t base = lk->base;
    if (valid) {
      ForEachRow(sel, [&](size_t k, size_t i) {
        out[k] = valid[i] ? static_cast<uint32_t>(vals[by_row ? i : k] - base) : null_local;
      });
    } else if (by_row) {
      ForEachRow(sel, [&](size_t k, size_t i) { out[k] = static_cast<uint32_t>(vals[i] - base); });
    } else {
      for (size_t k = 0; k < n; ++k) out[k] = static_cast<uint32_t>(vals[k] - base);
    }
    return;
  }
  lk->mode = LocalKey::kDirect;
  ForEachRow(sel, [&](size_t k, size_t i) {
    out[k] = (valid && !valid[i]) ? dict->Null() : dict->Int(vals[by_row ? i : k]);
  });
  lk->card = dict->size();
}

uint32_t LocalToKey(LocalKey* lk, KeyDict* dict, uint32_t local) {
  switch (lk->mode) {
    case LocalKey::kCode:
      return local == lk->col->dict.size() ? dict->Null() : dict->String(lk->col->dict[local]);
    case LocalKey::kOffset:
      return local == lk->card - 1 ? dict->Null() : dict->Int(lk->base + local);
    case LocalKey::kDirect:
      return local;
  }
  return local;
}

// ---------------------------------------------------------------------------
// Aggregate state, one slot per group.

struct AggState {
  std::vector<int64_t> count;  // non-NULL inputs
  std::vector<int64_t> isum;
  std::vector<double> dsum;
  std::vector<int64_t> imm;  // MIN/MAX of int-like
  std::vector<double> dmm;
  std::vector<std::string> smm;
  std::vector<uint8_t> has;
  absl::flat_hash_set<std::pair<uint32_t, int64_t>> distinct;
  absl::flat_hash_map<std::string, int64_t> string_ids;
  bool overflow = false;

  void Resize(size_t g) {
    count.resize(g, 0);
    isum.resize(g, 0);
    dsum.resize(g, 0);
    imm.resize(g, 0);
    dmm.resize(g, 0);
    smm.resize(g);
    has.resize(g, 0);
  }
};

template <typename G>
void Accumulate(const BoundItem& item, const Table& table, const Selection& sel, G group,
                size_t num_groups, AggState* st) {
  if (item.col < 0) return;  // COUNT(*): from the row counts
  const Column& col = table.columns[item.col];
  const uint8_t* valid = col.has_nulls() ? col.validity.data() : nullptr;
  bool is_double = item.col_type == sv1::COLUMN_TYPE_DOUBLE;
  bool is_string = item.col_type == sv1::COLUMN_TYPE_STRING;
  int64_t* cnt = st->count.data();
  if (item.fn == v1::AGGREGATE_FUNCTION_COUNT && item.distinct) {
    std::vector<int64_t> sid;
    if (is_string) {
      sid.assign(col.dict.size(), -1);
    }
    ForEachRow(sel, [&](size_t k, size_t i) {
      if (valid && !valid[i]) return;
      int64_t v;
      if (is_string) {
        uint32_t c = col.codes[i];
        if (sid[c] < 0) {
          sid[c] = st->string_ids.try_emplace(col.dict[c], st->string_ids.size()).first->second;
        }
        v = sid[c];
      } else {
        v = is_double ? DoubleBits(col.doubles[i]) : col.ints[i];
      }
      st->distinct.emplace(group(k), v);
    });
    return;
  }
  switch (item.fn) {
    case v1::AGGREGATE_FUNCTION_COUNT:
      // Without NULLs the caller adds the row counts.
      if (valid) ForEachRow(sel, [&](size_t k, size_t i) { cnt[group(k)] += valid[i]; });
      return;
    case v1::AGGREGATE_FUNCTION_SUM:
    case v1::AGGREGATE_FUNCTION_AVG:
      if (is_double || item.fn == v1::AGGREGATE_FUNCTION_AVG) {
        double* sum = st->dsum.data();
        if (is_double) {
          const double* v = col.doubles.data();
          ForEachRow(sel, [&](size_t k, size_t i) {
            if (valid && !valid[i]) return;
            uint32_t g = group(k);
            sum[g] += v[i];
            ++cnt[g];
          });
        } else {
          const int64_t* v = col.ints.data();
          ForEachRow(sel, [&](size_t k, size_t i) {
            if (valid && !valid[i]) return;
            uint32_t g = group(k);
            sum[g] += static_cast<double>(v[i]);
            ++cnt[g];
          });
        }
      } else {
        int64_t* sum = st->isum.data();
        const int64_t* v = col.ints.data();
        bool overflow = false;
        if (valid) {
          ForEachRow(sel, [&](size_t k, size_t i) {
            if (!valid[i]) return;
            uint32_t g = group(k);
            overflow |= __builtin_add_overflow(sum[g], v[i], &sum[g]);
            ++cnt[g];
          });
        } else {
          ForEachRow(sel, [&](size_t k, size_t i) {
            uint32_t g = group(k);
            overflow |= __builtin_add_overflow(sum[g], v[i], &sum[g]);
          });
          // The caller adds the row counts (every selected row is non-NULL).
        }
        st->overflow |= overflow;
      }
      return;
    case v1::AGGREGATE_FUNCTION_MIN:
    case v1::AGGREGATE_FUNCTION_MAX: {
      bool is_min = item.fn == v1::AGGREGATE_FUNCTION_MIN;
      uint8_t* has = st->has.data();
      if (is_string) {
        // Rank the dictionary once, pick the best code per group, then merge.
        std::vector<uint32_t> by_value(col.dict.size());
        for (size_t c = 0; c < by_value.size(); ++c) by_value[c] = static_cast<uint32_t>(c);
        std::sort(by_value.begin(), by_value.end(),
                  [&](uint32_t a, uint32_t b) { return col.dict[a] < col.dict[b]; });
        std::vector<uint32_t> rank(col.dict.size());
        for (size_t r = 0; r < by_value.size(); ++r) rank[by_value[r]] = static_cast<uint32_t>(r);
        std::vector<uint32_t> best(num_groups, kNone);
        ForEachRow(sel, [&](size_t k, size_t i) {
          if (valid && !valid[i]) return;
          uint32_t g = group(k);
          uint32_t c = col.codes[i];
          if (best[g] == kNone || (is_min ? rank[c] < rank[best[g]] : rank[c] > rank[best[g]])) {
            best[g] = c;
          }
        });
        for (size_t g = 0; g < num_groups; ++g) {
          if (best[g] == kNone) continue;
          const std::string& s = col.dict[best[g]];
          if (!has[g] || (is_min ? s < st->smm[g] : s > st->smm[g])) st->smm[g] = s;
          has[g] = 1;
        }
      } else if (is_double) {
        double* mm = st->dmm.data();
        ForEachRow(sel, [&](size_t k, size_t i) {
          if (valid && !valid[i]) return;
          uint32_t g = group(k);
          double v = col.doubles[i];
          if (!has[g] || (is_min ? v < mm[g] : v > mm[g])) mm[g] = v;
          has[g] = 1;
        });
      } else {
        int64_t* mm = st->imm.data();
        ForEachRow(sel, [&](size_t k, size_t i) {
          if (valid && !valid[i]) return;
          uint32_t g = group(k);
          int64_t v = col.ints[i];
          if (!has[g] || (is_min ? v < mm[g] : v > mm[g])) mm[g] = v;
          has[g] = 1;
        });
      }
      return;
    }
    default:
      return;
  }
}

struct GroupIndirect {
  const uint32_t* local;
  const uint32_t* to_group;
  uint32_t operator()(size_t k) const { return to_group[local[k]]; }
};
struct GroupDirect {
  const uint32_t* gids;
  uint32_t operator()(size_t k) const { return gids[k]; }
};
struct GroupZero {
  uint32_t operator()(size_t) const { return 0; }
};

absl::Status RunAggregate(const BoundPlan& plan, const TableSnapshot& snapshot, Scan* scan,
                          v1::ResultSet* result) {
  const size_t num_keys = plan.group_items.size();
  std::vector<KeyDict> dicts(num_keys);
  for (size_t k = 0; k < num_keys; ++k) dicts[k].type = plan.items[plan.group_items[k]].col_type;
  // Composite groups (num_keys > 1): key id tuples.
  absl::flat_hash_map<std::vector<uint32_t>, uint32_t> composite;
  std::vector<uint32_t> group_keys;  // num_keys per group
  size_t num_groups = num_keys == 0 ? 1 : 0;
  std::vector<int64_t> rows(num_groups, 0);
  std::vector<AggState> states(plan.items.size());
  for (AggState& s : states) s.Resize(num_groups);

  auto group_of_keys = [&](const std::vector<uint32_t>& keys) -> uint32_t {
    if (num_keys == 1) {
      // Group id = key id; groups are created in key id order.
      while (num_groups <= keys[0]) {
        ++num_groups;
        group_keys.push_back(static_cast<uint32_t>(num_groups - 1));
      }
      return keys[0];
    }
    auto [it, inserted] = composite.try_emplace(keys, static_cast<uint32_t>(num_groups));
    if (inserted) {
      ++num_groups;
      group_keys.insert(group_keys.end(), keys.begin(), keys.end());
    }
    return it->second;
  };

  absl::Status scanned = scan->ForEachChunk(snapshot, [&](const SegmentView& seg, size_t begin,
                                                          size_t end) {
    const Table& table = seg.table;
    Selection sel = Select(plan, seg, begin, end);
    size_t n = sel.size();
    if (n == 0) return true;
    std::vector<LocalKey> locals(num_keys);
    for (size_t k = 0; k < num_keys; ++k) {
      BuildLocalKey(plan.items[plan.group_items[k]], table, sel, &dicts[k], &locals[k]);
    }
    // Local composite ids: mixed radix over the local key ids when small.
    uint64_t card = 1;
    for (const LocalKey& lk : locals) card = std::min<uint64_t>(card * lk.card, uint64_t{1} << 40);
    std::vector<uint32_t> comp_owned, to_group, gids;
    const uint32_t* comp = nullptr;
    bool direct = false;
    if (num_keys == 1) {
      comp = locals[0].ids;
    } else if (num_keys > 1 && card <= (uint64_t{1} << 22)) {
      comp_owned.assign(n, 0);
      uint32_t stride = 1;
      for (const LocalKey& lk : locals) {
        for (size_t k = 0; k < n; ++k) comp_owned[k] += lk.ids[k] * stride;
        stride *= lk.card;
      }
      comp = comp_owned.data();
    } else if (num_keys > 1) {
      // Too many combinations: look every row up.
      direct = true;
      gids.resize(n);
      std::vector<uint32_t> keys(num_keys);
      for (size_t k = 0; k < n; ++k) {
        for (size_t j = 0; j < num_keys; ++j) {
          keys[j] = LocalToKey(&locals[j], &dicts[j], locals[j].ids[k]);
        }
        gids[k] = group_of_keys(keys);
      }
    }
    if (comp != nullptr) {
      std::vector<uint8_t> seen(card, 0);
      for (size_t k = 0; k < n; ++k) seen[comp[k]] = 1;
      to_group.assign(card, kNone);
      std::vector<uint32_t> keys(num_keys);
      for (uint32_t c = 0; c < card; ++c) {
        if (!seen[c]) continue;
        uint32_t rest = c;
        for (size_t j = 0; j < num_keys; ++j) {
          uint32_t local = rest % locals[j].card;
          rest /= locals[j].card;
          keys[j] = LocalToKey(&locals[j], &dicts[j], local);
        }
        to_group[c] = group_of_keys(keys);
      }
    }
    rows.resize(num_groups, 0);
    for (AggState& s : states) s.Resize(num_groups);
    std::vector<int64_t> seg_rows(num_groups, 0);
    auto run = [&](auto group) {
      int64_t* r = seg_rows.data();
      for (size_t k = 0; k < n; ++k) ++r[group(k)];
      for (size_t a = 0; a < plan.items.size(); ++a) {
        const BoundItem& item = plan.items[a];
        if (item.kind != BoundItem::kAggregate) continue;
        Accumulate(item, table, sel, group, num_groups, &states[a]);
      }
    };
    if (num_keys == 0) {
      run(GroupZero{});
    } else if (direct) {
      run(GroupDirect{gids.data()});
    } else {
      run(GroupIndirect{comp, to_group.data()});
    }
    for (size_t g = 0; g < num_groups; ++g) rows[g] += seg_rows[g];
    // Aggregates that did not count per row: every selected row is non-NULL.
    for (size_t a = 0; a < plan.items.size(); ++a) {
      const BoundItem& item = plan.items[a];
      if (item.kind == BoundItem::kAggregate && !item.distinct && item.col >= 0 &&
          (item.fn == v1::AGGREGATE_FUNCTION_COUNT ||
           (item.fn == v1::AGGREGATE_FUNCTION_SUM && item.col_type != sv1::COLUMN_TYPE_DOUBLE)) &&
          !table.columns[item.col].has_nulls()) {
        int64_t* cnt = states[a].count.data();
        for (size_t g = 0; g < num_groups; ++g) cnt[g] += seg_rows[g];
      }
    }
    return true;
  });
  FEDNODE_RETURN_IF_ERROR(scanned);
  for (size_t a = 0; a < states.size(); ++a) {
    if (states[a].overflow) {
      return absl::OutOfRangeError(
          absl::StrCat("integer overflow in ", plan.items[a].name, " (SUM of int64)"));
    }
  }

  // Output columns, one row per group.
  std::vector<OutColumn> cols(plan.items.size());
  std::vector<int> key_of_item(plan.items.size(), -1);
  for (size_t k = 0; k < num_keys; ++k) key_of_item[plan.group_items[k]] = static_cast<int>(k);
  for (size_t a = 0; a < plan.items.size(); ++a) {
    const BoundItem& item = plan.items[a];
    OutColumn& out = cols[a];
    out.type = item.out_type;
    const AggState& st = states[a];
    std::vector<int64_t> distinct_counts;
    if (item.kind == BoundItem::kAggregate && item.distinct) {
      distinct_counts.assign(num_groups, 0);
      for (const auto& [g, v] : st.distinct) ++distinct_counts[g];
    }
    for (size_t g = 0; g < num_groups; ++g) {
      if (item.kind != BoundItem::kAggregate) {
        int k = key_of_item[a];
        const KeyDict& d = dicts[k];
        uint32_t id = group_keys[g * num_keys + k];
        if (d.nulls[id]) {
          out.PushNull();
        } else if (item.col_type == sv1::COLUMN_TYPE_STRING) {
          out.PushString(d.strings[id]);
        } else if (item.col_type == sv1::COLUMN_TYPE_DOUBLE) {
          out.PushDouble(BitsDouble(d.ints[id]));
        } else {
          out.PushInt(d.ints[id]);
        }
        continue;
      }
      switch (item.fn) {
        case v1::AGGREGATE_FUNCTION_COUNT:
          out.PushInt(item.distinct ? distinct_counts[g] : item.col < 0 ? rows[g] : st.count[g]);
          break;
        case v1::AGGREGATE_FUNCTION_SUM:
          if (st.count[g] == 0) {
            out.PushNull();
          } else if (item.out_type == sv1::COLUMN_TYPE_DOUBLE) {
            out.PushDouble(st.dsum[g]);
          } else {
            out.PushInt(st.isum[g]);
          }
          break;
        case v1::AGGREGATE_FUNCTION_AVG:
          if (st.count[g] == 0) {
            out.PushNull();
          } else {
            out.PushDouble(st.dsum[g] / static_cast<double>(st.count[g]));
          }
          break;
        default:  // MIN, MAX
          if (!st.has[g]) {
            out.PushNull();
          } else if (item.col_type == sv1::COLUMN_TYPE_STRING) {
            out.PushString(st.smm[g]);
          } else if (item.col_type == sv1::COLUMN_TYPE_DOUBLE) {
            out.PushDouble(st.dmm[g]);
          } else {
            out.PushInt(st.imm[g]);
          }
          break;
      }
    }
  }
  // Groups that tie on the ORDER BY come out by group key, as without one:
  // the order in which a scan meets the groups depends on its chunks.
  std::vector<BoundOrder> order = plan.order;
  for (int k : plan.group_items) order.push_back(BoundOrder{k, false, true});
  EmitRows(cols, plan.items, order, plan.offset, plan.limit, result);
  return absl::OkStatus();
}

}  // namespace

std::string OutputName(const v1::SelectItem& item) {
  if (!item.alias().empty()) return item.alias();
  switch (item.kind_case()) {
    case v1::SelectItem::kColumn:
      return item.column();
    case v1::SelectItem::kExtract:
      return absl::StrCat(absl::AsciiStrToLower(item.extract().field()), "_",
                          item.extract().column());
    case v1::SelectItem::kAggregate: {
      const auto& a = item.aggregate();
      if (a.column().empty()) return "count";
      return absl::StrCat(AggregateName(a.function()), a.distinct() ? "_distinct_" : "_",
                          a.column());
    }
    case v1::SelectItem::KIND_NOT_SET:
      break;
  }
  return "";
}

absl::Status ValidatePlan(const v1::QueryPlan& plan, const Schema& schema) {
  return Bind(plan, schema).status();
}

namespace {

// The bound plan and the result's header (columns, version, rows scanned).
// Errors: InvalidArgument as ValidatePlan, or for a plan of another dataset.
absl::StatusOr<BoundPlan> Prepare(const v1::QueryPlan& plan, const TableSnapshot& snapshot,
                                  v1::ResultSet* header) {
  if (!plan.dataset_id().empty() && !snapshot.dataset_id.empty() &&
      plan.dataset_id() != snapshot.dataset_id) {
    return absl::InvalidArgumentError(absl::StrCat("plan is for dataset ", plan.dataset_id(),
                                                   ", snapshot is of ", snapshot.dataset_id));
  }
  FEDNODE_ASSIGN_OR_RETURN(BoundPlan bound, Bind(plan, snapshot.schema));
  for (const BoundItem& item : bound.items) {
    if (item.hidden) continue;
    v1::ResultColumn* c = header->add_columns();
    c->set_name(item.name);
    c->set_type(item.out_type);
  }
  header->set_dataset_version(snapshot.version);
  uint64_t scanned = 0;
  for (const auto& seg : snapshot.segments) scanned += seg.num_rows() - seg.deleted_rows.size();
  header->set_rows_scanned(scanned);
  return bound;
}

}  // namespace

absl::StatusOr<v1::ResultSet> Execute(const v1::QueryPlan& plan,
                                      const storage::TableSnapshot& snapshot,
                                      const ExecuteOptions& options) {
  v1::ResultSet result;
  FEDNODE_ASSIGN_OR_RETURN(BoundPlan bound, Prepare(plan, snapshot, &result));
  Scan scan(bound, options);
  FEDNODE_RETURN_IF_ERROR(UseKeyLookup(bound, snapshot, options, &scan, &result));
  if (bound.aggregate) {
    FEDNODE_RETURN_IF_ERROR(RunAggregate(bound, snapshot, &scan, &result));
  } else {
    FEDNODE_RETURN_IF_ERROR(RunProjection(bound, snapshot, &scan, &result));
  }
  return result;
}

absl::Status ExecuteStreaming(const v1::QueryPlan& plan, const storage::TableSnapshot& snapshot,
                              const ExecuteOptions& options, RowSink* sink) {
  v1::ResultSet result;
  FEDNODE_ASSIGN_OR_RETURN(BoundPlan bound, Prepare(plan, snapshot, &result));
  const size_t batch_rows = std::max<uint32_t>(options.stream_batch_rows, 1);
  Scan scan(bound, options);
  FEDNODE_RETURN_IF_ERROR(UseKeyLookup(bound, snapshot, options, &scan, &result));
  const bool batches = sink->WantsColumnBatches();
  if (!bound.aggregate && bound.order.empty()) {
    FEDNODE_RETURN_IF_ERROR(sink->OnColumns(result));
    if (batches) {
      return StreamProjectionBatches(bound, snapshot, &scan, batch_rows,
                                     std::max<size_t>(options.stream_batch_bytes, 1), sink);
    }
    return StreamProjection(bound, snapshot, &scan, batch_rows, sink);
  }
  // Aggregates (bounded by the groups) and ORDER BY (needs every row before
  // the first) are computed whole, then handed over in batches.
  if (bound.aggregate) {
    FEDNODE_RETURN_IF_ERROR(RunAggregate(bound, snapshot, &scan, &result));
  } else {
    FEDNODE_RETURN_IF_ERROR(RunProjection(bound, snapshot, &scan, &result));
  }
  google::protobuf::RepeatedPtrField<v1::Row> rows;
  rows.Swap(result.mutable_rows());
  FEDNODE_RETURN_IF_ERROR(sink->OnColumns(result));
  if (batches) {
    // Bounded by the groups or needed whole for the sort: cut into batches
    // by rows and (the rows' encoded size standing in) bytes.
    int begin = 0;
    size_t bytes = 0;
    for (int r = 0; r < rows.size(); ++r) {
      bytes += rows[r].ByteSizeLong();
      const int n = r + 1 - begin;
      if (r + 1 == rows.size() || static_cast<size_t>(n) >= batch_rows ||
          bytes >= options.stream_batch_bytes) {
        v1::ColumnBatch batch;
        AppendRowsToBatch(result.columns(), rows, begin, r + 1, &batch);
        FEDNODE_RETURN_IF_ERROR(sink->OnBatch(&batch));
        begin = r + 1;
        bytes = 0;
      }
    }
    return absl::OkStatus();
  }
  google::protobuf::RepeatedPtrField<v1::Row> batch;
  for (v1::Row& row : rows) {
    *batch.Add() = std::move(row);
    if (static_cast<size_t>(batch.size()) >= batch_rows) {
      FEDNODE_RETURN_IF_ERROR(sink->OnRows(&batch));
      batch.Clear();
    }
  }
  if (!batch.empty()) FEDNODE_RETURN_IF_ERROR(sink->OnRows(&batch));
  return absl::OkStatus();
}

}  // namespace fednode::query
