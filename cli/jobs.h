// `weirctl submit|list|status|cancel|workers|checkpoint|checkpoints|events`:
// the job commands, against the coordinator's JobService over gRPC. Tables
// are for people (aligned columns, RFC 3339 times); `--json` is for scripts.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
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

// A job's header lines and one row per partition (PARTITION OWNER EPOCH
// STATE OFFSET WATERMARK LAG RECORDS ROWS DEAD, and REASON when a partition
// has one); with `json`, the JobInfo as one line of JSON (proto field names,
// every field printed).
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

struct EventsOptions {
  std::string job;  // empty: every job's events and the cluster's own
  bool follow = false;
  bool json = false;
  std::chrono::milliseconds poll_interval{500};  // between two polls with --follow
  // With `follow`, checked after each poll: true ends the command (tests).
  // weirctl sets none and follows until interrupted.
  std::function<bool()> stop;
};

// The cluster event log, oldest first, one line per event: its time (RFC
// 3339 UTC with ms), kind (`worker-registered`, ...), `job/partition` (`job`
// for a job's event, `-` for a worker's) and message; `no events` when there
// are none. With `json`, each event as one line of JSON (weir.v1.ClusterEvent,
// proto field names). With `follow`, then polls every `poll_interval` for
// newer events (ListEvents after the last seq seen), riding out a
// coordinator that restarts, until `stop`.
Status EventList(const std::string& coordinator, const EventsOptions& options, std::ostream& out);

// "512 B", "12.3 KiB", "4.0 MiB": a byte count for people.
std::string HumanBytes(int64_t bytes);

}  // namespace weir::cli
