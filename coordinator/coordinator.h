// Coordinator: the coordinator's logic without the network. It owns the
// durable JobStore, the registry of workers (with failure detection by
// heartbeat timeout), each partition's last reported status, and keeps every
// running job's partitions assigned to the live workers (coordinator/assignment.h).
//
// Time is an argument (`now_ms`, ms since the Unix epoch on the coordinator's
// clock), so tests drive it; the daemon passes the wall clock. Partition
// counts come from an injected PartitionDiscovery.
//
// Lifecycle: Open() loads the data directory; the daemon then calls
// CheckWorkers() every ~250 ms from one thread and RetryDiscovery() from
// another (it blocks on the network), while gRPC handlers call the rest.
// Tests call Tick(), which does both.
// Thread-safe: one mutex guards the registry, the reports and every change
// of the store. Discovery (network I/O) runs without it held.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
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
};

// Counts for the daemon's metrics.
struct CoordinatorStats {
  std::map<weir::v1::JobState, int64_t> jobs;  // by state
  int64_t workers_alive = 0;
  int64_t workers_dead = 0;
  int64_t partition_moves = 0;  // since start: partitions given a new owner
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

  // Validates (ValidateJobSpec: InvalidArgument naming paths) and stores a
  // running job (AlreadyExists while one of that name runs), then reads the
  // topic's partition count. When that fails the job is still accepted, with
  // 0 partitions, and RetryDiscovery() retries; DiscoveryError() says why.
  Result<weir::v1::JobInfo> SubmitJob(const weir::v1::JobSpec& spec, int64_t now_ms);
  // NotFound for an unknown name.
  Result<weir::v1::JobInfo> GetJob(const std::string& name) const;
  std::vector<weir::v1::JobInfo> ListJobs() const;
  // Cancels a job and takes its partitions from their owners. NotFound for an unknown name.
  Result<weir::v1::JobInfo> CancelJob(const std::string& name);
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
  Result<weir::v1::HeartbeatResponse> Heartbeat(const std::string& id,
                                                const std::vector<weir::v1::PartitionStatus>& statuses, int64_t now_ms);
  // Every known worker, by id.
  std::vector<weir::v1::WorkerInfo> ListWorkers(int64_t now_ms) const;

  // Declares workers dead after the timeout, forgets long-dead ones, and
  // reassigns partitions. No I/O beyond persisting changed assignments.
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
  // Drops the reports and the discovery state of a job. REQUIRES: mu_ held.
  void ForgetJob(const std::string& name);

  const CoordinatorOptions options_;
  PartitionDiscovery* const discovery_;
  const int64_t grace_until_ms_;  // no rebalancing before this (see Open)

  mutable std::mutex mu_;
  std::unique_ptr<JobStore> store_;               // changed only with mu_ held
  std::map<std::string, Worker> workers_;         // guarded by mu_; by id
  std::map<std::string, Discovery> discoveries_;  // guarded by mu_; by job name
  std::map<ReportKey, Report> reports_;           // guarded by mu_
  int64_t partition_moves_ = 0;                   // guarded by mu_
  uint64_t next_generation_ = 1;                  // guarded by mu_
};

}  // namespace weir::coordinator
