#include "tests/support/tmpfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace fednode::testing {

ScopedTmpfs::ScopedTmpfs(std::string mount_point, uint64_t size_bytes)
    : mount_point_(std::move(mount_point)) {
  if (::geteuid() != 0) {
    reason_ = absl::StrCat("needs root to mount a ", size_bytes >> 20,
                           " MiB tmpfs (mount -t tmpfs); running as uid ", ::geteuid());
    return;
  }
  if (::mkdir(mount_point_.c_str(), 0700) != 0 && errno != EEXIST) {
    reason_ = absl::StrCat("cannot create ", mount_point_, ": ", std::strerror(errno));
    return;
  }
  const std::string data = absl::StrCat("size=", size_bytes, ",mode=0700");
  if (::mount("tmpfs", mount_point_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    reason_ = absl::StrCat("mount -t tmpfs -o ", data, " tmpfs ", mount_point_,
                           " failed: ", std::strerror(errno));
    return;
  }
  mounted_ = true;
}

ScopedTmpfs::~ScopedTmpfs() {
  if (mounted_ && ::umount2(mount_point_.c_str(), 0) != 0) {
    ::umount2(mount_point_.c_str(), MNT_DETACH);
  }
  ::rmdir(mount_point_.c_str());
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs fs = {};
  if (::statvfs(path.c_str(), &fs) != 0) return 0;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

uint64_t FillFile(const std::string& path, uint64_t bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  const std::vector<char> zeros(size_t{64} << 10, '\0');
  uint64_t written = 0;
  while (written < bytes) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes - written));
    const ssize_t w = ::write(fd, zeros.data(), n);
    if (w <= 0) break;  // ENOSPC: full
    written += static_cast<uint64_t>(w);
  }
  ::fsync(fd);
  ::close(fd);
  return written;
}

}  // namespace fednode::testing
