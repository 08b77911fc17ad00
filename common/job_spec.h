// Job specs: YAML (as users write them, DESIGN.md Section 2) to the JobSpec
// proto, and the validation every entry point shares (weirctl replay, weirctl
// submit, the coordinator's SubmitJob).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir {

// Parses YAML text into a JobSpec, fills defaults, and validates it. On error
// the message lists every problem found, one per line, each as
// "<path>: <problem>", e.g.
//   features[2].window.sliding.slide: 7m does not divide size 1h
Result<weir::v1::JobSpec> ParseJobSpecYaml(std::string_view yaml);

// Reads `path` and parses it as above. A missing or unreadable file is an
// error naming the path.
Result<weir::v1::JobSpec> LoadJobSpecFile(const std::string& path);

// Checks a spec that may have come from anywhere (YAML or the wire). Enum
// fields left UNSPECIFIED mean their documented default. Same message format
// as ParseJobSpecYaml.
Status ValidateJobSpec(const weir::v1::JobSpec& spec);

}  // namespace weir
