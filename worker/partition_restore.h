// Restoring a partition a worker starts: from the first of its restore points
// (the coordinator's `restore_from`, newest first) that reads back whole, and
// counting what happened (a recovery, and the snapshots skipped on the way)
// for the worker's metrics.
//
// RestorePartition runs on the processing thread that owns the task;
// RestoreMetrics is thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/types.h"

#include "daemon/prometheus_fwd.h"
#include "weir/v1/services.pb.h"
#include "worker/partition_task.h"

namespace weir::worker {

// Where a partition with restore points started from.
enum class RestoreSource {
  kHandoff,     // the snapshot its previous owner wrote when it left (SIGTERM)
  kCheckpoint,  // a committed checkpoint's snapshot
  kNone,        // none could be read: the job's start offset, empty state
};
// "handoff", "checkpoint", "none": the `source` label.
const char* RestoreSourceName(RestoreSource source);

struct RestoreOutcome {
  RestoreSource source = RestoreSource::kNone;
  CheckpointId checkpoint{0};  // with kCheckpoint: which one
  size_t fallbacks = 0;        // restore points skipped: missing, torn, corrupt or foreign
  std::string detail;          // why the first skipped one was skipped; empty with no fallback
};

// What a heartbeat reports of a start: `outcome`, or a fresh start (the job's
// start offset, no restore points) when null.
weir::v1::RestoreInfo ToRestoreInfo(const RestoreOutcome* outcome);

// Restores `task` from the first snapshot of `restore_from` that reads back
// whole, falling back to the next one (each failure logged at warn; none
// readable at error). A task none could restore is left as new: empty state,
// its start offset untouched. REQUIRES: `restore_from` is not empty (a
// partition without restore points is a fresh start, not a recovery).
RestoreOutcome RestorePartition(PartitionTask& task, const std::vector<weir::v1::SnapshotRef>& restore_from);

// The worker's recovery counters, per job:
//   weir_worker_partition_restores_total{job, source}  partitions started from their restore points
//   weir_worker_restore_fallbacks_total{job}            restore points skipped as unreadable
// With a null registry Record does nothing.
class RestoreMetrics {
 public:
  explicit RestoreMetrics(prometheus::Registry* registry);

  void Record(const std::string& job, const RestoreOutcome& outcome);

 private:
  prometheus::Family<prometheus::Counter>* restores_ = nullptr;
  prometheus::Family<prometheus::Counter>* fallbacks_ = nullptr;
};

}  // namespace weir::worker
