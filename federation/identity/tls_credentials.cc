#include "federation/identity/tls_credentials.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

#include "certs/digest.h"
#include "certs/pki.h"
#include "node/base/log.h"
#include "node/base/status_macros.h"

namespace fednode::identity {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Verifies the server side of an outgoing call with MemberAuthenticator.
class PinnedMemberVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  PinnedMemberVerifier(const MemberAuthenticator* authenticator, std::string expected_ags)
      : authenticator_(authenticator), expected_ags_(std::move(expected_ags)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    grpc::string_ref leaf = request->peer_cert();
    grpc::string_ref chain = request->peer_cert_full_chain();
    absl::StatusOr<Member> m =
        authenticator_->Authenticate(absl::string_view(leaf.data(), leaf.size()),
                                     absl::string_view(chain.data(), chain.size()), expected_ags_);
    if (m.ok()) {
      *sync_status = grpc::Status::OK;
    } else {
      FEDNODE_LOG(WARNING) << "refusing server at member " << expected_ags_
                           << "'s endpoint: " << m.status().message();
      *sync_status =
          grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(m.status().message()));
    }
    return true;  // synchronous
  }

  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  const MemberAuthenticator* authenticator_;
  std::string expected_ags_;
};

}  // namespace

absl::StatusOr<OwnCredentials> LoadOwnCredentials(const TlsFiles& files,
                                                  const agreement::v1::Agreement& agreement,
                                                  absl::string_view expected_ags, absl::Time now) {
  OwnCredentials c;
  // A private key others can read is not private: refused, as ssh does.
  struct stat st {};
  if (::stat(files.key_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(files.key_file, ": the private key is readable by group or others (mode ",
                     absl::StrFormat("%04o", st.st_mode & 07777), "); chmod 600 it"));
  }
  FEDNODE_ASSIGN_OR_RETURN(c.key_pem, ReadFile(files.key_file));
  FEDNODE_ASSIGN_OR_RETURN(c.cert_pem, ReadFile(files.cert_file));
  if (!files.chain_file.empty()) {
    FEDNODE_ASSIGN_OR_RETURN(c.chain_pem, ReadFile(files.chain_file));
  }
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> leaf, certs::SplitPemCertificates(c.cert_pem));
  if (leaf.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(files.cert_file, ": no PEM certificate"));
  }
  // A cert file may carry the chain after the leaf; the leaf is the first.
  std::string chain_all = c.chain_pem;
  for (size_t i = 1; i < leaf.size(); ++i) chain_all += leaf[i];
  c.cert_pem = leaf[0];
  c.chain_pem = chain_all;
  FEDNODE_ASSIGN_OR_RETURN(std::vector<std::string> intermediates,
                           certs::SplitPemCertificates(c.chain_pem));
  FEDNODE_RETURN_IF_ERROR(Annotate(certs::CheckKeyMatchesCertificate(c.key_pem, c.cert_pem),
                                   absl::StrCat(files.key_file, " and ", files.cert_file)));
  if (agreement.trust_anchors_pem().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agreement ", agreement.agreement_id(), " v", agreement.version(),
                     " names no trust anchor: the node cannot verify anyone"));
  }
  std::vector<std::string> anchors(agreement.trust_anchors_pem().begin(),
                                   agreement.trust_anchors_pem().end());
  std::vector<std::string> crls(agreement.crls_pem().begin(), agreement.crls_pem().end());
  absl::Status chain = certs::VerifyChain(c.cert_pem, intermediates, anchors, crls, now);
  if (!chain.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("own certificate ", files.cert_file,
                     " does not verify to the agreement's trust anchors: ", chain.message()));
  }
  FEDNODE_ASSIGN_OR_RETURN(c.ags, certs::AgsFromCertificate(c.cert_pem));
  if (!expected_ags.empty() && c.ags != expected_ags) {
    return absl::FailedPreconditionError(
        absl::StrCat("own certificate names AGS ", c.ags, ", this node is member ", expected_ags));
  }
  FEDNODE_ASSIGN_OR_RETURN(c.spki_sha256, certs::SpkiSha256(c.cert_pem));
  // Peers accept only pinned keys: a key the agreement does not pin for this
  // member would cut the node off from everyone.
  bool pinned = false;
  for (const auto& m : agreement.members()) {
    if (m.ags() != c.ags) continue;
    for (const auto& pin : m.spki_sha256()) pinned |= pin == c.spki_sha256;
  }
  if (!pinned) {
    return absl::FailedPreconditionError(
        absl::StrCat("own key ", c.spki_sha256, " is not pinned for member ", c.ags,
                     " in agreement ", agreement.agreement_id(), " v", agreement.version(),
                     "; pin it by amendment before switching to it"));
  }
  FEDNODE_ASSIGN_OR_RETURN(certs::CertInfo info, certs::InspectCertificate(c.cert_pem));
  c.not_after = info.not_after;
  return c;
}

