#include "federation/aggregate/table_format.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "node/query/format.h"

namespace fednode::aggregate {
namespace {

using query::v1::Value;

// Unicode code points of UTF-8 text.
size_t DisplayWidth(absl::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

// Entries in output order: per row its cells (and, with two key columns,
// its row total), then the column totals, then the grand total.
std::vector<const Cell*> OutputOrder(const MergedTable& table) {
  std::vector<const Cell*> out;
  if (table.key_columns.size() == 2) {
    size_t next = 0;
    for (const Cell& row : table.row_totals) {
      while (next < table.cells.size() &&
             CompareValues(table.cells[next].key[0], row.key[0]) == 0) {
        out.push_back(&table.cells[next++]);
      }
      out.push_back(&row);
    }
    for (const Cell& col : table.column_totals) out.push_back(&col);
  } else {
    for (const Cell& c : table.cells) out.push_back(&c);
  }
  if (table.grand_total.has_value()) out.push_back(&*table.grand_total);
  return out;
}

std::string SuppressionMark(Suppression s) { return s == Suppression::kPrimary ? "(p)" : "(s)"; }

}  // namespace

std::string FormatTable(const MergedTable& table, const Coverage& coverage) {
  std::string out = absl::StrCat(CoverageLine(coverage), "\n");
  absl::StrAppend(&out, "disclosure control: ",
                  table.disclosure_rule.empty() ? "NOT APPLIED (internal use only, do not publish)"
                                                : table.disclosure_rule,
                  "\n");
  size_t nkeys = table.key_columns.size();
  std::vector<std::string> header;
  for (const auto& k : table.key_columns) header.push_back(k.name());
  header.push_back("n");
  for (const auto& a : table.aggregates) header.push_back(a.name);
  size_t ncols = header.size();

  std::string grand_label = coverage.partial ? "Total (answering members only)" : "Total";
  std::vector<std::vector<std::string>> lines;
  bool any_hidden = false;
  for (const Cell* c : OutputOrder(table)) {
    std::vector<std::string> line;
    for (size_t k = 0; k < nkeys; ++k) {
      bool summed = (c->kind == CellKind::kGrandTotal) ||
                    (c->kind == CellKind::kRowTotal && k == 1) ||
                    (c->kind == CellKind::kColumnTotal && k == 0);
      if (!summed) {
        line.push_back(query::FormatValue(c->key[k]));
      } else {
        line.push_back(c->kind == CellKind::kGrandTotal && k == 0 ? grand_label : "Total");
      }
    }
    bool hidden = c->suppression != Suppression::kNone;
    any_hidden = any_hidden || hidden;
    line.push_back(hidden ? SuppressionMark(c->suppression) : absl::StrCat(c->units));
    for (const Value& v : c->values) {
      line.push_back(hidden ? SuppressionMark(c->suppression) : query::FormatValue(v));
    }
    lines.push_back(std::move(line));
  }
  std::vector<size_t> width(ncols);
  for (size_t i = 0; i < ncols; ++i) width[i] = DisplayWidth(header[i]);
  for (const auto& line : lines) {
    for (size_t i = 0; i < ncols; ++i) width[i] = std::max(width[i], DisplayWidth(line[i]));
  }
  auto render = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t i = 0; i < ncols; ++i) {
      if (i > 0) s += "|";
      std::string pad(width[i] - DisplayWidth(cells[i]), ' ');
      bool right = i >= nkeys;  // numbers and their headers right-aligned
      absl::StrAppend(&s, " ", right ? pad : "", cells[i], right ? "" : pad, " ");
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  out += render(header);
  for (size_t i = 0; i < ncols; ++i) {
    if (i > 0) out += "+";
    out += std::string(width[i] + 2, '-');
  }
  out += "\n";
  for (const auto& line : lines) out += render(line);
  // The legend says what the marks mean, and, for a two-way table, that a
  // key combination left out has no data (it is not suppressed).
  if (any_hidden) {
    out += "(p) primary suppression, (s) secondary suppression";
    out += nkeys == 2 ? "; a missing key combination has no data\n" : "\n";
  } else if (nkeys == 2) {
    out += "a missing key combination has no data\n";
  }
  return out;
}

absl::StatusOr<query::v1::ResultSet> ToResultSet(const MergedTable& table) {
  if (table.disclosure_rule.empty()) {
    return absl::FailedPreconditionError(
        "disclosure control was not applied; the table must not leave the node");
  }
  query::v1::ResultSet rs;
  auto add_column = [&](const std::string& name, storage::v1::ColumnType type) {
    query::v1::ResultColumn* c = rs.add_columns();
    c->set_name(name);
    c->set_type(type);
  };
  for (const auto& k : table.key_columns) *rs.add_columns() = k;
  add_column("total", storage::v1::COLUMN_TYPE_STRING);
  add_column("n", storage::v1::COLUMN_TYPE_INT64);
  for (const auto& a : table.aggregates) add_column(a.name, a.type);
  add_column("suppressed", storage::v1::COLUMN_TYPE_STRING);
  Value null;
  null.set_null_value(true);
  for (const Cell* c : OutputOrder(table)) {
    query::v1::Row* row = rs.add_rows();
    for (const Value& k : c->key) *row->add_values() = k;
    Value kind = null;
    if (c->kind == CellKind::kRowTotal) kind.set_string_value("row");
    if (c->kind == CellKind::kColumnTotal) kind.set_string_value("column");
    if (c->kind == CellKind::kGrandTotal) kind.set_string_value("grand");
    *row->add_values() = kind;
    bool hidden = c->suppression != Suppression::kNone;
    Value n = null;
    if (!hidden) n.set_int64_value(c->units);
    *row->add_values() = n;
    for (const Value& v : c->values) *row->add_values() = hidden ? null : v;
    Value mark = null;
    if (c->suppression == Suppression::kPrimary) mark.set_string_value("primary");
    if (c->suppression == Suppression::kSecondary) mark.set_string_value("secondary");
    *row->add_values() = mark;
  }
  return rs;
}

}  // namespace fednode::aggregate
