// File: key_codec.h
// -----------------------------------------------------------------------------
// The on-disk layout of a node's RocksDB database, and the functions that build
// and parse its keys. This comment is the single description of the layout;
// change it together with kFormatVersion.
//
// Layer: node/storage, internal; used by dataset_store.cc and its tests.
// Thread-safety: the functions are pure and safe for concurrent use.
//
// ## Column families
//
//   default  unused (RocksDB requires it to exist)
//   data     dataset version manifests, column segments, primary-key indexes
//   catalog  catalog entries (CatalogEntry protos) and the catalog change log
//   meta     node metadata: format version, counters, operator values
//   audit    the hash-chained audit log and its signed heads (node/audit)
//
// ## Notation
//
//   be64(x), be32(x)  unsigned big-endian, so that numeric order = byte order
//   E(s)              escaped string: every 0x00 byte of s becomes 00 FF, then
//                     the terminator 00 01 follows. E() keeps the byte order of
//                     the strings and is prefix-free: E("ab") is no prefix of
//                     E("abc"), so one dataset's keys never fall into
//                     another's range.
//   PK(row)           the row's primary-key values, each encoded so that byte
//                     order = value order (see AppendPrimaryKeyValue), concatenated
//                     in schema.primary_key order
//   Examples show the bytes as text with \xNN for non-printable bytes; dataset
//   "wahl" has E("wahl") = wahl\x00\x01.
//
// ## data: one dataset = one key range  d E(id) ...
//
//   d E(id) 'c'                              -> be64(current version)
//       current-version pointer; absent = no such dataset.
//       e.g. d wahl\x00\x01 c  -> \x00..\x00\x03
//   d E(id) 'm' be64(version)                -> storage.v1.DatasetVersion proto
//       version manifest: schema, segments (id, row count), rows hidden by
//       upserts per segment, import mode, source_sha256. Only the current
//       version's manifest is kept; a commit deletes the previous one.
//       e.g. d wahl\x00\x01 m \x00\x00\x00\x00\x00\x00\x00\x03
//   d E(id) 's' be64(segment) 'h'            -> segment header (segment_codec.h)
//       row count, chunk size, per column: type, NULL bitmap present,
//       dictionary size and dictionary chunk count.
//       e.g. d wahl\x00\x01 s \x00..\x00\x11 h               (segment 17)
//   d E(id) 's' be64(segment) 'v' be32(column) be32(chunk) -> values of one chunk
//       rows [chunk * chunk_rows, +chunk_rows) of one column: int64/date/timestamp
//       and double as 8-byte little-endian, bool as 1 byte, string as uint32 LE
//       dictionary codes; then a validity bitmap (LSB first) when the column
//       has NULLs. One value per row of the segment.
//       e.g. d wahl\x00\x01 s \x00..\x00\x11 v \x00\x00\x00\x02 \x00\x00\x00\x00
//            (segment 17, column 2, chunk 0)
//   d E(id) 's' be64(segment) 'd' be32(column) be32(chunk) -> dictionary chunk
//       the string column's dictionary entries in code order, split so that no
//       value exceeds about 1 MiB.
//       e.g. d wahl\x00\x01 s \x00..\x00\x11 d \x00\x00\x00\x01 \x00\x00\x00\x00
//   d E(id) 'k' PK(row)                      -> be64(segment) be32(row)
//       primary-key index of the current version: where each visible row with
//       that key lives. Used for upsert and for duplicate detection on append.
//       Absent for datasets without a primary key.
//       e.g. key (ags="06531005", jahr=2021):
//            d wahl\x00\x01 k 06531005\x00\x01 \x80\x00\x00\x00\x00\x00\x07\xe5
//
//   A commit writes its rows as one or more segments of at most
//   DatasetStoreOptions::segment_max_rows rows (older databases may hold
//   larger ones; the layout is the same), so that a query decodes a bounded
//   number of rows at a time.
//   Segments are immutable: written once by the commit that creates them and
//   deleted (one DeleteRange over d E(id) 's' be64(segment)) by the commit
//   that leaves them unreferenced. Segment ids come from one node-wide counter
//   and are never reused, so a cached decoded segment can never be stale.
//   A replace also clears the index with one DeleteRange over d E(id) 'k';
//   DeleteDataset removes the whole range d E(id). Compaction drops the
//   range tombstones later.
//   Every write of a Commit (segments, index, manifest, pointer, catalog
//   entry, change log, counters) is in one WriteBatch, synced to the WAL.
//
// ## catalog
//
//   'e' E(id)          -> catalog.v1.CatalogEntry proto (ListCatalog order = id order)
//       e.g. e wahl\x00\x01
//   'q' be64(seq)      -> dataset id (raw bytes)
//       catalog change log: the dataset changed (or was deleted when its entry
//       is gone) at catalog change sequence seq. Writing a dataset's entry
//       deletes the record of its previous seq (entry.change_seq), so the log
//       holds about one record per dataset; only a dataset deleted and created
//       again keeps its deletion record too. An incremental harvest reads
//       from 'q' be64(since + 1) and looks up each id's entry.
//       e.g. q \x00..\x00\x2a -> wahl
//   'x' be64(seq)      -> catalog.v1.PriorSharing proto
//       beside the change-log record at seq, when the states of the dataset
//       that this change (and earlier changes folded into it) replaced were
//       ever not PRIVATE: their conforms_to values. The federation uses it
//       to tell exactly the members that could see the dataset that it was
//       deleted or is hidden now. Moves with the 'q' record. Deletion records
//       written before this record existed have none (such deletions reach
//       harvesters only through a full re-harvest).
//       e.g. x \x00..\x00\x2a -> { conforms_to: "urn:fednode:schema:x:v1" }
//   'r' E(ags) be64(generation) E(id) -> catalog.v1.HarvestedEntry proto
//       a catalog entry harvested from member ags (node/server/
//       catalog_harvester.h). A full re-harvest fills a new generation and
//       drops the old one (DeleteRange over 'r' E(ags) be64(old)) once done.
//       e.g. r 06531011\x00\x01 \x00..\x00\x01 badeseen\x00\x01
//   'p' E(ags)         -> catalog.v1.PeerHarvestState proto
//       the harvest cursor, generation, last success and error of member ags;
//       written in the same WriteBatch as the entries of each page.
//       e.g. p 06531011\x00\x01
//
// ## meta
//
//   's/format_version'      -> be32(format version), written when the database
//                              is created; see kFormatVersion
//   's/catalog_change_seq'  -> be64(last catalog change sequence issued)
//   's/next_segment_id'     -> be64(next segment id to hand out)
//   'u/' name               -> operator value set by PutMeta(name, ...)
//       e.g. u/member_ags -> 06531005
//
// ## audit (node/audit, issue 3)
//
//   'a' be64(seq)      -> audit.v1.AuditEntry proto (the entry with seq = seq,
//                         including prev_hash and hash; node/audit/audit_log.h
//                         defines the chain)
//       one record per audit entry, seq from the anchor's seq + 1 (1 when
//       nothing was archived) without gaps; written only by
//       DatasetStore::AppendAudit, one synced WriteBatch per group commit,
//       never changed afterwards, and deleted only by a cut (see 'c').
//       e.g. a \x00..\x00\x01
//   'h' be64(seq)      -> audit.v1.HeadSignature proto
//       the node's signature over the log head at seq ("seq|hash"), written
//       every N entries and at shutdown by DatasetStore::PutAuditHead.
//       e.g. h \x00..\x03\xe8                          (head at seq 1000)
//   'c'                -> audit.v1.ChainAnchor proto (format 2)
//       where the live log starts: the last archived seq and hash (the
//       entries up to it were cut into a signed archive file,
//       node/audit/audit_archive.h), or the empty value (seq 0, the genesis:
//       the log starts at entry 1 with kGenesisHash). Always present in
//       format 2: written with the format version when a database is
//       created or migrated from format 1, replaced only by
//       DatasetStore::AppendAudit with a cut, in the same WriteBatch that
//       deletes the archived 'a' (and 'h') records up to its seq.
//       e.g. c -> "" (nothing archived yet)
//   The store treats these values as opaque bytes; the audit CF is written
//   without taking the commit mutex, so audit appends never wait for imports.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/base/table.h"
#include "node/storage/dataset_store.h"

