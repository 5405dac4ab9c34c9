#include "node/audit/audit_log.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "nlohmann/json.hpp"

#include "certs/digest.h"
#include "certs/pki.h"
#include "node/audit/audit_archive.h"
#include "node/base/log.h"
#include "node/base/status_macros.h"

namespace fednode::audit {
namespace {

using audit::v1::AuditEntry;
using audit::v1::HeadSignature;

// Length of a chain hash: SHA-256 in hex.
constexpr size_t kHashHexBytes = 64;
// Records read per storage call while walking the log.
constexpr size_t kReadChunk = 4096;
// Largest valid AuditLogOptions::max_batch_entries.
constexpr size_t kMaxBatchEntries = 1'000'000;

// hash = SHA-256(prev_hash || canonical bytes), where `canonical` already has
// prev_hash and hash cleared.
std::string ChainHash(absl::string_view prev_hash, absl::string_view canonical) {
  return certs::Sha256HexOfParts({prev_hash, canonical});
}

// SerializeDeterministic(message), in a string with room for `spare` more
// bytes. Sized first and written in one piece (a growing StringOutputStream
// asked for more room several times per entry).
std::string EncodeDeterministic(const google::protobuf::MessageLite& message, size_t spare) {
  const size_t size = message.ByteSizeLong();
  std::string out;
  out.reserve(size + spare);
  out.resize(size);
  google::protobuf::io::ArrayOutputStream stream(out.data(), static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
  return out;
}

// Room for a length-delimited field's tag and length (two varints).
constexpr size_t kFieldHeaderBytes = 2 * 5;  // a 32-bit varint takes at most 5 bytes

// Appends `value` as a length-delimited field `field` of the protobuf wire
// format: the tag (field << 3 | 2) and the length as varints, then the bytes.
void AppendStringField(uint32_t field, absl::string_view value, std::string* out) {
  uint8_t buf[kFieldHeaderBytes];
  uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      google::protobuf::internal::WireFormatLite::MakeTag(
          static_cast<int>(field),
          google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED),
      buf);
  end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
      static_cast<uint32_t>(value.size()), end);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
  out->append(value.data(), value.size());
}

// Whether prev_hash and hash carry the two highest field numbers of
// AuditEntry. Then the deterministic encoding of a complete entry without
// unknown fields is its canonical bytes followed by those two fields (fields
// in number order, unknown fields last), and the writer builds the stored
// value that way instead of encoding the entry a second time.
bool HashFieldsAreLast() {
  static const bool last = [] {
    const google::protobuf::Descriptor* d = AuditEntry::descriptor();
    int highest = 0;
    for (int i = 0; i < d->field_count(); ++i) {
      const google::protobuf::FieldDescriptor* f = d->field(i);
      if (f->number() != AuditEntry::kPrevHashFieldNumber &&
          f->number() != AuditEntry::kHashFieldNumber) {
        highest = std::max(highest, f->number());
      }
    }
    return AuditEntry::kPrevHashFieldNumber < AuditEntry::kHashFieldNumber &&
           highest < AuditEntry::kPrevHashFieldNumber;
  }();
  return last;
}

absl::string_view DecisionName(audit::v1::Decision d) {
  switch (d) {
    case audit::v1::DECISION_ALLOW:
      return "allow";
    case audit::v1::DECISION_DENY:
      return "deny";
    case audit::v1::DECISION_ERROR:
      return "error";
    default:
      return "unspecified";
  }
}

absl::Status EntryError(uint64_t seq, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("audit entry ", seq, what));
}

}  // namespace

std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  return EncodeDeterministic(message, 0);
}

