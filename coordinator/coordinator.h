// Coordinator: the coordinator's logic without the network. It ties together
// its parts, each in a file of its own:
//  - JobStore (job_store.h): jobs, assignments and checkpoint records,
//    durable in `state.pb` through a StateFile (state_file.h);
//  - WorkerRegistry (worker_registry.h): workers and their liveness;
//  - Assign (assignment.h): balanced, sticky partition assignment, which
//    Rebalance applies to every running job;
//  - CheckpointCoordinator (checkpoint_coordinator.h): triggers,
//    acknowledgements, commits, pruning, restore points;
//  - PartitionReports (partition_reports.h): each partition's last report;
//  - EventLog (event_log.h): the cluster events (weirctl events).
//
// Time is an argument (`now_ms`, ms since the Unix epoch on the coordinator's
// clock), so tests drive it; the daemon passes the wall clock. Partition
// counts come from an injected PartitionDiscovery; files are written by an
// injectable FileWriter (CoordinatorOptions::write_file).
//
// Lifecycle: Open() loads the data directory; the daemon then calls
// CheckWorkers() every ~250 ms from one thread and RetryDiscovery() from
// another (it blocks on the network), while gRPC handlers call the rest.
// Tests call Tick(), which does both.
//
// Threads and locks. Every public method is thread-safe. `mu_` guards every
// part but the event log (which has its own leaf lock) and the state file
// (thread-safe, see state_file.h); lock order: mu_, then EventLog's or
// StateFile's slot lock. Nothing does file or network I/O with mu_ held:
//  - partition discovery runs between two holds of mu_;
//  - a checkpoint commit decides under mu_, writes `_metadata` without it,
//    and applies the result under mu_ again (CheckpointCoordinator);
//  - every change of the store is made in memory under mu_; the caller then
//    releases mu_ and syncs the state file before it answers, so no reply
//    (to a worker or to weirctl) carries state that is not durable;
//  - pruning deletes files after that sync, without mu_.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "coordinator/checkpoint_coordinator.h"
#include "coordinator/event_log.h"
#include "coordinator/file_writer.h"
#include "coordinator/job_store.h"
#include "coordinator/partition_reports.h"
#include "coordinator/worker_registry.h"
#include "weir/v1/services.pb.h"

