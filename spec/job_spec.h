// Job-spec validation, shared by every entry point (weirctl replay, weirctl
// submit, the coordinator's SubmitJob, the engine's plan compiler). No YAML
// here: spec/job_spec_yaml.h parses the text users write.
#pragma once

#include <string>

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

}  // namespace weir
