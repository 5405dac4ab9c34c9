#include "node/audit/audit_archive.h"

#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

#include "node/audit/audit_log.h"
#include "node/base/status_macros.h"

namespace fednode::audit {
namespace {

absl::Status StatementError(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("archive statement: ", what));
}

// Verifies `signature_base64` over `data` with `verify`; `what` names the
// signed object in the error.
absl::Status CheckSignature(const SignatureVerifier& verify, absl::string_view data,
                            absl::string_view signature_base64, absl::string_view spki,
                            absl::string_view what) {
  std::string signature;
  if (!absl::Base64Unescape(signature_base64, &signature) || signature.empty()) {
    return absl::DataLossError(absl::StrCat(what, ": signature missing or not base64"));
  }
  absl::Status s = verify(data, signature, spki);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat(what, ": signature does not verify: ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ArchiveSigningData(const v1::ArchiveStatement& s) {
  return absl::StrCat(kArchiveFormat, "|", s.member_ags(), "|", s.first_seq(), "|", s.last_seq(),
                      "|", s.count(), "|", s.prev_hash(), "|", s.last_hash(), "|",
                      s.first_time_unix_micros(), "|", s.last_time_unix_micros(), "|",
                      s.created_unix_micros());
}

std::string SerializeArchive(const v1::AuditArchive& archive) {
  return SerializeDeterministic(archive);
}

absl::StatusOr<v1::AuditArchive> ReadArchiveFile(const std::string& path) {
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("audit archive ", path, " cannot be opened"));
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::UnavailableError(absl::StrCat("reading audit archive ", path));
  v1::AuditArchive archive;
  if (!archive.ParseFromString(bytes) || archive.statement().format() != kArchiveFormat) {
    return absl::DataLossError(absl::StrCat(path, " is not a fednode audit archive (",
                                            kArchiveFormat, "), or it was damaged"));
  }
  return archive;
}

absl::StatusOr<ArchiveReport> VerifyArchive(const v1::AuditArchive& archive,
                                            const SignatureVerifier& verify) {
  const v1::ArchiveStatement& s = archive.statement();
  if (s.format() != kArchiveFormat) {
    return StatementError(absl::StrCat("format \"", s.format(), "\" is not ", kArchiveFormat));
  }
  if (s.first_seq() == 0 || s.last_seq() < s.first_seq() ||
      s.count() != s.last_seq() - s.first_seq() + 1) {
    return StatementError(absl::StrCat("first_seq ", s.first_seq(), ", last_seq ", s.last_seq(),
                                       " and count ", s.count(), " do not agree"));
  }
  // The entries, checked before the signature so that a changed entry is
  // named by its sequence number.
  uint64_t expected = s.first_seq();
  std::string prev = s.prev_hash();
  for (const v1::AuditEntry& entry : archive.entries()) {
    FEDNODE_RETURN_IF_ERROR(CheckChainEntry(entry, expected, prev, "archived entry", true));
    prev = entry.hash();
    ++expected;
  }
  if (expected <= s.last_seq()) {
    return absl::DataLossError(absl::StrCat("archived entry ", expected,
                                            " missing (the archive ends at ", expected - 1,
                                            ", its statement at ", s.last_seq(), ")"));
  }
  if (static_cast<uint64_t>(archive.entries_size()) != s.count()) {
    return StatementError(absl::StrCat("count ", s.count(), " but the archive holds ",
                                       archive.entries_size(), " entries"));
  }
  if (prev != s.last_hash()) {
    return StatementError(absl::StrCat("last_hash does not match entry ", s.last_seq()));
  }
  if (archive.entries(0).time_unix_micros() != s.first_time_unix_micros() ||
      archive.entries(archive.entries_size() - 1).time_unix_micros() != s.last_time_unix_micros()) {
    return StatementError("time range does not match the entries");
  }
  ArchiveReport report;
  report.statement = s;
  if (verify) {
    FEDNODE_RETURN_IF_ERROR(CheckSignature(
        verify, ArchiveSigningData(s), archive.signature_base64(), s.spki_sha256(),
        absl::StrCat("archive statement of entries ", s.first_seq(), "..", s.last_seq())));
    report.signature_checked = true;
  }
  return report;
}

absl::Status CheckArchivesLink(const v1::ArchiveStatement& archive,
                               const v1::ArchiveStatement& next) {
  if (next.first_seq() != archive.last_seq() + 1) {
    return absl::DataLossError(absl::StrCat("the archives do not link: one ends at entry ",
                                            archive.last_seq(), ", the next starts at entry ",
                                            next.first_seq()));
  }
  if (next.prev_hash() != archive.last_hash()) {
    return absl::DataLossError(absl::StrCat("the archives do not link: entry ", next.first_seq(),
                                            " does not continue from the hash of entry ",
                                            archive.last_seq()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckArchiveLinksToStore(const v1::ArchiveStatement& statement,
                                                     storage::DatasetStore* store) {
  FEDNODE_ASSIGN_OR_RETURN(std::string bytes, store->GetAuditAnchor());
  FEDNODE_ASSIGN_OR_RETURN(v1::ChainAnchor anchor, ParseAnchor(bytes));
  const uint64_t last = statement.last_seq();
  if (anchor.seq() == last) {
    if (anchor.hash() != statement.last_hash()) {
      return absl::DataLossError(absl::StrCat("the live log's chain anchor at ", last,
                                              " holds another hash than the archive's entry ", last,
                                              ": they do not link"));
    }
    return absl::StrCat("the live log continues from entry ", last, " (its chain anchor)");
  }
  if (anchor.seq() > last) {
    return absl::FailedPreconditionError(
        absl::StrCat("the live log starts after entry ", anchor.seq(), "; this archive ends at ",
                     last, ": check it against the archive that follows it (--next)"));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::DatasetStore::AuditRecord> records,
                           store->ReadAudit(last, 1));
  v1::AuditEntry live;
  if (records.empty() || records.front().first != last ||
      !live.ParseFromString(records.front().second)) {
    return absl::DataLossError(absl::StrCat("the live log has no entry ", last,
                                            " and its chain anchor is at ", anchor.seq()));
  }
  if (live.hash() != statement.last_hash()) {
    return absl::DataLossError(absl::StrCat("the live log's entry ", last,
                                            " holds another hash than the archive's: they do not "
                                            "link"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "entries ", statement.first_seq(), "..", last,
      " are still in the live log: this archive was written but never cut (an interrupted "
      "archive); the next archive of these entries replaces it"));
}

absl::StatusOr<v1::ChainAnchor> ParseAnchor(absl::string_view bytes) {
  v1::ChainAnchor anchor;
  if (!anchor.ParseFromString(std::string(bytes))) {
    return absl::DataLossError("audit chain anchor does not parse");
  }
  return anchor;
}

std::string AnchorHash(const v1::ChainAnchor& anchor) {
  return anchor.seq() == 0 ? std::string(kGenesisHash) : anchor.hash();
}

absl::Status CheckAnchor(const v1::ChainAnchor& anchor, const SignatureVerifier& verify) {
  if (anchor.seq() == 0) return absl::OkStatus();
  const std::string what = absl::StrCat("audit chain anchor at ", anchor.seq());
  const v1::ArchiveStatement& s = anchor.statement();
  if (s.last_seq() != anchor.seq() || s.last_hash() != anchor.hash()) {
    return absl::DataLossError(
        absl::StrCat(what, ": does not match the statement of archive ", anchor.archive_file()));
  }
  if (verify) {
    FEDNODE_RETURN_IF_ERROR(CheckSignature(verify, ArchiveSigningData(s), anchor.signature_base64(),
                                           s.spki_sha256(), what));
  }
  return absl::OkStatus();
}

}  // namespace fednode::audit
