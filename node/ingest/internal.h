// Private helpers shared by the files of node/ingest (not a public API).
//
// Layer: node/ingest. Thread-safety: pure functions, safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/base/table.h"
#include "node/ingest/importer.h"
#include "proto/ingest/v1/import_spec.pb.h"

namespace fednode::ingest::internal {

// Longest column name or dataset id in bytes: PostgreSQL's parser, used by
// the SQL front end, truncates identifiers to 63 bytes (NAMEDATALEN - 1).
inline constexpr size_t kMaxIdentifierBytes = 63;

// Checks the spec independent of the source; InvalidArgument naming the
// field path ("columns[2].column.name: ...").
absl::Status ValidateSpec(const v1::ImportSpec& spec);

absl::StatusOr<std::vector<ParsedDataset>> ParseCsv(absl::string_view bytes,
                                                    const v1::ImportSpec& spec,
                                                    absl::string_view source_name);
absl::StatusOr<std::vector<ParsedDataset>> ParseJson(absl::string_view bytes,
                                                     const v1::ImportSpec& spec,
                                                     absl::string_view source_name);
absl::StatusOr<v1::ImportSpec> InferCsv(absl::string_view bytes, absl::string_view dataset_id,
                                        absl::string_view source_name, absl::string_view delimiter);
absl::StatusOr<v1::ImportSpec> InferJson(absl::string_view bytes, absl::string_view dataset_id,
                                         absl::string_view source_name);

// Fails when two rows of `table` share a primary key. `locators[i]` is the
// line (or record number) of row i; the error names both, e.g.
// "src.csv: duplicate primary key (id=7) on lines 3 and 9".
absl::Status CheckPrimaryKey(const Table& table, const std::vector<int64_t>& locators,
                             absl::string_view source_name, absl::string_view unit_plural);

// Fills type, number/date formats, null_values and nullable of `spec` from
// the text `values` of one column (empty cells included). `delimiter` is the
// CSV delimiter (',' makes "1.234" a decimal number), 0 for JSON strings.
void InferTextColumn(const std::vector<std::string>& values, char delimiter, v1::ColumnSpec* spec);

// Makes `name` unique among `used` by appending _2, _3, ...; records it.
// The result has at most kMaxIdentifierBytes bytes: a longer `name` (ASCII)
// is cut, and cut further to make room for the suffix.
std::string UniqueName(std::string name, std::vector<std::string>* used);

}  // namespace fednode::ingest::internal