namespace weir::coordinator {

// What partition discovery found of a job's topic.
struct TopicFound {
  int32_t partitions = 0;   // > 0
  int32_t replication = 0;  // replicas of its first partition; 0 when unknown
  // What became of the dead-letter topic: found, created, or why not; empty
  // when not looked at.
  std::string dead_letters;
  // A re-keyed job: the repartition topic's partitions (stage 2's); 0 otherwise.
  int32_t repartition_partitions = 0;
};

// How many partitions a Kafka topic has. Implementations are called from
// several threads at once and may block (the Kafka one for up to ~2 s).
class PartitionDiscovery {
 public:
  virtual ~PartitionDiscovery() = default;
  // The topic's partitions. An error says what failed: NotFound for a
  // missing topic, Unavailable for unreachable brokers. `properties`: the
  // job's source.kafka.properties (references not yet resolved). Also makes
  // sure `dead_letter_topic` exists: when it does not, it is created with one
  // partition and the topic's replication factor.
  virtual Result<TopicFound> FindTopic(const std::string& brokers, const std::string& topic,
                                       const google::protobuf::Map<std::string, std::string>& properties,
                                       const std::string& dead_letter_topic) = 0;
  // A re-keyed job's repartition topic: its partition count, after creating
  // it with `partitions` partitions when it is missing. This default only
  // looks it up (FindTopic).
  virtual Result<int32_t> EnsureRepartitionTopic(const std::string& brokers, const std::string& topic,
                                                 int32_t partitions, int32_t replication,
                                                 const google::protobuf::Map<std::string, std::string>& properties) {
    (void)partitions;
    (void)replication;
    auto found = FindTopic(brokers, topic, properties, "");
    if (!found.ok()) return found.status();
    return found->partitions;
  }
  // Deletes the records of `topic` below the offset given for each of its
  // partitions (DeleteRecords): a re-keyed job's repartition topic, behind
  // its oldest kept checkpoint. This default cannot.
  virtual Status DeleteRecords(const std::string& brokers, const std::string& topic,
                               const google::protobuf::Map<std::string, std::string>& properties,
                               const std::map<int32_t, int64_t>& before) {
    (void)brokers;
    (void)properties;
    (void)before;
    return FailedPrecondition("this partition discovery cannot delete records of " + topic);
  }
};

struct CoordinatorOptions {
  int64_t heartbeat_interval_ms = 500;  // told to workers at registration
  int64_t worker_timeout_ms = 3000;     // no heartbeat for longer: the worker is dead
  int64_t discovery_retry_ms = 2000;    // between discovery attempts of one job
  // Between deletions of a re-keyed job's repartition-topic records.
  int64_t repartition_trim_interval_ms = 10'000;
  // A dead worker is listed (alive = false) this long, then forgotten.
  int64_t dead_worker_retention_ms = int64_t{10} * 60 * 1000;
  // Committed checkpoints kept per job; older ones are deleted (docs/checkpoints.md: 3).
  size_t checkpoints_to_keep = 3;
  // A pending checkpoint not fully acknowledged within
  // max(checkpoint_timeout_intervals x interval, min_checkpoint_timeout_ms)
  // of its trigger is abandoned.
  int64_t checkpoint_timeout_intervals = 3;
  int64_t min_checkpoint_timeout_ms = 30'000;
  // Cluster events kept (weirctl events); the oldest are dropped.
  size_t event_log_capacity = EventLog::kDefaultCapacity;
  // Writes `state.pb` and checkpoints' `_metadata`; WriteFileDurably when empty.
  FileWriter write_file = {};
};

// Counts for the daemon's metrics.
struct CoordinatorStats {
  std::map<weir::v1::JobState, int64_t> jobs;  // by state
  int64_t workers_alive = 0;
  int64_t workers_dead = 0;
  int64_t partition_moves = 0;        // since start: partitions given a new owner
  int64_t checkpoints_committed = 0;  // since start
  int64_t checkpoints_abandoned = 0;  // since start: timed out, or their commit failed
  int64_t checkpoints_pending = 0;    // now: jobs with a triggered, uncommitted checkpoint
  // The last kRecentCommits commits since start, oldest first: a reader that
  // remembers the last `seq` it saw picks up each commit once.
  std::vector<CommittedCheckpoint> recent_commits;
};

class Coordinator {
 public:
  // Loads the jobs under `data_dir` (see JobStore::Open for its errors).
  // `discovery` must outlive the coordinator. `now_ms` starts the grace
  // period: when the loaded state has owners, assignments are left as they
  // are for one worker timeout, so workers that re-register in time keep
  // their partitions and epochs across a coordinator restart.
  static Result<std::unique_ptr<Coordinator>> Open(const std::string& data_dir, PartitionDiscovery* discovery,
                                                   CoordinatorOptions options, int64_t now_ms);

  // ---- Jobs (weirctl) ----
  // Each change is durable before it returns; when it cannot be made durable
  // the call fails (Internal) and the change, kept in memory, is written by
  // the next successful write of the state.

