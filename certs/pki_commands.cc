#include "certs/pki_commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "certs/pki.h"
#include "node/base/status_macros.h"

namespace fednode::certs {
namespace {

constexpr int kKeyMode = 0600;
constexpr int kPublicMode = 0644;
constexpr int kMaxDays = 36500;
// New certificates and CRLs start this much before "now", so that a peer
// whose clock is a little behind does not see them as not yet valid.
constexpr absl::Duration kBackdate = absl::Hours(1);

constexpr char kCaKey[] = "ca.key";
constexpr char kCaCert[] = "ca.crt";
constexpr char kChain[] = "chain.crt";
constexpr char kRevoked[] = "revoked.pem";
constexpr char kCrl[] = "ca.crl";
constexpr char kNodeKey[] = "node.key";
constexpr char kNodeCert[] = "node.crt";

std::string Join(const std::string& dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

absl::Time Now(const Clock* clock) {
  return (clock != nullptr ? clock : SystemClock::Get())->Now();
}

std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

int Fail(std::ostream& err, absl::string_view command, const absl::Status& status) {
  err << "fedctl pki " << command << ": " << status.message() << "\n";
  return 1;
}

absl::Status CheckDays(int days, absl::string_view flag) {
  if (days < 1 || days > kMaxDays) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " must be between 1 and ", kMaxDays, " (got ", days, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckNonEmpty(const std::string& value, absl::string_view flag) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// NotFound when `path` is missing, Unavailable when it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) {
    const int e = errno;
    if (!Exists(path)) return absl::NotFoundError(absl::StrCat("no such file: ", path));
    return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ",
                                               std::strerror(e)));  // NOLINT(concurrency-mt-unsafe)
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return ss.str();
}

// The file's contents, or nullopt when it does not exist.
absl::StatusOr<std::optional<std::string>> ReadOptionalFile(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile(path);
  if (absl::IsNotFound(data.status())) return std::optional<std::string>();
  if (!data.ok()) return data.status();
  return std::optional<std::string>(*std::move(data));
}

// Creates `dir` (and parents) when missing; a new leaf directory gets 0700.
absl::Status EnsureDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("empty directory name");
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return absl::OkStatus();
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create directory ", dir, ": ", ec.message()));
  }
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot set mode of ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

// AlreadyExists for the first of `paths` that exists, unless `force`.
absl::Status CheckNoOverwrite(const std::vector<std::string>& paths, bool force) {
  if (force) return absl::OkStatus();
  for (const std::string& path : paths) {
    if (Exists(path)) {
      return absl::AlreadyExistsError(
          absl::StrCat("refusing to overwrite ", path, " (use --force)"));
    }
  }
  return absl::OkStatus();
}

// A CA directory's key, certificate and (for an intermediate) chain.
struct CaDir {
  KeyAndCert ca;
  std::string chain_pem;  // empty for a root CA
  CertInfo info;
};

absl::StatusOr<CaDir> LoadCaDir(const std::string& dir) {
  CaDir out;
  FEDNODE_ASSIGN_OR_RETURN(out.ca.cert_pem, ReadFile(Join(dir, kCaCert)));
  FEDNODE_ASSIGN_OR_RETURN(out.ca.key_pem, ReadFile(Join(dir, kCaKey)));
  FEDNODE_RETURN_IF_ERROR(
      Annotate(CheckKeyMatchesCertificate(out.ca.key_pem, out.ca.cert_pem), Join(dir, kCaKey)));
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> chain, ReadOptionalFile(Join(dir, kChain)));
  if (chain.has_value()) out.chain_pem = *std::move(chain);
  auto info = InspectCertificate(out.ca.cert_pem);
  if (!info.ok()) return Annotate(info.status(), Join(dir, kCaCert));
  out.info = *std::move(info);
  return out;
}

