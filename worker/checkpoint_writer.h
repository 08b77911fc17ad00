// CheckpointWriter: writes partition snapshots to the checkpoint storage off
// the processing threads, so a partition stands still only while its engine
// state is serialized, not while the file is written and fsynced.
//
// Lifecycle: Start() runs one writer thread; Stop() writes what is queued and
// joins. Enqueue is thread-safe.
#pragma once

#include <absl/base/thread_annotations.h>
#include "common/mutex.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "daemon/prometheus_fwd.h"
#include "worker/partition_counters.h"
#include "worker/snapshot_file.h"

namespace weir::worker {

struct SnapshotJob {
  std::string path;
  PartitionSnapshot snapshot;
  std::shared_ptr<PartitionCounters> counters;
  int64_t rows_emitted_at = 0;  // the partition's rows_emitted when it was taken
  int64_t pause_us = 0;
  // Non-empty: the partition has not changed since this durable snapshot
  // file, so it is linked to `path` instead of writing `snapshot` (which then
  // carries no engine state).
  std::string reuse_path;
};

class CheckpointWriter {
 public:
  explicit CheckpointWriter(prometheus::Counter* failures = nullptr) : failures_(failures) {}
  ~CheckpointWriter() { Stop(); }
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  void Start();
  void Stop();
  void Enqueue(SnapshotJob job);

 private:
  void Run();

  prometheus::Counter* const failures_;
  weir::Mutex mu_;
  std::deque<SnapshotJob> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace weir::worker
