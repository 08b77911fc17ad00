#include "coordinator/checkpoint_coordinator.h"

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/checkpoint_paths.h"
#include "coordinator/cluster_events.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

// Whether `path` lies inside directory `dir` (lexically: a worker-supplied
// path is never trusted to point somewhere it may be deleted from).
bool IsUnder(const std::string& path, const std::string& dir) {
  const std::string p = std::filesystem::path(path).lexically_normal().string();
  std::string d = std::filesystem::path(dir).lexically_normal().string();
  if (!d.ends_with('/')) d += '/';
  return p.size() > d.size() && p.starts_with(d);
}

bool IsHandoffFile(const std::string& root, const std::string& job, const pb::SnapshotRef& ref) {
  return !ref.path().empty() &&
         IsUnder(ref.path(), std::filesystem::path(HandoffPath(root, job, 0, 0)).parent_path().string());
}

// Deletes the `chk-<id>` directories of a job below checkpoint `below` that
// are not retained: pruned ones, abandoned ones, those of a checkpoint that
// was pending when the coordinator stopped. None of them can be restored
// from (only committed, retained checkpoints are), and ids are never reused.
void SweepCheckpointDirs(const std::string& root, const std::string& job, const std::set<uint64_t>& retained,
                         uint64_t below) {
  std::error_code ec;
  std::filesystem::directory_iterator it(JobCheckpointsDir(root, job), ec);
  if (ec) return;
  std::vector<std::string> stale;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!name.starts_with("chk-")) continue;
    uint64_t id = 0;
    const char* first = name.data() + 4;
    const char* last = name.data() + name.size();
    auto [end, err] = std::from_chars(first, last, id);
    if (err != std::errc() || end != last || first == last) continue;
    if (id < below && retained.count(id) == 0) stale.push_back(it->path().string());
  }
  CheckpointCoordinator::RemoveFiles(stale, "stale checkpoint directory");
}

// "0, 3, 5" (the first 16, then "... (N in all)").
std::string PartitionList(const std::vector<int32_t>& partitions) {
  constexpr size_t kShown = 16;
  std::string out;
  for (size_t i = 0; i < partitions.size() && i < kShown; ++i) {
    out += (i > 0 ? ", " : "") + std::to_string(partitions[i]);
  }
  if (partitions.size() > kShown) out += ", ... (" + std::to_string(partitions.size()) + " in all)";
  return out;
}

}  // namespace

void CheckpointCoordinator::StartJob(const std::string& job, int64_t now_ms) {
  jobs_[job] = JobCheckpoints{now_ms, std::nullopt};
}

void CheckpointCoordinator::StopJob(const std::string& job, int64_t now_ms) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  if (it->second.pending.has_value()) {
    events_->Append(events::CheckpointAbandoned(job, it->second.pending->id, "the job was cancelled"), now_ms);
  }
  jobs_.erase(it);
}

std::optional<CheckpointId> CheckpointCoordinator::Pending(const std::string& job) const {
  auto it = jobs_.find(job);
  if (it == jobs_.end() || !it->second.pending.has_value()) return std::nullopt;
  return it->second.pending->id;
}

int64_t CheckpointCoordinator::pending_count() const {
  int64_t n = 0;
  for (const auto& [name, c] : jobs_) n += c.pending.has_value() ? 1 : 0;
  return n;
}

