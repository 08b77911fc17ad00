// CheckpointCoordinator: the checkpoint protocol of every running job
// (docs/checkpoints.md). It triggers a checkpoint every `checkpoint.interval`
// once every partition has a live owner, records the owners'
// acknowledgements from heartbeats, commits a checkpoint once every
// partition acknowledged it, prunes what the commit supersedes, and abandons
// one not acknowledged in time. It also tells a partition's owner where to
// restore from.
//
// A commit runs in steps, so that its file I/O never runs under the
// coordinator's lock:
//   1. BeginCommit (lock held) decides: every partition acknowledged, no
//      commit of this checkpoint in flight. It marks the commit in flight and
//      returns its plan.
//   2. WriteMetadata (lock not held) writes `chk-<id>/_metadata` durably.
//   3. FinishCommit (lock held) applies the result, unless the checkpoint is
//      no longer the job's pending one (abandoned by its timeout, the job
//      cancelled or submitted again meanwhile: the plan is dropped and its
//      directory swept by a later commit). A failed write abandons it;
//      otherwise the commit goes into the JobStore and FinishCommit says
//      what it superseded.
//   4. Prune (lock not held), once the store's new version is durable,
//      deletes the superseded directories and handoff files.
//
// Pending checkpoints live in memory only (a restarted coordinator triggers
// a new id an interval after starting); ids are durable in the JobStore.
// Time is an argument. Not thread-safe: the Coordinator calls the member
// functions with its mu_ held; the static ones do I/O and are called
// without it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "coordinator/event_log.h"
#include "coordinator/file_writer.h"
#include "coordinator/job_store.h"
#include "coordinator/partition_reports.h"
#include "coordinator/worker_registry.h"
#include "weir/v1/services.pb.h"

namespace weir::coordinator {

// How checkpoints are kept and timed out (CoordinatorOptions has the defaults).
struct CheckpointPolicy {
  size_t keep = 3;  // committed checkpoints kept per job
  // A pending checkpoint not fully acknowledged within
  // max(timeout_intervals x interval, min_timeout_ms) of its trigger is abandoned.
  int64_t timeout_intervals = 3;
  int64_t min_timeout_ms = 30'000;
};

// One committed checkpoint, as the metrics see it.
struct CommittedCheckpoint {
  int64_t seq = 0;  // its place among the commits since start: 1, 2, ...
  std::string job;
  CheckpointId id;
  int64_t duration_ms = 0;  // trigger to commit, on the coordinator's clock
  int64_t bytes = 0;        // the sum of its partitions' snapshot sizes
};

// How many commits recent_commits() keeps; the metrics read them at least
// every 250 ms, far more often than 64 checkpoints commit.
inline constexpr size_t kRecentCommits = 64;

// A commit decided by BeginCommit, to write and then finish.
struct CommitPlan {
  std::string job;
  CheckpointId id;
  std::string root;  // the job's checkpoint storage directory
  weir::v1::CheckpointInfo info;
};

// What a finished commit superseded, for Prune.
struct PruneList {
  std::string root;
  std::string job;
  std::vector<std::string> files;  // pruned checkpoints' directories, superseded handoff snapshots
  std::set<uint64_t> retained;     // the job's committed checkpoints after the commit
  CheckpointId committed;          // every other chk-<id> below it goes too
};

class CheckpointCoordinator {
 public:
  CheckpointCoordinator(CheckpointPolicy policy, EventLog* events) : policy_(policy), events_(events) {}

  // A job starts running (submitted, or loaded at start): its first
  // checkpoint is due one interval after `now_ms`. Drops any earlier state.
  void StartJob(const std::string& job, int64_t now_ms);
  // A job stops running (cancelled): its pending checkpoint, if any, is
  // dropped (logged as abandoned, not counted).
  void StopJob(const std::string& job, int64_t now_ms);
  // Forgets a job without an event (submitted again: StartJob follows).
  void ForgetJob(const std::string& job) { jobs_.erase(job); }