namespace fednode::storage {

// The layout version this build writes and understands.
// On Open: a database without a version is new and gets kFormatVersion; an
// older version goes through the migration hook (dataset_store.cc,
// MigrateFormat: one step per version, each in one WriteBatch); a newer
// version is refused with FailedPrecondition.
// History:
//   1  the layout described above without the audit anchor 'c': the audit
//      log always starts at entry 1.
//   2  the audit CF holds the chain anchor 'c' (the audit log may start
//      after archived entries; node/audit). Migration 1 -> 2 writes the
//      genesis anchor (the empty value) and the version in one synced
//      WriteBatch. A format-2 log may lack entry 1, which a format-1 build
//      would report as a broken chain: hence the new version.
inline constexpr uint32_t kFormatVersion = 2;
// The oldest format this build opens: read-only opens (backup verify,
// --check-config) read a format-1 directory as is (no anchor = genesis);
// read-write opens migrate it.
inline constexpr uint32_t kOldestFormatVersion = 1;

// Column family names.
inline constexpr char kCfData[] = "data";
inline constexpr char kCfCatalog[] = "catalog";
inline constexpr char kCfMeta[] = "meta";
inline constexpr char kCfAudit[] = "audit";

// Meta keys (without the operator prefix).
inline constexpr char kMetaFormatVersion[] = "s/format_version";
inline constexpr char kMetaCatalogChangeSeq[] = "s/catalog_change_seq";
inline constexpr char kMetaNextSegmentId[] = "s/next_segment_id";

// Record kinds inside a segment.
enum class SegmentPart : char { kHeader = 'h', kValues = 'v', kDictionary = 'd' };

// Big-endian fixed-width integers.
void AppendBigEndian64(uint64_t v, std::string* out);
void AppendBigEndian32(uint32_t v, std::string* out);
// Reads 8 (4) bytes at the front of *in and advances it; false when too short.
bool ConsumeBigEndian64(absl::string_view* in, uint64_t* v);
bool ConsumeBigEndian32(absl::string_view* in, uint32_t* v);

// Appends E(s). Inverse: ConsumeEscaped (false on malformed input).
void AppendEscaped(absl::string_view s, std::string* out);
bool ConsumeEscaped(absl::string_view* in, std::string* out);

// The smallest key greater than every key that starts with `prefix`
// (for iterate_upper_bound and DeleteRange). REQUIRES: prefix holds a byte
// other than 0xFF.
std::string PrefixSuccessor(absl::string_view prefix);

// data: d E(id)
std::string DatasetPrefix(absl::string_view dataset_id);
// data: d E(id) 'c'
std::string CurrentVersionKey(absl::string_view dataset_id);
// data: d E(id) 'm' be64(version)
std::string ManifestKey(absl::string_view dataset_id, uint64_t version);
// data: d E(id) 's' be64(segment)   (prefix of all records of the segment)
std::string SegmentPrefix(absl::string_view dataset_id, uint64_t segment_id);
// data: d E(id) 's' be64(segment) 'h'
std::string SegmentHeaderKey(absl::string_view dataset_id, uint64_t segment_id);
// data: SegmentPrefix + part + be32(column) + be32(chunk); REQUIRES part != kHeader.
std::string SegmentChunkKey(absl::string_view dataset_id, uint64_t segment_id, SegmentPart part,
                            uint32_t column, uint32_t chunk);
// Parses the suffix after SegmentPrefix of a chunk key.
// Returns false for the header key or a malformed suffix.
bool ParseSegmentChunkSuffix(absl::string_view suffix, SegmentPart* part, uint32_t* column,
                             uint32_t* chunk);
// data: d E(id) 'k'   (prefix of the primary-key index)
std::string PrimaryKeyIndexPrefix(absl::string_view dataset_id);

// Value of a primary-key index record: be64(segment) be32(row).
std::string EncodeRowLocation(uint64_t segment_id, uint32_t row);
bool DecodeRowLocation(absl::string_view value, uint64_t* segment_id, uint32_t* row);

// catalog: 'e' E(id)
std::string CatalogEntryKey(absl::string_view dataset_id);
inline constexpr char kCatalogEntryPrefix[] = "e";
// catalog: 'q' be64(seq)
std::string CatalogChangeKey(uint64_t seq);
inline constexpr char kCatalogChangePrefix[] = "q";
// catalog: 'x' be64(seq)
std::string CatalogPriorKey(uint64_t seq);
// catalog: 'r' E(ags) be64(generation)   (prefix of one harvested generation)
std::string HarvestedPrefix(absl::string_view peer_ags, uint64_t generation);
// catalog: 'r' E(ags) be64(generation) E(id)
std::string HarvestedKey(absl::string_view peer_ags, uint64_t generation,
                         absl::string_view dataset_id);
// catalog: 'p' E(ags)
std::string HarvestStateKey(absl::string_view peer_ags);

// meta: 'u/' name
std::string OperatorMetaKey(absl::string_view name);

// audit: 'a' be64(seq)
std::string AuditKey(uint64_t seq);
inline constexpr char kAuditEntryPrefix[] = "a";
// audit: 'h' be64(seq)
std::string AuditHeadKey(uint64_t seq);
inline constexpr char kAuditHeadPrefix[] = "h";
// Parses a key made by AuditKey / AuditHeadKey (`prefix` is kAuditEntryPrefix
// or kAuditHeadPrefix). Returns false for another prefix or a malformed key.
bool ParseAuditKey(absl::string_view key, absl::string_view prefix, uint64_t* seq);
// audit: 'c', the chain anchor (format 2).
inline constexpr char kAuditAnchorKey[] = "c";

// Appends the order-preserving encoding of one primary-key value:
//   int64, date, timestamp  be64(v XOR 2^63)
//   bool                    one byte 0 or 1
//   double                  be64 of the IEEE bits, sign bit flipped for
//                           positives and all bits flipped for negatives
//                           (-0.0 is stored as +0.0, every NaN as one NaN)
//   string                  E(v)
// REQUIRES: the value is not NULL (primary-key columns hold no NULL).
void AppendPrimaryKeyValue(const Column& column, size_t row, std::string* out);

// The same encoding for a value given on its own (a query's literal): the
// bytes AppendPrimaryKeyValue appends for a column of value.type holding it,
// so that a key built from literals finds the index record of the row.
// REQUIRES: value.type is a column type other than UNSPECIFIED.
void AppendPrimaryKeyValue(const KeyValue& value, std::string* out);

// The primary-key column indexes of table.schema, in key order.
// Errors: InvalidArgument naming a primary-key column that is not in the
// schema, or listed twice.
absl::StatusOr<std::vector<int>> PrimaryKeyColumns(const Schema& schema);

// Encodes PK(row). Errors: InvalidArgument naming the column when a
// primary-key value is NULL.
absl::StatusOr<std::string> EncodePrimaryKey(const Table& table, const std::vector<int>& pk_columns,
                                             size_t row);

// "ags=06531005, jahr=2021": the row's key values for error messages.
std::string FormatPrimaryKey(const Table& table, const std::vector<int>& pk_columns, size_t row);

}  // namespace fednode::storage
