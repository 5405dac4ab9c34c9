#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace fednode::testing {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Waits for `pid` until `deadline`; returns the wait status or -1 on timeout.
int WaitUntil(pid_t pid, absl::Time deadline, bool* exited) {
  int status = 0;
  *exited = false;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      *exited = true;
      return status;
    }
    if (absl::Now() > deadline) return -1;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

RunResult Run(const std::vector<std::string>& argv, absl::Duration timeout) {
  static std::atomic<int> counter{0};  // Run may be called from several threads
  std::string base = absl::StrCat(std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp",
                                  "/fednode-run-", getpid(), "-", counter.fetch_add(1));
  std::string out_path = base + ".out", err_path = base + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args = Argv(argv);
  pid_t pid = -1;
  RunResult result;
  if (posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    result.err = absl::StrCat("cannot start ", argv[0]);
    return result;
  }
  posix_spawn_file_actions_destroy(&actions);
  bool exited = false;
  int status = WaitUntil(pid, absl::Now() + timeout, &exited);
  if (!exited) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.err = "timed out; ";
  }
  result.exit_code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = Slurp(out_path);
  result.err += Slurp(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return result;
}

std::vector<std::string> OutputLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  for (auto& l : lines) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string WriteNodeConfig(const std::string& path, const std::string& data_dir,
                            const std::string& admin_socket) {
  std::ofstream(path) << "member_ags: \"06531005\"\n"
                      << "member_name: \"Gießen, Universitätsstadt\"\n"
                      << "data_dir: \"" << data_dir << "\"\n"
                      << "admin_socket: \"" << admin_socket << "\"\n";
  return path;
}

NodeProcess::NodeProcess(std::string binary, std::string config_path, std::string log_path)
    : binary_(std::move(binary)),
      config_path_(std::move(config_path)),
      log_path_(std::move(log_path)) {}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Stop(SIGKILL, absl::Seconds(10));
}

bool NodeProcess::Start(const std::vector<std::string>& ready, absl::Duration timeout) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  std::vector<std::string> argv = {binary_, "--config", config_path_};
  std::vector<char*> args = Argv(argv);
  int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (Run(ready, absl::Seconds(5)).exit_code == 0) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

int NodeProcess::Stop(int signo, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signo);
  bool exited = false;
  int status = WaitUntil(pid_, absl::Now() + timeout, &exited);
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string NodeProcess::Log() const { return Slurp(log_path_); }

}  // namespace fednode::testing
