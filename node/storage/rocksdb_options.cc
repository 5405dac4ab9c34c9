#include "node/storage/rocksdb_options.h"

#include <algorithm>
#include <vector>

#include "rocksdb/convenience.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

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
  // RocksDB's own LOG: warnings only, few small files.
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  o.keep_log_file_num = 3;
  o.max_log_file_size = size_t{1} << 20;
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
  }
  // Segment chunks are large values read whole; bigger blocks mean fewer
  // index entries.
  t.block_size = data ? 32 << 10 : 4 << 10;
  t.format_version = 5;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

}  // namespace fednode::storage
