// JSON import and inference (see importer.h for the contract).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

#include "node/base/status_macros.h"
#include "node/ingest/cell_parser.h"
#include "node/ingest/charset.h"
#include "node/ingest/internal.h"

namespace fednode::ingest::internal {
namespace {

// ordered_json keeps the keys in file order, so columns follow the source.
using Json = nlohmann::ordered_json;

// Records the first syntax error with its byte position; accepts all else.
class ErrorSax : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    position_ = position;
    message_ = ex.what();
    return false;
  }
  size_t position() const { return position_; }
  const std::string& message() const { return message_; }

 private:
  size_t position_ = 0;
  std::string message_;
};

// Parses one JSON document without exceptions; errors name the line.
absl::StatusOr<Json> ParseDocument(absl::string_view text, int64_t first_line,
                                   absl::string_view source_name) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) return j;
  ErrorSax sax;
  Json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                  /*strict=*/true);
  size_t pos = sax.position() > 0 ? sax.position() - 1 : 0;
  int64_t line = first_line;
  for (size_t i = 0; i < pos && i < text.size(); ++i) line += text[i] == '\n';
  return absl::InvalidArgumentError(
      absl::StrCat(source_name, ":", line, ": invalid JSON: ", sax.message()));
}

struct JsonRecords {
  std::vector<Json> records;
  std::vector<int64_t> lines;  // JSON lines: the line; array: 0
  bool json_lines = false;
};

absl::StatusOr<JsonRecords> ReadRecords(absl::string_view bytes, absl::string_view source_name) {
  if (absl::StartsWith(bytes, "\xEF\xBB\xBF")) bytes.remove_prefix(3);
  size_t first = bytes.find_first_not_of(" \t\r\n");
  JsonRecords out;
  if (first == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": empty JSON"));
  }
  if (bytes[first] == '[') {
    FEDNODE_ASSIGN_OR_RETURN(Json doc, ParseDocument(bytes, 1, source_name));
    for (size_t i = 0; i < doc.size(); ++i) {
      if (!doc[i].is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source_name, ": record ", i + 1, ": not a JSON object"));
      }
      out.lines.push_back(0);
    }
    out.records = std::move(doc.get_ref<Json::array_t&>());
    return out;
  }
  if (bytes[first] != '{') {
    return absl::InvalidArgumentError(absl::StrCat(
        source_name, ": expected a JSON array of objects or JSON lines (one object per line)"));
  }
  out.json_lines = true;
  int64_t line = 1;
  for (absl::string_view l : absl::StrSplit(bytes, '\n')) {
    if (l.find_first_not_of(" \t\r") != absl::string_view::npos) {
      FEDNODE_ASSIGN_OR_RETURN(Json doc, ParseDocument(l, line, source_name));
      if (!doc.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source_name, ":", line, ": not a JSON object"));
      }
      out.records.push_back(std::move(doc));
      out.lines.push_back(line);
    }
    ++line;
  }
  return out;
}

// The value at a dotted path ("operator.city"), or nullptr.
const Json* Lookup(const Json& obj, absl::string_view path) {
  const Json* cur = &obj;
  if (cur->is_object()) {
    auto direct = cur->find(std::string(path));  // a key that itself contains dots
    if (direct != cur->end()) return &*direct;
  }
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(std::string(part));
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

// Appends `v` (nullptr: the field is missing) to `b`. On failure sets
// `error`; `*missing` tells that the field of a non-nullable column is absent.
bool AppendJson(const Json* v, const CellParser& p, ColumnBuilder* b, std::string* error,
                bool* missing) {
  *missing = false;
  if (v == nullptr && !p.nullable()) {
    *missing = true;
    return false;
  }
  if (v == nullptr || v->is_null()) return p.AppendNull(b, error);
  const bool to_int = p.type() == storage::v1::COLUMN_TYPE_INT64;
  switch (v->type()) {
    case Json::value_t::string: {
      const std::string& s = v->get_ref<const std::string&>();
      if (s.find('\0') != std::string::npos) {
        *error = "NUL character (\\u0000) inside the string";
        return false;
      }
      if (IsAscii(s)) return p.AppendText(s, b, error);
      if (s.find("\xEF\xBB\xBF") != std::string::npos) {
        *error = "U+FEFF (byte order mark) inside the string";
        return false;
      }
      return p.AppendText(NormalizeNfc(s), b, error);
    }
    case Json::value_t::number_integer:
      return p.AppendInt(v->get<int64_t>(), b, error);
    case Json::value_t::number_unsigned: {
      // The text of an unsigned JSON integer is exactly its decimal value.
      uint64_t u = v->get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return p.AppendInt(static_cast<int64_t>(u), b, error);
      }
      if (to_int) {
        *error = absl::StrCat("number ", u, " is out of the int64 range");
        return false;
      }
      if (p.type() == storage::v1::COLUMN_TYPE_STRING) return p.AppendText(v->dump(), b, error);
      return p.AppendDouble(static_cast<double>(u), b, error);
    }
    case Json::value_t::number_float: {
      // nlohmann keeps no source text of a number; dump() is the shortest
      // text that reads back as the same double.
      const double d = v->get<double>();
      if (p.type() == storage::v1::COLUMN_TYPE_STRING) return p.AppendText(v->dump(), b, error);
      if (to_int && d == std::trunc(d) &&
          (d < -9223372036854775808.0 || d >= 9223372036854775808.0)) {
        // An integer too large for uint64 ("100000000000000000000") arrives
        // here as 1e+20: do not quote a text that is not in the file.
        *error = "number out of the int64 range";
        return false;
      }
      if (p.AppendDouble(d, b, error)) return true;
      *error = absl::StrCat("number ", v->dump(), " is not ", TypeWithArticle(p.type()));
      return false;
    }
    case Json::value_t::boolean:
      return p.AppendBool(v->get<bool>(), b, error);
    default:
      if (p.type() == storage::v1::COLUMN_TYPE_STRING) {
        b->AppendString(NormalizeNfc(v->dump()));
        return true;
      }
      *error = absl::StrCat("a JSON ", v->type_name(), " is not ", TypeWithArticle(p.type()));
      return false;
  }
}

