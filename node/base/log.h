// A small logging facade: one line per record on stderr, for journald or a
// log collector. Abseil 20220623 has no absl/log; when Debian's abseil gains
// it, only log.cc changes.
//
// Usage: FEDNODE_LOG(INFO) << "imported " << n << " rows";
// Never log keys, PEM text, row contents or personal data.
//
// Safe for concurrent use: each record is written with one write(2).
#pragma once

#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace fednode {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kFatal = 4 };

// Records below `level` are dropped. Default kInfo.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// Parses "debug", "info", "warning", "error". Returns false when unknown.
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// When true, records are JSON objects {"ts","level","file","line","msg"}.
void SetLogJson(bool json);

// Replaces the sink (tests capture logs); nullptr restores stderr.
using LogSink = std::function<void(LogLevel, absl::string_view line)>;
void SetLogSink(LogSink sink);

namespace internal {

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

// Turns the stream expression into void for the ternary in FEDNODE_LOG;
// operator& binds more loosely than operator<<.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace internal
}  // namespace fednode

#define FEDNODE_LOG_LEVEL_DEBUG ::fednode::LogLevel::kDebug
#define FEDNODE_LOG_LEVEL_INFO ::fednode::LogLevel::kInfo
#define FEDNODE_LOG_LEVEL_WARNING ::fednode::LogLevel::kWarning
#define FEDNODE_LOG_LEVEL_ERROR ::fednode::LogLevel::kError
#define FEDNODE_LOG_LEVEL_FATAL ::fednode::LogLevel::kFatal

// The ternary-with-voidify form (as glog's) makes the macro one expression,
// so `if (x) FEDNODE_LOG(INFO) << ...; else ...` binds as written.
#define FEDNODE_LOG(severity)                                                                 \
  (FEDNODE_LOG_LEVEL_##severity < ::fednode::MinLogLevel())                                   \
      ? (void)0                                                                               \
      : ::fednode::internal::LogVoidify() &                                                   \
            ::fednode::internal::LogMessage(FEDNODE_LOG_LEVEL_##severity, __FILE__, __LINE__) \
                .stream()

// Always-on invariant check for conditions outside input cannot reach (never
// for peer data, configuration values or disk contents). Aborts on failure.
#define FEDNODE_CHECK(cond)                                                                   \
  if (cond) {                                                                                 \
  } else                                                                                      \
    ::fednode::internal::LogMessage(::fednode::LogLevel::kFatal, __FILE__, __LINE__).stream() \
        << "check failed: " #cond " "
