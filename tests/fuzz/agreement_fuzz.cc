// libFuzzer target: ParseAgreement (text format, validation incl. row-filter
// SQL and trust-anchor PEM) and, for inputs that parse, the canonical form and
// signature verification. Built only by clang; run with tests/fuzz/run.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "federation/agreement/agreement.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<fednode::agreement::v1::SignedAgreement> parsed =
      fednode::agreement::ParseAgreement(text, "fuzz");
  if (!parsed.ok()) return 0;
  // Same message, same bytes: the canonical form must be stable.
  const std::string bytes = fednode::agreement::CanonicalBytes(parsed->agreement());
  if (bytes != fednode::agreement::CanonicalBytes(parsed->agreement())) __builtin_trap();
  (void)fednode::agreement::Fingerprint(parsed->agreement());
  // Signatures are untrusted input as well; their result does not matter here.
  fednode::agreement::VerifySignatures(*parsed).status().IgnoreError();
  return 0;
}
