#include "node/base/testing/temp_dir.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fednode::testing {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info != nullptr ? absl::StrCat(info->test_suite_name(), ".", info->name())
                                     : std::string("fednode");
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  path_ = absl::StrCat(::testing::TempDir(), "fednode-", name, "-", getpid(), "-", counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(const std::string& name) const { return absl::StrCat(path_, "/", name); }

std::string SourcePath(const std::string& relative) {
  const char* env = std::getenv("FEDNODE_SOURCE_DIR");  // NOLINT(concurrency-mt-unsafe)
  std::string root = env != nullptr ? env : FEDNODE_SOURCE_DIR_DEFAULT;
  return absl::StrCat(root, "/", relative);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace fednode::testing
