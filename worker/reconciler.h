// Reconciler: the worker's side of assignments. Each heartbeat reply lists
// the (job, partition, epoch) this worker owns; the reconciler makes the
// processing threads match it and keeps, for every assigned partition, the
// counters and state the next heartbeat reports, whether or not a thread
// runs it:
//   - a new assignment goes to the least-loaded thread (state `starting`,
//     then what the thread makes of it);
//   - one whose job's spec does not compile here is `failed` with the
//     compiler's reason, until the job's spec changes;
//   - one whose dead-letter output cannot be made is `failed` and granted
//     again with backoff (1 s doubling to 30 s);
//   - one fenced by the store stays `fenced` at its epoch (never restarted
//     there) until the coordinator moves it;
//   - one no longer assigned, at another epoch, or under a changed spec is
//     stopped (its unsent rows dropped: the next owner produces them again).
//
// Thread: the control loop's. The clock is injectable (retries).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weir/v1/services.pb.h"
#include "worker/backoff.h"
#include "worker/job_catalog.h"
#include "worker/processing_thread.h"

namespace weir::worker {

// Where partitions' output goes, made on first use and shared (the worker:
// one sink writer per feature store, one dead-letter producer per Kafka
// cluster).
class OutputDirectory {
 public:
  virtual ~OutputDirectory() = default;
  virtual RowOutput* RowsTo(const std::string& feature_store) = 0;
  // Errors: the producer cannot be made (the message says why).
  // The dead-letter output for a job reading `source` (its brokers and
  // client settings).
  virtual Result<DeadLetterOutput*> DeadLettersTo(const weir::v1::KafkaSource& source) = 0;
};

class Reconciler {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // Everything passed outlives the reconciler.
  Reconciler(
      std::vector<ProcessingThread*> threads, OutputDirectory* outputs, CheckpointWriter* checkpoints,
      Clock now = [] { return std::chrono::steady_clock::now(); });

  // Makes the threads run exactly `assigned`, under the specs of `jobs`.
  void Reconcile(const std::vector<weir::v1::Assignment>& assigned, const JobCatalog& jobs);
  // Asks each running partition of `job` for checkpoint `id` (once).
  void RequestCheckpoint(const std::string& job, CheckpointId id);
  // Every assigned partition's status, as `owner` reports it in a heartbeat.
  void Report(const std::string& owner, weir::v1::HeartbeatRequest* request) const;

  using Key = std::pair<std::string, PartitionId>;  // job, partition
  // The counters of every assigned partition (for metrics).
  std::vector<std::shared_ptr<PartitionCounters>> Counters() const;
  size_t running() const;  // partitions a thread runs

 private:
  struct Assigned {
    std::shared_ptr<const JobRuntime> job;  // null: no spec to run it with
    uint64_t spec_hash = 0;                 // the held job's when assigned; 0: none held
    Epoch epoch;
    ProcessingThread* thread = nullptr;  // null: not granted (failed before it, or fenced)
    std::shared_ptr<PartitionCounters> counters;
    std::vector<weir::v1::SnapshotRef> restore_from;  // for a grant retried
    RekeyLayout layout;                               // a re-keyed job's stages
    Backoff backoff;
    std::chrono::steady_clock::time_point retry_at;
  };

  void Stop(std::map<Key, Assigned>::iterator it);
  // Creates the entry of a new assignment, granting it when it can run.
  void Take(const Key& key, const weir::v1::Assignment& a, const HeldJob* held);
  // Hands the partition to the least-loaded thread, or fails it (retried).
  void Grant(const Key& key, Assigned& p);

  std::vector<ProcessingThread*> threads_;
  OutputDirectory* outputs_;
  CheckpointWriter* checkpoints_;
  Clock now_;
  std::map<Key, Assigned> partitions_;
};

}  // namespace weir::worker