Status CheckpointCoordinator::CanCheckpoint(const pb::JobRecord& job, const WorkerRegistry& workers,
                                            const PartitionReports& reports) {
  const std::string& name = job.spec().name();
  if (job.state() != pb::JOB_STATE_RUNNING) {
    return FailedPrecondition("job \"" + name + "\" is not running; only a running job takes checkpoints");
  }
  if (job.partitions() <= 0) {
    return FailedPrecondition("job \"" + name +
                              "\" has no known partitions yet (weirctl status says why); try again once it has");
  }
  const Assignment assignment = JobStore::AssignmentOf(job);
  for (int32_t p = 0; p < job.partitions(); ++p) {
    auto owner = assignment.find(PartitionId(p));
    if (owner == assignment.end() || owner->second.worker.empty()) {
      return FailedPrecondition("job \"" + name + "\" partition " + std::to_string(p) +
                                " has no owner (is a worker running? weirctl workers lists them)");
    }
    if (!workers.IsLive(owner->second.worker)) {
      return FailedPrecondition("job \"" + name + "\" partition " + std::to_string(p) + " is owned by worker " +
                                owner->second.worker + ", which is not live; try again once it has moved");
    }
    if (auto why = reports.FailedReason(name, PartitionId(p), owner->second)) {
      return FailedPrecondition("job \"" + name + "\" partition " + std::to_string(p) + " is failed (" + *why +
                                "); checkpoints resume once it runs again (weirctl events shows when)");
    }
  }
  return Status::Ok();
}

Result<CheckpointId> CheckpointCoordinator::Trigger(JobStore& store, const std::string& job,
                                                    const WorkerRegistry& workers, const PartitionReports& reports,
                                                    int64_t now_ms) {
  const pb::JobRecord* record = store.Find(job);
  if (record == nullptr) return NotFound("no job named \"" + job + "\" (weirctl list shows the jobs)");
  if (auto pending = Pending(job); pending.has_value()) return *pending;
  WEIR_RETURN_IF_ERROR(CanCheckpoint(*record, workers, reports));
  return Start(store, job, now_ms);
}

Result<CheckpointId> CheckpointCoordinator::Start(JobStore& store, const std::string& job, int64_t now_ms) {
  const pb::JobRecord* record = store.Find(job);
  if (record == nullptr) return NotFound("no job named \"" + job + "\"");
  auto root = CheckpointRoot(record->spec().checkpoint().storage());
  if (!root.ok()) return root.status();
  auto id = store.NextCheckpointId(job);
  if (!id.ok()) return id.status();
  JobCheckpoints& c = jobs_[job];
  c.last_trigger_ms = now_ms;
  c.pending = PendingCheckpoint{*id, now_ms, {}, false};
  spdlog::info("job {}: checkpoint {} triggered", job, id->value());
  return *id;
}

void CheckpointCoordinator::Check(JobStore& store, const WorkerRegistry& workers, const PartitionReports& reports,
                                  int64_t now_ms) {
  for (const pb::JobRecord& job : store.jobs()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    const std::string& name = job.spec().name();
    const int64_t interval = job.spec().checkpoint().interval_ms();
    auto [it, added] = jobs_.try_emplace(name);
    JobCheckpoints& c = it->second;
    if (added) c.last_trigger_ms = now_ms;
    if (c.pending.has_value()) {
      int64_t timeout = kMaxTime;
      if (__builtin_mul_overflow(interval, policy_.timeout_intervals, &timeout)) timeout = kMaxTime;
      timeout = std::max(timeout, policy_.min_timeout_ms);
      if (SaturatingSub(now_ms, c.pending->triggered_at_ms) <= timeout) continue;
      std::vector<int32_t> missing;
      for (int32_t p = 0; p < job.partitions(); ++p) {
        if (c.pending->refs.count(PartitionId(p)) == 0) missing.push_back(p);
      }
      const std::string why = missing.empty() ? "its commit did not finish within " + std::to_string(timeout) + " ms"
                                              : "no acknowledgement from partitions " + PartitionList(missing) +
                                                    " within " + std::to_string(timeout) + " ms";
      Abandon(name, why, now_ms);
      continue;
    }
    if (interval <= 0 || SaturatingSub(now_ms, c.last_trigger_ms) < interval) continue;
    if (!CanCheckpoint(job, workers, reports).ok()) continue;  // retried on every check; weirctl checkpoint says why
    if (auto id = Start(store, name, now_ms); !id.ok()) {
      spdlog::error("job {}: cannot trigger a checkpoint (retrying in {} ms): {}", name, interval,
                    id.status().message());
      jobs_[name].last_trigger_ms = now_ms;
    }
  }
}

