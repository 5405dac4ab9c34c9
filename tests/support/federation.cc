#include "tests/support/federation.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "gtest/gtest.h"

#include "federation/agreement/agreement.h"

namespace fednode::testing {
namespace {

certs::KeyAndCert Must(absl::StatusOr<certs::KeyAndCert> r) {
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : certs::KeyAndCert{};
}

// Accepts any server certificate and records its pin.
class RecordingVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit RecordingVerifier(std::shared_ptr<std::string> seen) : seen_(std::move(seen)) {}
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    auto pin =
        certs::SpkiSha256(std::string(request->peer_cert().data(), request->peer_cert().size()));
    if (pin.ok()) *seen_ = *pin;
    *sync_status = grpc::Status::OK;
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<std::string> seen_;
};

}  // namespace

certs::KeyAndCert TestPki::Ca(const certs::KeyAndCert* issuer, const std::string& name) const {
  certs::CaOptions o;
  o.common_name = name;
  o.organization = "fednode tests";
  o.not_before = now - absl::Hours(2);
  o.not_after = now + absl::Hours(24 * 365);
  return Must(issuer == nullptr ? certs::CreateRootCa(o) : certs::IssueIntermediateCa(*issuer, o));
}

certs::KeyAndCert TestPki::Leaf(const certs::KeyAndCert& issuer, const std::string& ags,
                                absl::Time not_before, absl::Time not_after) const {
  certs::NodeCertOptions o;
  o.ags = ags;
  o.common_name = absl::StrCat("fednode ", ags);
  o.dns_names = {"localhost"};
  o.ip_addresses = {"127.0.0.1"};
  o.not_before = not_before;
  o.not_after = not_after;
  return Must(certs::IssueNodeCertificate(issuer, o));
}

certs::KeyAndCert TestPki::Leaf(const certs::KeyAndCert& issuer, const std::string& ags) const {
  return Leaf(issuer, ags, now - absl::Hours(1), now + absl::Hours(24 * 90));
}

std::string Pin(const certs::KeyAndCert& kc) {
  auto p = certs::SpkiSha256(kc.cert_pem);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : "";
}

std::string Quote(const std::string& s) {
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}}),
                      "\"");
}

std::string SignAgreementText(const std::string& text, const std::vector<std::string>& signers,
                              const std::map<std::string, certs::KeyAndCert>& keys) {
  auto parsed = agreement::ParseAgreement(text, "agreement");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return text;
  std::string out = text;
  for (const auto& ags : signers) {
    auto it = keys.find(ags);
    EXPECT_NE(it, keys.end()) << "no key for " << ags;
    if (it == keys.end()) continue;
    auto sig = agreement::SignAgreement(parsed->agreement(), ags, it->second.key_pem,
                                        it->second.cert_pem, absl::Now());
    EXPECT_TRUE(sig.ok()) << sig.status();
    if (!sig.ok()) continue;
    std::string block;
    google::protobuf::TextFormat::PrintToString(*sig, &block);
    absl::StrAppend(&out, "signatures {\n", block, "}\n");
  }
  return out;
}

std::unique_ptr<federation::v1::FederationService::Stub> FederationClient(
    int port, const certs::KeyAndCert* identity, const std::string& chain_pem,
    std::shared_ptr<std::string> server_pin) {
  return federation::v1::FederationService::NewStub(
      FederationChannel(port, identity, chain_pem, std::move(server_pin)));
}

std::shared_ptr<grpc::Channel> FederationChannel(int port, const certs::KeyAndCert* identity,
                                                 const std::string& chain_pem,
                                                 std::shared_ptr<std::string> server_pin) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (identity != nullptr) {
    std::vector<grpc::experimental::IdentityKeyCertPair> pairs = {
        {identity->key_pem, identity->cert_pem + chain_pem}};
    options.set_certificate_provider(
        std::make_shared<grpc::experimental::StaticDataCertificateProvider>(pairs));
    options.watch_identity_key_cert_pairs();
  }
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  if (server_pin == nullptr) server_pin = std::make_shared<std::string>();
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<RecordingVerifier>(server_pin));
  grpc::ChannelArguments args;
  args.SetInt("fednode.test.unique", static_cast<int>(random()));  // no channel sharing
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::experimental::TlsCredentials(options), args);
}

}  // namespace fednode::testing
