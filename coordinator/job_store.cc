#include "coordinator/job_store.h"

#include <algorithm>
#include <filesystem>

#include "common/durable_file.h"
#include "spec/job_spec.h"

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
  // A resubmitted name keeps its epochs, so writers of the old job stay
  // fenced, and its last checkpoint id, so no id is handed out twice. Its
  // checkpoints and handoffs are the old job's state: not carried over.
  for (const auto& a : previous.assignment()) {
    auto* r = job->add_assignment();
    r->set_partition(a.partition());
    r->set_epoch(a.epoch());
  }
  job->set_last_triggered_checkpoint(previous.last_triggered_checkpoint());
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

std::map<int32_t, pb::SnapshotRef> JobStore::HandoffsOf(const pb::JobRecord& job) {
  std::map<int32_t, pb::SnapshotRef> handoffs;
  const int n = std::min(job.handoffs_size(), job.handoff_partitions_size());
  for (int i = 0; i < n; ++i) handoffs[job.handoff_partitions(i)] = job.handoffs(i);
  return handoffs;
}

Result<pb::JobRecord*> JobStore::FindRunning(const std::string& name) {
  pb::JobRecord* job = Find(name);
  if (job == nullptr) return NotFound("no job named \"" + name + "\" (weirctl list shows the jobs)");
  if (job->state() != pb::JOB_STATE_RUNNING) {
    return FailedPrecondition("job \"" + name + "\" is not running");
  }
  return job;
}

Status JobStore::PersistOrRestore(pb::JobRecord* job, const pb::JobRecord& before) {
  Status s = Persist();
  if (!s.ok()) *job = before;
  return s;
}

Result<CheckpointId> JobStore::NextCheckpointId(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto job = FindRunning(name);
  if (!job.ok()) return job.status();
  const pb::JobRecord before = **job;
  const uint64_t id = before.last_triggered_checkpoint() + 1;
  (*job)->set_last_triggered_checkpoint(id);
  WEIR_RETURN_IF_ERROR(PersistOrRestore(*job, before));
  return CheckpointId(id);
}

Result<JobStore::CommitOutcome> JobStore::CommitCheckpoint(const std::string& name, const pb::CheckpointInfo& info,
                                                           size_t keep) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = FindRunning(name);
  if (!found.ok()) return found.status();
  pb::JobRecord* job = *found;
  if (info.id() <= job->latest_checkpoint()) {
    return FailedPrecondition("checkpoint " + std::to_string(info.id()) + " of job \"" + name +
                              "\" is not newer than its latest, " + std::to_string(job->latest_checkpoint()));
  }
  const pb::JobRecord before = *job;
  CommitOutcome outcome;
  *job->add_checkpoints() = info;
  job->set_latest_checkpoint(info.id());
  const int drop = job->checkpoints_size() - static_cast<int>(std::max<size_t>(keep, 1));
  if (drop > 0) {
    outcome.pruned.assign(job->checkpoints().begin(), job->checkpoints().begin() + drop);
    job->mutable_checkpoints()->DeleteSubrange(0, drop);
  }
  outcome.handoffs.assign(job->handoffs().begin(), job->handoffs().end());
  job->clear_handoffs();
  job->clear_handoff_partitions();
  WEIR_RETURN_IF_ERROR(PersistOrRestore(job, before));
  return outcome;
}

Result<std::vector<pb::SnapshotRef>> JobStore::RecordHandoffs(
    const std::string& name, const std::vector<std::pair<int32_t, pb::SnapshotRef>>& handoffs) {
  std::lock_guard<std::mutex> lock(mu_);
  auto found = FindRunning(name);
  if (!found.ok()) return found.status();
  pb::JobRecord* job = *found;
  const pb::JobRecord before = *job;
  std::map<int32_t, pb::SnapshotRef> by_partition = HandoffsOf(*job);
  std::vector<pb::SnapshotRef> replaced;
  for (const auto& [partition, ref] : handoffs) {
    auto [it, added] = by_partition.try_emplace(partition, ref);
    if (added) continue;
    if (it->second.path() != ref.path()) replaced.push_back(it->second);
    it->second = ref;
  }
  job->clear_handoffs();
  job->clear_handoff_partitions();
  for (const auto& [partition, ref] : by_partition) {
    job->add_handoff_partitions(partition);
    *job->add_handoffs() = ref;
  }
  WEIR_RETURN_IF_ERROR(PersistOrRestore(job, before));
  return replaced;
}

}  // namespace weir::coordinator
