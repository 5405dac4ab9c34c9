// File: audit_log.h
// -----------------------------------------------------------------------------
// AuditLog: the node's append-only, hash-chained audit log. Every
// cross-boundary request and every admin action, allowed or denied, becomes
// one audit.v1.AuditEntry, stored in the `audit` column family of the node's
// DatasetStore (key 'a' be64(seq), see node/storage/key_codec.h).
//
// Layer: node/audit; uses node/storage and certs (SHA-256). Called by
// node/server (federation and admin handlers) and fedctl (read, verify,
// export). Knows nothing of gRPC.
//
// Thread-safety: safe for concurrent use. Append blocks the calling thread
// until its entry is durable.
//
// ## The chain
//
//   seq             1, 2, 3, ... without gaps, assigned by the log.
//   prev_hash(1)    kGenesisHash: 64 ASCII '0' characters.
//   prev_hash(n)    hash(n - 1).
//   hash(n)         lower-case hex of
//                     SHA-256( prev_hash(n) as its 64 ASCII hex characters
//                              || CanonicalBytes(entry n) )
//   CanonicalBytes  the protobuf wire encoding of the entry with prev_hash
//                   and hash cleared (set to ""), serialized with
//                   SetSerializationDeterministic(true): fields in increasing
//                   field-number order, each present field once, fields with
//                   their proto3 default value (0, "", DECISION_UNSPECIFIED)
//                   omitted, varints in their shortest form, strings as their
//                   raw bytes with a varint length. AuditEntry has no maps,
//                   repeated or message fields, so this encoding is unique for
//                   a given set of field values. Fields added later get numbers
//                   above 15, so entries written by a newer build (whose extra
//                   fields an older build keeps as unknown fields, serialized
//                   after the known ones) hash the same in both builds.
//   Stored value    the same encoding of the complete entry (prev_hash and
//                   hash included).
//
// ## Durability and group commit
//
// Append returns only after the entry's RocksDB write is in the WAL and
// synced (DatasetStoreOptions::sync_commits, the production default; without
// it "durable" means "in the WAL, not fsynced"). Callers enqueue their entry
// under a mutex and wait; one dedicated writer thread takes everything queued
// (at most max_batch_entries), assigns seq and the chain hashes in queue
// order, writes all of them with one synced WriteBatch
// (DatasetStore::AppendAudit), and wakes the callers with their seq. While one
// batch is being synced the next one queues up, so one fsync covers many
// entries and throughput is not capped by the fsync latency.
//
// Backpressure: at most max_pending_entries entries wait to be written;
// further callers block in Append until the writer has made room (blocking,
// not ResourceExhausted: an audit entry must never be dropped, and the wait is
// bounded by one batch's write).
//
// A failed batch write (disk full: ResourceExhausted; other I/O:
// Unavailable) fails every Append of that batch with the storage error; the
// entries are not in the log and their seqs are reused by the next batch.
//
// ## Retention: archive and cut
//
// Archive() moves the oldest entries into a signed archive file
// (audit_archive.h) and then cuts them from the store: one WriteBatch
// deletes them (and their head signatures), stores the chain anchor (the
// last archived seq and hash; storage format 2) and appends the audit entry
// that records the cut. From then on the log starts at anchor seq + 1 and
// its first prev_hash is the anchor hash; Verify starts there and checks
// the anchor against the archive statement it carries (signed like the
// heads). The file is durable before anything is cut: a crash between the
// two leaves the whole log in place (it verifies) and an archive file whose
// entries are still in the log; the next Archive of the same range
// replaces that file.
//
// ## Head signatures
//
// When options.sign_head is set, the writer signs "<seq>|<hash>" of the head
// (e.g. "1000|9f86d0...") after every sign_every_entries entries and at
// Close, and stores an audit.v1.HeadSignature under 'h' be64(seq). A signed
// head pins the log up to that seq: removing or changing entries at or before
// it, including truncating the tail, is detected by Verify even when the
// attacker recomputes every hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"

#include "node/base/clock.h"
#include "node/storage/dataset_store.h"
#include "proto/audit/v1/audit.pb.h"

