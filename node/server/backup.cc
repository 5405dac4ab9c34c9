#include "node/server/backup.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"

#include "certs/digest.h"
#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/status_macros.h"
#include "node/base/table.h"
#include "node/server/config.h"
#include "node/server/federation_host.h"
#include "node/server/node.h"
#include "proto/audit/v1/audit.pb.h"

namespace fednode::server {
namespace {

namespace fs = std::filesystem;

// A filesystem error of the backup's own paths: the disk being full, or a
// path the operator must fix (missing, not writable, not a directory) — not
// an unreachable node.
absl::Status IoError(absl::string_view what, const fs::path& p, const std::error_code& ec) {
  std::string msg = absl::StrCat(what, " ", p.string(), ": ", ec.message());
  if (ec == std::errc::no_space_on_device) {
    return absl::ResourceExhaustedError(absl::StrCat("disk full: ", msg));
  }
  return absl::FailedPreconditionError(msg);
}

// `dir` must not exist (it is created, mode 0700) or be an empty directory.
// *created tells whether it was created here.
absl::Status PrepareEmptyDirectory(const fs::path& dir, absl::string_view role, bool* created) {
  std::error_code ec;
  *created = false;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return absl::AlreadyExistsError(absl::StrCat(role, " ", dir.string(), " is not a directory"));
    }
    if (!fs::is_empty(dir, ec)) {
      return absl::AlreadyExistsError(
          absl::StrCat(role, " ", dir.string(), " is not empty; choose a new or empty directory"));
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return IoError("setting permissions of", dir, ec);
    return absl::OkStatus();
  }
  if (!fs::create_directories(dir, ec) || ec) return IoError("creating", dir, ec);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return IoError("setting permissions of", dir, ec);
  *created = true;
  return absl::OkStatus();
}

// Removes what a failed operation wrote into `dir`: the directory itself
// when it was created here, else its contents.
void Undo(const fs::path& dir, bool created) {
  std::error_code ec;
  if (created) {
    fs::remove_all(dir, ec);
    return;
  }
  for (const auto& e : fs::directory_iterator(dir, ec)) fs::remove_all(e.path(), ec);
}

// Regular files below `root`, relative paths, sorted.
absl::StatusOr<std::vector<std::string>> ListFiles(const fs::path& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), root, ec).string());
  }
  if (ec) return IoError("listing", root, ec);
  std::sort(out.begin(), out.end());
  return out;
}

// Copies the regular files of `from` (one level, as a RocksDB directory
// has) into the new directory `to` (mode 0700), each as a new file with mode
// 0600 — never a hard link.
absl::Status CopyFiles(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::create_directory(to, ec) || ec) return IoError("creating", to, ec);
  fs::permissions(to, fs::perms::owner_all, fs::perm_options::replace, ec);
  for (const auto& e : fs::directory_iterator(from, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const fs::path target = to / e.path().filename();
    if (!fs::copy_file(e.path(), target, fs::copy_options::none, ec) || ec) {
      return IoError("copying into", target, ec);
    }
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    if (ec) return IoError("setting permissions of", target, ec);
  }
  if (ec) return IoError("listing", from, ec);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<storage::DatasetStore>> OpenCopyReadOnly(const fs::path& db) {
  storage::DatasetStoreOptions o;
  o.path = db.string();
  o.create_if_missing = false;
  o.read_only = true;
  o.segment_cache_bytes = size_t{16} << 20;
  return storage::DatasetStore::Open(o);
}

// The audit head (last seq and hash) of `store`.
absl::Status ReadAuditHead(storage::DatasetStore* store, node::v1::BackupManifest* m) {
  FEDNODE_ASSIGN_OR_RETURN(std::optional<storage::DatasetStore::AuditRecord> last,
                           store->LastAudit());
  if (!last.has_value()) return absl::OkStatus();
  audit::v1::AuditEntry e;
  if (!e.ParseFromString(last->second)) {
    return absl::DataLossError(absl::StrCat("audit entry ", last->first, " does not parse"));
  }
  m->set_audit_last_seq(last->first);
  m->set_audit_last_hash(e.hash());
  return absl::OkStatus();
}

// The agreement stored in `store` (id and version), if any.
void ReadAgreementVersion(storage::DatasetStore* store, node::v1::BackupManifest* m) {
  absl::StatusOr<std::optional<agreement::v1::SignedAgreement>> stored = LoadStoredAgreement(store);
  if (!stored.ok() || !stored->has_value()) return;
  m->set_agreement_id((*stored)->agreement().agreement_id());
  m->set_agreement_version((*stored)->agreement().version());
}

absl::Status WriteManifest(const fs::path& dir, const node::v1::BackupManifest& m) {
  std::string text;
  if (!google::protobuf::TextFormat::PrintToString(m, &text)) {
    return absl::InternalError("cannot print the backup manifest");
  }
  const fs::path tmp = dir / absl::StrCat(kBackupManifestName, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << "# fednode backup manifest (fednode.node.v1.BackupManifest); written last.\n" << text;
    out.close();
    std::error_code ec;
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                    ec);
    if (!out) {
      return absl::UnavailableError(absl::StrCat("writing ", tmp.string(), " failed"));
    }
  }
  std::error_code ec;
  fs::rename(tmp, dir / kBackupManifestName, ec);
  if (ec) return IoError("renaming", tmp, ec);
  return absl::OkStatus();
}

