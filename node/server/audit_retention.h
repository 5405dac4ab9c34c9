// Audit log retention on a node: where archives go and when entries are old
// enough (config block `audit`), over AuditLog::Archive (node/audit).
//
// Layer: node/server; called by the admin service (`fedctl audit archive`)
// and by NodeServer's retention thread.
// Thread-safety: safe for concurrent use (AuditLog::Archive runs one archive
// at a time; a second one racing for the same default name gets
// AlreadyExists).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "node/audit/audit_archive.h"
#include "node/audit/audit_log.h"
#include "proto/audit/v1/audit.pb.h"
#include "proto/config/v1/node_config.pb.h"

namespace fednode::server {

// The file an archive of the entries from `first_seq` on gets in
// `archive_dir`: "<archive_dir>/audit-<ags>-<first_seq, 12 digits>.fnarchive",
// e.g. /srv/audit/audit-06531005-000000000001.fnarchive. The name depends on
// the first entry only, so that the rerun of an archive whose cut did not
// happen replaces its file.
std::string DefaultArchivePath(const std::string& archive_dir, const std::string& member_ags,
                               uint64_t first_seq);

// Archives the entries of `log` older than `before` (UTC) into `path`, or,
// when `path` is empty, into DefaultArchivePath(config.audit().archive_dir(),
// ...), creating that directory (mode 0700) when missing. `record` is the
// audit entry of the cut (caller, operation, request id).
// Errors: FailedPrecondition without a path and without audit.archive_dir;
// as AuditLog::Archive otherwise.
absl::StatusOr<audit::ArchiveResult> ArchiveAuditEntries(audit::AuditLog* log,
                                                         const config::v1::NodeConfig& config,
                                                         absl::Time before, const std::string& path,
                                                         audit::v1::AuditEntry record);

// One retention pass at `now`: with config.audit().retention_days() > 0,
// archives the entries older than that many days into the archive
// directory, file after file while more are old enough. Returns the entries
// archived (0 without retention or when none is old enough).
// Errors: as ArchiveAuditEntries.
absl::StatusOr<uint64_t> ApplyAuditRetention(audit::AuditLog* log,
                                             const config::v1::NodeConfig& config, absl::Time now);

}  // namespace fednode::server
