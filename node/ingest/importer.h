// Import of municipal source files (CSV, JSON) into typed tables.
//
// Layer: node/ingest; called by node/server for `fedctl import` and
// `fedctl schema infer`. Knows nothing of RocksDB or gRPC.
//
// Thread-safety: the functions are pure and safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/base/table.h"
#include "proto/ingest/v1/import_spec.pb.h"

namespace fednode::ingest {

enum class SourceFormat { kCsv, kJson };

// One dataset parsed from a source (JSON sources may yield child datasets).
struct ParsedDataset {
  std::string dataset_id;
  Table table;  // table.schema carries columns, primary_key and conforms_to
};

// Parses `bytes` (the whole source file, untrusted) according to `spec`.
// Returns the dataset first, then JSON child datasets in spec order.
// Every value is converted to its column type; strings are UTF-8 NFC.
// Errors: InvalidArgument naming source_name, the 1-based line, the column and
// the cell value for a bad cell ("wahl.csv:12: column d: \"1.2x\" is not an
// int64"), a missing source column, or a duplicate primary key (naming both
// lines); nothing is returned on error, so nothing of the import is stored.
absl::StatusOr<std::vector<ParsedDataset>> Parse(absl::string_view bytes, SourceFormat format,
                                                 const v1::ImportSpec& spec,
                                                 absl::string_view source_name);

// Infers an ImportSpec from `bytes`: encoding, delimiter, header line, footer,
// column names (normalised to [a-z0-9_]), types, null placeholders, decimal
// and thousands separators, date formats. Identifier-like columns (leading
// zeros, e.g. AGS 06531005 or postcode 01067) stay strings.
// `delimiter` overrides detection when non-empty.
// Errors: InvalidArgument when the delimiter is ambiguous (the message asks for
// --delimiter) or the file holds no table.
absl::StatusOr<v1::ImportSpec> Infer(absl::string_view bytes, SourceFormat format,
                                     absl::string_view dataset_id, absl::string_view source_name,
                                     absl::string_view delimiter = "");

// The spec as textproto with a comment per column for the operator to edit.
std::string SpecToTextproto(const v1::ImportSpec& spec);

// Parses a textproto ImportSpec (a schema file).
// Errors: InvalidArgument with the line and column of a syntax error, or the
// field path of an invalid value (unknown type, empty name, duplicate column,
// primary key naming no column).
absl::StatusOr<v1::ImportSpec> ParseSpecTextproto(absl::string_view text);

}  // namespace fednode::ingest
