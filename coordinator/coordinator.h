// Coordinator: the coordinator's logic without the network. It owns the
// durable JobStore, the registry of workers (with failure detection by
// heartbeat timeout), each partition's last reported status, keeps every
// running job's partitions assigned to the live workers
// (coordinator/assignment.h), and coordinates checkpoints (docs/checkpoints.md): it triggers them every
// `checkpoint.interval`, collects the partitions' acknowledgements from heartbeats, commits (the `_metadata` file, then
// the JobStore) and prunes, and tells each new owner where to restore from.
//
// Time is an argument (`now_ms`, ms since the Unix epoch on the coordinator's
// clock), so tests drive it; the daemon passes the wall clock. Partition
// counts come from an injected PartitionDiscovery.
//
// Lifecycle: Open() loads the data directory; the daemon then calls
// CheckWorkers() every ~250 ms from one thread and RetryDiscovery() from
// another (it blocks on the network), while gRPC handlers call the rest.
// Tests call Tick(), which does both.
// Thread-safe: one mutex guards the registry, the reports, the pending
// checkpoints and every change of the store. Discovery (network I/O) runs
// without it held; the checkpoint files (a small `_metadata` write, pruning)
// are written and deleted with it held.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "coordinator/job_store.h"
#include "weir/v1/services.pb.h"

namespace weir::coordinator {

// How many partitions a Kafka topic has. Implementations are called from
// several threads at once and may block (the Kafka one for up to ~2 s).
class PartitionDiscovery {
 public:
  virtual ~PartitionDiscovery() = default;
  // The topic's partition count (> 0). An error says what failed: NotFound
  // for a missing topic, Unavailable for unreachable brokers.
  virtual Result<int32_t> PartitionCount(const std::string& brokers, const std::string& topic) = 0;
};

struct CoordinatorOptions {
  int64_t heartbeat_interval_ms = 500;  // told to workers at registration
  int64_t worker_timeout_ms = 3000;     // no heartbeat for longer: the worker is dead
  int64_t discovery_retry_ms = 2000;    // between discovery attempts of one job
  // A dead worker is listed (alive = false) this long, then forgotten.
  int64_t dead_worker_retention_ms = 10 * 60 * 1000;
  // Committed checkpoints kept per job; older ones are deleted (docs/checkpoints.md: 3).
  size_t checkpoints_to_keep = 3;
  // A pending checkpoint not fully acknowledged within
  // max(checkpoint_timeout_intervals x interval, min_checkpoint_timeout_ms)
  // of its trigger is abandoned.
  int64_t checkpoint_timeout_intervals = 3;
  int64_t min_checkpoint_timeout_ms = 30'000;
};

// One committed checkpoint, as the metrics see it.
struct CommittedCheckpoint {
  int64_t seq = 0;  // its place among the commits since start: 1, 2, ...
  std::string job;
  uint64_t id = 0;
  int64_t duration_ms = 0;  // trigger to commit, on the coordinator's clock
  int64_t bytes = 0;        // the sum of its partitions' snapshot sizes
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

// How many commits CoordinatorStats::recent_commits keeps; the metrics read
// them at least every 250 ms, far more often than 64 checkpoints commit.
inline constexpr size_t kRecentCommits = 64;

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

  // Validates (ValidateJobSpec: InvalidArgument naming paths) and stores a
  // running job (AlreadyExists while one of that name runs), then reads the
  // topic's partition count. When that fails the job is still accepted, with
  // 0 partitions, and RetryDiscovery() retries; DiscoveryError() says why.
  Result<weir::v1::JobInfo> SubmitJob(const weir::v1::JobSpec& spec, int64_t now_ms);
  // NotFound for an unknown name.
  Result<weir::v1::JobInfo> GetJob(const std::string& name) const;
  std::vector<weir::v1::JobInfo> ListJobs() const;
  // Cancels a job, takes its partitions from their owners and drops its
  // pending checkpoint (its committed ones stay listed). NotFound for an
  // unknown name.
  Result<weir::v1::JobInfo> CancelJob(const std::string& name);
  // Triggers a checkpoint of a job now and returns its id, or returns the id
  // of the one already pending. NotFound for an unknown name;
  // FailedPrecondition when the job is not running or not every partition
  // has a live owner (partitions unknown, no workers).
  Result<CheckpointId> TriggerCheckpoint(const std::string& name, int64_t now_ms);
  // Why a running job's partition count is still unknown; nullopt when it is
  // known, or not yet tried.
  std::optional<std::string> DiscoveryError(const std::string& name) const;

