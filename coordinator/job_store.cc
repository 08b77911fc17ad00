#include "coordinator/job_store.h"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/durable_file.h"
#include "spec/job_spec.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;
constexpr uint32_t kStateVersion = 1;

std::string StatePath(const std::string& dir) { return dir + "/state.pb"; }

std::string UnknownJob(const std::string& name) {
  return "no job named \"" + name + "\" (weirctl list shows the jobs)";
}

}  // namespace

JobStore::JobStore(const std::string& data_dir, FileWriter writer)
    : state_file_(std::make_unique<StateFile>(StatePath(data_dir), std::move(writer), 0)) {}

Result<std::unique_ptr<JobStore>> JobStore::Open(const std::string& data_dir, FileWriter writer) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Internal("cannot create data directory \"" + data_dir + "\": " + ec.message());
  std::unique_ptr<JobStore> store(new JobStore(data_dir, std::move(writer)));
  auto bytes = ReadWholeFile(StatePath(data_dir));
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) return store;  // a new coordinator
    return bytes.status();
  }
  auto payload = UnsealState(*bytes, StatePath(data_dir));
  if (!payload.ok()) return payload.status();
  if (!store->state_.ParseFromString(std::string(*payload))) {
    return DataLoss("coordinator state \"" + StatePath(data_dir) +
                    "\" is corrupt; refusing to start without its jobs (restore it from a backup, or move it away "
                    "to start with no jobs)");
  }
  if (store->state_.version() > kStateVersion) {
    return FailedPrecondition("coordinator state \"" + StatePath(data_dir) + "\" has version " +
                              std::to_string(store->state_.version()) + ", newer than this coordinator (" +
                              std::to_string(kStateVersion) + ")");
  }
  for (int i = 0; i < store->state_.jobs_size(); ++i) {
    store->by_name_[store->state_.jobs(i).spec().name()] = i;
    store->IndexOwners(store->state_.jobs(i));
  }
  return store;
}

void JobStore::Changed() {
  ++version_;
  state_.set_version(kStateVersion);
  std::string bytes;
  if (!state_.SerializeToString(&bytes)) {
    // Never for a state under 2 GiB; Sync then reports that this version was never offered.
    spdlog::error("cannot serialize the coordinator state (version {})", version_);
    return;
  }
  state_file_->Offer(version_, SealState(bytes));
}

void JobStore::IndexOwners(const pb::JobRecord& job) {
  const std::string& name = job.spec().name();
  for (auto it = owned_.begin(); it != owned_.end();) {
    std::set<JobPartition>& parts = it->second;
    parts.erase(parts.lower_bound(JobPartition{name, PartitionId(INT32_MIN)}),
                parts.upper_bound(JobPartition{name, PartitionId(INT32_MAX)}));
    it = parts.empty() ? owned_.erase(it) : std::next(it);
  }
  for (const auto& a : job.assignment()) {
    if (!a.worker().empty()) owned_[a.worker()].insert(JobPartition{name, PartitionId(a.partition())});
  }
}

const pb::JobRecord* JobStore::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &state_.jobs(it->second);
}

pb::JobRecord* JobStore::FindMutable(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : state_.mutable_jobs(it->second);
}

Result<pb::JobRecord> JobStore::Submit(const pb::JobSpec& spec, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(ValidateJobSpec(spec));
  pb::JobRecord* job = FindMutable(spec.name());
  if (job != nullptr && job->state() == pb::JOB_STATE_RUNNING) {
    return AlreadyExists("job \"" + spec.name() +
                         "\" is already running (cancel it first, or submit under another name)");
  }
  const pb::JobRecord previous = job != nullptr ? *job : pb::JobRecord();
  if (job == nullptr) {
    by_name_[spec.name()] = state_.jobs_size();
    job = state_.add_jobs();
  }
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
  IndexOwners(*job);
  Changed();
  return *job;
}

std::optional<pb::JobRecord> JobStore::Get(const std::string& name) const {
  const pb::JobRecord* job = Find(name);
  if (job == nullptr) return std::nullopt;
  return *job;
}

std::vector<pb::JobRecord> JobStore::List() const { return {state_.jobs().begin(), state_.jobs().end()}; }

Result<pb::JobRecord> JobStore::Cancel(const std::string& name) {
  pb::JobRecord* job = FindMutable(name);
  if (job == nullptr) return NotFound(UnknownJob(name));
  job->set_state(pb::JOB_STATE_CANCELLED);
  for (auto& a : *job->mutable_assignment()) a.clear_worker();
  IndexOwners(*job);
  Changed();
  return *job;
}

