#include "node/storage/dataset_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "google/protobuf/util/message_differencer.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

#include "node/base/log.h"
#include "node/base/status_macros.h"
#include "node/storage/key_codec.h"
#include "node/storage/rocksdb_options.h"
#include "node/storage/rocksdb_status.h"
#include "node/storage/segment_cache.h"
#include "node/storage/segment_codec.h"

namespace fednode::storage {
namespace {

using catalog::v1::CatalogEntry;

// A dictionary chunk is closed at about this many bytes (key_codec.h).
constexpr size_t kDictChunkBytes = size_t{1} << 20;
// Longest dataset id accepted (bytes); ids are short slugs in practice.
constexpr size_t kMaxDatasetIdBytes = 256;
// Primary-key lookups per MultiGet.
constexpr size_t kLookupBatch = 4096;
// Largest valid DatasetStoreOptions.segment_chunk_rows.
constexpr uint32_t kMaxChunkRows = uint32_t{1} << 24;
// Largest valid DatasetStoreOptions.segment_max_rows.
constexpr uint32_t kMaxSegmentRows = uint32_t{1} << 31;
// The lock file that keeps a second store (in any process) off a directory.
constexpr char kLockFileName[] = "fednode.lock";
// Free space a commit must leave on the data directory's filesystem, for
// audit entries, catalog edits and flushes (Rep::CheckFreeSpace). 1 MiB.
constexpr uint64_t kFreeSpaceReserveBytes = uint64_t{1} << 20;

absl::Status ValidateDatasetId(absl::string_view id) {
  if (id.empty()) {
    return absl::InvalidArgumentError("dataset id is empty");
  }
  if (id.size() > kMaxDatasetIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset id is longer than ", kMaxDatasetIdBytes, " bytes"));
  }
  return absl::OkStatus();
}

// strerror() is not thread-safe; std::error_code's message is.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

absl::string_view ModeName(ImportMode mode) {
  switch (mode) {
    case ImportMode::kAppend:
      return "append";
    case ImportMode::kUpsert:
      return "upsert";
    case ImportMode::kReplace:
      return "replace";
  }
  return "unknown";
}

// Checks the schema and the table of one write; InvalidArgument naming the
// dataset on the first problem.
absl::Status ValidateWriteTable(const DatasetWrite& w) {
  const Schema& schema = w.table.schema;
  absl::flat_hash_set<std::string> names;
  for (const auto& c : schema.columns()) {
    if (c.name().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset ", w.dataset_id, ": a column has no name"));
    }
    if (!names.insert(c.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset ", w.dataset_id, ": column ", c.name(), " appears twice"));
    }
    if (c.type() < v1::COLUMN_TYPE_INT64 || c.type() > v1::COLUMN_TYPE_TIMESTAMP) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset ", w.dataset_id, ": column ", c.name(), " has no valid type"));
    }
  }
  if (absl::Status s = PrimaryKeyColumns(schema).status(); !s.ok()) {
    return Annotate(s, absl::StrCat("dataset ", w.dataset_id));
  }
  if (absl::Status s = ValidateTable(w.table); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("dataset ", w.dataset_id, ": ", s.message()));
  }
  if (w.table.num_rows >= size_t{UINT32_MAX}) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", w.dataset_id, ": too many rows in one import"));
  }
  return absl::OkStatus();
}

// For append and upsert: the new rows must have the current schema.
// Descriptions and units may change.
absl::Status CompareSchemas(absl::string_view id, const Schema& current, const Schema& next) {
  auto error = [&](const std::string& what) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", id, ": schema differs from the current version: ", what));
  };
  const int n = std::min(current.columns_size(), next.columns_size());
  for (int i = 0; i < n; ++i) {
    const v1::ColumnSchema& a = current.columns(i);
    const v1::ColumnSchema& b = next.columns(i);
    if (a.name() != b.name()) {
      return error(absl::StrCat("column ", i + 1, " is ", b.name(), ", expected ", a.name()));
    }
    if (a.type() != b.type()) {
      return error(absl::StrCat("column ", a.name(), " has type ", ColumnTypeName(b.type()),
                                ", expected ", ColumnTypeName(a.type())));
    }
    if (a.nullable() != b.nullable()) {
      return error(absl::StrCat("column ", a.name(), " is ", b.nullable() ? "" : "not ",
                                "nullable, expected ", a.nullable() ? "" : "not ", "nullable"));
    }
  }
  if (current.columns_size() > n) {
    return error(absl::StrCat("column ", current.columns(n).name(), " is missing"));
  }
  if (next.columns_size() > n) {
    return error(absl::StrCat("column ", next.columns(n).name(), " is new"));
  }
  if (!std::equal(current.primary_key().begin(), current.primary_key().end(),
                  next.primary_key().begin(), next.primary_key().end())) {
    return error(absl::StrCat("primary key (", absl::StrJoin(next.primary_key(), ", "),
                              "), expected (", absl::StrJoin(current.primary_key(), ", "), ")"));
  }
  if (current.conforms_to() != next.conforms_to()) {
    return error(absl::StrCat("conforms_to \"", next.conforms_to(), "\", expected \"",
                              current.conforms_to(), "\""));
  }
  return absl::OkStatus();
}

std::string BigEndian64(uint64_t v) {
  std::string s;
  AppendBigEndian64(v, &s);
  return s;
}

std::string BigEndian32(uint32_t v) {
  std::string s;
  AppendBigEndian32(v, &s);
  return s;
}

// Rows [begin, end) of `table` as a table of their own. A string column's
// dictionary keeps only the strings of those rows, in order of first use, so
// that a segment's dictionary is bounded by its rows. REQUIRES: begin <= end
// <= table.num_rows; ValidateTable(table) is OK.
Table SliceRows(const Table& table, size_t begin, size_t end) {
  Table out;
  out.schema = table.schema;
  out.num_rows = end - begin;
  out.columns.reserve(table.columns.size());
  for (const Column& in : table.columns) {
    Column c;
    c.type = in.type;
    if (!in.ints.empty()) c.ints.assign(in.ints.begin() + begin, in.ints.begin() + end);
    if (!in.doubles.empty()) c.doubles.assign(in.doubles.begin() + begin, in.doubles.begin() + end);
    if (!in.validity.empty()) {
      c.validity.assign(in.validity.begin() + begin, in.validity.begin() + end);
    }
    if (!in.codes.empty()) {
      absl::flat_hash_map<uint32_t, uint32_t> remap;
      c.codes.reserve(end - begin);
      for (size_t row = begin; row < end; ++row) {
        if (in.IsNull(row)) {
          c.codes.push_back(0);
          continue;
        }
        const uint32_t code = in.codes[row];
        auto [it, inserted] = remap.try_emplace(code, static_cast<uint32_t>(c.dict.size()));
        if (inserted) c.dict.push_back(in.dict[code]);
        c.codes.push_back(it->second);
      }
    }
    out.columns.push_back(std::move(c));
  }
  return out;
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

// A dataset version as OpenSnapshot hands it out, made once per version from
// its manifest: the TableSnapshot without reader, and the rows of all its
// segments, deleted ones included (LoadSegment's cache estimate). Immutable;
// shared by the cached state and the SnapshotReaders of the version.
struct VersionState {
  TableSnapshot snapshot;
  uint64_t version_rows = 0;
};

// The VersionState of dataset `id`'s manifest `version`.
// Errors: DataLoss when a deleted row lies outside its segment.
absl::StatusOr<std::shared_ptr<const VersionState>> MakeVersionState(absl::string_view id,
                                                                     v1::DatasetVersion version) {
  auto state = std::make_shared<VersionState>();
  TableSnapshot& out = state->snapshot;
  out.dataset_id = std::string(id);
  out.version = version.version();
  out.num_rows = version.row_count();
  out.segments.reserve(version.segments_size());
  for (const v1::SegmentRef& ref : version.segments()) {
    TableSnapshot::Segment segment;
    segment.segment_id = ref.segment_id();
    segment.row_count = ref.row_count();
    state->version_rows += ref.row_count();
    auto it = version.deleted().find(ref.segment_id());
    if (it != version.deleted().end()) {
      segment.deleted_rows.assign(it->second.rows().begin(), it->second.rows().end());
      for (uint32_t row : segment.deleted_rows) {
        if (row >= ref.row_count()) {
          return absl::DataLossError(absl::StrCat("dataset ", id, ": deleted row out of range"));
        }
      }
    }
    out.segments.push_back(std::move(segment));
  }
  out.schema = std::move(*version.mutable_schema());
  return state;
}

// What the readers of one dataset see as of one committed state: its catalog
// entry and its current version, read from one RocksDB snapshot or made by
// the write that committed them, so the two always agree. A null part: the
// dataset has none.
struct CurrentState {
  std::shared_ptr<const CatalogEntry> entry;
  std::shared_ptr<const VersionState> version;
};

// A state as a reader got it: each part, or the error of reading it.
struct ReadState {
  absl::StatusOr<std::shared_ptr<const CatalogEntry>> entry;
  absl::StatusOr<std::shared_ptr<const VersionState>> version;
};

}  // namespace

using AuditRecord = DatasetStore::AuditRecord;

// What the open snapshots share with the store: its state while it is open,
// and the RocksDB snapshots they hold, which the store releases when it
// closes first. A SnapshotReader reads under a reader lock, so the store
// does not close under a read.
struct DatasetStore::SnapshotGate {
  absl::Mutex mu;
  // nullptr once the store closed.
  Rep* rep ABSL_GUARDED_BY(mu) = nullptr;
  // RocksDB snapshots held by live SnapshotReaders.
  absl::flat_hash_set<const rocksdb::Snapshot*> live ABSL_GUARDED_BY(mu);
};

struct DatasetStore::Rep {
  explicit Rep(const DatasetStoreOptions& o)
      : options(o),
        clock(o.clock != nullptr ? o.clock : SystemClock::Get()),
        cache(o.segment_cache_bytes) {
    write_options.sync = o.sync_commits;
  }

  Rep(const Rep&) = delete;
  Rep& operator=(const Rep&) = delete;
  Rep(Rep&&) = delete;
  Rep& operator=(Rep&&) = delete;

  ~Rep() {
    if (gate != nullptr) {
      // Snapshots still open lose the store: their later loads fail with
      // FailedPrecondition, and their RocksDB snapshots are released here,
      // before the database closes.
      absl::MutexLock lock(&gate->mu);
      for (const rocksdb::Snapshot* s : gate->live) db->ReleaseSnapshot(s);
      gate->live.clear();
      gate->rep = nullptr;
    }
    if (db != nullptr) {
      // Flush the memtables, so the next Open need not replay the WAL into
      // memory (a large import would otherwise be decoded again at start,
      // raising the idle node's RSS). Durability does not depend on it: an
      // error here leaves the WAL to be replayed.
      if (!handles.empty()) {
        rocksdb::FlushOptions flush;
        flush.wait = true;
        db->Flush(flush, handles).PermitUncheckedError();
      }
      for (rocksdb::ColumnFamilyHandle* h : handles) {
        db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      }
      // Close() only reports errors of background work; every commit is
      // already in the WAL, so there is nothing to do about one here.
      db->Close().PermitUncheckedError();
      db.reset();
    }
    if (lock_fd >= 0) {
      ::close(lock_fd);  // releases the flock
    }
  }

