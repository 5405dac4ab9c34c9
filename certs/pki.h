// The federation's X.509 toolkit (OpenSSL 3 EVP/X509 APIs; never the openssl
// command): a root CA, intermediate CAs, node certificates naming the member's
// AGS, CRLs, SPKI SHA-256 pins, chain verification with revocation, and
// ECDSA P-256 signatures. certs/ is the only place that includes OpenSSL.
//
// Identity in a node certificate: the member's AGS as a URI SAN
// "urn:fednode:ags:<AGS>" (exactly one), plus DNS and IP SANs for the
// endpoint. Keys are ECDSA P-256 (prime256v1), signatures ECDSA with SHA-256
// (FIPS 186-4), certificates X.509 v3 (RFC 5280).
//
// All PEM in and out is text; private keys are PKCS#8 PEM. Functions are
// pure and safe for concurrent use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fednode::certs {

// URI SAN prefix naming a member: "urn:fednode:ags:06531005".
inline constexpr char kAgsUriPrefix[] = "urn:fednode:ags:";

struct KeyAndCert {
  std::string key_pem;  // PKCS#8 private key; write with mode 0600, never log
  std::string cert_pem;
};

struct CaOptions {
  // Subject common name, e.g. "Föderation Landkreis Gießen Root CA".
  std::string common_name;
  std::string organization;
  absl::Time not_before;
  absl::Time not_after;
};

// A self-signed root CA (basicConstraints CA:TRUE, keyCertSign, cRLSign).
// Errors: InvalidArgument for an empty name or not_after <= not_before;
// Internal when OpenSSL fails (its error queue in the message).
absl::StatusOr<KeyAndCert> CreateRootCa(const CaOptions& options);

// An intermediate CA signed by `issuer` (pathlen 0, so it issues node
// certificates only), with a fresh P-256 key.
// Errors: as CreateRootCa; InvalidArgument when issuer's key does not match
// its certificate or either does not parse; FailedPrecondition when `issuer`
// is not a CA or may not issue CA certificates (pathlen 0).
absl::StatusOr<KeyAndCert> IssueIntermediateCa(const KeyAndCert& issuer, const CaOptions& options);

struct NodeCertOptions {
  std::string ags;          // 5 or 8 digits
  std::string common_name;  // e.g. "fednode 06531005 Gießen"
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // "127.0.0.1", "::1"
  absl::Time not_before;
  absl::Time not_after;
  // Serial number; 0 = random 128-bit.
  uint64_t serial = 0;
};

// A node (leaf) certificate for TLS client and server auth, signed by
// `issuer`, with a fresh P-256 key.
// Errors: InvalidArgument for a malformed AGS, DNS name, IP or validity;
// InvalidArgument when issuer's key does not match its certificate;
// FailedPrecondition when `issuer` is not a CA.
absl::StatusOr<KeyAndCert> IssueNodeCertificate(const KeyAndCert& issuer,
                                                const NodeCertOptions& options);

// A CRL of `issuer` revoking the given certificates (PEM), valid from
// this_update to next_update (X.509 v2 CRL with CRL number = this_update in
// Unix seconds, so later CRLs get larger numbers; revocation date =
// this_update). An empty list gives a valid CRL revoking nothing.
// Errors: InvalidArgument when a certificate does not parse or was not issued
// by `issuer`, when next_update <= this_update, or when issuer's key does not
// match its certificate.
absl::StatusOr<std::string> IssueCrl(const KeyAndCert& issuer,
                                     const std::vector<std::string>& revoked_cert_pems,
                                     absl::Time this_update, absl::Time next_update);

// SHA-256 of the DER SubjectPublicKeyInfo of the certificate's key, as 64
// lower-case hex digits (the "SPKI pin", as in RFC 7469's pin-sha256 but hex).
// Errors: InvalidArgument for unparseable PEM.
absl::StatusOr<std::string> SpkiSha256(absl::string_view cert_pem);

// The AGS named by the certificate's URI SAN.
// Errors: InvalidArgument when there is none or more than one.
absl::StatusOr<std::string> AgsFromCertificate(absl::string_view cert_pem);

// The certificates of a PEM bundle (chain.crt, a list of revoked
// certificates), one PEM string each, in the bundle's order; text outside the
// PEM blocks is ignored. An input without any block gives an empty vector.
// Errors: InvalidArgument when a block does not parse.
absl::StatusOr<std::vector<std::string>> SplitPemCertificates(absl::string_view pem);

// Validity of a certificate.
struct CertInfo {
  std::string subject;
  std::string issuer;
  absl::Time not_before;
  absl::Time not_after;
  std::string serial_hex;
  std::string spki_sha256;
};
// Subject and issuer are RFC 2253 strings (UTF-8 kept), serial_hex lower-case
// hex, spki_sha256 as SpkiSha256. Errors: InvalidArgument for unparseable PEM.
absl::StatusOr<CertInfo> InspectCertificate(absl::string_view cert_pem);

// Verifies `leaf_pem` with its `chain_pems` (intermediates) up to one of
// `trust_anchor_pems` at time `at`, checking validity periods and, for every
// certificate of the chain, revocation against `crl_pems` (CRLs of issuers
// not given are not checked).
// CRLs must be X.509 v2 CRLs signed by the issuer they name; a CRL that is
// expired or not yet valid at `at` fails the check (fail closed).
// Errors: FailedPrecondition with the reason: "certificate expired at ...",
// "certificate not yet valid", "certificate revoked", "intermediate CA
// revoked", "issuer not trusted" (another CA, a sibling intermediate),
// "crl expired"/"crl not yet valid"/"crl signature invalid", or another
// X509_V_ERR text; messages of an error above the leaf name the CA's subject.
// InvalidArgument for unparseable PEM or no trust anchor.
absl::Status VerifyChain(absl::string_view leaf_pem, const std::vector<std::string>& chain_pems,
                         const std::vector<std::string>& trust_anchor_pems,
                         const std::vector<std::string>& crl_pems, absl::Time at);

// Checks that `crl_pem` is one parseable CRL (X.509 v2, RFC 5280 §5) and,
// when one of `issuer_cert_pems` carries its issuer's name, that it is
// signed by that issuer's key. CRLs of intermediates not given are only
// parsed.
// Errors: InvalidArgument for unparseable PEM or a bad signature.
absl::Status CheckCrl(absl::string_view crl_pem, const std::vector<std::string>& issuer_cert_pems);

// Checks that `key_pem` is the private key of `cert_pem`.
// Errors: InvalidArgument when it is not, or either does not parse.
absl::Status CheckKeyMatchesCertificate(absl::string_view key_pem, absl::string_view cert_pem);

// ECDSA P-256 / SHA-256 signature (DER, as ECDSA-Sig-Value) of `data` with
// `key_pem`. Errors: InvalidArgument when the key does not parse.
absl::StatusOr<std::string> Sign(absl::string_view key_pem, absl::string_view data);

// Verifies a signature made by Sign with the key of `cert_pem`.
// Errors: PermissionDenied when the signature does not verify;
// InvalidArgument for unparseable input.
absl::Status VerifySignature(absl::string_view cert_pem, absl::string_view data,
                             absl::string_view signature_der);

// Writes `data` to `path` atomically (temporary file + rename) with `mode`
// (0600 for keys; the mode is set with fchmod, so the umask does not widen or
// narrow it). An existing file at `path` is replaced; callers that must not
// overwrite check first. Errors: Unavailable with errno's text.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode);

}  // namespace fednode::certs
