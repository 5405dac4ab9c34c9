// CSV import and inference (see importer.h for the contract).
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "node/base/status_macros.h"
#include "node/ingest/cell_parser.h"
#include "node/ingest/charset.h"
#include "node/ingest/csv_tokenizer.h"
#include "node/ingest/internal.h"

namespace fednode::ingest::internal {
namespace {

constexpr size_t kSampleBytes = 256 * 1024;
constexpr size_t kInferMaxRecords = 200000;
constexpr char kDelimiterCandidates[] = {';', ',', '\t', '|'};

std::string DelimiterName(char d) {
  if (d == '\t') return "tab";
  return absl::StrCat("\"", std::string(1, d), "\"");
}

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return std::string(n == 1 ? one : many);
}

// 1-based physical line on which field `i` of `r` starts: the record's line
// plus the line breaks inside the fields before it (quoted fields keep them).
int64_t LineOfField(const CsvRecord& r, size_t i) {
  int64_t line = r.line;
  for (size_t k = 0; k < i && k < r.fields.size(); ++k) {
    line += std::count(r.fields[k].begin(), r.fields[k].end(), '\n');
  }
  return line;
}

constexpr absl::string_view kBomUtf8 = "\xEF\xBB\xBF";

bool AllEmpty(const std::vector<absl::string_view>& fields) {
  for (absl::string_view f : fields) {
    if (!TrimCell(f).empty()) return false;
  }
  return true;
}

// A prefix of `text` ending at a line end, at most about `max` bytes.
absl::string_view Sample(absl::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = text.rfind('\n', max);
  return cut == absl::string_view::npos ? text.substr(0, max) : text.substr(0, cut + 1);
}

struct OwnedRecord {
  int64_t line = 0;
  std::vector<std::string> fields;
};

absl::StatusOr<std::vector<OwnedRecord>> CollectRecords(absl::string_view text, char delimiter,
                                                        size_t max_records) {
  std::vector<OwnedRecord> out;
  absl::Status st = TokenizeCsv(text, delimiter, [&](const CsvRecord& r) {
    if (AllEmpty(r.fields)) return true;
    OwnedRecord o;
    o.line = r.line;
    for (absl::string_view f : r.fields) o.fields.emplace_back(f);
    out.push_back(std::move(o));
    return out.size() < max_records;
  });
  if (!st.ok()) return st;
  return out;
}

// Most frequent field count (ties: the larger count).
int ModalCount(const std::vector<OwnedRecord>& records) {
  absl::flat_hash_map<int, int> freq;
  for (const OwnedRecord& r : records) ++freq[static_cast<int>(r.fields.size())];
  int best = 0, best_n = 0;
  for (const auto& [count, n] : freq) {
    if (n > best_n || (n == best_n && count > best)) {
      best = count;
      best_n = n;
    }
  }
  return best;
}

// True when every record between the first and the last one with the modal
// field count has that count too (titles before and footers after are fine).
bool SplitsEvenly(const std::vector<OwnedRecord>& records, int* fields) {
  int m = ModalCount(records);
  *fields = m;
  if (m < 2) return false;
  size_t first = records.size(), last = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (static_cast<int>(records[i].fields.size()) == m) {
      first = std::min(first, i);
      last = i;
    }
  }
  for (size_t i = first; i <= last && i < records.size(); ++i) {
    if (static_cast<int>(records[i].fields.size()) != m) return false;
  }
  return true;
}

// True when, split by `delimiter`, every field that contains `inner` reads
// as a number (digits with '.', ',', spaces, sign).
bool OnlyInsideNumbers(absl::string_view sample, char delimiter, char inner) {
  bool ok = true;
  absl::Status st = TokenizeCsv(sample, delimiter, [&](const CsvRecord& r) {
    for (absl::string_view f : r.fields) {
      if (f.find(inner) == absl::string_view::npos) continue;
      f = TrimCell(f);
      bool digit = false;
      for (char c : f) {
        if (c >= '0' && c <= '9') {
          digit = true;
        } else if (c != '.' && c != ',' && c != ' ' && c != '-' && c != '+') {
          ok = false;
        }
      }
      if (!digit) ok = false;
    }
    return ok;
  });
  return st.ok() && ok;
}

