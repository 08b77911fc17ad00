// JobRuntime: what every partition task of one job shares, built once per job
// spec the coordinator hands out: the spec, its compiled plan, and the names
// rows and dead letters carry.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "engine/plan.h"
#include "weir/v1/job.pb.h"

namespace weir::worker {

struct JobRuntime {
  weir::v1::JobSpec spec;
  std::shared_ptr<const engine::JobPlan> plan;
  std::string dead_letter_topic;  // spec's, or "<job>.dlq"
  std::string sink_address;       // spec.sink.feature_store
  std::string checkpoint_root;    // the directory of spec.checkpoint.storage
  // SpecHash(spec) (spec/spec_hash.h): a resubmitted job with a different
  // spec restarts its partitions.
  uint64_t spec_hash = 0;
};

// Compiles `spec` (validating it again: the coordinator's view of valid could
// be older than this worker's).
Result<std::shared_ptr<const JobRuntime>> MakeJobRuntime(const weir::v1::JobSpec& spec);

}  // namespace weir::worker
