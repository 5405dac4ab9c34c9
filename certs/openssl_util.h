// RAII owners and small helpers for OpenSSL 3 objects, shared by the files of
// certs/ (internal to certs/: nothing outside certs/ includes OpenSSL).
//
// Every helper that can fail returns absl::Status(Or) with the OpenSSL error
// queue drained into the message, following the mapping of STYLE.md §3:
// unparseable PEM → InvalidArgument, other OpenSSL failures → Internal.
//
// Functions are safe for concurrent use (OpenSSL's error queue is per thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace fednode::certs::internal {

// Deleter calling the matching OpenSSL free function.
template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509, X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter<X509_CRL, X509_CRL_free>>;
using X509RevokedPtr =
    std::unique_ptr<X509_REVOKED, OpenSslDeleter<X509_REVOKED, X509_REVOKED_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslDeleter<X509_NAME, X509_NAME_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY, EVP_PKEY_free>>;
using EvpPkeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter<ASN1_TIME, ASN1_TIME_free>>;
using Asn1IntegerPtr =
    std::unique_ptr<ASN1_INTEGER, OpenSslDeleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BIGNUM, BN_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using GeneralNamePtr =
    std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME, GENERAL_NAME_free>>;

// Owner of a STACK_OF(X509) holding references (freed with X509_free each).
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

// Removes every entry of this thread's OpenSSL error queue and returns them
// joined by "; " (empty when the queue was empty). Entries are OpenSSL's
// library/reason strings; they never contain key material.
std::string DrainOpenSslErrors();

// A status with `code` and message "<what>: <drained error queue>" (or just
// `what` when the queue is empty).
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// Shortcut for OpenSslError(kInternal, what): an OpenSSL call that should not
// fail on valid input failed.
absl::Status OpenSslInternal(absl::string_view what);

// A read-only memory BIO over `data` (which must outlive the BIO).
// Errors: InvalidArgument when `data` is larger than INT_MAX bytes.
absl::StatusOr<BioPtr> MemoryBio(absl::string_view data);

// The contents of a memory BIO as a string.
std::string BioContents(BIO* bio);

// The first certificate in `pem`. `what` names the input in errors
// ("certificate", "issuer certificate").
// Errors: InvalidArgument when `pem` holds no parseable certificate.
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem, absl::string_view what);

// Every certificate in `pem`, in order (zero when there is none).
// Errors: InvalidArgument when a PEM block does not parse.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem,
                                                       absl::string_view what);

// The first CRL in `pem`. Errors: InvalidArgument when none parses.
absl::StatusOr<X509CrlPtr> ParseCrl(absl::string_view pem);

// A private key (PKCS#8 or traditional PEM, unencrypted; an encrypted key is
// refused without prompting). Errors: InvalidArgument when it does not parse.
absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem);

// PEM text of a certificate / PKCS#8 private key / CRL.
absl::StatusOr<std::string> CertificateToPem(X509* cert);
absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key);
absl::StatusOr<std::string> CrlToPem(X509_CRL* crl);

// An ASN1_TIME (UTCTime/GeneralizedTime) as an absl::Time (UTC).
// Errors: InvalidArgument when it is malformed.
absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* t);

// A new ASN1_TIME for `t` (second precision; sub-seconds are dropped).
// Errors: InvalidArgument for a time outside year 0000..9999.
absl::StatusOr<Asn1TimePtr> TimeToAsn1Time(absl::Time t);

// An X509_NAME in RFC 2253 form with UTF-8 kept as is ("CN=Gießen,O=...").
std::string NameToString(const X509_NAME* name);

// A serial number as lower-case hex without leading zeros ("0" for zero).
std::string SerialToHex(const ASN1_INTEGER* serial);

// SHA-256 of the DER SubjectPublicKeyInfo of `cert`'s key (64 hex digits).
absl::StatusOr<std::string> SpkiSha256OfCert(X509* cert);

}  // namespace fednode::certs::internal
