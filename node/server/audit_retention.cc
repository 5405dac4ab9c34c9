#include "node/server/audit_retention.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "node/base/status_macros.h"
#include "node/server/config.h"

namespace fednode::server {

std::string DefaultArchivePath(const std::string& archive_dir, const std::string& member_ags,
                               uint64_t first_seq) {
  return absl::StrCat(
      archive_dir, "/",
      absl::StrFormat("audit-%s-%012u%s", member_ags, first_seq, audit::kArchiveSuffix));
}

absl::StatusOr<audit::ArchiveResult> ArchiveAuditEntries(audit::AuditLog* log,
                                                         const config::v1::NodeConfig& config,
                                                         absl::Time before, const std::string& path,
                                                         audit::v1::AuditEntry record) {
  audit::ArchiveRequest request;
  request.before = before;
  request.path = path;
  request.member_ags = config.member_ags();
  request.record = std::move(record);
  if (request.path.empty()) {
    const std::string& dir = config.audit().archive_dir();
    if (dir.empty()) {
      return absl::FailedPreconditionError(
          "no archive file given and no audit.archive_dir in the node's config");
    }
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec) && !ec) {
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::replace, ec);
    }
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("audit.archive_dir ", dir, ": ", ec.message()));
    }
    FEDNODE_ASSIGN_OR_RETURN(audit::v1::ChainAnchor anchor, log->Anchor());
    request.path = DefaultArchivePath(dir, config.member_ags(), anchor.seq() + 1);
  }
  // An archive is the only copy of its entries: never inside the database
  // it is cut from (resolving "..", "//" and symlinks first).
  if (PathIsInside(request.path, config.data_dir())) {
    return absl::InvalidArgumentError(absl::StrCat("archive file ", request.path,
                                                   " lies inside data_dir ", config.data_dir(),
                                                   "; archives belong outside it"));
  }
  absl::StatusOr<audit::ArchiveResult> r = log->Archive(request);
  // The node answered: a file it cannot write is the operator's to fix,
  // not an unreachable node.
  if (r.status().code() == absl::StatusCode::kUnavailable) {
    return absl::FailedPreconditionError(r.status().message());
  }
  return r;
}

absl::StatusOr<uint64_t> ApplyAuditRetention(audit::AuditLog* log,
                                             const config::v1::NodeConfig& config, absl::Time now) {
  const uint32_t days = config.audit().retention_days();
  if (days == 0) return 0;
  uint64_t archived = 0;
  for (;;) {
    audit::v1::AuditEntry record;
    record.set_caller("node");
    record.set_operation("audit.Retention");
    record.set_purpose(absl::StrCat("retention_days ", days));
    FEDNODE_ASSIGN_OR_RETURN(
        audit::ArchiveResult r,
        ArchiveAuditEntries(log, config, now - absl::Hours(24) * days, "", std::move(record)));
    archived += r.count;
    if (!r.more) return archived;
  }
}

}  // namespace fednode::server
