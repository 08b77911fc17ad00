// Worker: the wiring of the weir-worker daemon. It registers with the
// coordinator, heartbeats every assigned partition's state and progress, and
// follows the assignments each heartbeat returns (Reconciler): partitions it
// gains go to the least loaded processing thread, partitions it loses are
// stopped. It owns the processing threads, one sink writer per feature store,
// one dead-letter producer per Kafka cluster, the job specs it holds
// (JobCatalog), and the HTTP status server with per-partition metrics.
//
// Lifecycle: Start() then Stop() (in reverse order of construction: control
// loop, processing threads, sink writers, producers, HTTP). The control loop
// runs on its own thread.
#pragma once

#include <absl/base/thread_annotations.h>
#include "common/mutex.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "daemon/http_status_server.h"
#include "worker/checkpoint_writer.h"
#include "worker/dead_letter_producer.h"
#include "worker/job_catalog.h"
#include "worker/partition_source.h"
#include "worker/processing_thread.h"
#include "worker/reconciler.h"
#include "worker/sink_writer.h"

namespace weir::worker {

class WorkerMetrics;

struct WorkerOptions {
  std::string id;  // unique in the cluster; default the hostname
  std::string coordinator = "127.0.0.1:7071";
  std::string listen;  // advertised to the coordinator (see README)
  std::string metrics_listen = "127.0.0.1:9466";
  HttpTls metrics_tls;  // set: metrics_listen serves HTTPS with this certificate
  std::string data_dir = "./data/worker";
  int threads = 1;                      // processing threads
  size_t max_pending_bytes = 64 << 20;  // per job and feature store
  size_t max_message_bytes = 4 << 20;   // the feature stores' largest gRPC message
  std::chrono::milliseconds shutdown_timeout{5000};
  // Where partitions are read from; empty: Kafka (the spec's brokers).
  PartitionSourceFactory sources;
};

class Worker : private OutputDirectory {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker() override;
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
  void ControlLoop();
  // Holds the coordinator's watch stream open while registered (its end
  // tells the coordinator at once that this process is gone) and turns its
  // nudges into an immediate heartbeat.
  void WatchLoop();
  Status Register();
  // One heartbeat; applies the assignments and specs it returns.
  Status Heartbeat();
  // Tells the coordinator this worker leaves, with the handoff snapshots
  // whose rows the store acknowledged.
  void Leave(const std::vector<HandoffSnapshot>& handoffs);
  // OutputDirectory, for the reconciler (control thread).
  RowOutput* RowsTo(const std::string& address) override;
  Result<DeadLetterOutput*> DeadLettersTo(const weir::v1::KafkaSource& source) override;

  const WorkerOptions options_;
  struct Control;
  std::unique_ptr<Control> control_;
  std::unique_ptr<WorkerMetrics> metrics_;
  std::vector<std::unique_ptr<ProcessingThread>> threads_;
  std::unique_ptr<CheckpointWriter> checkpoint_writer_;
  std::map<std::string, std::unique_ptr<SinkWriter>> sinks_;                 // control thread
  std::map<std::string, std::unique_ptr<DeadLetterProducer>> dead_letters_;  // control thread
  JobCatalog jobs_;                                                          // control thread
  std::unique_ptr<Reconciler> reconciler_;                                   // control thread

  std::atomic<bool> registered_{false};
  std::atomic<int64_t> heartbeat_interval_ms_{500};
  weir::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // Stop() ran
  bool nudged_ ABSL_GUARDED_BY(mu_) = false;   // the coordinator asked for a heartbeat now
  std::thread control_thread_;
  std::thread watch_thread_;
};

}  // namespace weir::worker
