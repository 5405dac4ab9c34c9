// The node's own TLS identity for the federation port and its outgoing
// calls: loading and checking the key, certificate and chain files, staging
// them for gRPC so that a rotation takes effect without a restart, and the
// gRPC credentials for both directions.
//
// Rotation: the operator replaces the files (or sends SIGHUP); Reload()
// validates the new set (parses, key matches certificate, chain verifies to a
// trust anchor of the agreement in force) and only then swaps it into the
// staging directory, atomically (a new generation directory and a renamed
// symlink), where gRPC's FileWatcherCertificateProvider picks it up: calls in
// flight finish on their connection, new handshakes use the new certificate.
// A half-written or mismatched set leaves the old credentials in use and the
// reason is logged.
//
// TLS versions: gRPC 1.51's C++ API offers no minimum-version setting; its
// default negotiates TLS 1.3 and accepts 1.2 at least.
//
// Layer: federation/identity. Safe for concurrent use.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

#include "federation/identity/member_authenticator.h"

namespace fednode::identity {

struct TlsFiles {
  std::string key_file;    // PKCS#8 PEM, mode 0600
  std::string cert_file;   // the node's certificate (PEM)
  std::string chain_file;  // intermediate CA certificates (PEM), may be empty
};

struct OwnCredentials {
  std::string key_pem;
  std::string cert_pem;
  std::string chain_pem;
  std::string ags;          // from the URI SAN
  std::string spki_sha256;  // the pin to put into the agreement
  absl::Time not_after;
};

// Reads and checks the node's credentials against `agreement` at `now`:
// the key matches the certificate; the chain verifies to one of the
// agreement's trust anchors (so the chain is complete); the certificate names
// `expected_ags`; its key is pinned for that member in `agreement`.
// Errors: NotFound for a missing file; InvalidArgument for unparseable PEM or
// a key that does not match; FailedPrecondition for a key file readable by
// group or others (mode & 077), an incomplete or
// untrusted chain, an expired or revoked certificate, another member's AGS,
// an unpinned key, or an agreement without trust anchors.
absl::StatusOr<OwnCredentials> LoadOwnCredentials(const TlsFiles& files,
                                                  const agreement::v1::Agreement& agreement,
                                                  absl::string_view expected_ags, absl::Time now);

class CredentialStager {
 public:
  // `staging_dir` is created (mode 0700). The first Reload must succeed.
  CredentialStager(std::string staging_dir, TlsFiles files, std::string expected_ags);

  // Loads, checks and (when changed) installs the files. Errors as
  // LoadOwnCredentials; on error the installed credentials stay.
  absl::Status Reload(const agreement::v1::Agreement& agreement, absl::Time now);

  // Paths gRPC watches.
  std::string key_path() const;
  std::string cert_path() const;  // certificate followed by the chain
  OwnCredentials current() const;

 private:
  std::string staging_dir_;
  TlsFiles files_;
  std::string expected_ags_;
  mutable absl::Mutex mu_;
  OwnCredentials current_ ABSL_GUARDED_BY(mu_);
  std::string installed_digest_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

// How often gRPC re-reads the staged files. 1 s: a rotation is live within
// a second of Reload.
inline constexpr unsigned int kCredentialRefreshSeconds = 1;

// Server credentials for the federation port: TLS with the staged identity;
// a client certificate is requested but verified by MemberAuthenticator per
// call (see member_authenticator.h for why).
std::shared_ptr<grpc::ServerCredentials> FederationServerCredentials(
    const CredentialStager& stager);

// Channel credentials for calling `expected_ags`: presents the staged
// identity and accepts the server only when MemberAuthenticator finds it to
// be `expected_ags` under the agreement in force. `authenticator` must
// outlive the channel.
std::shared_ptr<grpc::ChannelCredentials> FederationChannelCredentials(
    const CredentialStager& stager, const MemberAuthenticator* authenticator,
    std::string expected_ags);

}  // namespace fednode::identity
