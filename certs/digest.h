// Message digests (OpenSSL 3 EVP). certs/ is the only place that includes
// OpenSSL headers. Thread-safe.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fednode::certs {

// SHA-256 (FIPS 180-4) of `data` as 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view data);

// SHA-256 of the concatenation of `parts`, in order, as 64 lower-case hex
// digits: the same as Sha256Hex(absl::StrCat(parts...)) without building the
// concatenation. E.g. Sha256HexOfParts({"ab", "c"}) == Sha256Hex("abc").
std::string Sha256HexOfParts(std::initializer_list<absl::string_view> parts);

// SHA-256 of the file at `path`, read in 1 MiB pieces (any size), as 64
// lower-case hex digits; *size (may be nullptr) = bytes read.
// Errors: NotFound when the file does not exist; Unavailable for other read
// errors (errno text in the message).
absl::StatusOr<std::string> Sha256FileHex(const std::string& path, uint64_t* size);

}  // namespace fednode::certs
