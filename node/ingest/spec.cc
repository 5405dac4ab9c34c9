// ImportSpec text format, validation and the primary-key check.
#include <cstring>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "node/ingest/cell_parser.h"
#include "node/ingest/importer.h"
#include "node/ingest/internal.h"

namespace fednode::ingest {
namespace {

using internal::kMaxIdentifierBytes;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty())
      first_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

bool ValidName(absl::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateColumns(const google::protobuf::RepeatedPtrField<v1::ColumnSpec>& columns,
                             absl::string_view path, std::vector<std::string>* names) {
  for (int i = 0; i < columns.size(); ++i) {
    const v1::ColumnSpec& c = columns.Get(i);
    std::string p = absl::StrCat(path, "columns[", i, "]");
    const std::string& name = c.column().name();
    if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(p, ".column.name: empty"));
    if (!ValidName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, ".column.name: \"", name, "\" is not [a-z_][a-z0-9_]*"));
    }
    if (name.size() > kMaxIdentifierBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, ".column.name: \"", name, "\" has ", name.size(), " bytes, at most ",
                       kMaxIdentifierBytes, " are allowed (SQL truncates longer names)"));
    }
    for (const std::string& n : *names) {
      if (n == name) {
        return absl::InvalidArgumentError(
            absl::StrCat(p, ".column.name: duplicate column \"", name, "\""));
      }
    }
    names->push_back(name);
    if (c.source_index() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(p, ".source_index: negative"));
    }
    absl::StatusOr<CellParser> parser = CellParser::Create(c);
    if (!parser.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(p, ".", parser.status().message()));
    }
  }
  return absl::OkStatus();
}

void AppendIndented(absl::string_view text, absl::string_view indent, std::string* out) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(out, indent, line, "\n");
  }
}

std::string Quoted(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\t') {
      out += "\\t";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string ColumnComment(const v1::ColumnSpec& c) {
  std::vector<std::string> parts;
  parts.push_back(std::string(ColumnTypeName(c.column().type())));
  parts.push_back(c.column().nullable() ? "nullable" : "not null");
  if (c.source_index() > 0) {
    parts.push_back(absl::StrCat("source field ", c.source_index()));
  } else if (!c.source_name().empty()) {
    parts.push_back(absl::StrCat("source ", Quoted(c.source_name())));
  }
  if (!c.decimal_separator().empty()) {
    parts.push_back(absl::StrCat("decimal ", Quoted(c.decimal_separator())));
  }
  if (c.thousands_separators_size() > 0) {
    std::vector<std::string> t;
    for (const std::string& s : c.thousands_separators()) {
      t.push_back(s == "\xC2\xA0" ? "no-break space" : Quoted(s));
    }
    parts.push_back(absl::StrCat("thousands ", absl::StrJoin(t, " ")));
  }
  if (c.null_values_size() > 0) {
    std::vector<std::string> t;
    for (const std::string& s : c.null_values()) t.push_back(Quoted(s));
    parts.push_back(absl::StrCat("NULL for ", absl::StrJoin(t, " ")));
  }
  if (!c.date_format().empty()) parts.push_back(absl::StrCat("dates ", c.date_format()));
  if (!c.time_zone().empty()) parts.push_back(absl::StrCat("zone ", c.time_zone()));
  return absl::StrCat("# ", c.column().name(), ": ", absl::StrJoin(parts, ", "));
}

void PrintColumns(const google::protobuf::RepeatedPtrField<v1::ColumnSpec>& columns,
                  absl::string_view indent, std::string* out) {
  google::protobuf::TextFormat::Printer printer;
  printer.SetUseUtf8StringEscaping(true);
  for (const v1::ColumnSpec& c : columns) {
    std::string body;
    printer.PrintToString(c, &body);
    absl::StrAppend(out, indent, ColumnComment(c), "\n", indent, "columns {\n");
    AppendIndented(body, absl::StrCat(indent, "  "), out);
    absl::StrAppend(out, indent, "}\n");
  }
}

}  // namespace

