// Job specs as users write them (YAML, docs/job-spec.md) to the JobSpec
// proto. The only user of yaml-cpp in Weir (target weir::spec_yaml).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "weir/v1/job.pb.h"

namespace weir {

// Parses YAML text into a JobSpec, fills defaults, and validates it
// (ValidateJobSpec's rules and message format).
Result<weir::v1::JobSpec> ParseJobSpecYaml(std::string_view yaml);

// Reads `path` and parses it as above. A missing or unreadable file is an
// error naming the path.
Result<weir::v1::JobSpec> LoadJobSpecFile(const std::string& path);

}  // namespace weir