  // The job's pending checkpoint, if any.
  std::optional<CheckpointId> Pending(const std::string& job) const;
  // Ok when every partition of `job` has a live owner that does not report
  // it failed, so a checkpoint can complete; FailedPrecondition saying why
  // not. (A failed partition would only see its checkpoints abandoned, one
  // every timeout, until it runs again.)
  static Status CanCheckpoint(const weir::v1::JobRecord& job, const WorkerRegistry& workers,
                              const PartitionReports& reports);
  // The pending checkpoint's id, or a new one's (its id stored first):
  // FailedPrecondition when the job cannot checkpoint (see CanCheckpoint).
  Result<CheckpointId> Trigger(JobStore& store, const std::string& job, const WorkerRegistry& workers,
                               const PartitionReports& reports, int64_t now_ms);
  // Abandons overdue checkpoints and triggers due ones, for every running job.
  void Check(JobStore& store, const WorkerRegistry& workers, const PartitionReports& reports, int64_t now_ms);

  // Records `status`, from `worker`, as an acknowledgement when it is one:
  // its snapshot is of the job's pending checkpoint, has a path, and comes
  // from the partition's `owner` under the owner's epoch. True if it was.
  bool Acknowledge(const weir::v1::JobRecord& job, const std::optional<PartitionOwner>& owner,
                   const std::string& worker, const weir::v1::PartitionStatus& status);

  // Step 1: the commit of the job's pending checkpoint when every partition
  // acknowledged it and no commit of it is in flight; marks it in flight.
  std::optional<CommitPlan> BeginCommit(const weir::v1::JobRecord& job, int64_t now_ms);
  // Step 2, without the lock: creates the checkpoint's directory and writes
  // its `_metadata` with `writer`.
  static Status WriteMetadata(const CommitPlan& plan, const FileWriter& writer);
  // Step 3: applies `written` (step 2's result); what to prune when committed.
  std::optional<PruneList> FinishCommit(JobStore& store, const CommitPlan& plan, const Status& written, int64_t now_ms);
  // Step 4, without the lock: deletes what the commit superseded (best
  // effort: a failure is logged; nothing reads those files any more).
  static void Prune(const PruneList& prune);

  // Every checkpoint file a job's record refers to: its committed
  // checkpoints' directories and handoff snapshots (a cancelled job's, to
  // delete when its name is submitted again).
  static std::vector<std::string> FilesOf(const weir::v1::JobRecord& job);
  // Of `refs`, the handoff snapshot files that may be deleted: those in the
  // job's handoff directory (a worker might name a checkpoint's file).
  static std::vector<std::string> HandoffFiles(const weir::v1::JobRecord& job,
                                               const std::vector<weir::v1::SnapshotRef>& refs);
  // Deletes files or directories, best effort (`what` names them in the log).
  static void RemoveFiles(const std::vector<std::string>& paths, const std::string& what);

  // The restore points of one partition into `out`, newest first: its
  // handoff snapshot if any, then its snapshot in each committed checkpoint.
  static void SetRestoreFrom(const weir::v1::JobRecord& job,
                             const std::map<PartitionId, weir::v1::SnapshotRef>& handoffs, PartitionId partition,
                             weir::v1::Assignment* out);

  int64_t committed() const { return committed_; }
  int64_t abandoned() const { return abandoned_; }
  int64_t pending_count() const;
  const std::deque<CommittedCheckpoint>& recent_commits() const { return recent_commits_; }

 private:
  // A triggered checkpoint waiting for every partition's acknowledgement.
  struct PendingCheckpoint {
    CheckpointId id;
    int64_t triggered_at_ms = 0;
    std::map<PartitionId, weir::v1::SnapshotRef> refs;  // acknowledged partitions
    bool committing = false;                            // between BeginCommit and FinishCommit
  };
  struct JobCheckpoints {
    // The last trigger, the job's start, or the last abandonment: the next
    // checkpoint is due one interval after it.
    int64_t last_trigger_ms = 0;
    std::optional<PendingCheckpoint> pending;
  };

  // Starts checkpoint last+1 of a running job (its id stored first).
  Result<CheckpointId> Start(JobStore& store, const std::string& job, int64_t now_ms);
  // Drops the pending checkpoint, logs why; the next is due one interval from now.
  void Abandon(const std::string& job, const std::string& reason, int64_t now_ms);

  const CheckpointPolicy policy_;
  EventLog* const events_;
  std::map<std::string, JobCheckpoints> jobs_;      // running jobs by name
  int64_t committed_ = 0;                           // since start
  int64_t abandoned_ = 0;                           // since start: timed out, or their commit failed
  std::deque<CommittedCheckpoint> recent_commits_;  // at most kRecentCommits
};

}  // namespace weir::coordinator
