// EventLog: the coordinator's cluster event log (weirctl events): workers
// registering, leaving and lost; partitions assigned, moved, restored,
// fenced, failed and recovered; checkpoints committed and abandoned; jobs
// submitted and cancelled. In order, each with a readable message
// (coordinator/cluster_events.h builds them).
//
// Bounded: it keeps the newest `capacity` events and drops the oldest. In
// memory only: a restarted coordinator starts an empty log, its seq from 1.
// Time is the caller's: Append stamps the `now_ms` it is given (the
// coordinator's injected clock), so the log itself reads no clock.
//
// Thread-safe: one leaf mutex (nothing else is called while it is held, and
// it is never held across I/O). The coordinator appends with its own mu_
// held; ListEvents reads without it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "weir/v1/services.pb.h"

namespace weir::coordinator {

// The last events ListEvents can return, as weirctl events sees them.
struct EventPage {
  std::vector<weir::v1::ClusterEvent> events;  // oldest first
  uint64_t last_seq = 0;                       // the newest event's seq, of every job; 0 when none yet
};

class EventLog {
 public:
  static constexpr size_t kDefaultCapacity = 10'000;

  explicit EventLog(size_t capacity = kDefaultCapacity);

  // Sets the event's seq (the last + 1) and at_ms (`now_ms`), appends it,
  // and drops the oldest event when more than `capacity` are kept. Returns its seq.
  uint64_t Append(weir::v1::ClusterEvent event, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // The kept events with seq > `after_seq`, of job `job` only unless it is
  // empty, oldest first; with `limit` > 0, only the newest `limit` of them.
  EventPage List(const std::string& job, uint64_t after_seq, size_t limit) const ABSL_LOCKS_EXCLUDED(mu_);

  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable weir::Mutex mu_;
  std::deque<weir::v1::ClusterEvent> events_ ABSL_GUARDED_BY(mu_);  // seqs consecutive, oldest first
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace weir::coordinator
