// A fresh directory per test under testing::TempDir(), removed at destruction
// (test-only). Named after the test and the process id, so ctest -j2 is safe.
#pragma once

#include <string>

namespace fednode::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const;

 private:
  std::string path_;
};

// Absolute path of a file in the source tree, from $FEDNODE_SOURCE_DIR (set
// by CTest) or the compile-time source directory.
std::string SourcePath(const std::string& relative);

// Reads a whole file; fails the current test when it cannot.
std::string ReadFileOrDie(const std::string& path);

}  // namespace fednode::testing
