// Job-spec validation, shared by every entry point (weirctl replay, weirctl
// submit, the coordinator's SubmitJob, the engine's plan compiler). No YAML
// here: spec/job_spec_yaml.h parses the text users write.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir {

// Checks a spec that may have come from anywhere (YAML or the wire). Enum
// fields left UNSPECIFIED mean their documented default. On error the message
// lists every problem found, one per line, each as "<path>: <problem>", e.g.
//   features[2].window.sliding.slide: 7m does not divide size 1h
Status ValidateJobSpec(const weir::v1::JobSpec& spec);

// Where a job's dead letters go: source.kafka.dead_letter_topic, or
// "<name>.dlq" when it is not given.
inline std::string DeadLetterTopicOf(const weir::v1::JobSpec& spec) {
  const std::string& given = spec.source().kafka().dead_letter_topic();
  return given.empty() ? spec.name() + ".dlq" : given;
}

// source.partitioned_by's value for a topic partitioned by the message key.
inline constexpr std::string_view kPartitionedByKafkaKey = "kafka_key";
// The largest repartition topic a spec may ask for.
inline constexpr int32_t kMaxRepartitionPartitions = 10000;

// Whether the job is re-keyed: its topic is partitioned by something other
// than `key` (source.partitioned_by), so records go through the repartition
// topic first (docs/semantics.md, "Re-keyed jobs").
inline bool IsRekeyed(const weir::v1::JobSpec& spec) {
  const std::string& by = spec.source().partitioned_by();
  return !by.empty() && by != spec.key();
}

// The repartition topic of a re-keyed job, created by the coordinator.
inline std::string RepartitionTopicOf(const weir::v1::JobSpec& spec) { return "weir." + spec.name() + ".repartition"; }

}  // namespace weir