// Reads the first certificate of a PEM file.
absl::StatusOr<std::string> ReadCertificate(const std::string& path) {
  FEDNODE_ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto certs = SplitPemCertificates(pem);
  if (!certs.ok()) return Annotate(certs.status(), path);
  if (certs->empty()) return absl::InvalidArgumentError(absl::StrCat("no certificate in ", path));
  return std::move(certs->front());
}

// The validity [now - kBackdate, now + days], cut to the issuer's not_after.
std::pair<absl::Time, absl::Time> Validity(absl::Time now, int days, const CertInfo* issuer,
                                           std::ostream& err) {
  absl::Time not_after = now + absl::Hours(24) * days;
  if (issuer != nullptr && not_after > issuer->not_after) {
    not_after = issuer->not_after;
    err << "note: validity cut to the issuer's expiry " << TimeText(not_after) << "\n";
  }
  return {now - kBackdate, not_after};
}

void PrintCert(std::ostream& out, const std::string& cert_pem) {
  auto info = InspectCertificate(cert_pem);
  if (!info.ok()) return;
  out << "subject: " << info->subject << "\n"
      << "valid: " << TimeText(info->not_before) << " .. " << TimeText(info->not_after) << "\n"
      << "spki-sha256: " << info->spki_sha256 << "\n";
}

absl::Status InitCa(const PkiInitCaArgs& args, std::ostream& out) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.dir, "--dir"));
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.name, "--name"));
  FEDNODE_RETURN_IF_ERROR(CheckDays(args.days, "--days"));
  const std::string key_path = Join(args.dir, kCaKey);
  const std::string cert_path = Join(args.dir, kCaCert);
  FEDNODE_RETURN_IF_ERROR(CheckNoOverwrite({key_path, cert_path}, args.force));
  std::ostringstream ignored;
  const auto [not_before, not_after] = Validity(Now(args.clock), args.days, nullptr, ignored);
  CaOptions options;
  options.common_name = args.name;
  options.organization = args.organization;
  options.not_before = not_before;
  options.not_after = not_after;
  FEDNODE_ASSIGN_OR_RETURN(KeyAndCert ca, CreateRootCa(options));
  FEDNODE_RETURN_IF_ERROR(EnsureDir(args.dir));
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(key_path, ca.key_pem, kKeyMode));
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(cert_path, ca.cert_pem, kPublicMode));
  out << "wrote " << key_path << " (mode 0600)\n"
      << "wrote " << cert_path << "\n";
  PrintCert(out, ca.cert_pem);
  return absl::OkStatus();
}

absl::Status Issue(const PkiIssueArgs& args, std::ostream& out, std::ostream& err) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.ca_dir, "--ca-dir"));
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.ags, "--ags"));
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.out_dir, "--out-dir"));
  FEDNODE_RETURN_IF_ERROR(CheckDays(args.days, "--days"));
  if (args.dns_names.empty() && args.ip_addresses.empty()) {
    return absl::InvalidArgumentError("at least one --dns or --ip is required");
  }
  const std::string key_path = Join(args.out_dir, kNodeKey);
  const std::string cert_path = Join(args.out_dir, kNodeCert);
  const std::string chain_path = Join(args.out_dir, kChain);
  FEDNODE_RETURN_IF_ERROR(CheckNoOverwrite({key_path, cert_path, chain_path}, args.force));
  FEDNODE_ASSIGN_OR_RETURN(CaDir ca, LoadCaDir(args.ca_dir));
  const auto [not_before, not_after] = Validity(Now(args.clock), args.days, &ca.info, err);
  NodeCertOptions options;
  options.ags = args.ags;
  options.common_name = args.name;
  options.dns_names = args.dns_names;
  options.ip_addresses = args.ip_addresses;
  options.not_before = not_before;
  options.not_after = not_after;
  FEDNODE_ASSIGN_OR_RETURN(KeyAndCert node, IssueNodeCertificate(ca.ca, options));
  FEDNODE_RETURN_IF_ERROR(EnsureDir(args.out_dir));
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(key_path, node.key_pem, kKeyMode));
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(cert_path, node.cert_pem, kPublicMode));
  FEDNODE_RETURN_IF_ERROR(
      WriteFileAtomically(chain_path, absl::StrCat(node.cert_pem, ca.chain_pem), kPublicMode));
  out << "wrote " << key_path << " (mode 0600)\n"
      << "wrote " << cert_path << "\n"
      << "wrote " << chain_path << "\n"
      << "ags: " << args.ags << "\n";
  PrintCert(out, node.cert_pem);
  return absl::OkStatus();
}

