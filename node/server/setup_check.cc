#include "node/server/setup_check.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "federation/identity/tls_credentials.h"
#include "node/server/federation_host.h"
#include "node/server/node.h"
#include "node/storage/dataset_store.h"
#include "node/storage/key_codec.h"

namespace fednode::server {
namespace {

namespace fs = std::filesystem;

// The file's contents, or a problem naming the field.
bool ReadFile(const std::string& field, const std::string& path, std::string* out,
              SetupReport* report) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    report->problems.push_back(absl::StrCat(field, " ", path, ": cannot be read"));
    return false;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  *out = buf.str();
  return true;
}

std::string Days(absl::Duration d) {
  return absl::StrCat(static_cast<int64_t>(absl::ToDoubleHours(d) / 24), " days");
}

// The agreement installed in the data directory, if any.
std::optional<agreement::v1::SignedAgreement> CheckDataDir(const config::v1::NodeConfig& config,
                                                           SetupReport* report) {
  std::error_code ec;
  if (!fs::exists(config.data_dir(), ec)) {
    report->notes.push_back(
        absl::StrCat("data_dir ", config.data_dir(), ": does not exist yet; created at start"));
    return std::nullopt;
  }
  if (!fs::is_directory(config.data_dir(), ec)) {
    report->problems.push_back(
        absl::StrCat("data_dir ", config.data_dir(), ": is not a directory"));
    return std::nullopt;
  }
  if (fs::is_empty(config.data_dir(), ec)) {
    report->notes.push_back(
        absl::StrCat("data_dir ", config.data_dir(), ": empty; the database is created at start"));
    return std::nullopt;
  }
  storage::DatasetStoreOptions o;
  o.path = config.data_dir();
  o.create_if_missing = false;
  o.read_only = true;
  o.segment_cache_bytes = 0;
  absl::StatusOr<std::unique_ptr<storage::DatasetStore>> store = storage::DatasetStore::Open(o);
  if (!store.ok()) {
    report->problems.push_back(
        absl::StrCat("data_dir ", config.data_dir(), ": ", store.status().message()));
    return std::nullopt;
  }
  absl::StatusOr<std::string> ags = (*store)->GetMeta(kMemberAgsMetaKey);
  if (ags.ok() && *ags != config.member_ags()) {
    report->problems.push_back(absl::StrCat("data_dir ", config.data_dir(), ": holds the data of ",
                                            *ags, ", not of member_ags ", config.member_ags()));
  }
  absl::StatusOr<std::vector<catalog::v1::CatalogEntry>> entries = (*store)->ListCatalog();
  const uint32_t format = (*store)->format_version();
  report->notes.push_back(
      absl::StrCat("data_dir ", config.data_dir(), ": storage format ", format,
                   format < storage::kFormatVersion
                       ? absl::StrCat(" (fednode migrates it to format ", storage::kFormatVersion,
                                      " at start; back it up first)")
                       : "",
                   ", ", entries.ok() ? entries->size() : 0, " datasets"));
  absl::StatusOr<std::optional<agreement::v1::SignedAgreement>> stored =
      LoadStoredAgreement(store->get());
  if (!stored.ok()) {
    report->problems.push_back(absl::StrCat("installed agreement: ", stored.status().message()));
    return std::nullopt;
  }
  return *std::move(stored);
}

// `credentials_ok`: the files passed CheckCredentials (else their problems
// are already named and not repeated here).
void CheckAgreement(const agreement::v1::SignedAgreement& signed_agreement,
                    const config::v1::NodeConfig& config, bool credentials_ok, absl::Time now,
                    SetupReport* report) {
  const agreement::v1::Agreement& a = signed_agreement.agreement();
  const std::string name = absl::StrCat("agreement ", a.agreement_id(), " v", a.version());
  absl::StatusOr<std::vector<std::string>> signers = agreement::VerifySignatures(signed_agreement);
  if (!signers.ok()) {
    report->problems.push_back(absl::StrCat(name, ": ", signers.status().message()));
  } else {
    report->notes.push_back(absl::StrCat(name, ": ", signers->size(), " valid signatures of ",
                                         a.members_size(), " members; fingerprint ",
                                         agreement::Fingerprint(a)));
  }
  absl::Status in_force = agreement::CheckInForce(a, now);
  if (!in_force.ok()) report->problems.push_back(absl::StrCat(name, ": ", in_force.message()));
  for (const auto& w : agreement::ExpiryWarnings(a, {}, now)) {
    report->notes.push_back(absl::StrCat("warning: ", w.message));
  }
  if (config.has_federation() && credentials_ok) {
    const auto& f = config.federation();
    absl::StatusOr<identity::OwnCredentials> own = identity::LoadOwnCredentials(
        {f.key_file(), f.cert_file(), f.chain_file()}, a, config.member_ags(), now);
    if (!own.ok()) {
      report->problems.push_back(
          absl::StrCat("federation credentials under ", name, ": ", own.status().message()));
    }
  }
}

// Returns whether no problem was found.
bool CheckCredentials(const config::v1::NodeConfig& config, absl::Time now, SetupReport* report) {
  const size_t problems_before = report->problems.size();
  const auto& f = config.federation();
  struct stat st {};
  if (::stat(f.key_file().c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    report->problems.push_back(
        absl::StrCat("federation.key_file ", f.key_file(), ": readable by group or others (mode ",
                     absl::StrFormat("%04o", st.st_mode & 07777), "); chmod 600 it"));
  }
  std::string key, cert, chain;
  const bool have_key = ReadFile("federation.key_file", f.key_file(), &key, report);
  const bool have_cert = ReadFile("federation.cert_file", f.cert_file(), &cert, report);
  if (!f.chain_file().empty()) ReadFile("federation.chain_file", f.chain_file(), &chain, report);
  if (!have_cert) return false;
  absl::StatusOr<certs::CertInfo> info = certs::InspectCertificate(cert);
  if (!info.ok()) {
    report->problems.push_back(
        absl::StrCat("federation.cert_file ", f.cert_file(), ": ", info.status().message()));
    return false;
  }
  absl::StatusOr<std::string> ags = certs::AgsFromCertificate(cert);
  if (!ags.ok() || *ags != config.member_ags()) {
    report->problems.push_back(absl::StrCat("federation.cert_file ", f.cert_file(), ": names ",
                                            ags.ok() ? *ags : std::string("no AGS"),
                                            ", not member_ags ", config.member_ags()));
  }
  if (now < info->not_before) {
    report->problems.push_back(absl::StrCat("federation.cert_file ", f.cert_file(),
                                            ": not valid before ",
                                            agreement::FormatRfc3339(info->not_before)));
  } else if (now > info->not_after) {
    report->problems.push_back(absl::StrCat("federation.cert_file ", f.cert_file(), ": expired at ",
                                            agreement::FormatRfc3339(info->not_after)));
  } else {
    report->notes.push_back(absl::StrCat("certificate: ", ags.ok() ? *ags : "", ", valid until ",
                                         agreement::FormatRfc3339(info->not_after), " (",
                                         Days(info->not_after - now), "), key pin ",
                                         info->spki_sha256));
    if (info->not_after - now < agreement::kExpiryWarningWindow) {
      report->notes.push_back(absl::StrCat("certificate: warning: expires in ",
                                           Days(info->not_after - now), "; issue a new one"));
    }
  }
  if (have_key) {
    absl::Status match = certs::CheckKeyMatchesCertificate(key, cert);
    if (!match.ok()) {
      report->problems.push_back(absl::StrCat("federation.key_file ", f.key_file(),
                                              ": does not match the certificate in "
                                              "federation.cert_file (",
                                              match.message(), ")"));
    }
  }
  return report->problems.size() == problems_before;
}

}  // namespace

SetupReport CheckSetup(const config::v1::NodeConfig& config, absl::Time now) {
  SetupReport report;
  std::error_code ec;
  // The node creates the socket's directory at start (PrepareAdminSocketPath),
  // which fails only when the nearest existing ancestor is no directory.
  fs::path existing = fs::path(config.admin_socket()).parent_path();
  while (!existing.empty() && !fs::exists(existing, ec) && existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  if (!existing.empty() && fs::exists(existing, ec) && !fs::is_directory(existing, ec)) {
    report.problems.push_back(absl::StrCat("admin_socket ", config.admin_socket(), ": ",
                                           existing.string(),
                                           " is not a directory, so the socket cannot be made"));
  }
  std::optional<agreement::v1::SignedAgreement> installed = CheckDataDir(config, &report);
  const bool credentials_ok = config.has_federation() && CheckCredentials(config, now, &report);
  if (installed.has_value()) {
    CheckAgreement(*installed, config, credentials_ok, now, &report);
  } else if (config.has_federation()) {
    report.notes.push_back(
        "no agreement installed: the federation port stays closed until `fedctl agreement "
        "install`");
  }
  return report;
}

}  // namespace fednode::server
