#include "federation/agreement/agreement.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

#include "certs/digest.h"
#include "certs/pki.h"
#include "node/base/status_macros.h"
#include "node/query/sql.h"

namespace fednode::agreement {
namespace {

// Collects the first text-format error as "source:line:col: message".
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(absl::string_view source) : source_(source) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!first_.empty()) return;
    first_ = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
  }

  const std::string& first() const { return first_; }

 private:
  std::string source_;
  std::string first_;
};

bool IsDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsAgs(absl::string_view s) { return (s.size() == 5 || s.size() == 8) && IsDigits(s); }

bool IsPin(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

bool HasWhitespace(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return absl::ascii_isspace(c); });
}

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// Every string field of `message` (recursively) is valid UTF-8: proto3
// strings must be, and a signature over bytes that other parsers reject
// would be worthless. Errors: InvalidArgument naming the field path.
absl::Status CheckUtf8(const google::protobuf::Message& message, const std::string& prefix) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    const std::string name = absl::StrCat(prefix, field->name());
    const bool repeated = field->is_repeated();
    const int count = repeated ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string path = repeated ? absl::StrCat(name, "[", i, "]") : name;
      if (field->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        const std::string value = repeated ? reflection->GetRepeatedString(message, field, i)
                                           : reflection->GetString(message, field);
        if (!IsValidUtf8(value)) return Invalid(path, "is not valid UTF-8");
      } else if (field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
        FEDNODE_RETURN_IF_ERROR(CheckUtf8(repeated
                                              ? reflection->GetRepeatedMessage(message, field, i)
                                              : reflection->GetMessage(message, field),
                                          path + "."));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateEndpoint(absl::string_view path, absl::string_view endpoint) {
  absl::string_view host;
  absl::string_view port;
  if (!endpoint.empty() && endpoint.front() == '[') {
    size_t close = endpoint.find(']');
    if (close == absl::string_view::npos || close + 1 >= endpoint.size() ||
        endpoint[close + 1] != ':') {
      return Invalid(path, absl::StrCat("\"", endpoint, "\" is not [ipv6]:port"));
    }
    host = endpoint.substr(1, close - 1);
    port = endpoint.substr(close + 2);
  } else {
    size_t colon = endpoint.rfind(':');
    if (colon == absl::string_view::npos) {
      return Invalid(path, absl::StrCat("\"", endpoint, "\" is not host:port"));
    }
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) {
      return Invalid(path, absl::StrCat("\"", endpoint, "\": put an IPv6 host in brackets"));
    }
  }
  uint32_t port_number = 0;
  if (host.empty() || HasWhitespace(host) || !IsDigits(port) ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return Invalid(path, absl::StrCat("\"", endpoint, "\" is not host:port (port 1..65535)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRowFilter(absl::string_view path, absl::string_view expr) {
  // Wrapped in parentheses so that the expression cannot end the WHERE clause
  // and smuggle in ORDER BY / LIMIT; the plan must then hold nothing but the
  // filter.
  absl::StatusOr<query::v1::QueryPlan> plan =
      query::ParseSql(absl::StrCat("SELECT * FROM x WHERE (", expr, ")"));
  if (!plan.ok()) {
    return Invalid(path, absl::StrCat("does not parse: ", plan.status().message()));
  }
  if (!plan->has_filter() || plan->dataset_id() != "x" || plan->group_by_size() > 0 ||
      plan->order_by_size() > 0 || plan->limit() != 0 || plan->offset() != 0 ||
      plan->select_size() > 1) {
    return Invalid(path, "must be a boolean expression only");
  }
  return absl::OkStatus();
}

const v1::Member* FindMember(const v1::Agreement& agreement, absl::string_view ags) {
  for (const v1::Member& m : agreement.members()) {
    if (m.ags() == ags) return &m;
  }
  return nullptr;
}

bool IsPinnedFor(const v1::Agreement& agreement, absl::string_view ags, absl::string_view pin) {
  const v1::Member* member = FindMember(agreement, ags);
  if (member == nullptr) return false;
  return std::find(member->spki_sha256().begin(), member->spki_sha256().end(), pin) !=
         member->spki_sha256().end();
}

absl::Status ValidateGrant(const std::string& path, const v1::Grant& grant,
                           const absl::flat_hash_set<std::string>& members, absl::Time from,
                           absl::Time until) {
  if (grant.id().empty() || HasWhitespace(grant.id())) {
    return Invalid(path + ".id", "must be non-empty without whitespace");
  }
  if (grant.grantees().empty() && grant.grantee_roles().empty()) {
    return Invalid(path, "needs a condition on who: grantees or grantee_roles");
  }
  if (grant.datasets().empty() && grant.conforms_to().empty()) {
    return Invalid(path, "needs a condition on what: datasets or conforms_to");
  }
  if (grant.access().empty()) return Invalid(path + ".access", "at least one access is required");
  for (int i = 0; i < grant.grantees_size(); ++i) {
    const std::string& g = grant.grantees(i);
    if (g != "*" && !members.contains(g)) {
      return Invalid(absl::StrCat(path, ".grantees[", i, "]"),
                     absl::StrCat("\"", g, "\" is not a member AGS or \"*\""));
    }
  }
  for (int i = 0; i < grant.grantee_roles_size(); ++i) {
    if (grant.grantee_roles(i) == v1::ROLE_UNSPECIFIED) {
      return Invalid(absl::StrCat(path, ".grantee_roles[", i, "]"), "role must be set");
    }
  }
  for (int i = 0; i < grant.holders_size(); ++i) {
    const std::string& h = grant.holders(i);
    if (h != "*" && !members.contains(h)) {
      return Invalid(absl::StrCat(path, ".holders[", i, "]"),
                     absl::StrCat("\"", h, "\" is not a member AGS or \"*\""));
    }
  }
  for (int i = 0; i < grant.datasets_size(); ++i) {
    if (grant.datasets(i).empty() || HasWhitespace(grant.datasets(i))) {
      return Invalid(absl::StrCat(path, ".datasets[", i, "]"),
                     "must be non-empty without whitespace");
    }
  }
  for (int i = 0; i < grant.conforms_to_size(); ++i) {
    if (grant.conforms_to(i).empty() || HasWhitespace(grant.conforms_to(i))) {
      return Invalid(absl::StrCat(path, ".conforms_to[", i, "]"),
                     "must be non-empty without whitespace");
    }
  }
  for (int i = 0; i < grant.access_size(); ++i) {
    if (grant.access(i) == v1::ACCESS_UNSPECIFIED) {
      return Invalid(absl::StrCat(path, ".access[", i, "]"), "access must be set");
    }
  }
  for (int i = 0; i < grant.columns_size(); ++i) {
    if (!IsIdentifier(grant.columns(i))) {
      return Invalid(absl::StrCat(path, ".columns[", i, "]"),
                     absl::StrCat("\"", grant.columns(i), "\" is not an identifier"));
    }
  }
  if (!grant.row_filter().empty()) {
    FEDNODE_RETURN_IF_ERROR(ValidateRowFilter(path + ".row_filter", grant.row_filter()));
  }
  for (int i = 0; i < grant.purposes_size(); ++i) {
    if (absl::StripAsciiWhitespace(grant.purposes(i)).empty()) {
      return Invalid(absl::StrCat(path, ".purposes[", i, "]"), "must be non-empty");
    }
  }
  absl::Time grant_from = from;
  absl::Time grant_until = until;
  if (!grant.valid_from().empty()) {
    FEDNODE_ASSIGN_OR_RETURN(grant_from, ParseRfc3339(grant.valid_from(), path + ".valid_from"));
    if (grant_from < from) {
      return Invalid(path + ".valid_from", "lies before the agreement's valid_from");
    }
  }
  if (!grant.valid_until().empty()) {
    FEDNODE_ASSIGN_OR_RETURN(grant_until, ParseRfc3339(grant.valid_until(), path + ".valid_until"));
    if (grant_until > until) {
      return Invalid(path + ".valid_until", "lies after the agreement's valid_until");
    }
  }
  if (grant_from >= grant_until) {
    return Invalid(path, "valid_from must be before valid_until");
  }
  return absl::OkStatus();
}

std::string NormalizeFingerprint(absl::string_view fingerprint) {
  std::string out;
  for (char c : fingerprint) {
    if (c == ':' || absl::ascii_isspace(c)) continue;
    out.push_back(absl::ascii_tolower(c));
  }
  return out;
}

std::string Describe(const v1::Agreement& agreement) {
  return absl::StrCat("agreement ", agreement.agreement_id(), " v", agreement.version());
}

// Verifies one signature cryptographically: base64, certificate, pin binding,
// AGS binding and the signature itself over `bytes`.
absl::Status VerifyOne(const v1::Signature& sig, const std::string& bytes) {
  const std::string who = absl::StrCat("signature of ", sig.signer_ags());
  if (!IsAgs(sig.signer_ags())) {
    return absl::InvalidArgumentError(
        absl::StrCat("signature with signer_ags \"", sig.signer_ags(), "\": not an AGS"));
  }
  std::string der;
  if (sig.signature_base64().empty() || !absl::Base64Unescape(sig.signature_base64(), &der)) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": signature_base64 is not base64"));
  }
  absl::StatusOr<std::string> pin = certs::SpkiSha256(sig.certificate_pem());
  if (!pin.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": certificate_pem: ", pin.status().message()));
  }
  if (*pin != sig.spki_sha256()) {
    return absl::PermissionDeniedError(absl::StrCat(
        who, ": the certificate's key ", *pin, " is not the key named (", sig.spki_sha256(), ")"));
  }
  absl::StatusOr<std::string> cert_ags = certs::AgsFromCertificate(sig.certificate_pem());
  if (!cert_ags.ok() || *cert_ags != sig.signer_ags()) {
    return absl::PermissionDeniedError(
        absl::StrCat(who, ": the certificate does not name member ", sig.signer_ags()));
  }
  absl::Status verified = certs::VerifySignature(sig.certificate_pem(), bytes, der);
  if (!verified.ok()) {
    if (verified.code() == absl::StatusCode::kPermissionDenied) {
      return absl::PermissionDeniedError(
          absl::StrCat(who, " does not verify: forged, or the agreement changed after signing"));
    }
    return absl::InvalidArgumentError(absl::StrCat(who, ": ", verified.message()));
  }
  return absl::OkStatus();
}

