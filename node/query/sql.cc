#include "node/query/sql.h"

#include <pg_query.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

#include "node/base/status_macros.h"
#include "node/query/executor.h"
#include "node/query/literal.h"

namespace fednode::query {
namespace {

using Json = nlohmann::json;

absl::Status Unsupported(absl::string_view construct) {
  return absl::InvalidArgumentError(absl::StrCat(construct, " is not supported"));
}

// The node type of a parse tree node: its only key ("ColumnRef", ...).
std::string NodeType(const Json& node) {
  if (node.is_object() && node.size() == 1) return node.begin().key();
  return "";
}

// A readable name for a construct outside the subset.
std::string Construct(const std::string& type) {
  if (type == "SubLink" || type == "RangeSubselect") return "subqueries";
  if (type == "JoinExpr") return "JOIN";
  if (type == "CaseExpr") return "CASE";
  if (type == "CoalesceExpr") return "COALESCE";
  if (type == "TypeCast") return "type casts";
  if (type == "A_Expr") return "expressions";
  if (type == "FuncCall") return "function calls";
  if (type == "BooleanTest") return "IS TRUE/IS FALSE";
  if (type == "ParamRef") return "parameters ($1)";
  if (type == "A_Const") return "constants";
  if (type == "RowExpr") return "row constructors";
  if (type == "A_ArrayExpr") return "arrays";
  if (type == "MinMaxExpr") return "GREATEST/LEAST";
  if (type == "SQLValueFunction") return "CURRENT_DATE and similar functions";
  if (type == "GroupingSet") return "GROUPING SETS, ROLLUP and CUBE";
  if (type == "RangeFunction") return "table functions";
  return type.empty() ? std::string("this construct") : type;
}

std::string StringField(const Json& node) {
  // {"String": {"sval": "x"}}
  if (node.contains("String")) return node["String"].value("sval", "");
  return "";
}

class Translator {
 public:
  explicit Translator(absl::string_view sql) : sql_(sql) {}

  absl::StatusOr<v1::QueryPlan> Translate(const Json& tree) {
    if (!tree.contains("stmts") || tree["stmts"].empty()) {
      return absl::InvalidArgumentError("empty SQL: a SELECT is expected");
    }
    if (tree["stmts"].size() > 1) {
      return absl::InvalidArgumentError("exactly one SQL statement is expected");
    }
    const Json& stmt = tree["stmts"][0]["stmt"];
    std::string type = NodeType(stmt);
    if (type != "SelectStmt") {
      if (type == "InsertStmt") return Unsupported("INSERT");
      if (type == "UpdateStmt") return Unsupported("UPDATE");
      if (type == "DeleteStmt") return Unsupported("DELETE");
      return absl::InvalidArgumentError(
          absl::StrCat("only SELECT is supported, not ", type.empty() ? "this statement" : type));
    }
    return Select(stmt["SelectStmt"]);
  }