bool CheckpointCoordinator::Acknowledge(const pb::JobRecord& job, const std::optional<PartitionOwner>& owner,
                                        const std::string& worker, const pb::PartitionStatus& status) {
  const pb::SnapshotRef& snapshot = status.snapshot();
  if (snapshot.checkpoint() == 0 || snapshot.path().empty()) return false;
  auto it = jobs_.find(job.spec().name());
  if (it == jobs_.end() || !it->second.pending.has_value()) return false;
  PendingCheckpoint& pending = *it->second.pending;
  if (CheckpointId(snapshot.checkpoint()) != pending.id) return false;
  if (status.partition() < 0 || status.partition() >= job.partitions() || !owner.has_value()) return false;
  if (owner->worker != worker || owner->epoch != Epoch(status.epoch())) {
    spdlog::debug(
        "job {}: acknowledgement of checkpoint {} partition {} from {} at epoch {} ignored (owner {} at "
        "epoch {})",
        job.spec().name(), pending.id.value(), status.partition(), worker, status.epoch(), owner->worker,
        owner->epoch.value());
    return false;
  }
  pending.refs[PartitionId(status.partition())] = snapshot;
  return true;
}

std::optional<CommitPlan> CheckpointCoordinator::BeginCommit(const pb::JobRecord& job, int64_t now_ms) {
  const std::string& name = job.spec().name();
  auto it = jobs_.find(name);
  if (it == jobs_.end() || !it->second.pending.has_value()) return std::nullopt;
  PendingCheckpoint& pending = *it->second.pending;
  if (pending.committing) return std::nullopt;
  if (job.partitions() <= 0 || static_cast<int64_t>(pending.refs.size()) < job.partitions()) return std::nullopt;
  auto root = CheckpointRoot(job.spec().checkpoint().storage());
  if (!root.ok()) {
    Abandon(name, "cannot commit it: " + root.status().message(), now_ms);
    return std::nullopt;
  }
  CommitPlan plan{name, pending.id, *root, {}};
  plan.info.set_id(pending.id.value());
  plan.info.set_triggered_at_ms(pending.triggered_at_ms);
  plan.info.set_committed_at_ms(now_ms);
  int64_t bytes = 0;
  for (int32_t p = 0; p < job.partitions(); ++p) {
    pb::SnapshotRef* ref = plan.info.add_partitions();
    *ref = pending.refs.at(PartitionId(p));
    bytes += ref->bytes();
  }
  plan.info.set_bytes(bytes);
  pending.committing = true;
  return plan;
}

Status CheckpointCoordinator::WriteMetadata(const CommitPlan& plan, const FileWriter& writer) {
  const std::string dir = CheckpointDir(plan.root, plan.job, plan.id.value());
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Internal("cannot create \"" + dir + "\": " + ec.message());
  std::string metadata;
  if (!plan.info.SerializeToString(&metadata)) return Internal("cannot serialize its metadata");
  return writer(CheckpointMetadataPath(plan.root, plan.job, plan.id.value()), metadata);
}

std::optional<PruneList> CheckpointCoordinator::FinishCommit(JobStore& store, const CommitPlan& plan,
                                                             const Status& written, int64_t now_ms) {
  auto it = jobs_.find(plan.job);
  if (it == jobs_.end() || !it->second.pending.has_value() || it->second.pending->id != plan.id) {
    // Abandoned by its timeout (logged then), or the job cancelled or submitted again, while _metadata was written.
    spdlog::info("job {}: checkpoint {} is no longer pending; its commit is dropped", plan.job, plan.id.value());
    return std::nullopt;
  }
  it->second.pending->committing = false;
  if (!written.ok()) {
    Abandon(plan.job, "cannot commit it: " + written.message(), now_ms);
    return std::nullopt;
  }
  auto outcome = store.CommitCheckpoint(plan.job, plan.info, policy_.keep);
  if (!outcome.ok()) {
    Abandon(plan.job, "cannot commit it: " + outcome.status().message(), now_ms);
    return std::nullopt;
  }
  const int64_t duration_ms = plan.info.committed_at_ms() - plan.info.triggered_at_ms();
  ++committed_;
  recent_commits_.push_back({committed_, plan.job, plan.id, duration_ms, plan.info.bytes()});
  if (recent_commits_.size() > kRecentCommits) recent_commits_.pop_front();
  it->second.pending.reset();
  spdlog::info("job {}: checkpoint {} committed ({} bytes, {} ms)", plan.job, plan.id.value(), plan.info.bytes(),
               duration_ms);
  events_->Append(events::CheckpointCommitted(plan.job, plan.id, plan.info.bytes(), duration_ms), now_ms);

  PruneList prune{plan.root, plan.job, {}, {}, plan.id};
  for (const pb::CheckpointInfo& pruned : outcome->pruned) {
    prune.files.push_back(CheckpointDir(plan.root, plan.job, pruned.id()));
  }
  if (const pb::JobRecord* job = store.Find(plan.job); job != nullptr) {
    for (const std::string& f : HandoffFiles(*job, outcome->handoffs)) prune.files.push_back(f);
    for (const pb::CheckpointInfo& c : job->checkpoints()) prune.retained.insert(c.id());
  }
  return prune;
}