// Shared by VerifySignatures (trusted == nullptr: the agreement's own pins)
// and VerifySignaturesAgainst.
absl::StatusOr<std::vector<std::string>> VerifyImpl(const v1::SignedAgreement& signed_agreement,
                                                    const v1::Agreement* trusted) {
  const v1::Agreement& signed_body = signed_agreement.agreement();
  const std::string bytes = CanonicalBytes(signed_body);
  std::set<std::string> seen;
  std::vector<std::string> counting;
  for (const v1::Signature& sig : signed_agreement.signatures()) {
    if (!seen.insert(sig.signer_ags()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("second signature of ", sig.signer_ags(), ": one per member"));
    }
    FEDNODE_RETURN_IF_ERROR(VerifyOne(sig, bytes));
    const bool pinned_here = IsPinnedFor(signed_body, sig.signer_ags(), sig.spki_sha256());
    if (trusted == nullptr) {
      if (!pinned_here) {
        return absl::PermissionDeniedError(
            absl::StrCat("signature of ", sig.signer_ags(), ": key ", sig.spki_sha256(),
                         " is not pinned for ", sig.signer_ags(), " in ", Describe(signed_body)));
      }
      counting.push_back(sig.signer_ags());
      continue;
    }
    const bool pinned_trusted = IsPinnedFor(*trusted, sig.signer_ags(), sig.spki_sha256());
    if (pinned_trusted) {
      counting.push_back(sig.signer_ags());
    } else if (!pinned_here) {
      return absl::PermissionDeniedError(absl::StrCat(
          "signature of ", sig.signer_ags(), ": key ", sig.spki_sha256(), " is pinned for ",
          sig.signer_ags(), " neither in ", Describe(*trusted), " nor in ", Describe(signed_body)));
    }
    // Pinned only in the agreement being signed: valid, but does not count.
  }
  std::sort(counting.begin(), counting.end());
  return counting;
}

