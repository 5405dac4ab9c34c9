// File: audit_archive.h
// -----------------------------------------------------------------------------
// Audit archives: the signed files that hold entries cut from the live audit
// log (retention, README "Audit log retention"). In the spirit of X-Road's
// archived message logs, an archive can be checked on its own, offline, with
// the node's certificate: its entries form an unbroken hash chain (the chain
// of audit_log.h, continued across files) and a statement signed with the
// node key binds what the file holds.
//
// ## The file
//
// One audit.v1.AuditArchive, protobuf wire encoding (deterministic), mode
// 0600, written atomically (temporary file, fsync, rename, fsync of the
// directory). It holds
//   statement   audit.v1.ArchiveStatement: format, member AGS, first_seq,
//               last_seq, count, prev_hash (the hash the first entry
//               continues from: kGenesisHash or the last hash of the
//               previous archive), last_hash (hash of entry last_seq: the
//               link the live log continues from), the time of the first and
//               last entry, the creation time and the signer's SPKI SHA-256;
//   signature   of ArchiveSigningData(statement) with the node key (the
//               signer of the audit heads), base64;
//   entries     the archived entries first_seq..last_seq, in order, complete
//               (prev_hash and hash included).
//
// After the file is durable, AuditLog::Archive cuts the entries from the
// live log in one WriteBatch with a chain anchor (audit.v1.ChainAnchor: the
// last archived seq and hash, the archive's name and SHA-256 and its signed
// statement) and the audit entry that records the cut.
//
// Layer: node/audit; uses certs (digests) and node/storage (the anchor). Called by AuditLog (write)
// and fedctl (offline verification). Pure functions apart from file I/O; safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "node/storage/dataset_store.h"
#include "proto/audit/v1/audit.pb.h"

namespace fednode::audit {

// ArchiveStatement.format of the files this build writes and reads.
inline constexpr char kArchiveFormat[] = "fednode-audit-archive-v1";
// File name suffix of archives the node names itself (audit.archive_dir).
inline constexpr char kArchiveSuffix[] = ".fnarchive";

// The bytes the archive signature signs: "fednode-audit-archive-v1|<ags>|
// <first_seq>|<last_seq>|<count>|<prev_hash>|<last_hash>|<first_time>|
// <last_time>|<created>" with the integers in decimal (times in microseconds
// since the Unix epoch). No field can contain '|' in a valid statement (AGS
// digits, hex hashes), so the text is unambiguous.
std::string ArchiveSigningData(const v1::ArchiveStatement& statement);

// Verifies `signature` (raw bytes) of `data` by the key with SPKI SHA-256
// `spki_sha256`; OK when it verifies. Same shape as
// AuditLogOptions::verify_head.
using SignatureVerifier = std::function<absl::Status(
    absl::string_view data, absl::string_view signature, absl::string_view spki_sha256)>;

// What VerifyArchive found.
struct ArchiveReport {
  v1::ArchiveStatement statement;
  // Whether the signature was checked (a verifier was given).
  bool signature_checked = false;
};

// The deterministic wire encoding of `archive` (the file's bytes).
std::string SerializeArchive(const v1::AuditArchive& archive);

// Reads and parses the archive file at `path`.
// Errors: NotFound when it does not exist; DataLoss naming the file when it
// does not parse; Unavailable for other I/O errors.
absl::StatusOr<v1::AuditArchive> ReadArchiveFile(const std::string& path);

// Checks an archive on its own: the format; count = last_seq - first_seq +
// 1 = number of entries; every entry in order with seq first_seq, +1, ...;
// each entry's hash = SHA-256(prev_hash || canonical bytes) (audit_log.h);
// the first entry's prev_hash = statement.prev_hash, every other one the
// previous entry's hash; the last hash and the first/last times equal the
// statement's; and, with `verify`, the signature over ArchiveSigningData.
// Errors: DataLoss naming the first problem by sequence number, e.g.
//   "archived entry 17: hash mismatch (entry changed)"
//   "archived entry 18 missing (gap after 17)"
//   "archived entry 18: prev_hash does not match the hash of entry 17 (entry
//    17 changed or chain broken)"
//   "archive statement: last_hash does not match entry 40"
//   "archive statement of entries 1..40: signature does not verify: <reason>"
absl::StatusOr<ArchiveReport> VerifyArchive(const v1::AuditArchive& archive,
                                            const SignatureVerifier& verify);

// Checks that `next` continues `archive`: next.first_seq = last_seq + 1 and
// next.prev_hash = last_hash (both statements from verified archives).
// Errors: DataLoss naming both sequence numbers when they do not link.
absl::Status CheckArchivesLink(const v1::ArchiveStatement& archive,
                               const v1::ArchiveStatement& next);

// Checks that the live log in `store` continues `statement` (from a
// verified archive): its chain anchor is at statement.last_seq with
// statement.last_hash. Returns a one-line description of the link.
// Errors: FailedPrecondition when the live log starts later (link the
// archive through the following ones) or when the archive was never cut
// (its entries are still in the live log, with the same last hash: an
// interrupted archive); DataLoss when the anchor or the live entry at
// last_seq holds another hash; storage errors.
absl::StatusOr<std::string> CheckArchiveLinksToStore(const v1::ArchiveStatement& statement,
                                                     storage::DatasetStore* store);

// The anchor of a live log that starts at the genesis (nothing archived):
// an empty ChainAnchor (seq 0); its hash is kGenesisHash.
// Parses a stored anchor value; "" is the genesis anchor.
// Errors: DataLoss when it does not parse.
absl::StatusOr<v1::ChainAnchor> ParseAnchor(absl::string_view bytes);

// The hash the live log continues from after `anchor`: kGenesisHash for
// seq 0, else anchor.hash.
std::string AnchorHash(const v1::ChainAnchor& anchor);

// Checks a chain anchor with seq > 0 against its own signed statement: the
// statement's last_seq and last_hash equal the anchor's, and with `verify`
// the signature verifies. An anchor with seq 0 is always OK.
// Errors: DataLoss "audit chain anchor at N: ..." naming the mismatch.
absl::Status CheckAnchor(const v1::ChainAnchor& anchor, const SignatureVerifier& verify);

}  // namespace fednode::audit
