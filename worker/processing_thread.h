// ProcessingThread: a thread that owns some partitions outright
// (shared-nothing): their sources, their engines, their pending output. The
// control loop talks to it only through its command queue (Add, Remove,
// Checkpoint); the answer to each is the partition's state in its
// PartitionCounters, which the thread keeps current:
//
//   starting ─► restoring ─► running ◄─► paused      (its row output is full)
//       │            │          │
//       └────────────┴──────────┴─► failed ─► (retried) ─► running
//                                   fenced               (a newer owner exists)
//
// Per job it owns one PartitionSource (made by the injected factory: Kafka in
// the daemon, in-memory in tests) and assigns it the partitions at explicit
// offsets. A partition whose source cannot be made or assigned is `failed`
// with the reason and retried with backoff (1 s doubling to 30 s, reset on
// success); one the source cannot read (Problem()) is `failed` until it can.
//
// Its loop: apply commands; start the partitions due for an attempt; pause
// the partitions whose row output is full and resume those whose output has
// room (backpressure per partition: one job's slow store never stops another
// job); poll each job's source for a batch, decode and run each partition's
// records as one engine batch; hand rows and dead letters on; every ~100 ms
// refresh lag, idle timeouts, fencing and source problems.
//
// Lifecycle: Start() spawns the thread, Stop() hands on what is pending and
// joins. Time for retries comes from ProcessingOptions::now, so tests move it.
#pragma once

#include <absl/base/thread_annotations.h>
#include "common/mutex.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "worker/backoff.h"
#include "worker/checkpoint_writer.h"
#include "worker/partition_outputs.h"
#include "worker/partition_restore.h"
#include "worker/partition_source.h"
#include "worker/partition_task.h"
#include "worker/repartition_producer.h"

namespace weir::worker {

// One partition to take, and where its output goes.
struct PartitionGrant {
  std::shared_ptr<const JobRuntime> job;
  PartitionId partition;
  Epoch epoch;
  RowOutput* sink = nullptr;                    // outlives the thread
  DeadLetterOutput* dead_letters = nullptr;     // outlives the thread
  std::shared_ptr<PartitionCounters> counters;  // made by the caller, shared with the task; carries the state
  CheckpointWriter* checkpoints = nullptr;      // outlives the thread
  // Snapshots to restore, newest first (the coordinator's restore_from);
  // empty: start at the job's `start` offset with empty state.
  std::vector<weir::v1::SnapshotRef> restore_from;
  // A re-keyed job's stages (the coordinator's); zero otherwise.
  RekeyLayout layout;
};

// A partition's final snapshot, taken when the thread stopped with handoff.
struct HandoffSnapshot {
  std::string job;
  PartitionId partition;
  Epoch epoch;
  weir::v1::SnapshotRef ref;
  int64_t rows_emitted_at = 0;
  std::shared_ptr<PartitionCounters> counters;
};

struct ProcessingOptions {
  PartitionSourceFactory sources;    // required
  size_t max_batch_records = 10000;  // records between two hand-offs at most
  std::chrono::milliseconds max_batch_time{5};
  RestoreMetrics* restores = nullptr;  // outlives the thread; null: not counted
  // The clock of start retries; tests move it instead of sleeping.
  std::function<std::chrono::steady_clock::time_point()> now = [] { return std::chrono::steady_clock::now(); };
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{30000};
};

class ProcessingThread {
 public:
  ProcessingThread(int index, ProcessingOptions options);
  ~ProcessingThread();
  ProcessingThread(const ProcessingThread&) = delete;
  ProcessingThread& operator=(const ProcessingThread&) = delete;

  void Start();
  void Stop();
  // Stops like Stop(), but first snapshots every running partition (after
  // handing its rows on) to the checkpoint storage's handoff files, so a next
  // owner can start exactly there. Returns the snapshots written.
  std::vector<HandoffSnapshot> StopWithHandoff();

  // Queued; applied by the thread before its next batch. The partition's
  // counters say how it went (starting, then running or failed with why).
  void Add(PartitionGrant grant);
  void Remove(const std::string& job, PartitionId partition);
  // Snapshots the partition for `checkpoint` at the next record boundary and
  // queues the file to the checkpoint writer. A partition not running (not
  // started yet, failed) is skipped: its checkpoint stays unacknowledged.
  void Checkpoint(const std::string& job, PartitionId partition, CheckpointId checkpoint);

