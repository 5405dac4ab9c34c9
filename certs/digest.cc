#include "certs/digest.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include <openssl/evp.h>

namespace fednode::certs {
namespace {

// SHA-256, fetched from the default provider once. EVP_sha256() would make
// every EVP_DigestInit_ex look the implementation up again (OpenSSL 3's
// implicit fetch: a locked method-store query per digest).
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched != nullptr ? fetched : EVP_sha256();
  }();
  return md;
}

std::string DigestHex(const unsigned char* md, unsigned int len) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with a fixed algorithm cannot fail short of memory exhaustion.
  EVP_Digest(data.data(), data.size(), md, &len, Sha256Md(), nullptr);
  return DigestHex(md, len);
}

std::string Sha256HexOfParts(std::initializer_list<absl::string_view> parts) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // As EVP_Digest: with a fixed algorithm these fail only when memory is
  // exhausted.
  EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr);
  for (absl::string_view part : parts) EVP_DigestUpdate(ctx.get(), part.data(), part.size());
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  return DigestHex(md, len);
}

absl::StatusOr<std::string> Sha256FileHex(const std::string& path, uint64_t* size) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rbe"), &std::fclose);
  if (f == nullptr) {
    const int err = errno;
    std::string msg = absl::StrCat("reading ", path, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::UnavailableError(msg);
  }
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) != 1) {
    return absl::ResourceExhaustedError("cannot allocate a SHA-256 context");
  }
  std::vector<char> buf(size_t{1} << 20);
  uint64_t total = 0;
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), buf.data(), n);
    total += n;
  }
  if (std::ferror(f.get()) != 0) {
    return absl::UnavailableError(absl::StrCat("reading ", path, ": read error"));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  if (size != nullptr) *size = total;
  return DigestHex(md, len);
}

}  // namespace fednode::certs