absl::Status CheckChainEntry(const AuditEntry& entry, uint64_t seq, absl::string_view prev_hash,
                             absl::string_view label, bool later_is_gap) {
  if (ComputeEntryHash(entry) != entry.hash()) {
    return absl::DataLossError(absl::StrCat(label, " ", seq, ": hash mismatch (entry changed)"));
  }
  if (entry.seq() != seq) {
    if (later_is_gap && entry.seq() > seq) {
      return absl::DataLossError(
          absl::StrCat(label, " ", seq, " missing (gap after ", seq - 1, ")"));
    }
    return absl::DataLossError(
        absl::StrCat(label, " ", seq, ": holds entry ", entry.seq(), " (entries reordered)"));
  }
  if (entry.prev_hash() != prev_hash) {
    return absl::DataLossError(
        absl::StrCat(label, " ", seq, ": prev_hash does not match the hash of entry ", seq - 1,
                     " (entry ", seq - 1, " changed or chain broken)"));
  }
  return absl::OkStatus();
}

std::string CanonicalBytes(const AuditEntry& entry) {
  AuditEntry copy = entry;
  copy.clear_prev_hash();
  copy.clear_hash();
  return SerializeDeterministic(copy);
}

std::string ComputeEntryHash(const AuditEntry& entry) {
  return ChainHash(entry.prev_hash(), CanonicalBytes(entry));
}

std::string HeadSigningData(uint64_t seq, absl::string_view hash) {
  return absl::StrCat(seq, "|", hash);
}

std::string ToJsonLine(const AuditEntry& entry) {
  nlohmann::ordered_json j;
  j["seq"] = entry.seq();
  j["time"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                               absl::FromUnixMicros(entry.time_unix_micros()), absl::UTCTimeZone());
  j["time_unix_micros"] = entry.time_unix_micros();
  j["caller"] = entry.caller();
  j["peer_address"] = entry.peer_address();
  j["operation"] = entry.operation();
  j["dataset_id"] = entry.dataset_id();
  j["decision"] = std::string(DecisionName(entry.decision()));
  j["reason"] = entry.reason();
  j["rows_returned"] = entry.rows_returned();
  j["cells_returned"] = entry.cells_returned();
  j["request_id"] = entry.request_id();
  j["purpose"] = entry.purpose();
  j["agreement_version"] = entry.agreement_version();
  j["prev_hash"] = entry.prev_hash();
  j["hash"] = entry.hash();
  // error_handler_t::replace: invalid UTF-8 becomes U+FFFD instead of an
  // exception.
  std::string line = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

// One caller's entry while it waits for the writer. Lives on the caller's
// stack; the writer fills entry.seq and status before it notifies done, and
// the caller reads them only after done (each caller waits on its own
// notification, so waking one caller evaluates no other caller's wait).
struct AuditLog::Pending {
  AuditEntry entry;
  // Set by Archive: the entry is written in one batch with this cut.
  const storage::DatasetStore::AuditCut* cut = nullptr;
  absl::Status status;
  absl::Notification done;
  // AppendAsync: called by the writer, which then deletes the Pending.
  AppendDone on_done;
};

AuditLog::AuditLog(storage::DatasetStore* store, const AuditLogOptions& options, const Clock* clock)
    : store_(store), options_(options), clock_(clock != nullptr ? clock : SystemClock::Get()) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(storage::DatasetStore* store,
                                                         const AuditLogOptions& options,
                                                         const Clock* clock) {
  if (store == nullptr) {
    return absl::InvalidArgumentError("audit log: store is null");
  }
  if (options.max_batch_entries == 0 || options.max_batch_entries > kMaxBatchEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit log: max_batch_entries must be in 1..", kMaxBatchEntries));
  }
  if (options.max_pending_entries == 0) {
    return absl::InvalidArgumentError("audit log: max_pending_entries must be at least 1");
  }
  std::unique_ptr<AuditLog> log(new AuditLog(store, options, clock));

  FEDNODE_ASSIGN_OR_RETURN(std::optional<storage::DatasetStore::AuditRecord> last,
                           store->LastAudit());
  uint64_t last_seq = 0;
  if (last.has_value()) {
    AuditEntry entry;
    if (!entry.ParseFromString(last->second)) {
      return EntryError(last->first, ": unparseable (opening the audit log)");
    }
    if (entry.seq() != last->first) {
      return EntryError(last->first,
                        absl::StrCat(": holds entry ", entry.seq(), " (opening the audit log)"));
    }
    last_seq = last->first;
    log->next_seq_ = last_seq + 1;
    log->last_hash_ = entry.hash();
  } else {
    // Nothing stored: the chain continues from the anchor (the genesis when
    // nothing was archived).
    FEDNODE_ASSIGN_OR_RETURN(audit::v1::ChainAnchor anchor, log->Anchor());
    last_seq = anchor.seq();
    log->next_seq_ = anchor.seq() + 1;
    log->last_hash_ = AnchorHash(anchor);
  }
  FEDNODE_ASSIGN_OR_RETURN(std::optional<storage::DatasetStore::AuditRecord> head,
                           store->LastAuditHead());
  if (head.has_value()) {
    log->signed_seq_ = std::min(head->first, last_seq);
    if (head->first > last_seq) {
      FEDNODE_LOG(ERROR) << "audit log ends at entry " << last_seq << " but head " << head->first
                         << " is signed: the log was truncated";
    }
  }
  log->sign_attempt_seq_ = log->signed_seq_;
  {
    absl::MutexLock lock(&log->mu_);
    log->durable_seq_ = last_seq;
  }
  log->writer_ = std::thread([raw = log.get()] { raw->WriterLoop(); });
  return log;
}

AuditLog::~AuditLog() {
  absl::Status s = Close();
  if (!s.ok()) {
    FEDNODE_LOG(ERROR) << "closing the audit log: " << s;
  }
}

absl::StatusOr<uint64_t> AuditLog::Append(AuditEntry entry) {
  return Enqueue(std::move(entry), nullptr);
}

bool AuditLog::Push(Pending* p) {
  auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closing_ || queue_.size() < options_.max_pending_entries;
  };
  if (!has_room()) mu_.Await(absl::Condition(&has_room));
  if (closing_) return false;
  // Time at enqueue, under mu_: queue order = seq order, so times do not
  // decrease along the chain.
  p->entry.set_time_unix_micros(absl::ToUnixMicros(clock_->Now()));
  queue_.push_back(p);
  return true;
}

