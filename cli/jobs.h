// `weirctl submit|list|status|cancel|workers`: the job commands, against the
// coordinator's JobService over gRPC. Tables are for people (aligned
// columns, RFC 3339 times); `status --json` is for scripts.
#pragma once

#include <iosfwd>
#include <string>

#include "common/status.h"

namespace weir::cli {

// Reads and validates a job spec (errors name the file and the paths in it:
// InvalidArgument, NotFound for a missing file), submits it, and prints
// `submitted NAME (N partitions)` or `submitted NAME (partitions pending: REASON)`.
Status JobSubmit(const std::string& coordinator, const std::string& job_path, std::ostream& out);

// One line per job: NAME STATE PARTITIONS SUBMITTED VIEW TOPIC.
Status JobList(const std::string& coordinator, std::ostream& out);

// A job's header lines and one row per partition; with `json`, the JobInfo
// as one line of JSON (proto field names, every field printed).
Status JobStatus(const std::string& coordinator, const std::string& name, bool json, std::ostream& out);

// Cancels a job and prints `cancelled NAME`.
Status JobCancel(const std::string& coordinator, const std::string& name, std::ostream& out);

// One line per worker: ID ALIVE LAST-HEARTBEAT PARTITIONS.
Status WorkerList(const std::string& coordinator, std::ostream& out);

}  // namespace weir::cli