  absl::Status AcquireDirectoryLock();
  absl::Status OpenDb();
  absl::Status CheckFormatVersion();
  absl::Status MigrateFormat(uint32_t from);
  absl::Status LoadCounters();
  // The big-endian counter under meta `key`; `initial` when unset.
  absl::StatusOr<uint64_t> ReadCounter(const char* key, uint64_t initial) const;

  // Writes `batch` (synced per options.sync_commits). A failed write (the
  // disk ran full) leaves RocksDB stopped by a background error: every later
  // write fails with that error, even after space was freed, until
  // DB::Resume(). So after an I/O error Write resumes the database — Resume
  // flushes the memtables to a new WAL and fails while the disk is still
  // full — and, when that worked, writes the batch once more. The first
  // write after space was freed thus succeeds without a restart.
  // Errors: ResourceExhausted ("disk full: ...", naming the data directory)
  // when the disk is full; else as FromRocksDbStatus.
  absl::Status Write(rocksdb::WriteBatch* batch, absl::string_view context) const {
    rocksdb::Status s = db->Write(write_options, batch);
    if (s.IsIOError()) {
      const rocksdb::Status resumed = db->Resume();
      if (resumed.ok()) {
        s = db->Write(write_options, batch);
      } else {
        FEDNODE_LOG(WARNING) << "data directory " << options.path
                             << ": writes stay stopped after a storage error: "
                             << resumed.ToString();
      }
    }
    absl::Status status = FromRocksDbStatus(s, context);
    if (absl::IsResourceExhausted(status)) {
      return absl::ResourceExhaustedError(
          absl::StrCat(status.message(), "; free space on the data directory's filesystem (",
                       options.path, ") and try again"));
    }
    return status;
  }
  // Refuses a commit of `batch_bytes` (WriteBatch::GetDataSize) before
  // anything is written when the data directory's filesystem has less than
  // about twice that free plus kFreeSpaceReserveBytes: the batch goes to the
  // WAL and is later flushed into table files while the WAL still exists, and
  // the reserve keeps room for audit entries and flushes. Writing into a full
  // disk would only fail halfway and stop RocksDB's writes until Resume.
  // Errors: ResourceExhausted "disk full: ..." with the sizes in MiB.
  // When the free space cannot be read, nothing is refused.
  absl::Status CheckFreeSpace(uint64_t batch_bytes, absl::string_view what) const;
  absl::StatusOr<std::optional<std::string>> Get(const rocksdb::ReadOptions& ro,
                                                 rocksdb::ColumnFamilyHandle* cf,
                                                 const std::string& key) const;
  absl::StatusOr<std::optional<v1::DatasetVersion>> ReadCurrent(const rocksdb::ReadOptions& ro,
                                                                absl::string_view id);
  absl::StatusOr<std::optional<CatalogEntry>> ReadCatalogEntry(const rocksdb::ReadOptions& ro,
                                                               absl::string_view id);
  // ReadCurrent as a VersionState; nullptr when the dataset has no version.
  absl::StatusOr<std::shared_ptr<const VersionState>> ReadVersionState(
      const rocksdb::ReadOptions& ro, absl::string_view id);

  // ---- Current states in memory (DatasetStoreOptions.cache_current_state) ----
  //
  // The invariant: a state in `states` is the committed one. A writer (under
  // mu) retires the states of the datasets it changes before its RocksDB
  // write and publishes the new ones after it; while the write is under way
  // readers read RocksDB, and cache what they read only when no state was
  // retired or published since before their read began.

  // `id`'s state for a reader: the cached state, else read from RocksDB at
  // one snapshot and offered to the cache. With the cache off only the
  // version is read (OpenSnapshot's part; the entry is null). With `pin`,
  // *pin receives a RocksDB snapshot registered in gate->live, taken
  // while the returned version is current, so that it holds the version's
  // segments; nullptr when the cached version has no segment or there is
  // none. The caller releases it with ReleaseSnapshot or hands it to a
  // SnapshotReader, also on error.
  ReadState StateOf(absl::string_view id, const rocksdb::Snapshot** pin);
  // Before a write that changes the catalog entries or versions of `ids`:
  // drops their cached states and keeps readers from caching them until
  // PublishStates.
  void RetireStates(const std::vector<std::string>& ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // After that write: caches `committed`, the states it made current (none
  // when it failed), and lets readers cache again.
  void PublishStates(std::vector<std::pair<std::string, CurrentState>> committed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // A RocksDB snapshot registered in gate->live, so that the store's close
  // releases it when its holder did not yet.
  const rocksdb::Snapshot* TakeSnapshot();
  // Releases `snapshot` unless it is null or the store's close did already.
  void ReleaseSnapshot(const rocksdb::Snapshot* snapshot);

  // The decoded segment `ref`, from the cache or read with `ro` and cached.
  // `cache_generation` is the cache's erase generation taken before the
  // snapshot of `ro`: a segment deleted by a commit since is not cached.
  // `version_rows` (rows of all segments of the version): a segment is
  // cached only when the whole version, estimated from this segment's
  // decoded bytes per row, fits in the cache (DatasetStoreOptions).
  absl::StatusOr<std::shared_ptr<const Table>> LoadSegment(
      const rocksdb::ReadOptions& ro, uint64_t cache_generation, absl::string_view id,
      const Schema& schema, const v1::SegmentRef& ref, uint64_t version_rows);
  // Where the rows with the primary keys `keys` (each the bytes of
  // AppendPrimaryKeyValue for the key columns, without the index prefix) of
  // dataset `id` live, as `ro` sees the index: per key its (segment id, row
  // within the segment), or nullopt when no visible row has it. Same order
  // as `keys`. Errors: DataLoss for a corrupt index record; Unavailable for
  // I/O errors.
  absl::StatusOr<std::vector<std::optional<std::pair<uint64_t, uint32_t>>>> LookupPrimaryKeys(
      const rocksdb::ReadOptions& ro, absl::string_view id,
      absl::Span<const std::string> keys) const;
  // The header of segment `ref` of dataset `id`, checked against the
  // manifest's row count. Errors: DataLoss when missing, malformed or of
  // another row count; Unavailable for I/O errors.
  absl::StatusOr<SegmentHeader> ReadSegmentHeader(const rocksdb::ReadOptions& ro,
                                                  absl::string_view id,
                                                  const v1::SegmentRef& ref) const;
  // The rows `rows` of one segment of a version (SegmentReader::ReadRows):
  // from the cached segment, or the whole segment loaded (and cached) when
  // its version fits the cache, else only the chunks that hold the rows.
  absl::StatusOr<Table> LoadRows(const rocksdb::ReadOptions& ro, uint64_t cache_generation,
                                 absl::string_view id, const Schema& schema,
                                 const v1::SegmentRef& ref, uint64_t version_rows,
                                 const std::vector<uint32_t>& rows);

  // Adds one dataset's part of a commit to `batch`. `next_segment`, `seq` are
  // the counters as they will be after the batch; `evict` collects cache keys
  // of segments the batch deletes; `state` receives the dataset's state after
  // the batch (unset when the result is unchanged).
  absl::StatusOr<CommitResult> PrepareWrite(const rocksdb::ReadOptions& ro, const DatasetWrite& w,
                                            rocksdb::WriteBatch* batch, uint64_t* next_segment,
                                            uint64_t* seq, std::vector<std::string>* evict,
                                            CurrentState* state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Writes `entry` as the catalog entry of `id` with change_seq `seq` (or,
  // when `entry` is null, deletes the entry) and moves the dataset's
  // change-log record, with its prior-sharing record, to `seq`.
  // Errors: DataLoss for a corrupt prior-sharing record; Unavailable for I/O.
  absl::Status PutCatalogChange(const rocksdb::ReadOptions& ro, rocksdb::WriteBatch* batch,
                                absl::string_view id, const std::optional<CatalogEntry>& previous,
                                uint64_t seq, CatalogEntry* entry) const;
  void PutCounters(rocksdb::WriteBatch* batch, uint64_t next_segment, uint64_t seq) const;

  // Audit CF: up to `limit` records under `prefix` ('a' or 'h') with
  // seq >= from_seq, and the record with the largest seq under `prefix`.
  absl::StatusOr<std::vector<AuditRecord>> ReadAuditRange(absl::string_view prefix,
                                                          uint64_t from_seq, size_t limit) const;
  absl::StatusOr<std::optional<AuditRecord>> LastAuditRecord(absl::string_view prefix) const;

  const DatasetStoreOptions options;
  const Clock* const clock;
  int lock_fd = -1;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* data = nullptr;
  rocksdb::ColumnFamilyHandle* catalog = nullptr;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* audit = nullptr;
  rocksdb::WriteOptions write_options;
  uint32_t format_version = 0;
  SegmentCache cache;
  // Set once the database is open; shared with the open snapshots.
  std::shared_ptr<SnapshotGate> gate;

  // Serializes writers (Commit, PutCatalogEntry, DeleteDataset, PutMeta), so
  // that each one reads the latest state and the counters stay consistent.
  absl::Mutex mu;
  uint64_t next_segment_id ABSL_GUARDED_BY(mu) = 1;
  uint64_t catalog_seq ABSL_GUARDED_BY(mu) = 0;

  // ListCatalogShared's list as of catalog change sequence `listed_seq`,
  // read at one snapshot; replaced when a later read finds another sequence.
  absl::Mutex listed_mu;
  uint64_t listed_seq ABSL_GUARDED_BY(listed_mu) = 0;
  std::shared_ptr<const std::vector<std::shared_ptr<const CatalogEntry>>> listed
      ABSL_GUARDED_BY(listed_mu);

  // The current states (see StateOf). Lock order: mu, state_mu, gate->mu.
  absl::Mutex state_mu ABSL_ACQUIRED_AFTER(mu);
  absl::flat_hash_map<std::string, CurrentState> states ABSL_GUARDED_BY(state_mu);
  // Datasets whose write is under way (between RetireStates and
  // PublishStates): readers do not cache them.
  absl::flat_hash_set<std::string> writing ABSL_GUARDED_BY(state_mu);
  // Counts RetireStates and PublishStates calls.
  uint64_t state_generation ABSL_GUARDED_BY(state_mu) = 0;
};

absl::Status DatasetStore::Rep::CheckFreeSpace(uint64_t batch_bytes, absl::string_view what) const {
  struct statvfs fs = {};
  if (::statvfs(options.path.c_str(), &fs) != 0) {
    return absl::OkStatus();
  }
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  const uint64_t needed = 2 * batch_bytes + kFreeSpaceReserveBytes;
  if (free_bytes >= needed) {
    return absl::OkStatus();
  }
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  return absl::ResourceExhaustedError(absl::StrCat(
      "disk full: ", what, " needs about ", (needed + kMiB - 1) / kMiB,
      " MiB on the data directory's filesystem (", options.path, "), but only ", free_bytes / kMiB,
      " MiB are free; free space there and try again (nothing was written)"));
}

absl::Status DatasetStore::Rep::AcquireDirectoryLock() {
  // RocksDB's own LOCK uses fcntl locks, which do not conflict inside one
  // process and whose error is only recognisable by its text. flock() on our
  // own file conflicts between processes and between two opens in one
  // process, and LOCK_NB makes it fail at once instead of waiting.
  const std::string lock_path = absl::StrCat(options.path, "/", kLockFileName);
  lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("opening lock file ", lock_path, ": ", ErrnoText(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", options.path,
                       " is in use by another fednode process or store instance"));
    }
    return absl::UnavailableError(
        absl::StrCat("locking data directory ", options.path, ": ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

absl::Status DatasetStore::Rep::OpenDb() {
  const rocksdb::DBOptions db_options = MakeDbOptions(options);
  const std::shared_ptr<rocksdb::Cache> block_cache =
      rocksdb::NewLRUCache(options.block_cache_bytes);

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, kCfData, kCfCatalog, kCfMeta,
                                    kCfAudit};
  // A database must be opened with all its families; keep unknown ones (from
  // a newer build, caught by the format version check) with default options.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const std::string& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < names.size(); ++i) {
    descriptors.emplace_back(names[i], i < 5
                                           ? MakeColumnFamilyOptions(names[i], options, block_cache)
                                           : rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &handles, &raw)
          : rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  db.reset(raw);
  if (!s.ok()) {
    if (s.IsIOError() && absl::StrContains(s.ToString(), "lock")) {
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", options.path, " is in use by another process: ", s.ToString()));
    }
    return FromRocksDbStatus(s, absl::StrCat("opening data directory ", options.path));
  }
  data = handles[1];
  catalog = handles[2];
  meta = handles[3];
  audit = handles[4];
  return absl::OkStatus();
}

absl::Status DatasetStore::Rep::CheckFormatVersion() {
  rocksdb::ReadOptions ro;
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> stored, Get(ro, meta, kMetaFormatVersion));
  if (!stored.has_value() && options.read_only) {
    return absl::DataLossError(
        absl::StrCat("data directory ", options.path, " holds no storage format version"));
  }
  if (!stored.has_value()) {
    // A new database (or one whose creation was cut short before its first
    // write): it must be empty, then it gets this build's version.
    for (rocksdb::ColumnFamilyHandle* cf : {data, catalog}) {
      std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
      it->SeekToFirst();
      if (it->Valid()) {
        return absl::DataLossError(absl::StrCat("data directory ", options.path,
                                                " holds data but no storage format version"));
      }
      FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "checking a new database"));
    }
    rocksdb::WriteBatch batch;
    batch.Put(meta, kMetaFormatVersion, BigEndian32(kFormatVersion)).PermitUncheckedError();
    batch.Put(audit, kAuditAnchorKey, "").PermitUncheckedError();  // the genesis anchor
    FEDNODE_RETURN_IF_ERROR(Write(&batch, "writing the storage format version"));
    format_version = kFormatVersion;
    return absl::OkStatus();
  }
  absl::string_view in = *stored;
  uint32_t version = 0;
  if (!ConsumeBigEndian32(&in, &version) || !in.empty()) {
    return absl::DataLossError(
        absl::StrCat("data directory ", options.path, ": malformed storage format version"));
  }
  if (version > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", options.path, ": format ", version, " is newer than this fednode (",
        kFormatVersion, "); upgrade fednode or restore a backup (downgrades are not supported)"));
  }
  if (version < kOldestFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("data directory ", options.path,
                                                      " has storage format version ", version,
                                                      ", which this fednode build cannot migrate"));
  }
  if (version < kFormatVersion && options.read_only) {
    // Read as it is: the migration writes, and a read-only open never does.
    FEDNODE_LOG(INFO) << "data directory " << options.path << " has the older format " << version
                      << "; opened read-only as it is, not migrated (a read-write open migrates "
                      << "it to format " << kFormatVersion << ")";
    format_version = version;
    return absl::OkStatus();
  }
  if (version < kFormatVersion) {
    FEDNODE_RETURN_IF_ERROR(MigrateFormat(version));
  }
  format_version = kFormatVersion;
  return absl::OkStatus();
}