namespace fednode::audit {

// prev_hash of entry 1.
inline constexpr char kGenesisHash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct AuditLogOptions {
  // Most entries written by one batch (one WriteBatch, one fsync).
  // Default 4096; valid range 1 .. 1,000,000.
  size_t max_batch_entries = 4096;
  // Most entries queued and not yet written; Append blocks while the queue
  // is full. Default 65,536; must be >= 1.
  size_t max_pending_entries = 65536;

  // Signs `data` ("<seq>|<hash>") with the node key, returning the raw
  // signature bytes (stored base64). Empty = heads are not signed.
  // FailedPrecondition means "no key to sign with now" (a node without a
  // federation block, or before its agreement is installed): that head stays
  // unsigned, logged once, and is no error of Close; any other error is.
  // Production: certs::Sign with the node's key. Called on the writer
  // thread; must not call back into the log.
  std::function<absl::StatusOr<std::string>(absl::string_view data)> sign_head;
  // SHA-256 (hex) of the signing key's SubjectPublicKeyInfo, stored in each
  // HeadSignature so a verifier knows which key signed. Default "".
  std::string signer_spki_sha256;
  // When set, called at each signature (heads and archives) for the SPKI
  // SHA-256 of the key sign_head signs with now (it changes when the node
  // key is rotated); overrides signer_spki_sha256. Called on the signing
  // thread; must not call back into the log.
  std::function<std::string()> current_signer_spki_sha256;
  // Sign the head after this many entries since the last signed head.
  // Default 1000; 0 = only at Close.
  uint64_t sign_every_entries = 1000;

  // Checks a stored head signature in Verify: OK when `signature` (raw
  // bytes) is a valid signature of `data` by the key with SPKI SHA-256
  // `spki_sha256`. Empty = Verify checks the signed seq and hash against the
  // chain but not the signature itself. Production: certs::VerifySignature
  // with the certificate whose pin is spki_sha256.
  std::function<absl::Status(absl::string_view data, absl::string_view signature,
                             absl::string_view spki_sha256)>
      verify_head;
};

// What Archive should do.
struct ArchiveRequest {
  // Entries whose time is before this are archived (at most
  // kMaxArchiveEntries per call, the oldest first).
  absl::Time before = absl::InfinitePast();
  // Archive at most the entries up to this seq (0 = no limit); tests and
  // `fedctl audit archive --through SEQ`.
  uint64_t through_seq = 0;
  // Where to write the file: an absolute path. An existing file there is
  // refused (AlreadyExists) unless it is an archive of this log whose
  // entries were never cut (left by an interrupted Archive).
  std::string path;
  // AGS of the node's member, bound by the statement.
  std::string member_ags;
  // The audit entry that records the cut: caller, operation ("audit.Archive"),
  // request_id. Archive sets reason ("archived entries A..B to FILE (sha256
  // ...)"), decision allow and rows_returned (the count).
  audit::v1::AuditEntry record;
};

struct ArchiveResult {
  // 0 when nothing was old enough (no file written, nothing cut).
  uint64_t count = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string last_hash;
  std::string path;
  // SHA-256 (hex) of the file.
  std::string file_sha256;
  // Seq of the entry that records the cut.
  uint64_t record_seq = 0;
  // More entries were old enough than one archive takes.
  bool more = false;
};

// Most entries one archive file holds (all in memory while it is written;
// about 300 MB at the largest entries).
inline constexpr uint64_t kMaxArchiveEntries = 500'000;

class AuditLog {
 public:
  // Opens the log kept in `store`, continuing the chain after the last stored
  // entry (seq and hash from it), and starts the writer thread.
  // Errors: InvalidArgument for bad options; DataLoss when the last entry does
  // not parse or its seq differs from its key; storage errors as is.
  // A log whose last signed head lies beyond its last entry (a truncated
  // tail) still opens, with an ERROR log line; Verify reports it.
  // REQUIRES: store and clock outlive the log; clock nullptr = SystemClock.
  // At most one AuditLog per store.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(storage::DatasetStore* store,
                                                        const AuditLogOptions& options,
                                                        const Clock* clock);

