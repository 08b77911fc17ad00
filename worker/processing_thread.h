// ProcessingThread: a thread that owns some partitions outright
// (shared-nothing): their Kafka consumer, their engines, their pending output.
// The control loop talks to it only through its command queue (Add/Remove).
//
// Per job it owns one librdkafka consumer and assign()s it the partitions at
// explicit offsets; it never subscribes, so no consumer-group join happens.
// Its loop: apply commands; if a sink writer is full, wait (backpressure:
// nothing more is consumed); consume a batch of records and run each through
// its partition's task; hand rows to the sink writer and dead letters to the
// dead-letter producer; refresh lag; check idle timeouts and fencing.
//
// Lifecycle: Start() spawns the thread, Stop() hands on what is pending and
// joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "worker/checkpoint_writer.h"
#include "worker/dead_letter_producer.h"
#include "worker/partition_restore.h"
#include "worker/partition_task.h"
#include "worker/sink_writer.h"

namespace RdKafka {
class KafkaConsumer;
}

namespace weir::worker {

// One partition to take, and where its output goes.
struct PartitionGrant {
  std::shared_ptr<const JobRuntime> job;
  int32_t partition = 0;
  uint64_t epoch = 0;
  SinkWriter* sink = nullptr;                   // outlives the thread
  DeadLetterProducer* dead_letters = nullptr;   // outlives the thread
  std::shared_ptr<PartitionCounters> counters;  // made by the caller, shared with the task
  CheckpointWriter* checkpoints = nullptr;      // outlives the thread
  // Snapshots to restore, newest first (the coordinator's restore_from);
  // empty: start at the job's `start` offset with empty state.
  std::vector<weir::v1::SnapshotRef> restore_from;
};

// A partition's final snapshot, taken when the thread stopped with handoff.
struct HandoffSnapshot {
  std::string job;
  int32_t partition = 0;
  uint64_t epoch = 0;
  weir::v1::SnapshotRef ref;
  int64_t rows_emitted_at = 0;
  std::shared_ptr<PartitionCounters> counters;
};

struct ProcessingOptions {
  std::string client_id = "weir-worker";
  size_t max_batch_records = 10000;  // records between two hand-offs at most
  std::chrono::milliseconds max_batch_time{5};
  RestoreMetrics* restores = nullptr;  // outlives the thread; null: not counted
};

class ProcessingThread {
 public:
  ProcessingThread(int index, ProcessingOptions options);
  ~ProcessingThread();
  ProcessingThread(const ProcessingThread&) = delete;
  ProcessingThread& operator=(const ProcessingThread&) = delete;

  void Start();
  void Stop();
  // Stops like Stop(), but first snapshots every owned partition (after
  // handing its rows on) to the checkpoint storage's handoff files, so a next
  // owner can start exactly there. Returns the snapshots written.
  std::vector<HandoffSnapshot> StopWithHandoff();

  // Queued; applied by the thread before its next batch.
  void Add(PartitionGrant grant);
  void Remove(const std::string& job, int32_t partition);
  // Snapshots the partition for `checkpoint` at the next record boundary and
  // queues the file to the checkpoint writer.
  void Checkpoint(const std::string& job, int32_t partition, uint64_t checkpoint);

  // Partitions owned or about to be (for spreading partitions over threads).
  int load() const { return load_.load(); }

 private:
  struct Owned {
    std::unique_ptr<PartitionTask> task;
    SinkWriter* sink = nullptr;
    DeadLetterProducer* dead_letters = nullptr;
    CheckpointWriter* checkpoints = nullptr;
  };
  struct JobConsumer {
    std::shared_ptr<const JobRuntime> job;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer;
    std::map<int32_t, Owned> partitions;
  };
  struct Command {
    enum Kind { kAdd, kRemove, kCheckpoint } kind = kAdd;
    PartitionGrant grant;  // kAdd
    std::string job;       // kRemove, kCheckpoint
    int32_t partition = 0;
    uint64_t checkpoint = 0;  // kCheckpoint
  };

  void Run();
  void Apply(Command& c);
  void AddPartition(PartitionGrant& grant);
  void RemovePartition(const std::string& job, int32_t partition);
  void TakeCheckpoint(const std::string& job, int32_t partition, uint64_t checkpoint);
  // Hands every task's rows and dead letters on.
  void HandOff();
  // Hands one task's rows and dead letters on.
  void HandOff(const std::string& job, const std::string& dead_letter_topic, Owned& owned);
  void WriteHandoffSnapshots();
  // Lag, idle timeouts, fencing: every ~100 ms.
  void Housekeeping();
  // Waits while a sink writer of an owned partition is full; true if it had to.
  bool WaitForSinks();

  const int index_;
  const ProcessingOptions options_;
  std::atomic<int> load_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Command> commands_;          // guarded by mu_
  bool stop_ = false;                      // guarded by mu_
  bool handoff_ = false;                   // guarded by mu_
  std::vector<HandoffSnapshot> handoffs_;  // written by the thread as it ends

  // Owned by the thread.
  std::map<std::string, JobConsumer> jobs_;
  std::thread thread_;
};

}  // namespace weir::worker