absl::StatusOr<char> DetectDelimiter(absl::string_view text, absl::string_view source_name) {
  absl::string_view sample = Sample(text, kSampleBytes);
  std::vector<std::pair<char, int>> even;
  for (char d : kDelimiterCandidates) {
    absl::StatusOr<std::vector<OwnedRecord>> records = CollectRecords(sample, d, 2000);
    if (!records.ok()) continue;
    int fields = 0;
    if (SplitsEvenly(*records, &fields)) even.emplace_back(d, fields);
  }
  // A candidate that occurs only inside numbers of another candidate's fields
  // ("72,55" in a ';' file) is a decimal or thousands separator there.
  if (even.size() > 1) {
    std::vector<std::pair<char, int>> kept;
    for (const auto& [d, n] : even) {
      bool dominated = false;
      for (const auto& [other, m] : even) {
        if (other != d && OnlyInsideNumbers(sample, other, d)) dominated = true;
      }
      if (!dominated) kept.emplace_back(d, n);
    }
    if (kept.size() == 1) return kept[0].first;
  }
  if (even.size() == 1) return even[0].first;
  if (even.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": cannot detect the delimiter (none of \";\", \",\", tab, \"|\" splits the "
                     "lines into a table); pass --delimiter"));
  }
  std::vector<std::string> names;
  for (const auto& [d, n] : even)
    names.push_back(absl::StrCat(DelimiterName(d), " (", n, " fields)"));
  return absl::InvalidArgumentError(
      absl::StrCat(source_name, ": ambiguous delimiter: ", absl::StrJoin(names, " and "),
                   " each split every line evenly; pass --delimiter"));
}

absl::StatusOr<char> ResolveDelimiter(absl::string_view text, absl::string_view delimiter,
                                      absl::string_view source_name) {
  if (delimiter.empty()) return DetectDelimiter(text, source_name);
  if (delimiter == "\\t" || delimiter == "tab") return '\t';
  if (delimiter.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("csv.delimiter: \"", delimiter, "\" is not a single character"));
  }
  if (delimiter[0] == '"' || delimiter[0] == '\n' || delimiter[0] == '\r') {
    return absl::InvalidArgumentError(absl::StrCat(
        "csv.delimiter: ", delimiter[0] == '"' ? "the quote character \"" : "a line break",
        " cannot be the delimiter"));
  }
  return delimiter[0];
}

// A field that reads as a number or date: digits plus . , + - space, or a date.
bool LooksNumeric(absl::string_view f) {
  f = TrimCell(f);
  if (f.empty()) return false;
  bool digit = false;
  for (char c : f) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '.' && c != ',' && c != '+' && c != '-' && c != ' ' && c != ':' && c != 'T') {
      return false;
    }
  }
  return digit;
}

bool HasNumericField(const OwnedRecord& r) {
  for (const std::string& f : r.fields) {
    if (LooksNumeric(f)) return true;
  }
  return false;
}

struct Layout {
  int body_fields = 0;
  int header_index = -1;  // index into records, -1: none
  int data_index = 0;
  int skip_after_header = 0;
  int footer_index = -1;  // first trailing record that is not data
};

Layout DetectLayout(const std::vector<OwnedRecord>& records) {
  Layout l;
  l.body_fields = ModalCount(records);
  const int n = static_cast<int>(records.size());
  auto is_body = [&](int i) { return static_cast<int>(records[i].fields.size()) == l.body_fields; };
  int data = -1;
  for (int i = 0; i < n; ++i) {
    if (is_body(i) && HasNumericField(records[i])) {
      data = i;
      break;
    }
  }
  if (data < 0) {  // no numbers at all: the first body record is the header
    for (int i = 0; i < n; ++i) {
      if (is_body(i)) {
        l.header_index = i;
        l.data_index = i + 1;
        break;
      }
    }
  } else {
    l.data_index = data;
    // The header is the last record with the body's field count before the
    // data (of a multi-row header the last row, the most specific one);
    // records between it and the data are skipped.
    for (int j = data - 1; j >= 0; --j) {
      if (is_body(j)) {
        l.header_index = j;
        l.skip_after_header = data - 1 - j;
        break;
      }
    }
  }
  // Footer: trailing records without the body's field count. A short record
  // that starts with a number is a data row cut off (an interrupted
  // download), not a footer: it is left to fail the import.
  int k = n;
  while (k > l.data_index && !is_body(k - 1)) --k;
  while (k < n && !records[k].fields.empty() && LooksNumeric(records[k].fields[0])) ++k;
  if (k < n) l.footer_index = k;
  return l;
}