// The error for AppendJson's failure on column `column` read from `path`.
std::string AppendError(bool missing, absl::string_view path, absl::string_view column,
                        absl::string_view error) {
  if (!missing) return absl::StrCat("column ", column, ": ", error);
  if (path == column) return absl::StrCat("field \"", path, "\" is missing");
  return absl::StrCat("field \"", path, "\" is missing (column ", column, ")");
}

struct DatasetBuilder {
  std::string dataset_id;
  Schema schema;
  std::vector<CellParser> parsers;
  std::vector<std::string> paths;
  std::vector<ColumnBuilder> builders;
  std::vector<int64_t> locators;
  size_t rows = 0;
};

absl::StatusOr<DatasetBuilder> MakeBuilder(
    const google::protobuf::RepeatedPtrField<v1::ColumnSpec>& columns, absl::string_view path) {
  DatasetBuilder d;
  for (int i = 0; i < columns.size(); ++i) {
    const v1::ColumnSpec& c = columns.Get(i);
    absl::StatusOr<CellParser> p = CellParser::Create(c);
    if (!p.ok()) return Annotate(p.status(), absl::StrCat(path, "columns[", i, "]"));
    d.parsers.push_back(*std::move(p));
    d.paths.push_back(c.source_name().empty() ? c.column().name() : c.source_name());
    d.builders.emplace_back(c.column().type());
    *d.schema.add_columns() = c.column();
  }
  return d;
}

ParsedDataset FinishBuilder(DatasetBuilder& d) {
  ParsedDataset out;
  out.dataset_id = d.dataset_id;
  out.table.schema = d.schema;
  for (ColumnBuilder& b : d.builders) out.table.columns.push_back(b.Finish());
  out.table.num_rows = d.rows;
  return out;
}

}  // namespace

