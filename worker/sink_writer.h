// SinkWriter: sends feature rows to one feature store over FeatureSink.Write,
// a client stream of batches, with retry and backoff, and bounds the memory
// rows may take while they wait.
//
// Messages: every WriteBatch message stays under the store's largest gRPC
// message (`max_message_bytes`, --max-message-mib on both sides): Enqueue
// cuts a partition's rows into batches that fit (write_batches.h). A row too
// large for any message, and a batch the store refuses for a permanent reason
// (INVALID_ARGUMENT, a size limit), go to the partition's dead-letter topic
// with reason sink_refused and count as settled; they are never retried, and
// a dead-letter topic without room never blocks the writer (they are held and
// tried again). A
// batch over a store's lower limit (the flags differ) is sent in halves.
// Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, ...) are retried with
// backoff (50 ms doubling to 2 s), per job.
//
// Isolation: each job has its own queue, backoff and memory bound. The sender
// serves the jobs with work round-robin, one job's batches per stream, and a
// job backing off is skipped: one job's failing writes never hold up
// another's rows.
//
// Backpressure: Enqueue never blocks and never drops; processing threads ask
// HasRoom(job) before they consume more records of a partition writing here,
// so a slow or absent store pauses that job's partitions (only) and its
// pending rows stay near max_pending_bytes (plus what one consume batch
// emits).
//
// Fencing: a batch the store refuses with FAILED_PRECONDITION (a stale epoch)
// marks its partition's counters `fenced` and is dropped: a newer owner
// exists and writes those rows itself.
//
// Dropping: Drop(job, partition) (cancelled, moved) forgets the partition's
// queued rows at once and its rows in flight once their attempt ends: they
// are never retried. Dropped rows are counted (`dropped_rows`).
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
#include <utility>
#include <vector>

#include "daemon/prometheus_fwd.h"
#include "worker/partition_outputs.h"
#include "worker/partition_task.h"

namespace weir::worker {

struct SinkWriterOptions {
  size_t max_pending_bytes = 64 << 20;       // per job
  size_t max_request_bytes = 4 << 20;        // rows sent in one Write stream at most
  size_t max_message_bytes = 4 << 20;        // the store's largest gRPC message (--max-message-mib)
  size_t max_dead_letter_bytes = 512 << 10;  // refused rows per dead letter
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
  prometheus::Counter* refused_rows = nullptr;  // refused for good, sent to dead letters
  prometheus::Counter* dropped_rows = nullptr;  // of partitions dropped (cancelled, moved) before delivery
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

  bool HasRoom(const std::string& job) const override;
  // Waits up to `max_wait` for `job`'s pending bytes to fall below the bound.
  bool WaitForRoom(const std::string& job, std::chrono::milliseconds max_wait);
  size_t pending_bytes(const std::string& job) const override;
  size_t pending_bytes() const;  // every job's

 private:
  // A batch waiting, with its place in enqueue order (for Drop).
  struct Queued {
    PendingRows rows;
    uint64_t seq = 0;
  };
  struct JobQueue {
    std::deque<Queued> queued;  // oldest first; without those in flight
    size_t pending_bytes = 0;   // queued + in flight
    bool in_flight = false;     // the sender holds some of its batches
    std::chrono::milliseconds backoff{0};
    std::chrono::steady_clock::time_point retry_at{};
  };

  void Run();
  // The next job to serve after `last_job_` (round-robin): has queued rows,
  // is not in flight and not backing off. Null if none.
  // REQUIRES: mu_ held.
  const std::string* NextJob(std::chrono::steady_clock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers one job's batches; leaves in `batches` those to retry.
  // Should not be called while holding mu_ (it does network I/O).
  void Deliver(std::vector<Queued>& batches);
  // Two batches, of the first and second half of `whole`'s rows.
  static std::vector<Queued> Halve(Queued whole);
  // Sends `batches` as one stream. Returns the gRPC status code (as int) and
  // message; OK marks every batch acknowledged and clears `batches`.
  std::pair<int, std::string> SendStream(std::vector<Queued>& batches);
  void Acknowledge(const PendingRows& rows);
  // Counts the key conflicts the store found (ack.key_conflicts) on the
  // counters of the partitions they name, and logs each partition's first.
  static void CountKeyConflicts(const weir::v1::WriteAck& ack, const std::vector<Queued>& batches);
  // Rows refused for good: to their dead-letter topic, counted as settled.
  // Never waits for the topic: dead letters it has no room for are held and
  // tried again by the sender (SendHeldDeadLetters).
  void Refuse(const PendingRows& rows, const std::string& why);
  // Tries the held dead letters again, in order; keeps those still without room.
  // Should not be called while holding mu_.
  void SendHeldDeadLetters();
  void Release(const std::string& job, size_t bytes);
  void SetPendingGauge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string address_;
  const SinkWriterOptions options_;
  const SinkWriterMetrics metrics_;
  struct Stub;
  std::unique_ptr<Stub> stub_;

  mutable weir::Mutex mu_;
  std::map<std::string, JobQueue> jobs_ ABSL_GUARDED_BY(mu_);
  // Drop() of a partition while its job was in flight: batches of it
  // enqueued before this sequence number are dropped when they come back.
  std::map<std::pair<std::string, int32_t>, uint64_t> dropped_before_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Dead letters of refused rows their topic had no room for yet.
  struct HeldDeadLetter {
    DeadLetterOutput* output;
    std::string topic;
    std::string job;
    DeadLetterRecord record;
  };
  std::deque<HeldDeadLetter> held_ ABSL_GUARDED_BY(mu_);
  size_t pending_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // every job's, queued + in flight
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point stop_deadline_ ABSL_GUARDED_BY(mu_);
  std::string last_job_;        // sender thread only: the job served last
  uint64_t next_batch_id_ = 0;  // sender thread only
  // Sender thread only: each job's series of `metrics_.row_latency`.
  std::map<std::string, prometheus::Histogram*> row_latency_;
  std::thread thread_;
};

}  // namespace weir::worker
