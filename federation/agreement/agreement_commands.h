// The logic of `fedctl agreement sign` and `fedctl agreement verify`, as
// plain functions that fedctl's command line calls (and tests call directly).
//
// Layer: federation/agreement; called by node/cli. Reads and writes the files
// named in the arguments; reads no clock (`now` is an argument).
// Output: human-readable lines on `out`, errors on `err` (one line each,
// "agreement sign: <message>"). Never prints keys.
//
// Thread-safety: safe for concurrent use on different files.
#pragma once

#include <ostream>
#include <string>

#include "absl/time/time.h"

namespace fednode::agreement {

struct AgreementSignArgs {
  // The agreement file (textproto, a SignedAgreement); rewritten in place.
  std::string agreement_path;
  // The signing member's AGS; must match the certificate's URI SAN.
  std::string signer_ags;
  // The member's node key (PKCS#8 PEM) and certificate (PEM).
  std::string key_path;
  std::string cert_path;
  // Recorded as signed_at.
  absl::Time now;
};

// RunAgreementSign()
//
// Parses and validates the agreement file, signs its agreement as
// `signer_ags`, and writes the file back atomically (temporary file + rename,
// mode 0644) with this member's signature appended, or replacing its earlier
// signature. The agreement part of the file, comments included, is kept
// byte for byte; the signatures blocks are rewritten at the end of the file.
// Prints the fingerprint and the key pin used; warns on `err` when the key is
// not pinned for the signer in this version (it may be pinned in the current
// one: an amendment rotating the key).
// Returns 0 on success, 1 on any error (the file is then unchanged).
int RunAgreementSign(const AgreementSignArgs& args, std::ostream& out, std::ostream& err);

struct AgreementVerifyArgs {
  std::string agreement_path;
  // Optional: the currently trusted agreement file; the agreement is then
  // checked as an amendment of it (CheckAmendment).
  std::string current_path;
  // Optional: the fingerprint the operator compared; the agreement is then
  // checked for the initial install (CheckInitial).
  std::string expected_fingerprint;
  absl::Time now;
};

// RunAgreementVerify()
//
// Parses, validates and verifies the signatures of the agreement file, and
// prints its fingerprint, version, validity, members (who signed, who is
// missing) and expiry warnings (within 30 days) for the agreement and the
// signers' certificates.
// Returns:
//   0  valid: with current_path, CheckAmendment passes; with
//      expected_fingerprint, CheckInitial passes; with neither, every
//      signature is valid and every member has signed;
//   1  invalid: unreadable, unparseable, invalid, an invalid (forged,
//      tampered) signature, or a failed CheckAmendment / CheckInitial;
//   2  (neither option given) valid so far, but members are missing.
int RunAgreementVerify(const AgreementVerifyArgs& args, std::ostream& out, std::ostream& err);

}  // namespace fednode::agreement