// Migration hook: brings a database of format `from` up to kFormatVersion,
// one version at a time. Each step is one synced WriteBatch that also
// writes the step's new format version, so a crash leaves either the older
// or the newer layout, and the next Open resumes. A step is idempotent: it
// leaves what the newer layout already holds.
absl::Status DatasetStore::Rep::MigrateFormat(uint32_t from) {
  for (uint32_t v = from; v < kFormatVersion; ++v) {
    rocksdb::WriteBatch batch;
    switch (v) {
      case 1: {
        // 1 -> 2: the audit log starts at the genesis anchor.
        FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> anchor,
                                 Get(rocksdb::ReadOptions(), audit, kAuditAnchorKey));
        if (!anchor.has_value()) {
          batch.Put(audit, kAuditAnchorKey, "").PermitUncheckedError();
        }
        break;
      }
      default:
        return absl::FailedPreconditionError(
            absl::StrCat("data directory ", options.path, " has storage format version ", v,
                         ", which this fednode build cannot migrate"));
    }
    batch.Put(meta, kMetaFormatVersion, BigEndian32(v + 1)).PermitUncheckedError();
    FEDNODE_RETURN_IF_ERROR(
        Write(&batch, absl::StrCat("migrating the data directory from format ", v, " to ", v + 1)));
    FEDNODE_LOG(INFO) << "migrated data directory " << options.path << " from format " << v
                      << " to " << v + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DatasetStore::Rep::ReadCounter(const char* key, uint64_t initial) const {
  std::string value;
  const rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, key, &value);
  if (s.IsNotFound()) {
    return initial;
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(s, absl::StrCat("reading ", key)));
  absl::string_view in = value;
  uint64_t counter = 0;
  if (!ConsumeBigEndian64(&in, &counter) || !in.empty()) {
    return absl::DataLossError(absl::StrCat("data directory ", options.path, ": malformed ", key));
  }
  return counter;
}

absl::Status DatasetStore::Rep::LoadCounters() {
  absl::MutexLock lock(&mu);
  FEDNODE_ASSIGN_OR_RETURN(next_segment_id, ReadCounter(kMetaNextSegmentId, 1));
  FEDNODE_ASSIGN_OR_RETURN(catalog_seq, ReadCounter(kMetaCatalogChangeSeq, 0));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> DatasetStore::Rep::Get(const rocksdb::ReadOptions& ro,
                                                                  rocksdb::ColumnFamilyHandle* cf,
                                                                  const std::string& key) const {
  std::string value;
  rocksdb::Status s = db->Get(ro, cf, key, &value);
  if (s.IsNotFound()) {
    return std::nullopt;
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(s, "reading"));
  return value;
}

absl::StatusOr<std::optional<v1::DatasetVersion>> DatasetStore::Rep::ReadCurrent(
    const rocksdb::ReadOptions& ro, absl::string_view id) {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> pointer,
                           Get(ro, data, CurrentVersionKey(id)));
  if (!pointer.has_value()) {
    return std::nullopt;
  }
  absl::string_view in = *pointer;
  uint64_t version = 0;
  if (!ConsumeBigEndian64(&in, &version) || !in.empty()) {
    return absl::DataLossError(absl::StrCat("dataset ", id, ": malformed current-version pointer"));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> manifest,
                           Get(ro, data, ManifestKey(id, version)));
  v1::DatasetVersion out;
  if (!manifest.has_value() || !out.ParseFromString(*manifest)) {
    return absl::DataLossError(
        absl::StrCat("dataset ", id, ": manifest of version ", version, " missing or corrupt"));
  }
  return out;
}

absl::StatusOr<std::optional<CatalogEntry>> DatasetStore::Rep::ReadCatalogEntry(
    const rocksdb::ReadOptions& ro, absl::string_view id) {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> value, Get(ro, catalog, CatalogEntryKey(id)));
  if (!value.has_value()) {
    return std::nullopt;
  }
  CatalogEntry entry;
  if (!entry.ParseFromString(*value)) {
    return absl::DataLossError(absl::StrCat("catalog entry of dataset ", id, " is corrupt"));
  }
  return entry;
}

absl::StatusOr<std::shared_ptr<const VersionState>> DatasetStore::Rep::ReadVersionState(
    const rocksdb::ReadOptions& ro, absl::string_view id) {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<v1::DatasetVersion> current, ReadCurrent(ro, id));
  if (!current.has_value()) {
    return nullptr;
  }
  return MakeVersionState(id, *std::move(current));
}

ReadState DatasetStore::Rep::StateOf(absl::string_view id, const rocksdb::Snapshot** pin) {
  std::optional<CurrentState> cached;
  uint64_t generation = 0;
  const rocksdb::Snapshot* snapshot = nullptr;
  {
    absl::ReaderMutexLock lock(&state_mu);
    if (auto it = states.find(id); it != states.end()) cached = it->second;
    generation = state_generation;
    // Taken under state_mu: a writer retires the cached state before its
    // write deletes that version's segments, so they are in this snapshot.
    if (pin != nullptr && (!cached.has_value() || (cached->version != nullptr &&
                                                   !cached->version->snapshot.segments.empty()))) {
      snapshot = TakeSnapshot();
    }
  }
  if (pin != nullptr) *pin = snapshot;
  if (cached.has_value()) {
    return ReadState{cached->entry, cached->version};
  }

  const bool cache_on = options.cache_current_state;
  ReadState read{std::shared_ptr<const CatalogEntry>(), std::shared_ptr<const VersionState>()};
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  // Both parts from one snapshot: the pin, or one of our own.
  const bool own_snapshot = cache_on && snapshot == nullptr;
  if (own_snapshot) ro.snapshot = db->GetSnapshot();
  absl::Cleanup release = [&] {
    if (own_snapshot) db->ReleaseSnapshot(ro.snapshot);
  };
  if (cache_on) {
    absl::StatusOr<std::optional<CatalogEntry>> entry = ReadCatalogEntry(ro, id);
    if (!entry.ok()) {
      read.entry = entry.status();
    } else if (entry->has_value()) {
      read.entry = std::make_shared<const CatalogEntry>(**std::move(entry));
    }
  }
  read.version = ReadVersionState(ro, id);
  if (!cache_on || !read.entry.ok() || !read.version.ok() ||
      (*read.entry == nullptr && *read.version == nullptr)) {
    return read;  // not cached: the cache is off, a read failed or there is no such dataset
  }
  absl::MutexLock lock(&state_mu);
  if (state_generation == generation && !writing.contains(id)) {
    states.try_emplace(id, CurrentState{*read.entry, *read.version});
  }
  return read;
}