absl::Status Intermediate(const PkiIntermediateArgs& args, std::ostream& out, std::ostream& err) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.ca_dir, "--ca-dir"));
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.name, "--name"));
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.out_dir, "--out-dir"));
  FEDNODE_RETURN_IF_ERROR(CheckDays(args.days, "--days"));
  const std::string key_path = Join(args.out_dir, kCaKey);
  const std::string cert_path = Join(args.out_dir, kCaCert);
  const std::string chain_path = Join(args.out_dir, kChain);
  FEDNODE_RETURN_IF_ERROR(CheckNoOverwrite({key_path, cert_path, chain_path}, args.force));
  FEDNODE_ASSIGN_OR_RETURN(CaDir parent, LoadCaDir(args.ca_dir));
  const auto [not_before, not_after] = Validity(Now(args.clock), args.days, &parent.info, err);
  CaOptions options;
  options.common_name = args.name;
  options.organization = args.organization;
  options.not_before = not_before;
  options.not_after = not_after;
  FEDNODE_ASSIGN_OR_RETURN(KeyAndCert ca, IssueIntermediateCa(parent.ca, options));
  FEDNODE_RETURN_IF_ERROR(EnsureDir(args.out_dir));
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(key_path, ca.key_pem, kKeyMode));
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(cert_path, ca.cert_pem, kPublicMode));
  FEDNODE_RETURN_IF_ERROR(
      WriteFileAtomically(chain_path, absl::StrCat(ca.cert_pem, parent.chain_pem), kPublicMode));
  out << "wrote " << key_path << " (mode 0600)\n"
      << "wrote " << cert_path << "\n"
      << "wrote " << chain_path << "\n";
  PrintCert(out, ca.cert_pem);
  return absl::OkStatus();
}

// Issues ca.crl of `ca` over `revoked` and writes it; prints a summary.
absl::Status WriteCrl(const std::string& ca_dir, const CaDir& ca,
                      const std::vector<std::string>& revoked, int days, const Clock* clock,
                      std::ostream& out) {
  const absl::Time now = Now(clock);
  const absl::Time next_update = now + absl::Hours(24) * days;
  FEDNODE_ASSIGN_OR_RETURN(std::string crl, IssueCrl(ca.ca, revoked, now - kBackdate, next_update));
  const std::string crl_path = Join(ca_dir, kCrl);
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(crl_path, crl, kPublicMode));
  out << "wrote " << crl_path << " (" << revoked.size() << " revoked, next update "
      << TimeText(next_update) << ")\n";
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ReadRevoked(const std::string& ca_dir) {
  const std::string path = Join(ca_dir, kRevoked);
  FEDNODE_ASSIGN_OR_RETURN(std::optional<std::string> pem, ReadOptionalFile(path));
  if (!pem.has_value()) return std::vector<std::string>();
  auto certs = SplitPemCertificates(*pem);
  if (!certs.ok()) return Annotate(certs.status(), path);
  return certs;
}

