#include "worker/job_catalog.h"

#include <spdlog/spdlog.h>

#include "spec/spec_hash.h"

namespace weir::worker {

HeldJob JobCatalog::Hold(const weir::v1::JobSpec& spec, uint64_t hash) const {
  if (const HeldJob* held = Find(spec.name()); held != nullptr && held->spec_hash == hash) return *held;
  HeldJob job;
  job.spec_hash = hash;
  auto runtime = MakeJobRuntime(spec);
  if (runtime.ok()) {
    job.runtime = *runtime;
  } else {
    job.error = runtime.status().message();
    spdlog::error("job {}: the coordinator's spec does not compile here: {}", spec.name(), job.error);
  }
  return job;
}

void JobCatalog::Update(const weir::v1::HeartbeatResponse& response) {
  std::map<std::string, const weir::v1::JobSpec*> sent;
  for (const weir::v1::JobSpec& spec : response.jobs()) sent[spec.name()] = &spec;
  std::map<std::string, HeldJob> jobs;
  if (response.job_specs_size() == 0) {
    // A coordinator without spec hashes sends every assigned job's spec.
    for (const auto& [name, spec] : sent) jobs[name] = Hold(*spec, SpecHash(*spec));
  } else {
    for (const weir::v1::JobSpecRef& ref : response.job_specs()) {
      const HeldJob* held = Find(ref.job());
      if (held != nullptr && held->spec_hash == ref.spec_hash()) {
        jobs[ref.job()] = *held;
      } else if (auto spec = sent.find(ref.job()); spec != sent.end()) {
        jobs[ref.job()] = Hold(*spec->second, ref.spec_hash());
      }
      // Else not held: the next request does not list it, so the reply sends it.
    }
  }
  jobs_ = std::move(jobs);
}

const HeldJob* JobCatalog::Find(const std::string& job) const {
  auto it = jobs_.find(job);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<weir::v1::JobSpecRef> JobCatalog::Refs() const {
  std::vector<weir::v1::JobSpecRef> refs;
  for (const auto& [name, job] : jobs_) {
    weir::v1::JobSpecRef& ref = refs.emplace_back();
    ref.set_job(name);
    ref.set_spec_hash(job.spec_hash);
  }
  return refs;
}

}  // namespace weir::worker