void DatasetStore::Rep::RetireStates(const std::vector<std::string>& ids) {
  if (!options.cache_current_state) return;
  absl::MutexLock lock(&state_mu);
  for (const std::string& id : ids) {
    states.erase(id);
    writing.insert(id);
  }
  ++state_generation;
}

void DatasetStore::Rep::PublishStates(std::vector<std::pair<std::string, CurrentState>> committed) {
  if (!options.cache_current_state) return;
  absl::MutexLock lock(&state_mu);
  for (auto& [id, state] : committed) states.insert_or_assign(id, std::move(state));
  writing.clear();
  ++state_generation;
}

const rocksdb::Snapshot* DatasetStore::Rep::TakeSnapshot() {
  absl::MutexLock lock(&gate->mu);
  const rocksdb::Snapshot* snapshot = db->GetSnapshot();
  gate->live.insert(snapshot);
  return snapshot;
}

void DatasetStore::Rep::ReleaseSnapshot(const rocksdb::Snapshot* snapshot) {
  if (snapshot == nullptr) return;
  absl::MutexLock lock(&gate->mu);
  if (gate->rep != nullptr && gate->live.erase(snapshot) > 0) {
    db->ReleaseSnapshot(snapshot);
  }
}

absl::StatusOr<std::vector<std::optional<std::pair<uint64_t, uint32_t>>>>
DatasetStore::Rep::LookupPrimaryKeys(const rocksdb::ReadOptions& ro, absl::string_view id,
                                     absl::Span<const std::string> keys) const {
  const std::string prefix = PrimaryKeyIndexPrefix(id);
  std::vector<std::string> full_keys;
  full_keys.reserve(keys.size());
  for (const std::string& k : keys) full_keys.push_back(prefix + k);
  std::vector<rocksdb::Slice> slices(full_keys.begin(), full_keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  if (keys.size() == 1) {
    // One Get costs less than a MultiGet of one key (point_bench).
    statuses[0] = db->Get(ro, data, slices[0], &values[0]);
  } else if (!keys.empty()) {
    db->MultiGet(ro, data, slices.size(), slices.data(), values.data(), statuses.data());
  }
  std::vector<std::optional<std::pair<uint64_t, uint32_t>>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(statuses[i], "looking up primary keys"));
    std::pair<uint64_t, uint32_t> at;
    if (!DecodeRowLocation(absl::string_view(values[i].data(), values[i].size()), &at.first,
                           &at.second)) {
      return absl::DataLossError(absl::StrCat("dataset ", id, ": corrupt primary-key index"));
    }
    out[i] = at;
  }
  return out;
}

absl::StatusOr<SegmentHeader> DatasetStore::Rep::ReadSegmentHeader(
    const rocksdb::ReadOptions& ro, absl::string_view id, const v1::SegmentRef& ref) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db->Get(ro, data, SegmentHeaderKey(id, ref.segment_id()), &value);
  if (s.IsNotFound()) {
    return absl::DataLossError(
        absl::StrCat("dataset ", id, ": segment ", ref.segment_id(), " is missing"));
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(s, "reading a segment header"));
  absl::StatusOr<SegmentHeader> header =
      DecodeSegmentHeader(absl::string_view(value.data(), value.size()));
  if (!header.ok()) {
    return Annotate(header.status(), absl::StrCat("dataset ", id));
  }
  if (header->row_count != ref.row_count()) {
    return absl::DataLossError(absl::StrCat("dataset ", id, ": segment ", ref.segment_id(),
                                            " row count differs from the manifest"));
  }
  return header;
}

absl::StatusOr<std::shared_ptr<const Table>> DatasetStore::Rep::LoadSegment(
    const rocksdb::ReadOptions& ro, uint64_t cache_generation, absl::string_view id,
    const Schema& schema, const v1::SegmentRef& ref, uint64_t version_rows) {
  const std::string prefix = SegmentPrefix(id, ref.segment_id());
  if (std::shared_ptr<const Table> hit = cache.Lookup(prefix)) {
    return hit;
  }

  auto corrupt = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat("dataset ", id, ": segment ", ref.segment_id(), " ", what));
  };
  FEDNODE_ASSIGN_OR_RETURN(const SegmentHeader header, ReadSegmentHeader(ro, id, ref));
  absl::StatusOr<SegmentDecoder> decoder = SegmentDecoder::Create(header, schema);
  if (!decoder.ok()) {
    return Annotate(decoder.status(), absl::StrCat("dataset ", id));
  }

  // The chunks are read in key order with one iterator. fill_cache=false:
  // the decoded table is cached below, so the chunks would only push index
  // blocks and primary-key lookups out of the small block cache.
  rocksdb::ReadOptions it_ro = ro;
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  it_ro.iterate_upper_bound = &upper_slice;
  it_ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(it_ro, data));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const absl::string_view suffix(key.data() + prefix.size(), key.size() - prefix.size());
    if (suffix.size() == 1 && suffix[0] == static_cast<char>(SegmentPart::kHeader)) {
      continue;
    }
    SegmentPart part;
    uint32_t column = 0;
    uint32_t chunk = 0;
    if (!ParseSegmentChunkSuffix(suffix, &part, &column, &chunk)) {
      return corrupt("has a bad key");
    }
    const rocksdb::Slice value = it->value();
    absl::Status added =
        decoder->Add(part, column, chunk, absl::string_view(value.data(), value.size()));
    if (!added.ok()) {
      return Annotate(added, absl::StrCat("dataset ", id));
    }
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading a segment"));
  absl::StatusOr<Table> table = std::move(*decoder).Finish();
  if (!table.ok()) {
    return Annotate(table.status(), absl::StrCat("dataset ", id));
  }
  auto shared = std::make_shared<const Table>(*std::move(table));
  const size_t bytes = TableBytes(*shared);
  const double version_bytes = static_cast<double>(bytes) * static_cast<double>(version_rows) /
                               static_cast<double>(std::max<uint64_t>(ref.row_count(), 1));
  if (version_bytes <= static_cast<double>(options.segment_cache_bytes)) {
    cache.InsertIfNoEraseSince(cache_generation, prefix, shared, bytes);
  }
  return shared;
}

absl::StatusOr<Table> DatasetStore::Rep::LoadRows(const rocksdb::ReadOptions& ro,
                                                  uint64_t cache_generation, absl::string_view id,
                                                  const Schema& schema, const v1::SegmentRef& ref,
                                                  uint64_t version_rows,
                                                  const std::vector<uint32_t>& rows) {
  if (std::shared_ptr<const Table> hit = cache.Lookup(SegmentPrefix(id, ref.segment_id()))) {
    return GatherRows(*hit, rows);
  }
  FEDNODE_ASSIGN_OR_RETURN(const SegmentHeader header, ReadSegmentHeader(ro, id, ref));
  // A version that fits the cache is loaded whole, so that the next queries
  // of it find the segment there (LoadSegment's rule, on an estimate).
  const double version_bytes = static_cast<double>(EstimateTableBytes(header)) *
                               static_cast<double>(version_rows) /
                               static_cast<double>(std::max<uint64_t>(ref.row_count(), 1));
  if (version_bytes <= static_cast<double>(options.segment_cache_bytes)) {
    FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table,
                             LoadSegment(ro, cache_generation, id, schema, ref, version_rows));
    return GatherRows(*table, rows);
  }
  // fill_cache=false as in LoadSegment: the block cache is for index and
  // filter blocks.
  rocksdb::ReadOptions chunk_ro = ro;
  chunk_ro.fill_cache = false;
  rocksdb::PinnableSlice value;  // the chunk fetched last
  auto fetch = [&](SegmentPart part, uint32_t column,
                   uint32_t chunk) -> absl::StatusOr<absl::string_view> {
    value.Reset();
    rocksdb::Status got =
        db->Get(chunk_ro, data, SegmentChunkKey(id, ref.segment_id(), part, column, chunk), &value);
    if (got.IsNotFound()) return absl::NotFoundError("missing chunk");
    FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(got, "reading a segment"));
    return absl::string_view(value.data(), value.size());
  };
  absl::StatusOr<Table> table = DecodeSegmentRows(header, schema, rows, fetch);
  if (!table.ok()) {
    return Annotate(table.status(), absl::StrCat("dataset ", id));
  }
  return table;
}

absl::Status DatasetStore::Rep::PutCatalogChange(const rocksdb::ReadOptions& ro,
                                                 rocksdb::WriteBatch* batch, absl::string_view id,
                                                 const std::optional<CatalogEntry>& previous,
                                                 uint64_t seq, CatalogEntry* entry) const {
  // The prior sharing moves with the change-log record and gains the state
  // this change replaces, when that one was visible to members at all.
  catalog::v1::PriorSharing prior;
  if (previous.has_value() && previous->change_seq() != 0) {
    const uint64_t old_seq = previous->change_seq();
    FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                             Get(ro, catalog, CatalogPriorKey(old_seq)));
    if (stored.has_value() && !prior.ParseFromString(*stored)) {
      return absl::DataLossError(absl::StrCat("prior-sharing record of dataset ", id, " at change ",
                                              old_seq, " is corrupt"));
    }
    batch->Delete(catalog, CatalogChangeKey(old_seq)).PermitUncheckedError();
    batch->Delete(catalog, CatalogPriorKey(old_seq)).PermitUncheckedError();
  }
  if (previous.has_value() &&
      previous->metadata().access_class() != catalog::v1::ACCESS_CLASS_PRIVATE) {
    const std::string& c = previous->schema().conforms_to();
    if (std::find(prior.conforms_to().begin(), prior.conforms_to().end(), c) ==
        prior.conforms_to().end()) {
      prior.add_conforms_to(c);
    }
  }
  if (prior.conforms_to_size() > 0) {
    batch->Put(catalog, CatalogPriorKey(seq), prior.SerializeAsString()).PermitUncheckedError();
  }
  if (entry != nullptr) {
    entry->set_change_seq(seq);
    batch->Put(catalog, CatalogEntryKey(id), entry->SerializeAsString()).PermitUncheckedError();
  } else {
    batch->Delete(catalog, CatalogEntryKey(id)).PermitUncheckedError();
  }
  batch->Put(catalog, CatalogChangeKey(seq), rocksdb::Slice(id.data(), id.size()))
      .PermitUncheckedError();
  return absl::OkStatus();
}

void DatasetStore::Rep::PutCounters(rocksdb::WriteBatch* batch, uint64_t next_segment,
                                    uint64_t seq) const {
  batch->Put(meta, kMetaNextSegmentId, BigEndian64(next_segment)).PermitUncheckedError();
  batch->Put(meta, kMetaCatalogChangeSeq, BigEndian64(seq)).PermitUncheckedError();
}

