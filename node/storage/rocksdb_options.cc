#include "node/storage/rocksdb_options.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <vector>

#include "rocksdb/convenience.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/table.h"

#include "node/base/log.h"
#include "node/storage/key_codec.h"

namespace fednode::storage {
namespace {

bool Supported(rocksdb::CompressionType type) {
  static const std::vector<rocksdb::CompressionType> kSupported =
      rocksdb::GetSupportedCompressions();
  return std::find(kSupported.begin(), kSupported.end(), type) != kSupported.end();
}

rocksdb::CompressionType FirstSupported(std::initializer_list<rocksdb::CompressionType> types) {
  for (rocksdb::CompressionType t : types) {
    if (Supported(t)) {
      return t;
    }
  }
  return rocksdb::kNoCompression;
}

// RocksDB's info log, written to the node's log (stderr) instead of a LOG
// file in the data directory: on a full disk the LOG file's writer fails,
// and Debian's librocksdb (built with assertions) aborts the process at the
// next line written to it, e.g. when the background error itself is logged.
class RocksDbLogger : public rocksdb::Logger {
 public:
  RocksDbLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }

  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof(buf), format, ap);  // truncates long lines
    absl::string_view line(buf);
    while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      FEDNODE_LOG(ERROR) << "rocksdb: " << line;
    } else if (level >= rocksdb::InfoLogLevel::WARN_LEVEL) {
      FEDNODE_LOG(WARNING) << "rocksdb: " << line;
    } else {
      FEDNODE_LOG(INFO) << "rocksdb: " << line;
    }
  }
};

// Turns off RocksDB's automatic recovery from "no space" background errors.
// That recovery (in its SstFileManager) waits until the free space exceeds
// the sum of all write buffers, which a small disk may never have, and while
// it waits DB::Resume() returns Busy. DatasetStore resumes the database
// itself at the next write instead (dataset_store.cc, Rep::Write).
class NoSpaceRecoveryListener : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.IsNoSpace()) *auto_recovery = false;
    bg_error.PermitUncheckedError();
  }
};

}  // namespace

rocksdb::CompressionType FastCompression() {
  return FirstSupported({rocksdb::kLZ4Compression, rocksdb::kSnappyCompression});
}

rocksdb::CompressionType DenseCompression() {
  return FirstSupported({rocksdb::kZSTD, rocksdb::kLZ4Compression, rocksdb::kSnappyCompression});
}

rocksdb::DBOptions MakeDbOptions(const DatasetStoreOptions& options) {
  rocksdb::DBOptions o;
  o.create_if_missing = options.create_if_missing;
  // Families are part of the layout (key_codec.h); a database made by an
  // older build gets the ones it lacks.
  o.create_missing_column_families = true;
  // Check what is read against the checksums and refuse a corrupt database
  // instead of serving wrong rows (the default, stated on purpose).
  o.paranoid_checks = true;
  // Table readers are cached per open file; a municipal node has a few
  // hundred SST files at most. Bounded so an idle node keeps few descriptors
  // and little index memory (default -1 = unbounded).
  o.max_open_files = 256;
  // One flush and one compaction at a time: the node shares 1-2 cores with
  // the query path.
  o.max_background_jobs = 2;
  // All memtables of all families together; when exceeded, the largest is
  // flushed. Keeps write memory bounded however many families grow.
  o.db_write_buffer_size = options.write_buffer_bytes;
  // With four families the WAL can only be deleted when every family has
  // flushed; this forces flushes of rarely written families (meta, catalog)
  // so the WAL stays small.
  o.max_total_wal_size = 4 * options.write_buffer_bytes;
  // RocksDB's own log: warnings and errors only, into the node's log (see
  // RocksDbLogger: no LOG file on the data disk).
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.info_log = std::make_shared<RocksDbLogger>();
  // After a background error (e.g. the disk ran full) writes stop until
  // DB::Resume(); DatasetStore calls it, not RocksDB's own recovery.
  o.listeners.push_back(std::make_shared<NoSpaceRecoveryListener>());
  // No fallocate: RocksDB would otherwise reserve 1.1 x the largest write
  // buffer for every WAL and 4 MiB for the MANIFEST up front (13 MiB for an
  // idle node at the defaults). On a small disk that space counts as used,
  // and the free-space check before a commit (dataset_store.cc) should see
  // what the files really take.
  o.allow_fallocate = false;
  // No manual WAL flush: every write reaches the WAL before Write returns
  // (and is fsynced when WriteOptions.sync, see DatasetStoreOptions).
  o.manual_wal_flush = false;
  return o;
}

