// The clock seam: nothing outside SystemClock reads the real time, so tests
// control domain time with FakeClock. Both are safe for concurrent use.
#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fednode {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time (UTC instant).
  virtual absl::Time Now() const = 0;
};

// Reads absl::Now().
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override;
  // A process-wide instance; never destroyed.
  static SystemClock* Get();
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fednode