std::vector<std::string> Missing(const std::vector<std::string>& wanted,
                                 const std::vector<std::string>& have) {
  std::vector<std::string> missing;
  for (const std::string& w : wanted) {
    if (!std::binary_search(have.begin(), have.end(), w)) missing.push_back(w);
  }
  return missing;
}

}  // namespace

absl::StatusOr<v1::SignedAgreement> ParseAgreement(absl::string_view text,
                                                   absl::string_view source_name) {
  v1::SignedAgreement parsed;
  FirstErrorCollector errors(source_name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (text.size() > static_cast<size_t>(INT32_MAX) || !parser.Parse(&input, &parsed)) {
    return absl::InvalidArgumentError(
        errors.first().empty() ? absl::StrCat(source_name, ": does not parse") : errors.first());
  }
  if (!parsed.has_agreement()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": agreement { ... } is missing"));
  }
  absl::Status valid = ValidateAgreement(parsed.agreement());
  if (valid.ok()) {
    for (int i = 0; i < parsed.signatures_size() && valid.ok(); ++i) {
      valid = CheckUtf8(parsed.signatures(i), absl::StrCat("signatures[", i, "]."));
    }
  }
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", valid.message()));
  }
  return parsed;
}

absl::Status ValidateAgreement(const v1::Agreement& agreement) {
  FEDNODE_RETURN_IF_ERROR(CheckUtf8(agreement, ""));
  if (agreement.agreement_id().empty() || HasWhitespace(agreement.agreement_id())) {
    return Invalid("agreement_id", "must be non-empty without whitespace");
  }
  if (agreement.version() < 1) return Invalid("version", "must be at least 1");
  FEDNODE_ASSIGN_OR_RETURN(absl::Time from, ParseRfc3339(agreement.valid_from(), "valid_from"));
  FEDNODE_ASSIGN_OR_RETURN(absl::Time until, ParseRfc3339(agreement.valid_until(), "valid_until"));
  if (from >= until) return Invalid("valid_until", "must be after valid_from");

  if (agreement.members().empty()) return Invalid("members", "at least one member is required");
  absl::flat_hash_set<std::string> members;
  std::map<std::string, std::string> pin_owner;  // pin -> path of its first use
  for (int i = 0; i < agreement.members_size(); ++i) {
    const v1::Member& m = agreement.members(i);
    const std::string path = absl::StrCat("members[", i, "]");
    if (!IsAgs(m.ags())) {
      return Invalid(path + ".ags",
                     absl::StrCat("\"", m.ags(), "\" is not an AGS (5 or 8 digits)"));
    }
    if (!members.insert(m.ags()).second) {
      return Invalid(path + ".ags", absl::StrCat("duplicate member ", m.ags()));
    }
    if (m.role() == v1::ROLE_UNSPECIFIED) return Invalid(path + ".role", "must be set");
    FEDNODE_RETURN_IF_ERROR(ValidateEndpoint(path + ".endpoint", m.endpoint()));
    if (m.spki_sha256().empty()) {
      return Invalid(path + ".spki_sha256", "at least one pinned key is required");
    }
    for (int j = 0; j < m.spki_sha256_size(); ++j) {
      const std::string pin_path = absl::StrCat(path, ".spki_sha256[", j, "]");
      const std::string& pin = m.spki_sha256(j);
      if (!IsPin(pin)) {
        return Invalid(pin_path, absl::StrCat("\"", pin, "\" is not 64 lower-case hex digits"));
      }
      auto [it, inserted] = pin_owner.emplace(pin, pin_path);
      if (!inserted) {
        return Invalid(pin_path, absl::StrCat("key ", pin, " is already pinned at ", it->second));
      }
    }
    if (m.population() < 0) return Invalid(path + ".population", "must not be negative");
  }

  if (agreement.trust_anchors_pem().empty()) {
    return Invalid("trust_anchors_pem", "at least one trust anchor (CA certificate) is required");
  }
  for (int i = 0; i < agreement.trust_anchors_pem_size(); ++i) {
    absl::StatusOr<certs::CertInfo> info =
        certs::InspectCertificate(agreement.trust_anchors_pem(i));
    if (!info.ok()) {
      return Invalid(absl::StrCat("trust_anchors_pem[", i, "]"),
                     absl::StrCat("not a certificate: ", info.status().message()));
    }
  }

  // A CRL that does not parse, or that an anchor did not sign, would make
  // every chain check fail: refuse it here, before it can take the
  // federation down.
  std::vector<std::string> anchors(agreement.trust_anchors_pem().begin(),
                                   agreement.trust_anchors_pem().end());
  for (int i = 0; i < agreement.crls_pem_size(); ++i) {
    absl::Status crl = certs::CheckCrl(agreement.crls_pem(i), anchors);
    if (!crl.ok()) {
      return Invalid(absl::StrCat("crls_pem[", i, "]"), std::string(crl.message()));
    }
  }

  absl::flat_hash_set<std::string> grant_ids;
  for (int i = 0; i < agreement.grants_size(); ++i) {
    const v1::Grant& grant = agreement.grants(i);
    const std::string path = absl::StrCat("grants[", i, "]");
    FEDNODE_RETURN_IF_ERROR(ValidateGrant(path, grant, members, from, until));
    if (!grant_ids.insert(grant.id()).second) {
      return Invalid(path + ".id", absl::StrCat("duplicate grant id \"", grant.id(), "\""));
    }
  }

  const v1::AmendmentRule& rule = agreement.amendment_rule();
  switch (rule.kind()) {
    case v1::AmendmentRule::KIND_ALL_MEMBERS:
    case v1::AmendmentRule::KIND_MAJORITY:
      break;
    case v1::AmendmentRule::KIND_QUORUM:
      if (rule.quorum() < 1 || rule.quorum() > static_cast<uint32_t>(agreement.members_size())) {
        return Invalid("amendment_rule.quorum",
                       absl::StrCat("must be between 1 and the number of members (",
                                    agreement.members_size(), ")"));
      }
      break;
    default:
      return Invalid("amendment_rule.kind", "must be set");
  }
  absl::flat_hash_set<std::string> required;
  for (int i = 0; i < rule.required_signers_size(); ++i) {
    const std::string& r = rule.required_signers(i);
    const std::string path = absl::StrCat("amendment_rule.required_signers[", i, "]");
    if (!members.contains(r)) {
      return Invalid(path, absl::StrCat("\"", r, "\" is not a member"));
    }
    if (!required.insert(r).second) return Invalid(path, absl::StrCat("duplicate ", r));
  }
  return absl::OkStatus();
}

