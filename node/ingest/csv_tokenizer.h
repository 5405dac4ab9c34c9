// CSV tokenizing with libcsv, plus the physical line on which each record
// starts (correct also after quoted fields that contain line breaks, with LF,
// CRLF or CR line ends).
//
// Layer: node/ingest (internal). Thread-safety: a function call; no shared
// state.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fednode::ingest {

// One record. `fields` point into a buffer owned by the tokenizer and are
// valid only during the callback. Fields are unquoted ("a""b" -> a"b);
// spaces around unquoted fields are removed by libcsv.
struct CsvRecord {
  std::vector<absl::string_view> fields;
  int64_t line = 0;  // 1-based physical line of the record's first byte
};

// Calls `sink` for every record of `text` in order; empty lines are not
// records. `sink` returns false to stop early. `delimiter` is one byte.
// `text` is fed to libcsv in chunks of `chunk_bytes`.
// Errors: InvalidArgument naming the line of a quoted field that is never
// closed; ResourceExhausted when libcsv runs out of memory.
absl::Status TokenizeCsv(absl::string_view text, char delimiter,
                         absl::FunctionRef<bool(const CsvRecord&)> sink,
                         size_t chunk_bytes = size_t{1} << 20);

}  // namespace fednode::ingest
