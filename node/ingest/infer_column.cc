// Type inference for one column of text values (CSV cells, JSON strings).
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

#include "node/ingest/cell_parser.h"
#include "node/ingest/internal.h"

namespace fednode::ingest::internal {
namespace {

// Cell texts that statistics offices use for "no value" (GENESIS, Destatis).
constexpr absl::string_view kPlaceholders[] = {"-", ".", "x", "X", "...", "/", "–", "—", "(x)"};

bool IsPlaceholder(absl::string_view v) {
  for (absl::string_view p : kPlaceholders) {
    if (v == p) return true;
  }
  return false;
}

// "0123": an identifier with a leading zero, never a number.
bool HasLeadingZero(absl::string_view v, char decimal) {
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) v.remove_prefix(1);
  if (v.size() < 2 || v[0] != '0') return false;
  return v[1] != decimal;
}

// Digits grouped by thousands with '.', first group 1-3 digits not
// starting with 0: "1.132", "12.345.678".
bool DotGrouped(absl::string_view v) {
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) v.remove_prefix(1);
  size_t dot = v.find('.');
  if (dot == 0 || dot > 3 || v[0] == '0') return false;
  size_t group = 0;
  for (size_t i = dot; i < v.size(); ++i) {
    if (v[i] == '.') {
      if (i != dot && group != 3) return false;
      group = 0;
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) {
      ++group;
    } else {
      return false;
    }
  }
  return group == 3;
}

struct Candidate {
  ColumnType type;
  NumberFormat format;
};

bool AllParse(const std::vector<absl::string_view>& values, const Candidate& c) {
  for (absl::string_view v : values) {
    if (HasLeadingZero(v, c.format.decimal)) return false;
    if (c.type == storage::v1::COLUMN_TYPE_INT64) {
      int64_t i;
      if (ParseInt64(v, c.format, &i) != NumberResult::kOk) return false;
    } else {
      double d;
      if (ParseDouble(v, c.format, &d) != NumberResult::kOk) return false;
    }
  }
  return true;
}

void SetNumberFormat(const Candidate& c, const std::vector<absl::string_view>& values,
                     v1::ColumnSpec* spec) {
  spec->mutable_column()->set_type(c.type);
  if (c.type == storage::v1::COLUMN_TYPE_DOUBLE) {
    spec->set_decimal_separator(std::string(1, c.format.decimal));
  }
  // Only list the separators that occur.
  bool dot = false, comma = false, space = false, nbsp = false, apos = false;
  const bool is_int = c.type == storage::v1::COLUMN_TYPE_INT64;
  for (absl::string_view v : values) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '.' && (is_int || c.format.decimal != '.')) dot = true;
      if (v[i] == ',' && (is_int || c.format.decimal != ',')) comma = true;
      if (v[i] == ' ') space = true;
      if (v[i] == '\'') apos = true;
      if (v[i] == '\xC2' && i + 1 < v.size() && v[i + 1] == '\xA0') nbsp = true;
    }
  }
  if (dot && c.format.thousands_dot) spec->add_thousands_separators(".");
  if (comma && c.format.thousands_comma) spec->add_thousands_separators(",");
  if (space && c.format.thousands_space) spec->add_thousands_separators(" ");
  if (nbsp && c.format.thousands_nbsp) spec->add_thousands_separators("\xC2\xA0");
  if (apos && c.format.thousands_apostrophe) spec->add_thousands_separators("'");
}

