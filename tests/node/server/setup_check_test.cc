// `fednode --check-config` (node/server/setup_check.h): a sound setup passes
// and says what it found; each broken part is named, all at once.
#include "node/server/setup_check.h"

#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

#include "certs/pki.h"
#include "federation/agreement/agreement.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"

namespace fednode::server {
namespace {

using ::fednode::testing::IsOk;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

void Write(const std::string& path, const std::string& text, int mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ASSERT_EQ(::chmod(path.c_str(), static_cast<mode_t>(mode)), 0);
}

class SetupCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ = absl::Now();
    certs::CaOptions ca;
    ca.common_name = "Test CA";
    ca.not_before = now_ - absl::Hours(1);
    ca.not_after = now_ + absl::Hours(24 * 365);
    auto root = certs::CreateRootCa(ca);
    ASSERT_THAT(root.status(), IsOk());
    ca_ = *root;
    node_ = Issue("06531005", now_ + absl::Hours(24 * 365));
    Write(dir_.File("node.key"), node_.key_pem, 0600);
    Write(dir_.File("node.crt"), node_.cert_pem, 0644);
    config_.set_member_ags("06531005");
    config_.set_member_name("Gießen");
    config_.set_data_dir(dir_.File("data"));
    config_.set_admin_socket(dir_.File("admin.sock"));
    config_.mutable_federation()->set_listen_address("127.0.0.1:0");
    config_.mutable_federation()->set_key_file(dir_.File("node.key"));
    config_.mutable_federation()->set_cert_file(dir_.File("node.crt"));
  }

  certs::KeyAndCert Issue(const std::string& ags, absl::Time not_after) {
    certs::NodeCertOptions o;
    o.ags = ags;
    o.common_name = absl::StrCat("fednode ", ags);
    o.not_before = now_ - absl::Hours(1);
    o.not_after = not_after;
    auto kc = certs::IssueNodeCertificate(ca_, o);
    EXPECT_THAT(kc.status(), IsOk());
    return kc.ok() ? *kc : certs::KeyAndCert();
  }

  // Installs (as fednode would store it) an agreement naming this node with
  // its pin, signed by it.
  void InstallAgreement(absl::Time valid_until) {
    agreement::v1::SignedAgreement sa;
    auto* a = sa.mutable_agreement();
    a->set_agreement_id("kv-test");
    a->set_version(1);
    a->set_title("Test");
    a->set_valid_from(agreement::FormatRfc3339(now_ - absl::Hours(2)));
    a->set_valid_until(agreement::FormatRfc3339(valid_until));
    auto* m = a->add_members();
    m->set_ags("06531005");
    m->set_name("Gießen");
    m->set_role(agreement::v1::ROLE_MUNICIPALITY);
    m->set_endpoint("127.0.0.1:1");
    m->add_spki_sha256(*certs::SpkiSha256(node_.cert_pem));
    a->add_trust_anchors_pem(ca_.cert_pem);
    a->mutable_amendment_rule()->set_kind(agreement::v1::AmendmentRule::KIND_ALL_MEMBERS);
    auto sig = agreement::SignAgreement(*a, "06531005", node_.key_pem, node_.cert_pem, now_);
    ASSERT_THAT(sig.status(), IsOk());
    *sa.add_signatures() = *sig;
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(sa, &text));
    storage::DatasetStoreOptions o;
    o.path = dir_.File("data");
    auto store = storage::DatasetStore::Open(o);
    ASSERT_THAT(store.status(), IsOk());
    ASSERT_THAT((*store)->PutMeta("member_ags", "06531005"), IsOk());
    ASSERT_THAT((*store)->PutMeta("agreement", text), IsOk());
  }

  fednode::testing::TempDir dir_;
  absl::Time now_;
  certs::KeyAndCert ca_;
  certs::KeyAndCert node_;
  config::v1::NodeConfig config_;
};

TEST_F(SetupCheckTest, SoundSetupPassesAndSaysWhatItFound) {
  InstallAgreement(now_ + absl::Hours(24 * 400));
  SetupReport r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_THAT(r.notes, Contains(HasSubstr("storage format 2, 0 datasets")));
  EXPECT_THAT(r.notes, Contains(AllOf(HasSubstr("certificate: 06531005, valid until"),
                                      HasSubstr(*certs::SpkiSha256(node_.cert_pem)))));
  EXPECT_THAT(r.notes,
              Contains(HasSubstr("agreement kv-test v1: 1 valid signatures of 1 members")));
}

