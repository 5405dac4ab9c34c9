// Message digests (OpenSSL 3 EVP). certs/ is the only place that includes
// OpenSSL headers. Thread-safe.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace fednode::certs {

// SHA-256 (FIPS 180-4) of `data` as 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view data);

}  // namespace fednode::certs
