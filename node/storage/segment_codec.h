// File: segment_codec.h
// -----------------------------------------------------------------------------
// Encoding of one immutable column segment (a Table's rows) into RocksDB
// values, and decoding back into a Table. The keys are in key_codec.h.
//
// A segment of R rows and C columns becomes:
//   - one header: format byte 1, R (u64), chunk_rows (u32), C (u32), then per
//     column: type (u8), flags (u8, bit 0 = validity bitmap present),
//     dictionary size (u32), dictionary chunk count (u32); all little-endian;
//   - per column, ceil(R / chunk_rows) value chunks: n (u32), then n values
//     (int64/date/timestamp/double: 8 bytes LE; bool: 1 byte; string: u32 LE
//     dictionary code), then, when the column has NULLs, ceil(n / 8) bytes of
//     validity bitmap (bit i of byte i/8, LSB first; 1 = present);
//   - per string column, dictionary chunks: count (u32), then per entry
//     length (u32) and the UTF-8 bytes; a chunk is closed once it holds
//     dict_chunk_bytes bytes or chunk_rows entries.
// So no value exceeds about max(chunk_rows * 8, dict_chunk_bytes) bytes.
//
// Layer: node/storage, internal. Thread-safety: the functions are pure;
// a SegmentDecoder is owned by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/base/table.h"
#include "node/storage/key_codec.h"

namespace fednode::storage {

struct SegmentColumnInfo {
  ColumnType type = v1::COLUMN_TYPE_UNSPECIFIED;
  bool has_validity = false;
  uint32_t dict_size = 0;
  uint32_t dict_chunks = 0;
};

struct SegmentHeader {
  uint64_t row_count = 0;
  uint32_t chunk_rows = 0;
  std::vector<SegmentColumnInfo> columns;

  // Value chunks per column: ceil(row_count / chunk_rows).
  uint32_t value_chunks() const;
};

// Receives the encoded records in any order. `column` and `chunk` are 0 for
// the header. `value` is valid only during the call.
using SegmentSink = absl::FunctionRef<void(SegmentPart part, uint32_t column, uint32_t chunk,
                                           absl::string_view value)>;

// Encodes `table` (REQUIRES: ValidateTable(table) is OK, num_rows < 2^32,
// chunk_rows > 0, dict_chunk_bytes > 0).
void EncodeSegment(const Table& table, uint32_t chunk_rows, size_t dict_chunk_bytes,
                   SegmentSink sink);

// Errors: DataLoss when the header is malformed.
absl::StatusOr<SegmentHeader> DecodeSegmentHeader(absl::string_view value);

// Rebuilds a Table from a header and its chunks, fed in key order (all
// dictionary chunks of a column in chunk order before Finish; value chunks of
// a column in chunk order). Disk contents are untrusted: every size, code and
// count is checked.
class SegmentDecoder {
 public:
  // `schema` is the manifest's schema; its column count and types must match
  // the header. Errors: DataLoss on a mismatch.
  static absl::StatusOr<SegmentDecoder> Create(const SegmentHeader& header, const Schema& schema);

  // Errors: DataLoss for a chunk out of order, of the wrong size, or for an
  // unknown column.
  absl::Status Add(SegmentPart part, uint32_t column, uint32_t chunk, absl::string_view value);

  // Errors: DataLoss when a chunk is missing or a string code is out of range.
  absl::StatusOr<Table> Finish() &&;

 private:
  SegmentDecoder() = default;
  SegmentHeader header_;
  Table table_;
  std::vector<uint32_t> next_value_chunk_;
  std::vector<uint32_t> next_dict_chunk_;
};

// Approximate heap bytes of a decoded table (for the segment cache).
size_t TableBytes(const Table& table);

// About what TableBytes gives for the whole segment that `header` describes,
// without decoding it (strings counted at their minimal std::string size).
size_t EstimateTableBytes(const SegmentHeader& header);

// InvalidArgument unless `rows` are sorted, unique and below `row_count`:
// the rows of one segment to read (DecodeSegmentRows, GatherRows).
absl::Status CheckRowList(const std::vector<uint32_t>& rows, uint64_t row_count);

// Returns one stored chunk of the segment, valid until the next call;
// NotFound when it is missing.
using SegmentChunkFetcher = absl::FunctionRef<absl::StatusOr<absl::string_view>(
    SegmentPart part, uint32_t column, uint32_t chunk)>;

// Decodes only the rows `rows` of a segment, fetching just the value chunk
// of each column that holds them and, for a string column, its dictionary
// chunks up to the last entry those rows use: a few chunks instead of the
// whole segment. The result is GatherRows(whole decoded segment, rows): the
// rows in that order, with `schema`, a string column's dictionary holding
// only the entries its rows use, in dictionary order.
// Errors: InvalidArgument when `rows` are not sorted, unique and below
// header.row_count; DataLoss when the header does not match `schema`, or a
// chunk is missing or malformed, or a string code is out of range (the
// checks of SegmentDecoder); the fetcher's other errors as is.
absl::StatusOr<Table> DecodeSegmentRows(const SegmentHeader& header, const Schema& schema,
                                        const std::vector<uint32_t>& rows,
                                        SegmentChunkFetcher fetch);

}  // namespace fednode::storage
