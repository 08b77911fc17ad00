// PartitionCounters: the live figures of one assigned partition, written by
// the thread that owns it (records, offsets, watermark, lag, its state) and by
// the sink writer (rows acknowledged), read by the control loop for heartbeats
// and metrics. The figures are relaxed atomics, each read on its own, for
// reporting; the state and the snapshot to report sit behind a mutex.
#pragma once

#include <absl/base/thread_annotations.h>
#include "common/mutex.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "common/types.h"
#include "engine/event.h"
#include "weir/v1/services.pb.h"

namespace weir::worker {

// What an assigned partition is doing (the wire's enum, reported as is).
using PartitionState = weir::v1::PartitionState;
// "starting", "restoring", "running", "paused", "failed", "fenced": the `state` label.
const char* PartitionStateName(PartitionState state);
// Every state a partition can be in, in the order of the enum.
inline constexpr std::array<PartitionState, 6> kPartitionStates = {
    weir::v1::PARTITION_STATE_STARTING, weir::v1::PARTITION_STATE_RESTORING, weir::v1::PARTITION_STATE_RUNNING,
    weir::v1::PARTITION_STATE_PAUSED,   weir::v1::PARTITION_STATE_FAILED,    weir::v1::PARTITION_STATE_FENCED};

struct PartitionCounters {
  PartitionCounters(std::string job_name, PartitionId partition_id, Epoch assignment_epoch)
      : job(std::move(job_name)), partition(partition_id), epoch(assignment_epoch) {}

  const std::string job;
  const PartitionId partition;
  const Epoch epoch;

  std::atomic<int64_t> records_in{0};
  std::atomic<int64_t> rows_emitted{0};  // handed to the sink writer
  std::atomic<int64_t> rows_acked{0};    // acknowledged by the store
  std::atomic<int64_t> rows_refused{0};  // refused by the store for good: sent to the dead-letter topic instead
  std::array<std::atomic<int64_t>, engine::kDeadLetterReasons> dead_letters{};  // by engine::DeadLetterReason
  std::atomic<int64_t> next_offset{-1};                                         // -1 before the first record
  std::atomic<int64_t> end_offset{-1};  // the broker's high watermark; -1 unknown
  // Records Kafka no longer had when the partition reached them, skipped
  // under source.on_offset_gap: skip.
  std::atomic<int64_t> records_skipped{0};
  // The engine's size: keys holding state, and its approximate bytes (window
  // state and key table), refreshed by the owner's housekeeping.
  std::atomic<int64_t> keys{0};
  std::atomic<int64_t> state_bytes{0};
  std::atomic<int64_t> watermark{kMinTime};
  // Re-keyed jobs. Stage 1: records (and their bytes) written to the
  // repartition topic; rows_emitted/rows_acked count its messages queued and
  // acknowledged by Kafka, so a snapshot is reportable once Kafka has every
  // message before it. Stage 2: copies of source records dropped.
  std::atomic<int64_t> records_shuffled{0};
  std::atomic<int64_t> bytes_shuffled{0};
  std::atomic<int64_t> duplicates_dropped{0};
  // Rows the store found for keys another partition of the job wrote first
  // (its key check: the topic is not partitioned by the job's key), counted
  // by the sink writer from the store's replies; KeyConflict() describes the
  // first.
  std::atomic<int64_t> key_conflicts{0};
  // Set by the sink writer when the store refused a write of this partition
  // with a stale epoch: a newer owner exists, so the owner stops the partition.
  std::atomic<bool> fenced{false};

  // The partition's state, set by whoever decides it (its processing thread;
  // the control loop before a thread has it) and reported on every heartbeat.
  struct StateReport {
    PartitionState state = weir::v1::PARTITION_STATE_STARTING;
    std::string reason;  // with failed and paused: what is wrong, for a user
    // Set once the partition started at this epoch: where it restored from.
    std::optional<weir::v1::RestoreInfo> restored;
  };
  void SetState(PartitionState state, std::string reason = {}) {
    weir::MutexLock lock(&state_mu_);
    state_.state = state;
    state_.reason = std::move(reason);
  }
  void SetRestored(weir::v1::RestoreInfo restored) {
    weir::MutexLock lock(&state_mu_);
    state_.restored = std::move(restored);
  }
  StateReport state() const {
    weir::MutexLock lock(&state_mu_);
    return state_;
  }
  // Keeps the first description of a key conflict; true when it is the first.
  bool SetKeyConflict(std::string description) {
    weir::MutexLock lock(&state_mu_);
    if (!key_conflict_.empty()) return false;
    key_conflict_ = std::move(description);
    return true;
  }
  std::string KeyConflict() const {
    weir::MutexLock lock(&state_mu_);
    return key_conflict_;
  }

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
    last_written_checkpoint.store(s.ref.checkpoint(), std::memory_order_release);
    weir::MutexLock lock(&snapshot_mu_);
    if (!written_ || written_->ref.checkpoint() <= s.ref.checkpoint()) written_ = std::move(s);
  }
  // The newest reportable snapshot, if any.
  std::optional<weir::v1::SnapshotRef> ReportableSnapshot() {
    weir::MutexLock lock(&snapshot_mu_);
    if (written_ && rows_settled() >= written_->rows_emitted_at) {
      reportable_ = written_->ref;
      written_.reset();
    }
    return reportable_;
  }
  // The checkpoint of the snapshot file last made durable (0: none yet); its
  // owner reuses that file while the partition does not change.
  std::atomic<uint64_t> last_written_checkpoint{0};
  // The newest checkpoint the owner was asked for (control thread only).
  CheckpointId checkpoint_requested{0};

  // Rows the store is done with: acknowledged, or refused for good (those
  // went to the dead-letter topic, and a retry could never write them).
  int64_t rows_settled() const { return rows_acked.load() + rows_refused.load(); }

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
  mutable weir::Mutex state_mu_;
  StateReport state_ ABSL_GUARDED_BY(state_mu_);
  std::string key_conflict_ ABSL_GUARDED_BY(state_mu_);
  weir::Mutex snapshot_mu_;
  std::optional<WrittenSnapshot> written_ ABSL_GUARDED_BY(snapshot_mu_);
  std::optional<weir::v1::SnapshotRef> reportable_ ABSL_GUARDED_BY(snapshot_mu_);
};

inline const char* PartitionStateName(PartitionState state) {
  switch (state) {
    case weir::v1::PARTITION_STATE_STARTING: return "starting";
    case weir::v1::PARTITION_STATE_RESTORING: return "restoring";
    case weir::v1::PARTITION_STATE_RUNNING: return "running";
    case weir::v1::PARTITION_STATE_PAUSED: return "paused";
    case weir::v1::PARTITION_STATE_FAILED: return "failed";
    case weir::v1::PARTITION_STATE_FENCED: return "fenced";
    default: return "unspecified";
  }
}

}  // namespace weir::worker
