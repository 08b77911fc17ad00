// WorkerMetrics: the worker's Prometheus series. Per-partition series
// (records, rows, dead letters by reason, watermark, lag, state) follow the
// assigned partitions: Sync() creates the series of a new partition, advances
// them from its cumulative PartitionCounters, and removes those of partitions
// no longer assigned. A partition restarted at a new epoch (new counters)
// counts from zero.
//
// Thread: the control loop's (Sync); the worker-wide counters are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/prometheus_fwd.h"
#include "worker/partition_counters.h"
#include "worker/partition_restore.h"

namespace weir::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);
  ~WorkerMetrics();

  // Brings the per-partition series in line with `partitions` (every assigned one).
  void Sync(const std::vector<std::shared_ptr<PartitionCounters>>& partitions);

  prometheus::Family<prometheus::Histogram>& row_latency;  // by job
  prometheus::Counter& sink_retries;
  prometheus::Counter& fenced_batches;
  prometheus::Counter& sink_refused_rows;
  prometheus::Counter& sink_dropped_rows;
  prometheus::Counter& dead_letters_truncated;
  prometheus::Counter& dead_letter_delivery_errors;
  prometheus::Family<prometheus::Gauge>& pending_bytes;  // by store
  prometheus::Counter& heartbeat_failures;
  prometheus::Counter& checkpoint_failures;
  RestoreMetrics restores;

 private:
  struct PartitionSeries {
    // The counters the last_* figures came from; weak, so a new partition's
    // counters never reuse their address while the series lives.
    std::weak_ptr<const PartitionCounters> counters;
    prometheus::Counter* records_in = nullptr;
    prometheus::Counter* rows_out = nullptr;
    prometheus::Counter* skipped = nullptr;
    // Re-keyed jobs: stage 1's records and bytes written to the repartition
    // topic, stage 2's copies dropped.
    prometheus::Counter* shuffled = nullptr;
    prometheus::Counter* shuffled_bytes = nullptr;
    prometheus::Counter* duplicates = nullptr;
    std::array<prometheus::Counter*, engine::kDeadLetterReasons> dead_letters{};
    prometheus::Gauge* watermark = nullptr;
    prometheus::Gauge* lag = nullptr;
    prometheus::Gauge* keys = nullptr;
    prometheus::Gauge* state_bytes = nullptr;
    std::array<prometheus::Gauge*, kPartitionStates.size()> state{};  // by kPartitionStates
    int64_t last_records_in = 0, last_rows_out = 0, last_skipped = 0;
    int64_t last_shuffled = 0, last_shuffled_bytes = 0, last_duplicates = 0;
    std::array<int64_t, engine::kDeadLetterReasons> last_dead{};
  };
  using Key = std::pair<std::string, PartitionId>;

  PartitionSeries& SeriesFor(const PartitionCounters& c);
  void Update(const std::shared_ptr<PartitionCounters>& counters);
  void Remove(std::map<Key, PartitionSeries>::iterator it);

  prometheus::Family<prometheus::Counter>& records_in_;
  prometheus::Family<prometheus::Counter>& rows_out_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Family<prometheus::Counter>& shuffled_;
  prometheus::Family<prometheus::Counter>& shuffled_bytes_;
  prometheus::Family<prometheus::Counter>& duplicates_;
  prometheus::Family<prometheus::Gauge>& watermark_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& keys_;
  prometheus::Family<prometheus::Gauge>& state_bytes_;
  prometheus::Family<prometheus::Gauge>& state_;
  prometheus::Gauge& partitions_;
  std::map<Key, PartitionSeries> series_;
};

}  // namespace weir::worker
