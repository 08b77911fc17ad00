// The coordinator's gRPC services over a Coordinator: JobService (weirctl:
// submit, get, list, cancel, workers, trigger a checkpoint, events) and ControlPlane
// (workers: register, heartbeat, leave). Sync gRPC handlers on gRPC's thread pool; the Coordinator is
// thread-safe. Status codes become gRPC codes here and nowhere else.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <grpcpp/impl/codegen/service_type.h>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "daemon/prometheus_fwd.h"
#include "daemon/rpc_metadata.h"

namespace weir {
class Authorizer;
}

namespace weir::coordinator {

// Trailing metadata of SubmitJob and GetJob while a running job's partition
// count is unknown: why (printable ASCII). weirctl shows it. One definition,
// shared with weirctl: daemon/rpc_metadata.h.
using ::weir::kPartitionsPendingKey;

// The coordinator's Prometheus metrics (docs in coordinator/README.md).
// Thread-safe. With a null registry every call does nothing.
class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(prometheus::Registry* registry);

  void CountHeartbeat();
  // Sets the gauges and advances the counters (moves, checkpoints) to
  // `stats`, and observes each commit of `stats.recent_commits` not seen yet
  // (duration histogram and size gauge, per job).
  void Update(const CoordinatorStats& stats);

 private:
  prometheus::Gauge* jobs_running_ = nullptr;
  prometheus::Gauge* jobs_cancelled_ = nullptr;
  prometheus::Gauge* jobs_failed_ = nullptr;
  prometheus::Gauge* workers_alive_ = nullptr;
  prometheus::Gauge* workers_dead_ = nullptr;
  prometheus::Counter* moves_ = nullptr;
  prometheus::Counter* heartbeats_ = nullptr;
  prometheus::Counter* checkpoints_committed_ = nullptr;
  prometheus::Counter* checkpoints_abandoned_ = nullptr;
  prometheus::Gauge* checkpoints_pending_ = nullptr;
  prometheus::Family<prometheus::Histogram>* checkpoint_duration_ = nullptr;  // by job
  prometheus::Family<prometheus::Gauge>* checkpoint_size_ = nullptr;          // by job
  std::mutex counters_mu_;    // serializes catching the counters and commits up
  int64_t commits_seen_ = 0;  // guarded by counters_mu_: the last CommittedCheckpoint::seq observed
};

struct CoordinatorServices {
  std::unique_ptr<grpc::Service> jobs;     // weir.v1.JobService
  std::unique_ptr<grpc::Service> control;  // weir.v1.ControlPlane
};

// Milliseconds since the Unix epoch; the wall clock unless a test swaps it.
using Clock = std::function<int64_t()>;

// Builds both services. `coordinator` and `metrics` must outlive them; the
// metrics are refreshed after every call that changes the coordinator. With
// an `authorizer` (which must outlive them too) each method checks its role:
// SubmitJob, CancelJob and TriggerCheckpoint need `admin`; GetJob, ListJobs,
// ListWorkers and ListEvents `admin` or `reader`; the ControlPlane `worker`.
CoordinatorServices MakeCoordinatorServices(Coordinator* coordinator, CoordinatorMetrics* metrics,
                                            Clock clock = weir::WallClockMs, const Authorizer* authorizer = nullptr);

}  // namespace weir::coordinator
