#include "node/server/federation_host.h"

#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

#include "federation/agreement/agreement.h"
#include "node/base/log.h"
#include "node/base/status_macros.h"

namespace fednode::server {
namespace {

// The host part of a gRPC peer string ("ipv4:127.0.0.1:54321" ->
// "ipv4:127.0.0.1", "ipv6:[::1]:443" -> "ipv6:[::1]"): the key of the
// refusal-audit limit, so that new connections from one host share it.
std::string SourceAddress(absl::string_view peer) {
  const size_t colon = peer.rfind(':');
  const size_t scheme = peer.find(':');
  if (colon == absl::string_view::npos || colon == scheme) return std::string(peer);
  return std::string(peer.substr(0, colon));
}

}  // namespace

FederationHost::FederationHost(config::v1::NodeConfig config, storage::DatasetStore* store,
                               const Clock* clock, AuditAppender audit)
    : config_(std::move(config)),
      store_(store),
      clock_(clock),
      audit_(std::move(audit)),
      authenticator_(clock),
      member_limiter_(
          {static_cast<double>(config_.federation().member_rate_limit().per_second()),
           static_cast<double>(config_.federation().member_rate_limit().burst()), 10000},
          clock),
      refusal_audit_limiter_(
          {static_cast<double>(config_.federation().refusal_audit_rate_limit().per_second()),
           static_cast<double>(config_.federation().refusal_audit_rate_limit().burst()), 10000},
          clock) {}

absl::StatusOr<std::unique_ptr<FederationHost>> FederationHost::Create(
    const config::v1::NodeConfig& config, storage::DatasetStore* store, const Clock* clock,
    AuditAppender audit) {
  auto host =
      std::unique_ptr<FederationHost>(new FederationHost(config, store, clock, std::move(audit)));
  if (config.has_federation()) {
    identity::TlsFiles files{config.federation().key_file(), config.federation().cert_file(),
                             config.federation().chain_file()};
    host->stager_ = std::make_unique<identity::CredentialStager>(config.data_dir() + "/tls", files,
                                                                 config.member_ags());
  }
  FEDNODE_ASSIGN_OR_RETURN(std::optional<agreement::v1::SignedAgreement> stored,
                           LoadStoredAgreement(store));
  if (stored.has_value()) {
    absl::MutexLock lock(&host->mu_);
    auto shared = std::make_shared<agreement::v1::SignedAgreement>(*std::move(stored));
    host->authenticator_.SetAgreement(
        std::shared_ptr<const agreement::v1::Agreement>(shared, &shared->agreement()));
    host->agreement_ = shared;
  }
  return host;
}

absl::StatusOr<std::optional<agreement::v1::SignedAgreement>> LoadStoredAgreement(
    storage::DatasetStore* store) {
  absl::StatusOr<std::string> stored = store->GetMeta(kAgreementMetaKey);
  if (absl::IsNotFound(stored.status())) return std::nullopt;
  if (!stored.ok()) return stored.status();
  absl::StatusOr<agreement::v1::SignedAgreement> parsed =
      agreement::ParseAgreement(*stored, "stored agreement");
  if (!parsed.ok()) {
    return absl::DataLossError(
        absl::StrCat("the stored agreement does not parse: ", parsed.status().message()));
  }
  return *std::move(parsed);
}

std::shared_ptr<const agreement::v1::SignedAgreement> FederationHost::agreement() const {
  absl::MutexLock lock(&mu_);
  return agreement_;
}

absl::Status FederationHost::Adopt(agreement::v1::SignedAgreement signed_agreement,
                                   absl::string_view text) {
  // Our own membership: the agreement must name this node's member.
  if (agreement::FindMember(signed_agreement.agreement(), own_ags()) == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "agreement ", signed_agreement.agreement().agreement_id(), " v",
        signed_agreement.agreement().version(), " does not name this node's member ", own_ags()));
  }
  // Never adopt an agreement under which this node itself could not talk:
  // its own key unpinned, its certificate revoked or not under an anchor.
  if (stager_ != nullptr) {
    identity::TlsFiles files{config_.federation().key_file(), config_.federation().cert_file(),
                             config_.federation().chain_file()};
    absl::Status own =
        identity::LoadOwnCredentials(files, signed_agreement.agreement(), own_ags(), clock_->Now())
            .status();
    if (!own.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("agreement ", signed_agreement.agreement().agreement_id(), " v",
                       signed_agreement.agreement().version(),
                       " not installed: this node's own credentials would not be accepted under "
                       "it: ",
                       own.message()));
    }
  }
  FEDNODE_RETURN_IF_ERROR(store_->PutMeta(kAgreementMetaKey, text));
  auto shared = std::make_shared<agreement::v1::SignedAgreement>(std::move(signed_agreement));
  {
    absl::MutexLock lock(&mu_);
    agreement_ = shared;
  }
  authenticator_.SetAgreement(
      std::shared_ptr<const agreement::v1::Agreement>(shared, &shared->agreement()));
  FEDNODE_LOG(INFO) << "agreement " << shared->agreement().agreement_id() << " v"
                    << shared->agreement().version() << " in force (fingerprint "
                    << agreement::Fingerprint(shared->agreement()) << ")";
  if (stager_ != nullptr) {
    absl::Status reload = ReloadCredentials();
    if (!reload.ok()) FEDNODE_LOG(ERROR) << "TLS credentials: " << reload.message();
  }
  return absl::OkStatus();
}