absl::StatusOr<uint64_t> AuditLog::Enqueue(AuditEntry entry,
                                           const storage::DatasetStore::AuditCut* cut) {
  Pending p;
  p.entry = std::move(entry);
  p.cut = cut;
  {
    absl::MutexLock lock(&mu_);
    if (!Push(&p)) {
      return absl::FailedPreconditionError("audit log is closed");
    }
  }
  p.done.WaitForNotification();
  if (!p.status.ok()) {
    return p.status;
  }
  return p.entry.seq();
}

void AuditLog::AppendAsync(AuditEntry entry, AppendDone done) {
  auto p = std::make_unique<Pending>();
  p->entry = std::move(entry);
  p->on_done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    if (Push(p.get())) {
      p.release();  // the writer deletes it
      return;
    }
  }
  std::move(p->on_done)(absl::FailedPreconditionError("audit log is closed"));
}

void AuditLog::WriterLoop() {
  std::vector<Pending*> batch;
  std::vector<Pending*> async;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return (!queue_.empty() && !paused_) || (closing_ && queue_.empty());
      };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) {
        break;  // closing, drained
      }
      if (queue_.size() <= options_.max_batch_entries) {
        batch.swap(queue_);  // queue_ keeps the emptied batch's capacity
      } else {
        const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(options_.max_batch_entries);
        batch.assign(queue_.begin(), end);
        queue_.erase(queue_.begin(), end);
      }
    }
    const absl::Status s = WriteBatch(batch);
    uint64_t durable = 0;
    {
      absl::MutexLock lock(&mu_);
      ++batches_written_;
      if (s.ok()) {
        durable_seq_ = next_seq_ - 1;
      } else if (first_error_.ok()) {
        first_error_ = s;
      }
      durable = durable_seq_;
    }
    // last_seq() covers the batch before any of its callers returns.
    for (Pending* p : batch) {
      if (p->on_done) {
        async.push_back(p);  // not waited on: the writer owns it
        continue;
      }
      p->status = s;
      p->done.Notify();  // from here on the waiting caller may free *p
    }
    batch.clear();
    for (Pending* p : async) {
      absl::StatusOr<uint64_t> result = p->entry.seq();
      if (!s.ok()) result = s;
      std::move(p->on_done)(std::move(result));
      delete p;
    }
    async.clear();
    // Periodic head signature, after the callers are released.
    if (s.ok() && options_.sign_head && options_.sign_every_entries > 0 &&
        durable - sign_attempt_seq_ >= options_.sign_every_entries) {
      MaybeSignHead(durable);
    }
  }
  uint64_t durable = 0;
  {
    absl::MutexLock lock(&mu_);
    durable = durable_seq_;
  }
  if (options_.sign_head && durable > signed_seq_) {
    MaybeSignHead(durable);
  }
}

