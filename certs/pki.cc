#include "certs/pki.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certs/openssl_util.h"
#include "node/base/status_macros.h"

namespace fednode::certs {
namespace {

using internal::Asn1IntegerPtr;
using internal::Asn1TimePtr;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;
using internal::GeneralNamePtr;
using internal::GeneralNamesPtr;
using internal::OpenSslError;
using internal::OpenSslInternal;
using internal::X509CrlPtr;
using internal::X509ExtensionPtr;
using internal::X509NamePtr;
using internal::X509Ptr;
using internal::X509RevokedPtr;
using internal::X509StackPtr;
using internal::X509StoreCtxPtr;
using internal::X509StorePtr;

// A CA's certificate and its matching private key.
struct Issuer {
  X509Ptr cert;
  EvpPkeyPtr key;
};

absl::Status CheckValidity(absl::Time not_before, absl::Time not_after) {
  if (not_before == absl::InfinitePast() || not_before == absl::InfiniteFuture() ||
      not_after == absl::InfinitePast() || not_after == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("validity bounds must be finite times");
  }
  if (not_after <= not_before) {
    return absl::InvalidArgumentError("validity: not_after must be later than not_before");
  }
  return absl::OkStatus();
}

bool IsAllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// An AGS (Amtlicher Gemeindeschlüssel) is 8 digits for a municipality; 5
// digits (the county part) name a Kreis.
absl::Status CheckAgs(absl::string_view ags) {
  if ((ags.size() != 5 && ags.size() != 8) || !IsAllDigits(ags)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed AGS \"", ags, "\" (5 or 8 digits)"));
  }
  return absl::OkStatus();
}

// A DNS host name of LDH labels (RFC 1123), 1..63 characters per label and at
// most 253 in all, no wildcards.
absl::Status CheckDnsName(absl::string_view name) {
  const auto malformed = [&] {
    return absl::InvalidArgumentError(absl::StrCat("malformed DNS name \"", name, "\""));
  };
  if (name.empty() || name.size() > 253) return malformed();
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return malformed();
    }
    for (char c : label) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') return malformed();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<EvpPkeyPtr> GenerateP256Key() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return OpenSslInternal("generating a P-256 key");
  }
  return EvpPkeyPtr(raw);
}

// A positive random 127-bit serial number (RFC 5280 §4.1.2.2: at most 20
// octets, unpredictable serials per CA/B Forum practice).
absl::StatusOr<Asn1IntegerPtr> MakeSerial(uint64_t fixed) {
  Asn1IntegerPtr serial(ASN1_INTEGER_new());
  if (serial == nullptr) return OpenSslInternal("allocating a serial number");
  if (fixed != 0) {
    if (ASN1_INTEGER_set_uint64(serial.get(), fixed) != 1) {
      return OpenSslInternal("encoding the serial number");
    }
    return serial;
  }
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return OpenSslInternal("drawing a random serial");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);  // positive, never zero
  internal::BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn.get(), serial.get()) == nullptr) {
    return OpenSslInternal("encoding the serial number");
  }
  return serial;
}

// A subject name "CN=<common_name>[,O=<organization>]" (UTF-8).
absl::StatusOr<X509NamePtr> MakeName(absl::string_view common_name,
                                     absl::string_view organization) {
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr) return OpenSslInternal("allocating a name");
  const auto add = [&](const char* field, absl::string_view value) -> absl::Status {
    if (value.size() > 64 ||
        X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          absl::StrCat("invalid ", field, " (1..64 UTF-8 characters)"));
    }
    return absl::OkStatus();
  };
  if (!organization.empty()) FEDNODE_RETURN_IF_ERROR(add("O", organization));
  FEDNODE_RETURN_IF_ERROR(add("CN", common_name));
  return name;
}