absl::StatusOr<node::v1::BackupManifest> ReadManifest(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("backup directory ", dir.string(), " does not exist"));
  }
  std::ifstream in(dir / kBackupManifestName, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("incomplete backup: ", dir.string(), " has no ",
                                            kBackupManifestName,
                                            " (the backup was cut short or is not a backup)"));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  node::v1::BackupManifest m;
  if (!google::protobuf::TextFormat::ParseFromString(text, &m)) {
    return absl::DataLossError(absl::StrCat(kBackupManifestName, " in ", dir.string(),
                                            " does not parse (changed or damaged)"));
  }
  return m;
}

// The checks of a database shared by VerifyBackup and VerifyDatabase, on
// `db` (opened read-only): RocksDB's block checksums; every catalog entry has
// its dataset version with the stated number of rows (read in full); the
// audit chain verifies. With `expected` (a backup's manifest), the datasets
// and the audit head must also equal the manifest's.
absl::Status VerifyOpenDatabase(
    storage::DatasetStore* db, const node::v1::BackupManifest* expected,
    std::function<absl::Status(absl::string_view, absl::string_view, absl::string_view)>
        verify_head,
    DatabaseReport* report) {
  report->format_version = db->format_version();
  FEDNODE_RETURN_IF_ERROR(db->VerifyChecksums());

  // Catalog and data agree with each other (and with the manifest).
  FEDNODE_ASSIGN_OR_RETURN(std::vector<catalog::v1::CatalogEntry> entries, db->ListCatalog());
  if (expected != nullptr && entries.size() != static_cast<size_t>(expected->datasets_size())) {
    return absl::DataLossError(absl::StrCat("the copy holds ", entries.size(),
                                            " datasets; the manifest lists ",
                                            expected->datasets_size()));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (expected != nullptr) {
      const auto& d = expected->datasets(static_cast<int>(i));
      if (e.dataset_id() != d.dataset_id() || e.version() != d.version() ||
          e.row_count() != d.row_count()) {
        return absl::DataLossError(
            absl::StrCat("dataset ", e.dataset_id(), " version ", e.version(), " (", e.row_count(),
                         " rows) differs from the manifest's ", d.dataset_id(), " version ",
                         d.version(), " (", d.row_count(), " rows)"));
      }
    }
    absl::StatusOr<storage::TableSnapshot> snap = db->OpenSnapshot(e.dataset_id());
    if (!snap.ok()) {
      return absl::DataLossError(
          absl::StrCat("dataset ", e.dataset_id(), " cannot be read: ", snap.status().message()));
    }
    if (snap->version != e.version() || snap->num_rows != e.row_count()) {
      return absl::DataLossError(absl::StrCat("dataset ", e.dataset_id(),
                                              ": the catalog says version ", e.version(), " with ",
                                              e.row_count(), " rows, the data holds version ",
                                              snap->version, " with ", snap->num_rows));
    }
    // Snapshots load segments on demand: decode each one, so a missing or
    // corrupt segment shows here.
    for (size_t s = 0; s < snap->segments.size(); ++s) {
      absl::StatusOr<std::shared_ptr<const Table>> segment = snap->LoadSegment(s);
      if (!segment.ok()) {
        return absl::DataLossError(absl::StrCat("dataset ", e.dataset_id(),
                                                " cannot be read: ", segment.status().message()));
      }
    }
    report->datasets.push_back({e.dataset_id(), e.version(), e.row_count()});
    report->rows_checked += snap->num_rows;
  }

  // The audit chain (up to the head the manifest recorded).
  node::v1::BackupManifest head;
  FEDNODE_RETURN_IF_ERROR(ReadAuditHead(db, &head));
  if (expected != nullptr && (head.audit_last_seq() != expected->audit_last_seq() ||
                              head.audit_last_hash() != expected->audit_last_hash())) {
    return absl::DataLossError(absl::StrCat("audit log ends at entry ", head.audit_last_seq(),
                                            "; the manifest says ", expected->audit_last_seq()));
  }
  report->audit_last_seq = head.audit_last_seq();
  audit::AuditLogOptions audit_options;
  audit_options.verify_head = std::move(verify_head);
  FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<audit::AuditLog> log,
                           audit::AuditLog::Open(db, audit_options, nullptr));
  FEDNODE_RETURN_IF_ERROR(log->Verify(&report->audit_entries_checked));
  FEDNODE_RETURN_IF_ERROR(log->Close());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<node::v1::BackupManifest> CreateBackup(const BackupSource& source,
                                                      const std::string& dir_text) {
  const fs::path dir(dir_text);
  if (!dir.is_absolute()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backup directory ", dir_text, " must be an absolute path (the node resolves it)"));
  }
  if (!source.data_dir.empty()) {
    if (PathIsInside(dir_text, source.data_dir)) {
      return absl::InvalidArgumentError(
          absl::StrCat("backup directory ", dir_text, " lies inside the data directory ",
                       source.data_dir, "; a backup belongs on another disk, at least outside it"));
    }
  }
  bool created = false;
  FEDNODE_RETURN_IF_ERROR(PrepareEmptyDirectory(dir, "backup directory", &created));
  bool done = false;
  absl::Cleanup undo = [&] {
    if (!done) Undo(dir, created);
  };

  // RocksDB's checkpoint hard-links the table files when it can: a copy that
  // shares its disk blocks with the live database would share its damage
  // too. So the checkpoint is staged and every file copied into db/, owner
  // read/write only (a backup holds all of the member's data).
  const fs::path db = dir / kBackupDbDir;
  const fs::path staged = dir / ".checkpoint";
  FEDNODE_RETURN_IF_ERROR(source.store->CreateCheckpoint(staged.string()));
  FEDNODE_RETURN_IF_ERROR(CopyFiles(staged, db));
  std::error_code ec;
  fs::remove_all(staged, ec);
  if (ec) return IoError("removing", staged, ec);

  node::v1::BackupManifest m;
  m.set_member_ags(source.member_ags);
  m.set_member_name(source.member_name);
  m.set_created(agreement::FormatRfc3339(absl::Now()));
  m.set_fednode_version(FEDNODE_VERSION);
  m.set_node_certificate_pem(source.node_certificate_pem);
  {
    FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatasetStore> copy, OpenCopyReadOnly(db));
    m.set_format_version(copy->format_version());
    FEDNODE_ASSIGN_OR_RETURN(std::vector<catalog::v1::CatalogEntry> entries, copy->ListCatalog());
    for (const auto& e : entries) {
      auto* d = m.add_datasets();
      d->set_dataset_id(e.dataset_id());
      d->set_version(e.version());
      d->set_row_count(e.row_count());
    }
    FEDNODE_RETURN_IF_ERROR(ReadAuditHead(copy.get(), &m));
    ReadAgreementVersion(copy.get(), &m);
  }
  // Hashed after the read-only open is closed, which writes nothing.
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> files, ListFiles(db));
  for (const std::string& f : files) {
    uint64_t size = 0;
    FEDNODE_ASSIGN_OR_RETURN(std::string sha, certs::Sha256FileHex((db / f).string(), &size));
    auto* mf = m.add_files();
    mf->set_path(f);
    mf->set_size(size);
    mf->set_sha256(sha);
  }
  FEDNODE_RETURN_IF_ERROR(WriteManifest(dir, m));
  done = true;
  return m;
}