  // Calls Close() (errors are logged).
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends `entry` and returns its seq once it is durable (see the file
  // comment). Fills seq, time_unix_micros (clock at enqueue, microseconds
  // since the Unix epoch, UTC; non-decreasing in seq when the clock is),
  // prev_hash and hash; the caller's values of these fields are ignored.
  // The other fields are the caller's, taken as is: caller (AGS, "admin" or
  // "unauthenticated"), peer_address, operation, dataset_id, decision,
  // reason, rows/cells returned, request_id, purpose, agreement_version.
  // Blocks while the queue is full.
  // Errors: FailedPrecondition after Close; the storage error of the batch
  // (ResourceExhausted for a full disk, Unavailable) when the write failed.
  absl::StatusOr<uint64_t> Append(audit::v1::AuditEntry entry);

  // Called once with the result of AppendAsync: the entry's seq once it is
  // durable, or the error Append would have returned.
  using AppendDone = absl::AnyInvocable<void(absl::StatusOr<uint64_t>) &&>;

  // Append without waiting: queues `entry` like Append (blocking only while
  // the queue is full) and returns; `done` runs once the entry's batch is
  // durable or failed, on the log's writer thread, after the batch's
  // blocking callers are released. `done` must not block and must not call
  // back into the log (it would wait for its own thread). After Close,
  // `done` runs at once on the calling thread with FailedPrecondition.
  // Used by the asynchronous federation server, whose threads must not wait
  // for an fsync (node/server/federation_server.h).
  void AppendAsync(audit::v1::AuditEntry entry, AppendDone done);

  // Walks the whole chain from the anchor (seq 1 when nothing was archived)
  // to the head as of the call; checks the anchor against the archive
  // statement it carries (with options.verify_head, its signature), then
  // each entry: parses, its key matches its seq, hash = SHA-256(prev_hash ||
  // canonical bytes), prev_hash = hash of the previous entry, no gaps; and
  // each stored head signature: its seq exists, its hash equals that entry's
  // hash, and (with options.verify_head) the signature verifies.
  // *entries_checked (may be nullptr) = entries found intact before the first
  // problem (all of them when OK).
  // Errors: DataLoss naming the FIRST bad entry in seq order, e.g.
  //   "audit entry 17: hash mismatch (entry changed)"
  //   "audit entry 17: unparseable (entry changed)"
  //   "audit entry 18 missing (gap after 17)"
  //   "audit entry 18: holds entry 19 (entries reordered)"
  //   "audit entry 18: prev_hash does not match the hash of entry 17 (entry 17
  //    changed or chain broken)"
  //   "audit entry 21 missing (log ends at 20, but head 25 is signed)"
  //   "audit entry 41 missing (log starts at 45; the chain anchor is at 40)"
  //   "audit chain anchor at 40: signature does not verify: <reason>"
  //   "audit head signature at 10: hash does not match entry 10"
  //   "audit head signature at 10: signature does not verify: <reason>"
  // Storage errors as is.
  absl::Status Verify(uint64_t* entries_checked);

  // Writes the entries older than request.before (from the start of the
  // live log) to the archive file request.path, signed with
  // options.sign_head, and then cuts them from the log together with the new
  // chain anchor and the entry request.record (see "Retention" above).
  // Archives run one at a time; appends go on meanwhile.
  // Errors: FailedPrecondition without options.sign_head (archives are
  // signed with the node key) or after Close; InvalidArgument for a relative
  // path; AlreadyExists when request.path holds a file that is not an
  // uncut archive of this log; DataLoss naming the entry when the entries to
  // archive do not verify (nothing is written); the signing error; Unavailable
  // or ResourceExhausted when writing the file or the cut fails (when the cut
  // fails the file stays, and the log is whole).
  absl::StatusOr<ArchiveResult> Archive(const ArchiveRequest& request);

  // The chain anchor in force (seq 0: nothing archived).
  // Errors: as DatasetStore::GetAuditAnchor; DataLoss when it does not parse.
  absl::StatusOr<audit::v1::ChainAnchor> Anchor();

  // Up to `limit` entries with seq >= from_seq, in seq order.
  // Errors: DataLoss for an entry that does not parse; storage errors.
  absl::StatusOr<std::vector<audit::v1::AuditEntry>> Read(uint64_t from_seq, size_t limit);

  // The last n entries (fewer when the log is shorter), in seq order.
  absl::StatusOr<std::vector<audit::v1::AuditEntry>> Tail(size_t n);

  // Seq of the last durable entry; 0 for an empty log.
  uint64_t last_seq() const;

  // Stops accepting entries, writes everything queued, signs the head (when
  // sign_head is set and it is not signed yet) and stops the writer thread.
  // Idempotent. Errors: the first write or signing error since Open.
  absl::Status Close();

  // Test hooks (not for production code).
  // Number of DatasetStore::AppendAudit calls (batches) made so far.
  uint64_t BatchesWrittenForTest() const;
  // Holds the writer before it takes the next batch / lets it go again.
  void PauseWriterForTest();
  void ResumeWriterForTest();
  // Blocks until at least n entries are queued.
  void WaitForQueuedForTest(size_t n);
  // The next Archive writes its file and then fails its cut with
  // Unavailable, as a crash between the two would leave it.
  void FailNextCutForTest();

 private:
  struct Pending;

  AuditLog(storage::DatasetStore* store, const AuditLogOptions& options, const Clock* clock);

  // Append, with an optional cut written in the same batch.
  absl::StatusOr<uint64_t> Enqueue(audit::v1::AuditEntry entry,
                                   const storage::DatasetStore::AuditCut* cut);
  // Queues `p` (time set here) once there is room; false after Close.
  bool Push(Pending* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WriterLoop();
  // Writes one batch; returns the storage status.
  absl::Status WriteBatch(const std::vector<Pending*>& batch);
  // The SPKI SHA-256 of the signing key (options).
  std::string SignerSpki() const;
  // Signs and stores the head (seq, hash); called by the writer only.
  absl::Status SignHead(uint64_t seq, const std::string& hash);
  // SignHead(seq, last_hash_); logs and records a failure (retried after
  // another sign_every_entries entries, and at Close).
  void MaybeSignHead(uint64_t seq);

  // The entries the archive takes, checked against the chain from `anchor`.
  absl::StatusOr<std::vector<audit::v1::AuditEntry>> CollectForArchive(
      const audit::v1::ChainAnchor& anchor, const ArchiveRequest& request, bool* more);
  // Whether `path` holds an archive of this log whose entries were never cut
  // (its last seq lies above the anchor's).
  bool IsUncutArchive(const std::string& path, const audit::v1::ChainAnchor& anchor);

  storage::DatasetStore* const store_;
  const AuditLogOptions options_;
  const Clock* const clock_;

  mutable absl::Mutex mu_;
  std::vector<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t batches_written_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
  bool fail_next_cut_ ABSL_GUARDED_BY(mu_) = false;

  // Held by Archive and Verify: one archive at a time, and Verify never sees
  // a cut halfway through its walk.
  absl::Mutex archive_mu_;

  // Writer-thread state (touched only by the writer thread, and by Open
  // before it starts).
  uint64_t next_seq_ = 1;
  std::string last_hash_ = kGenesisHash;
  uint64_t signed_seq_ = 0;
  uint64_t sign_attempt_seq_ = 0;
  bool unsigned_head_logged_ = false;  // "no key" logged once (writer thread)

  std::thread writer_;
  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(close_mu_);
};

// CanonicalBytes(entry) as defined in the file comment.
std::string CanonicalBytes(const audit::v1::AuditEntry& entry);

// The deterministic wire encoding of `message` (fields in number order).
std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

// Checks `entry` as entry `seq` of a chain whose previous hash is
// `prev_hash`: its hash (ComputeEntryHash), its seq, its prev_hash, in this
// order. Errors: DataLoss "<label> <seq>: hash mismatch (entry changed)",
// "<label> <seq> missing (gap after <seq - 1>)" when it holds a later entry
// and `later_is_gap` (a list without keys, such as an archive), else
// "<label> <seq>: holds entry N (entries reordered)",
// "<label> <seq>: prev_hash does not match the hash of entry <seq - 1> ...".
absl::Status CheckChainEntry(const audit::v1::AuditEntry& entry, uint64_t seq,
                             absl::string_view prev_hash, absl::string_view label,
                             bool later_is_gap);

// hash(entry) given its prev_hash field, as defined in the file comment.
std::string ComputeEntryHash(const audit::v1::AuditEntry& entry);

// The data a head signature signs: "<seq>|<hash>".
std::string HeadSigningData(uint64_t seq, absl::string_view hash);

// One JSON object for export (JSON lines), followed by "\n". Fields in this
// order, with these names; every field is present:
//   {"seq":17,"time":"2024-05-02T08:30:00.000123Z","time_unix_micros":...,
//    "caller":"06531005","peer_address":"ipv4:10.0.0.7:50432",
//    "operation":"federation.Query","dataset_id":"wahl","decision":"allow",
//    "reason":"grant g1","rows_returned":12,"cells_returned":48,
//    "request_id":"r-1","purpose":"statistik","agreement_version":3,
//    "prev_hash":"...","hash":"..."}
// time is RFC 3339 in UTC with microseconds; decision is "unspecified",
// "allow", "deny" or "error"; integers are JSON numbers (uint64; readers in
// JavaScript lose precision above 2^53). Strings are escaped as JSON
// requires; invalid UTF-8 bytes become U+FFFD.
std::string ToJsonLine(const audit::v1::AuditEntry& entry);

}  // namespace fednode::audit
