// JobStore: the coordinator's jobs and their partition assignments, kept
// durable in its data directory (docs/checkpoints.md: "a restarted
// coordinator carries on with the same jobs").
//
// Besides the jobs and assignments it keeps each job's checkpoint record:
// the last checkpoint id handed out (ids are never reused, across restarts
// too), the committed checkpoints (the newest few) and the handoff snapshots
// of workers that left on SIGTERM (docs/checkpoints.md). It indexes the
// assignments by worker, so a heartbeat costs what the worker owns, not what
// the cluster runs.
//
// Memory and disk: every change is made in memory and raises version(); the
// new state's bytes go to a StateFile (`state.pb`), which Sync(version)
// writes the durable way (a temporary file, fsync, rename, fsync of the
// directory) without the coordinator's lock. So a crash leaves an older
// state or a newer one, never a torn file; a caller that must not answer
// before its change is durable syncs the version it saw.
//
// Not thread-safe, except Sync(): the Coordinator calls everything else with
// its mu_ held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "coordinator/assignment.h"
#include "coordinator/file_writer.h"
#include "coordinator/state_file.h"
#include "weir/v1/coordinator_state.pb.h"

namespace weir::coordinator {

// One partition of a job, as a worker owns it.
struct JobPartition {
  std::string job;
  PartitionId partition;

  auto operator<=>(const JobPartition&) const =
      default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
};

class JobStore {
 public:
  // Loads `data_dir`/state.pb, or starts empty when there is none (creating
  // the directory). A corrupt file is an error naming it: the coordinator
  // does not start from empty over existing jobs. `writer` writes state.pb
  // (WriteFileDurably when empty).
  static Result<std::unique_ptr<JobStore>> Open(const std::string& data_dir, FileWriter writer = {});

  // Adds a running job. The spec must be valid (ValidateJobSpec); a running
  // job of the same name is AlreadyExists. A cancelled job's name may be
  // reused: the new job keeps the old one's epochs (so the old job's writers
  // stay fenced) and its last checkpoint id (so ids stay unique), but none of
  // its checkpoints or handoffs (it starts from the job's `start`).
  Result<weir::v1::JobRecord> Submit(const weir::v1::JobSpec& spec, int64_t now_ms);
  // A job by name, without a copy; null when unknown. Valid until the next change.
  const weir::v1::JobRecord* Find(const std::string& name) const;
  // Every job, in submission order of their names, without a copy.
  const google::protobuf::RepeatedPtrField<weir::v1::JobRecord>& jobs() const { return state_.jobs(); }
  // Copies, for tests and one-off readers.
  std::optional<weir::v1::JobRecord> Get(const std::string& name) const;
  std::vector<weir::v1::JobRecord> List() const;
  // Marks a job cancelled and unassigns its partitions. NotFound if unknown.
  Result<weir::v1::JobRecord> Cancel(const std::string& name);
  // A re-keyed job: how many of its partitions are stage 1 (the source
  // topic's); 0 for a job that is not re-keyed. NotFound if unknown.
  Status SetSourcePartitions(const std::string& name, int32_t source_partitions);
  // Records the topic's partition count and the job's assignment. NotFound if unknown.
  Status SetAssignment(const std::string& name, int32_t partitions, const Assignment& assignment);

  // The owner of one partition of a job; nullopt when the job or partition is unknown.
  std::optional<PartitionOwner> Owner(const std::string& job, PartitionId partition) const;
  // The partitions a worker owns, by job then partition.
  const std::set<JobPartition>& OwnedBy(const std::string& worker) const;

  // ---- Checkpoints (on an error nothing changed) ----

  // Hands out the next checkpoint id of a running job (the last one + 1)
  // and records it. NotFound, or FailedPrecondition for a job not running.
  Result<CheckpointId> NextCheckpointId(const std::string& name);

  // What CommitCheckpoint dropped; the caller deletes their files once the
  // commit is durable.
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
      const std::string& name, const std::vector<std::pair<PartitionId, weir::v1::SnapshotRef>>& handoffs);

  // The assignment of a job as stored.
  static Assignment AssignmentOf(const weir::v1::JobRecord& job);
  // The handoff snapshots of a job, by partition.
  static std::map<PartitionId, weir::v1::SnapshotRef> HandoffsOf(const weir::v1::JobRecord& job);

  // ---- Durability ----

  // The in-memory state's version: raised by every change.
  uint64_t version() const { return version_; }
  // Where the versions go; thread-safe: StateFile::Sync(version()) makes
  // what a caller saw durable, without the coordinator's lock.
  StateFile& state_file() const { return *state_file_; }

 private:
  JobStore(const std::string& data_dir, FileWriter writer);
  weir::v1::JobRecord* FindMutable(const std::string& name);
  // A running job, or NotFound / FailedPrecondition.
  Result<weir::v1::JobRecord*> FindRunning(const std::string& name);
  // Raises the version and offers the state's bytes to the state file.
  void Changed();
  // Re-indexes a job's owners after its assignment changed.
  void IndexOwners(const weir::v1::JobRecord& job);

  std::unique_ptr<StateFile> state_file_;
  weir::v1::CoordinatorState state_;
  std::map<std::string, int> by_name_;                   // index into state_.jobs()
  std::map<std::string, std::set<JobPartition>> owned_;  // worker -> what it owns; no empty sets
  uint64_t version_ = 0;
};

}  // namespace weir::coordinator