// Position of each spec column in the source fields.
absl::StatusOr<std::vector<int>> MapColumns(const v1::ImportSpec& spec,
                                            const std::vector<std::string>& header,
                                            absl::string_view where) {
  std::vector<int> index;
  for (int c = 0; c < spec.columns_size(); ++c) {
    const v1::ColumnSpec& col = spec.columns(c);
    if (col.source_index() > 0) {
      if (col.source_index() > static_cast<int64_t>(header.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": columns[", c, "] (", col.column().name(), "): source_index ",
                         col.source_index(), ", but the header has ", header.size(), " ",
                         Plural(header.size(), "field", "fields")));
      }
      index.push_back(col.source_index() - 1);
      continue;
    }
    const std::string& want = col.source_name().empty() ? col.column().name() : col.source_name();
    std::vector<int> hits;
    for (int pass = 0; pass < 3 && hits.empty(); ++pass) {
      for (size_t i = 0; i < header.size(); ++i) {
        absl::string_view h = TrimCell(header[i]);
        bool match = pass == 0   ? h == want
                     : pass == 1 ? absl::EqualsIgnoreCase(h, want)
                                 : NormalizeColumnName(h) == want;
        if (match) hits.push_back(static_cast<int>(i));
      }
    }
    if (hits.empty()) {
      // A header read as one field usually means another delimiter.
      std::string hint;
      if (header.size() == 1) {
        for (const char* d : {";", ",", "\t", "|"}) {
          if (d != spec.csv().delimiter() && absl::StrContains(header[0], d)) {
            hint = absl::StrCat("; the header is one field holding '", *d == '\t' ? "\\t" : d,
                                "': is that the delimiter? (csv.delimiter in the recipe, or "
                                "fedctl import --delimiter)");
            break;
          }
        }
      }
      return absl::InvalidArgumentError(absl::StrCat(where, ": column ", col.column().name(),
                                                     ": source field \"", want,
                                                     "\" is not in the header", hint));
    }
    if (hits.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": column ", col.column().name(), ": source field \"", want,
          "\" appears at positions ", hits[0] + 1, " and ", hits[1] + 1, "; set source_index"));
    }
    index.push_back(hits[0]);
  }
  return index;
}

Schema SchemaOf(const v1::ImportSpec& spec) {
  Schema s;
  for (const v1::ColumnSpec& c : spec.columns()) *s.add_columns() = c.column();
  for (const std::string& k : spec.primary_key()) s.add_primary_key(k);
  s.set_conforms_to(spec.conforms_to());
  return s;
}

// Streams records into typed columns; one instance per Parse call.
class CsvTableBuilder {
 public:
  // `check_cells`: the text holds a NUL byte or U+FEFF somewhere, so every
  // field is checked for them (else no field is: they cannot occur).
  CsvTableBuilder(const v1::ImportSpec& spec, absl::string_view source_name,
                  std::vector<CellParser> parsers, bool check_cells)
      : spec_(spec), source_(source_name), parsers_(std::move(parsers)), check_cells_(check_cells) {
    for (const v1::ColumnSpec& c : spec.columns()) builders_.emplace_back(c.column().type());
    const v1::CsvDialect& d = spec.csv();
    header_line_ = d.header_line();
    skip_left_ = d.skip_after_header();
    footer_ = d.footer_marker();
    skip_field_ = d.skip_rows_field();
    for (const std::string& v : d.skip_rows_where_first_field()) {
      skip_values_.emplace_back(TrimCell(v));
    }
    track_lines_ = spec.primary_key_size() > 0;
  }