absl::StatusOr<CommitResult> DatasetStore::Rep::PrepareWrite(
    const rocksdb::ReadOptions& ro, const DatasetWrite& w, rocksdb::WriteBatch* batch,
    uint64_t* next_segment, uint64_t* seq, std::vector<std::string>* evict, CurrentState* state) {
  const std::string& id = w.dataset_id;
  const Table& table = w.table;
  CommitResult result;
  result.dataset_id = id;

  FEDNODE_ASSIGN_OR_RETURN(std::optional<v1::DatasetVersion> current, ReadCurrent(ro, id));
  FEDNODE_ASSIGN_OR_RETURN(const std::vector<int> pk, PrimaryKeyColumns(table.schema));
  if (w.mode == ImportMode::kUpsert && pk.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("dataset ", id, ": upsert needs a primary key in the schema"));
  }
  auto unchanged = [&]() {
    result.unchanged = true;
    result.version = current->version();
    result.row_count = current->row_count();
    return result;
  };
  if (current.has_value() && w.mode == ImportMode::kReplace && !w.source_sha256.empty() &&
      w.source_sha256 == current->source_sha256() &&
      google::protobuf::util::MessageDifferencer::Equals(current->schema(), table.schema)) {
    return unchanged();
  }
  const bool keep_old = current.has_value() && w.mode != ImportMode::kReplace;
  if (keep_old) {
    FEDNODE_RETURN_IF_ERROR(CompareSchemas(id, current->schema(), table.schema));
  }

  // Primary keys of the new rows; no two may be equal.
  std::vector<std::string> keys;
  if (!pk.empty()) {
    keys.reserve(table.num_rows);
    for (size_t row = 0; row < table.num_rows; ++row) {
      absl::StatusOr<std::string> key = EncodePrimaryKey(table, pk, row);
      if (!key.ok()) {
        return Annotate(key.status(), absl::StrCat("dataset ", id));
      }
      keys.push_back(*std::move(key));
    }
    std::vector<uint32_t> order(table.num_rows);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return keys[a] < keys[b] || (keys[a] == keys[b] && a < b);
    });
    for (size_t i = 1; i < order.size(); ++i) {
      if (keys[order[i - 1]] == keys[order[i]]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "dataset ", id, ": duplicate primary key (", FormatPrimaryKey(table, pk, order[i]),
            ") in rows ", order[i - 1] + 1, " and ", order[i] + 1, " of the import"));
      }
    }
  }
  if (keep_old && table.num_rows == 0) {
    return unchanged();
  }

  v1::DatasetVersion next;
  next.set_dataset_id(id);
  next.set_version(current.has_value() ? current->version() + 1 : 1);
  *next.mutable_schema() = table.schema;
  next.set_import_mode(std::string(ModeName(w.mode)));
  next.set_source_sha256(w.source_sha256);
  SetTimestamp(clock->Now(), next.mutable_created());

  // Rows of kept segments hidden in the new version, per segment id.
  std::map<uint64_t, std::vector<uint32_t>> hidden;
  const std::string pk_prefix = PrimaryKeyIndexPrefix(id);
  if (current.has_value()) {
    batch->Delete(data, ManifestKey(id, current->version())).PermitUncheckedError();
    if (keep_old) {
      *next.mutable_segments() = current->segments();
      for (const auto& [segment, rows] : current->deleted()) {
        hidden[segment].assign(rows.rows().begin(), rows.rows().end());
      }
    } else {
      for (const v1::SegmentRef& ref : current->segments()) {
        const std::string prefix = SegmentPrefix(id, ref.segment_id());
        batch->DeleteRange(data, prefix, PrefixSuccessor(prefix)).PermitUncheckedError();
        evict->push_back(prefix);
      }
      if (current->schema().primary_key_size() > 0) {
        batch->DeleteRange(data, pk_prefix, PrefixSuccessor(pk_prefix)).PermitUncheckedError();
      }
    }
  }

  // Where the new keys live now: append refuses them, upsert hides them.
  if (keep_old && !pk.empty()) {
    for (size_t begin = 0; begin < keys.size(); begin += kLookupBatch) {
      const size_t n = std::min(kLookupBatch, keys.size() - begin);
      FEDNODE_ASSIGN_OR_RETURN(
          auto found, LookupPrimaryKeys(ro, id, absl::MakeConstSpan(keys).subspan(begin, n)));
      for (size_t i = 0; i < n; ++i) {
        if (!found[i].has_value()) continue;
        const auto row = static_cast<uint32_t>(begin + i);
        if (w.mode == ImportMode::kAppend) {
          return absl::InvalidArgumentError(
              absl::StrCat("dataset ", id, ": primary key (", FormatPrimaryKey(table, pk, row),
                           ") of import row ", row + 1, " already exists"));
        }
        hidden[found[i]->first].push_back(found[i]->second);
      }
    }
  }

  // The new rows as segments of at most segment_max_rows rows; the
  // primary-key index points at (segment, row within it).
  const size_t max_rows = options.segment_max_rows;
  std::string key = pk_prefix;
  for (size_t begin = 0; begin < table.num_rows; begin += max_rows) {
    const size_t end = std::min(table.num_rows, begin + max_rows);
    const uint64_t segment = (*next_segment)++;
    std::optional<Table> slice;
    if (begin != 0 || end != table.num_rows) slice = SliceRows(table, begin, end);
    EncodeSegment(slice.has_value() ? *slice : table, options.segment_chunk_rows, kDictChunkBytes,
                  [&](SegmentPart part, uint32_t column, uint32_t chunk, absl::string_view value) {
                    const std::string segment_key =
                        part == SegmentPart::kHeader
                            ? SegmentHeaderKey(id, segment)
                            : SegmentChunkKey(id, segment, part, column, chunk);
                    batch->Put(data, segment_key, rocksdb::Slice(value.data(), value.size()))
                        .PermitUncheckedError();
                  });
    v1::SegmentRef* ref = next.add_segments();
    ref->set_segment_id(segment);
    ref->set_row_count(end - begin);
    if (keys.empty()) continue;
    for (size_t row = begin; row < end; ++row) {
      key.resize(pk_prefix.size());
      key.append(keys[row]);
      batch->Put(data, key, EncodeRowLocation(segment, static_cast<uint32_t>(row - begin)))
          .PermitUncheckedError();
    }
  }

  // Drop segments whose rows are all hidden now; record the rest.
  next.clear_deleted();
  google::protobuf::RepeatedPtrField<v1::SegmentRef> kept;
  uint64_t row_count = 0;
  for (const v1::SegmentRef& ref : next.segments()) {
    auto it = hidden.find(ref.segment_id());
    size_t hidden_rows = 0;
    if (it != hidden.end()) {
      std::vector<uint32_t>& rows = it->second;
      std::sort(rows.begin(), rows.end());
      rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
      hidden_rows = rows.size();
    }
    if (hidden_rows >= ref.row_count()) {
      const std::string prefix = SegmentPrefix(id, ref.segment_id());
      batch->DeleteRange(data, prefix, PrefixSuccessor(prefix)).PermitUncheckedError();
      evict->push_back(prefix);
      continue;
    }
    if (hidden_rows > 0) {
      auto& rows = (*next.mutable_deleted())[ref.segment_id()];
      rows.mutable_rows()->Assign(it->second.begin(), it->second.end());
    }
    row_count += ref.row_count() - hidden_rows;
    *kept.Add() = ref;
  }
  next.mutable_segments()->Swap(&kept);
  next.set_row_count(row_count);

  batch->Put(data, ManifestKey(id, next.version()), next.SerializeAsString())
      .PermitUncheckedError();
  batch->Put(data, CurrentVersionKey(id), BigEndian64(next.version())).PermitUncheckedError();

  FEDNODE_ASSIGN_OR_RETURN(std::optional<CatalogEntry> previous, ReadCatalogEntry(ro, id));
  CatalogEntry entry;
  if (w.make_catalog_entry) {
    absl::StatusOr<CatalogEntry> made =
        w.make_catalog_entry(next, previous.has_value() ? &*previous : nullptr);
    if (!made.ok()) {
      return made.status();
    }
    entry = *std::move(made);
  } else if (previous.has_value()) {
    entry = *previous;
  }
  entry.set_dataset_id(id);
  entry.set_version(next.version());
  entry.set_row_count(next.row_count());
  *entry.mutable_schema() = next.schema();
  FEDNODE_RETURN_IF_ERROR(PutCatalogChange(ro, batch, id, previous, ++*seq, &entry));

  result.version = next.version();
  result.rows_written = table.num_rows;
  result.row_count = next.row_count();
  FEDNODE_ASSIGN_OR_RETURN(state->version, MakeVersionState(id, std::move(next)));
  state->entry = std::make_shared<const CatalogEntry>(std::move(entry));
  return result;
}

absl::StatusOr<std::vector<AuditRecord>> DatasetStore::Rep::ReadAuditRange(absl::string_view prefix,
                                                                           uint64_t from_seq,
                                                                           size_t limit) const {
  std::vector<AuditRecord> out;
  if (limit == 0) {
    return out;
  }
  rocksdb::ReadOptions ro;
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::string start(prefix);
  AppendBigEndian64(from_seq, &start);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, audit));
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    uint64_t seq = 0;
    if (!ParseAuditKey(absl::string_view(it->key().data(), it->key().size()), prefix, &seq)) {
      return absl::DataLossError("malformed audit key");
    }
    out.emplace_back(seq, it->value().ToString());
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the audit log"));
  return out;
}

absl::StatusOr<std::optional<AuditRecord>> DatasetStore::Rep::LastAuditRecord(
    absl::string_view prefix) const {
  rocksdb::ReadOptions ro;
  const std::string lower(prefix);
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, audit));
  it->SeekToLast();
  if (!it->Valid()) {
    FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the audit log"));
    return std::nullopt;
  }
  uint64_t seq = 0;
  if (!ParseAuditKey(absl::string_view(it->key().data(), it->key().size()), prefix, &seq)) {
    return absl::DataLossError("malformed audit key");
  }
  return AuditRecord(seq, it->value().ToString());
}

DatasetStore::DatasetStore() = default;
DatasetStore::~DatasetStore() = default;