void ApplyDefaults(v1::Agreement* agreement) {
  if (agreement->disclosure().min_cell_count() == 0) {
    agreement->mutable_disclosure()->set_min_cell_count(kDefaultMinCellCount);
  }
}

std::string CanonicalBytes(const v1::Agreement& agreement) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    // Proto3 messages are always initialized, so this cannot fail.
    agreement.SerializePartialToCodedStream(&coded);
  }
  return bytes;
}

const v1::Member* FindMember(const v1::Agreement& agreement, absl::string_view ags) {
  for (const v1::Member& m : agreement.members()) {
    if (m.ags() == ags) return &m;
  }
  return nullptr;
}

std::string Fingerprint(const v1::Agreement& agreement) {
  return certs::Sha256Hex(CanonicalBytes(agreement));
}

absl::StatusOr<v1::Signature> SignAgreement(const v1::Agreement& agreement,
                                            absl::string_view signer_ags, absl::string_view key_pem,
                                            absl::string_view cert_pem, absl::Time now) {
  if (!IsAgs(signer_ags)) {
    return absl::InvalidArgumentError(
        absl::StrCat("signer \"", signer_ags, "\" is not an AGS (5 or 8 digits)"));
  }
  FEDNODE_RETURN_IF_ERROR(
      Annotate(certs::CheckKeyMatchesCertificate(key_pem, cert_pem), "signing key"));
  FEDNODE_ASSIGN_OR_RETURN(std::string cert_ags, certs::AgsFromCertificate(cert_pem));
  if (cert_ags != signer_ags) {
    return absl::InvalidArgumentError(
        absl::StrCat("the certificate names member ", cert_ags, ", not ", signer_ags));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::string pin, certs::SpkiSha256(cert_pem));
  FEDNODE_ASSIGN_OR_RETURN(std::string der, certs::Sign(key_pem, CanonicalBytes(agreement)));
  v1::Signature sig;
  sig.set_signer_ags(std::string(signer_ags));
  sig.set_spki_sha256(pin);
  sig.set_signature_base64(absl::Base64Escape(der));
  sig.set_signed_at(FormatRfc3339(now));
  sig.set_certificate_pem(std::string(cert_pem));
  return sig;
}

