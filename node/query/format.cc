#include "node/query/format.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

#include "node/base/table.h"

namespace fednode::query {
namespace {

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  double mag = std::fabs(d);
  if (mag < 1e-6 || mag >= 1e15) return absl::StrFormat("%.10g", d);
  // Round to 10 significant digits, then print the decimals needed.
  std::string e = absl::StrFormat("%.9e", d);
  int exponent = std::atoi(e.c_str() + e.find('e') + 1);
  int decimals = std::max(0, 9 - exponent);
  std::string s = absl::StrFormat("%.*f", decimals, d);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

size_t DisplayWidth(absl::string_view s) {
  size_t w = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++w;
  }
  return w;
}

bool IsNumberType(storage::v1::ColumnType t) {
  return t == storage::v1::COLUMN_TYPE_INT64 || t == storage::v1::COLUMN_TYPE_DOUBLE;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string JsonString(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string JsonValue(const v1::Value& v) {
  switch (v.kind_case()) {
    case v1::Value::kInt64Value:
      return absl::StrCat(v.int64_value());
    case v1::Value::kDoubleValue:
      return std::isfinite(v.double_value()) ? FormatDouble(v.double_value()) : "null";
    case v1::Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case v1::Value::kStringValue:
    case v1::Value::kDateDays:
    case v1::Value::kTimestampMicros:
      return JsonString(FormatValue(v));
    default:
      return "null";
  }
}

std::string FormatTable(const v1::ResultSet& result) {
  size_t ncols = result.columns_size();
  std::vector<size_t> width(ncols);
  std::vector<bool> right(ncols);
  for (size_t c = 0; c < ncols; ++c) {
    width[c] = DisplayWidth(result.columns(c).name());
    right[c] = IsNumberType(result.columns(c).type());
  }
  std::vector<std::vector<std::string>> cells(result.rows_size());
  for (int r = 0; r < result.rows_size(); ++r) {
    const v1::Row& row = result.rows(r);
    for (size_t c = 0; c < ncols; ++c) {
      cells[r].push_back(static_cast<int>(c) < row.values_size() ? FormatValue(row.values(c))
                                                                 : "NULL");
      width[c] = std::max(width[c], DisplayWidth(cells[r].back()));
    }
  }
  auto line = [&](const std::vector<std::string>& values, bool header) {
    std::string out;
    for (size_t c = 0; c < ncols; ++c) {
      if (c > 0) out += "|";
      std::string pad(width[c] - DisplayWidth(values[c]), ' ');
      bool r = right[c] && !header;
      absl::StrAppend(&out, " ", r ? pad : "", values[c], r ? "" : pad, " ");
    }
    // Trailing blanks carry no information.
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> names;
  for (const auto& col : result.columns()) names.push_back(col.name());
  std::string out = line(names, true);
  for (size_t c = 0; c < ncols; ++c) {
    if (c > 0) out += "+";
    out += std::string(width[c] + 2, '-');
  }
  out += "\n";
  for (const auto& row : cells) out += line(row, false);
  absl::StrAppend(&out, "(", result.rows_size(), result.rows_size() == 1 ? " row)\n" : " rows)\n");
  return out;
}

std::string FormatCsv(const v1::ResultSet& result) {
  std::string out;
  for (int c = 0; c < result.columns_size(); ++c) {
    if (c > 0) out += ",";
    out += CsvField(result.columns(c).name());
  }
  out += "\r\n";
  for (const v1::Row& row : result.rows()) {
    for (int c = 0; c < row.values_size(); ++c) {
      if (c > 0) out += ",";
      if (!row.values(c).has_null_value()) out += CsvField(FormatValue(row.values(c)));
    }
    out += "\r\n";
  }
  return out;
}

std::string FormatJson(const v1::ResultSet& result) {
  if (result.rows_size() == 0) return "[]\n";
  std::vector<std::string> keys;
  for (const auto& col : result.columns()) keys.push_back(JsonString(col.name()));
  std::string out = "[\n";
  for (int r = 0; r < result.rows_size(); ++r) {
    const v1::Row& row = result.rows(r);
    out += "{";
    for (int c = 0; c < row.values_size() && c < static_cast<int>(keys.size()); ++c) {
      if (c > 0) out += ",";
      absl::StrAppend(&out, keys[c], ":", JsonValue(row.values(c)));
    }
    out += r + 1 < result.rows_size() ? "},\n" : "}\n";
  }
  out += "]\n";
  return out;
}

}  // namespace

std::string FormatValue(const v1::Value& v) {
  switch (v.kind_case()) {
    case v1::Value::kInt64Value:
      return absl::StrCat(v.int64_value());
    case v1::Value::kDoubleValue:
      return FormatDouble(v.double_value());
    case v1::Value::kStringValue:
      return v.string_value();
    case v1::Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    case v1::Value::kDateDays:
      return FormatDate(v.date_days());
    case v1::Value::kTimestampMicros:
      return FormatTimestamp(v.timestamp_micros());
    default:
      return "NULL";
  }
}

std::string FormatResult(const v1::ResultSet& result, Format format) {
  switch (format) {
    case Format::kCsv:
      return FormatCsv(result);
    case Format::kJson:
      return FormatJson(result);
    case Format::kTable:
      break;
  }
  return FormatTable(result);
}

}  // namespace fednode::query