absl::StatusOr<std::unique_ptr<DatasetStore>> DatasetStore::Open(
    const DatasetStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("storage path is empty");
  }
  if (options.segment_chunk_rows == 0 || options.segment_chunk_rows > kMaxChunkRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment_chunk_rows must be in 1..", kMaxChunkRows));
  }
  if (options.segment_max_rows == 0 || options.segment_max_rows > kMaxSegmentRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment_max_rows must be in 1..", kMaxSegmentRows));
  }
  std::error_code ec;
  if (options.create_if_missing) {
    // Owner only: the directory holds all of the member's data and its
    // audit log.
    if (std::filesystem::create_directories(options.path, ec) && !ec) {
      std::filesystem::permissions(options.path, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    }
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("creating data directory ", options.path, ": ", ec.message()));
    }
  } else if (!std::filesystem::is_directory(options.path, ec)) {
    return absl::NotFoundError(absl::StrCat("data directory ", options.path, " does not exist"));
  }

  std::unique_ptr<DatasetStore> store(new DatasetStore());
  store->rep_ = std::make_unique<Rep>(options);
  Rep& rep = *store->rep_;
  if (!options.read_only) FEDNODE_RETURN_IF_ERROR(rep.AcquireDirectoryLock());
  FEDNODE_RETURN_IF_ERROR(rep.OpenDb());
  rep.gate = std::make_shared<SnapshotGate>();
  {
    absl::MutexLock lock(&rep.gate->mu);
    rep.gate->rep = &rep;
  }
  FEDNODE_RETURN_IF_ERROR(rep.CheckFormatVersion());
  FEDNODE_RETURN_IF_ERROR(rep.LoadCounters());
  return store;
}

absl::StatusOr<std::vector<CommitResult>> DatasetStore::Commit(std::vector<DatasetWrite> writes) {
  Rep& rep = *rep_;
  absl::flat_hash_set<std::string> ids;
  for (const DatasetWrite& w : writes) {
    FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(w.dataset_id));
    if (!ids.insert(w.dataset_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("dataset ", w.dataset_id, " appears twice in one commit"));
    }
    FEDNODE_RETURN_IF_ERROR(ValidateWriteTable(w));
  }

  absl::MutexLock lock(&rep.mu);
  rocksdb::WriteBatch batch;
  uint64_t next_segment = rep.next_segment_id;
  uint64_t seq = rep.catalog_seq;
  std::vector<std::string> evict;
  std::vector<CommitResult> results;
  std::vector<std::pair<std::string, CurrentState>> states;
  bool changed = false;
  // Reads see the latest state: writers are serialized by rep.mu, and the
  // datasets of one commit are distinct, so no write reads another's keys.
  const rocksdb::ReadOptions ro;
  for (const DatasetWrite& w : writes) {
    CurrentState state;
    FEDNODE_ASSIGN_OR_RETURN(CommitResult r,
                             rep.PrepareWrite(ro, w, &batch, &next_segment, &seq, &evict, &state));
    if (!r.unchanged) states.emplace_back(w.dataset_id, std::move(state));
    changed = changed || !r.unchanged;
    results.push_back(std::move(r));
  }
  if (!changed) {
    return results;
  }
  rep.PutCounters(&batch, next_segment, seq);
  std::vector<std::string> changed_ids;
  for (const CommitResult& r : results) {
    if (!r.unchanged) changed_ids.push_back(r.dataset_id);
  }
  FEDNODE_RETURN_IF_ERROR(rep.CheckFreeSpace(
      batch.GetDataSize(), absl::StrCat("writing dataset", changed_ids.size() == 1 ? " " : "s ",
                                        absl::StrJoin(changed_ids, ", "))));
  rep.RetireStates(changed_ids);
  absl::Status written = rep.Write(&batch, "committing import");
  rep.PublishStates(written.ok() ? std::move(states) : decltype(states)());
  FEDNODE_RETURN_IF_ERROR(written);
  rep.next_segment_id = next_segment;
  rep.catalog_seq = seq;
  for (const std::string& prefix : evict) {
    rep.cache.Erase(prefix);
  }
  return results;
}

// The SegmentReader of a snapshot from OpenSnapshot: reads the version's
// segments through the RocksDB snapshot it owns (registered in the gate),
// and releases that snapshot when destroyed.
class DatasetStore::SnapshotReader final : public SegmentReader {
 public:
  // Takes over `snapshot`, which the caller registered in gate->live.
  SnapshotReader(std::shared_ptr<SnapshotGate> gate, const rocksdb::Snapshot* snapshot,
                 uint64_t cache_generation, std::shared_ptr<const VersionState> version)
      : gate_(std::move(gate)),
        snapshot_(snapshot),
        cache_generation_(cache_generation),
        version_(std::move(version)) {}
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;
  SnapshotReader(SnapshotReader&&) = delete;
  SnapshotReader& operator=(SnapshotReader&&) = delete;

  ~SnapshotReader() override {
    absl::MutexLock lock(&gate_->mu);
    if (gate_->rep != nullptr && gate_->live.erase(snapshot_) > 0) {
      gate_->rep->db->ReleaseSnapshot(snapshot_);
    }
  }

  absl::StatusOr<std::shared_ptr<const Table>> Read(uint64_t segment_id,
                                                    uint64_t row_count) const override {
    const TableSnapshot& snapshot = version_->snapshot;
    absl::ReaderMutexLock lock(&gate_->mu);
    FEDNODE_RETURN_IF_ERROR(StoreOpen());
    return gate_->rep->LoadSegment(AtSnapshot(), cache_generation_, snapshot.dataset_id,
                                   snapshot.schema, Ref(segment_id, row_count),
                                   version_->version_rows);
  }

  absl::StatusOr<Table> ReadRows(uint64_t segment_id, uint64_t row_count,
                                 const std::vector<uint32_t>& rows) const override {
    const TableSnapshot& snapshot = version_->snapshot;
    absl::ReaderMutexLock lock(&gate_->mu);
    FEDNODE_RETURN_IF_ERROR(StoreOpen());
    return gate_->rep->LoadRows(AtSnapshot(), cache_generation_, snapshot.dataset_id,
                                snapshot.schema, Ref(segment_id, row_count), version_->version_rows,
                                rows);
  }

  absl::StatusOr<std::vector<std::optional<std::pair<uint64_t, uint32_t>>>> FindPrimaryKeys(
      const std::vector<std::string>& keys) const override {
    absl::ReaderMutexLock lock(&gate_->mu);
    FEDNODE_RETURN_IF_ERROR(StoreOpen());
    return gate_->rep->LookupPrimaryKeys(AtSnapshot(), version_->snapshot.dataset_id, keys);
  }

 private:
  // FailedPrecondition when the store was closed under this snapshot.
  absl::Status StoreOpen() const ABSL_SHARED_LOCKS_REQUIRED(gate_->mu) {
    if (gate_->rep != nullptr) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("dataset ", version_->snapshot.dataset_id,
                     ": the store was closed under an open snapshot"));
  }

  // The manifest's reference to a segment.
  static v1::SegmentRef Ref(uint64_t segment_id, uint64_t row_count) {
    v1::SegmentRef ref;
    ref.set_segment_id(segment_id);
    ref.set_row_count(row_count);
    return ref;
  }

  // Reads of this snapshot's version.
  rocksdb::ReadOptions AtSnapshot() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    return ro;
  }

  const std::shared_ptr<SnapshotGate> gate_;
  const rocksdb::Snapshot* const snapshot_;
  const uint64_t cache_generation_;
  // The version's id, schema and row total.
  const std::shared_ptr<const VersionState> version_;
};

absl::StatusOr<std::shared_ptr<const Table>> TableSnapshot::LoadSegment(size_t index) const {
  if (index >= segments.size()) {
    return absl::OutOfRangeError(absl::StrCat("dataset ", dataset_id, ": no segment ", index));
  }
  const Segment& segment = segments[index];
  if (segment.table != nullptr) {
    return segment.table;
  }
  if (reader == nullptr) {
    return absl::InternalError(
        absl::StrCat("dataset ", dataset_id, ": segment ", segment.segment_id, " has no reader"));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table,
                           reader->Read(segment.segment_id, segment.row_count));
  if (table->num_rows != segment.row_count) {
    return absl::DataLossError(absl::StrCat("dataset ", dataset_id, ": segment ",
                                            segment.segment_id,
                                            " row count differs from the manifest"));
  }
  return table;
}

absl::StatusOr<std::vector<std::optional<std::pair<uint64_t, uint32_t>>>>
SegmentReader::FindPrimaryKeys(const std::vector<std::string>& /*keys*/) const {
  return absl::UnimplementedError("this snapshot has no primary-key index");
}

absl::StatusOr<Table> SegmentReader::ReadRows(uint64_t segment_id, uint64_t row_count,
                                              const std::vector<uint32_t>& rows) const {
  FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table, Read(segment_id, row_count));
  return GatherRows(*table, rows);
}

absl::StatusOr<Table> TableSnapshot::LoadRows(size_t index,
                                              const std::vector<uint32_t>& rows) const {
  if (index >= segments.size()) {
    return absl::OutOfRangeError(absl::StrCat("dataset ", dataset_id, ": no segment ", index));
  }
  const Segment& segment = segments[index];
  // The rows are checked here once; the readers below rely on it.
  FEDNODE_RETURN_IF_ERROR(CheckRowList(rows, segment.num_rows()));
  if (segment.table != nullptr || reader == nullptr) {
    FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const Table> table, LoadSegment(index));
    return GatherRows(*table, rows);
  }
  FEDNODE_ASSIGN_OR_RETURN(Table table,
                           reader->ReadRows(segment.segment_id, segment.row_count, rows));
  if (table.num_rows != rows.size() ||
      table.columns.size() != static_cast<size_t>(schema.columns_size())) {
    return absl::DataLossError(absl::StrCat("dataset ", dataset_id, ": segment ",
                                            segment.segment_id, " does not match the manifest"));
  }
  return table;
}