void AuditLog::MaybeSignHead(uint64_t seq) {
  sign_attempt_seq_ = seq;
  const absl::Status s = SignHead(seq, last_hash_);
  if (absl::IsFailedPrecondition(s)) {
    // No key to sign with (yet): the head stays unsigned, which Verify
    // reports as such; no error.
    if (!unsigned_head_logged_) {
      FEDNODE_LOG(INFO) << "audit heads are not signed: " << s.message();
      unsigned_head_logged_ = true;
    }
    return;
  }
  if (!s.ok()) {
    FEDNODE_LOG(WARNING) << "signing the audit head at " << seq << ": " << s;
    absl::MutexLock lock(&mu_);
    if (first_error_.ok()) {
      first_error_ = s;
    }
  }
}

absl::Status AuditLog::WriteBatch(const std::vector<Pending*>& batch) {
  std::vector<storage::DatasetStore::AuditRecord> records;
  records.reserve(batch.size());
  uint64_t seq = next_seq_;
  std::string prev = last_hash_;
  const bool append_hash_fields = HashFieldsAreLast();
  for (Pending* p : batch) {
    AuditEntry& e = p->entry;
    e.set_seq(seq);
    e.clear_prev_hash();
    e.clear_hash();
    // CanonicalBytes(e), with room for the two hash fields.
    std::string bytes = EncodeDeterministic(e, 2 * (kFieldHeaderBytes + kHashHexBytes));
    std::string hash = ChainHash(prev, bytes);
    if (append_hash_fields && e.GetReflection()->GetUnknownFields(e).empty()) {
      // The encoding of the complete entry: prev_hash and hash come last,
      // each present unless empty (proto3 omits an empty string).
      if (!prev.empty()) AppendStringField(AuditEntry::kPrevHashFieldNumber, prev, &bytes);
      AppendStringField(AuditEntry::kHashFieldNumber, hash, &bytes);
    } else {
      e.set_prev_hash(prev);
      e.set_hash(hash);
      bytes = SerializeDeterministic(e);
    }
    records.emplace_back(seq, std::move(bytes));
    prev = std::move(hash);
    ++seq;
  }
  const storage::DatasetStore::AuditCut* cut = nullptr;
  for (const Pending* p : batch) {
    if (p->cut != nullptr) cut = p->cut;  // at most one: Archive runs alone
  }
  if (cut != nullptr) {
    absl::MutexLock lock(&mu_);
    if (fail_next_cut_) {
      fail_next_cut_ = false;
      return absl::UnavailableError("cutting the audit log: failed for the test");
    }
  }
  FEDNODE_RETURN_IF_ERROR(store_->AppendAudit(records, cut));
  next_seq_ = seq;
  last_hash_ = std::move(prev);
  return absl::OkStatus();
}

std::string AuditLog::SignerSpki() const {
  return options_.current_signer_spki_sha256 ? options_.current_signer_spki_sha256()
                                             : options_.signer_spki_sha256;
}

absl::Status AuditLog::SignHead(uint64_t seq, const std::string& hash) {
  FEDNODE_ASSIGN_OR_RETURN(std::string signature, options_.sign_head(HeadSigningData(seq, hash)));
  HeadSignature head;
  head.set_seq(seq);
  head.set_hash(hash);
  head.set_time_unix_micros(absl::ToUnixMicros(clock_->Now()));
  head.set_spki_sha256(SignerSpki());
  head.set_signature_base64(absl::Base64Escape(signature));
  FEDNODE_RETURN_IF_ERROR(store_->PutAuditHead(seq, SerializeDeterministic(head)));
  signed_seq_ = seq;
  return absl::OkStatus();
}