 private:
  absl::StatusOr<v1::QueryPlan> Select(const Json& s) {
    if (s.contains("withClause")) return Unsupported("WITH (common table expressions)");
    if (s.value("op", "SETOP_NONE") != "SETOP_NONE") return Unsupported("UNION/INTERSECT/EXCEPT");
    if (s.contains("valuesLists")) return Unsupported("VALUES");
    if (s.contains("distinctClause")) return Unsupported("SELECT DISTINCT (use GROUP BY)");
    if (s.contains("intoClause")) return Unsupported("SELECT INTO");
    if (s.contains("havingClause")) return Unsupported("HAVING");
    if (s.contains("windowClause")) return Unsupported("window functions");
    if (s.contains("lockingClause")) return Unsupported("FOR UPDATE/SHARE");
    if (s.value("limitOption", "") == "LIMIT_OPTION_WITH_TIES") return Unsupported("WITH TIES");

    v1::QueryPlan plan;
    FEDNODE_RETURN_IF_ERROR(From(s, &plan));
    // PostgreSQL accepts an empty select list ("SELECT FROM t", rows of no
    // columns); here it would read as SELECT *, so it is refused.
    if (!s.contains("targetList") || s["targetList"].empty()) {
      return absl::InvalidArgumentError(
          "the select list is empty: name the columns, aggregates or * after SELECT");
    }
    FEDNODE_RETURN_IF_ERROR(TargetList(s["targetList"], &plan));
    if (s.contains("whereClause")) {
      FEDNODE_RETURN_IF_ERROR(Where(s["whereClause"], plan.mutable_filter()));
    }
    if (s.contains("groupClause")) {
      for (const Json& g : s["groupClause"]) {
        FEDNODE_ASSIGN_OR_RETURN(std::string name, OutputRef(g, &plan, "GROUP BY"));
        plan.add_group_by(name);
      }
    }
    if (s.contains("sortClause")) {
      for (const Json& sort : s["sortClause"]) {
        if (NodeType(sort) != "SortBy") return Unsupported(Construct(NodeType(sort)));
        const Json& sb = sort["SortBy"];
        const std::string nulls = sb.value("sortby_nulls", "SORTBY_NULLS_DEFAULT");
        std::string dir = sb.value("sortby_dir", "SORTBY_DEFAULT");
        if (dir == "SORTBY_USING") return Unsupported("ORDER BY ... USING");
        v1::OrderBy* o = plan.add_order_by();
        FEDNODE_ASSIGN_OR_RETURN(*o->mutable_output(), OutputRef(sb["node"], &plan, "ORDER BY"));
        o->set_descending(dir == "SORTBY_DESC");
        if (nulls == "SORTBY_NULLS_FIRST") o->set_nulls(v1::NULLS_ORDER_FIRST);
        if (nulls == "SORTBY_NULLS_LAST") o->set_nulls(v1::NULLS_ORDER_LAST);
      }
    }
    // LIMIT ALL arrives as a NULL constant: no limit.
    const bool limit_all = s.contains("limitCount") && s["limitCount"].contains("A_Const") &&
                           s["limitCount"]["A_Const"].value("isnull", false);
    if (s.contains("limitCount") && !limit_all) {
      FEDNODE_ASSIGN_OR_RETURN(uint64_t limit, Count(s["limitCount"], "LIMIT"));
      plan.set_limit(limit);
    }
    if (s.contains("limitOffset")) {
      FEDNODE_ASSIGN_OR_RETURN(uint64_t offset, Count(s["limitOffset"], "OFFSET"));
      plan.set_offset(offset);
    }
    return plan;
  }

  absl::Status From(const Json& s, v1::QueryPlan* plan) {
    if (!s.contains("fromClause")) {
      return absl::InvalidArgumentError("a FROM clause naming the dataset is required");
    }
    const Json& from = s["fromClause"];
    if (from.size() > 1) return Unsupported("JOIN (more than one dataset in FROM)");
    std::string type = NodeType(from[0]);
    if (type == "JoinExpr") return Unsupported("JOIN");
    if (type != "RangeVar") return Unsupported(Construct(type) + " in FROM");
    const Json& rv = from[0]["RangeVar"];
    if (rv.contains("schemaname")) return Unsupported("a schema-qualified dataset name");
    dataset_ = rv.value("relname", "");
    if (rv.contains("alias")) alias_ = rv["alias"].value("aliasname", "");
    plan->set_dataset_id(dataset_);
    return absl::OkStatus();
  }

  // Column name of a ColumnRef; "*" for a star.
  absl::StatusOr<std::string> ColumnName(const Json& node) {
    if (NodeType(node) != "ColumnRef") {
      return absl::InvalidArgumentError(absl::StrCat(Construct(NodeType(node)),
                                                     " are not supported here; a column is "
                                                     "expected"));
    }
    const Json& fields = node["ColumnRef"]["fields"];
    auto name_of = [](const Json& f) -> std::string {
      if (f.contains("A_Star")) return "*";
      return StringField(f);
    };
    if (fields.size() == 1) return name_of(fields[0]);
    if (fields.size() == 2) {
      std::string qualifier = StringField(fields[0]);
      if (qualifier != dataset_ && qualifier != alias_) {
        return absl::InvalidArgumentError(
            absl::StrCat("column qualifier ", qualifier, " does not name the dataset in FROM"));
      }
      return name_of(fields[1]);
    }
    return Unsupported("a column name with more than two parts");
  }

