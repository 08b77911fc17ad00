#include "coordinator/job_store.h"

#include <filesystem>

#include "common/durable_file.h"
#include "common/job_spec.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;
constexpr uint32_t kStateVersion = 1;

std::string StatePath(const std::string& dir) { return dir + "/state.pb"; }

}  // namespace

Result<std::unique_ptr<JobStore>> JobStore::Open(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Internal("cannot create data directory \"" + data_dir + "\": " + ec.message());
  std::unique_ptr<JobStore> store(new JobStore(data_dir));
  auto bytes = ReadWholeFile(StatePath(data_dir));
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) return store;  // a new coordinator
    return bytes.status();
  }
  if (!store->state_.ParseFromString(*bytes)) {
    return DataLoss("coordinator state \"" + StatePath(data_dir) +
                    "\" is corrupt; refusing to start without its jobs (restore it from a backup, or move it away "
                    "to start with no jobs)");
  }
  if (store->state_.version() > kStateVersion) {
    return FailedPrecondition("coordinator state \"" + StatePath(data_dir) + "\" has version " +
                              std::to_string(store->state_.version()) + ", newer than this coordinator (" +
                              std::to_string(kStateVersion) + ")");
  }
  return store;
}

pb::JobRecord* JobStore::Find(const std::string& name) {
  for (pb::JobRecord& job : *state_.mutable_jobs()) {
    if (job.spec().name() == name) return &job;
  }
  return nullptr;
}

Status JobStore::Persist() {
  state_.set_version(kStateVersion);
  std::string bytes;
  if (!state_.SerializeToString(&bytes)) return Internal("cannot serialize the coordinator state");
  return WriteFileDurably(StatePath(data_dir_), bytes);
}

Result<pb::JobRecord> JobStore::Submit(const pb::JobSpec& spec, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(ValidateJobSpec(spec));
  std::lock_guard<std::mutex> lock(mu_);
  pb::JobRecord* job = Find(spec.name());
  if (job != nullptr && job->state() == pb::JOB_STATE_RUNNING) {
    return Status(StatusCode::kAlreadyExists,
                  "job \"" + spec.name() + "\" is already running (cancel it first, or submit under another name)");
  }
  const pb::JobRecord previous = job != nullptr ? *job : pb::JobRecord();
  if (job == nullptr) job = state_.add_jobs();
  job->Clear();
  *job->mutable_spec() = spec;
  job->set_state(pb::JOB_STATE_RUNNING);
  job->set_submitted_at_ms(now_ms);
  // A resubmitted name keeps its epochs, so writers of the old job stay fenced.
  for (const auto& a : previous.assignment()) {
    auto* r = job->add_assignment();
    r->set_partition(a.partition());
    r->set_epoch(a.epoch());
  }
  const pb::JobRecord result = *job;
  Status s = Persist();
  if (!s.ok()) return s;
  return result;
}

std::optional<pb::JobRecord> JobStore::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const pb::JobRecord& job : state_.jobs()) {
    if (job.spec().name() == name) return job;
  }
  return std::nullopt;
}

std::vector<pb::JobRecord> JobStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {state_.jobs().begin(), state_.jobs().end()};
}

Result<pb::JobRecord> JobStore::Cancel(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  pb::JobRecord* job = Find(name);
  if (job == nullptr) return NotFound("no job named \"" + name + "\" (weirctl list shows the jobs)");
  job->set_state(pb::JOB_STATE_CANCELLED);
  for (auto& a : *job->mutable_assignment()) a.clear_worker();
  const pb::JobRecord result = *job;
  WEIR_RETURN_IF_ERROR(Persist());
  return result;
}

Status JobStore::SetAssignment(const std::string& name, int32_t partitions, const Assignment& assignment) {
  std::lock_guard<std::mutex> lock(mu_);
  pb::JobRecord* job = Find(name);
  if (job == nullptr) return NotFound("no job named \"" + name + "\"");
  job->set_partitions(partitions);
  job->clear_assignment();
  for (const auto& [partition, owner] : assignment) {
    auto* r = job->add_assignment();
    r->set_partition(partition);
    r->set_worker(owner.worker);
    r->set_epoch(owner.epoch);
  }
  return Persist();
}

Assignment JobStore::AssignmentOf(const pb::JobRecord& job) {
  Assignment a;
  for (const auto& r : job.assignment()) a[r.partition()] = PartitionOwner{r.worker(), r.epoch()};
  return a;
}

}  // namespace weir::coordinator