CredentialStager::CredentialStager(std::string staging_dir, TlsFiles files,
                                   std::string expected_ags)
    : staging_dir_(std::move(staging_dir)),
      files_(std::move(files)),
      expected_ags_(std::move(expected_ags)) {}

std::string CredentialStager::key_path() const { return staging_dir_ + "/live/key.pem"; }
std::string CredentialStager::cert_path() const { return staging_dir_ + "/live/cert.pem"; }

OwnCredentials CredentialStager::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status CredentialStager::Reload(const agreement::v1::Agreement& agreement, absl::Time now) {
  absl::StatusOr<OwnCredentials> loaded = LoadOwnCredentials(files_, agreement, expected_ags_, now);
  absl::MutexLock lock(&mu_);
  if (!loaded.ok()) {
    if (generation_ > 0) {
      FEDNODE_LOG(WARNING) << "TLS credentials not reloaded, the old ones stay in use: "
                           << loaded.status().message();
    }
    return loaded.status();
  }
  std::string digest =
      certs::Sha256Hex(absl::StrCat(loaded->key_pem, loaded->cert_pem, loaded->chain_pem));
  if (digest == installed_digest_) return absl::OkStatus();

  std::error_code ec;
  std::filesystem::create_directories(staging_dir_, ec);
  ::chmod(staging_dir_.c_str(), 0700);
  ++generation_;
  std::string gen_dir = absl::StrCat(staging_dir_, "/gen-", getpid(), "-", generation_);
  std::filesystem::remove_all(gen_dir, ec);
  std::filesystem::create_directories(gen_dir, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat("cannot create ", gen_dir, ": ", ec.message()));
  FEDNODE_RETURN_IF_ERROR(certs::WriteFileAtomically(gen_dir + "/key.pem", loaded->key_pem, 0600));
  FEDNODE_RETURN_IF_ERROR(certs::WriteFileAtomically(gen_dir + "/cert.pem",
                                                     loaded->cert_pem + loaded->chain_pem, 0644));
  // Swap the symlink atomically: rename(2) replaces "live" in one step.
  std::string tmp_link = absl::StrCat(staging_dir_, "/live.tmp");
  std::filesystem::remove(tmp_link, ec);
  std::filesystem::create_directory_symlink(gen_dir, tmp_link, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot link ", tmp_link, ": ", ec.message()));
  if (std::rename(tmp_link.c_str(), (staging_dir_ + "/live").c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot install credentials in ", staging_dir_));
  }
  // Remove older generations; the FileWatcher has read or will read "live".
  for (const auto& entry : std::filesystem::directory_iterator(staging_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("gen-", 0) == 0 && entry.path().string() != gen_dir) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }
  if (!installed_digest_.empty()) {
    FEDNODE_LOG(INFO) << "TLS credentials rotated: certificate key " << loaded->spki_sha256
                      << ", valid until "
                      << absl::FormatTime("%Y-%m-%d", loaded->not_after, absl::UTCTimeZone());
  }
  installed_digest_ = digest;
  current_ = *std::move(loaded);
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> FederationServerCredentials(
    const CredentialStager& stager) {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      stager.key_path(), stager.cert_path(), kCredentialRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> FederationChannelCredentials(
    const CredentialStager& stager, const MemberAuthenticator* authenticator,
    std::string expected_ags) {
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      stager.key_path(), stager.cert_path(), kCredentialRefreshSeconds);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);  // PinnedMemberVerifier does the whole check
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<PinnedMemberVerifier>(
          authenticator, std::move(expected_ags)));
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace fednode::identity