absl::StatusOr<std::vector<RowRef>> TableSnapshot::FindRowsByPrimaryKey(
    const std::vector<std::vector<KeyValue>>& keys) const {
  if (schema.primary_key().empty()) {
    return absl::UnimplementedError(absl::StrCat("dataset ", dataset_id, " has no primary key"));
  }
  if (reader == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("dataset ", dataset_id, ": this snapshot has no primary-key index"));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::vector<int> pk, PrimaryKeyColumns(schema));
  std::vector<std::string> encoded;
  encoded.reserve(keys.size());
  for (const std::vector<KeyValue>& key : keys) {
    if (key.size() != pk.size()) {
      return absl::InvalidArgumentError(absl::StrCat("dataset ", dataset_id, ": a key of ",
                                                     key.size(), " values for a primary key of ",
                                                     pk.size(), " columns"));
    }
    std::string bytes;
    for (size_t i = 0; i < pk.size(); ++i) {
      const v1::ColumnSchema& column = schema.columns(pk[i]);
      if (key[i].type != column.type()) {
        return absl::InvalidArgumentError(
            absl::StrCat("dataset ", dataset_id, ": a ", ColumnTypeName(key[i].type),
                         " value for primary-key column ", column.name(), " of type ",
                         ColumnTypeName(column.type())));
      }
      AppendPrimaryKeyValue(key[i], &bytes);
    }
    encoded.push_back(std::move(bytes));
  }
  FEDNODE_ASSIGN_OR_RETURN(auto found, reader->FindPrimaryKeys(encoded));
  if (found.size() != encoded.size()) {
    return absl::InternalError(absl::StrCat("dataset ", dataset_id, ": ", found.size(),
                                            " answers for ", encoded.size(), " keys"));
  }
  std::vector<RowRef> out;
  for (const auto& at : found) {
    if (!at.has_value()) continue;
    size_t index = 0;
    while (index < segments.size() && segments[index].segment_id != at->first) ++index;
    if (index == segments.size() || at->second >= segments[index].row_count) {
      return absl::DataLossError(
          absl::StrCat("dataset ", dataset_id, ": the primary-key index names row ", at->second,
                       " of segment ", at->first, ", which is not in version ", version));
    }
    const std::vector<uint32_t>& hidden = segments[index].deleted_rows;
    if (std::binary_search(hidden.begin(), hidden.end(), at->second)) continue;
    out.push_back({index, at->second});
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<TableSnapshot> DatasetStore::OpenSnapshot(absl::string_view dataset_id) {
  Rep& rep = *rep_;
  FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(dataset_id));
  // The RocksDB snapshot that the segments are read from is taken while the
  // version is current: a commit that deletes its segments meanwhile does
  // not affect this version's reads. The cache generation is taken first
  // (see LoadSegment). The snapshot is registered in the gate at once, so
  // that it is released however this function returns (by the reader) or
  // the store closes.
  const uint64_t cache_generation = rep.cache.erase_generation();
  const rocksdb::Snapshot* db_snapshot = nullptr;
  ReadState state = rep.StateOf(dataset_id, &db_snapshot);
  // Until a SnapshotReader takes it over.
  absl::Cleanup release = [&] { rep.ReleaseSnapshot(db_snapshot); };
  FEDNODE_ASSIGN_OR_RETURN(std::shared_ptr<const VersionState> version, std::move(state.version));
  if (version == nullptr) {
    return absl::NotFoundError(absl::StrCat("dataset ", dataset_id, " not found"));
  }
  TableSnapshot out = version->snapshot;
  if (!out.segments.empty()) {
    std::move(release).Cancel();
    out.reader = std::make_shared<SnapshotReader>(rep.gate, db_snapshot, cache_generation,
                                                  std::move(version));
  }
  return out;
}

namespace {

// Every catalog entry in `cf` as `ro` sees it, ordered by dataset id.
// Errors: DataLoss for a corrupt entry; Unavailable for I/O errors.
absl::StatusOr<std::vector<CatalogEntry>> ReadCatalogEntries(rocksdb::DB* db,
                                                             rocksdb::ColumnFamilyHandle* cf,
                                                             rocksdb::ReadOptions ro) {
  const std::string upper = PrefixSuccessor(kCatalogEntryPrefix);
  const rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  std::vector<CatalogEntry> out;
  for (it->Seek(kCatalogEntryPrefix); it->Valid(); it->Next()) {
    CatalogEntry entry;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt catalog entry");
    }
    out.push_back(std::move(entry));
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "listing the catalog"));
  return out;
}

}  // namespace

absl::StatusOr<std::vector<CatalogEntry>> DatasetStore::ListCatalog() {
  return ReadCatalogEntries(rep_->db.get(), rep_->catalog, rocksdb::ReadOptions());
}

absl::StatusOr<std::vector<std::shared_ptr<const CatalogEntry>>> DatasetStore::ListCatalogShared() {
  Rep& rep = *rep_;
  // The entries and the catalog change sequence from one snapshot: every
  // write of an entry writes the sequence in the same batch (PutCounters).
  rocksdb::ReadOptions ro;
  ro.snapshot = rep.db->GetSnapshot();
  absl::Cleanup release = [&] { rep.db->ReleaseSnapshot(ro.snapshot); };
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> seq_value,
                           rep.Get(ro, rep.meta, kMetaCatalogChangeSeq));
  uint64_t seq = 0;
  if (seq_value.has_value()) {
    absl::string_view in = *seq_value;
    if (!ConsumeBigEndian64(&in, &seq) || !in.empty()) {
      return absl::DataLossError(absl::StrCat("malformed ", kMetaCatalogChangeSeq));
    }
  }
  if (rep.options.cache_current_state) {
    absl::MutexLock lock(&rep.listed_mu);
    if (rep.listed != nullptr && rep.listed_seq == seq) return *rep.listed;
  }
  FEDNODE_ASSIGN_OR_RETURN(std::vector<CatalogEntry> all,
                           ReadCatalogEntries(rep.db.get(), rep.catalog, ro));
  auto list = std::make_shared<std::vector<std::shared_ptr<const CatalogEntry>>>();
  list->reserve(all.size());
  for (CatalogEntry& e : all) list->push_back(std::make_shared<const CatalogEntry>(std::move(e)));
  if (rep.options.cache_current_state) {
    absl::MutexLock lock(&rep.listed_mu);
    // The sequence only grows: an older read does not replace a newer list.
    if (rep.listed == nullptr || seq >= rep.listed_seq) {
      rep.listed = list;
      rep.listed_seq = seq;
    }
  }
  return *list;
}

absl::StatusOr<std::shared_ptr<const CatalogEntry>> DatasetStore::GetCatalogEntryShared(
    absl::string_view dataset_id) {
  Rep& rep = *rep_;
  FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(dataset_id));
  std::shared_ptr<const CatalogEntry> entry;
  if (rep.options.cache_current_state) {
    absl::StatusOr<std::shared_ptr<const CatalogEntry>> cached =
        std::move(rep.StateOf(dataset_id, nullptr).entry);
    if (!cached.ok()) return cached.status();
    entry = *std::move(cached);
  } else {
    // Read and parsed at every call.
    FEDNODE_ASSIGN_OR_RETURN(std::optional<CatalogEntry> read,
                             rep.ReadCatalogEntry(rocksdb::ReadOptions(), dataset_id));
    if (read.has_value()) entry = std::make_shared<const CatalogEntry>(*std::move(read));
  }
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("no catalog entry for dataset ", dataset_id));
  }
  return entry;
}

absl::StatusOr<CatalogEntry> DatasetStore::GetCatalogEntry(absl::string_view dataset_id) {
  absl::StatusOr<std::shared_ptr<const CatalogEntry>> entry = GetCatalogEntryShared(dataset_id);
  if (!entry.ok()) return entry.status();
  return **entry;
}

absl::Status DatasetStore::PutCatalogEntry(CatalogEntry entry) {
  Rep& rep = *rep_;
  const std::string id = entry.dataset_id();
  FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(id));
  absl::MutexLock lock(&rep.mu);
  const rocksdb::ReadOptions ro;
  FEDNODE_ASSIGN_OR_RETURN(std::optional<v1::DatasetVersion> current, rep.ReadCurrent(ro, id));
  if (!current.has_value()) {
    return absl::NotFoundError(absl::StrCat("dataset ", id, " not found"));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::optional<CatalogEntry> previous, rep.ReadCatalogEntry(ro, id));
  entry.set_version(current->version());
  entry.set_row_count(current->row_count());
  if (entry.schema().columns_size() == 0) {
    *entry.mutable_schema() = current->schema();
  }
  const uint64_t seq = rep.catalog_seq + 1;
  rocksdb::WriteBatch batch;
  FEDNODE_RETURN_IF_ERROR(rep.PutCatalogChange(ro, &batch, id, previous, seq, &entry));
  rep.PutCounters(&batch, rep.next_segment_id, seq);
  // The new state: this entry beside the unchanged version. A manifest that
  // does not make a VersionState (corrupt) leaves the state uncached.
  absl::StatusOr<std::shared_ptr<const VersionState>> version =
      MakeVersionState(id, *std::move(current));
  rep.RetireStates({id});
  absl::Status written = rep.Write(&batch, "writing a catalog entry");
  std::vector<std::pair<std::string, CurrentState>> states;
  if (written.ok() && version.ok()) {
    states.emplace_back(id, CurrentState{std::make_shared<const CatalogEntry>(std::move(entry)),
                                         *std::move(version)});
  }
  rep.PublishStates(std::move(states));
  FEDNODE_RETURN_IF_ERROR(written);
  rep.catalog_seq = seq;
  return absl::OkStatus();
}

absl::Status DatasetStore::DeleteDataset(absl::string_view dataset_id) {
  Rep& rep = *rep_;
  FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(dataset_id));
  absl::MutexLock lock(&rep.mu);
  const rocksdb::ReadOptions ro;
  FEDNODE_ASSIGN_OR_RETURN(std::optional<v1::DatasetVersion> current,
                           rep.ReadCurrent(ro, dataset_id));
  if (!current.has_value()) {
    return absl::NotFoundError(absl::StrCat("dataset ", dataset_id, " not found"));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::optional<CatalogEntry> previous,
                           rep.ReadCatalogEntry(ro, dataset_id));
  const uint64_t seq = rep.catalog_seq + 1;
  const std::string prefix = DatasetPrefix(dataset_id);
  rocksdb::WriteBatch batch;
  batch.DeleteRange(rep.data, prefix, PrefixSuccessor(prefix)).PermitUncheckedError();
  FEDNODE_RETURN_IF_ERROR(rep.PutCatalogChange(ro, &batch, dataset_id, previous, seq, nullptr));
  rep.PutCounters(&batch, rep.next_segment_id, seq);
  // A deleted dataset has no state to cache: readers find it in RocksDB, and
  // not there.
  rep.RetireStates({std::string(dataset_id)});
  absl::Status written = rep.Write(&batch, absl::StrCat("deleting dataset ", dataset_id));
  rep.PublishStates({});
  FEDNODE_RETURN_IF_ERROR(written);
  rep.catalog_seq = seq;
  rep.cache.EraseWithPrefix(prefix);
  return absl::OkStatus();
}