absl::Status FederationHost::Install(absl::string_view text, absl::string_view fingerprint) {
  if (agreement() != nullptr) {
    return absl::FailedPreconditionError(
        "an agreement is installed already; amendments go through `fedctl agreement update`");
  }
  FEDNODE_ASSIGN_OR_RETURN(agreement::v1::SignedAgreement parsed,
                           agreement::ParseAgreement(text, "agreement"));
  FEDNODE_RETURN_IF_ERROR(agreement::CheckInitial(parsed, fingerprint, clock_->Now()));
  return Adopt(std::move(parsed), text);
}

absl::Status FederationHost::Update(absl::string_view text) {
  std::shared_ptr<const agreement::v1::SignedAgreement> current = agreement();
  if (current == nullptr) {
    return absl::FailedPreconditionError(
        "no agreement installed yet; install the first one by hand with `fedctl agreement "
        "install FILE --fingerprint HEX`");
  }
  FEDNODE_ASSIGN_OR_RETURN(agreement::v1::SignedAgreement parsed,
                           agreement::ParseAgreement(text, "agreement"));
  FEDNODE_RETURN_IF_ERROR(agreement::CheckAmendment(*current, parsed, clock_->Now()));
  return Adopt(std::move(parsed), text);
}

absl::StatusOr<FederationHost::FileUpdate> FederationHost::UpdateFromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("agreement file ", path, " cannot be read"));
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  absl::StatusOr<agreement::v1::SignedAgreement> parsed = agreement::ParseAgreement(text, path);
  if (!parsed.ok()) return parsed.status();
  const agreement::v1::Agreement& a = parsed->agreement();
  const std::string name =
      absl::StrCat("agreement ", a.agreement_id(), " v", a.version(), " from ", path);
  std::shared_ptr<const agreement::v1::SignedAgreement> current = agreement();
  if (current == nullptr) {
    return FileUpdate{false, absl::StrCat(name,
                                          " ignored: no agreement is installed yet; install "
                                          "the first one with `fedctl agreement install "
                                          "FILE --fingerprint HEX`")};
  }
  if (a.version() <= current->agreement().version()) {
    return FileUpdate{false, absl::StrCat(name, " ignored: not newer than v",
                                          current->agreement().version(), " in force")};
  }
  absl::Status updated = Update(text);
  if (!updated.ok()) {
    return absl::Status(updated.code(), absl::StrCat(name, ": ", updated.message()));
  }
  return FileUpdate{true, absl::StrCat(name, " installed")};
}