absl::StatusOr<std::vector<std::string>> VerifySignatures(
    const v1::SignedAgreement& signed_agreement) {
  return VerifyImpl(signed_agreement, nullptr);
}

absl::StatusOr<std::vector<std::string>> VerifySignaturesAgainst(
    const v1::SignedAgreement& signed_agreement, const v1::Agreement& trusted) {
  return VerifyImpl(signed_agreement, &trusted);
}

absl::Status CheckInitial(const v1::SignedAgreement& candidate,
                          absl::string_view expected_fingerprint, absl::Time now) {
  const v1::Agreement& a = candidate.agreement();
  FEDNODE_RETURN_IF_ERROR(ValidateAgreement(a));
  const std::string fingerprint = Fingerprint(a);
  const std::string expected = NormalizeFingerprint(expected_fingerprint);
  if (expected != fingerprint) {
    return absl::FailedPreconditionError(
        absl::StrCat("fingerprint mismatch: ", Describe(a), " has ", fingerprint,
                     ", the operator expected ", expected.empty() ? "(none)" : expected));
  }
  FEDNODE_RETURN_IF_ERROR(CheckInForce(a, now));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> signers, VerifySignatures(candidate));
  std::vector<std::string> all;
  for (const v1::Member& m : a.members()) all.push_back(m.ags());
  std::vector<std::string> missing = Missing(all, signers);
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(a), " must be signed by every member to be installed; unsigned by ",
                     absl::StrJoin(missing, ", ")));
  }
  return absl::OkStatus();
}

