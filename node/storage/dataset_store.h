// DatasetStore: one RocksDB database per node holding the member's datasets
// as immutable column segments per version, the catalog entries that describe
// them, node metadata and the records of the audit log (node/audit). The key
// layout is in node/storage/key_codec.h.
//
// Layer: node/storage; called by node/server (imports, catalog, queries).
// Only this folder includes rocksdb/ headers.
//
// Thread-safety: safe for concurrent use. Commits are serialized by an
// internal mutex; snapshots and reads run concurrently with commits and see
// either the old or the new version, never a mix.
//
// A full disk: every write fails with ResourceExhausted ("disk full: ...")
// and writes nothing; reads go on. RocksDB then stops writes with a
// background error; the store resumes the database at the next write
// (DB::Resume), so writes succeed again as soon as space is freed, without
// reopening. RocksDB's own log goes to the node's log, never to a file on
// the data disk.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/base/clock.h"
#include "node/base/table.h"
#include "proto/catalog/v1/catalog.pb.h"
#include "proto/storage/v1/dataset.pb.h"

namespace fednode::storage {

struct DatasetStoreOptions {
  // Directory of the database; created when missing. Required.
  std::string path;
  // Create the directory and database when missing. Default true.
  bool create_if_missing = true;
  // fsync the WAL at every commit, so an acknowledged import survives
  // kill -9 and power loss. Default true; tests may turn it off for speed.
  bool sync_commits = true;
  // Bytes of decoded segments kept in memory for queries (LRU). 0 disables
  // the cache. Default 64 MiB: issue 5 asks for a 10 M-row scan under
  // 200 MB RSS; a scan holds one decoded segment at a time (at most
  // segment_max_rows rows, about 20 MiB for 10 numeric columns) beside the
  // cache, the RocksDB block cache and memtables (24 MiB) and the idle node
  // (about 30 MB), so 64 MiB leaves room for that and for the streamed
  // messages. A dataset version whose decoded size (estimated from its
  // first segments) exceeds the capacity is read without caching: an LRU
  // cannot hold a scan larger than itself, and the scan would only evict the
  // small hot datasets, which stay cache-fast.
  size_t segment_cache_bytes = size_t{64} << 20;
  // Rows per segment at most: a commit writes its rows as consecutive
  // segments of this many rows (the last one shorter), so that a query,
  // which decodes one segment at a time, needs memory bounded by this and
  // not by the dataset size. Segments written before this option existed
  // may be larger; they are read whole. Only affects new segments. Default
  // 256 Ki rows (two column chunks); valid range 1 .. 2^31.
  uint32_t segment_max_rows = uint32_t{1} << 18;
  // Rows per stored column chunk: one RocksDB value holds at most this many
  // values of one column (1 MiB for 8-byte types at the default), so no value
  // is huge and a commit's batch is made of moderate pieces. Only affects
  // new segments. Default 128 Ki rows; valid range 1 .. 2^24.
  uint32_t segment_chunk_rows = uint32_t{1} << 17;
  // RocksDB block cache shared by all column families (index and filter
  // blocks, primary-key lookups, catalog). Default 8 MiB.
  size_t block_cache_bytes = size_t{8} << 20;
  // RocksDB memtable budget over all column families; also bounds the WAL
  // (4x). Default 16 MiB.
  size_t write_buffer_bytes = size_t{16} << 20;
  // Open without writing anything (for verifying a backup): no lock file,
  // no format stamping or migration, and every write fails. A database
  // without a format version is refused; one of an older format this build
  // reads (kOldestFormatVersion..kFormatVersion - 1) opens as it is, not
  // migrated (format_version() tells which; the next read-write open
  // migrates it). Default false.
  bool read_only = false;
  // Time source for DatasetVersion.created. nullptr = SystemClock::Get().
  // Borrowed: must outlive the store.
  const Clock* clock = nullptr;
  // Keep each dataset's catalog entry and current version (its manifest,
  // parsed) in memory, so that GetCatalogEntry and OpenSnapshot, the work of
  // every query, read no RocksDB key and parse nothing. Filled on first use
  // of a dataset (from one RocksDB snapshot) and replaced by every commit,
  // catalog edit and delete together with its write, so a call sees the
  // state of the last returned write, never an older one and never an entry
  // of another version than the manifest beside it. Memory: one entry and
  // one manifest per dataset that exists and was read or written since the
  // open (datasets that do not exist are not remembered). Default true;
  // false reads both from RocksDB at every call (the baseline of
  // tests/bench/point_bench.cc).
  bool cache_current_state = true;
};

enum class ImportMode { kAppend, kUpsert, kReplace };

// One dataset's part of a commit.
struct DatasetWrite {
  std::string dataset_id;
  ImportMode mode = ImportMode::kReplace;
  // The rows to write. table.schema is the dataset's schema: for append and
  // upsert it must equal the current version's schema (column names, types,
  // nullability, primary key, conforms_to).
  Table table;
  // SHA-256 (hex) of the source bytes; a replace with the same digest and
  // schema as the current version is a no-op (idempotent re-import).
  std::string source_sha256;
  // Builds the catalog entry for the new version. Called under the commit
  // lock with the new manifest and the previous entry (nullptr for a new
  // dataset); must not call back into the store. An error aborts the whole
  // commit, nothing is written. The store then sets dataset_id, version,
  // row_count, schema and change_seq itself. When empty, the previous entry
  // (or an empty one) is kept with those fields updated.
  std::function<absl::StatusOr<catalog::v1::CatalogEntry>(
      const v1::DatasetVersion& version, const catalog::v1::CatalogEntry* previous)>
      make_catalog_entry;
};

struct CommitResult {
  std::string dataset_id;
  uint64_t version = 0;
  uint64_t rows_written = 0;
  uint64_t row_count = 0;  // rows in the version after the commit
  bool unchanged = false;  // idempotent replace: no new version written
};

// One value of a primary-key column, typed as that column (e.g. a query's
// literal, after coercion to the column type): int_value for INT64, DATE
// (days since 1970-01-01), TIMESTAMP (microseconds since the epoch, UTC) and
// BOOL (0 or 1); double_value for DOUBLE; string_value (UTF-8) for STRING.
struct KeyValue {
  ColumnType type = storage::v1::COLUMN_TYPE_UNSPECIFIED;
  int64_t int_value = 0;
  double double_value = 0;
  std::string string_value;
};

// A row of a TableSnapshot: its segment (an index into
// TableSnapshot::segments) and its row within that segment's table.
struct RowRef {
  size_t segment = 0;
  uint32_t row = 0;
  friend bool operator==(const RowRef&, const RowRef&) = default;
  friend auto operator<=>(const RowRef&, const RowRef&) = default;
};

// Reads the segments of one dataset version on demand (TableSnapshot).
// Implemented by DatasetStore over a RocksDB snapshot; tests may build
// snapshots whose segments are already in memory and need none.
// Thread-safety: safe for concurrent use.
class SegmentReader {
 public:
  virtual ~SegmentReader() = default;