namespace internal {

absl::Status ValidateSpec(const v1::ImportSpec& spec) {
  if (spec.dataset_id().empty()) return absl::InvalidArgumentError("dataset_id: empty");
  if (spec.dataset_id().size() > kMaxIdentifierBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset_id: \"", spec.dataset_id(), "\" has ", spec.dataset_id().size(),
        " bytes, at most ", kMaxIdentifierBytes, " are allowed (SQL truncates longer names)"));
  }
  if (spec.columns_size() == 0) return absl::InvalidArgumentError("columns: none given");
  const v1::CsvDialect& d = spec.csv();
  if (!d.delimiter().empty() && d.delimiter() != "\t" && d.delimiter() != "\\t" &&
      d.delimiter().size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("csv.delimiter: \"", d.delimiter(), "\" is not a single character"));
  }
  if (d.header_line() < 0) return absl::InvalidArgumentError("csv.header_line: negative");
  if (d.skip_after_header() < 0) {
    return absl::InvalidArgumentError("csv.skip_after_header: negative");
  }
  if (d.skip_rows_field() < 0) return absl::InvalidArgumentError("csv.skip_rows_field: negative");
  const std::string& enc = d.encoding();
  if (!enc.empty() && enc != "auto" && enc != "utf-8" && enc != "iso-8859-1" &&
      enc != "windows-1252") {
    return absl::InvalidArgumentError(
        absl::StrCat("csv.encoding: \"", enc, "\" is not auto, utf-8, iso-8859-1 or windows-1252"));
  }
  std::vector<std::string> names;
  absl::Status st = ValidateColumns(spec.columns(), "", &names);
  if (!st.ok()) return st;
  for (int i = 0; i < spec.primary_key_size(); ++i) {
    const std::string& k = spec.primary_key(i);
    bool found = false;
    for (const std::string& n : names) found = found || n == k;
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("primary_key[", i, "]: \"", k, "\" names no column"));
    }
  }
  for (int i = 0; i < spec.json_children_size(); ++i) {
    const v1::JsonChild& ch = spec.json_children(i);
    std::string p = absl::StrCat("json_children[", i, "]");
    if (ch.array_field().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(p, ".array_field: empty"));
    }
    const std::string child_id = ch.dataset_id().empty()
                                     ? absl::StrCat(spec.dataset_id(), "_", ch.array_field())
                                     : ch.dataset_id();
    if (child_id.size() > kMaxIdentifierBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          p, ".dataset_id: \"", child_id, "\" has ", child_id.size(), " bytes, at most ",
          kMaxIdentifierBytes, " are allowed (SQL truncates longer names)",
          ch.dataset_id().empty() ? "; set a shorter dataset_id" : ""));
    }
    if (spec.primary_key_size() == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(p, ": a child dataset needs the parent's primary_key"));
    }
    std::vector<std::string> child_names(spec.primary_key().begin(), spec.primary_key().end());
    child_names.push_back("ordinal");
    st = ValidateColumns(ch.columns(), absl::StrCat(p, "."), &child_names);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status CheckPrimaryKey(const Table& table, const std::vector<int64_t>& locators,
                             absl::string_view source_name, absl::string_view unit_plural) {
  std::vector<int> cols;
  for (const std::string& k : table.schema.primary_key()) cols.push_back(table.ColumnIndex(k));
  if (cols.empty()) return absl::OkStatus();
  auto describe = [&](size_t row) {
    std::vector<std::string> parts;
    for (int c : cols) {
      const Column& col = table.columns[c];
      std::string v;
      if (col.IsNull(row)) {
        v = "NULL";
      } else {
        switch (col.type) {
          case storage::v1::COLUMN_TYPE_STRING:
            v = col.StringAt(row);
            break;
          case storage::v1::COLUMN_TYPE_DOUBLE:
            v = absl::StrCat(col.doubles[row]);
            break;
          case storage::v1::COLUMN_TYPE_DATE:
            v = FormatDate(col.ints[row]);
            break;
          case storage::v1::COLUMN_TYPE_TIMESTAMP:
            v = FormatTimestamp(col.ints[row]);
            break;
          default:
            v = absl::StrCat(col.ints[row]);
        }
      }
      parts.push_back(absl::StrCat(table.schema.columns(c).name(), "=", v));
    }
    return absl::StrJoin(parts, ", ");
  };
  auto dup = [&](size_t first, size_t second) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": duplicate primary key (",
                                                   describe(second), ") on ", unit_plural, " ",
                                                   locators[first], " and ", locators[second]));
  };
  for (size_t row = 0; row < table.num_rows; ++row) {
    for (int c : cols) {
      if (table.columns[c].IsNull(row)) {
        return absl::InvalidArgumentError(absl::StrCat(
            source_name, ": ", unit_plural == "lines" ? "line " : "record ", locators[row],
            ": column ", table.schema.columns(c).name(), ": primary key is NULL"));
      }
    }
  }
  // One 8-byte word per key column: the int, the double's bits or the
  // string's dictionary code (unique per string within a column).
  auto word = [&](int c, size_t row) -> uint64_t {
    const Column& col = table.columns[c];
    switch (col.type) {
      case storage::v1::COLUMN_TYPE_STRING:
        return col.codes[row];
      case storage::v1::COLUMN_TYPE_DOUBLE: {
        uint64_t bits;
        double d = col.doubles[row] == 0 ? 0.0 : col.doubles[row];
        std::memcpy(&bits, &d, sizeof bits);
        return bits;
      }
      default:
        return static_cast<uint64_t>(col.ints[row]);
    }
  };
  if (cols.size() == 1) {
    absl::flat_hash_map<uint64_t, size_t> seen;
    seen.reserve(table.num_rows);
    for (size_t row = 0; row < table.num_rows; ++row) {
      auto [it, inserted] = seen.try_emplace(word(cols[0], row), row);
      if (!inserted) return dup(it->second, row);
    }
    return absl::OkStatus();
  }
  absl::flat_hash_map<std::string, size_t> seen;
  seen.reserve(table.num_rows);
  std::string key;
  for (size_t row = 0; row < table.num_rows; ++row) {
    key.clear();
    for (int c : cols) {
      uint64_t w = word(c, row);
      key.append(reinterpret_cast<const char*>(&w), sizeof w);
    }
    auto [it, inserted] = seen.try_emplace(key, row);
    if (!inserted) return dup(it->second, row);
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::StatusOr<v1::ImportSpec> ParseSpecTextproto(absl::string_view text) {
  v1::ImportSpec spec;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &spec)) {
    return absl::InvalidArgumentError(absl::StrCat("import spec: ", errors.first()));
  }
  absl::Status st = internal::ValidateSpec(spec);
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("import spec: ", st.message()));
  return spec;
}

