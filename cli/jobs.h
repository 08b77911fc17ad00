// `weirctl submit|list|status|cancel|workers|checkpoint|checkpoints`: the
// job commands, against the coordinator's JobService over gRPC. Tables are
// for people (aligned columns, RFC 3339 times); `status --json` is for
// scripts.
#pragma once

#include <chrono>
#include <cstdint>
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

// Triggers a checkpoint of a job now (or finds the one pending) and prints
// `checkpoint N of JOB triggered`. With `wait`, then polls the job every
// 100 ms until N is committed and prints `checkpoint N of JOB committed`;
// Unavailable when `wait_timeout` passes first or N is abandoned.
// NotFound for an unknown job; FailedPrecondition when the job is not
// running or not every partition has a live owner.
Status JobCheckpoint(const std::string& coordinator, const std::string& name, bool wait, std::ostream& out,
                     std::chrono::milliseconds wait_timeout = std::chrono::seconds(60));

// A job's committed checkpoints, oldest first: ID TRIGGERED COMMITTED
// DURATION SIZE OFFSETS, then the pending one if any; `no committed
// checkpoints` when there are none.
Status JobCheckpoints(const std::string& coordinator, const std::string& name, std::ostream& out);

// "512 B", "12.3 KiB", "4.0 MiB": a byte count for people.
std::string HumanBytes(int64_t bytes);

}  // namespace weir::cli
