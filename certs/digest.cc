#include "certs/digest.h"

#include "absl/strings/escaping.h"
#include <openssl/evp.h>

namespace fednode::certs {

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest with a fixed algorithm cannot fail short of memory exhaustion.
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace fednode::certs
