// fednode: the node daemon.
//
//   fednode --config /etc/fednode/fednode.textproto
//   fednode --config FILE --check-config     # check config, files, credentials,
//                                            # agreement; exit 1 naming every problem
//
// SIGTERM or SIGINT drains calls in flight and exits 0; SIGHUP installs a
// newer agreement from federation.agreement_file (if set) and re-reads the
// TLS key and certificate. Logs go to stderr.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

#include "node/base/log.h"
#include "node/server/config.h"
#include "node/server/node_server.h"
#include "node/server/setup_check.h"

ABSL_FLAG(std::string, config, "", "Path of the node configuration (textproto).");
ABSL_FLAG(bool, check_config, false, "Validate the configuration and exit.");
ABSL_FLAG(std::string, log_level, "", "Overrides the config's log_level.");
ABSL_FLAG(bool, log_json, false, "Write log records as JSON objects.");

namespace {

// Accepts --check-config as well as absl's --check_config: dashes in a flag's
// name become underscores (values are left alone).
std::vector<std::string> NormalizeFlags(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') continue;
    size_t end = a.find('=');
    if (end == std::string::npos) end = a.size();
    for (size_t k = 2; k < end; ++k) {
      if (a[k] == '-') a[k] = '_';
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with absl::Mutex deadlock detection on: every
  // Lock records the lock order in a global graph (measured here: 142 ns
  // per lock/unlock pair with it, 43 ns without), a few percent of a
  // federation call's CPU. The daemon runs without it; the in-process
  // tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage("fednode --config FILE [--check-config]");
  std::vector<std::string> args = NormalizeFlags(argc, argv);
  std::vector<char*> arg_ptrs;
  for (auto& a : args) arg_ptrs.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  fednode::SetLogJson(absl::GetFlag(FLAGS_log_json));

  const std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty()) {
    std::cerr << "fednode: --config FILE is required\n";
    return 2;
  }
  absl::StatusOr<fednode::config::v1::NodeConfig> config = fednode::server::LoadConfig(path);
  if (!config.ok()) {
    std::cerr << "fednode: invalid configuration: " << config.status().message() << "\n";
    return 2;
  }
  std::string level_text =
      absl::GetFlag(FLAGS_log_level).empty() ? config->log_level() : absl::GetFlag(FLAGS_log_level);
  fednode::LogLevel level;
  if (!fednode::ParseLogLevel(level_text, &level)) {
    std::cerr << "fednode: --log_level: \"" << level_text << "\" is not one of debug, info, "
              << "warning, error\n";
    return 2;
  }
  fednode::SetMinLogLevel(level);
  if (absl::GetFlag(FLAGS_check_config)) {
    // Everything the node needs, checked without starting it; every problem
    // named, exit 1 when there is one.
    const fednode::server::SetupReport report = fednode::server::CheckSetup(*config, absl::Now());
    std::cout << path << ": configuration parses (member " << config->member_ags() << ", "
              << config->member_name() << ")\n";
    for (const std::string& note : report.notes) std::cout << "  " << note << "\n";
    for (const std::string& problem : report.problems) {
      std::cout << "  PROBLEM: " << problem << "\n";
    }
    if (!report.problems.empty()) {
      std::cout << report.problems.size() << " problem(s); the node would not start or not "
                << "serve the federation\n";
      return 1;
    }
    std::cout << "ok\n";
    return 0;
  }

  // Block the stop signals before gRPC starts its threads, then wait for one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // NOLINT: a vanished client must not kill the node
  // Every file the node creates (database, staged credentials, backups) is
  // for its own user only.
  umask(077);

  fednode::server::NodeServerOptions options;
  options.config = *config;
  auto server = fednode::server::NodeServer::Create(options);
  if (!server.ok()) {
    FEDNODE_LOG(ERROR) << "cannot start: " << server.status().message();
    std::cerr << "fednode: cannot start: " << server.status().message() << "\n";
    return 1;
  }
  int signo = 0;
  while (true) {
    sigwait(&stop_signals, &signo);
    if (signo != SIGHUP) break;
    // SIGHUP: install a newer agreement from federation.agreement_file
    // (logged either way), then re-read the TLS key and certificate
    // (rotation; a new key may need the new agreement's pin).
    (*server)->ReloadAgreementFile().IgnoreError();
    absl::Status reloaded = (*server)->ReloadCredentials();
    if (reloaded.ok()) {
      FEDNODE_LOG(INFO) << "SIGHUP: TLS credentials checked";
    } else {
      FEDNODE_LOG(WARNING) << "SIGHUP: TLS credentials not reloaded: " << reloaded.message();
    }
  }
  FEDNODE_LOG(INFO) << "received signal " << signo << ", draining";
  (*server)->Shutdown(absl::Seconds(config->shutdown_grace_seconds()));
  // Everything is drained, durable and closed ("node stopped"). Destroying
  // the gRPC servers would run grpc_shutdown, which waits for gRPC's executor
  // thread to leave its poll: about 10 s more when a call was cut off
  // mid-stream (measured; a service manager waits for it). Nothing is left
  // to do, so the process ends here.
  std::fflush(nullptr);
  std::_Exit(0);
}