// An unsigned X.509 v3 certificate for `key` named `subject`, issued by
// `issuer_cert` (nullptr: self-issued).
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key, X509_NAME* subject, X509* issuer_cert,
                                       uint64_t serial_number, absl::Time not_before,
                                       absl::Time not_after) {
  FEDNODE_RETURN_IF_ERROR(CheckValidity(not_before, not_after));
  FEDNODE_ASSIGN_OR_RETURN(Asn1IntegerPtr serial, MakeSerial(serial_number));
  FEDNODE_ASSIGN_OR_RETURN(Asn1TimePtr nb, internal::TimeToAsn1Time(not_before));
  FEDNODE_ASSIGN_OR_RETURN(Asn1TimePtr na, internal::TimeToAsn1Time(not_after));
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(cert.get(), serial.get()) != 1 ||
      X509_set_subject_name(cert.get(), subject) != 1 ||
      X509_set_issuer_name(
          cert.get(), issuer_cert != nullptr ? X509_get_subject_name(issuer_cert) : subject) != 1 ||
      X509_set1_notBefore(cert.get(), nb.get()) != 1 ||
      X509_set1_notAfter(cert.get(), na.get()) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslInternal("building the certificate");
  }
  return cert;
}

// Adds an extension given in OpenSSL's config syntax. Only called with
// constant values, never with user input (which could inject config syntax).
absl::Status AddExtension(X509* cert, X509* issuer_cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslInternal(absl::StrCat("adding extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

absl::Status SignCertificate(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) return OpenSslInternal("signing the certificate");
  return absl::OkStatus();
}

absl::StatusOr<KeyAndCert> Encode(EVP_PKEY* key, X509* cert) {
  KeyAndCert out;
  FEDNODE_ASSIGN_OR_RETURN(out.key_pem, internal::PrivateKeyToPem(key));
  FEDNODE_ASSIGN_OR_RETURN(out.cert_pem, internal::CertificateToPem(cert));
  return out;
}

absl::Status KeyMatches(EVP_PKEY* key, X509* cert, absl::string_view what) {
  EVP_PKEY* cert_key = X509_get0_pubkey(cert);
  if (cert_key == nullptr || EVP_PKEY_eq(cert_key, key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat(what, " private key does not match its certificate"));
  }
  return absl::OkStatus();
}

// Parses `issuer` and checks that it is a CA whose key matches.
absl::StatusOr<Issuer> LoadIssuer(const KeyAndCert& issuer) {
  Issuer out;
  FEDNODE_ASSIGN_OR_RETURN(out.cert,
                           internal::ParseCertificate(issuer.cert_pem, "issuer certificate"));
  auto key = internal::ParsePrivateKey(issuer.key_pem);
  if (!key.ok()) return Annotate(key.status(), "issuer");
  out.key = *std::move(key);
  FEDNODE_RETURN_IF_ERROR(KeyMatches(out.key.get(), out.cert.get(), "issuer"));
  if (X509_check_ca(out.cert.get()) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("issuer certificate is not a CA: ",
                     internal::NameToString(X509_get_subject_name(out.cert.get()))));
  }
  return out;
}

absl::Status AddCaExtensions(X509* cert, X509* issuer_cert, bool pathlen_zero) {
  FEDNODE_RETURN_IF_ERROR(
      AddExtension(cert, issuer_cert, NID_basic_constraints,
                   pathlen_zero ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE"));
  FEDNODE_RETURN_IF_ERROR(
      AddExtension(cert, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
  FEDNODE_RETURN_IF_ERROR(AddExtension(cert, issuer_cert, NID_subject_key_identifier, "hash"));
  if (issuer_cert != cert) {
    // RFC 5280 §4.2.1.1 lets a self-signed root omit the authority key id.
    FEDNODE_RETURN_IF_ERROR(
        AddExtension(cert, issuer_cert, NID_authority_key_identifier, "keyid:always"));
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyAndCert> IssueCa(const Issuer* issuer, const CaOptions& options) {
  if (options.common_name.empty()) return absl::InvalidArgumentError("empty CA common name");
  FEDNODE_RETURN_IF_ERROR(CheckValidity(options.not_before, options.not_after));
  FEDNODE_ASSIGN_OR_RETURN(X509NamePtr name, MakeName(options.common_name, options.organization));
  FEDNODE_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : nullptr;
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), name.get(), issuer_cert, 0,
                                                        options.not_before, options.not_after));
  FEDNODE_RETURN_IF_ERROR(AddCaExtensions(
      cert.get(), issuer_cert != nullptr ? issuer_cert : cert.get(), issuer != nullptr));
  FEDNODE_RETURN_IF_ERROR(
      SignCertificate(cert.get(), issuer != nullptr ? issuer->key.get() : key.get()));
  return Encode(key.get(), cert.get());
}

// Appends a GENERAL_NAME of IA5String type `type` (GEN_DNS, GEN_URI).
absl::Status PushIa5Name(GENERAL_NAMES* names, int type, absl::string_view value) {
  GeneralNamePtr gn(GENERAL_NAME_new());
  ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
  if (gn == nullptr || ia5 == nullptr ||
      ASN1_STRING_set(ia5, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(ia5);
    return OpenSslInternal("building a subjectAltName");
  }
  GENERAL_NAME_set0_value(gn.get(), type, ia5);
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) return OpenSslInternal("building subjectAltName");
  gn.release();  // owned by `names`
  return absl::OkStatus();
}

absl::Status PushIpName(GENERAL_NAMES* names, const std::string& ip) {
  ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
  if (octets == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("malformed IP address \"", ip, "\""));
  }
  GeneralNamePtr gn(GENERAL_NAME_new());
  if (gn == nullptr) {
    ASN1_OCTET_STRING_free(octets);
    return OpenSslInternal("building a subjectAltName");
  }
  GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets);
  if (sk_GENERAL_NAME_push(names, gn.get()) <= 0) return OpenSslInternal("building subjectAltName");
  gn.release();
  return absl::OkStatus();
}

absl::StatusOr<std::string> AgsOf(X509* cert) {
  int crit = 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  if (names == nullptr) {
    if (crit == -2) {
      return absl::InvalidArgumentError("certificate has more than one subjectAltName extension");
    }
    if (crit == -1) return absl::InvalidArgumentError("certificate has no subjectAltName");
    return OpenSslError(absl::StatusCode::kInvalidArgument, "malformed subjectAltName");
  }
  std::vector<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = gn->d.uniformResourceIdentifier;
    absl::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                           static_cast<size_t>(ASN1_STRING_length(uri)));
    if (absl::StartsWith(text, kAgsUriPrefix)) {
      found.emplace_back(text.substr(sizeof(kAgsUriPrefix) - 1));
    }
  }
  if (found.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate has no ", kAgsUriPrefix, "<AGS> URI SAN"));
  }
  if (found.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate has ", found.size(), " AGS URI SANs; exactly one is allowed"));
  }
  FEDNODE_RETURN_IF_ERROR(CheckAgs(found.front()));
  return found.front();
}