  absl::Status TargetList(const Json& list, v1::QueryPlan* plan) {
    for (const Json& target : list) {
      const Json& rt = target["ResTarget"];
      const Json& val = rt["val"];
      std::string alias = rt.value("name", "");
      std::string type = NodeType(val);
      if (type == "ColumnRef") {
        FEDNODE_ASSIGN_OR_RETURN(std::string col, ColumnName(val));
        if (col == "*") {
          if (list.size() > 1) return Unsupported("* together with other select items");
          return absl::OkStatus();  // empty select list: all columns
        }
        v1::SelectItem* item = plan->add_select();
        item->set_column(col);
        item->set_alias(alias);
        continue;
      }
      if (type == "FuncCall") {
        FEDNODE_ASSIGN_OR_RETURN(v1::SelectItem item, Function(val["FuncCall"]));
        item.set_alias(alias);
        *plan->add_select() = std::move(item);
        continue;
      }
      if (type == "A_Expr") {
        return Unsupported(
            "expressions in the select list (use a column, an aggregate or EXTRACT)");
      }
      return Unsupported(Construct(type) + " in the select list");
    }
    return absl::OkStatus();
  }

  // COUNT/SUM/MIN/MAX/AVG and EXTRACT/date_part.
  absl::StatusOr<v1::SelectItem> Function(const Json& fc) {
    const Json& names = fc["funcname"];
    std::string name = absl::AsciiStrToLower(StringField(names[names.size() - 1]));
    if (fc.contains("over")) return Unsupported("window functions");
    if (fc.contains("agg_filter")) return Unsupported("FILTER (WHERE ...) in aggregates");
    if (fc.contains("agg_order")) return Unsupported("ORDER BY inside aggregates");
    if (fc.value("agg_within_group", false)) return Unsupported("WITHIN GROUP");
    if (fc.value("func_variadic", false)) return Unsupported("VARIADIC");
    v1::SelectItem item;
    const Json empty = Json::array();
    const Json& args = fc.contains("args") ? fc["args"] : empty;
    if (name == "extract" || name == "date_part") {
      if (args.size() != 2 || NodeType(args[0]) != "A_Const" ||
          !args[0]["A_Const"].contains("sval")) {
        return absl::InvalidArgumentError(
            absl::StrCat(absl::AsciiStrToUpper(name), " needs a field and a column"));
      }
      item.mutable_extract()->set_field(
          absl::AsciiStrToLower(args[0]["A_Const"]["sval"].value("sval", "")));
      FEDNODE_ASSIGN_OR_RETURN(*item.mutable_extract()->mutable_column(), ColumnName(args[1]));
      return item;
    }
    v1::AggregateFunction fn = v1::AGGREGATE_FUNCTION_UNSPECIFIED;
    if (name == "count") fn = v1::AGGREGATE_FUNCTION_COUNT;
    if (name == "sum") fn = v1::AGGREGATE_FUNCTION_SUM;
    if (name == "min") fn = v1::AGGREGATE_FUNCTION_MIN;
    if (name == "max") fn = v1::AGGREGATE_FUNCTION_MAX;
    if (name == "avg") fn = v1::AGGREGATE_FUNCTION_AVG;
    if (fn == v1::AGGREGATE_FUNCTION_UNSPECIFIED) {
      return Unsupported(absl::StrCat(
          "function ", name, " (supported: count, sum, min, max, avg, extract, date_part)"));
    }
    auto* agg = item.mutable_aggregate();
    agg->set_function(fn);
    if (fc.value("agg_star", false)) {
      if (fn != v1::AGGREGATE_FUNCTION_COUNT) {
        return absl::InvalidArgumentError(absl::StrCat(name, "(*) is not valid"));
      }
      return item;
    }
    if (args.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(name, " takes exactly one column"));
    }
    if (NodeType(args[0]) != "ColumnRef") {
      return Unsupported(
          absl::StrCat("expressions as arguments of ", name, " (a column is expected)"));
    }
    FEDNODE_ASSIGN_OR_RETURN(*agg->mutable_column(), ColumnName(args[0]));
    if (agg->column() == "*")
      return absl::InvalidArgumentError(absl::StrCat(name, "(*) is not valid"));
    if (fc.value("agg_distinct", false)) {
      if (fn != v1::AGGREGATE_FUNCTION_COUNT) return Unsupported("DISTINCT outside COUNT");
      agg->set_distinct(true);
    }
    return item;
  }