absl::Status Revoke(const PkiRevokeArgs& args, std::ostream& out) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.ca_dir, "--ca-dir"));
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.cert_path, "CERT"));
  FEDNODE_RETURN_IF_ERROR(CheckDays(args.crl_days, "--crl-days"));
  FEDNODE_ASSIGN_OR_RETURN(CaDir ca, LoadCaDir(args.ca_dir));
  FEDNODE_ASSIGN_OR_RETURN(std::string cert, ReadCertificate(args.cert_path));
  FEDNODE_ASSIGN_OR_RETURN(CertInfo info, InspectCertificate(cert));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> revoked, ReadRevoked(args.ca_dir));
  // SplitPemCertificates re-encodes, so equal certificates have equal text.
  if (std::find(revoked.begin(), revoked.end(), cert) != revoked.end()) {
    out << "serial " << info.serial_hex << " was already revoked\n";
  } else {
    revoked.push_back(cert);
  }
  // IssueCrl refuses a certificate of another CA before anything is written.
  const absl::Time now = Now(args.clock);
  FEDNODE_RETURN_IF_ERROR(
      IssueCrl(ca.ca, revoked, now - kBackdate, now + absl::Hours(24)).status());
  std::string all;
  for (const std::string& pem : revoked) absl::StrAppend(&all, pem);
  FEDNODE_RETURN_IF_ERROR(WriteFileAtomically(Join(args.ca_dir, kRevoked), all, kPublicMode));
  out << "revoked serial " << info.serial_hex << " (" << info.subject << ")\n";
  return WriteCrl(args.ca_dir, ca, revoked, args.crl_days, args.clock, out);
}

absl::Status Crl(const PkiCrlArgs& args, std::ostream& out) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.ca_dir, "--ca-dir"));
  FEDNODE_RETURN_IF_ERROR(CheckDays(args.days, "--days"));
  FEDNODE_ASSIGN_OR_RETURN(CaDir ca, LoadCaDir(args.ca_dir));
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> revoked, ReadRevoked(args.ca_dir));
  return WriteCrl(args.ca_dir, ca, revoked, args.days, args.clock, out);
}

absl::Status Pin(const PkiPinArgs& args, std::ostream& out) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.cert_path, "CERT"));
  FEDNODE_ASSIGN_OR_RETURN(std::string cert, ReadCertificate(args.cert_path));
  FEDNODE_ASSIGN_OR_RETURN(std::string pin, SpkiSha256(cert));
  out << pin << "\n";
  return absl::OkStatus();
}

absl::Status Show(const PkiShowArgs& args, std::ostream& out) {
  FEDNODE_RETURN_IF_ERROR(CheckNonEmpty(args.cert_path, "CERT"));
  FEDNODE_ASSIGN_OR_RETURN(std::string cert, ReadCertificate(args.cert_path));
  FEDNODE_ASSIGN_OR_RETURN(CertInfo info, InspectCertificate(cert));
  absl::StatusOr<std::string> ags = AgsFromCertificate(cert);
  out << "subject: " << info.subject << "\n"
      << "issuer: " << info.issuer << "\n"
      << "serial: " << info.serial_hex << "\n"
      << "not-before: " << TimeText(info.not_before) << "\n"
      << "not-after: " << TimeText(info.not_after) << "\n"
      << "ags: " << (ags.ok() ? *ags : std::string("-")) << "\n"
      << "spki-sha256: " << info.spki_sha256 << "\n";
  return absl::OkStatus();
}

int Finish(std::ostream& err, absl::string_view command, const absl::Status& status) {
  if (status.ok()) return 0;
  return Fail(err, command, status);
}

}  // namespace

int RunPkiInitCa(const PkiInitCaArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "init-ca", InitCa(args, out));
}

int RunPkiIssue(const PkiIssueArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "issue", Issue(args, out, err));
}

int RunPkiIntermediate(const PkiIntermediateArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "intermediate", Intermediate(args, out, err));
}

int RunPkiRevoke(const PkiRevokeArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "revoke", Revoke(args, out));
}

int RunPkiCrl(const PkiCrlArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "crl", Crl(args, out));
}

int RunPkiPin(const PkiPinArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "pin", Pin(args, out));
}

int RunPkiShow(const PkiShowArgs& args, std::ostream& out, std::ostream& err) {
  return Finish(err, "show", Show(args, out));
}

}  // namespace fednode::certs