// Parses each PEM string of `pems` (each may hold several certificates).
absl::StatusOr<std::vector<X509Ptr>> ParseAll(const std::vector<std::string>& pems,
                                              absl::string_view what) {
  std::vector<X509Ptr> out;
  for (const std::string& pem : pems) {
    FEDNODE_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, internal::ParseCertificates(pem, what));
    if (certs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unparseable ", what, " PEM (no certificate)"));
    }
    for (X509Ptr& c : certs) out.push_back(std::move(c));
  }
  return out;
}

// Verification callback: a certificate whose issuer has no CRL among the
// given ones is not checked for revocation (VerifyChain's contract); every
// other error stands.
int VerifyCallback(int ok, X509_STORE_CTX* ctx) {
  if (ok == 0 && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) return 1;
  return ok;
}

std::string TimeText(const ASN1_TIME* t) {
  auto time = internal::Asn1TimeToTime(t);
  if (!time.ok()) return "(malformed time)";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *time, absl::UTCTimeZone());
}

// The status for a failed X509_verify_cert.
absl::Status ChainError(X509_STORE_CTX* ctx) {
  const int err = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
  const int chain_len = chain != nullptr ? sk_X509_num(chain) : 0;
  const std::string subject =
      cert != nullptr ? internal::NameToString(X509_get_subject_name(cert)) : std::string();
  // Errors above the leaf say which CA they concern.
  const std::string where = depth > 0 ? absl::StrCat(" (CA ", subject, ")") : std::string();
  const std::string openssl_text = X509_verify_cert_error_string(err);
  internal::DrainOpenSslErrors();  // X509_V_ERR_* is the precise reason
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::FailedPreconditionError(
          absl::StrCat("certificate expired at ",
                       cert != nullptr ? TimeText(X509_get0_notAfter(cert)) : "?", where));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::FailedPreconditionError(
          absl::StrCat("certificate not yet valid (valid from ",
                       cert != nullptr ? TimeText(X509_get0_notBefore(cert)) : "?", ")", where));
    case X509_V_ERR_CERT_REVOKED:
      if (depth == 0) {
        return absl::FailedPreconditionError(absl::StrCat(
            "certificate revoked (serial ",
            cert != nullptr ? internal::SerialToHex(X509_get0_serialNumber(cert)) : "?", ")"));
      }
      if (depth == chain_len - 1) {
        return absl::FailedPreconditionError(absl::StrCat("root CA revoked", where));
      }
      return absl::FailedPreconditionError(absl::StrCat("intermediate CA revoked", where));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
    case X509_V_ERR_AKID_SKID_MISMATCH:
    case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
      return absl::FailedPreconditionError(
          absl::StrCat("issuer not trusted: ", openssl_text, " for ", subject));
    case X509_V_ERR_CRL_HAS_EXPIRED:
      return absl::FailedPreconditionError(absl::StrCat("crl expired", where));
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return absl::FailedPreconditionError(absl::StrCat("crl not yet valid", where));
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
      return absl::FailedPreconditionError(absl::StrCat("crl signature invalid", where));
    default:
      return absl::FailedPreconditionError(
          absl::StrCat("certificate chain rejected: ", openssl_text, " (depth ", depth, ")"));
  }
}

}  // namespace