  // The sink for TokenizeCsv.
  bool OnRecord(const CsvRecord& r) {
    if (phase_ == Phase::kHeader) {
      if (r.line < header_line_ || AllEmpty(r.fields)) return true;
      if (check_cells_ && !CheckCells(r)) return false;
      header_.clear();
      for (absl::string_view f : r.fields) header_.emplace_back(f);
      header_fields_ = static_cast<int>(r.fields.size());
      absl::StatusOr<std::vector<int>> idx =
          MapColumns(spec_, header_, absl::StrCat(source_, ":", r.line));
      if (!idx.ok()) return Fail(idx.status());
      index_ = *std::move(idx);
      // A row needs the header's fields up to the last named one (unnamed
      // trailing fields, from a trailing delimiter, may be missing).
      required_fields_ = 0;
      for (int i : index_) required_fields_ = std::max(required_fields_, i + 1);
      for (int i = header_fields_; i > required_fields_; --i) {
        if (!TrimCell(header_[i - 1]).empty()) {
          required_fields_ = i;
          break;
        }
      }
      phase_ = Phase::kData;
      return true;
    }
    if (!footer_.empty() && !r.fields.empty() && absl::StartsWith(TrimCell(r.fields[0]), footer_)) {
      return false;  // the rest of the file is the footer
    }
    if (r.fields[0].empty() && AllEmpty(r.fields)) return true;
    if (check_cells_ && !CheckCells(r)) return false;
    if (skip_left_ > 0) {
      --skip_left_;
      return true;
    }
    if (!skip_values_.empty() && skip_field_ < static_cast<int>(r.fields.size())) {
      absl::string_view v = TrimCell(r.fields[skip_field_]);
      for (const std::string& s : skip_values_) {
        if (v == s) return true;
      }
    }
    const int nf = static_cast<int>(r.fields.size());
    if (nf < required_fields_) {
      // Never skipped: a short row is a cut-off file or a footer that the
      // spec does not declare (csv.footer_marker).
      if (AllEmpty(r.fields)) return true;
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(source_, ":", r.line, ": ", nf, " ", Plural(nf, "field", "fields"),
                       ", expected ", required_fields_, " as in the header",
                       footer_.empty() ? " (if this is a footer, set csv.footer_marker)" : "")));
    }
    if (nf > header_fields_) {
      for (int i = header_fields_; i < nf; ++i) {
        if (!TrimCell(r.fields[i]).empty()) {
          return Fail(
              absl::InvalidArgumentError(absl::StrCat(source_, ":", LineOfField(r, i), ": ", nf,
                                                      " fields, the header has ", header_fields_)));
        }
      }
    }
    for (size_t c = 0; c < parsers_.size(); ++c) {
      if (!parsers_[c].AppendText(r.fields[index_[c]], &builders_[c], &error_)) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat(source_, ":", LineOfField(r, index_[c]), ": column ",
                         spec_.columns(static_cast<int>(c)).column().name(), ": ", error_)));
      }
    }
    if (track_lines_) lines_.push_back(r.line);
    ++rows_;
    return true;
  }

  absl::StatusOr<Table> Finish() {
    FEDNODE_RETURN_IF_ERROR(status_);
    if (phase_ == Phase::kHeader) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": no header line found (csv.header_line ", header_line_, ")"));
    }
    Table t;
    t.schema = SchemaOf(spec_);
    for (ColumnBuilder& b : builders_) t.columns.push_back(b.Finish());
    t.num_rows = rows_;
    if (track_lines_) FEDNODE_RETURN_IF_ERROR(CheckPrimaryKey(t, lines_, source_, "lines"));
    return t;
  }

 private:
  enum class Phase { kHeader, kData };

  bool Fail(absl::Status s) {
    status_ = std::move(s);
    return false;
  }

  // "column ags" for a field a spec column reads, else "field 7 (\"Notiz\")";
  // in the header record "header field 7".
  std::string FieldName(size_t i) const {
    if (phase_ == Phase::kHeader) return absl::StrCat("header field ", i + 1);
    for (size_t c = 0; c < index_.size(); ++c) {
      if (index_[c] == static_cast<int>(i)) {
        return absl::StrCat("column ", spec_.columns(static_cast<int>(c)).column().name());
      }
    }
    std::string head = i < header_.size() ? std::string(TrimCell(header_[i])) : "";
    if (head.empty() || head.find('\0') != std::string::npos || absl::StrContains(head, kBomUtf8)) {
      return absl::StrCat("field ", i + 1);
    }
    return absl::StrCat("field ", i + 1, " (\"", head, "\")");
  }

  // Fails on a NUL byte or U+FEFF in any field of `r`, naming the physical
  // line of the byte and the column.
  bool CheckCells(const CsvRecord& r) {
    for (size_t i = 0; i < r.fields.size(); ++i) {
      absl::string_view f = r.fields[i];
      const size_t nul = f.find('\0');
      const size_t bom = f.find(kBomUtf8);
      if (nul == absl::string_view::npos && bom == absl::string_view::npos) continue;
      const size_t at = std::min(nul, bom);
      const int64_t line = LineOfField(r, i) + std::count(f.begin(), f.begin() + at, '\n');
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          source_, ":", line, ": ", FieldName(i), ": ",
          at == bom ? "U+FEFF (byte order mark) inside the data \u2014 was the file concatenated "
                      "from several exports?"
                    : "NUL byte inside the value (binary data or a broken export)")));
    }
    return true;
  }

  const v1::ImportSpec& spec_;
  std::string source_;
  std::vector<CellParser> parsers_;
  bool check_cells_ = false;
  std::vector<ColumnBuilder> builders_;
  Phase phase_ = Phase::kHeader;
  int header_line_ = 0;
  int skip_left_ = 0;
  std::string footer_;
  int skip_field_ = 0;
  std::vector<std::string> skip_values_;
  std::vector<std::string> header_;
  int header_fields_ = 0;
  std::vector<int> index_;
  int required_fields_ = 0;
  bool track_lines_ = false;
  std::vector<int64_t> lines_;
  size_t rows_ = 0;
  std::string error_;
  absl::Status status_;
};

}  // namespace