absl::Status AuditLog::Verify(uint64_t* entries_checked) {
  absl::MutexLock archive_lock(&archive_mu_);
  uint64_t checked = 0;
  absl::Cleanup report = [&] {
    if (entries_checked != nullptr) {
      *entries_checked = checked;
    }
  };
  // Heads first, then the limit: every head written so far lies at or below
  // the limit unless entries were removed.
  std::vector<HeadSignature> heads;
  for (uint64_t from = 1;;) {
    FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::DatasetStore::AuditRecord> records,
                             store_->ReadAuditHeads(from, kReadChunk));
    for (const auto& [seq, bytes] : records) {
      HeadSignature head;
      if (!head.ParseFromString(bytes) || head.seq() != seq) {
        return absl::DataLossError(
            absl::StrCat("audit head signature at ", seq, ": unparseable or misplaced"));
      }
      heads.push_back(std::move(head));
    }
    if (records.size() < kReadChunk) {
      break;
    }
    from = records.back().first + 1;
  }
  uint64_t limit = 0;
  {
    absl::MutexLock lock(&mu_);
    limit = durable_seq_;
  }
  uint64_t max_head = heads.empty() ? 0 : heads.back().seq();
  limit = std::max(limit, max_head);

  // The chain starts at the anchor; a cut removed the heads up to it.
  FEDNODE_ASSIGN_OR_RETURN(audit::v1::ChainAnchor anchor, Anchor());
  FEDNODE_RETURN_IF_ERROR(CheckAnchor(anchor, options_.verify_head));
  size_t head_index = 0;
  while (head_index < heads.size() && heads[head_index].seq() <= anchor.seq()) ++head_index;
  const uint64_t first = anchor.seq() + 1;
  uint64_t expected = first;
  std::string prev = AnchorHash(anchor);
  auto check_head = [&](uint64_t seq, const std::string& hash) -> absl::Status {
    for (; head_index < heads.size() && heads[head_index].seq() <= seq; ++head_index) {
      const HeadSignature& head = heads[head_index];
      if (head.seq() < seq) {
        continue;  // unreachable: the entry at head.seq() was checked before
      }
      if (head.hash() != hash) {
        return absl::DataLossError(
            absl::StrCat("audit head signature at ", seq, ": hash does not match entry ", seq));
      }
      if (options_.verify_head) {
        std::string signature;
        if (!absl::Base64Unescape(head.signature_base64(), &signature)) {
          return absl::DataLossError(
              absl::StrCat("audit head signature at ", seq, ": signature is not base64"));
        }
        absl::Status s =
            options_.verify_head(HeadSigningData(seq, hash), signature, head.spki_sha256());
        if (!s.ok()) {
          return absl::DataLossError(absl::StrCat("audit head signature at ", seq,
                                                  ": signature does not verify: ", s.message()));
        }
      }
    }
    return absl::OkStatus();
  };

  bool done = false;
  while (!done && expected <= limit) {
    FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::DatasetStore::AuditRecord> records,
                             store_->ReadAudit(expected, kReadChunk));
    done = records.size() < kReadChunk;
    for (const auto& [seq, bytes] : records) {
      if (seq > limit) {
        done = true;
        break;
      }
      if (seq != expected) {
        if (expected != first) {
          return EntryError(expected, absl::StrCat(" missing (gap after ", expected - 1, ")"));
        }
        return EntryError(expected,
                          anchor.seq() == 0
                              ? absl::StrCat(" missing (log starts at ", seq, ")")
                              : absl::StrCat(" missing (log starts at ", seq,
                                             "; the chain anchor is at ", anchor.seq(), ")"));
      }
      AuditEntry entry;
      if (!entry.ParseFromString(bytes)) {
        return EntryError(seq, ": unparseable (entry changed)");
      }
      FEDNODE_RETURN_IF_ERROR(CheckChainEntry(entry, seq, prev, "audit entry", false));
      ++checked;
      FEDNODE_RETURN_IF_ERROR(check_head(seq, entry.hash()));
      prev = entry.hash();
      ++expected;
    }
  }
  if (expected <= limit) {
    const uint64_t last = expected - 1;
    if (max_head > last) {
      return EntryError(expected, absl::StrCat(" missing (log ends at ", last, ", but head ",
                                               max_head, " is signed)"));
    }
    return EntryError(expected, absl::StrCat(" missing (log ends at ", last, ", but ", limit,
                                             " entries were written)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<audit::v1::ChainAnchor> AuditLog::Anchor() {
  FEDNODE_ASSIGN_OR_RETURN(std::string bytes, store_->GetAuditAnchor());
  return ParseAnchor(bytes);
}

absl::StatusOr<std::vector<AuditEntry>> AuditLog::CollectForArchive(
    const audit::v1::ChainAnchor& anchor, const ArchiveRequest& request, bool* more) {
  uint64_t limit = last_seq();
  if (request.through_seq > 0) limit = std::min(limit, request.through_seq);
  const int64_t before = absl::ToUnixMicros(request.before);
  std::vector<AuditEntry> out;
  uint64_t expected = anchor.seq() + 1;
  std::string prev = AnchorHash(anchor);
  *more = false;
  while (expected <= limit) {
    FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::DatasetStore::AuditRecord> records,
                             store_->ReadAudit(expected, kReadChunk));
    if (records.empty()) {
      return EntryError(expected, absl::StrCat(" missing (log ends at ", expected - 1, ")"));
    }
    for (const auto& [seq, bytes] : records) {
      if (seq > limit) return out;
      if (seq != expected) {
        return EntryError(expected, absl::StrCat(" missing (gap after ", expected - 1, ")"));
      }
      AuditEntry entry;
      if (!entry.ParseFromString(bytes)) {
        return EntryError(seq, ": unparseable (entry changed)");
      }
      if (entry.time_unix_micros() >= before) return out;
      if (out.size() >= kMaxArchiveEntries) {
        *more = true;
        return out;
      }
      FEDNODE_RETURN_IF_ERROR(CheckChainEntry(entry, seq, prev, "audit entry", false));
      prev = entry.hash();
      out.push_back(std::move(entry));
      ++expected;
    }
  }
  return out;
}

bool AuditLog::IsUncutArchive(const std::string& path, const audit::v1::ChainAnchor& anchor) {
  absl::StatusOr<audit::v1::AuditArchive> existing = ReadArchiveFile(path);
  return existing.ok() && existing->statement().first_seq() == anchor.seq() + 1 &&
         existing->statement().last_seq() > anchor.seq();
}

absl::StatusOr<ArchiveResult> AuditLog::Archive(const ArchiveRequest& request) {
  if (!options_.sign_head) {
    return absl::FailedPreconditionError(
        "archiving the audit log needs the node key to sign the archive (a federation block "
        "with key_file and cert_file, and an installed agreement)");
  }
  if (request.path.empty() || request.path.front() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("archive file \"", request.path, "\" must be an absolute path"));
  }
  absl::MutexLock archive_lock(&archive_mu_);
  FEDNODE_ASSIGN_OR_RETURN(audit::v1::ChainAnchor anchor, Anchor());
  FEDNODE_RETURN_IF_ERROR(CheckAnchor(anchor, options_.verify_head));
  ArchiveResult result;
  absl::StatusOr<std::vector<AuditEntry>> entries =
      CollectForArchive(anchor, request, &result.more);
  if (absl::IsDataLoss(entries.status())) {
    return absl::DataLossError(absl::StrCat(entries.status().message(), "; nothing archived"));
  }
  if (!entries.ok()) return entries.status();
  if (entries->empty()) return result;
  std::error_code ec;
  if (std::filesystem::exists(request.path, ec) && !IsUncutArchive(request.path, anchor)) {
    return absl::AlreadyExistsError(
        absl::StrCat("archive file ", request.path, " exists; choose another name"));
  }

  audit::v1::AuditArchive archive;
  audit::v1::ArchiveStatement& st = *archive.mutable_statement();
  st.set_format(kArchiveFormat);
  st.set_member_ags(request.member_ags);
  st.set_first_seq(entries->front().seq());
  st.set_last_seq(entries->back().seq());
  st.set_count(entries->size());
  st.set_prev_hash(AnchorHash(anchor));
  st.set_last_hash(entries->back().hash());
  st.set_first_time_unix_micros(entries->front().time_unix_micros());
  st.set_last_time_unix_micros(entries->back().time_unix_micros());
  st.set_created_unix_micros(absl::ToUnixMicros(clock_->Now()));
  st.set_spki_sha256(SignerSpki());
  FEDNODE_ASSIGN_OR_RETURN(std::string signature, options_.sign_head(ArchiveSigningData(st)));
  archive.set_signature_base64(absl::Base64Escape(signature));
  for (AuditEntry& e : *entries) *archive.add_entries() = std::move(e);
  const std::string bytes = SerializeArchive(archive);
  // Durable before anything is cut.
  FEDNODE_RETURN_IF_ERROR(certs::WriteFileAtomically(request.path, bytes, 0600));
  result.count = st.count();
  result.first_seq = st.first_seq();
  result.last_seq = st.last_seq();
  result.last_hash = st.last_hash();
  result.path = request.path;
  result.file_sha256 = certs::Sha256Hex(bytes);

  audit::v1::ChainAnchor next;
  next.set_seq(st.last_seq());
  next.set_hash(st.last_hash());
  next.set_archive_file(request.path);
  next.set_archive_sha256(result.file_sha256);
  *next.mutable_statement() = st;
  next.set_signature_base64(archive.signature_base64());
  const storage::DatasetStore::AuditCut cut{st.last_seq(), SerializeDeterministic(next)};
  AuditEntry record = request.record;
  record.set_decision(audit::v1::DECISION_ALLOW);
  record.set_rows_returned(st.count());
  record.set_reason(absl::StrCat("archived entries ", st.first_seq(), "..", st.last_seq(), " to ",
                                 request.path, " (sha256 ", result.file_sha256, ")"));
  const std::string reason = record.reason();
  FEDNODE_ASSIGN_OR_RETURN(result.record_seq, Enqueue(std::move(record), &cut));
  FEDNODE_LOG(INFO) << "audit log: " << reason;
  return result;
}

