#include "certs/openssl_util.h"

#include <climits>
#include <cstring>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <openssl/err.h>
#include <openssl/pem.h>

#include "certs/digest.h"

namespace fednode::certs::internal {
namespace {

// A PEM password callback that supplies no password, so OpenSSL never
// prompts on the terminal for an encrypted key; decryption then fails.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

// True when the last queued error is PEM's "no start line", which is how
// PEM_read_bio_* reports that the input is exhausted.
bool AtEndOfPem() {
  unsigned long err = ERR_peek_last_error();
  return ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
}

}  // namespace

std::string DrainOpenSslErrors() {
  std::vector<std::string> parts;
  const char* file = nullptr;
  int line = 0;
  const char* func = nullptr;
  const char* data = nullptr;
  int flags = 0;
  for (unsigned long err = ERR_get_error_all(&file, &line, &func, &data, &flags); err != 0;
       err = ERR_get_error_all(&file, &line, &func, &data, &flags)) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    std::string part = buf;
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      absl::StrAppend(&part, " (", data, ")");
    }
    parts.push_back(std::move(part));
  }
  return absl::StrJoin(parts, "; ");
}

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  std::string errors = DrainOpenSslErrors();
  if (errors.empty()) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, ": ", errors));
}

absl::Status OpenSslInternal(absl::string_view what) {
  return OpenSslError(absl::StatusCode::kInternal, what);
}

absl::StatusOr<BioPtr> MemoryBio(absl::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("input larger than 2 GiB");
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return OpenSslInternal("creating a memory BIO");
  return bio;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (data == nullptr || len <= 0) return std::string();
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem, absl::string_view what) {
  ERR_clear_error();
  auto bio = MemoryBio(pem);
  if (!bio.ok()) return bio.status();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, NoPassword, nullptr));
  if (cert == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("unparseable ", what, " PEM"));
  }
  return cert;
}

absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem,
                                                       absl::string_view what) {
  ERR_clear_error();
  auto bio = MemoryBio(pem);
  if (!bio.ok()) return bio.status();
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, NoPassword, nullptr));
    if (cert == nullptr) {
      if (AtEndOfPem()) {
        ERR_clear_error();
        break;
      }
      return OpenSslError(
          absl::StatusCode::kInvalidArgument,
          absl::StrCat("unparseable ", what, " PEM (block ", certs.size() + 1, ")"));
    }
    certs.push_back(std::move(cert));
  }
  return certs;
}

absl::StatusOr<X509CrlPtr> ParseCrl(absl::string_view pem) {
  ERR_clear_error();
  auto bio = MemoryBio(pem);
  if (!bio.ok()) return bio.status();
  X509CrlPtr crl(PEM_read_bio_X509_CRL(bio->get(), nullptr, NoPassword, nullptr));
  if (crl == nullptr)
    return OpenSslError(absl::StatusCode::kInvalidArgument, "unparseable CRL PEM");
  return crl;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKey(absl::string_view pem) {
  ERR_clear_error();
  auto bio = MemoryBio(pem);
  if (!bio.ok()) return bio.status();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    // The error queue names only the parse step; it never holds key bytes.
    return OpenSslError(absl::StatusCode::kInvalidArgument, "unparseable private key PEM");
  }
  return key;
}

absl::StatusOr<std::string> CertificateToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslInternal("writing certificate PEM");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> PrivateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslInternal("writing private key PEM");
  }
  return BioContents(bio.get());
}

absl::StatusOr<std::string> CrlToPem(X509_CRL* crl) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return OpenSslInternal("writing CRL PEM");
  }
  return BioContents(bio.get());
}

absl::StatusOr<absl::Time> Asn1TimeToTime(const ASN1_TIME* t) {
  struct tm tm;
  std::memset(&tm, 0, sizeof(tm));
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "malformed ASN.1 time");
  }
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                           tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

absl::StatusOr<Asn1TimePtr> TimeToAsn1Time(absl::Time t) {
  const absl::CivilSecond civil = absl::ToCivilSecond(t, absl::UTCTimeZone());
  if (civil.year() < 0 || civil.year() > 9999) {
    return absl::InvalidArgumentError(absl::StrCat("time out of range: ", absl::FormatTime(t)));
  }
  // ASN1_TIME_set picks UTCTime for 1950..2049 and GeneralizedTime otherwise,
  // as RFC 5280 §4.1.2.5 requires.
  Asn1TimePtr out(ASN1_TIME_set(nullptr, absl::ToTimeT(t)));
  if (out == nullptr) return OpenSslInternal("encoding ASN.1 time");
  return out;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return std::string();
  // RFC 2253 order and escaping, but keep UTF-8 readable ("Gießen").
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return std::string();
  }
  return BioContents(bio.get());
}

std::string SerialToHex(const ASN1_INTEGER* serial) {
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (bn == nullptr) {
    ERR_clear_error();
    return std::string();
  }
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) {
    ERR_clear_error();
    return std::string();
  }
  std::string out = absl::AsciiStrToLower(hex);
  OPENSSL_free(hex);
  return out;
}

absl::StatusOr<std::string> SpkiSha256OfCert(X509* cert) {
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  unsigned char* der = nullptr;
  int len = spki == nullptr ? -1 : i2d_X509_PUBKEY(spki, &der);
  if (len <= 0) return OpenSslError(absl::StatusCode::kInvalidArgument, "certificate has no key");
  std::string hex = Sha256Hex(absl::string_view(reinterpret_cast<const char*>(der), len));
  OPENSSL_free(der);
  return hex;
}

}  // namespace fednode::certs::internal
