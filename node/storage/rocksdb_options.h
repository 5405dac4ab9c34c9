// File: rocksdb_options.h
// -----------------------------------------------------------------------------
// RocksDB options for a small municipal node: little memory when idle (the
// whole node should stay under 30 MB RSS), few files, durable commits. Each
// choice is explained in rocksdb_options.cc next to the value.
//
// Layer: node/storage, internal (includes rocksdb/ headers).
// Thread-safety: pure functions, safe for concurrent use.
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "rocksdb/cache.h"
#include "rocksdb/options.h"

#include "node/storage/dataset_store.h"

namespace fednode::storage {

// Database-wide options (create_if_missing from `options`).
rocksdb::DBOptions MakeDbOptions(const DatasetStoreOptions& options);

// Options of the column family `name` (key_codec.h: kCfData, ...). All
// families share `block_cache`.
rocksdb::ColumnFamilyOptions MakeColumnFamilyOptions(
    absl::string_view name, const DatasetStoreOptions& options,
    const std::shared_ptr<rocksdb::Cache>& block_cache);

// The compression used for flushed files (fast) and for the bottommost level
// (dense), chosen from what this librocksdb was built with: LZ4 / ZSTD on
// Debian 12, Snappy or none as fallbacks.
rocksdb::CompressionType FastCompression();
rocksdb::CompressionType DenseCompression();

}  // namespace fednode::storage
