#include "federation/agreement/agreement_commands.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/text_format.h"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/status_macros.h"

namespace fednode::agreement {
namespace {

using google::protobuf::TextFormat;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return buffer.str();
}

// Byte offset of a text-format location (0-based line; column counts a tab
// as advancing to the next multiple of 8, as protobuf's tokenizer does).
size_t OffsetOf(absl::string_view text, int line, int column) {
  size_t pos = 0;
  for (int l = 0; l < line && pos < text.size(); ++pos) {
    if (text[pos] == '\n') ++l;
  }
  int col = 0;
  while (pos < text.size() && col < column && text[pos] != '\n') {
    col = text[pos] == '\t' ? (col + 8) / 8 * 8 : col + 1;
    ++pos;
  }
  return pos;
}

// `text` without its top-level `signatures { ... }` blocks, trailing
// whitespace removed. Everything else (the agreement, comments) is kept.
absl::StatusOr<std::string> StripSignatureBlocks(absl::string_view text, absl::string_view source) {
  v1::SignedAgreement parsed;
  TextFormat::ParseInfoTree tree;
  TextFormat::Parser parser;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &parsed)) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": does not parse"));
  }
  const google::protobuf::FieldDescriptor* field =
      v1::SignedAgreement::descriptor()->FindFieldByName("signatures");
  std::vector<std::pair<size_t, size_t>> cuts;
  for (int i = 0; i < parsed.signatures_size(); ++i) {
    TextFormat::ParseLocationRange range = tree.GetLocationRange(field, i);
    if (range.start.line < 0 || range.end.line < 0) {
      return absl::InternalError(absl::StrCat(source, ": no location for signatures[", i, "]"));
    }
    cuts.emplace_back(OffsetOf(text, range.start.line, range.start.column),
                      OffsetOf(text, range.end.line, range.end.column));
  }
  std::sort(cuts.begin(), cuts.end());
  std::string out;
  size_t pos = 0;
  for (const auto& [begin, end] : cuts) {
    if (begin < pos || end < begin) {
      return absl::InternalError(absl::StrCat(source, ": overlapping signatures blocks"));
    }
    absl::StrAppend(&out, text.substr(pos, begin - pos));
    pos = end;
  }
  absl::StrAppend(&out, text.substr(pos));
  while (!out.empty() &&
         (out.back() == '\n' || out.back() == ' ' || out.back() == '\t' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

absl::StatusOr<std::string> PrintSignature(const v1::Signature& sig) {
  TextFormat::Printer printer;
  printer.SetInitialIndentLevel(1);
  std::string body;
  if (!printer.PrintToString(sig, &body)) {
    return absl::InternalError("cannot print the signature");
  }
  return absl::StrCat("signatures {\n", body, "}\n");
}

absl::Status Sign(const AgreementSignArgs& args, std::ostream& out, std::ostream& err) {
  FEDNODE_ASSIGN_OR_RETURN(std::string text, ReadFile(args.agreement_path));
  FEDNODE_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(args.key_path));
  FEDNODE_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(args.cert_path));
  FEDNODE_ASSIGN_OR_RETURN(v1::SignedAgreement signed_agreement,
                           ParseAgreement(text, args.agreement_path));
  const v1::Agreement& a = signed_agreement.agreement();
  FEDNODE_ASSIGN_OR_RETURN(v1::Signature sig,
                           SignAgreement(a, args.signer_ags, key_pem, cert_pem, args.now));

  std::vector<v1::Signature> signatures;
  bool replaced = false;
  for (const v1::Signature& old : signed_agreement.signatures()) {
    if (old.signer_ags() == sig.signer_ags()) {
      if (!replaced) signatures.push_back(sig);
      replaced = true;
    } else {
      signatures.push_back(old);
    }
  }
  if (!replaced) signatures.push_back(sig);

  FEDNODE_ASSIGN_OR_RETURN(std::string rewritten, StripSignatureBlocks(text, args.agreement_path));
  rewritten.append("\n");
  for (const v1::Signature& s : signatures) {
    FEDNODE_ASSIGN_OR_RETURN(std::string block, PrintSignature(s));
    absl::StrAppend(&rewritten, "\n", block);
  }
  // The rewritten file must carry exactly the same agreement.
  FEDNODE_ASSIGN_OR_RETURN(v1::SignedAgreement check,
                           ParseAgreement(rewritten, args.agreement_path));
  if (CanonicalBytes(check.agreement()) != CanonicalBytes(a) ||
      check.signatures_size() != static_cast<int>(signatures.size())) {
    return absl::InternalError("rewriting the file would change the agreement; file unchanged");
  }
  FEDNODE_RETURN_IF_ERROR(certs::WriteFileAtomically(args.agreement_path, rewritten, 0644));

  out << "signed agreement " << a.agreement_id() << " v" << a.version() << " as "
      << sig.signer_ags() << (replaced ? " (replaced the earlier signature)" : "") << "\n"
      << "fingerprint " << Fingerprint(a) << "\n"
      << "key " << sig.spki_sha256() << "\n";
  const v1::Member* member = nullptr;
  for (const v1::Member& m : a.members()) {
    if (m.ags() == sig.signer_ags()) member = &m;
  }
  if (member == nullptr) {
    err << "agreement sign: warning: " << sig.signer_ags() << " is not a member of v" << a.version()
        << "; the signature counts only toward an amendment of a version in which "
        << "it is a member\n";
  } else if (std::find(member->spki_sha256().begin(), member->spki_sha256().end(),
                       sig.spki_sha256()) == member->spki_sha256().end()) {
    err << "agreement sign: warning: key " << sig.spki_sha256() << " is not pinned for "
        << sig.signer_ags() << " in v" << a.version()
        << "; the signature counts only if the current version pins it\n";
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Verify(const AgreementVerifyArgs& args, std::ostream& out, std::ostream& err) {
  FEDNODE_ASSIGN_OR_RETURN(std::string text, ReadFile(args.agreement_path));
  FEDNODE_ASSIGN_OR_RETURN(v1::SignedAgreement signed_agreement,
                           ParseAgreement(text, args.agreement_path));
  const v1::Agreement& a = signed_agreement.agreement();
  absl::Status in_force = CheckInForce(a, args.now);
  out << "agreement   " << a.agreement_id() << " v" << a.version();
  if (!a.title().empty()) out << " \"" << a.title() << "\"";
  out << "\n"
      << "fingerprint " << Fingerprint(a) << "\n"
      << "valid       " << a.valid_from() << " .. " << a.valid_until() << " ("
      << (in_force.ok() ? std::string("in force") : std::string(in_force.message())) << ")\n";

  // Own-pin verification: reports forged or tampered signatures by name.
  // For an amendment, a signature with a key pinned only in the current
  // version is judged by CheckAmendment below instead.
  std::vector<std::string> signers;
  absl::Status signatures_status;
  v1::SignedAgreement current;
  if (!args.current_path.empty()) {
    FEDNODE_ASSIGN_OR_RETURN(std::string current_text, ReadFile(args.current_path));
    FEDNODE_ASSIGN_OR_RETURN(current, ParseAgreement(current_text, args.current_path));
    absl::StatusOr<std::vector<std::string>> counted =
        VerifySignaturesAgainst(signed_agreement, current.agreement());
    if (counted.ok()) signers = *std::move(counted);
    signatures_status = counted.status();
  } else {
    absl::StatusOr<std::vector<std::string>> valid = VerifySignatures(signed_agreement);
    if (valid.ok()) signers = *std::move(valid);
    signatures_status = valid.status();
  }

  const v1::Agreement& roster = args.current_path.empty() ? a : current.agreement();
  std::vector<std::string> missing;
  out << "members     " << a.members_size() << "\n";
  for (const v1::Member& m : a.members()) {
    const bool signed_by = std::binary_search(signers.begin(), signers.end(), m.ags());
    out << "  " << m.ags() << (m.ags().size() == 5 ? "     " : "  ") << m.name() << " ("
        << (m.role() == v1::ROLE_COUNTY ? "county" : "municipality") << ", " << m.endpoint()
        << ")  " << (signed_by ? "signed" : "not signed") << "\n";
  }
  for (const v1::Member& m : roster.members()) {
    if (!std::binary_search(signers.begin(), signers.end(), m.ags())) missing.push_back(m.ags());
  }
  if (!args.current_path.empty()) {
    out << "amends      v" << current.agreement().version() << "; signatures counted under its "
        << "rule: " << (signers.empty() ? "none" : absl::StrJoin(signers, ", ")) << "\n";
  }
  out << "signed by   " << (signers.empty() ? "nobody" : absl::StrJoin(signers, ", ")) << "\n"
      << "missing     " << (missing.empty() ? "nobody" : absl::StrJoin(missing, ", ")) << "\n";

  std::vector<std::string> certificates;
  for (const v1::Signature& s : signed_agreement.signatures()) {
    certificates.push_back(s.certificate_pem());
  }
  for (const Warning& w : ExpiryWarnings(a, certificates, args.now)) {
    out << "warning     " << w.message << "\n";
  }

  if (!signatures_status.ok()) {
    err << "agreement verify: " << signatures_status.message() << "\n";
    return 1;
  }
  if (!args.current_path.empty()) {
    absl::Status amendment = CheckAmendment(current, signed_agreement, args.now);
    if (!amendment.ok()) {
      err << "agreement verify: " << amendment.message() << "\n";
      return 1;
    }
    out << "result      valid amendment of v" << current.agreement().version() << "\n";
    return 0;
  }
  if (!args.expected_fingerprint.empty()) {
    absl::Status initial = CheckInitial(signed_agreement, args.expected_fingerprint, args.now);
    if (!initial.ok()) {
      err << "agreement verify: " << initial.message() << "\n";
      return 1;
    }
    out << "result      may be installed as the first agreement\n";
    return 0;
  }
  if (!missing.empty()) {
    out << "result      valid so far; signatures missing\n";
    return 2;
  }
  out << "result      valid, signed by every member\n";
  return 0;
}

}  // namespace

int RunAgreementSign(const AgreementSignArgs& args, std::ostream& out, std::ostream& err) {
  absl::Status status = Sign(args, out, err);
  if (!status.ok()) {
    err << "agreement sign: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

int RunAgreementVerify(const AgreementVerifyArgs& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<int> code = Verify(args, out, err);
  if (!code.ok()) {
    err << "agreement verify: " << code.status().message() << "\n";
    return 1;
  }
  return *code;
}

}  // namespace fednode::agreement
