// PartitionCounters: the live figures of one owned partition, written by the
// thread that owns it (records, offsets, watermark, lag) and by the sink
// writer (rows acknowledged), read by the control loop for heartbeats and
// metrics. Atomics, relaxed: each figure is read on its own, for reporting.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "common/types.h"
#include "weir/v1/services.pb.h"

namespace weir::worker {

struct PartitionCounters {
  PartitionCounters(std::string job_name, int32_t partition_id, uint64_t assignment_epoch)
      : job(std::move(job_name)), partition(partition_id), epoch(assignment_epoch) {}

  const std::string job;
  const int32_t partition;
  const uint64_t epoch;

  std::atomic<int64_t> records_in{0};
  std::atomic<int64_t> rows_emitted{0};                // handed to the sink writer
  std::atomic<int64_t> rows_acked{0};                  // acknowledged by the store
  std::array<std::atomic<int64_t>, 4> dead_letters{};  // by engine::DeadLetterReason
  std::atomic<int64_t> next_offset{-1};                // -1 before the first record
  std::atomic<int64_t> end_offset{-1};                 // the broker's high watermark; -1 unknown
  std::atomic<int64_t> watermark{kMinTime};
  // Set by the sink writer when the store refused a write of this partition
  // with a stale epoch: a newer owner exists, so the owner stops the partition.
  std::atomic<bool> fenced{false};

  // Snapshots. A snapshot is reportable (the coordinator may commit it) once
  // its file is durable and every row emitted before it is acknowledged by
  // the store: rows before a checkpoint are never lost when a later owner
  // resumes from it.
  struct WrittenSnapshot {
    weir::v1::SnapshotRef ref;
    int64_t rows_emitted_at = 0;
  };
  // Called by the checkpoint writer once the file is durable.
  void SnapshotWritten(WrittenSnapshot s) {
    std::lock_guard lock(snapshot_mu_);
    if (!written_ || written_->ref.checkpoint() <= s.ref.checkpoint()) written_ = std::move(s);
  }
  // The newest reportable snapshot, if any.
  std::optional<weir::v1::SnapshotRef> ReportableSnapshot() {
    std::lock_guard lock(snapshot_mu_);
    if (written_ && rows_acked.load() >= written_->rows_emitted_at) {
      reportable_ = written_->ref;
      written_.reset();
    }
    return reportable_;
  }
  // The newest checkpoint the owner was asked for (control thread only).
  uint64_t checkpoint_requested = 0;

  int64_t lag() const {
    const int64_t end = end_offset.load(std::memory_order_relaxed);
    const int64_t next = next_offset.load(std::memory_order_relaxed);
    if (end < 0) return -1;
    return next < 0 ? end : std::max<int64_t>(0, end - next);
  }
  int64_t dead_letters_total() const {
    int64_t n = 0;
    for (const auto& d : dead_letters) n += d.load(std::memory_order_relaxed);
    return n;
  }

 private:
  std::mutex snapshot_mu_;
  std::optional<WrittenSnapshot> written_;           // guarded by snapshot_mu_
  std::optional<weir::v1::SnapshotRef> reportable_;  // guarded by snapshot_mu_
};

}  // namespace weir::worker