  // The decoded segment `segment_id` of the version, which has `row_count`
  // rows (deleted ones included). The table is immutable and may be shared
  // with the store's cache.
  // Errors: DataLoss when the segment is missing or corrupt;
  // FailedPrecondition when the store was closed meanwhile; Unavailable for
  // I/O errors.
  virtual absl::StatusOr<std::shared_ptr<const Table>> Read(uint64_t segment_id,
                                                            uint64_t row_count) const = 0;

  // Where the version's rows with the given primary keys live, from the
  // version's primary-key index: for each key in `keys` (the bytes of
  // AppendPrimaryKeyValue for each key column, in schema.primary_key
  // order), its (segment id, row within the segment), or nullopt when no
  // visible row has that key. Same length and order as `keys`.
  // Errors: Unimplemented when this reader has no index (the default: e.g.
  // a snapshot built in memory); DataLoss for a corrupt index record;
  // FailedPrecondition when the store was closed meanwhile; Unavailable for
  // I/O errors.
  virtual absl::StatusOr<std::vector<std::optional<std::pair<uint64_t, uint32_t>>>> FindPrimaryKeys(
      const std::vector<std::string>& keys) const;

  // The rows `rows` (sorted, each once, each < row_count) of segment
  // `segment_id` as a table of their own: GatherRows of the decoded
  // segment. The default reads the whole segment (Read); the store decodes
  // only the chunks that hold the rows when the segment is not cached and
  // its version is too large to be cached. TableSnapshot::LoadRows, the
  // caller, has checked `rows` (CheckRowList).
  // Errors: those of Read.
  virtual absl::StatusOr<Table> ReadRows(uint64_t segment_id, uint64_t row_count,
                                         const std::vector<uint32_t>& rows) const;
};

// A dataset version as query sees it: the version's schema and segment list
// (the manifest), with the segments decoded lazily, one at a time, through
// LoadSegment, so that the memory of a scan does not grow with the dataset.
// A snapshot from DatasetStore::OpenSnapshot pins a RocksDB snapshot: every
// segment it loads is of this version even when a later commit replaced or
// deleted the dataset meanwhile (a replace, an upsert that hides a whole
// segment and a delete remove the old segments in the same write that makes
// the new version current). The RocksDB snapshot is released when the
// last copy of the TableSnapshot is destroyed (copies share it), or when the
// store closes; loading after the store closed fails with
// FailedPrecondition. Immutable; thread-safe for concurrent reads.
struct TableSnapshot {
  std::string dataset_id;
  uint64_t version = 0;
  Schema schema;
  struct Segment {
    // The decoded rows when already in memory (tests, small in-memory
    // snapshots); nullptr when they are read through `reader` on demand.
    std::shared_ptr<const Table> table;
    // Sorted row indexes of the segment hidden in this version (upserts);
    // empty when none.
    std::vector<uint32_t> deleted_rows;
    // The stored segment's id and its row count (deleted rows included);
    // used when `table` is null.
    uint64_t segment_id = 0;
    uint64_t row_count = 0;