  // ---- Workers (the control plane) ----

  // Adds a worker, or refreshes one that registers again (after a restart,
  // or after being declared dead), and assigns it partitions at once.
  // InvalidArgument for an empty id.
  Result<weir::v1::RegisterWorkerResponse> RegisterWorker(const std::string& id, const std::string& address,
                                                          int64_t now_ms);
  // Records that the worker lives and what it reports, and returns all its
  // assignments with the spec of each of their jobs. NotFound for a worker
  // that is not registered or was declared dead: it must register again
  // (and, having been dead, drop what it ran: its partitions have moved).
  //
  // Checkpoints: a status whose `snapshot.checkpoint` is the job's pending
  // checkpoint, sent by the partition's owner under its current epoch, with
  // a path, acknowledges that partition; the last acknowledgement commits
  // the checkpoint before the reply is built. The reply carries the pending
  // checkpoint of every job the worker has a partition of, and each
  // assignment's `restore_from`: the partition's handoff snapshot if there
  // is one, then its snapshot in each committed checkpoint, newest first.
  Result<weir::v1::HeartbeatResponse> Heartbeat(const std::string& id,
                                                const std::vector<weir::v1::PartitionStatus>& statuses, int64_t now_ms);
  // A worker stopping on purpose (SIGTERM), after it stopped its partitions
  // and its rows were acknowledged. Each handoff (job, partition, epoch,
  // snapshot) of a partition the worker owns under that epoch, with a
  // snapshot path, becomes that partition's handoff snapshot: its next
  // owner restores it first. The worker is then forgotten and its
  // partitions move at once, under higher epochs. An unknown worker is not
  // an error (leaving twice is harmless). Internal when the handoffs cannot
  // be stored (the worker is forgotten all the same).
  Status LeaveWorker(const std::string& id, const std::vector<weir::v1::PartitionStatus>& handoffs, int64_t now_ms);
  // Every known worker, by id.
  std::vector<weir::v1::WorkerInfo> ListWorkers(int64_t now_ms) const;

  // Declares workers dead after the timeout, forgets long-dead ones,
  // reassigns partitions, abandons checkpoints pending for too long and
  // triggers those that are due. No I/O beyond persisting the store.
  void CheckWorkers(int64_t now_ms);
  // Runs the most overdue partition discovery whose retry time has come
  // (each job at most every discovery_retry_ms), blocking for as long as the
  // lookup takes. Returns false when none was due.
  bool RetryDiscovery(int64_t now_ms);
  // CheckWorkers(), then every due discovery.
  void Tick(int64_t now_ms);

  CoordinatorStats Stats() const;
  const CoordinatorOptions& options() const { return options_; }

 private:
  struct Worker {
    std::string address;
    int64_t registered_at_ms = 0;
    int64_t last_heartbeat_ms = 0;
    bool alive = true;
    int64_t dead_since_ms = 0;
  };
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
  };
  using ReportKey = std::pair<std::string, int32_t>;  // (job, partition)
  struct Report {
    std::string worker;
    weir::v1::PartitionStatus status;
  };
  // A triggered checkpoint waiting for every partition's acknowledgement.
  struct PendingCheckpoint {
    CheckpointId id;
    int64_t triggered_at_ms = 0;
    std::map<int32_t, weir::v1::SnapshotRef> refs;  // acknowledged partitions
  };
  // The in-memory checkpoint state of a running job (lost on restart; the
  // ids handed out are durable in the store).
  struct JobCheckpoints {
    // The last trigger, the job's start, or the last abandonment: the next
    // checkpoint is due one interval after it.
    int64_t last_trigger_ms = 0;
    std::optional<PendingCheckpoint> pending;
  };