absl::Status FederationHost::ReloadCredentials() {
  if (stager_ == nullptr) {
    return absl::FailedPreconditionError("the config has no federation block");
  }
  std::shared_ptr<const agreement::v1::SignedAgreement> current = agreement();
  if (current == nullptr) return absl::FailedPreconditionError("no agreement installed");
  return stager_->Reload(current->agreement(), clock_->Now());
}

void FederationHost::StampAgreement(audit::v1::AuditEntry* entry) const {
  std::shared_ptr<const agreement::v1::SignedAgreement> current = agreement();
  if (current != nullptr && entry->agreement_version() == 0) {
    entry->set_agreement_version(current->agreement().version());
  }
}

absl::Status FederationHost::Audit(audit::v1::AuditEntry entry) {
  if (!audit_) return absl::OkStatus();
  StampAgreement(&entry);
  return audit_(std::move(entry));
}

void FederationHost::AuditAsync(audit::v1::AuditEntry entry,
                                absl::AnyInvocable<void(absl::Status) &&> done) {
  if (!audit_async_) {
    std::move(done)(Audit(std::move(entry)));
    return;
  }
  StampAgreement(&entry);
  audit_async_(std::move(entry), std::move(done));
}

absl::StatusOr<identity::Member> FederationHost::Authenticate(absl::string_view leaf_pem,
                                                              absl::string_view chain_pem,
                                                              const std::string& peer_address,
                                                              const std::string& operation,
                                                              const std::string& request_id) {
  absl::StatusOr<identity::Member> member = authenticator_.Authenticate(leaf_pem, chain_pem);
  if (!member.ok()) {
    // One entry per refusal up to the limit per source address; beyond it
    // the refusals are counted and the count goes into the next entry.
    const std::string source = SourceAddress(peer_address);
    if (!refusal_audit_limiter_.Allow(source)) return member;
    std::string reason(member.status().message());
    const uint64_t unlogged = refusal_audit_limiter_.TakeRefusedCount(source);
    if (unlogged > 0) {
      absl::StrAppend(&reason, " (and ", unlogged, " earlier refusals from ", source,
                      " not audited one by one: more than ",
                      config_.federation().refusal_audit_rate_limit().per_second(), "/s)");
    }
    audit::v1::AuditEntry e;
    e.set_caller("unauthenticated");
    e.set_peer_address(peer_address);
    e.set_operation(operation);
    e.set_decision(audit::v1::DECISION_DENY);
    e.set_reason(reason);
    e.set_request_id(request_id);
    absl::Status logged = Audit(std::move(e));
    if (!logged.ok()) return logged;  // no answer leaves without its audit entry
    FEDNODE_LOG(WARNING) << "refused " << peer_address << " (" << operation << "): " << reason;
  }
  return member;
}

absl::Status FederationHost::AdmitMember(const std::string& ags, const std::string& peer_address,
                                         const std::string& operation,
                                         const std::string& request_id) {
  if (member_limiter_.Allow(ags)) return absl::OkStatus();
  const auto& limit = config_.federation().member_rate_limit();
  const std::string reason =
      absl::StrCat("rate limit: member ", ags, " exceeds ", limit.per_second(), " calls/s (burst ",
                   limit.burst(), "); retry later");
  audit::v1::AuditEntry e;
  e.set_caller(ags);
  e.set_peer_address(peer_address);
  e.set_operation(operation);
  e.set_decision(audit::v1::DECISION_DENY);
  e.set_reason(reason);
  e.set_request_id(request_id);
  FEDNODE_RETURN_IF_ERROR(Audit(std::move(e)));
  return absl::ResourceExhaustedError(reason);
}

}  // namespace fednode::server