absl::StatusOr<BackupReport> VerifyBackup(const std::string& dir_text) {
  const fs::path dir(dir_text);
  BackupReport report;
  FEDNODE_ASSIGN_OR_RETURN(report.manifest, ReadManifest(dir));
  const node::v1::BackupManifest& m = report.manifest;
  const fs::path db = dir / kBackupDbDir;

  // Files: exactly the listed ones, each with its size and digest.
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> present, ListFiles(db));
  std::map<std::string, const node::v1::BackupManifest::File*> listed;
  for (const auto& f : m.files()) listed[f.path()] = &f;
  for (const std::string& p : present) {
    if (!listed.contains(p)) {
      return absl::DataLossError(absl::StrCat("backup file db/", p, " is not in the manifest"));
    }
  }
  for (const auto& [path, f] : listed) {
    uint64_t size = 0;
    absl::StatusOr<std::string> sha = certs::Sha256FileHex((db / path).string(), &size);
    if (absl::IsNotFound(sha.status())) {
      return absl::DataLossError(absl::StrCat("backup file db/", path, " is missing"));
    }
    if (!sha.ok()) return sha.status();
    if (size != f->size() || *sha != f->sha256()) {
      return absl::DataLossError(absl::StrCat("backup file db/", path, " changed: ", size,
                                              " bytes, SHA-256 ", *sha, "; the manifest says ",
                                              f->size(), " bytes, ", f->sha256()));
    }
    ++report.files_checked;
    report.bytes_checked += size;
  }

  FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatasetStore> copy, OpenCopyReadOnly(db));
  if (copy->format_version() != m.format_version()) {
    return absl::DataLossError(absl::StrCat("storage format version ", copy->format_version(),
                                            " differs from the manifest's ", m.format_version()));
  }
  // The manifest is plain text: the member it names must be the one whose
  // data the copy holds.
  absl::StatusOr<std::string> owner = copy->GetMeta(kMemberAgsMetaKey);
  if (owner.ok() && *owner != m.member_ags()) {
    return absl::DataLossError(absl::StrCat("the manifest names member ", m.member_ags(),
                                            ", but the database holds the data of ", *owner));
  }
  if (m.node_certificate_pem().empty()) {
    report.notes.push_back(
        "audit head signatures were not checked: the manifest holds no node certificate");
  }
  // Heads signed by an earlier key (before a rotation) are checked against
  // the chain only, as on the node.
  const std::string cert = m.node_certificate_pem();
  std::string cert_pin;
  if (!cert.empty()) {
    absl::StatusOr<std::string> pin = certs::SpkiSha256(cert);
    if (pin.ok()) cert_pin = *pin;
  }
  auto verify_head = [cert, cert_pin](absl::string_view data, absl::string_view signature,
                                      absl::string_view spki) -> absl::Status {
    if (cert.empty() || spki != cert_pin) return absl::OkStatus();
    return certs::VerifySignature(cert, data, signature);
  };
  DatabaseReport checked;
  FEDNODE_RETURN_IF_ERROR(VerifyOpenDatabase(copy.get(), &m, verify_head, &checked));
  report.datasets_checked = checked.datasets.size();
  report.rows_checked = checked.rows_checked;
  report.audit_entries_checked = checked.audit_entries_checked;
  return report;
}