  // Validates (ValidateJobSpec: InvalidArgument naming paths) and stores a
  // running job (AlreadyExists while one of that name runs), then reads the
  // topic's partition count. When that fails the job is still accepted, with
  // 0 partitions, and RetryDiscovery() retries; DiscoveryError() says why.
  Result<weir::v1::JobInfo> SubmitJob(const weir::v1::JobSpec& spec, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // NotFound for an unknown name. Each partition's `state`: see PartitionReports::Describe.
  Result<weir::v1::JobInfo> GetJob(const std::string& name) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<weir::v1::JobInfo> ListJobs() const ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels a job, takes its partitions from their owners and drops its
  // pending checkpoint (its committed ones stay listed). NotFound for an
  // unknown name.
  Result<weir::v1::JobInfo> CancelJob(const std::string& name, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // Triggers a checkpoint of a job now and returns its id, or returns the id
  // of the one already pending. NotFound for an unknown name;
  // FailedPrecondition when the job is not running or not every partition
  // has a live owner (partitions unknown, no workers).
  Result<CheckpointId> TriggerCheckpoint(const std::string& name, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // Why a running job's partition count is still unknown; nullopt when it is
  // known, or not yet tried. (JobInfo.discovery says it too, or what was found.)
  std::optional<std::string> DiscoveryError(const std::string& name) const ABSL_LOCKS_EXCLUDED(mu_);
  // The cluster event log (see EventLog::List). Never waits for mu_.
  EventPage ListEvents(const std::string& job, uint64_t after_seq, size_t limit) const;

  // ---- Workers (the control plane) ----

  // Adds a worker, or refreshes one that registers again (after a restart,
  // or after being declared dead), and assigns it partitions at once.
  // InvalidArgument for an empty id.
  Result<weir::v1::RegisterWorkerResponse> RegisterWorker(const std::string& id, const std::string& address,
                                                          int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // Records that the worker lives and what it reports (progress, state,
  // restore), and returns all its assignments. NotFound for a worker that is
  // not registered or was declared dead: it must register again (and,
  // having been dead, drop what it ran: its partitions have moved).
  //
  // Specs: `job_specs` names every job of the assignments with its spec
  // hash (SpecHash, computed once per submission); the full spec is in
  // `jobs` only for a job that `held_specs` (the specs the worker holds)
  // lacks at that hash. The work is proportional to the worker's own
  // assignments and reports, not to the cluster's jobs.
  //
  // Checkpoints: a status whose `snapshot.checkpoint` is the job's pending
  // checkpoint, sent by the partition's owner under its current epoch, with
  // a path, acknowledges that partition; the last acknowledgement commits
  // the checkpoint before the reply is built (its `_metadata` written
  // without the lock). The reply carries the pending checkpoint of every job
  // the worker has a partition of, and each assignment's `restore_from`: the
  // partition's handoff snapshot if there is one, then its snapshot in each
  // committed checkpoint, newest first.
  Result<weir::v1::HeartbeatResponse> Heartbeat(const std::string& id,
                                                const std::vector<weir::v1::PartitionStatus>& statuses, int64_t now_ms,
                                                const std::vector<weir::v1::JobSpecRef>& held_specs = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // A worker stopping on purpose (SIGTERM), after it stopped its partitions
  // and its rows were acknowledged. Each handoff (job, partition, epoch,
  // snapshot) of a partition the worker owns under that epoch, with a
  // snapshot path, becomes that partition's handoff snapshot: its next
  // owner restores it first. The worker is then forgotten and its
  // partitions move at once, under higher epochs. An unknown worker is not
  // an error (leaving twice is harmless). Internal when the handoffs cannot
  // be stored (the worker is forgotten all the same).
  Status LeaveWorker(const std::string& id, const std::vector<weir::v1::PartitionStatus>& handoffs, int64_t now_ms)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every known worker, by id.
  std::vector<weir::v1::WorkerInfo> ListWorkers(int64_t now_ms) const ABSL_LOCKS_EXCLUDED(mu_);

  // ---- Worker connections (ControlPlane.Watch) ----
  // A live worker's watch stream opened; returns its id (see
  // WorkerRegistry::OpenWatch). NotFound for an unknown or lost worker.
  Result<uint64_t> OpenWatch(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream ended. When it was the worker's current watch and the worker
  // had not left, the worker is declared lost at once and its partitions
  // move: its process died (a kill -9 closes its sockets with it) or its
  // connection dropped. Either is safe: an old owner still running is
  // fenced by its epoch. A zombie (a stopped process) keeps its connection
  // open; the heartbeat timeout catches it.
  void CloseWatch(const std::string& id, uint64_t watch, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  enum class WatchWait { kNudged, kTimedOut, kEnded };
  // Waits up to `timeout` for a nudge to `id` (its assignments changed),
  // which it consumes. kEnded once `watch` is not the worker's current
  // watch, or the coordinator is stopping.
  WatchWait AwaitNudge(const std::string& id, uint64_t watch, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_, watch_mu_);
  // The coordinator is stopping: watches end without declaring anyone lost.
  void StopWatches() { watches_stopped_.store(true); }

  // Declares workers dead after the timeout, forgets long-dead ones,
  // reassigns partitions, abandons checkpoints pending for too long and
  // triggers those that are due; then makes the state durable (a failure is
  // logged and retried by the next call).
  void CheckWorkers(int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the most overdue partition discovery whose retry time has come
  // (each job at most every discovery_retry_ms), blocking for as long as the
  // lookup takes. Returns false when none was due.
  bool RetryDiscovery(int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes, for each re-keyed job due (every repartition_trim_interval_ms),
  // the repartition topic's records below its oldest kept checkpoint: every
  // restore point stage 2 may fall back to is kept, and nothing older.
  // Blocks for the deletion. A failure is the job's `repartition_trim` and
  // a REPARTITION_TRIM_FAILED event (once per distinct reason).
  void TrimRepartitionTopics(int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // CheckWorkers(), then every due discovery, then the due trims.
  void Tick(int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // Counts for the metrics: O(jobs + workers). A heartbeat's handler calls
  // CheckpointsFinished() instead (O(1)) and Stats() only when it changed.
  CoordinatorStats Stats() const ABSL_LOCKS_EXCLUDED(mu_);
  // Checkpoints committed or abandoned since start.
  int64_t CheckpointsFinished() const ABSL_LOCKS_EXCLUDED(mu_);
  const CoordinatorOptions& options() const { return options_; }

 private:
  // The partition-count lookup of one running job whose count is unknown.
  struct Discovery {
    uint64_t generation = 0;  // which submission of the name this is for
    int64_t next_attempt_ms = 0;
    bool in_flight = false;
    std::string last_error;  // empty: no failure yet
  };
  // One lookup to run outside the lock.
  struct DiscoveryAttempt {
    std::string job;
    uint64_t generation = 0;
    std::string brokers;
    std::string topic;
    google::protobuf::Map<std::string, std::string> properties;  // source.kafka.properties
    std::string dead_letter_topic;                               // the spec's, or "<job>.dlq"
    // A re-keyed job: its repartition topic and the partitions it asks for
    // (0: as many as the source topic); empty otherwise.
    std::string repartition_topic;
    int32_t repartition_partitions = 0;
  };

  Coordinator(std::unique_ptr<JobStore> store, PartitionDiscovery* discovery, CoordinatorOptions options,
              int64_t grace_until_ms);

  // Makes the store's `version` durable. Should not be called with mu_ held.
  Status SyncState(uint64_t version) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs one discovery without the lock, then applies its result and syncs.
  void Discover(const DiscoveryAttempt& attempt, int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);
  // Records a discovery result.
  void ApplyDiscovery(const DiscoveryAttempt& attempt, const Result<TopicFound>& found, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reassigns every running job's partitions over the live workers, unless
  // in the grace period after a restart.
  void Rebalance(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores a job's next assignment, counts and logs its moves.
  Status StoreAssignment(const std::string& job, int32_t partitions, const Assignment& previous, const Assignment& next,
                         int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The current owner of (job, partition) was fenced at its current epoch:
  // the store has seen a higher epoch than this coordinator issued (an
  // older state.pb was restored, docs/checkpoints.md). Gives the partition
  // an epoch of at least now_ms (the wall-clock floor) and logs a
  // PARTITION_REEPOCHED event; the owner restarts it at that epoch.
  void ReEpochFenced(const std::string& job, PartitionId partition, const PartitionOwner& owner, int64_t now_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A job as weirctl sees it.
  weir::v1::JobInfo ToJobInfo(const weir::v1::JobRecord& job) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the reports, the discovery and the checkpoint state of a job.
  void ForgetJob(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The heartbeat reply of worker `id` (see Heartbeat).
  weir::v1::HeartbeatResponse HeartbeatReply(const std::string& id,
                                             const std::vector<weir::v1::JobSpecRef>& held_specs) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CoordinatorOptions options_;
  PartitionDiscovery* const discovery_;
  const int64_t grace_until_ms_;  // no rebalancing before this (see Open)
  const FileWriter write_file_;   // checkpoints' _metadata
  EventLog events_;               // thread-safe on its own
  StateFile* const state_file_;   // thread-safe: the store's durable copy

  // Nudges a worker's watch (ControlPlane.Watch). Taken after mu_, never before.
  void Nudge(const std::string& worker) ABSL_LOCKS_EXCLUDED(watch_mu_);
  mutable weir::Mutex watch_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::atomic<bool> watches_stopped_{false};
  std::set<std::string> nudged_ ABSL_GUARDED_BY(watch_mu_);  // workers with a nudge not yet sent

  mutable weir::Mutex mu_;
  std::unique_ptr<JobStore> store_ ABSL_PT_GUARDED_BY(mu_);
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu_);
  CheckpointCoordinator checkpoints_ ABSL_GUARDED_BY(mu_);
  PartitionReports reports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Discovery> discoveries_ ABSL_GUARDED_BY(mu_);  // by job name
  // What the last successful discovery of each job found (JobInfo.discovery).
  std::map<std::string, std::string> found_ ABSL_GUARDED_BY(mu_);
  // The housekeeping of each re-keyed job's repartition topic.
  struct Trim {
    std::map<int32_t, int64_t> deleted_below;  // by repartition partition
    int64_t next_ms = 0;
    bool in_flight = false;
    std::string last;  // what the last deletion did, or why it failed (JobInfo.repartition_trim)
    bool failed = false;
  };
  std::map<std::string, Trim> trims_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> spec_hashes_ ABSL_GUARDED_BY(mu_);  // SpecHash of every job, by name
  int64_t partition_moves_ ABSL_GUARDED_BY(mu_) = 0;
  // Refused registrations already logged, as (id, address): a duplicate
  // retrying every few seconds makes one event, not thousands.
  std::set<std::pair<std::string, std::string>> refused_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace weir::coordinator