  Coordinator(std::unique_ptr<JobStore> store, PartitionDiscovery* discovery, CoordinatorOptions options,
              int64_t grace_until_ms);

  // Runs one discovery without the lock, then applies its result.
  void Discover(const DiscoveryAttempt& attempt, int64_t now_ms);
  // Records a discovery result. REQUIRES: mu_ held.
  void ApplyDiscovery(const DiscoveryAttempt& attempt, const Result<int32_t>& count, int64_t now_ms);
  // Reassigns every running job's partitions over the live workers and
  // stores what changed. REQUIRES: mu_ held.
  void Rebalance(int64_t now_ms);
  // Live worker ids, sorted. REQUIRES: mu_ held.
  std::vector<std::string> LiveWorkers() const;
  // A job as weirctl sees it. REQUIRES: mu_ held.
  weir::v1::JobInfo ToJobInfo(const weir::v1::JobRecord& job) const;
  // Drops the reports, the discovery and the checkpoint state of a job. REQUIRES: mu_ held.
  void ForgetJob(const std::string& name);

  // Ok when every partition of `job` has a live owner, so a checkpoint can
  // complete; FailedPrecondition saying why not. REQUIRES: mu_ held.
  Status CanCheckpoint(const weir::v1::JobRecord& job) const;
  // Starts checkpoint last+1 of `job` (its id stored first). REQUIRES: mu_
  // held, no checkpoint of the job pending.
  Result<CheckpointId> StartCheckpoint(const weir::v1::JobRecord& job, int64_t now_ms);
  // Abandons overdue checkpoints and triggers due ones. REQUIRES: mu_ held.
  void CheckCheckpoints(int64_t now_ms);
  // Records `status` as an acknowledgement when it is one (see Heartbeat);
  // true if it was. REQUIRES: mu_ held.
  bool RecordAck(const weir::v1::JobRecord& job, const std::string& worker, const weir::v1::PartitionStatus& status);
  // Commits the job's pending checkpoint once every partition acknowledged
  // it: `_metadata`, then the store; prunes. REQUIRES: mu_ held.
  void MaybeCommit(const weir::v1::JobRecord& job, int64_t now_ms);
  // Drops a pending checkpoint; the next is due one interval from now. REQUIRES: mu_ held.
  void Abandon(const std::string& job, int64_t now_ms);
  // The restore points of one partition, newest first (see Heartbeat).
  static void SetRestoreFrom(const weir::v1::JobRecord& job, const std::map<int32_t, weir::v1::SnapshotRef>& handoffs,
                             int32_t partition, weir::v1::Assignment* out);

  const CoordinatorOptions options_;
  PartitionDiscovery* const discovery_;
  const int64_t grace_until_ms_;  // no rebalancing before this (see Open)

  mutable std::mutex mu_;
  std::unique_ptr<JobStore> store_;                    // changed only with mu_ held
  std::map<std::string, Worker> workers_;              // guarded by mu_; by id
  std::map<std::string, Discovery> discoveries_;       // guarded by mu_; by job name
  std::map<ReportKey, Report> reports_;                // guarded by mu_
  std::map<std::string, JobCheckpoints> checkpoints_;  // guarded by mu_; running jobs by name
  int64_t partition_moves_ = 0;                        // guarded by mu_
  int64_t checkpoints_committed_ = 0;                  // guarded by mu_
  int64_t checkpoints_abandoned_ = 0;                  // guarded by mu_
  std::deque<CommittedCheckpoint> recent_commits_;     // guarded by mu_; at most kRecentCommits
  uint64_t next_generation_ = 1;                       // guarded by mu_
};

}  // namespace weir::coordinator