absl::StatusOr<DatabaseReport> VerifyDatabase(const std::string& path) {
  FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatasetStore> db,
                           OpenCopyReadOnly(fs::path(path)));
  DatabaseReport report;
  FEDNODE_RETURN_IF_ERROR(VerifyOpenDatabase(db.get(), nullptr, nullptr, &report));
  return report;
}

absl::StatusOr<BackupReport> RestoreBackup(const std::string& dir_text,
                                           const std::string& data_dir_text,
                                           const std::string& expected_member) {
  FEDNODE_ASSIGN_OR_RETURN(BackupReport report, VerifyBackup(dir_text));
  if (!expected_member.empty() && expected_member != report.manifest.member_ags()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the backup holds the data of member ", report.manifest.member_ags(), " (",
                     report.manifest.member_name(), "), not of ", expected_member,
                     " whose node the configuration describes"));
  }
  const fs::path data_dir(data_dir_text);
  bool created = false;
  FEDNODE_RETURN_IF_ERROR(PrepareEmptyDirectory(data_dir, "data directory", &created));
  bool done = false;
  absl::Cleanup undo = [&] {
    if (!done) Undo(data_dir, created);
  };
  std::error_code ec;
  fs::copy(fs::path(dir_text) / kBackupDbDir, data_dir, fs::copy_options::none, ec);
  if (ec) return IoError("copying the backup into", data_dir, ec);
  {
    storage::DatasetStoreOptions o;
    o.path = data_dir.string();
    o.create_if_missing = false;
    FEDNODE_ASSIGN_OR_RETURN(std::unique_ptr<storage::DatasetStore> store,
                             storage::DatasetStore::Open(o));
    FEDNODE_ASSIGN_OR_RETURN(std::vector<catalog::v1::CatalogEntry> entries, store->ListCatalog());
    if (entries.size() != static_cast<size_t>(report.manifest.datasets_size())) {
      return absl::DataLossError("the restored database lost datasets while copying");
    }
    // Its change sequences may repeat ones the peers harvested from the
    // database it replaces: a new epoch makes them harvest it in full.
    FEDNODE_RETURN_IF_ERROR(RenewCatalogEpoch(store.get()));
    uint64_t size = 0;
    FEDNODE_ASSIGN_OR_RETURN(
        std::string manifest_sha,
        certs::Sha256FileHex((fs::path(dir_text) / kBackupManifestName).string(), &size));
    FEDNODE_RETURN_IF_ERROR(store->PutMeta(
        kRestoredFromMetaKey, absl::StrCat("backup taken at ", report.manifest.created(),
                                           " (manifest sha256 ", manifest_sha, ")")));
  }
  if (report.manifest.agreement_version() > 0) {
    report.notes.push_back(absl::StrCat(
        "the restored node runs agreement ", report.manifest.agreement_id(), " v",
        report.manifest.agreement_version(),
        " as of the backup; if a later version was installed since, install it again (fedctl "
        "agreement update FILE) before the node serves the federation"));
  }
  done = true;
  return report;
}

}  // namespace fednode::server
