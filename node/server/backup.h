// Backups of a node: a consistent online copy of the whole database (data,
// catalog, node metadata, audit log) with a manifest, its verification, and
// its restore into an empty data directory.
//
// Layout of a backup directory DIR:
//   DIR/db/                        the RocksDB checkpoint
//   DIR/fednode-backup.textproto   fednode.node.v1.BackupManifest
// The manifest is written last (to a temporary name, then renamed): a
// directory without it is an incomplete backup and is never restored.
//
// Layer: node/server; called by the admin service (create) and by fedctl
// (verify and restore, offline, with the node stopped for restore).
// Thread-safety: CreateBackup may run concurrently with imports, queries and
// audit appends on the same store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "node/audit/audit_log.h"
#include "node/storage/dataset_store.h"
#include "proto/node/v1/backup.pb.h"

namespace fednode::server {

inline constexpr char kBackupManifestName[] = "fednode-backup.textproto";
inline constexpr char kBackupDbDir[] = "db";
// Node metadata key that RestoreBackup sets in the restored database: "backup
// taken at <created> (manifest sha256 <hex>)". The node's next start appends
// the audit entry "restored from ..." and removes it (NodeServer).
inline constexpr char kRestoredFromMetaKey[] = "restored_from";

struct BackupSource {
  storage::DatasetStore* store = nullptr;  // the live store; required
  std::string member_ags;
  std::string member_name;
  // The node's certificate (PEM), recorded for checking signed audit heads;
  // may be empty.
  std::string node_certificate_pem;
  // The live data directory: a backup inside it is refused. May be empty.
  std::string data_dir;
};

// Takes a backup of the running node into `dir` (absolute path; it must not
// exist, or be an empty directory; created with mode 0700). The database is
// copied with DatasetStore::CreateCheckpoint; the manifest is then computed
// from the copy (opened read-only): datasets and versions, audit head, and
// SHA-256 and size of every file.
// Errors: InvalidArgument for a relative path; AlreadyExists when `dir` is
// not empty; ResourceExhausted when the disk is full; Unavailable for other
// I/O errors; DataLoss when the copy does not open. On error, what was
// written to `dir` is removed.
absl::StatusOr<node::v1::BackupManifest> CreateBackup(const BackupSource& source,
                                                      const std::string& dir);

// What VerifyBackup checked.
struct BackupReport {
  node::v1::BackupManifest manifest;
  uint64_t files_checked = 0;
  uint64_t bytes_checked = 0;
  uint64_t datasets_checked = 0;
  uint64_t rows_checked = 0;
  uint64_t audit_entries_checked = 0;
  // What the operator must know, e.g. that audit signatures were not
  // checked, or which agreement version a restored node runs.
  std::vector<std::string> notes;
};

// Checks the backup in `dir` without changing it: the manifest parses; every
// file it lists exists with its size and SHA-256 and no file is unlisted;
// the copy opens read-only with the manifest's format version; RocksDB's
// block checksums of every table file; every catalog entry has its dataset
// version with the stated number of rows (read in full) and the datasets
// equal the manifest's; the audit hash chain verifies up to the manifest's
// last entry (signed heads against the recorded certificate where its key
// signed them).
// Errors: NotFound when `dir` or its manifest is missing ("incomplete
// backup"); DataLoss naming the first mismatch (file, dataset or audit
// entry); FailedPrecondition for a newer storage format than this build
// reads; Unavailable for I/O errors.
absl::StatusOr<BackupReport> VerifyBackup(const std::string& dir);

// What VerifyDatabase checked.
struct DatabaseReport {
  struct Dataset {
    std::string dataset_id;
    uint64_t version = 0;
    uint64_t row_count = 0;
  };
  uint32_t format_version = 0;
  // Every catalog entry, ordered by dataset id, each checked against its data.
  std::vector<Dataset> datasets;
  uint64_t rows_checked = 0;
  uint64_t audit_entries_checked = 0;
  // Seq of the audit log's last entry; 0 for an empty log.
  uint64_t audit_last_seq = 0;
};

// Checks a node's database in `path` without changing it, the checks of
// VerifyBackup without a manifest: it opens read-only (recovering the WAL in
// memory, so a database left by a crash is seen as the next start would see
// it; no lock is taken); RocksDB's block checksums of every table file; every
// catalog entry has its dataset version with the stated number of rows (read
// in full); the audit hash chain verifies from entry 1 to the last one (signed
// heads against the chain, not their signatures).
// The node must not write to `path` meanwhile (stop it first).
// Errors: NotFound when `path` holds no database; DataLoss naming the first
// mismatch (dataset or audit entry) or for a database without a storage
// format version; FailedPrecondition for another storage format than this
// build's; Unavailable for I/O errors.
absl::StatusOr<DatabaseReport> VerifyDatabase(const std::string& path);

// Verifies the backup in `dir` (VerifyBackup) and copies its database into
// `data_dir`, which must not exist or be an empty directory (created with
// mode 0700); then opens the result once read-write as a node would (which
// also migrates an older storage format). The node must be stopped; a
// running node holds its data directory locked and is refused.
// Errors: as VerifyBackup; AlreadyExists when `data_dir` is not empty;
// ResourceExhausted when the disk is full; Unavailable for I/O errors. On
// error after copying began, `data_dir` is removed again.
// When `expected_member` is set (the AGS of the configuration the restore is
// for), a backup of another member is refused (FailedPrecondition).
// The restored database carries kRestoredFromMetaKey, so that the first start
// after the restore audits it.
absl::StatusOr<BackupReport> RestoreBackup(const std::string& dir, const std::string& data_dir,
                                           const std::string& expected_member = "");

}  // namespace fednode::server