absl::StatusOr<std::vector<ParsedDataset>> ParseJson(absl::string_view bytes,
                                                     const v1::ImportSpec& spec,
                                                     absl::string_view source_name) {
  FEDNODE_ASSIGN_OR_RETURN(JsonRecords in, ReadRecords(bytes, source_name));
  FEDNODE_ASSIGN_OR_RETURN(DatasetBuilder parent, MakeBuilder(spec.columns(), ""));
  parent.dataset_id = spec.dataset_id();
  for (const std::string& k : spec.primary_key()) parent.schema.add_primary_key(k);
  parent.schema.set_conforms_to(spec.conforms_to());
  std::vector<int> pk_index;
  for (const std::string& k : spec.primary_key()) {
    for (int i = 0; i < spec.columns_size(); ++i) {
      if (spec.columns(i).column().name() == k) pk_index.push_back(i);
    }
  }
  std::vector<DatasetBuilder> children;
  for (int ci = 0; ci < spec.json_children_size(); ++ci) {
    const v1::JsonChild& ch = spec.json_children(ci);
    google::protobuf::RepeatedPtrField<v1::ColumnSpec> cols;
    for (int i : pk_index) *cols.Add() = spec.columns(i);
    v1::ColumnSpec ordinal;
    ordinal.mutable_column()->set_name("ordinal");
    ordinal.mutable_column()->set_type(storage::v1::COLUMN_TYPE_INT64);
    ordinal.mutable_column()->set_description("1-based position in the parent's array");
    *cols.Add() = ordinal;
    for (const v1::ColumnSpec& c : ch.columns()) *cols.Add() = c;
    FEDNODE_ASSIGN_OR_RETURN(DatasetBuilder d,
                             MakeBuilder(cols, absl::StrCat("json_children[", ci, "].")));
    d.dataset_id = ch.dataset_id().empty() ? absl::StrCat(spec.dataset_id(), "_", ch.array_field())
                                           : ch.dataset_id();
    for (const std::string& k : spec.primary_key()) d.schema.add_primary_key(k);
    d.schema.add_primary_key("ordinal");
    d.schema.set_conforms_to(ch.conforms_to());
    children.push_back(std::move(d));
  }
  std::string error;
  bool missing = false;
  for (size_t r = 0; r < in.records.size(); ++r) {
    const Json& rec = in.records[r];
    const int64_t locator = in.json_lines ? in.lines[r] : static_cast<int64_t>(r + 1);
    auto where = [&]() {
      return in.json_lines ? absl::StrCat(source_name, ":", locator)
                           : absl::StrCat(source_name, ": record ", locator);
    };
    for (size_t c = 0; c < parent.parsers.size(); ++c) {
      if (!AppendJson(Lookup(rec, parent.paths[c]), parent.parsers[c], &parent.builders[c], &error,
                      &missing)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), ": ",
                         AppendError(missing, parent.paths[c],
                                     parent.schema.columns(static_cast<int>(c)).name(), error)));
      }
    }
    parent.locators.push_back(locator);
    ++parent.rows;
    for (int ci = 0; ci < spec.json_children_size(); ++ci) {
      DatasetBuilder& d = children[ci];
      const std::string& field = spec.json_children(ci).array_field();
      const Json* arr = Lookup(rec, field);
      if (arr == nullptr || arr->is_null()) continue;
      if (!arr->is_array()) {
        return absl::InvalidArgumentError(absl::StrCat(where(), ": ", field, ": not a JSON array"));
      }
      for (size_t k = 0; k < arr->size(); ++k) {
        const Json& el = (*arr)[k];
        if (!el.is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(), ": ", field, "[", k + 1, "]: not a JSON object"));
        }
        size_t c = 0;
        for (int pk : pk_index) {
          if (!AppendJson(Lookup(rec, parent.paths[pk]), d.parsers[c], &d.builders[c], &error,
                          &missing)) {
            return absl::InvalidArgumentError(
                absl::StrCat(where(), ": ",
                             AppendError(missing, parent.paths[pk],
                                         d.schema.columns(static_cast<int>(c)).name(), error)));
          }
          ++c;
        }
        d.builders[c++].AppendInt(static_cast<int64_t>(k + 1));
        for (; c < d.parsers.size(); ++c) {
          if (!AppendJson(Lookup(el, d.paths[c]), d.parsers[c], &d.builders[c], &error, &missing)) {
            return absl::InvalidArgumentError(
                absl::StrCat(where(), ": ", field, "[", k + 1, "]: ",
                             AppendError(missing, d.paths[c],
                                         d.schema.columns(static_cast<int>(c)).name(), error)));
          }
        }
        d.locators.push_back(locator);
        ++d.rows;
      }
    }
  }
  std::vector<ParsedDataset> out;
  const char* unit = in.json_lines ? "lines" : "records";
  out.push_back(FinishBuilder(parent));
  FEDNODE_RETURN_IF_ERROR(CheckPrimaryKey(out.back().table, parent.locators, source_name, unit));
  for (DatasetBuilder& d : children) {
    out.push_back(FinishBuilder(d));
    FEDNODE_RETURN_IF_ERROR(CheckPrimaryKey(out.back().table, d.locators, source_name, unit));
  }
  return out;
}