absl::Status CheckAmendment(const v1::SignedAgreement& current,
                            const v1::SignedAgreement& candidate, absl::Time now) {
  const v1::Agreement& cur = current.agreement();
  const v1::Agreement& next = candidate.agreement();
  FEDNODE_RETURN_IF_ERROR(Annotate(ValidateAgreement(next), "candidate"));
  if (next.agreement_id() != cur.agreement_id()) {
    return absl::InvalidArgumentError(absl::StrCat("candidate is agreement ", next.agreement_id(),
                                                   ", current is ", cur.agreement_id()));
  }
  if (next.version() <= cur.version()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "candidate v", next.version(), " of agreement ", next.agreement_id(),
        " is not newer than current v", cur.version(), ": downgrades and replays are refused"));
  }
  FEDNODE_RETURN_IF_ERROR(CheckInForce(next, now));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> signers,
                           VerifySignaturesAgainst(candidate, cur));

  std::vector<std::string> current_members;
  for (const v1::Member& m : cur.members()) current_members.push_back(m.ags());
  std::sort(current_members.begin(), current_members.end());
  const size_t n = current_members.size();
  const v1::AmendmentRule& rule = cur.amendment_rule();
  size_t needed = 0;
  std::string rule_name;
  switch (rule.kind()) {
    case v1::AmendmentRule::KIND_ALL_MEMBERS:
      needed = n;
      rule_name = "all members";
      break;
    case v1::AmendmentRule::KIND_MAJORITY:
      needed = n / 2 + 1;
      rule_name = "a majority";
      break;
    case v1::AmendmentRule::KIND_QUORUM:
      needed = std::max<size_t>(1, rule.quorum());
      rule_name = absl::StrCat("a quorum of ", rule.quorum());
      break;
    default:
      // A trusted version always has a rule (ValidateAgreement); fail closed.
      return absl::FailedPreconditionError(
          absl::StrCat(Describe(cur), " has no amendment rule: it cannot be amended"));
  }
  std::vector<std::string> missing_required;
  for (const std::string& r : rule.required_signers()) {
    if (!std::binary_search(signers.begin(), signers.end(), r)) missing_required.push_back(r);
  }
  if (signers.size() < needed || !missing_required.empty()) {
    std::string detail = absl::StrCat(
        "not enough signatures for v", next.version(), " of agreement ", next.agreement_id(), ": v",
        cur.version(), " requires ", rule_name, " (", needed, " of ", n, " members)");
    if (!rule.required_signers().empty()) {
      absl::StrAppend(&detail, " including ", absl::StrJoin(rule.required_signers(), ", "));
    }
    absl::StrAppend(&detail, "; counted ", signers.size(), " (",
                    signers.empty() ? "none" : absl::StrJoin(signers, ", "), ")");
    if (!missing_required.empty()) {
      absl::StrAppend(&detail, "; missing required ", absl::StrJoin(missing_required, ", "));
    }
    std::vector<std::string> missing = Missing(current_members, signers);
    if (!missing.empty()) absl::StrAppend(&detail, "; unsigned by ", absl::StrJoin(missing, ", "));
    return absl::FailedPreconditionError(detail);
  }
  return absl::OkStatus();
}