TEST_F(SetupCheckTest, WithoutDataOrAgreementTheNodeCanStartAndSaysSo) {
  SetupReport r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems, IsEmpty());
  // The node creates the socket's directory at start, such as the data
  // directory of the default socket: no problem (found by a fresh-user
  // review).
  config_.set_admin_socket(dir_.File("data/admin.sock"));
  EXPECT_THAT(CheckSetup(config_, now_).problems, IsEmpty());
  config_.set_admin_socket(dir_.File("run/fednode/admin.sock"));
  EXPECT_THAT(CheckSetup(config_, now_).problems, IsEmpty());
  config_.set_admin_socket(dir_.File("admin.sock"));
  EXPECT_THAT(r.notes, Contains(HasSubstr("does not exist yet; created at start")));
  EXPECT_THAT(r.notes, Contains(HasSubstr("no agreement installed")));
  ASSERT_EQ(::mkdir(dir_.File("data").c_str(), 0700), 0);  // prepared by the operator
  r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_THAT(r.notes, Contains(HasSubstr("empty; the database is created at start")));
}

TEST_F(SetupCheckTest, EveryBrokenPartIsNamed) {
  InstallAgreement(now_ - absl::Hours(1));  // expired
  certs::KeyAndCert other = Issue("06531011", now_ + absl::Hours(24 * 365));
  Write(dir_.File("node.key"), other.key_pem, 0644);  // another key, readable by all
  Write(dir_.File("plain"), "a file, not a directory", 0644);
  config_.set_admin_socket(dir_.File("plain/run/admin.sock"));
  SetupReport r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems,
              ElementsAre(AllOf(HasSubstr("admin_socket"), HasSubstr("plain is not a directory")),
                          AllOf(HasSubstr("federation.key_file"), HasSubstr("mode 0644")),
                          AllOf(HasSubstr("federation.key_file"),
                                HasSubstr("does not match the certificate")),
                          AllOf(HasSubstr("agreement kv-test v1"), HasSubstr("expired"))));
}

TEST_F(SetupCheckTest, CertificateOfAnotherMemberOrExpiredIsNamed) {
  certs::KeyAndCert lich = Issue("06531011", now_ + absl::Hours(24 * 365));
  Write(dir_.File("node.key"), lich.key_pem, 0600);
  Write(dir_.File("node.crt"), lich.cert_pem, 0644);
  SetupReport r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems, ElementsAre(HasSubstr("names 06531011, not member_ags 06531005")));

  certs::KeyAndCert soon = Issue("06531005", now_ + absl::Hours(24 * 10));
  Write(dir_.File("node.key"), soon.key_pem, 0600);
  Write(dir_.File("node.crt"), soon.cert_pem, 0644);
  r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems, IsEmpty());
  EXPECT_THAT(r.notes, Contains(HasSubstr("certificate: warning: expires in")));
  r = CheckSetup(config_, now_ + absl::Hours(24 * 11));
  EXPECT_THAT(r.problems, ElementsAre(HasSubstr("expired at")));
}

TEST_F(SetupCheckTest, OlderFormatSaysThatAMigrationWillRunAndANewerOneIsAProblem) {
  config_.clear_federation();
  for (uint32_t version : {1u, 99u}) {
    {
      storage::DatasetStoreOptions o;
      o.path = dir_.File("data");
      auto store = storage::DatasetStore::Open(o);
      ASSERT_THAT(store.status(), IsOk());
      ASSERT_THAT((*store)->SetFormatVersionForTest(version), IsOk());
    }
    SetupReport r = CheckSetup(config_, now_);
    if (version == 1) {
      EXPECT_THAT(r.problems, IsEmpty());
      EXPECT_THAT(r.notes, Contains(HasSubstr("storage format 1 (fednode migrates it to format 2 "
                                              "at start; back it up first), 0 datasets")));
    } else {
      EXPECT_THAT(r.problems, ElementsAre(HasSubstr("format 99 is newer than this fednode (2); "
                                                    "upgrade fednode or restore a backup")));
    }
  }
}

TEST_F(SetupCheckTest, DataOfAnotherMemberIsNamed) {
  InstallAgreement(now_ + absl::Hours(24 * 400));
  config_.set_member_ags("06531011");
  config_.clear_federation();
  SetupReport r = CheckSetup(config_, now_);
  EXPECT_THAT(r.problems, ElementsAre(HasSubstr("holds the data of 06531005, not of member_ags "
                                                "06531011")));
}

}  // namespace
}  // namespace fednode::server