absl::StatusOr<std::vector<ParsedDataset>> ParseCsv(absl::string_view bytes,
                                                    const v1::ImportSpec& spec,
                                                    absl::string_view source_name) {
  FEDNODE_ASSIGN_OR_RETURN(DecodedText decoded,
                           DecodeToUtf8Nfc(bytes, spec.csv().encoding(), source_name));
  absl::string_view text = decoded.text();
  FEDNODE_ASSIGN_OR_RETURN(char delimiter,
                           ResolveDelimiter(text, spec.csv().delimiter(), source_name));
  v1::ImportSpec effective = spec;
  if (spec.csv().header_line() <= 0) {
    FEDNODE_ASSIGN_OR_RETURN(std::vector<OwnedRecord> sample,
                             CollectRecords(Sample(text, kSampleBytes), delimiter, 2000));
    Layout layout = DetectLayout(sample);
    if (layout.header_index < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": cannot find the header line; set csv.header_line"));
    }
    effective.mutable_csv()->set_header_line(
        static_cast<int32_t>(sample[layout.header_index].line));
  }
  std::vector<CellParser> parsers;
  for (int i = 0; i < spec.columns_size(); ++i) {
    absl::StatusOr<CellParser> p = CellParser::Create(spec.columns(i));
    if (!p.ok()) return Annotate(p.status(), absl::StrCat("columns[", i, "]"));
    parsers.push_back(*std::move(p));
  }
  const bool check_cells =
      text.find('\0') != absl::string_view::npos || text.find(kBomUtf8) != absl::string_view::npos;
  CsvTableBuilder builder(effective, source_name, std::move(parsers), check_cells);
  absl::Status st =
      TokenizeCsv(text, delimiter, [&](const CsvRecord& r) { return builder.OnRecord(r); });
  if (!st.ok()) return Annotate(st, source_name);
  FEDNODE_ASSIGN_OR_RETURN(Table table, builder.Finish());
  std::vector<ParsedDataset> out(1);
  out[0].dataset_id = spec.dataset_id();
  out[0].table = std::move(table);
  return out;
}