void CheckpointCoordinator::Prune(const PruneList& prune) {
  RemoveFiles(prune.files, "superseded checkpoint file");
  SweepCheckpointDirs(prune.root, prune.job, prune.retained, prune.committed.value());
}

void CheckpointCoordinator::Abandon(const std::string& job, const std::string& reason, int64_t now_ms) {
  auto it = jobs_.find(job);
  if (it == jobs_.end() || !it->second.pending.has_value()) return;
  const CheckpointId id = it->second.pending->id;
  spdlog::warn("job {}: checkpoint {} abandoned (the next one is due in one interval): {}", job, id.value(), reason);
  events_->Append(events::CheckpointAbandoned(job, id, reason), now_ms);
  it->second.pending.reset();
  it->second.last_trigger_ms = now_ms;
  ++abandoned_;
}

std::vector<std::string> CheckpointCoordinator::FilesOf(const pb::JobRecord& job) {
  std::vector<std::string> files;
  auto root = CheckpointRoot(job.spec().checkpoint().storage());
  if (!root.ok()) return files;
  for (const pb::CheckpointInfo& c : job.checkpoints())
    files.push_back(CheckpointDir(*root, job.spec().name(), c.id()));
  for (const std::string& f : HandoffFiles(job, {job.handoffs().begin(), job.handoffs().end()})) files.push_back(f);
  return files;
}

std::vector<std::string> CheckpointCoordinator::HandoffFiles(const pb::JobRecord& job,
                                                             const std::vector<pb::SnapshotRef>& refs) {
  std::vector<std::string> files;
  auto root = CheckpointRoot(job.spec().checkpoint().storage());
  if (!root.ok()) return files;
  for (const pb::SnapshotRef& ref : refs) {
    if (IsHandoffFile(*root, job.spec().name(), ref)) files.push_back(ref.path());
  }
  return files;
}

void CheckpointCoordinator::RemoveFiles(const std::vector<std::string>& paths, const std::string& what) {
  for (const std::string& path : paths) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) spdlog::warn("cannot delete {} \"{}\": {}", what, path, ec.message());
  }
}

void CheckpointCoordinator::SetRestoreFrom(const pb::JobRecord& job,
                                           const std::map<PartitionId, pb::SnapshotRef>& handoffs,
                                           PartitionId partition, pb::Assignment* out) {
  if (auto h = handoffs.find(partition); h != handoffs.end() && !h->second.path().empty()) {
    *out->add_restore_from() = h->second;
  }
  const int p = partition.value();
  for (int i = job.checkpoints_size() - 1; i >= 0; --i) {
    const pb::CheckpointInfo& c = job.checkpoints(i);
    if (p >= 0 && p < c.partitions_size() && !c.partitions(p).path().empty()) {
      *out->add_restore_from() = c.partitions(p);
    }
  }
  out->set_restore_checkpoint(out->restore_from_size() > 0 ? out->restore_from(0).checkpoint() : 0);
}

}  // namespace weir::coordinator