    // Rows of the segment, deleted ones included.
    uint64_t num_rows() const { return table != nullptr ? table->num_rows : row_count; }
  };
  std::vector<Segment> segments;
  // Visible rows over all segments.
  uint64_t num_rows = 0;
  // Reads segments whose `table` is null; shared by copies of the snapshot.
  std::shared_ptr<const SegmentReader> reader;

  // The decoded segment `index` (< segments.size()): its `table` when set,
  // else read through `reader`. The caller holds the result only while it
  // needs it; the snapshot keeps no reference.
  // Errors: those of SegmentReader::Read; DataLoss when the decoded
  // segment's row or column count differs from the manifest; Internal when
  // the segment has neither table nor reader.
  absl::StatusOr<std::shared_ptr<const Table>> LoadSegment(size_t index) const;

  // The rows `rows` of segment `index` (< segments.size()) as a table of
  // their own (GatherRows of LoadSegment(index)), through
  // SegmentReader::ReadRows when the segment is not in memory: a lookup in
  // a version too large for the segment cache reads a few chunks, not the
  // whole segment. `rows`: sorted, each once, each below the segment's row
  // count.
  // Errors: as LoadSegment; InvalidArgument for bad `rows`; DataLoss when
  // the rows read do not match the manifest.
  absl::StatusOr<Table> LoadRows(size_t index, const std::vector<uint32_t>& rows) const;

  // The visible rows whose primary key is one of `keys`, looked up in the
  // version's primary-key index instead of scanning: each key holds one
  // KeyValue per column of schema.primary_key, in that order and typed as
  // that column. Sorted by (segment, row), each row once; keys that no row
  // has are left out. Rows the index points to but this version hides
  // (TableSnapshot::Segment::deleted_rows) are left out too.
  // Errors: Unimplemented when the dataset has no primary key or the
  // snapshot has no index to look in (no reader, or a reader without
  // one); InvalidArgument when a key's length or a value's type does not
  // match schema.primary_key; DataLoss when the index names a segment that
  // is not in this version; the reader's errors (SegmentReader::
  // FindPrimaryKeys).
  absl::StatusOr<std::vector<RowRef>> FindRowsByPrimaryKey(
      const std::vector<std::vector<KeyValue>>& keys) const;
};

// One record of the catalog change log (key_codec.h, catalog 'q').
struct CatalogChange {
  // The node's catalog change sequence of the change (> 0).
  uint64_t seq = 0;
  std::string dataset_id;
  // The dataset's entry when it exists and this is its latest change;
  // absent when the dataset was deleted at `seq` (it may exist again under a
  // later change).
  std::optional<catalog::v1::CatalogEntry> entry;
  // conforms_to values of the dataset's earlier states that were not
  // PRIVATE (catalog.v1.PriorSharing), unique; empty when none was shared.
  std::vector<std::string> prior_conforms_to;
};

struct CatalogChangePage {
  // Increasing seq.
  std::vector<CatalogChange> changes;
  // More changes follow the last one.
  bool more = false;
};

// Writes of one harvest step of one peer (HarvestedEntry / PeerHarvestState
// values are opaque bytes here; node/server/catalog_harvester.cc owns them).
struct HarvestBatch {
  struct Record {
    uint64_t generation = 0;
    std::string dataset_id;
    std::string value;  // empty for deletes
  };
  std::string peer_ags;
  // Generations of the peer whose records are deleted first.
  std::vector<uint64_t> drop_generations;
  std::vector<Record> puts;
  std::vector<Record> deletes;
  // The peer's new harvest state, written with the records.
  std::string state;
};

class DatasetStore {
 public:
  // Opens (or creates) the database at options.path, with the column
  // families catalog, data, audit and meta, WAL on.
  // Errors: FailedPrecondition naming the directory when another process
  // or another DatasetStore in this process holds it open (a flock on
  // <path>/fednode.lock taken before RocksDB's LOCK; returned at once, no
  // waiting);
  // FailedPrecondition when the stored format version is newer than this
  // build understands ("data directory D: format 99 is newer than this
  // fednode (2); upgrade fednode or restore a backup") or older than it can
  // migrate. An older format is migrated here, one synced WriteBatch per
  // step (key_codec.h: kFormatVersion), logged as "migrated data directory
  // D from format 1 to 2"; DataLoss when the database is corrupt; Unavailable
  // for other I/O errors; NotFound when the directory is missing and
  // create_if_missing is false; InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<DatasetStore>> Open(const DatasetStoreOptions& options);