  // Partitions owned or about to be (for spreading partitions over threads).
  int load() const { return load_.load(); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Owned {
    std::unique_ptr<PartitionTask> task;
    RowOutput* sink = nullptr;
    DeadLetterOutput* dead_letters = nullptr;
    CheckpointWriter* checkpoints = nullptr;
    std::vector<weir::v1::SnapshotRef> restore_from;  // consumed by the first attempt
    std::unique_ptr<RepartitionProducer> shuffle;     // stage 1 of a re-keyed job: made at its start
    bool restored = false;                            // the restore ran (once per grant)
    bool assigned = false;                            // the source reads it: running, paused, or failed by Problem()
    bool paused = false;                              // its output is full
    std::string problem;                              // the source's Problem() while it has one
    // Assigned to a client made after one the brokers refused: it stays
    // failed (problem kept) until the source proves it readable.
    bool unproven = false;
    // The last checkpoint snapshot taken, for reuse while nothing changes.
    struct LastSnapshot {
      uint64_t changes = 0;  // the task's changes() then
      CheckpointId checkpoint;
      std::string path;
    };
    std::optional<LastSnapshot> last_snapshot;
    // When state_bytes was last measured (it walks every key), and at which changes().
    TimePoint state_measured_at;
    uint64_t state_measured_changes = ~uint64_t{0};
    Backoff backoff;
    TimePoint retry_at;  // next start attempt while !assigned
  };
  struct JobSource {
    std::shared_ptr<const JobRuntime> job;
    std::unique_ptr<PartitionSource> source;  // null until made
    RekeyLayout layout;                       // a re-keyed job's stages (its grants'); zero otherwise
    std::map<PartitionId, Owned> partitions;
    Backoff new_client_backoff;  // between clients the brokers refused (WantsNewClient)
  };
  struct Command {
    enum Kind { kAdd, kRemove, kCheckpoint } kind = kAdd;
    PartitionGrant grant;  // kAdd
    std::string job;       // kRemove, kCheckpoint
    PartitionId partition;
    CheckpointId checkpoint;  // kCheckpoint
  };

  void Run();
  void Enqueue(Command c);
  void Apply(Command& c);
  void AddPartition(PartitionGrant& grant);
  void RemovePartition(const std::string& job, PartitionId partition);
  void TakeCheckpoint(const std::string& job, PartitionId partition, CheckpointId checkpoint);

  // processing_thread_start.cc: starting, retrying, pausing, source problems.
  // Attempts every partition not assigned whose retry time came.
  void StartDue();
  // Restores (once), makes the job's source (once), assigns the partition.
  void TryStart(JobSource& js, PartitionId partition, Owned& owned);
  void StartFailed(const std::string& job, PartitionId partition, Owned& owned, const std::string& reason);
  // Pauses the partitions whose output is full, resumes those with room.
  void UpdatePauses();
  // Failed while the source cannot read the partition, back when it can.
  void UpdateProblems(JobSource& js);
  // Closes a source whose client the brokers refused; its partitions start
  // again on a new one, after a backoff, where they were.
  void ReplaceClient(JobSource& js);
  // The state a started partition is in, without a source problem.
  static PartitionState StartedState(const Owned& owned);

  // Polls every job's source once and runs what came, partition by partition.
  // Returns the records processed.
  size_t PollAndProcess();
  // Hands every task's rows and dead letters on.
  void HandOff();
  // Hands one task's rows and dead letters on.
  void HandOff(const std::string& job, const std::string& dead_letter_topic, Owned& owned);
  void WriteHandoffSnapshots();
  // Lag, idle timeouts, fencing, source problems: every ~100 ms.
  void Housekeeping();
  // Refreshes the partition's keys, and its state bytes when it changed and
  // kStateMeasurePeriod passed (StateBytes walks every key).
  void MeasureState(Owned& owned);
  // Whether any partition is assigned and not paused (a poll can bring records).
  bool Pollable() const;

  const int index_;
  const ProcessingOptions options_;
  std::atomic<int> load_{0};

  weir::Mutex mu_;
  std::vector<Command> commands_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool handoff_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<HandoffSnapshot> handoffs_;  // written by the thread as it ends, read after the join

  // Owned by the thread.
  std::map<std::string, JobSource> jobs_;
  std::vector<SourceRecord> polled_;
  std::vector<ShuffleMessage> shuffled_;  // HandOff's, kept for its capacity
  std::thread thread_;
};

}  // namespace weir::worker
