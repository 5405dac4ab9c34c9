// The cooperation agreement (Kooperationsvereinbarung): parsing, validation,
// canonical form, fingerprint, signatures, and the two ways a version becomes
// trusted (initial install by fingerprint, amendment by signatures).
//
// Layer: federation/agreement; called by fedctl (sign, verify, install), by
// the node when it loads or receives an agreement, and by federation/policy
// (CheckInForce). Knows nothing of gRPC; does no I/O and reads no clock:
// `now` is passed in. Cryptography goes through certs/.
//
// Trust model (DESIGN.md "Trust in one paragraph"):
//   * The first version is installed by hand. The operator compares the
//     fingerprint (SHA-256 of the canonical bytes) out of band; CheckInitial
//     additionally requires a valid signature of EVERY member of that version
//     with a key pinned for it in that version: there is no earlier version to
//     delegate trust, so every party consents with its own pinned key.
//   * Every later version (amendment) is accepted only by CheckAmendment:
//     signatures count only when made by a member of the CURRENT (trusted)
//     version with a key pinned for that member in the CURRENT version, and
//     the CURRENT version's amendment rule decides how many are needed. So a
//     removed member cannot sign its own re-admission, a newly added member
//     (or a newly added key) does not count, and a key removed by an earlier
//     amendment is worthless.
//
// Thread-safety: all functions are pure and safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "proto/agreement/v1/agreement.pb.h"

namespace fednode::agreement {

// The primary-suppression threshold used when the agreement sets none (0):
// fewer than 3 contributors is the usual rule of official statistics
// (Destatis' Geheimhaltung).
inline constexpr uint32_t kDefaultMinCellCount = 3;

// ParseAgreement()
//
// Parses a SignedAgreement from protobuf text format (the file under
// deploy/agreement/) and validates its agreement with ValidateAgreement.
// Does NOT apply defaults and does NOT verify signatures.
// `source_name` (usually the file path) prefixes error positions.
// Shapes: `text` is UTF-8 text format; comments start with '#'.
// Errors: InvalidArgument "<source>:<line>:<col>: <message>" (1-based) for a
// syntax error, an unknown field (e.g. a misspelt grant condition: fail
// closed), or a repeated singular field; InvalidArgument "<source>: <path>:
// ..." when validation fails.
// Source: untrusted (a file from disk or a peer).
absl::StatusOr<v1::SignedAgreement> ParseAgreement(absl::string_view text,
                                                   absl::string_view source_name);

// ValidateAgreement()
//
// Checks every structural rule, failing closed with the field path named
// ("members[3].spki_sha256[0]: ..."):
//   * agreement_id non-empty without whitespace; version >= 1;
//   * valid_from < valid_until, both RFC 3339 (e.g. "2026-01-01T00:00:00Z");
//   * members non-empty; AGS 5 or 8 digits and unique; role set; endpoint
//     "host:port" (port 1..65535, IPv6 hosts in brackets); at least one pin
//     each, 64 lower-case hex digits, unique across all members;
//   * at least one trust anchor, each a parseable certificate
//     (certs::InspectCertificate);
//   * every grant: unique non-empty id; at least one who-condition (grantees,
//     grantee_roles), one what-condition (datasets, conforms_to) and one
//     access; grantees and holders are member AGS or "*"; no *_UNSPECIFIED
//     enum; columns are identifiers ([A-Za-z_][A-Za-z0-9_]*); row_filter is a
//     boolean SQL expression of the query subset (node/query/sql.h); purposes
//     non-empty; validity (if set) parses and lies inside the agreement's;
//   * amendment_rule: kind set; for QUORUM 1 <= quorum <= number of members;
//     required_signers are members and unique.
// Errors: InvalidArgument naming the first offending field.
absl::Status ValidateAgreement(const v1::Agreement& agreement);

// ApplyDefaults()
//
// Fills defaults the file may leave out: disclosure.min_cell_count 0 ->
// kDefaultMinCellCount. Call it on the copy the node USES, after signatures
// were checked: it changes CanonicalBytes, and signatures are over the
// agreement as written.
void ApplyDefaults(v1::Agreement* agreement);

// CanonicalBytes()
//
// The bytes every signature and the fingerprint are computed over: the
// protobuf binary serialization with deterministic mode on. Why this is
// canonical: fields are written in field-number order, proto3 default values
// are omitted, repeated scalars are packed, and Agreement has no map fields
// and (parsed from text) no unknown fields - so the same message always gives
// the same bytes in this build, whatever the text's layout, comments or field
// order. Reformatting the file therefore keeps signatures valid; changing any
// value breaks them. Protobuf does not promise byte stability across its
// versions; a change there would make signatures fail (closed), never pass.
std::string CanonicalBytes(const v1::Agreement& agreement);

// Fingerprint()
//
// FindMember()
//
// The member of `agreement` with AGS `ags`, or nullptr. The pointer is into
// `agreement`.
const v1::Member* FindMember(const v1::Agreement& agreement, absl::string_view ags);

// SHA-256 of CanonicalBytes as 64 lower-case hex digits. Shown by `fedctl
// agreement verify` and compared by the operator when the first agreement is
// installed by hand.
std::string Fingerprint(const v1::Agreement& agreement);

// SignAgreement()
//
// Signs CanonicalBytes(agreement) with `key_pem` (ECDSA P-256, certs::Sign)
// as member `signer_ags` whose certificate is `cert_pem`. `now` becomes
// signed_at (RFC 3339, UTC). The signer need not be a member of `agreement`
// itself (a leaving member signs its own removal; a rotating member signs with
// the key pinned in the current version): whether the signature counts is
// decided at verification.
// Errors: InvalidArgument when the key does not match the certificate, a PEM
// does not parse, or the certificate names another AGS than `signer_ags`.
// REQUIRES: key_pem is secret: never logged or included in messages.
absl::StatusOr<v1::Signature> SignAgreement(const v1::Agreement& agreement,
                                            absl::string_view signer_ags, absl::string_view key_pem,
                                            absl::string_view cert_pem, absl::Time now);

// VerifySignatures()
//
// Verifies every signature of `signed_agreement` against the pins of the
// agreement being signed: the signature verifies over CanonicalBytes with
// certificate_pem's key, that key's SPKI SHA-256 equals spki_sha256, the
// certificate names signer_ags, and signer_ags is a member of this agreement
// with spki_sha256 among its pins. Used for the initial install and for
// `fedctl agreement verify`; amendments use VerifySignaturesAgainst.
// Returns the AGS of the members with a valid signature, sorted, unique.
// Errors: PermissionDenied naming the signer for a forged signature (key not
// pinned for that member, signer not a member) or a tampered one (does not
// verify: the agreement changed after signing); InvalidArgument naming the
// signer for a malformed signature (bad base64/PEM) or a second signature of
// the same member.
absl::StatusOr<std::vector<std::string>> VerifySignatures(
    const v1::SignedAgreement& signed_agreement);

// VerifySignaturesAgainst()
//
// As VerifySignatures, but a signature COUNTS only when its signer is a member
// of `trusted` (the current, already trusted version) and its key is pinned
// for that member in `trusted`. A signature whose key is pinned only in the
// agreement being signed (a newly added member, a member's new key) is checked
// but does not count. A signature whose key is pinned in neither is a forgery.
// Returns the counting members' AGS, sorted, unique.
// Errors: as VerifySignatures.
absl::StatusOr<std::vector<std::string>> VerifySignaturesAgainst(
    const v1::SignedAgreement& signed_agreement, const v1::Agreement& trusted);

// CheckInitial()
//
// Decides whether `candidate` may be installed by hand as the first trusted
// version. Rules: it parses structurally (ValidateAgreement); its fingerprint
// equals `expected_fingerprint` (hex, case and ':' separators ignored), the
// value the operator compared out of band with the other members; it is in
// force at `now`; and EVERY member has a valid signature with a key pinned for
// it in this version (VerifySignatures). Stricter than any amendment rule on
// purpose: nothing earlier vouches for the pins.
// Errors: InvalidArgument (validation); FailedPrecondition "fingerprint
// mismatch ..." or "unsigned by ..." naming the missing members, or when not
// in force (CheckInForce); PermissionDenied for an invalid signature.
absl::Status CheckInitial(const v1::SignedAgreement& candidate,
                          absl::string_view expected_fingerprint, absl::Time now);

// CheckAmendment()
//
// Decides whether `candidate` may replace the trusted `current`. Rules:
//   * candidate validates, has the same agreement_id, and a higher version
//     (never back: a downgrade or a replay of the same version is refused);
//   * candidate is in force at `now`;
//   * the signatures that count (VerifySignaturesAgainst(candidate,
//     current.agreement())) satisfy CURRENT's amendment_rule: ALL_MEMBERS
//     every current member, MAJORITY more than half of the current members,
//     QUORUM at least `quorum` of them; plus every required_signer.
// `current` need not be in force: a node that was offline past the current
// version's expiry can still apply an amendment that the members signed under
// the current rule.
// Errors: InvalidArgument for validation or another agreement_id;
// FailedPrecondition "candidate v<N> is not newer than current v<M>" for a
// downgrade or replay, "not enough signatures ..." naming the missing signers,
// or when not in force; PermissionDenied naming the signer for a forged or
// tampered signature.
absl::Status CheckAmendment(const v1::SignedAgreement& current,
                            const v1::SignedAgreement& candidate, absl::Time now);

// CheckInForce()
//
// OK when valid_from <= now < valid_until.
// Errors: FailedPrecondition "agreement <id> v<N> expired at <valid_until>" or
// "agreement <id> v<N> not valid before <valid_from>"; InvalidArgument when a
// time does not parse.
absl::Status CheckInForce(const v1::Agreement& agreement, absl::Time now);

// ParseRfc3339()
//
// Parses an RFC 3339 time ("2026-01-01T00:00:00Z", with offset or fraction).
// Errors: InvalidArgument naming `field` and the value.
absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view value, absl::string_view field);