absl::StatusOr<KeyAndCert> CreateRootCa(const CaOptions& options) {
  return IssueCa(nullptr, options);
}

absl::StatusOr<KeyAndCert> IssueIntermediateCa(const KeyAndCert& issuer, const CaOptions& options) {
  FEDNODE_ASSIGN_OR_RETURN(Issuer parent, LoadIssuer(issuer));
  if (X509_get_pathlen(parent.cert.get()) == 0) {
    return absl::FailedPreconditionError(
        "issuer CA may not issue CA certificates (pathlen 0); use the root CA");
  }
  return IssueCa(&parent, options);
}

absl::StatusOr<KeyAndCert> IssueNodeCertificate(const KeyAndCert& issuer,
                                                const NodeCertOptions& options) {
  FEDNODE_RETURN_IF_ERROR(CheckAgs(options.ags));
  for (const std::string& dns : options.dns_names) FEDNODE_RETURN_IF_ERROR(CheckDnsName(dns));
  FEDNODE_RETURN_IF_ERROR(CheckValidity(options.not_before, options.not_after));
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return OpenSslInternal("allocating subjectAltName");
  FEDNODE_RETURN_IF_ERROR(
      PushIa5Name(names.get(), GEN_URI, absl::StrCat(kAgsUriPrefix, options.ags)));
  for (const std::string& dns : options.dns_names) {
    FEDNODE_RETURN_IF_ERROR(PushIa5Name(names.get(), GEN_DNS, dns));
  }
  for (const std::string& ip : options.ip_addresses) {
    FEDNODE_RETURN_IF_ERROR(PushIpName(names.get(), ip));
  }
  FEDNODE_ASSIGN_OR_RETURN(Issuer parent, LoadIssuer(issuer));
  const std::string common_name =
      options.common_name.empty() ? absl::StrCat("fednode ", options.ags) : options.common_name;
  FEDNODE_ASSIGN_OR_RETURN(X509NamePtr name, MakeName(common_name, ""));
  FEDNODE_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert,
                           NewCertificate(key.get(), name.get(), parent.cert.get(), options.serial,
                                          options.not_before, options.not_after));
  X509* c = cert.get();
  X509* ic = parent.cert.get();
  FEDNODE_RETURN_IF_ERROR(AddExtension(c, ic, NID_basic_constraints, "critical,CA:FALSE"));
  FEDNODE_RETURN_IF_ERROR(AddExtension(c, ic, NID_key_usage, "critical,digitalSignature"));
  FEDNODE_RETURN_IF_ERROR(AddExtension(c, ic, NID_ext_key_usage, "serverAuth,clientAuth"));
  FEDNODE_RETURN_IF_ERROR(AddExtension(c, ic, NID_subject_key_identifier, "hash"));
  FEDNODE_RETURN_IF_ERROR(AddExtension(c, ic, NID_authority_key_identifier, "keyid:always"));
  if (X509_add1_ext_i2d(c, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslInternal("adding subjectAltName");
  }
  FEDNODE_RETURN_IF_ERROR(SignCertificate(c, parent.key.get()));
  return Encode(key.get(), c);
}

