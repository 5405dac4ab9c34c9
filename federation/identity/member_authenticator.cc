#include "federation/identity/member_authenticator.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "certs/pki.h"

namespace fednode::identity {
namespace {

// Cache bound: a federation has tens of members with a few keys each; more
// distinct chains than this are an attack or a bug, so the cache restarts.
constexpr size_t kMaxCacheEntries = 1024;

absl::Status Refuse(absl::string_view reason) { return absl::UnauthenticatedError(reason); }

}  // namespace

void MemberAuthenticator::SetAgreement(std::shared_ptr<const agreement::v1::Agreement> agreement) {
  absl::MutexLock lock(&mu_);
  agreement_ = std::move(agreement);
  cache_.clear();
}

std::shared_ptr<const agreement::v1::Agreement> MemberAuthenticator::agreement() const {
  absl::MutexLock lock(&mu_);
  return agreement_;
}

absl::StatusOr<absl::Time> MemberAuthenticator::PeerCertificateExpiry(
    const std::string& ags) const {
  absl::MutexLock lock(&mu_);
  auto it = seen_not_after_.find(ags);
  if (it == seen_not_after_.end()) return absl::NotFoundError(absl::StrCat(ags, " not seen yet"));
  return it->second;
}

absl::StatusOr<Member> MemberAuthenticator::Authenticate(absl::string_view leaf_pem,
                                                         absl::string_view chain_pem,
                                                         absl::string_view expected_ags) const {
  if (leaf_pem.empty()) return Refuse("no client certificate");
  const absl::Time now = clock_->Now();
  std::shared_ptr<const agreement::v1::Agreement> agreement;
  // The certificates themselves are the key (compared in full, not by a
  // digest: hashing a 3 KB chain with SHA-256 on every call cost more than
  // the lookup; kMaxCacheEntries bounds the memory). The leaf's length
  // keeps the split between leaf and chain unambiguous.
  const std::string key = absl::StrCat(leaf_pem.size(), ":", leaf_pem, chain_pem);
  {
    absl::MutexLock lock(&mu_);
    agreement = agreement_;
    if (agreement == nullptr) return Refuse("no agreement installed");
    auto it = cache_.find(key);
    if (it != cache_.end() && now >= it->second.valid_from && now <= it->second.valid_until) {
      absl::StatusOr<Member> r = it->second.result;
      if (r.ok() && !expected_ags.empty() && r->ags != expected_ags) {
        return Refuse(absl::StrCat("peer is member ", r->ags, ", expected ", expected_ags));
      }
      return r;
    }
  }
  absl::Time valid_from = absl::InfinitePast();
  absl::Time valid_until = absl::InfiniteFuture();
  absl::StatusOr<Member> result =
      Verify(*agreement, leaf_pem, chain_pem, now, &valid_from, &valid_until);
  {
    absl::MutexLock lock(&mu_);
    if (result.ok()) seen_not_after_[result->ags] = result->not_after;
    if (agreement_ == agreement) {  // not replaced meanwhile
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();
      // Refusals for time reasons are not cached beyond "now".
      if (!result.ok()) valid_from = valid_until = now;
      cache_[key] = Cached{result, valid_from, valid_until};
    }
  }
  if (result.ok() && !expected_ags.empty() && result->ags != expected_ags) {
    return Refuse(absl::StrCat("peer is member ", result->ags, ", expected ", expected_ags));
  }
  return result;
}

absl::StatusOr<Member> MemberAuthenticator::Verify(const agreement::v1::Agreement& agreement,
                                                   absl::string_view leaf_pem,
                                                   absl::string_view chain_pem, absl::Time now,
                                                   absl::Time* valid_from,
                                                   absl::Time* valid_until) const {
  // Intermediates: every certificate the peer sent other than its leaf.
  absl::StatusOr<std::string> leaf_pin = certs::SpkiSha256(leaf_pem);
  if (!leaf_pin.ok())
    return Refuse(absl::StrCat("unreadable client certificate: ", leaf_pin.status().message()));
  absl::StatusOr<std::vector<std::string>> chain_certs = certs::SplitPemCertificates(chain_pem);
  if (!chain_certs.ok()) {
    return Refuse(absl::StrCat("unreadable certificate chain: ", chain_certs.status().message()));
  }
  std::vector<std::string> intermediates;
  for (std::string& pem : *chain_certs) {
    absl::StatusOr<std::string> pin = certs::SpkiSha256(pem);
    if (pin.ok() && *pin == *leaf_pin) continue;
    intermediates.push_back(std::move(pem));
  }
  std::vector<std::string> anchors(agreement.trust_anchors_pem().begin(),
                                   agreement.trust_anchors_pem().end());
  std::vector<std::string> crls(agreement.crls_pem().begin(), agreement.crls_pem().end());
  absl::Status chain = certs::VerifyChain(leaf_pem, intermediates, anchors, crls, now);
  if (!chain.ok()) {
    return Refuse(absl::StrCat("client certificate refused: ", chain.message()));
  }
  // The window in which this verdict stays true: the intersection of the
  // validity periods of the leaf and the intermediates.
  absl::Time leaf_not_after = absl::InfiniteFuture();
  for (size_t i = 0; i <= intermediates.size(); ++i) {
    absl::string_view pem = i == 0 ? leaf_pem : absl::string_view(intermediates[i - 1]);
    absl::StatusOr<certs::CertInfo> info = certs::InspectCertificate(pem);
    if (!info.ok()) return Refuse("unreadable certificate in the client's chain");
    *valid_from = std::max(*valid_from, info->not_before);
    *valid_until = std::min(*valid_until, info->not_after);
    if (i == 0) leaf_not_after = info->not_after;
  }
  const agreement::v1::Member* pinned = nullptr;
  for (const auto& m : agreement.members()) {
    for (const auto& pin : m.spki_sha256()) {
      if (pin == *leaf_pin) pinned = &m;
    }
  }
  if (pinned == nullptr) {
    return Refuse(absl::StrCat("key ", *leaf_pin, " is not pinned to any member of agreement ",
                               agreement.agreement_id(), " v", agreement.version()));
  }
  absl::StatusOr<std::string> ags = certs::AgsFromCertificate(leaf_pem);
  if (!ags.ok()) {
    return Refuse(absl::StrCat("certificate names no member: ", ags.status().message()));
  }
  if (*ags != pinned->ags()) {
    return Refuse(absl::StrCat("certificate names AGS ", *ags, " but its key is pinned to member ",
                               pinned->ags()));
  }
  Member m;
  m.ags = pinned->ags();
  m.name = pinned->name();
  m.agreement_version = agreement.version();
  m.not_after = leaf_not_after;
  return m;
}

}  // namespace fednode::identity