  // Closes the database (flushes nothing extra: every commit is in the WAL).
  // Snapshots handed out stay valid.
  virtual ~DatasetStore();
  DatasetStore(const DatasetStore&) = delete;
  DatasetStore& operator=(const DatasetStore&) = delete;
  DatasetStore(DatasetStore&&) = delete;
  DatasetStore& operator=(DatasetStore&&) = delete;

  // Applies all writes atomically in one synced RocksDB WriteBatch: the new
  // segments (options.segment_max_rows rows each at most), the version manifests, the
  // current-version pointers and the catalog entries. Either every write is visible afterwards or
  // none. Append adds a segment; upsert adds a segment and hides the rows of earlier segments whose
  // primary key the new rows carry; replace makes a version of only the new rows. Segments no
  // longer referenced are deleted in the same batch (open snapshots keep their shared_ptrs). Each
  // changed dataset's version grows by 1. An identical replace (see source_sha256) and an
  // append/upsert of no rows are `unchanged`; a commit of only unchanged
  // writes writes nothing.
  // Shapes: results in the order of `writes`; a dataset id at most once.
  // Errors: InvalidArgument when a table is inconsistent, a schema differs
  // from the current one (append/upsert; naming the column), upsert without
  // primary key, new rows duplicate a primary key among themselves or (append)
  // an existing row (naming the key values), or an id repeats; ResourceExhausted
  // ("disk full: ...", naming the data directory) when the disk is full —
  // checked before writing: a commit is refused, with the sizes in MiB,
  // when the data directory's filesystem has less than about twice its size
  // plus 1 MiB free; Unavailable for other I/O errors; the
  // make_catalog_entry error as is.
  absl::StatusOr<std::vector<CommitResult>> Commit(std::vector<DatasetWrite> writes);

  // The current version of `dataset_id`: its manifest (from memory, see
  // DatasetStoreOptions.cache_current_state, or read from RocksDB) and a
  // RocksDB snapshot taken while that version is current, which the result
  // keeps for loading the segments on demand (TableSnapshot; none when the
  // version has no segment). Decodes no segment.
  // Errors: NotFound when the dataset does not exist; DataLoss when the
  // manifest is corrupt (a missing or corrupt segment shows when it is
  // loaded); Unavailable for I/O errors.
  absl::StatusOr<TableSnapshot> OpenSnapshot(absl::string_view dataset_id);

  // All catalog entries, ordered by dataset id.
  absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> ListCatalog();

  // The same entries, read at one RocksDB snapshot, without parsing them at
  // every call: with DatasetStoreOptions.cache_current_state the parsed list
  // is kept until the catalog changes (its change sequence, written in the
  // same batch as every entry). Shared and never changed: a later change
  // makes a new list. Costs one snapshot and one read of the sequence while
  // the catalog is unchanged.
  // Errors: DataLoss for a corrupt entry or sequence; Unavailable for I/O
  // errors.
  absl::StatusOr<std::vector<std::shared_ptr<const catalog::v1::CatalogEntry>>> ListCatalogShared();