absl::StatusOr<std::string> IssueCrl(const KeyAndCert& issuer,
                                     const std::vector<std::string>& revoked_cert_pems,
                                     absl::Time this_update, absl::Time next_update) {
  FEDNODE_RETURN_IF_ERROR(CheckValidity(this_update, next_update));
  FEDNODE_ASSIGN_OR_RETURN(Issuer ca, LoadIssuer(issuer));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<X509Ptr> revoked,
                           ParseAll(revoked_cert_pems, "revoked certificate"));
  FEDNODE_ASSIGN_OR_RETURN(Asn1TimePtr last, internal::TimeToAsn1Time(this_update));
  FEDNODE_ASSIGN_OR_RETURN(Asn1TimePtr next, internal::TimeToAsn1Time(next_update));
  X509CrlPtr crl(X509_CRL_new());
  if (crl == nullptr || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslInternal("building the CRL");
  }
  std::set<std::string> serials;
  for (const X509Ptr& cert : revoked) {
    const std::string serial = internal::SerialToHex(X509_get0_serialNumber(cert.get()));
    if (X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca.cert.get())) !=
            0 ||
        X509_verify(cert.get(), ca.key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("certificate with serial ", serial, " was not issued by this CA"));
    }
    if (!serials.insert(serial).second) continue;  // listed twice
    X509RevokedPtr entry(X509_REVOKED_new());
    if (entry == nullptr ||
        X509_REVOKED_set_serialNumber(
            entry.get(), const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert.get()))) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), last.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return OpenSslInternal("adding a revoked certificate to the CRL");
    }
    entry.release();  // owned by the CRL
  }
  if (X509_CRL_sort(crl.get()) != 1) return OpenSslInternal("sorting the CRL");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  X509ExtensionPtr akid(
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (akid == nullptr || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1) {
    return OpenSslInternal("adding the CRL's authority key identifier");
  }
  Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (number == nullptr ||
      ASN1_INTEGER_set_int64(number.get(), absl::ToUnixSeconds(this_update)) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslInternal("adding the CRL number");
  }
  if (X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return OpenSslInternal("signing the CRL");
  }
  return internal::CrlToPem(crl.get());
}

absl::StatusOr<std::string> SpkiSha256(absl::string_view cert_pem) {
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificate(cert_pem, "certificate"));
  return internal::SpkiSha256OfCert(cert.get());
}

absl::StatusOr<std::string> AgsFromCertificate(absl::string_view cert_pem) {
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificate(cert_pem, "certificate"));
  return AgsOf(cert.get());
}

absl::StatusOr<std::vector<std::string>> SplitPemCertificates(absl::string_view pem) {
  FEDNODE_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs,
                           internal::ParseCertificates(pem, "certificate"));
  std::vector<std::string> out;
  out.reserve(certs.size());
  for (const X509Ptr& cert : certs) {
    FEDNODE_ASSIGN_OR_RETURN(std::string one, internal::CertificateToPem(cert.get()));
    out.push_back(std::move(one));
  }
  return out;
}

absl::StatusOr<CertInfo> InspectCertificate(absl::string_view cert_pem) {
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificate(cert_pem, "certificate"));
  CertInfo info;
  info.subject = internal::NameToString(X509_get_subject_name(cert.get()));
  info.issuer = internal::NameToString(X509_get_issuer_name(cert.get()));
  FEDNODE_ASSIGN_OR_RETURN(info.not_before,
                           internal::Asn1TimeToTime(X509_get0_notBefore(cert.get())));
  FEDNODE_ASSIGN_OR_RETURN(info.not_after,
                           internal::Asn1TimeToTime(X509_get0_notAfter(cert.get())));
  info.serial_hex = internal::SerialToHex(X509_get0_serialNumber(cert.get()));
  FEDNODE_ASSIGN_OR_RETURN(info.spki_sha256, internal::SpkiSha256OfCert(cert.get()));
  return info;
}

