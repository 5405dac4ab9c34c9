#include "node/server/config.h"

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"

namespace fednode::server {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

config::v1::NodeConfig ValidConfig() {
  config::v1::NodeConfig c;
  c.set_member_ags("06531005");
  c.set_member_name("Gießen, Universitätsstadt");
  c.set_data_dir("/var/lib/fednode");
  return c;
}

TEST(ConfigTest, ExampleConfigInDeployIsValid) {
  auto config = LoadConfig(fednode::testing::SourcePath("deploy/giessen/fednode.textproto"));
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->member_ags(), "06531005");
  EXPECT_EQ(config->member_name(), "Gießen, Universitätsstadt");
  EXPECT_EQ(config->shutdown_grace_seconds(), 10u);
}

TEST(ConfigTest, SyntaxErrorNamesFileLineAndColumn) {
  auto c = ParseConfig("member_ags: \"06531005\"\nmember_name: Gießen\n", "node.textproto");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("node.textproto:2:")));
}

TEST(ConfigTest, AConfigThatIsNotUtf8IsRefusedWithLineAndColumn) {
  // "Gießen" saved in Latin-1 (ß = 0xDF), as an editor on Windows may.
  auto c = ParseConfig(
      "member_ags: \"06531005\"\nmember_name: \"Gie\xdf"
      "en\"\n",
      "node.textproto");
  EXPECT_THAT(c.status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "node.textproto:2: bytes are not valid UTF-8 (byte 0xDF at column 18); "
                       "save the file as UTF-8"));
}

TEST(ConfigTest, UnknownFieldIsAnErrorNamingIt) {
  auto c = ParseConfig("member_ags: \"06531005\"\ndata_directory: \"/x\"\n", "n.textproto");
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data_directory")));
}

TEST(ConfigTest, ValidateNamesTheBrokenField) {
  EXPECT_THAT(Validate(ValidConfig()), IsOk());

  auto c = ValidConfig();
  c.set_member_ags("6531005");  // leading zero lost, as a spreadsheet would
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("member_ags: \"6531005\" is not an AGS")));
  c = ValidConfig();
  c.clear_member_name();
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("member_name")));
  c = ValidConfig();
  c.clear_data_dir();
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data_dir")));
  c = ValidConfig();
  c.set_shutdown_grace_seconds(301);
  EXPECT_THAT(Validate(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shutdown_grace_seconds")));
  c = ValidConfig();
  c.set_log_level("verbose");
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("log_level")));
  c = ValidConfig();
  c.mutable_publisher()->set_contact_email("statistik.giessen.de");
  EXPECT_THAT(Validate(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("publisher.contact_email")));
  c = ValidConfig();
  c.set_catalog_base_uri("ftp://x");
  EXPECT_THAT(Validate(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("catalog_base_uri")));
  c = ValidConfig();
  c.set_admin_socket(std::string(120, 'a'));
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("admin_socket")));
}

TEST(ConfigTest, DefaultsFillUnsetFields) {
  auto c = ValidConfig();
  ApplyDefaults(&c);
  EXPECT_EQ(c.admin_socket(), "/var/lib/fednode/admin.sock");
  EXPECT_EQ(c.shutdown_grace_seconds(), 10u);
  EXPECT_EQ(c.log_level(), "info");
}

TEST(ConfigTest, CatalogHarvestIntervalIsOptionalAndBounded) {
  auto c = ParseConfig(
      "member_ags: \"06531005\" member_name: \"Gießen\" data_dir: \"/d\"\n"
      "federation { listen_address: \"127.0.0.1:0\" key_file: \"k\" cert_file: \"c\"\n"
      "  catalog_harvest_interval_seconds: 0 }\n",
      "n.textproto");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->federation().has_catalog_harvest_interval_seconds());  // 0 = off, not unset
  EXPECT_EQ(c->federation().catalog_harvest_interval_seconds(), 0u);
  EXPECT_THAT(Validate(*c), IsOk());
  c->mutable_federation()->clear_catalog_harvest_interval_seconds();
  EXPECT_FALSE(c->federation().has_catalog_harvest_interval_seconds());
  c->mutable_federation()->set_catalog_harvest_interval_seconds(86401);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "federation.catalog_harvest_interval_seconds: 86401 is out "
                                     "of range 0..86400"));
}

TEST(ConfigTest, WorkerThreadsAndQueueHaveDefaultsAndAreBounded) {
  auto c = ParseConfig(
      "member_ags: \"06531005\" member_name: \"Gießen\" data_dir: \"/d\"\n"
      "federation { listen_address: \"127.0.0.1:0\" key_file: \"k\" cert_file: \"c\" }\n",
      "n.textproto");
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(Validate(*c), IsOk());
  ApplyDefaults(&*c);
  EXPECT_EQ(c->federation().worker_threads(), 8u);
  EXPECT_EQ(c->federation().max_queued_calls(), 256u);
  c->mutable_federation()->set_worker_threads(0);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "federation.worker_threads: 0 is out of range 1..256"));
  c->mutable_federation()->set_worker_threads(257);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "federation.worker_threads: 257 is out of range 1..256"));
  c->mutable_federation()->set_worker_threads(1);
  c->mutable_federation()->set_max_queued_calls(0);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "federation.max_queued_calls: 0 is out of range 1..100000"));
  c->mutable_federation()->set_max_queued_calls(1);
  EXPECT_THAT(Validate(*c), IsOk());
}