  // The catalog entry of `dataset_id` as of the last returned write (from
  // memory, see DatasetStoreOptions.cache_current_state): a copy, which the
  // caller may change.
  // Errors: NotFound when the dataset has no entry; InvalidArgument for an
  // empty or overlong id; DataLoss when the stored entry is corrupt;
  // Unavailable for I/O errors.
  absl::StatusOr<catalog::v1::CatalogEntry> GetCatalogEntry(absl::string_view dataset_id);
  // The same entry without a copy: shared with the store's cache, never
  // changed (a write replaces the cached entry, it does not edit it). Same
  // errors as GetCatalogEntry.
  absl::StatusOr<std::shared_ptr<const catalog::v1::CatalogEntry>> GetCatalogEntryShared(
      absl::string_view dataset_id);

  // Replaces the entry of an existing dataset (metadata edits); sets
  // change_seq to the next catalog change sequence, version and row_count
  // from the current version, and the schema from it when entry.schema is
  // empty.
  // Errors: NotFound when the dataset does not exist.
  absl::Status PutCatalogEntry(catalog::v1::CatalogEntry entry);

  // Removes the dataset, its segments and its catalog entry atomically.
  // Errors: NotFound.
  absl::Status DeleteDataset(absl::string_view dataset_id);

  // Up to `limit` records of the catalog change log with seq > after_seq, in
  // increasing seq, read from one snapshot. limit 0 = none. A dataset
  // changed several times appears once, at its latest change.
  // Errors: DataLoss for a malformed key or record; Unavailable for I/O.
  absl::StatusOr<CatalogChangePage> ListCatalogChanges(uint64_t after_seq, size_t limit);

  // ---- Harvested catalogs of other members (catalog CF, 'r' and 'p') ----

  // Applies `harvest` in one synced WriteBatch: the dropped generations,
  // then the deletes and puts, and the peer's state. All or nothing.
  // Errors: InvalidArgument without peer_ags or for a bad dataset id;
  // ResourceExhausted when the disk is full; Unavailable for I/O errors.
  absl::Status WriteHarvest(const HarvestBatch& harvest);
  // The record values of one generation of a peer, ordered by dataset id.
  // Errors: Unavailable for I/O errors.
  absl::StatusOr<std::vector<std::string>> ReadHarvested(absl::string_view peer_ags,
                                                         uint64_t generation);
  // The peer's harvest state value; nullopt when never written.
  // Errors: Unavailable for I/O errors.
  absl::StatusOr<std::optional<std::string>> GetHarvestState(absl::string_view peer_ags);

  // Node metadata (meta column family), e.g. "member_ags".
  // Errors: NotFound when unset.
  absl::StatusOr<std::string> GetMeta(absl::string_view key);
  absl::Status PutMeta(absl::string_view key, absl::string_view value);
  // Removes an operator value; removing an unset key is OK.
  absl::Status DeleteMeta(absl::string_view key);

  // ---- Audit column family (records of node/audit; opaque bytes here) ----
  //
  // Audit writes do not take the commit mutex: an import never delays an
  // audit append. They are synced to the WAL when options.sync_commits is
  // true (the production default), like commits.

  // A record of the audit log: (seq, value bytes).
  using AuditRecord = std::pair<uint64_t, std::string>;

  // Removal of archived audit entries (retention; node/audit).
  struct AuditCut {
    // The entries 'a' and head signatures 'h' with seq <= through_seq are
    // deleted. > 0.
    uint64_t through_seq = 0;
    // The new chain anchor value (key_codec.h, audit 'c').
    std::string anchor;
  };

  // Writes every record under 'a' be64(seq) in one WriteBatch, synced (see
  // above); all or none become visible. Existing records with the same seq
  // are overwritten: the caller (AuditLog's single writer) owns the
  // numbering. With `cut`, the same WriteBatch also deletes the records up
  // to cut->through_seq and replaces the chain anchor: the cut, the anchor
  // and the new records become visible together or not at all. An empty
  // vector without a cut writes nothing.
  // Shapes: any order; seq > 0; records above cut->through_seq.
  // Errors: InvalidArgument for seq 0, a cut through 0 or a record at or
  // below the cut; FailedPrecondition for a cut on a store of an older
  // format (read-only); ResourceExhausted when the disk is full;
  // Unavailable for other I/O errors (RocksDB's text in the message).
  absl::Status AppendAudit(const std::vector<AuditRecord>& records, const AuditCut* cut = nullptr);

