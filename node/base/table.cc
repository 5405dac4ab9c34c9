#include "node/base/table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace fednode {

size_t Column::size() const {
  switch (type) {
    case storage::v1::COLUMN_TYPE_DOUBLE:
      return doubles.size();
    case storage::v1::COLUMN_TYPE_STRING:
      return codes.size();
    default:
      return ints.size();
  }
}

int Table::ColumnIndex(absl::string_view name) const {
  for (int i = 0; i < schema.columns_size(); ++i) {
    if (schema.columns(i).name() == name) return i;
  }
  return -1;
}

Table GatherRows(const Table& table, const std::vector<uint32_t>& rows) {
  Table out;
  out.schema = table.schema;
  out.num_rows = rows.size();
  out.columns.resize(table.columns.size());
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const Column& in = table.columns[c];
    Column& col = out.columns[c];
    col.type = in.type;
    auto gather = [&rows](const auto& from, auto* to) {
      if (from.empty()) return;
      to->reserve(rows.size());
      for (uint32_t r : rows) to->push_back(from[r]);
    };
    gather(in.ints, &col.ints);
    gather(in.doubles, &col.doubles);
    gather(in.validity, &col.validity);
    gather(in.codes, &col.codes);
    if (col.codes.empty()) continue;
    // The entries of the non-NULL rows' codes; a NULL row's code becomes 0.
    std::vector<uint32_t> used;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (!col.IsNull(r)) used.push_back(col.codes[r]);
    }
    std::sort(used.begin(), used.end());
    used.erase(std::unique(used.begin(), used.end()), used.end());
    col.dict.reserve(used.size());
    for (uint32_t code : used) col.dict.push_back(in.dict[code]);
    for (size_t r = 0; r < rows.size(); ++r) {
      uint32_t& code = col.codes[r];
      code = col.IsNull(r) ? 0
                           : static_cast<uint32_t>(
                                 std::lower_bound(used.begin(), used.end(), code) - used.begin());
    }
  }
  return out;
}

ColumnBuilder::ColumnBuilder(ColumnType type) { column_.type = type; }

void ColumnBuilder::MarkValid() {
  if (!column_.validity.empty()) column_.validity.push_back(1);
  ++size_;
}

void ColumnBuilder::AppendInt(int64_t v) {
  column_.ints.push_back(v);
  MarkValid();
}

void ColumnBuilder::AppendDouble(double v) {
  column_.doubles.push_back(v);
  MarkValid();
}

void ColumnBuilder::AppendString(absl::string_view v) {
  auto [it, inserted] = index_.try_emplace(v, static_cast<uint32_t>(column_.dict.size()));
  if (inserted) column_.dict.emplace_back(v);
  column_.codes.push_back(it->second);
  MarkValid();
}

void ColumnBuilder::AppendNull() {
  if (column_.validity.empty()) column_.validity.assign(size_, 1);
  column_.validity.push_back(0);
  switch (column_.type) {
    case storage::v1::COLUMN_TYPE_DOUBLE:
      column_.doubles.push_back(0);
      break;
    case storage::v1::COLUMN_TYPE_STRING:
      column_.codes.push_back(0);
      break;
    default:
      column_.ints.push_back(0);
  }
  ++size_;
}

Column ColumnBuilder::Finish() {
  Column out = std::move(column_);
  column_ = Column();
  column_.type = out.type;
  size_ = 0;
  index_.clear();
  return out;
}

absl::Status ValidateTable(const Table& table) {
  if (static_cast<int>(table.columns.size()) != table.schema.columns_size()) {
    return absl::InternalError(absl::StrCat("table has ", table.columns.size(),
                                            " columns, schema has ", table.schema.columns_size()));
  }
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const Column& c = table.columns[i];
    const auto& cs = table.schema.columns(static_cast<int>(i));
    if (c.type != cs.type()) {
      return absl::InternalError(absl::StrCat("column ", cs.name(), " has type ",
                                              ColumnTypeName(c.type), ", schema says ",
                                              ColumnTypeName(cs.type())));
    }
    if (c.size() != table.num_rows) {
      return absl::InternalError(absl::StrCat("column ", cs.name(), " has ", c.size(),
                                              " values, table has ", table.num_rows, " rows"));
    }
    if (c.has_nulls()) {
      if (c.validity.size() != table.num_rows) {
        return absl::InternalError(absl::StrCat("column ", cs.name(), " validity size"));
      }
      if (!cs.nullable()) {
        for (uint8_t v : c.validity) {
          if (v == 0) {
            return absl::InternalError(
                absl::StrCat("column ", cs.name(), " is not nullable but holds NULL"));
          }
        }
      }
    }
    if (c.type == storage::v1::COLUMN_TYPE_STRING) {
      for (size_t r = 0; r < c.codes.size(); ++r) {
        if (!c.IsNull(r) && c.codes[r] >= c.dict.size()) {
          return absl::InternalError(absl::StrCat("column ", cs.name(), " code out of range"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::string_view ColumnTypeName(ColumnType type) {
  switch (type) {
    case storage::v1::COLUMN_TYPE_INT64:
      return "int64";
    case storage::v1::COLUMN_TYPE_DOUBLE:
      return "double";
    case storage::v1::COLUMN_TYPE_STRING:
      return "string";
    case storage::v1::COLUMN_TYPE_BOOL:
      return "bool";
    case storage::v1::COLUMN_TYPE_DATE:
      return "date";
    case storage::v1::COLUMN_TYPE_TIMESTAMP:
      return "timestamp";
    default:
      return "unspecified";
  }
}

absl::StatusOr<ColumnType> ParseColumnTypeName(absl::string_view name) {
  for (ColumnType t : {storage::v1::COLUMN_TYPE_INT64, storage::v1::COLUMN_TYPE_DOUBLE,
                       storage::v1::COLUMN_TYPE_STRING, storage::v1::COLUMN_TYPE_BOOL,
                       storage::v1::COLUMN_TYPE_DATE, storage::v1::COLUMN_TYPE_TIMESTAMP}) {
    if (ColumnTypeName(t) == name) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown column type \"", name, "\""));
}

bool CivilDayToDays(int64_t year, int month, int day, int64_t* days) {
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  absl::CivilDay d(year, month, day);
  if (d.year() != year || d.month() != month || d.day() != day) return false;
  *days = d - absl::CivilDay(1970, 1, 1);
  return true;
}

std::string FormatDate(int64_t days) {
  absl::CivilDay d = absl::CivilDay(1970, 1, 1) + days;
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

std::string FormatTimestamp(int64_t micros) {
  int64_t secs = micros / 1000000;
  int64_t frac = micros % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  absl::CivilSecond s = absl::CivilSecond(1970, 1, 1, 0, 0, 0) + secs;
  std::string out = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d", s.year(), s.month(), s.day(),
                                    s.hour(), s.minute(), s.second());
  if (frac != 0) absl::StrAppend(&out, absl::StrFormat(".%06d", frac));
  return out;
}

}  // namespace fednode
