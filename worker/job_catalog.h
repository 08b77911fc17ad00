// JobCatalog: the job specs this worker holds, each under the coordinator's
// hash of it, with the plan compiled from it (or why it does not compile).
//
// Heartbeats carry the held jobs (job + hash) to the coordinator, whose reply
// lists the spec hash of every job it assigns here (`job_specs`) and sends a
// full spec only for a job the worker lacks at that hash. A coordinator that
// sends every spec every time (no `job_specs`) works too: the specs it sends
// are the jobs, compiled only when new or changed.
//
// Thread: the control loop's.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "weir/v1/services.pb.h"
#include "worker/job_runtime.h"

namespace weir::worker {

struct HeldJob {
  uint64_t spec_hash = 0;                     // the coordinator's, or SpecHash(spec) when it sent none
  std::shared_ptr<const JobRuntime> runtime;  // null when the spec does not compile here
  std::string error;                          // with a null runtime: why, for a user
};

class JobCatalog {
 public:
  // Follows a heartbeat reply: keeps the jobs it lists, compiling each spec
  // that is new or changed; forgets the others.
  void Update(const weir::v1::HeartbeatResponse& response);
  // Null when the job is not held (not assigned, or its spec not received).
  const HeldJob* Find(const std::string& job) const;
  // The held jobs, for the next heartbeat request.
  std::vector<weir::v1::JobSpecRef> Refs() const;

 private:
  // Compiles `spec` held under `hash`, unless it is already held so.
  HeldJob Hold(const weir::v1::JobSpec& spec, uint64_t hash) const;

  std::map<std::string, HeldJob> jobs_;
};

}  // namespace weir::worker
