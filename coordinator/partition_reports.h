// PartitionReports: what each partition's owner last reported in its
// heartbeats (progress, state, restore), how `weirctl status` shows a
// partition, and the events those reports mean:
//  - restored: once per partition and epoch (PartitionStatus.restored);
//  - fenced: once per partition and epoch reported FENCED, whoever owns the
//    partition now (a fenced writer is usually a previous owner);
//  - failed: when the current owner reports FAILED after another state, and
//    again when the reason changes;
//  - recovered: when the current owner reports RUNNING after a failure.
//
// Not thread-safe: the Coordinator calls it with its mu_ held. No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "common/types.h"
#include "coordinator/assignment.h"
#include "coordinator/event_log.h"
#include "weir/v1/services.pb.h"

namespace weir::coordinator {

class PartitionReports {
 public:
  explicit PartitionReports(EventLog* events) : events_(events) {}

  // Records what `worker` reports of one partition (status.job, .partition,
  // .epoch). `owner`: the partition's owner now, nullopt for an unknown
  // partition. A report under an older epoch than the kept one only counts
  // for the fenced and restored events.
  void Record(const std::string& worker, const weir::v1::PartitionStatus& status,
              const std::optional<PartitionOwner>& owner, int64_t now_ms);

  // Fills `out` (job and partition set) for `weirctl status`: owner and epoch
  // from `owner`; progress, state and reason from the owner's report under
  // that epoch. Unassigned, or owned by a worker that is not live: state
  // UNSPECIFIED (shown "unassigned"). Assigned but not reported yet: STARTING.
  // A report without a state (a worker that predates states): RUNNING.
  void Describe(const PartitionOwner& owner, bool owner_live, weir::v1::PartitionStatus* out) const;

  // Why `partition` of `job` failed, when its owner `owner` (worker and
  // epoch) reports it FAILED now; nullopt otherwise.
  std::optional<std::string> FailedReason(const std::string& job, PartitionId partition,
                                          const PartitionOwner& owner) const;

  // Forgets a job's reports (cancelled or submitted again).
  void ForgetJob(const std::string& job);

 private:
  struct Track {
    std::string worker;                // who sent `report`; empty: nothing kept
    weir::v1::PartitionStatus report;  // the newest epoch's latest report
    bool failed = false;               // the current owner's last state was FAILED, not yet RUNNING again
    std::string failed_reason;
    std::optional<Epoch> restored_logged;  // the newest epoch whose restore was logged
    std::optional<Epoch> fenced_logged;    // the last epoch whose fencing was logged
    Epoch skipped_epoch;                   // the epoch `skipped_logged` counts at
    int64_t skipped_logged = 0;            // records skipped at that epoch, as already logged
    std::optional<Epoch> conflict_logged;  // the last epoch whose key conflict was logged
  };
  using Key = std::pair<std::string, PartitionId>;

  EventLog* const events_;
  std::map<Key, Track> tracks_;
};

}  // namespace weir::coordinator
