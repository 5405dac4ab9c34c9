// MemberAuthenticator: turns the certificate chain a peer presented in the
// TLS handshake into the member of the current agreement it proves, or the
// reason it proves none. This is the identity that policy sees.
//
// The federation port requests a client certificate but lets this class, not
// gRPC, verify it (GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY): the
// TLS handshake still proves possession of the key (CertificateVerify), and
// every refusal then reaches a handler that can audit it with the peer's
// address — a refusal inside the handshake could not be audited.
//
// A caller is accepted only if (DESIGN.md, "Trust in one paragraph"):
//   1. it presented a certificate;
//   2. the chain verifies to a trust anchor of the current agreement;
//   3. every certificate of the chain is valid now and not revoked (CRLs in
//      the agreement);
//   4. the leaf's SPKI SHA-256 is pinned to a member of the current agreement;
//   5. the AGS in the leaf's URI SAN is that member's AGS.
// Because the check runs per call against the agreement in force, a member
// removed by an amendment is cut off at its next call, not its next
// handshake.
//
// Layer: federation/identity; used by the federation service (server side)
// and the outgoing channels (client side). Safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "node/base/clock.h"
#include "proto/agreement/v1/agreement.pb.h"

namespace fednode::identity {

struct Member {
  std::string ags;
  std::string name;
  uint64_t agreement_version = 0;
  // The leaf certificate's expiry, for the expiry warnings.
  absl::Time not_after;
};

class MemberAuthenticator {
 public:
  // `clock` must outlive this object; it decides "valid now".
  explicit MemberAuthenticator(const Clock* clock) : clock_(clock) {}

  // Installs the agreement in force (after federation/agreement checked its
  // signatures). Later calls are judged against it; cached results of the
  // previous agreement are dropped.
  void SetAgreement(std::shared_ptr<const agreement::v1::Agreement> agreement);
  std::shared_ptr<const agreement::v1::Agreement> agreement() const;

  // The expiry of the certificate member `ags` last authenticated with
  // (either direction). Errors: NotFound when it was not seen yet.
  absl::StatusOr<absl::Time> PeerCertificateExpiry(const std::string& ags) const;

  // Authenticates a peer. `leaf_pem` is the peer's certificate as the TLS
  // layer reports it (empty when the peer sent none); `chain_pem` the full
  // chain it sent (PEM blocks concatenated, leaf first or not; may be empty).
  // `expected_ags`, when non-empty, must be the member found (outgoing calls:
  // the member expected at that endpoint).
  // Errors: Unauthenticated, with the reason as the message: "no client
  // certificate", "no agreement installed", "certificate ...: issuer not
  // trusted", "... expired at ...", "... not yet valid", "... revoked",
  // "key <pin> is not pinned to any member of agreement <id> v<N>",
  // "certificate names AGS <x> but its key is pinned to member <y>",
  // "peer is member <x>, expected <y>". The messages name no key material
  // beyond the public pin.
  absl::StatusOr<Member> Authenticate(absl::string_view leaf_pem, absl::string_view chain_pem,
                                      absl::string_view expected_ags = "") const;

 private:
  struct Cached {
    absl::StatusOr<Member> result;
    absl::Time valid_from;
    absl::Time valid_until;
  };

  absl::StatusOr<Member> Verify(const agreement::v1::Agreement& agreement,
                                absl::string_view leaf_pem, absl::string_view chain_pem,
                                absl::Time now, absl::Time* valid_from,
                                absl::Time* valid_until) const;

  const Clock* clock_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const agreement::v1::Agreement> agreement_ ABSL_GUARDED_BY(mu_);
  // Leaf and chain PEM -> verification result under agreement_, valid while now is
  // inside [valid_from, valid_until] (the chain's common validity window).
  mutable absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, absl::Time> seen_not_after_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fednode::identity
