// FederationHost: the federation side of a node — the agreement in force,
// the node's TLS identity, peer authentication and authorization, and the
// audit of every cross-boundary request. The FederationService (gRPC
// adapter) asks it who a caller is and what it may do.
//
// Agreement lifecycle: the first agreement is installed by hand (`fedctl
// agreement install FILE --fingerprint HEX`): its fingerprint must match what
// the operator compared with the other members, and it must carry valid
// signatures. A later version replaces it only through CheckAmendment
// (signatures the current version requires, never a lower version). The
// signed agreement is stored in the node's meta column family and loaded at
// start.
//
// Layer: node/server. Safe for concurrent use.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "federation/identity/member_authenticator.h"
#include "federation/identity/tls_credentials.h"
#include "federation/policy/policy.h"
#include "node/base/clock.h"
#include "node/server/rate_limiter.h"
#include "node/storage/dataset_store.h"
#include "proto/agreement/v1/agreement.pb.h"
#include "proto/audit/v1/audit.pb.h"
#include "proto/config/v1/node_config.pb.h"

namespace fednode::server {

// Node metadata key (DatasetStore::GetMeta) of the signed agreement in
// force, as its textproto.
inline constexpr char kAgreementMetaKey[] = "agreement";

// The signed agreement stored in `store`; nullopt when none is installed.
// Read-only stores (backups, --check-config) work too.
// Errors: DataLoss when it does not parse; storage errors of GetMeta.
absl::StatusOr<std::optional<agreement::v1::SignedAgreement>> LoadStoredAgreement(
    storage::DatasetStore* store);

// Where audit entries go. Append returns once the entry is durable.
using AuditAppender = std::function<absl::Status(audit::v1::AuditEntry)>;
// The same without waiting: calls `done` once the entry is durable (or with
// the error), on another thread (audit::AuditLog::AppendAsync).
using AsyncAuditAppender =
    std::function<void(audit::v1::AuditEntry, absl::AnyInvocable<void(absl::Status) &&> done)>;

class FederationHost {
 public:
  // `store`, `clock` must outlive the host. `audit` is called for every
  // request and denial. Loads the stored agreement, if any.
  // Errors: DataLoss when the stored agreement does not parse.
  static absl::StatusOr<std::unique_ptr<FederationHost>> Create(
      const config::v1::NodeConfig& config, storage::DatasetStore* store, const Clock* clock,
      AuditAppender audit);

  // The signed agreement in force, or nullptr.
  std::shared_ptr<const agreement::v1::SignedAgreement> agreement() const;

  // Installs the first agreement (text of the signed agreement file).
  // Errors: FailedPrecondition when one is installed already (use Update) or
  // the fingerprint differs; errors of agreement::CheckInitial.
  absl::Status Install(absl::string_view text, absl::string_view fingerprint);
  // Replaces the agreement with an amendment.
  // Errors: FailedPrecondition without an installed agreement; errors of
  // agreement::CheckAmendment (signatures, version).
  absl::Status Update(absl::string_view text);

  // What UpdateFromFile did.
  struct FileUpdate {
    // The agreement of the file is in force now.
    bool installed = false;
    // One line for the log, e.g. "agreement kv-test v2 from /etc/fednode/
    // agreement.textproto installed" or "... v1 ignored: not newer than v2
    // in force".
    std::string detail;
  };
  // Reads the signed agreement file `path` (config federation.agreement_file)
  // and installs it through Update when its version is newer than the one in
  // force; an older or equal version, or no agreement installed yet (the
  // first one is installed by hand, with its fingerprint), is ignored.
  // Errors: NotFound/Unavailable when the file cannot be read (naming it);
  // errors of agreement::ParseAgreement and Update (signatures, validity),
  // prefixed with the file name. The agreement in force stays on error.
  absl::StatusOr<FileUpdate> UpdateFromFile(const std::string& path);

  // Loads and checks the TLS credentials against the agreement in force.
  // Errors: as identity::LoadOwnCredentials; FailedPrecondition without an
  // agreement or federation config.
  absl::Status ReloadCredentials();

  const identity::CredentialStager* stager() const { return stager_.get(); }
  const identity::MemberAuthenticator* authenticator() const { return &authenticator_; }
  const std::string& own_ags() const { return config_.member_ags(); }
  const Clock* clock() const { return clock_; }

  // Authenticates a caller from the certificate it presented; on refusal
  // appends the audit entry (caller "unauthenticated", the reason) itself —
  // at most at federation.refusal_audit_rate_limit per source address; the
  // refusals beyond it are counted into the next entry for that address.
  absl::StatusOr<identity::Member> Authenticate(absl::string_view leaf_pem,
                                                absl::string_view chain_pem,
                                                const std::string& peer_address,
                                                const std::string& operation,
                                                const std::string& request_id);

  // Admits one call of an authenticated member under its rate limit
  // (config federation.member_rate_limit).
  // Errors: ResourceExhausted "rate limit: ..." when the member exceeds it;
  // the refusal is audited here (DENY) before it is returned.
  absl::Status AdmitMember(const std::string& ags, const std::string& peer_address,
                           const std::string& operation, const std::string& request_id);

  // Appends `entry` (with the agreement version in force when it has none)
  // and returns once it is durable. Errors: the audit log's.
  absl::Status Audit(audit::v1::AuditEntry entry);
  // Audit without waiting: `done` gets the result once the entry is durable,
  // on the audit log's thread; `done` must not block. Without an
  // asynchronous appender (set_async_audit) it appends with the blocking
  // one and calls `done` on this thread.
  void AuditAsync(audit::v1::AuditEntry entry, absl::AnyInvocable<void(absl::Status) &&> done);
  // Sets the asynchronous appender; call before the federation port opens.
  void set_async_audit(AsyncAuditAppender audit_async) { audit_async_ = std::move(audit_async); }

 private:
  FederationHost(config::v1::NodeConfig config, storage::DatasetStore* store, const Clock* clock,
                 AuditAppender audit);
  // Sets the entry's agreement version to the one in force when it has none.
  void StampAgreement(audit::v1::AuditEntry* entry) const;
  absl::Status Adopt(agreement::v1::SignedAgreement signed_agreement, absl::string_view text);

  config::v1::NodeConfig config_;
  storage::DatasetStore* store_;
  const Clock* clock_;
  AuditAppender audit_;
  AsyncAuditAppender audit_async_;
  identity::MemberAuthenticator authenticator_;
  std::unique_ptr<identity::CredentialStager> stager_;
  RateLimiter member_limiter_;
  RateLimiter refusal_audit_limiter_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const agreement::v1::SignedAgreement> agreement_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fednode::server