TEST(ConfigTest, SegmentCacheHasADefaultAndIsBounded) {
  auto c = ParseConfig("member_ags: \"06531005\" member_name: \"Gießen\" data_dir: \"/d\"\n",
                       "n.textproto");
  ASSERT_THAT(c, IsOk());
  ApplyDefaults(&*c);
  EXPECT_EQ(c->segment_cache_mib(), 128u);
  c->set_segment_cache_mib(0);  // off is allowed
  EXPECT_THAT(Validate(*c), IsOk());
  ApplyDefaults(&*c);
  EXPECT_EQ(c->segment_cache_mib(), 0u);
  c->set_segment_cache_mib(65537);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "segment_cache_mib: 65537 is out of range 0..65536"));
}

TEST(ConfigTest, RateLimitsHaveDefaultsAndAreChecked) {
  auto c = ParseConfig(
      "member_ags: \"06531005\" member_name: \"Gießen\" data_dir: \"/d\"\n"
      "federation { listen_address: \"127.0.0.1:0\" key_file: \"k\" cert_file: \"c\"\n"
      "  refusal_audit_rate_limit { per_second: 0 } }\n",
      "n.textproto");
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(Validate(*c), IsOk());
  ApplyDefaults(&*c);
  EXPECT_EQ(c->federation().member_rate_limit().per_second(), 200u);
  EXPECT_EQ(c->federation().member_rate_limit().burst(), 400u);
  EXPECT_EQ(c->federation().refusal_audit_rate_limit().per_second(), 0u);  // set: off
  c->mutable_federation()->mutable_member_rate_limit()->set_per_second(0);
  c->mutable_federation()->mutable_member_rate_limit()->set_burst(5);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     "federation.member_rate_limit.burst: set without per_second "
                                     "(0 means no limit)"));
}

TEST(ConfigTest, HttpPortIsLoopbackUnlessRemoteIsAllowed) {
  auto c = ValidConfig();
  c.mutable_http()->set_listen_address("127.0.0.1:0");
  EXPECT_THAT(Validate(c), IsOk());
  ApplyDefaults(&c);
  EXPECT_EQ(c.http().threads(), 2u);
  for (const char* ok : {"localhost:9464", "[::1]:9464", "127.0.0.2:1"}) {
    c.mutable_http()->set_listen_address(ok);
    EXPECT_THAT(Validate(c), IsOk()) << ok;
  }
  c.mutable_http()->set_listen_address("0.0.0.0:9464");
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr("http.listen_address: \"0.0.0.0:9464\""),
                                          HasSubstr("http.allow_remote: true"))));
  c.mutable_http()->set_allow_remote(true);
  EXPECT_THAT(Validate(c), IsOk());
  c.mutable_http()->set_listen_address("9464");
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("http.listen_address: \"9464\" is not host:port")));
  c.mutable_http()->set_listen_address("127.0.0.1:9464");
  c.mutable_http()->set_threads(17);
  EXPECT_THAT(Validate(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("http.threads")));
}

TEST(ConfigTest, AuditRetentionNeedsAnArchiveDirectoryOutsideTheDataDirectory) {
  auto c = ParseConfig(
      "member_ags: \"06531005\" member_name: \"Gießen\" data_dir: \"/var/lib/fednode\"\n"
      "audit { retention_days: 365 archive_dir: \"/srv/audit-archive\" }\n",
      "n.textproto");
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(Validate(*c), IsOk());
  c->mutable_audit()->set_retention_days(36501);
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("audit.retention_days: 36501 is out of range")));
  c->mutable_audit()->set_retention_days(30);
  c->mutable_audit()->clear_archive_dir();
  EXPECT_THAT(Validate(*c), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("audit.archive_dir: required")));
  c->mutable_audit()->set_archive_dir("archive");
  EXPECT_THAT(Validate(*c),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("audit.archive_dir: \"archive\" must be an absolute")));
  c->mutable_audit()->set_archive_dir("/var/lib/fednode/archive");
  EXPECT_THAT(Validate(*c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lies inside data_dir")));
  // Spelled around the rule: still inside.
  for (const char* inside : {"/var/lib//fednode/archive", "/var/lib/x/../fednode/archive",
                             "/var/lib/fednode/./archive", "/var/lib/fednode"}) {
    c->mutable_audit()->set_archive_dir(inside);
    EXPECT_THAT(Validate(*c),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lies inside data_dir")))
        << inside;
  }
  c->mutable_audit()->set_archive_dir("/var/lib/fednode-archive");  // a sibling is fine
  EXPECT_THAT(Validate(*c), IsOk());
  c->mutable_audit()->set_retention_days(0);  // keep for ever; archive_dir for fedctl only
  EXPECT_THAT(Validate(*c), IsOk());
}

TEST(ConfigTest, PathIsInsideResolvesDotsSlashesAndSymlinks) {
  fednode::testing::TempDir dir;
  const std::string data = dir.File("data");
  std::filesystem::create_directories(data);
  std::filesystem::create_directory_symlink(data, dir.File("link"));
  EXPECT_TRUE(PathIsInside(data, data));
  EXPECT_TRUE(PathIsInside(data + "/x/y.fnarchive", data));
  EXPECT_TRUE(PathIsInside(data + "//x", data + "/"));
  EXPECT_TRUE(PathIsInside(dir.File("other/../data/x"), data));
  EXPECT_TRUE(PathIsInside(dir.File("link/x"), data)) << "a symlink into data_dir";
  EXPECT_FALSE(PathIsInside(data + "2/x", data)) << "a sibling with the same prefix";
  EXPECT_FALSE(PathIsInside(dir.File("archive"), data));
  EXPECT_FALSE(PathIsInside("", data));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  fednode::testing::TempDir dir;
  EXPECT_THAT(LoadConfig(dir.File("absent.textproto")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.textproto")));
}

}  // namespace
}  // namespace fednode::server