Status JobStore::SetSourcePartitions(const std::string& name, int32_t source_partitions) {
  pb::JobRecord* job = FindMutable(name);
  if (job == nullptr) return NotFound("no job named \"" + name + "\"");
  if (job->source_partitions() == source_partitions) return Status::Ok();
  job->set_source_partitions(source_partitions);
  Changed();
  return Status::Ok();
}

Status JobStore::SetAssignment(const std::string& name, int32_t partitions, const Assignment& assignment) {
  pb::JobRecord* job = FindMutable(name);
  if (job == nullptr) return NotFound("no job named \"" + name + "\"");
  job->set_partitions(partitions);
  job->clear_assignment();
  for (const auto& [partition, owner] : assignment) {
    auto* r = job->add_assignment();
    r->set_partition(partition.value());
    r->set_worker(owner.worker);
    r->set_epoch(owner.epoch.value());
  }
  IndexOwners(*job);
  Changed();
  return Status::Ok();
}

std::optional<PartitionOwner> JobStore::Owner(const std::string& job, PartitionId partition) const {
  const pb::JobRecord* record = Find(job);
  if (record == nullptr) return std::nullopt;
  const int p = partition.value();
  // SetAssignment writes partitions in order, so partition p is usually entry p.
  if (p >= 0 && p < record->assignment_size() && record->assignment(p).partition() == p) {
    return PartitionOwner{record->assignment(p).worker(), Epoch(record->assignment(p).epoch())};
  }
  for (const auto& a : record->assignment()) {
    if (a.partition() == p) return PartitionOwner{a.worker(), Epoch(a.epoch())};
  }
  return std::nullopt;
}

const std::set<JobPartition>& JobStore::OwnedBy(const std::string& worker) const {
  static const std::set<JobPartition> kNone;
  auto it = owned_.find(worker);
  return it == owned_.end() ? kNone : it->second;
}

Assignment JobStore::AssignmentOf(const pb::JobRecord& job) {
  Assignment a;
  for (const auto& r : job.assignment()) a[PartitionId(r.partition())] = PartitionOwner{r.worker(), Epoch(r.epoch())};
  return a;
}

std::map<PartitionId, pb::SnapshotRef> JobStore::HandoffsOf(const pb::JobRecord& job) {
  std::map<PartitionId, pb::SnapshotRef> handoffs;
  const int n = std::min(job.handoffs_size(), job.handoff_partitions_size());
  for (int i = 0; i < n; ++i) handoffs[PartitionId(job.handoff_partitions(i))] = job.handoffs(i);
  return handoffs;
}

Result<pb::JobRecord*> JobStore::FindRunning(const std::string& name) {
  pb::JobRecord* job = FindMutable(name);
  if (job == nullptr) return NotFound(UnknownJob(name));
  if (job->state() != pb::JOB_STATE_RUNNING) {
    return FailedPrecondition("job \"" + name + "\" is not running");
  }
  return job;
}

Result<CheckpointId> JobStore::NextCheckpointId(const std::string& name) {
  auto job = FindRunning(name);
  if (!job.ok()) return job.status();
  const uint64_t id = (*job)->last_triggered_checkpoint() + 1;
  (*job)->set_last_triggered_checkpoint(id);
  Changed();
  return CheckpointId(id);
}

Result<JobStore::CommitOutcome> JobStore::CommitCheckpoint(const std::string& name, const pb::CheckpointInfo& info,
                                                           size_t keep) {
  auto found = FindRunning(name);
  if (!found.ok()) return found.status();
  pb::JobRecord* job = *found;
  if (info.id() <= job->latest_checkpoint()) {
    return FailedPrecondition("checkpoint " + std::to_string(info.id()) + " of job \"" + name +
                              "\" is not newer than its latest, " + std::to_string(job->latest_checkpoint()));
  }
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
  Changed();
  return outcome;
}

Result<std::vector<pb::SnapshotRef>> JobStore::RecordHandoffs(
    const std::string& name, const std::vector<std::pair<PartitionId, pb::SnapshotRef>>& handoffs) {
  auto found = FindRunning(name);
  if (!found.ok()) return found.status();
  pb::JobRecord* job = *found;
  std::map<PartitionId, pb::SnapshotRef> by_partition = HandoffsOf(*job);
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
    job->add_handoff_partitions(partition.value());
    *job->add_handoffs() = ref;
  }
  Changed();
  return replaced;
}

}  // namespace weir::coordinator
