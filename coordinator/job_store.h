// JobStore: the coordinator's jobs and their partition assignments, kept
// durable in its data directory (docs/checkpoints.md: "a restarted
// coordinator carries on with the same jobs").
//
// Every change is written whole to `state.pb` the durable way: a temporary
// file, fsync, rename over the old one, fsync of the directory. So a crash
// leaves either the old state or the new one, never a torn file.
//
// Besides the jobs and assignments it keeps each job's checkpoint record:
// the last checkpoint id handed out (ids are never reused, across restarts
// too), the committed checkpoints (the newest few) and the handoff snapshots
// of workers that left on SIGTERM (docs/checkpoints.md).
//
// Thread-safe: one mutex guards the state (gRPC handlers and the
// coordinator's timers call in concurrently).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "coordinator/assignment.h"
#include "weir/v1/coordinator_state.pb.h"

namespace weir::coordinator {

class JobStore {
 public:
  // Loads `data_dir`/state.pb, or starts empty when there is none (creating
  // the directory). A corrupt file is an error naming it: the coordinator
  // does not start from empty over existing jobs.
  static Result<std::unique_ptr<JobStore>> Open(const std::string& data_dir);

  // Adds a running job. The spec must be valid (ValidateJobSpec); a running
  // job of the same name is AlreadyExists. A cancelled job's name may be
  // reused: the new job keeps the old one's epochs (so the old job's writers
  // stay fenced) and its last checkpoint id (so ids stay unique), but none of
  // its checkpoints or handoffs (it starts from the job's `start`).
  Result<weir::v1::JobRecord> Submit(const weir::v1::JobSpec& spec, int64_t now_ms);
  std::optional<weir::v1::JobRecord> Get(const std::string& name) const;
  std::vector<weir::v1::JobRecord> List() const;
  // Marks a job cancelled and unassigns its partitions. NotFound if unknown.
  Result<weir::v1::JobRecord> Cancel(const std::string& name);
  // Records the topic's partition count and the job's assignment.
  Status SetAssignment(const std::string& name, int32_t partitions, const Assignment& assignment);

  // ---- Checkpoints (each change is durable before it returns; on an error nothing changed) ----

  // Hands out the next checkpoint id of a running job (the last one + 1)
  // and stores it. NotFound, or FailedPrecondition for a job not running.
  Result<CheckpointId> NextCheckpointId(const std::string& name);

  // What CommitCheckpoint dropped; the caller deletes their files.
  struct CommitOutcome {
    std::vector<weir::v1::CheckpointInfo> pruned;  // older than the newest `keep`
    std::vector<weir::v1::SnapshotRef> handoffs;   // superseded by the commit
  };
  // Appends a committed checkpoint (its id above every stored one), makes
  // it the latest, keeps only the newest `keep` (>= 1) and clears the
  // handoff snapshots. NotFound, or FailedPrecondition for a job not running
  // or an id not above the latest.
  Result<CommitOutcome> CommitCheckpoint(const std::string& name, const weir::v1::CheckpointInfo& info, size_t keep);

  // Records handoff snapshots (partition, ref) of a running job, each
  // replacing the one its partition had. Returns the replaced refs.
  Result<std::vector<weir::v1::SnapshotRef>> RecordHandoffs(
      const std::string& name, const std::vector<std::pair<int32_t, weir::v1::SnapshotRef>>& handoffs);

  // The assignment of a job as stored.
  static Assignment AssignmentOf(const weir::v1::JobRecord& job);
  // The handoff snapshots of a job, by partition.
  static std::map<int32_t, weir::v1::SnapshotRef> HandoffsOf(const weir::v1::JobRecord& job);

 private:
  explicit JobStore(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  weir::v1::JobRecord* Find(const std::string& name);  // REQUIRES: mu_ held
  // A running job, or NotFound / FailedPrecondition. REQUIRES: mu_ held.
  Result<weir::v1::JobRecord*> FindRunning(const std::string& name);
  Status Persist();  // REQUIRES: mu_ held
  // Persists; on failure puts `before` back into `job`, so memory and disk
  // agree. REQUIRES: mu_ held.
  Status PersistOrRestore(weir::v1::JobRecord* job, const weir::v1::JobRecord& before);

  const std::string data_dir_;
  mutable std::mutex mu_;
  weir::v1::CoordinatorState state_;  // guarded by mu_
};

}  // namespace weir::coordinator