bool InferNumber(const std::vector<absl::string_view>& values, char delimiter,
                 v1::ColumnSpec* spec) {
  bool has_dot = false, has_comma = false, big_plain = false, multi_dot = false;
  bool dots_grouped = true;
  bool comma_last = false;
  for (absl::string_view v : values) {
    size_t dots = 0, digits = 0;
    size_t last_dot = absl::string_view::npos, last_comma = absl::string_view::npos;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '.') {
        ++dots;
        last_dot = i;
      } else if (v[i] == ',') {
        last_comma = i;
      } else if (absl::ascii_isdigit(static_cast<unsigned char>(v[i]))) {
        ++digits;
      }
    }
    if (dots > 0) {
      has_dot = true;
      if (dots > 1) multi_dot = true;
      if (!DotGrouped(v)) dots_grouped = false;
    }
    if (last_comma != absl::string_view::npos) {
      has_comma = true;
      if (last_dot == absl::string_view::npos || last_comma > last_dot) comma_last = true;
    }
    if (dots == 0 && last_comma == absl::string_view::npos && digits >= 4) big_plain = true;
  }
  NumberFormat spaces;
  spaces.thousands_space = true;
  spaces.thousands_nbsp = true;
  std::vector<Candidate> candidates;
  candidates.push_back({storage::v1::COLUMN_TYPE_INT64, spaces});
  // "1.132" is 1132 in German statistics files, but 1.132 in ','-files.
  if (has_dot && dots_grouped && !big_plain && (delimiter != ',' || multi_dot)) {
    NumberFormat f = spaces;
    f.thousands_dot = true;
    candidates.push_back({storage::v1::COLUMN_TYPE_INT64, f});
  }
  NumberFormat point = spaces;
  point.decimal = '.';
  if (has_comma && has_dot && !comma_last) point.thousands_comma = true;
  NumberFormat comma = spaces;
  comma.decimal = ',';
  if (has_dot) comma.thousands_dot = true;
  if (has_comma && comma_last) {
    candidates.push_back({storage::v1::COLUMN_TYPE_DOUBLE, comma});
    candidates.push_back({storage::v1::COLUMN_TYPE_DOUBLE, point});
  } else {
    candidates.push_back({storage::v1::COLUMN_TYPE_DOUBLE, point});
    candidates.push_back({storage::v1::COLUMN_TYPE_DOUBLE, comma});
  }
  for (const Candidate& c : candidates) {
    if (AllParse(values, c)) {
      SetNumberFormat(c, values, spec);
      return true;
    }
  }
  return false;
}

bool InferDate(const std::vector<absl::string_view>& values, v1::ColumnSpec* spec) {
  bool any_time = false, any_zone = false, iso = false, de = false;
  for (absl::string_view v : values) {
    ParsedDateTime p;
    if (!ParseDateTime(v, DateFormat::kAuto, &p)) return false;
    if (p.has_time) any_time = true;
    if (p.has_zone) any_zone = true;
    if (v.size() >= 5 && v[4] == '-') {
      iso = true;
    } else {
      de = true;
    }
  }
  (void)any_zone;
  spec->mutable_column()->set_type(any_time ? storage::v1::COLUMN_TYPE_TIMESTAMP
                                            : storage::v1::COLUMN_TYPE_DATE);
  spec->set_date_format(iso && de ? "auto" : (iso ? "iso" : "de"));
  return true;
}

bool InferBool(const std::vector<absl::string_view>& values, v1::ColumnSpec* spec) {
  static constexpr absl::string_view kWords[] = {"true", "false",  "ja",  "nein",
                                                 "wahr", "falsch", "yes", "no"};
  for (absl::string_view v : values) {
    bool ok = false;
    for (absl::string_view w : kWords) ok = ok || absl::EqualsIgnoreCase(v, w);
    if (!ok) return false;
  }
  spec->mutable_column()->set_type(storage::v1::COLUMN_TYPE_BOOL);
  return true;
}

}  // namespace

void InferTextColumn(const std::vector<std::string>& values, char delimiter, v1::ColumnSpec* spec) {
  std::vector<absl::string_view> present;
  std::vector<std::string> placeholders;
  bool empty = false;
  for (const std::string& raw : values) {
    absl::string_view v = TrimCell(raw);
    if (v.empty()) {
      empty = true;
    } else if (IsPlaceholder(v)) {
      bool seen = false;
      for (const std::string& p : placeholders) seen = seen || p == v;
      if (!seen) placeholders.emplace_back(v);
    } else {
      present.push_back(v);
    }
  }
  v1::ColumnSpec typed = *spec;
  bool ok =
      !present.empty() && (InferBool(present, &typed) || InferNumber(present, delimiter, &typed) ||
                           InferDate(present, &typed));
  if (ok) {
    *spec = typed;
    for (const std::string& p : placeholders) spec->add_null_values(p);
    spec->mutable_column()->set_nullable(empty || !placeholders.empty());
  } else {
    spec->mutable_column()->set_type(storage::v1::COLUMN_TYPE_STRING);
    spec->mutable_column()->set_nullable(empty);
  }
}

std::string UniqueName(std::string name, std::vector<std::string>* used) {
  auto taken = [&](const std::string& n) {
    for (const std::string& u : *used) {
      if (u == n) return true;
    }
    return false;
  };
  auto cut = [](std::string n, size_t max) {
    if (n.size() > max) n.resize(max);
    while (n.size() > 1 && n.back() == '_') n.pop_back();
    return n;
  };
  std::string out = cut(name, kMaxIdentifierBytes);
  for (int i = 2; taken(out); ++i) {
    const std::string suffix = "_" + std::to_string(i);
    out = cut(name, kMaxIdentifierBytes - suffix.size()) + suffix;
  }
  used->push_back(out);
  return out;
}

}  // namespace fednode::ingest::internal