absl::StatusOr<std::vector<AuditEntry>> AuditLog::Read(uint64_t from_seq, size_t limit) {
  FEDNODE_ASSIGN_OR_RETURN(std::vector<storage::DatasetStore::AuditRecord> records,
                           store_->ReadAudit(from_seq, limit));
  std::vector<AuditEntry> out;
  out.reserve(records.size());
  for (const auto& [seq, bytes] : records) {
    AuditEntry entry;
    if (!entry.ParseFromString(bytes)) {
      return EntryError(seq, ": unparseable");
    }
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<std::vector<AuditEntry>> AuditLog::Tail(size_t n) {
  const uint64_t last = last_seq();
  const uint64_t from = last >= n ? last - n + 1 : 1;
  return Read(from, std::min<uint64_t>(n, last - from + 1));
}

uint64_t AuditLog::last_seq() const {
  absl::MutexLock lock(&mu_);
  return durable_seq_;
}

absl::Status AuditLog::Close() {
  absl::MutexLock close_lock(&close_mu_);
  if (closed_) {
    return close_status_;
  }
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    paused_ = false;
  }
  if (writer_.joinable()) {
    writer_.join();
  }
  closed_ = true;
  absl::MutexLock lock(&mu_);
  close_status_ = first_error_;
  return close_status_;
}

uint64_t AuditLog::BatchesWrittenForTest() const {
  absl::MutexLock lock(&mu_);
  return batches_written_;
}

void AuditLog::PauseWriterForTest() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void AuditLog::ResumeWriterForTest() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

void AuditLog::FailNextCutForTest() {
  absl::MutexLock lock(&mu_);
  fail_next_cut_ = true;
}

void AuditLog::WaitForQueuedForTest(size_t n) {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.size() >= n; };
  mu_.Await(absl::Condition(&enough));
}

}  // namespace fednode::audit