namespace {

// Collects scalar paths of objects (nested objects flattened with dots) and
// arrays of objects, in first-seen order.
struct FieldStats {
  std::string path;
  std::vector<std::string> texts;  // string values and numbers as text
  size_t nulls = 0, ints = 0, floats = 0, strings = 0, bools = 0, other = 0;
  std::vector<const Json*> array_elements;  // for arrays of objects
  bool is_object_array = false;
};

void Collect(const Json& obj, const std::string& prefix, int depth,
             std::vector<FieldStats>* fields) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string path = prefix.empty() ? it.key() : absl::StrCat(prefix, ".", it.key());
    const Json& v = it.value();
    if (v.is_object() && depth < 3) {
      Collect(v, path, depth + 1, fields);
      continue;
    }
    FieldStats* f = nullptr;
    for (FieldStats& s : *fields) {
      if (s.path == path) f = &s;
    }
    if (f == nullptr) {
      fields->emplace_back();
      f = &fields->back();
      f->path = path;
    }
    switch (v.type()) {
      case Json::value_t::null:
        ++f->nulls;
        f->texts.emplace_back();
        break;
      case Json::value_t::string:
        ++f->strings;
        f->texts.push_back(v.get<std::string>());
        break;
      case Json::value_t::number_integer:
      case Json::value_t::number_unsigned:
        ++f->ints;
        f->texts.push_back(v.dump());
        break;
      case Json::value_t::number_float:
        ++f->floats;
        f->texts.push_back(v.dump());
        break;
      case Json::value_t::boolean:
        ++f->bools;
        break;
      case Json::value_t::array:
        if (prefix.empty() && !v.empty() && v[0].is_object()) {
          f->is_object_array = true;
          for (const Json& e : v) {
            if (e.is_object()) f->array_elements.push_back(&e);
          }
        } else {
          ++f->other;
        }
        break;
      default:
        ++f->other;
    }
  }
}

void InferFields(const std::vector<FieldStats>& fields, size_t records,
                 google::protobuf::RepeatedPtrField<v1::ColumnSpec>* columns,
                 std::vector<std::string>* used) {
  for (const FieldStats& f : fields) {
    if (f.is_object_array) continue;
    v1::ColumnSpec col;
    std::string name = NormalizeColumnName(f.path);
    if (name.empty()) name = "field";
    name = UniqueName(name, used);
    col.mutable_column()->set_name(name);
    if (name != f.path) col.set_source_name(f.path);
    bool missing = f.texts.size() + f.bools < records;
    if (f.other > 0 || (f.bools > 0 && f.bools + f.nulls != f.texts.size() + f.bools)) {
      col.mutable_column()->set_type(storage::v1::COLUMN_TYPE_STRING);
    } else if (f.bools > 0) {
      col.mutable_column()->set_type(storage::v1::COLUMN_TYPE_BOOL);
    } else if (f.strings == 0 && f.floats == 0 && f.ints > 0) {
      col.mutable_column()->set_type(storage::v1::COLUMN_TYPE_INT64);
    } else if (f.strings == 0 && f.floats > 0) {
      col.mutable_column()->set_type(storage::v1::COLUMN_TYPE_DOUBLE);
    } else if (f.ints + f.floats > 0) {
      col.mutable_column()->set_type(storage::v1::COLUMN_TYPE_STRING);
    } else {
      InferTextColumn(f.texts, 0, &col);
    }
    if (f.nulls > 0 || missing) col.mutable_column()->set_nullable(true);
    *columns->Add() = std::move(col);
  }
}

}  // namespace

absl::StatusOr<v1::ImportSpec> InferJson(absl::string_view bytes, absl::string_view dataset_id,
                                         absl::string_view source_name) {
  FEDNODE_ASSIGN_OR_RETURN(JsonRecords in, ReadRecords(bytes, source_name));
  if (in.records.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": the file holds no records"));
  }
  std::vector<FieldStats> fields;
  for (const Json& r : in.records) Collect(r, "", 0, &fields);
  v1::ImportSpec spec;
  spec.set_dataset_id(std::string(dataset_id));
  std::vector<std::string> used;
  InferFields(fields, in.records.size(), spec.mutable_columns(), &used);
  // Primary key: the first non-null column whose values are all distinct.
  for (int i = 0; i < spec.columns_size(); ++i) {
    const v1::ColumnSpec& c = spec.columns(i);
    if (c.column().nullable()) continue;
    const FieldStats* f = nullptr;
    for (const FieldStats& s : fields) {
      const std::string& path = c.source_name().empty() ? c.column().name() : c.source_name();
      if (!s.is_object_array && s.path == path) f = &s;
    }
    if (f == nullptr || f->texts.size() != in.records.size()) continue;
    std::vector<std::string> sorted = f->texts;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end()) {
      spec.add_primary_key(c.column().name());
      break;
    }
  }
  for (const FieldStats& f : fields) {
    if (!f.is_object_array) continue;
    if (spec.primary_key_size() == 0) break;  // children need the parent's key
    v1::JsonChild* ch = spec.add_json_children();
    ch->set_array_field(f.path);
    std::vector<FieldStats> child_fields;
    for (const Json* e : f.array_elements) Collect(*e, "", 1, &child_fields);
    std::vector<std::string> child_used(spec.primary_key().begin(), spec.primary_key().end());
    child_used.push_back("ordinal");
    InferFields(child_fields, f.array_elements.size(), ch->mutable_columns(), &child_used);
  }
  return spec;
}

}  // namespace fednode::ingest::internal
