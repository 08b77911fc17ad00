// JobRuntime: what every partition task of one job shares, built once per job
// spec the coordinator hands out: the spec, its compiled plan, and the names
// rows and dead letters carry.
#pragma once

#include <cstdint>
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
  // A re-keyed job (spec/job_spec.h IsRekeyed): the same job reading its
  // repartition topic (spec.source.kafka.topic is "weir.<job>.repartition"),
  // for stage 2's source; null otherwise.
  std::shared_ptr<const JobRuntime> repartition;
  // This runtime reads a repartition topic: its source parses the headers
  // stage 1 writes (engine/rekey_merge.h).
  bool reads_repartition = false;
};

// How a re-keyed job's partitions split into stages (the coordinator's
// Assignment.source_partitions and .repartition_partitions): partitions
// [0, sources) re-key source partition p (stage 1); partitions
// [sources, sources + repartitions) run the engine on repartition partition
// p - sources (stage 2). All zero for a job that is not re-keyed.
struct RekeyLayout {
  int32_t sources = 0;
  int32_t repartitions = 0;
  bool rekeyed() const { return sources > 0 && repartitions > 0; }
  // 0: not re-keyed; else the stage of `partition` (1 or 2).
  int stage(int32_t partition) const { return !rekeyed() ? 0 : partition < sources ? 1 : 2; }
};

// Compiles `spec` (validating it again: the coordinator's view of valid could
// be older than this worker's).
Result<std::shared_ptr<const JobRuntime>> MakeJobRuntime(const weir::v1::JobSpec& spec);

}  // namespace weir::worker
