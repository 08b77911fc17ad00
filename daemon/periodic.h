// Periodic: calls a function every interval on a thread of its own, for a
// daemon's background duties (the coordinator's failure detection and
// partition discovery).
//
// Lifecycle: the constructor starts the thread; Stop() (or the destructor)
// wakes it, lets a call in progress finish and joins it. `work` runs on that
// thread only, never concurrently with itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace weir {

class Periodic {
 public:
  // The first call comes one `interval` after construction.
  Periodic(std::chrono::milliseconds interval, std::function<void()> work);
  ~Periodic();
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // Returns once the thread has ended; idempotent. Must not be called from `work`.
  void Stop();

 private:
  const std::function<void()> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;     // last: starts once the members above exist
};

}  // namespace weir