absl::StatusOr<CatalogChangePage> DatasetStore::ListCatalogChanges(uint64_t after_seq,
                                                                   size_t limit) {
  Rep& rep = *rep_;
  CatalogChangePage page;
  if (limit == 0 || after_seq == UINT64_MAX) {
    return page;
  }
  // One snapshot for the log, the entries and the prior-sharing records.
  const rocksdb::Snapshot* db_snapshot = rep.db->GetSnapshot();
  absl::Cleanup release = [&] { rep.db->ReleaseSnapshot(db_snapshot); };
  rocksdb::ReadOptions ro;
  ro.snapshot = db_snapshot;
  rocksdb::ReadOptions it_ro = ro;
  const std::string upper = PrefixSuccessor(kCatalogChangePrefix);
  const rocksdb::Slice upper_slice(upper);
  it_ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(rep.db->NewIterator(it_ro, rep.catalog));
  for (it->Seek(CatalogChangeKey(after_seq + 1)); it->Valid(); it->Next()) {
    if (page.changes.size() == limit) {
      page.more = true;
      break;
    }
    absl::string_view key(it->key().data(), it->key().size());
    CatalogChange change;
    if (!absl::ConsumePrefix(&key, kCatalogChangePrefix) ||
        !ConsumeBigEndian64(&key, &change.seq) || !key.empty()) {
      return absl::DataLossError("malformed catalog change-log key");
    }
    change.dataset_id = it->value().ToString();
    FEDNODE_ASSIGN_OR_RETURN(std::optional<CatalogEntry> entry,
                             rep.ReadCatalogEntry(ro, change.dataset_id));
    // A dataset deleted and created again keeps its deletion record: its
    // entry belongs to a later change.
    if (entry.has_value() && entry->change_seq() == change.seq) {
      change.entry = *std::move(entry);
    }
    FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> prior,
                             rep.Get(ro, rep.catalog, CatalogPriorKey(change.seq)));
    if (prior.has_value()) {
      catalog::v1::PriorSharing parsed;
      if (!parsed.ParseFromString(*prior)) {
        return absl::DataLossError(
            absl::StrCat("prior-sharing record at change ", change.seq, " is corrupt"));
      }
      change.prior_conforms_to.assign(parsed.conforms_to().begin(), parsed.conforms_to().end());
    }
    page.changes.push_back(std::move(change));
  }
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading the catalog change log"));
  return page;
}

absl::Status DatasetStore::WriteHarvest(const HarvestBatch& harvest) {
  if (harvest.peer_ags.empty()) {
    return absl::InvalidArgumentError("harvest batch without a peer");
  }
  Rep& rep = *rep_;
  rocksdb::WriteBatch batch;
  for (uint64_t generation : harvest.drop_generations) {
    const std::string prefix = HarvestedPrefix(harvest.peer_ags, generation);
    batch.DeleteRange(rep.catalog, prefix, PrefixSuccessor(prefix)).PermitUncheckedError();
  }
  for (const HarvestBatch::Record& r : harvest.puts) {
    FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(r.dataset_id));
    batch.Put(rep.catalog, HarvestedKey(harvest.peer_ags, r.generation, r.dataset_id), r.value)
        .PermitUncheckedError();
  }
  for (const HarvestBatch::Record& r : harvest.deletes) {
    FEDNODE_RETURN_IF_ERROR(ValidateDatasetId(r.dataset_id));
    batch.Delete(rep.catalog, HarvestedKey(harvest.peer_ags, r.generation, r.dataset_id))
        .PermitUncheckedError();
  }
  batch.Put(rep.catalog, HarvestStateKey(harvest.peer_ags), harvest.state).PermitUncheckedError();
  // No rep.mu: harvest keys are written only here, by one harvester at a time.
  return rep.Write(&batch, absl::StrCat("storing the harvest of member ", harvest.peer_ags));
}

absl::StatusOr<std::vector<std::string>> DatasetStore::ReadHarvested(absl::string_view peer_ags,
                                                                     uint64_t generation) {
  Rep& rep = *rep_;
  const std::string prefix = HarvestedPrefix(peer_ags, generation);
  const std::string upper = PrefixSuccessor(prefix);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(rep.db->NewIterator(ro, rep.catalog));
  std::vector<std::string> out;
  for (it->Seek(prefix); it->Valid(); it->Next()) out.push_back(it->value().ToString());
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(it->status(), "reading harvested entries"));
  return out;
}

absl::StatusOr<std::optional<std::string>> DatasetStore::GetHarvestState(
    absl::string_view peer_ags) {
  return rep_->Get(rocksdb::ReadOptions(), rep_->catalog, HarvestStateKey(peer_ags));
}

absl::StatusOr<std::string> DatasetStore::GetMeta(absl::string_view key) {
  if (key.empty()) {
    return absl::InvalidArgumentError("meta key is empty");
  }
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> value,
                           rep_->Get(rocksdb::ReadOptions(), rep_->meta, OperatorMetaKey(key)));
  if (!value.has_value()) {
    return absl::NotFoundError(absl::StrCat("meta key ", key, " is not set"));
  }
  return *std::move(value);
}

absl::Status DatasetStore::PutMeta(absl::string_view key, absl::string_view value) {
  if (key.empty()) {
    return absl::InvalidArgumentError("meta key is empty");
  }
  rocksdb::WriteBatch batch;
  batch.Put(rep_->meta, OperatorMetaKey(key), rocksdb::Slice(value.data(), value.size()))
      .PermitUncheckedError();
  absl::MutexLock lock(&rep_->mu);
  return rep_->Write(&batch, absl::StrCat("writing meta key ", key));
}

DatasetStore::Stats DatasetStore::GetStats() {
  Stats stats;
  uint64_t v = 0;
  if (rep_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &v)) {
    stats.live_sst_bytes = v;
  }
  if (rep_->db->GetIntProperty(rep_->audit, rocksdb::DB::Properties::kLiveSstFilesSize, &v)) {
    stats.audit_bytes = v;
  }
  if (rep_->db->GetIntProperty(rep_->audit, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
    stats.audit_bytes += v;
  }
  if (rep_->db->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &v)) {
    stats.write_stopped = v != 0;
  }
  if (rep_->db->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &v)) {
    stats.delayed_write_rate = v;
  }
  return stats;
}

absl::Status DatasetStore::DeleteMeta(absl::string_view key) {
  rocksdb::WriteBatch batch;
  batch.Delete(rep_->meta, OperatorMetaKey(key)).PermitUncheckedError();
  absl::MutexLock lock(&rep_->mu);
  return rep_->Write(&batch, absl::StrCat("deleting meta key ", key));
}

absl::Status DatasetStore::AppendAudit(const std::vector<AuditRecord>& records,
                                       const AuditCut* cut) {
  if (records.empty() && cut == nullptr) {
    return absl::OkStatus();
  }
  rocksdb::WriteBatch batch;
  if (cut != nullptr) {
    if (cut->through_seq == 0) {
      return absl::InvalidArgumentError("audit cut through seq 0");
    }
    if (rep_->format_version < 2) {
      return absl::FailedPreconditionError(
          absl::StrCat("data directory ", rep_->options.path, " has format ", rep_->format_version,
                       ", which has no audit chain anchor; open it read-write once to migrate it"));
    }
    const uint64_t end = cut->through_seq + 1;
    batch.DeleteRange(rep_->audit, AuditKey(0), AuditKey(end)).PermitUncheckedError();
    batch.DeleteRange(rep_->audit, AuditHeadKey(0), AuditHeadKey(end)).PermitUncheckedError();
    batch.Put(rep_->audit, kAuditAnchorKey, cut->anchor).PermitUncheckedError();
  }
  for (const auto& [seq, value] : records) {
    if (seq == 0) {
      return absl::InvalidArgumentError("audit record with seq 0");
    }
    if (cut != nullptr && seq <= cut->through_seq) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit record ", seq, " lies at or below the cut through ", cut->through_seq));
    }
    batch.Put(rep_->audit, AuditKey(seq), value).PermitUncheckedError();
  }
  // No rep_->mu: the audit CF has its own single writer (node/audit), and
  // RocksDB serializes concurrent writes itself.
  return rep_->Write(&batch, "appending to the audit log");
}

absl::StatusOr<std::string> DatasetStore::GetAuditAnchor() {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> anchor,
                           rep_->Get(rocksdb::ReadOptions(), rep_->audit, kAuditAnchorKey));
  if (anchor.has_value()) return *std::move(anchor);
  if (rep_->format_version < 2) return std::string();  // format 1: the log starts at 1
  return absl::DataLossError(
      absl::StrCat("data directory ", rep_->options.path, ": the audit chain anchor is missing"));
}

absl::StatusOr<std::vector<AuditRecord>> DatasetStore::ReadAudit(uint64_t from_seq, size_t limit) {
  return rep_->ReadAuditRange(kAuditEntryPrefix, from_seq, limit);
}

absl::StatusOr<std::optional<AuditRecord>> DatasetStore::LastAudit() {
  return rep_->LastAuditRecord(kAuditEntryPrefix);
}

absl::Status DatasetStore::PutAuditHead(uint64_t seq, absl::string_view value) {
  if (seq == 0) {
    return absl::InvalidArgumentError("audit head signature with seq 0");
  }
  rocksdb::WriteBatch batch;
  batch.Put(rep_->audit, AuditHeadKey(seq), rocksdb::Slice(value.data(), value.size()))
      .PermitUncheckedError();
  return rep_->Write(&batch, "writing an audit head signature");
}

absl::StatusOr<std::optional<AuditRecord>> DatasetStore::LastAuditHead() {
  return rep_->LastAuditRecord(kAuditHeadPrefix);
}

absl::StatusOr<std::vector<AuditRecord>> DatasetStore::ReadAuditHeads(uint64_t from_seq,
                                                                      size_t limit) {
  return rep_->ReadAuditRange(kAuditHeadPrefix, from_seq, limit);
}

uint32_t DatasetStore::format_version() const { return rep_->format_version; }

const std::string& DatasetStore::path() const { return rep_->options.path; }

absl::Status DatasetStore::SetFormatVersionForTest(uint32_t version) {
  rocksdb::WriteBatch batch;
  batch.Put(rep_->meta, kMetaFormatVersion, BigEndian32(version)).PermitUncheckedError();
  absl::MutexLock lock(&rep_->mu);
  return rep_->Write(&batch, "writing the storage format version");
}

size_t DatasetStore::SegmentCacheBytesForTest() const { return rep_->cache.size_bytes(); }

size_t DatasetStore::SegmentCacheEntriesForTest() const { return rep_->cache.entries(); }

size_t DatasetStore::CachedStatesForTest() const {
  absl::MutexLock lock(&rep_->state_mu);
  return rep_->states.size();
}

size_t DatasetStore::OpenSnapshotsForTest() const {
  absl::MutexLock lock(&rep_->gate->mu);
  return rep_->gate->live.size();
}

absl::Status DatasetStore::DeleteAuditForTest(uint64_t from_seq, uint64_t to_seq) {
  rocksdb::WriteBatch batch;
  batch.DeleteRange(rep_->audit, AuditKey(from_seq), AuditKey(to_seq)).PermitUncheckedError();
  return rep_->Write(&batch, "deleting audit records");
}

absl::Status DatasetStore::CreateCheckpoint(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("checkpoint directory ", dir, " exists"));
  }
  rocksdb::Checkpoint* raw = nullptr;
  FEDNODE_RETURN_IF_ERROR(FromRocksDbStatus(rocksdb::Checkpoint::Create(rep_->db.get(), &raw),
                                            "creating a checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocksDbStatus(checkpoint->CreateCheckpoint(dir),
                           absl::StrCat("writing the checkpoint to ", dir));
}

absl::Status DatasetStore::VerifyChecksums() {
  return FromRocksDbStatus(rep_->db->VerifyChecksum(),
                           absl::StrCat("verifying the table files of ", rep_->options.path));
}

}  // namespace fednode::storage