// FormatRfc3339()
//
// UTC, seconds precision: "2026-01-01T00:00:00Z".
std::string FormatRfc3339(absl::Time t);

// Something that expires soon (or has expired).
struct Warning {
  // "agreement kv-landkreis-giessen v3", or "certificate of 06531005 (key
  // <pin>)".
  std::string subject;
  absl::Time expires_at;
  // Human-readable, e.g. "agreement kv-landkreis-giessen v3 expires at
  // 2026-12-31T00:00:00Z (in 12 days)".
  std::string message;
};

// The default warning horizon of ExpiryWarnings.
inline constexpr absl::Duration kExpiryWarningWindow = absl::Hours(24 * 30);

// ExpiryWarnings()
//
// Warnings for the agreement and for every certificate in `certificate_pems`
// whose key is pinned for a member, when it expires before now + `window`
// (or already has). Certificates whose key is pinned for no member are
// ignored; certificates that do not parse give a warning of their own
// (expires_at = InfinitePast). Order: the agreement first, then the
// certificates in input order.
// Source: certificate_pems are e.g. the peers' certificates seen in TLS and
// the node's own; they are only inspected, not trusted.
std::vector<Warning> ExpiryWarnings(const v1::Agreement& agreement,
                                    const std::vector<std::string>& certificate_pems,
                                    absl::Time now, absl::Duration window = kExpiryWarningWindow);

}  // namespace fednode::agreement