  // The output name a GROUP BY or ORDER BY item refers to. A column or
  // function not in the select list is added as a hidden select item.
  absl::StatusOr<std::string> OutputRef(const Json& node, v1::QueryPlan* plan,
                                        absl::string_view clause) {
    std::string type = NodeType(node);
    if (type == "A_Const") {
      FEDNODE_ASSIGN_OR_RETURN(v1::Value v, Constant(node));
      int visible = 0;
      for (const v1::SelectItem& s : plan->select()) visible += s.hidden() ? 0 : 1;
      if (!v.has_int64_value() || v.int64_value() < 1 ||
          (visible > 0 && v.int64_value() > visible)) {
        return absl::InvalidArgumentError(
            absl::StrCat(clause, " position is not in the select list"));
      }
      if (plan->select().empty()) return absl::StrCat("#", v.int64_value());
      return OutputName(plan->select(static_cast<int>(v.int64_value() - 1)));
    }
    v1::SelectItem wanted;
    if (type == "ColumnRef") {
      FEDNODE_ASSIGN_OR_RETURN(std::string name, ColumnName(node));
      if (plan->select().empty()) return name;  // SELECT *
      for (const v1::SelectItem& s : plan->select()) {
        if (OutputName(s) == name) return name;
      }
      for (const v1::SelectItem& s : plan->select()) {
        if (s.has_column() && s.column() == name) return OutputName(s);
      }
      wanted.set_column(name);
    } else if (type == "FuncCall") {
      FEDNODE_ASSIGN_OR_RETURN(wanted, Function(node["FuncCall"]));
      std::string want = wanted.SerializeAsString();
      for (const v1::SelectItem& s : plan->select()) {
        v1::SelectItem copy = s;
        copy.clear_alias();
        copy.clear_hidden();
        if (copy.SerializeAsString() == want) return OutputName(s);
      }
    } else {
      return Unsupported(absl::StrCat(Construct(type), " in ", clause));
    }
    if (plan->select().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(clause, " expression must appear in the select list with SELECT *"));
    }
    wanted.set_hidden(true);
    std::string name = OutputName(wanted);
    *plan->add_select() = std::move(wanted);
    return name;
  }