  // The chain anchor value (key_codec.h, audit 'c'): "" for the genesis (and
  // for a format-1 store opened read-only, which has no anchor).
  // Errors: DataLoss when a format-2 store has no anchor record;
  // Unavailable for I/O errors.
  absl::StatusOr<std::string> GetAuditAnchor();

  // Up to `limit` audit records with seq >= from_seq, in increasing seq order
  // (gaps in the stored sequence show as jumps in seq). limit 0 = none.
  // Errors: DataLoss for a malformed key; Unavailable for I/O errors.
  absl::StatusOr<std::vector<AuditRecord>> ReadAudit(uint64_t from_seq, size_t limit);

  // The audit record with the largest seq; nullopt when the log is empty.
  // Errors: as ReadAudit.
  absl::StatusOr<std::optional<AuditRecord>> LastAudit();

  // Writes a head-signature record under 'h' be64(seq), synced (see above).
  // Errors: InvalidArgument for seq 0; ResourceExhausted, Unavailable as
  // AppendAudit.
  absl::Status PutAuditHead(uint64_t seq, absl::string_view value);

  // The head-signature record with the largest seq; nullopt when none.
  // Errors: as ReadAudit.
  absl::StatusOr<std::optional<AuditRecord>> LastAuditHead();

  // Up to `limit` head-signature records with seq >= from_seq, increasing.
  // Errors: as ReadAudit.
  absl::StatusOr<std::vector<AuditRecord>> ReadAuditHeads(uint64_t from_seq, size_t limit);

  // ---- Backups ----
  //
  // Writes a consistent point-in-time copy of the whole database (all column
  // families: data, catalog, meta, audit) into `dir` while the store keeps
  // serving: RocksDB's checkpoint, hard links to the immutable table files
  // where `dir` is on the same filesystem, copies otherwise, after a flush
  // of the memtables. `dir` must not exist; its parent must.
  // Errors: AlreadyExists when `dir` exists; ResourceExhausted when the disk
  // is full; Unavailable for other I/O errors.
  absl::Status CreateCheckpoint(const std::string& dir);
  // Reads every table file of the database and checks its block checksums.
  // Errors: DataLoss naming the file for a checksum mismatch; Unavailable for
  // I/O errors.
  absl::Status VerifyChecksums();

  // RocksDB's own figures for monitoring (metrics). Best effort: a property
  // RocksDB cannot give reads as 0. Sizes in bytes; rates in bytes/second.
  struct Stats {
    // rocksdb.live-sst-files-size summed over all column families.
    uint64_t live_sst_bytes = 0;
    // The same for the audit column family alone, plus its memtables
    // (rocksdb.cur-size-all-mem-tables): the audit log's size.
    uint64_t audit_bytes = 0;
    // rocksdb.is-write-stopped: writes are stopped (too many L0 files or
    // memtables, or pending compaction bytes over the hard limit).
    bool write_stopped = false;
    // rocksdb.actual-delayed-write-rate: the rate writes are slowed to, 0
    // when they are not delayed (a write stall).
    uint64_t delayed_write_rate = 0;
  };
  Stats GetStats();

  // The on-disk format version: kFormatVersion after a read-write open (a
  // migration ran when needed); the stored one after a read-only open.
  uint32_t format_version() const;
  const std::string& path() const;

  // Test hooks (not for production code).
  // Overwrites the stored format version, so a test can check that a newer
  // version is refused at the next Open.
  absl::Status SetFormatVersionForTest(uint32_t version);
  // Bytes and entries in the decoded-segment cache.
  size_t SegmentCacheBytesForTest() const;
  size_t SegmentCacheEntriesForTest() const;
  // RocksDB snapshots held by open TableSnapshots.
  size_t OpenSnapshotsForTest() const;
  // Datasets whose catalog entry and current version are in memory
  // (DatasetStoreOptions.cache_current_state).
  size_t CachedStatesForTest() const;
  // Deletes the audit records with from_seq <= seq < to_seq (tamper tests:
  // a gap, a truncated tail). Synced like AppendAudit.
  absl::Status DeleteAuditForTest(uint64_t from_seq, uint64_t to_seq);

 protected:
  DatasetStore();

 private:
  // The RocksDB handles and state; defined in dataset_store.cc so that no
  // rocksdb/ header leaks out of node/storage.
  struct Rep;
  // The open snapshots' link to the store (released when it closes) and the
  // SegmentReader of OpenSnapshot; in dataset_store.cc.
  struct SnapshotGate;
  class SnapshotReader;
  std::unique_ptr<Rep> rep_;
};

}  // namespace fednode::storage