absl::Status VerifyChain(absl::string_view leaf_pem, const std::vector<std::string>& chain_pems,
                         const std::vector<std::string>& trust_anchor_pems,
                         const std::vector<std::string>& crl_pems, absl::Time at) {
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr leaf, internal::ParseCertificate(leaf_pem, "certificate"));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ParseAll(chain_pems, "chain certificate"));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<X509Ptr> anchors,
                           ParseAll(trust_anchor_pems, "trust anchor certificate"));
  if (anchors.empty()) return absl::InvalidArgumentError("no trust anchor given");
  if (at == absl::InfinitePast() || at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("verification time must be finite");
  }
  std::vector<X509CrlPtr> crls;
  for (const std::string& pem : crl_pems) {
    FEDNODE_ASSIGN_OR_RETURN(X509CrlPtr crl, internal::ParseCrl(pem));
    crls.push_back(std::move(crl));
  }

  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) return OpenSslInternal("allocating an X509_STORE");
  for (const X509Ptr& anchor : anchors) {
    if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) {
      return OpenSslInternal("adding a trust anchor");
    }
  }
  for (const X509CrlPtr& crl : crls) {
    if (X509_STORE_add_crl(store.get(), crl.get()) != 1) return OpenSslInternal("adding a CRL");
  }
  X509StackPtr untrusted(sk_X509_new_null());
  if (untrusted == nullptr) return OpenSslInternal("allocating the chain");
  for (X509Ptr& cert : chain) {
    if (sk_X509_push(untrusted.get(), cert.get()) <= 0) {
      return OpenSslInternal("building the chain");
    }
    cert.release();  // owned by `untrusted`
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx == nullptr ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return OpenSslInternal("initialising chain verification");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(at));
  if (!crls.empty()) {
    // CRL_CHECK_ALL checks every certificate of the chain; VerifyCallback
    // skips those whose issuer has no CRL here.
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  X509_STORE_CTX_set_verify_cb(ctx.get(), VerifyCallback);
  ERR_clear_error();
  const int ok = X509_verify_cert(ctx.get());
  if (ok == 1) {
    ERR_clear_error();
    return absl::OkStatus();
  }
  if (ok < 0) return OpenSslInternal("verifying the certificate chain");
  return ChainError(ctx.get());
}

absl::Status CheckKeyMatchesCertificate(absl::string_view key_pem, absl::string_view cert_pem) {
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificate(cert_pem, "certificate"));
  FEDNODE_ASSIGN_OR_RETURN(EvpPkeyPtr key, internal::ParsePrivateKey(key_pem));
  return KeyMatches(key.get(), cert.get(), "the");
}

absl::StatusOr<std::string> Sign(absl::string_view key_pem, absl::string_view data) {
  FEDNODE_ASSIGN_OR_RETURN(EvpPkeyPtr key, internal::ParsePrivateKey(key_pem));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return OpenSslInternal("signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return OpenSslInternal("signing");
  }
  sig.resize(len);
  return sig;
}

absl::Status VerifySignature(absl::string_view cert_pem, absl::string_view data,
                             absl::string_view signature_der) {
  FEDNODE_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificate(cert_pem, "certificate"));
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "certificate key");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return OpenSslInternal("initialising signature verification");
  }
  const int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature_der.data()), signature_der.size(),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  if (ok != 1) {
    // 0: wrong signature; <0: a signature that is not even DER. Both mean
    // the data was not signed by this key.
    ERR_clear_error();
    return absl::PermissionDeniedError("signature does not verify with the certificate's key");
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, int mode) {
  const auto error = [&](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat(
        what, " ", path, ": ", std::strerror(errno)));  // NOLINT(concurrency-mt-unsafe)
  };
  std::string tmp = absl::StrCat(path, ".tmp-XXXXXX");
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return error("creating a temporary file for");
  const auto fail = [&](absl::string_view what) {
    absl::Status status = error(what);
    close(fd);
    unlink(tmp.c_str());
    return status;
  };
  if (fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("setting the mode of");
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("writing");
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("syncing");
  if (close(fd) != 0) {
    absl::Status status = error("closing");
    unlink(tmp.c_str());
    return status;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = error("renaming a temporary file to");
    unlink(tmp.c_str());
    return status;
  }
  // Make the rename durable; a failure here leaves a complete file behind.
  const std::string::size_type slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status CheckCrl(absl::string_view crl_pem, const std::vector<std::string>& issuer_cert_pems) {
  FEDNODE_ASSIGN_OR_RETURN(internal::X509CrlPtr crl, internal::ParseCrl(crl_pem));
  for (const std::string& pem : issuer_cert_pems) {
    absl::StatusOr<internal::X509Ptr> issuer =
        internal::ParseCertificate(pem, "CRL issuer certificate");
    if (!issuer.ok()) continue;
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer->get())) != 0) {
      continue;
    }
    EVP_PKEY* key = X509_get0_pubkey(issuer->get());
    if (key == nullptr || X509_CRL_verify(crl.get(), key) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("CRL signature does not verify with its issuer's key");
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace fednode::certs
