// A size-limited tmpfs mounted for one test (test-only), for disk-full
// tests: mount(2) needs root (CAP_SYS_ADMIN), so the test skips with
// reason() when it cannot mount.
//
// Not thread-safe; one owner thread.
#pragma once

#include <cstdint>
#include <string>

namespace fednode::testing {

class ScopedTmpfs {
 public:
  // Creates the directory `mount_point` (its parent must exist) and mounts a
  // tmpfs of `size_bytes` on it (mode 0700). ok() tells whether it worked;
  // reason() why not.
  ScopedTmpfs(std::string mount_point, uint64_t size_bytes);
  // Unmounts (lazily, MNT_DETACH, when files are still open) and removes the
  // directory; also when the test failed.
  ~ScopedTmpfs();
  ScopedTmpfs(const ScopedTmpfs&) = delete;
  ScopedTmpfs& operator=(const ScopedTmpfs&) = delete;

  bool ok() const { return mounted_; }
  const std::string& reason() const { return reason_; }
  const std::string& path() const { return mount_point_; }

 private:
  std::string mount_point_;
  bool mounted_ = false;
  std::string reason_;
};

// Bytes free for an unprivileged user on the filesystem of `path` (statvfs
// f_bavail * f_frsize); 0 when it cannot be read.
uint64_t FreeBytes(const std::string& path);

// Writes `path` with zero bytes until `bytes` are written or the
// filesystem is full (fsynced). Returns the bytes written.
uint64_t FillFile(const std::string& path, uint64_t bytes);

}  // namespace fednode::testing