absl::StatusOr<v1::ImportSpec> InferCsv(absl::string_view bytes, absl::string_view dataset_id,
                                        absl::string_view source_name,
                                        absl::string_view delimiter) {
  FEDNODE_ASSIGN_OR_RETURN(DecodedText decoded, DecodeToUtf8Nfc(bytes, "auto", source_name));
  absl::string_view text = decoded.text();
  FEDNODE_ASSIGN_OR_RETURN(char delim, ResolveDelimiter(text, delimiter, source_name));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<OwnedRecord> records,
                           CollectRecords(text, delim, kInferMaxRecords));
  if (records.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": the file holds no table"));
  }
  Layout layout = DetectLayout(records);
  if (layout.body_fields < 2 && delimiter.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": the file holds no table"));
  }
  v1::ImportSpec spec;
  spec.set_dataset_id(std::string(dataset_id));
  v1::CsvDialect* d = spec.mutable_csv();
  std::string encoding = decoded.encoding;
  if (encoding == "windows-1252") {
    bool c1 = false;  // bytes 0x80-0x9F: only Windows-1252 gives them letters
    for (char ch : bytes) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (c >= 0x80 && c <= 0x9F) c1 = true;
    }
    if (!c1) encoding = "iso-8859-1";
  }
  d->set_encoding(encoding);
  d->set_delimiter(std::string(1, delim));
  std::vector<std::string> header;
  if (layout.header_index >= 0) {
    d->set_header_line(static_cast<int32_t>(records[layout.header_index].line));
    header = records[layout.header_index].fields;
  }
  d->set_skip_after_header(layout.skip_after_header);
  int data_end = layout.footer_index >= 0 ? layout.footer_index : static_cast<int>(records.size());
  if (layout.footer_index >= 0) {
    std::string first(TrimCell(records[layout.footer_index].fields[0]));
    if (!first.empty()) d->set_footer_marker(first);
  }
  // A total row at the end ("Gesamt") is not data.
  if (data_end > layout.data_index) {
    const OwnedRecord& last = records[data_end - 1];
    for (size_t i = 0; i < last.fields.size() && i < 3; ++i) {
      absl::string_view v = TrimCell(last.fields[i]);
      if (absl::EqualsIgnoreCase(v, "Gesamt") || absl::EqualsIgnoreCase(v, "Insgesamt") ||
          absl::EqualsIgnoreCase(v, "Summe") || absl::EqualsIgnoreCase(v, "Total")) {
        d->add_skip_rows_where_first_field(std::string(v));
        d->set_skip_rows_field(static_cast<int32_t>(i));
        --data_end;
        break;
      }
    }
  }
  std::vector<std::string> used;
  for (int f = 0; f < layout.body_fields; ++f) {
    std::vector<std::string> values;
    bool any_value = false;
    for (int r = layout.data_index; r < data_end; ++r) {
      const OwnedRecord& rec = records[r];
      if (static_cast<int>(rec.fields.size()) != layout.body_fields) continue;
      values.push_back(rec.fields[f]);
      if (!TrimCell(rec.fields[f]).empty()) any_value = true;
    }
    std::string head = f < static_cast<int>(header.size()) ? std::string(TrimCell(header[f])) : "";
    if (head.empty() && !any_value) continue;  // e.g. the field after a trailing ';'
    std::string name = NormalizeColumnName(head);
    if (name.empty()) name = absl::StrCat("column_", f + 1);
    name = UniqueName(name, &used);
    v1::ColumnSpec* col = spec.add_columns();
    col->mutable_column()->set_name(name);
    int same_header = 0;
    for (const std::string& h : header) {
      if (TrimCell(h) == head) ++same_header;
    }
    if (head.empty() || same_header > 1) {
      col->set_source_index(f + 1);
    } else if (head != name) {
      col->set_source_name(head);
    }
    InferTextColumn(values, delim, col);
  }
  return spec;
}

}  // namespace fednode::ingest::internal