std::string SpecToTextproto(const v1::ImportSpec& spec) {
  std::string out = absl::StrCat(
      "# fednode import spec (fednode.ingest.v1.ImportSpec, text format) for dataset \"",
      spec.dataset_id(),
      "\".\n"
      "# Review the column names, types, nullability and the primary key, then keep\n"
      "# this file beside the data and pass it to `fedctl import --schema`.\n");
  google::protobuf::TextFormat::Printer printer;
  printer.SetUseUtf8StringEscaping(true);
  absl::StrAppend(&out, "dataset_id: ", Quoted(spec.dataset_id()), "\n");
  if (!spec.conforms_to().empty()) {
    absl::StrAppend(&out, "conforms_to: ", Quoted(spec.conforms_to()), "\n");
  }
  if (spec.has_csv()) {
    std::string body;
    printer.PrintToString(spec.csv(), &body);
    absl::StrAppend(&out,
                    "# How the file is read: encoding, delimiter, the 1-based header line,\n"
                    "# lines skipped after it, the footer marker and total rows.\n"
                    "csv {\n");
    AppendIndented(body, "  ", &out);
    absl::StrAppend(&out, "}\n");
  }
  absl::StrAppend(&out, "# Columns in dataset order; source fields not listed are ignored.\n");
  PrintColumns(spec.columns(), "", &out);
  if (spec.primary_key_size() == 0) {
    absl::StrAppend(&out, "# No primary key inferred; add primary_key: \"...\" lines.\n");
  }
  for (const std::string& k : spec.primary_key()) {
    absl::StrAppend(&out, "primary_key: ", Quoted(k), "\n");
  }
  for (const v1::JsonChild& ch : spec.json_children()) {
    absl::StrAppend(&out, "# Child dataset from the array \"", ch.array_field(),
                    "\": parent key + ordinal + these columns.\n", "json_children {\n",
                    "  array_field: ", Quoted(ch.array_field()), "\n");
    if (!ch.dataset_id().empty()) {
      absl::StrAppend(&out, "  dataset_id: ", Quoted(ch.dataset_id()), "\n");
    }
    if (!ch.conforms_to().empty()) {
      absl::StrAppend(&out, "  conforms_to: ", Quoted(ch.conforms_to()), "\n");
    }
    PrintColumns(ch.columns(), "  ", &out);
    absl::StrAppend(&out, "}\n");
  }
  return out;
}

}  // namespace fednode::ingest