rocksdb::ColumnFamilyOptions MakeColumnFamilyOptions(
    absl::string_view name, const DatasetStoreOptions& options,
    const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::ColumnFamilyOptions o;
  const bool data = name == kCfData;
  // Small memtables: the data family gets half the budget, the others a
  // small share each; two per family so writes continue during a flush.
  o.write_buffer_size = data ? options.write_buffer_bytes / 2 : options.write_buffer_bytes / 8;
  o.write_buffer_size = std::max<size_t>(o.write_buffer_size, size_t{1} << 20);
  o.max_write_buffer_number = 2;
  // Levels sized from the bottom: less space amplification for a small
  // database that mostly holds the latest version of each dataset.
  o.level_compaction_dynamic_level_bytes = true;
  o.target_file_size_base = 16 << 20;
  o.max_bytes_for_level_base = 64 << 20;
  // LZ4 for upper levels (cheap on the write path), ZSTD for the bottommost
  // level where most data ends up (segments compress well: codes, dates).
  o.compression = FastCompression();
  o.bottommost_compression = DenseCompression();

  rocksdb::BlockBasedTableOptions t;
  // One shared, small block cache; decoded segments are cached above RocksDB
  // (SegmentCache), so this only serves index/filter blocks, PK lookups and
  // catalog reads.
  t.block_cache = block_cache;
  // Index and filter blocks live in (and are bounded by) the block cache
  // instead of growing with the number of files; L0's are pinned because
  // they are read on every lookup.
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  // Bloom filters make primary-key lookups (upsert, append duplicate
  // checks) skip files; 10 bits/key = about 1% false positives.
  if (data) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // A dataset's primary-key index is one key per row, so a file's filter
    // grows to megabytes: more than a shard of the small block cache holds,
    // and then read and checksummed from the file on every lookup (measured:
    // half of a point query's time next to a 1 M-row dataset). Partitioned
    // into 4 KiB pieces under a pinned top level, a lookup reads only the
    // piece it needs.
    t.partition_filters = true;
    t.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    t.metadata_block_size = 4096;
    t.pin_top_level_index_and_filter = true;
    t.cache_index_and_filter_blocks_with_high_priority = true;
  }
  // Segment chunks are large values read whole; bigger blocks mean fewer
  // index entries.
  t.block_size = data ? 32 << 10 : 4 << 10;
  t.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (name == kCfAudit) {
    // The audit log appends entries under increasing keys ('a' seq) and,
    // every 1000 entries, a head signature ('h' seq), so every flushed file
    // spans 'a'..'h' and overlaps the newest bottommost file: each L0
    // compaction rewrites (decompresses and ZSTD-compresses again) that whole
    // file, which grew to target_file_size_base (16 MiB, some 200,000 entries)
    // before a new one was started. Measured under 64 appenders
    // (tests/bench/audit_bench, 15 s): RocksDB's background threads took 14-20
    // us of CPU per entry, half of the audit log's CPU. Smaller files bound
    // the rewrite, and more L0 files per compaction spread it over more new
    // entries: 4-7 us per entry, the same ZSTD size (80 bytes per entry). A
    // 10 M-entry log is then about 200 files. The head signatures (some 0.3
    // KB per 1000 entries) stay in the range every compaction rewrites; only
    // a family of their own would end the overlap (a format change).
    o.target_file_size_base = 4 << 20;
    o.level0_file_num_compaction_trigger = 8;
  }
  return o;
}

}  // namespace fednode::storage
