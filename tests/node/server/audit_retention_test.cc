// Audit retention on a node (node/server/audit_retention.h): the default
// archive name, the archive directory, and a retention pass.
#include "node/server/audit_retention.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "node/audit/audit_archive.h"
#include "node/base/clock.h"
#include "node/base/testing/status_matchers.h"
#include "node/base/testing/temp_dir.h"
#include "node/storage/dataset_store.h"

namespace fednode::server {
namespace {

using ::fednode::testing::IsOk;
using ::fednode::testing::StatusIs;
using ::testing::HasSubstr;

TEST(AuditRetentionTest, DefaultArchivePathNamesMemberAndFirstEntry) {
  EXPECT_EQ(DefaultArchivePath("/srv/audit", "06531005", 1),
            "/srv/audit/audit-06531005-000000000001.fnarchive");
  EXPECT_EQ(DefaultArchivePath("/srv/audit", "06531", 123456789012),
            "/srv/audit/audit-06531-123456789012.fnarchive");
}

TEST(AuditRetentionTest, RetentionArchivesOldEntriesIntoTheArchiveDirectory) {
  fednode::testing::TempDir dir;
  storage::DatasetStoreOptions o;
  o.path = dir.File("data");
  o.sync_commits = false;
  auto store = storage::DatasetStore::Open(o);
  ASSERT_THAT(store.status(), IsOk());
  FakeClock clock(absl::FromUnixSeconds(1714638600));
  audit::AuditLogOptions options;
  options.sign_head = [](absl::string_view data) -> absl::StatusOr<std::string> {
    return std::string(data);
  };
  auto log = audit::AuditLog::Open(store->get(), options, &clock);
  ASSERT_THAT(log.status(), IsOk());
  for (int i = 0; i < 3; ++i) ASSERT_THAT((*log)->Append(audit::v1::AuditEntry()).status(), IsOk());
  clock.Advance(absl::Hours(24 * 10));
  ASSERT_THAT((*log)->Append(audit::v1::AuditEntry()).status(), IsOk());

  config::v1::NodeConfig config;
  config.set_member_ags("06531005");
  // Without retention nothing happens; without a directory nothing can.
  EXPECT_THAT(ApplyAuditRetention(log->get(), config, clock.Now()), IsOk());
  config.mutable_audit()->set_retention_days(7);
  EXPECT_THAT(ApplyAuditRetention(log->get(), config, clock.Now()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("audit.archive_dir")));

  config.mutable_audit()->set_archive_dir(dir.File("archive"));
  absl::StatusOr<uint64_t> archived = ApplyAuditRetention(log->get(), config, clock.Now());
  ASSERT_THAT(archived.status(), IsOk());
  EXPECT_EQ(*archived, 3U);
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("archive").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  const std::string file = DefaultArchivePath(dir.File("archive"), "06531005", 1);
  auto archive = audit::ReadArchiveFile(file);
  ASSERT_THAT(archive.status(), IsOk());
  EXPECT_EQ(archive->statement().last_seq(), 3U);
  // Again: nothing is old enough now.
  archived = ApplyAuditRetention(log->get(), config, clock.Now());
  ASSERT_THAT(archived.status(), IsOk());
  EXPECT_EQ(*archived, 0U);
  EXPECT_THAT((*log)->Verify(nullptr), IsOk());
}

}  // namespace
}  // namespace fednode::server
