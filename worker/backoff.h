// Backoff: the delays between attempts at something that keeps failing (a
// partition that cannot start): `initial`, doubling up to `max`, back to
// `initial` after a success. Holds no clock: the caller adds the delay to its
// own (injectable) now.
#pragma once

#include <algorithm>
#include <chrono>

namespace weir::worker {

class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds initial = std::chrono::seconds(1),
                   std::chrono::milliseconds max = std::chrono::seconds(30))
      : initial_(initial), max_(max), next_(initial) {}

  // The delay before the next attempt, after a failure.
  std::chrono::milliseconds Failed() {
    const std::chrono::milliseconds delay = next_;
    next_ = std::min(next_ * 2, max_);
    return delay;
  }
  void Succeeded() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
};

}  // namespace weir::worker
