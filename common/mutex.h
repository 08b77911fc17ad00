// weir::Mutex and weir::MutexLock: absl::Mutex and absl::MutexLock, with
// absl's thread-safety annotations, in every build but a ThreadSanitizer one.
//
// Debian's libabsl is not built with TSan, so TSan cannot see absl::Mutex's
// acquire and release and reports every access to a guarded member as a race.
// In a TSan build (WEIR_SANITIZE=thread) Mutex is therefore a std::mutex,
// which TSan intercepts, behind the subset of absl::Mutex's API Weir uses:
// Lock, Unlock, Await and AwaitWithTimeout on an absl::Condition. As with
// absl, a waiter re-checks its condition whenever the lock is released.
#pragma once

#include <absl/base/thread_annotations.h>
#include <absl/synchronization/mutex.h>
#include <absl/time/time.h>

#if defined(__SANITIZE_THREAD__)
#define WEIR_MUTEX_IS_STD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEIR_MUTEX_IS_STD 1
#endif
#endif

#ifdef WEIR_MUTEX_IS_STD
#include <chrono>
#include <condition_variable>
#include <mutex>
#endif

namespace weir {

#ifndef WEIR_MUTEX_IS_STD

using Mutex = absl::Mutex;
using MutexLock = absl::MutexLock;

#else

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    mu_.unlock();
    released_.notify_all();
  }

  // Waits, with the lock released meanwhile, until `condition` holds.
  void Await(const absl::Condition& condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    while (!condition.Eval()) released_.wait(mu_);
  }

  // As Await, for at most `timeout`; returns whether `condition` holds.
  bool AwaitWithTimeout(const absl::Condition& condition, absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
    while (!condition.Eval()) {
      if (released_.wait_until(mu_, deadline) == std::cv_status::timeout) return condition.Eval();
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable_any released_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

#endif

}  // namespace weir