  absl::StatusOr<uint64_t> Count(const Json& node, absl::string_view clause) {
    if (NodeType(node) == "A_Const" && node["A_Const"].value("isnull", false)) return 0;
    absl::StatusOr<v1::Value> v = Constant(node);
    if (v.ok() && v->has_double_value() && v->double_value() >= 0x1p63 &&
        v->double_value() == std::floor(v->double_value())) {
      // An integer literal beyond int64 arrives as a float constant
      // (negative ones, "-1e20", fail below as not integers).
      // As written when it is a plain constant, else as the double it became.
      const std::string written = NodeType(node) == "A_Const"
                                      ? node["A_Const"]["fval"].value("fval", "")
                                      : absl::StrFormat("%.0f", v->double_value());
      return absl::InvalidArgumentError(absl::StrCat(clause, " ", written,
                                                     " is out of range (at most ",
                                                     std::numeric_limits<int64_t>::max(), ")"));
    }
    if (!v.ok() || !v->has_int64_value()) {
      return absl::InvalidArgumentError(absl::StrCat(clause, " needs an integer constant"));
    }
    if (v->int64_value() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(clause, " must not be negative"));
    }
    return static_cast<uint64_t>(v->int64_value());
  }

  // The integer constant at byte `location` of the SQL text. libpg_query
  // 15-4.0.0 leaves the value of a constant that is zero or negative out of
  // its JSON output ("ival": {}), so it is read back from the source. The
  // parser has folded any minus signs into the constant and placed it at the
  // first of them; between them and the digits there may be plus signs,
  // parentheses, white space and comments ("-(5)", "- /* c */ 3").
  // Errors: InvalidArgument when no integer can be read there (never a
  // silent 0).
  absl::StatusOr<int64_t> IntegerAt(int64_t location) {
    const auto unreadable = [&] {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read the integer constant at position ", location + 1));
    };
    if (location < 0 || static_cast<size_t>(location) >= sql_.size()) return unreadable();
    size_t p = static_cast<size_t>(location);
    bool negative = false;
    int comment_depth = 0;  // PostgreSQL nests /* */ comments
    while (p < sql_.size()) {
      const char c = sql_[p];
      if (comment_depth > 0) {
        if (sql_.compare(p, 2, "*/") == 0) {
          --comment_depth;
          p += 2;
        } else if (sql_.compare(p, 2, "/*") == 0) {
          ++comment_depth;
          p += 2;
        } else {
          ++p;
        }
      } else if (sql_.compare(p, 2, "/*") == 0) {
        comment_depth = 1;
        p += 2;
      } else if (sql_.compare(p, 2, "--") == 0) {
        p = sql_.find('\n', p);
        if (p == absl::string_view::npos) return unreadable();
      } else if (c == '-') {
        negative = !negative;
        ++p;
      } else if (c == '+' || c == '(' || absl::ascii_isspace(static_cast<unsigned char>(c))) {
        ++p;
      } else {
        break;
      }
    }
    const size_t start = p;
    while (p < sql_.size() && absl::ascii_isdigit(static_cast<unsigned char>(sql_[p]))) ++p;
    int64_t v = 0;
    if (p == start ||
        !absl::SimpleAtoi(absl::StrCat(negative ? "-" : "", sql_.substr(start, p - start)), &v)) {
      return unreadable();
    }
    return v;
  }

  absl::StatusOr<v1::Value> Constant(const Json& node) {
    std::string type = NodeType(node);
    v1::Value v;
    if (type == "A_Const") {
      const Json& c = node["A_Const"];
      if (c.value("isnull", false)) {
        v.set_null_value(true);
      } else if (c.contains("ival")) {
        if (c["ival"].contains("ival")) {
          v.set_int64_value(c["ival"]["ival"].get<int64_t>());
        } else {
          FEDNODE_ASSIGN_OR_RETURN(int64_t i, IntegerAt(c.value("location", int64_t{-1})));
          v.set_int64_value(i);
        }
      } else if (c.contains("fval")) {
        std::string text = c["fval"].value("fval", "");
        int64_t i = 0;
        double d = 0;
        if (absl::SimpleAtoi(text, &i)) {
          v.set_int64_value(i);
        } else if (absl::SimpleAtod(text, &d)) {
          v.set_double_value(d);
        } else {
          return absl::InvalidArgumentError(absl::StrCat("invalid number ", text));
        }
      } else if (c.contains("sval")) {
        v.set_string_value(c["sval"].value("sval", ""));
      } else if (c.contains("boolval")) {
        v.set_bool_value(c["boolval"].value("boolval", false));
      } else {
        return Unsupported("this kind of constant");
      }
      return v;
    }
    if (type == "TypeCast") {
      const Json& tc = node["TypeCast"];
      const Json& names = tc["typeName"]["names"];
      std::string tname = absl::AsciiStrToLower(StringField(names[names.size() - 1]));
      if (NodeType(tc["arg"]) != "A_Const" || !tc["arg"]["A_Const"].contains("sval") ||
          (tname != "date" && tname != "timestamp")) {
        return Unsupported("type casts other than DATE '...' and TIMESTAMP '...' literals");
      }
      std::string text = tc["arg"]["A_Const"]["sval"].value("sval", "");
      int64_t x = 0;
      if (tname == "date") {
        if (!ParseDateLiteral(text, &x)) {
          return absl::InvalidArgumentError(absl::StrCat("invalid DATE literal '", text, "'"));
        }
        v.set_date_days(x);
      } else {
        if (!ParseTimestampLiteral(text, &x)) {
          return absl::InvalidArgumentError(
              absl::StrCat("invalid TIMESTAMP literal '", text, "'",
                           HasTimeZone(text) ? absl::StrCat(": ", kTimeZoneRefused) : ""));
        }
        v.set_timestamp_micros(x);
      }
      return v;
    }
    if (type == "A_Expr") {
      // Unary minus or plus of a number.
      const Json& e = node["A_Expr"];
      std::string op = e.contains("name") ? StringField(e["name"][0]) : "";
      if (e.value("kind", "") == "AEXPR_OP" && !e.contains("lexpr") && e.contains("rexpr") &&
          (op == "-" || op == "+")) {
        FEDNODE_ASSIGN_OR_RETURN(v, Constant(e["rexpr"]));
        if (op == "-" && v.has_int64_value())
          v.set_int64_value(-v.int64_value());
        else if (op == "-" && v.has_double_value())
          v.set_double_value(-v.double_value());
        else if (!v.has_int64_value() && !v.has_double_value())
          return Unsupported("unary sign on a non-number");
        return v;
      }
    }
    if (type == "ColumnRef") {
      return absl::InvalidArgumentError("comparisons between two columns are not supported");
    }
    return Unsupported(Construct(type) + " as operand");
  }

  // A literal: a constant, a typed literal (DATE '...') or a signed number.
  static bool IsConstant(const Json& node) {
    std::string type = NodeType(node);
    if (type == "A_Const") return true;
    if (type == "TypeCast") return NodeType(node["TypeCast"]["arg"]) == "A_Const";
    if (type == "A_Expr") {
      const Json& e = node["A_Expr"];
      return !e.contains("lexpr") && e.contains("rexpr") && IsConstant(e["rexpr"]);
    }
    return false;
  }

  absl::Status Where(const Json& node, v1::Filter* out) {
    std::string type = NodeType(node);
    if (type == "BoolExpr") {
      const Json& b = node["BoolExpr"];
      std::string op = b.value("boolop", "");
      if (op == "NOT_EXPR") return Where(b["args"][0], out->mutable_not_());
      v1::Filter::List* list = op == "AND_EXPR" ? out->mutable_and_() : out->mutable_or_();
      for (const Json& arg : b["args"]) {
        FEDNODE_RETURN_IF_ERROR(Where(arg, list->add_operands()));
      }
      return absl::OkStatus();
    }
    if (type == "NullTest") {
      const Json& nt = node["NullTest"];
      auto* f = out->mutable_is_null();
      FEDNODE_ASSIGN_OR_RETURN(*f->mutable_column(), ColumnName(nt["arg"]));
      f->set_negated(nt.value("nulltesttype", "") == "IS_NOT_NULL");
      return absl::OkStatus();
    }
    if (type == "ColumnRef") {
      // A boolean column used as a condition.
      auto* c = out->mutable_compare();
      FEDNODE_ASSIGN_OR_RETURN(*c->mutable_column(), ColumnName(node));
      c->set_op(v1::COMPARE_OP_EQ);
      c->mutable_value()->set_bool_value(true);
      return absl::OkStatus();
    }
    if (type != "A_Expr") {
      return Unsupported(Construct(type) + " in WHERE");
    }
    const Json& e = node["A_Expr"];
    std::string kind = e.value("kind", "");
    std::string op = e.contains("name") ? StringField(e["name"][0]) : "";
    if (kind == "AEXPR_OP") return Comparison(e, op, out);
    if (kind == "AEXPR_IN") {
      auto* in = out->mutable_in();
      FEDNODE_ASSIGN_OR_RETURN(*in->mutable_column(), ColumnName(e["lexpr"]));
      in->set_negated(op == "<>");
      if (NodeType(e["rexpr"]) != "List") return Unsupported("IN with a subquery");
      for (const Json& item : e["rexpr"]["List"]["items"]) {
        FEDNODE_ASSIGN_OR_RETURN(*in->add_values(), Constant(item));
      }
      return absl::OkStatus();
    }
    if (kind == "AEXPR_LIKE" || kind == "AEXPR_ILIKE") {
      auto* like = out->mutable_like();
      FEDNODE_ASSIGN_OR_RETURN(*like->mutable_column(), ColumnName(e["lexpr"]));
      like->set_case_insensitive(kind == "AEXPR_ILIKE");
      like->set_negated(!op.empty() && op[0] == '!');
      if (NodeType(e["rexpr"]) == "FuncCall") return Unsupported("LIKE ... ESCAPE");
      FEDNODE_ASSIGN_OR_RETURN(v1::Value pattern, Constant(e["rexpr"]));
      if (!pattern.has_string_value()) {
        return absl::InvalidArgumentError("LIKE needs a string pattern");
      }
      like->set_pattern(pattern.string_value());
      return absl::OkStatus();
    }
    if (kind == "AEXPR_BETWEEN" || kind == "AEXPR_NOT_BETWEEN") {
      auto* b = out->mutable_between();
      FEDNODE_ASSIGN_OR_RETURN(*b->mutable_column(), ColumnName(e["lexpr"]));
      b->set_negated(kind == "AEXPR_NOT_BETWEEN");
      const Json& items = e["rexpr"]["List"]["items"];
      FEDNODE_ASSIGN_OR_RETURN(*b->mutable_low(), Constant(items[0]));
      FEDNODE_ASSIGN_OR_RETURN(*b->mutable_high(), Constant(items[1]));
      return absl::OkStatus();
    }
    if (kind == "AEXPR_BETWEEN_SYM" || kind == "AEXPR_NOT_BETWEEN_SYM") {
      return Unsupported("BETWEEN SYMMETRIC");
    }
    if (kind == "AEXPR_OP_ANY" || kind == "AEXPR_OP_ALL") return Unsupported("ANY/ALL");
    if (kind == "AEXPR_DISTINCT" || kind == "AEXPR_NOT_DISTINCT") {
      return Unsupported("IS [NOT] DISTINCT FROM");
    }
    if (kind == "AEXPR_SIMILAR") return Unsupported("SIMILAR TO");
    return Unsupported(absl::StrCat("operator ", kind));
  }

  absl::Status Comparison(const Json& e, const std::string& op, v1::Filter* out) {
    static const auto* const kOps = new std::vector<std::pair<std::string, v1::CompareOp>>{
        {"=", v1::COMPARE_OP_EQ}, {"<>", v1::COMPARE_OP_NE}, {"!=", v1::COMPARE_OP_NE},
        {"<", v1::COMPARE_OP_LT}, {"<=", v1::COMPARE_OP_LE}, {">", v1::COMPARE_OP_GT},
        {">=", v1::COMPARE_OP_GE}};
    v1::CompareOp cop = v1::COMPARE_OP_UNSPECIFIED;
    for (const auto& [name, value] : *kOps) {
      if (name == op) cop = value;
    }
    if (cop == v1::COMPARE_OP_UNSPECIFIED) {
      if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%" || op == "||") {
        return Unsupported(absl::StrCat("arithmetic (operator ", op, ")"));
      }
      return Unsupported(absl::StrCat("operator ", op));
    }
    const Json empty;
    const Json& l = e.contains("lexpr") ? e["lexpr"] : empty;
    const Json& r = e.contains("rexpr") ? e["rexpr"] : empty;
    bool l_col = NodeType(l) == "ColumnRef", r_col = NodeType(r) == "ColumnRef";
    if (l_col && r_col) return Unsupported("comparing two columns");
    if (!l_col && !r_col) {
      if (IsConstant(l) && IsConstant(r)) return Unsupported("comparing two constants");
      return Unsupported(Construct(NodeType(IsConstant(l) ? r : l)) + " in comparisons");
    }
    if (!l_col) {
      // constant op column: mirror the operator.
      switch (cop) {
        case v1::COMPARE_OP_LT:
          cop = v1::COMPARE_OP_GT;
          break;
        case v1::COMPARE_OP_LE:
          cop = v1::COMPARE_OP_GE;
          break;
        case v1::COMPARE_OP_GT:
          cop = v1::COMPARE_OP_LT;
          break;
        case v1::COMPARE_OP_GE:
          cop = v1::COMPARE_OP_LE;
          break;
        default:
          break;
      }
    }
    auto* c = out->mutable_compare();
    FEDNODE_ASSIGN_OR_RETURN(*c->mutable_column(), ColumnName(l_col ? l : r));
    c->set_op(cop);
    FEDNODE_ASSIGN_OR_RETURN(*c->mutable_value(), Constant(l_col ? r : l));
    return absl::OkStatus();
  }

  absl::string_view sql_;
  std::string dataset_;
  std::string alias_;
};

}  // namespace

absl::StatusOr<v1::QueryPlan> ParseSql(absl::string_view sql) {
  // The parser reads a C string: a NUL byte would silently end the SQL there.
  if (size_t nul = sql.find('\0'); nul != absl::string_view::npos) {
    // Counted in characters, as PostgreSQL's positions are.
    const auto before =
        static_cast<size_t>(std::count_if(sql.begin(), sql.begin() + nul, [](char c) {
          return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
    return absl::InvalidArgumentError(
        absl::StrCat("the SQL holds a NUL byte at position ", before + 1));
  }
  std::string text(sql);
  PgQueryParseResult parsed = pg_query_parse(text.c_str());
  if (parsed.error != nullptr) {
    absl::Status status = absl::InvalidArgumentError(
        absl::StrCat(parsed.error->message, " at position ", parsed.error->cursorpos));
    pg_query_free_parse_result(parsed);
    return status;
  }
  Json tree = Json::parse(parsed.parse_tree, nullptr, /*allow_exceptions=*/false);
  pg_query_free_parse_result(parsed);
  if (tree.is_discarded()) return absl::InternalError("libpg_query returned invalid JSON");
  return Translator(text).Translate(tree);
}

}  // namespace fednode::query
