// Running the real binaries from tests (test-only): a child process with its
// output captured, and a fednode daemon started from a generated config.
//
// Not thread-safe; one owner thread per object.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace fednode::testing {

struct RunResult {
  int exit_code = -1;  // -1: killed by a signal or not started
  std::string out;
  std::string err;
};

// Runs argv[0] with the arguments, waits at most `timeout` (then SIGKILL).
// Safe to call from several threads at once.
RunResult Run(const std::vector<std::string>& argv, absl::Duration timeout = absl::Seconds(120));

// The lines of a program's output, without "\n" or "\r\n" ends; no empty
// last line.
std::vector<std::string> OutputLines(const std::string& text);

// Writes the smallest node config (member 06531005 Gießen, no federation)
// with `data_dir` and `admin_socket` to `path`; returns `path`.
std::string WriteNodeConfig(const std::string& path, const std::string& data_dir,
                            const std::string& admin_socket);

// A fednode process. Start() writes its stderr to `log_path`.
class NodeProcess {
 public:
  NodeProcess(std::string binary, std::string config_path, std::string log_path);
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts the process and waits (bounded by `timeout`) until `ready` runs
  // with exit code 0. Returns false when the process exits or the time runs
  // out.
  bool Start(const std::vector<std::string>& ready, absl::Duration timeout = absl::Seconds(20));
  // Sends `signo` and waits for the exit (bounded); returns the exit code, or
  // -1 when killed by a signal or still running after `timeout`.
  int Stop(int signo, absl::Duration timeout = absl::Seconds(20));
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string Log() const;

 private:
  std::string binary_;
  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace fednode::testing
