// SinkWriter: sends feature rows to one feature store over FeatureSink.Write,
// a client stream of batches, with retry and backoff, and bounds the memory
// rows may take while they wait.
//
// Backpressure: Enqueue never blocks and never drops; processing threads ask
// HasRoom() before they consume more records of a partition writing here, so a
// slow or absent store pauses those partitions (only) and pending rows stay
// near max_pending_bytes (plus what one consume batch emits).
//
// Fencing: a batch the store refuses with FAILED_PRECONDITION (a stale epoch)
// marks its partition's counters `fenced` and is dropped: a newer owner
// exists and writes those rows itself.
//
// Lifecycle: Start() runs one sender thread; Stop(deadline) sends what it can
// until the deadline and joins. Thread-safe.
#pragma once

#include <absl/base/thread_annotations.h>
#include "common/mutex.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/prometheus_fwd.h"
#include "worker/partition_outputs.h"
#include "worker/partition_task.h"

namespace weir::worker {

struct SinkWriterOptions {
  size_t max_pending_bytes = 64 << 20;
  size_t max_request_bytes = 4 << 20;  // rows sent in one Write stream at most
  std::chrono::milliseconds rpc_timeout{10000};
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
};

// Where the writer reports; any may be null.
struct SinkWriterMetrics {
  // Seconds from a row firing to the store's ack, one observation per row
  // (every row of a batch is counted as old as the batch's oldest: an upper
  // bound), in the series labelled with the row's job. `row_latency_buckets`
  // are the histograms' bucket boundaries.
  prometheus::Family<prometheus::Histogram>* row_latency = nullptr;
  std::vector<double> row_latency_buckets;
  prometheus::Counter* retries = nullptr;
  prometheus::Counter* fenced_batches = nullptr;
  prometheus::Gauge* pending_bytes = nullptr;
};

class SinkWriter final : public RowOutput {
 public:
  SinkWriter(std::string address, SinkWriterOptions options, SinkWriterMetrics metrics);
  ~SinkWriter() override;
  SinkWriter(const SinkWriter&) = delete;
  SinkWriter& operator=(const SinkWriter&) = delete;

  const std::string& address() const override { return address_; }

  void Start();
  // Sends what is queued until `deadline`, then drops the rest (logged) and joins.
  void Stop(std::chrono::steady_clock::time_point deadline);

  void Enqueue(PendingRows rows) override;
  void Drop(const std::string& job, int32_t partition) override;

  bool HasRoom() const override;
  // Waits up to `max_wait` for pending bytes to fall below the bound.
  bool WaitForRoom(std::chrono::milliseconds max_wait);
  size_t pending_bytes() const override;

 private:
  void Run();
  // Sends `batches` as one stream. Returns the gRPC status code (as int) of
  // the stream; OK marks every batch acknowledged.
  int SendStream(std::vector<PendingRows>& batches);
  // After a FAILED_PRECONDITION: sends each batch alone to find the fenced
  // ones. Returns false when the store became unreachable meanwhile; the
  // unsent batches are left in `batches`.
  bool SendOneByOne(std::vector<PendingRows>& batches);
  void Acknowledge(const PendingRows& rows);
  void Release(size_t bytes);

  const std::string address_;
  const SinkWriterOptions options_;
  const SinkWriterMetrics metrics_;
  struct Stub;
  std::unique_ptr<Stub> stub_;

  mutable weir::Mutex mu_;
  std::deque<PendingRows> queue_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // queued + in flight
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point stop_deadline_ ABSL_GUARDED_BY(mu_);
  uint64_t next_batch_id_ = 0;  // sender thread only
  // Sender thread only: each job's series of `metrics_.row_latency`.
  std::map<std::string, prometheus::Histogram*> row_latency_;
  std::thread thread_;
};

}  // namespace weir::worker
