// JobStore: the coordinator's jobs and their partition assignments, kept
// durable in its data directory (DESIGN.md Section 4: "a restarted
// coordinator carries on with the same jobs").
//
// Every change is written whole to `state.pb` the durable way: a temporary
// file, fsync, rename over the old one, fsync of the directory. So a crash
// leaves either the old state or the new one, never a torn file.
//
// Thread-safe: one mutex guards the state (gRPC handlers and the
// coordinator's timers call in concurrently).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/assignment.h"
#include "weir/v1/coordinator_state.pb.h"

namespace weir::coordinator {

class JobStore {
 public:
  // Loads `data_dir`/state.pb, or starts empty when there is none (creating
  // the directory). A corrupt file is an error naming it: the coordinator
  // does not start from empty over existing jobs.
  static Result<std::unique_ptr<JobStore>> Open(const std::string& data_dir);

  // Adds a running job. The spec must be valid (ValidateJobSpec); a running
  // job of the same name is AlreadyExists. A cancelled job's name may be reused.
  Result<weir::v1::JobRecord> Submit(const weir::v1::JobSpec& spec, int64_t now_ms);
  std::optional<weir::v1::JobRecord> Get(const std::string& name) const;
  std::vector<weir::v1::JobRecord> List() const;
  // Marks a job cancelled and unassigns its partitions. NotFound if unknown.
  Result<weir::v1::JobRecord> Cancel(const std::string& name);
  // Records the topic's partition count and the job's assignment.
  Status SetAssignment(const std::string& name, int32_t partitions, const Assignment& assignment);

  // The assignment of a job as stored.
  static Assignment AssignmentOf(const weir::v1::JobRecord& job);

 private:
  explicit JobStore(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  weir::v1::JobRecord* Find(const std::string& name);  // REQUIRES: mu_ held
  Status Persist();                                    // REQUIRES: mu_ held

  const std::string data_dir_;
  mutable std::mutex mu_;
  weir::v1::CoordinatorState state_;  // guarded by mu_
};

}  // namespace weir::coordinator
