// Worker: the wiring of the weir-worker daemon. It registers with the
// coordinator, heartbeats its partitions' progress, and follows the
// assignments each heartbeat returns: partitions it gains go to the least
// loaded processing thread, partitions it loses are stopped. It owns the
// processing threads, one sink writer per feature store, one dead-letter
// producer per Kafka cluster, and the HTTP status server with per-partition
// metrics.
//
// Lifecycle: Start() then Stop() (in reverse order of construction: control
// loop, processing threads, sink writers, producers, HTTP). The control loop
// runs on its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/status.h"
#include "worker/checkpoint_writer.h"
#include "worker/dead_letter_producer.h"
#include "worker/processing_thread.h"
#include "worker/sink_writer.h"

namespace weir::worker {

struct WorkerOptions {
  std::string id;  // unique in the cluster; default the hostname
  std::string coordinator = "127.0.0.1:7071";
  std::string listen;  // advertised to the coordinator (see README)
  std::string metrics_listen = "127.0.0.1:9466";
  std::string data_dir = "./data/worker";
  int threads = 1;                      // processing threads
  size_t max_pending_bytes = 64 << 20;  // per feature store
  std::chrono::milliseconds shutdown_timeout{5000};
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the HTTP server, the threads and the control loop. Errors: the
  // metrics address is taken, the data directory cannot be made.
  Status Start();
  // Stops with a handoff: the partitions stop at a record boundary, their
  // rows are delivered (up to the shutdown timeout), their final snapshots
  // are written, and the coordinator is told (LeaveWorker), so the next
  // owners resume exactly there. Idempotent.
  void Stop();

  // The HTTP status server's address (after Start).
  std::string metrics_address() const;

 private:
  struct Metrics;
  struct Running {
    std::shared_ptr<const JobRuntime> job;
    uint64_t epoch = 0;
    ProcessingThread* thread = nullptr;
    std::shared_ptr<PartitionCounters> counters;
  };
  using PartitionId = std::pair<std::string, int32_t>;  // job, partition

  void ControlLoop();
  Status Register();
  // One heartbeat; applies the assignments it returns.
  Status Heartbeat();
  // REQUIRES: called on the control thread.
  void Reconcile(const std::vector<weir::v1::Assignment>& assigned,
                 const std::map<std::string, std::shared_ptr<const JobRuntime>>& jobs);
  // Asks each owned partition of `job` for checkpoint `id` (once).
  void RequestCheckpoint(const std::string& job, uint64_t id);
  // Tells the coordinator this worker leaves, with the handoff snapshots
  // whose rows the store acknowledged.
  void Leave(const std::vector<HandoffSnapshot>& handoffs);
  void StopPartition(const PartitionId& id);
  SinkWriter* SinkFor(const std::string& address);
  Result<DeadLetterProducer*> DeadLettersFor(const std::string& brokers);
  void UpdateMetrics();

  const WorkerOptions options_;
  struct Control;
  std::unique_ptr<Control> control_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<std::unique_ptr<ProcessingThread>> threads_;
  std::unique_ptr<CheckpointWriter> checkpoint_writer_;
  std::map<std::string, std::unique_ptr<SinkWriter>> sinks_;                 // control thread
  std::map<std::string, std::unique_ptr<DeadLetterProducer>> dead_letters_;  // control thread
  std::map<PartitionId, Running> running_;                                   // control thread
  // (job, partition, epoch) the store fenced: not restarted at that epoch.
  std::set<std::tuple<std::string, int32_t, uint64_t>> fenced_;  // control thread
  // Compiled jobs by name; replaced when a spec changes.
  std::map<std::string, std::shared_ptr<const JobRuntime>> jobs_;  // control thread

  std::atomic<bool> registered_{false};
  std::atomic<int64_t> heartbeat_interval_ms_{500};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;     // guarded by mu_
  bool stopped_ = false;  // guarded by mu_: Stop() ran
  std::thread control_thread_;
};

}  // namespace weir::worker