std::vector<Warning> ExpiryWarnings(const v1::Agreement& agreement,
                                    const std::vector<std::string>& certificate_pems,
                                    absl::Time now, absl::Duration window) {
  std::vector<Warning> warnings;
  auto describe_when = [now](absl::Time at) {
    if (at <= now) return std::string("expired at ") + FormatRfc3339(at);
    return absl::StrCat("expires at ", FormatRfc3339(at), " (in ", (at - now) / absl::Hours(24),
                        " days)");
  };
  absl::StatusOr<absl::Time> until = ParseRfc3339(agreement.valid_until(), "valid_until");
  if (until.ok() && *until < now + window) {
    Warning w;
    w.subject = Describe(agreement);
    w.expires_at = *until;
    w.message = absl::StrCat(w.subject, " ", describe_when(*until));
    warnings.push_back(std::move(w));
  }
  for (size_t i = 0; i < certificate_pems.size(); ++i) {
    absl::StatusOr<certs::CertInfo> info = certs::InspectCertificate(certificate_pems[i]);
    if (!info.ok()) {
      Warning w;
      w.subject = absl::StrCat("certificate #", i + 1);
      w.expires_at = absl::InfinitePast();
      w.message = absl::StrCat(w.subject, " could not be inspected: ", info.status().message());
      warnings.push_back(std::move(w));
      continue;
    }
    const v1::Member* owner = nullptr;
    for (const v1::Member& m : agreement.members()) {
      if (IsPinnedFor(agreement, m.ags(), info->spki_sha256)) {
        owner = &m;
        break;
      }
    }
    if (owner == nullptr || info->not_after >= now + window) continue;
    Warning w;
    w.subject = absl::StrCat("certificate of ", owner->ags(), " (key ", info->spki_sha256, ")");
    w.expires_at = info->not_after;
    w.message = absl::StrCat(w.subject, " ", describe_when(info->not_after));
    warnings.push_back(std::move(w));
  }
  return warnings;
}

}  // namespace fednode::agreement
