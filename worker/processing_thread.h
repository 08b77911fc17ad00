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

#include "worker/dead_letter_producer.h"
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
};

struct ProcessingOptions {
  std::string client_id = "weir-worker";
  size_t max_batch_records = 10000;  // records between two hand-offs at most
  std::chrono::milliseconds max_batch_time{5};
};

class ProcessingThread {
 public:
  ProcessingThread(int index, ProcessingOptions options);
  ~ProcessingThread();
  ProcessingThread(const ProcessingThread&) = delete;
  ProcessingThread& operator=(const ProcessingThread&) = delete;

  void Start();
  void Stop();

  // Queued; applied by the thread before its next batch.
  void Add(PartitionGrant grant);
  void Remove(const std::string& job, int32_t partition);

  // Partitions owned or about to be (for spreading partitions over threads).
  int load() const { return load_.load(); }

 private:
  struct Owned {
    std::unique_ptr<PartitionTask> task;
    SinkWriter* sink = nullptr;
    DeadLetterProducer* dead_letters = nullptr;
  };
  struct JobConsumer {
    std::shared_ptr<const JobRuntime> job;
    std::unique_ptr<RdKafka::KafkaConsumer> consumer;
    std::map<int32_t, Owned> partitions;
  };
  struct Command {
    bool add = false;
    PartitionGrant grant;  // add
    std::string job;       // remove
    int32_t partition = 0;
  };

  void Run();
  void Apply(Command& c);
  void AddPartition(PartitionGrant& grant);
  void RemovePartition(const std::string& job, int32_t partition);
  // Hands every task's rows and dead letters on.
  void HandOff();
  // Lag, idle timeouts, fencing: every ~100 ms.
  void Housekeeping();
  // Waits while a sink writer of an owned partition is full; true if it had to.
  bool WaitForSinks();

  const int index_;
  const ProcessingOptions options_;
  std::atomic<int> load_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Command> commands_;  // guarded by mu_
  bool stop_ = false;              // guarded by mu_

  // Owned by the thread.
  std::map<std::string, JobConsumer> jobs_;
  std::thread thread_;
};

}  // namespace weir::worker
