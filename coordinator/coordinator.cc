#include "coordinator/coordinator.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "common/checkpoint_paths.h"
#include "common/durable_file.h"
#include "common/types.h"
#include "spec/job_spec.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

bool HasOwners(const JobStore& store) {
  for (const pb::JobRecord& job : store.List()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    for (const auto& a : job.assignment()) {
      if (!a.worker().empty()) return true;
    }
  }
  return false;
}

// Deletes a file or directory tree if it exists; a failure is only logged
// (what is left behind wastes space, nothing reads it).
void RemoveBestEffort(const std::string& path, const std::string& what) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) spdlog::warn("cannot delete {} \"{}\": {}", what, path, ec.message());
}

// Whether `path` lies inside directory `dir` (lexically: a worker-supplied
// path is never trusted to point somewhere it may be deleted from).
bool IsUnder(const std::string& path, const std::string& dir) {
  const std::string p = std::filesystem::path(path).lexically_normal().string();
  std::string d = std::filesystem::path(dir).lexically_normal().string();
  if (!d.ends_with('/')) d += '/';
  return p.size() > d.size() && p.starts_with(d);
}

// Whether a handoff snapshot's file may be deleted once superseded: only
// one in the job's handoff directory (a worker might name a checkpoint's
// snapshot as its handoff; that file belongs to the checkpoint).
bool IsHandoffFile(const std::string& root, const std::string& job, const pb::SnapshotRef& ref) {
  return !ref.path().empty() &&
         IsUnder(ref.path(), std::filesystem::path(HandoffPath(root, job, 0, 0)).parent_path().string());
}

void RemoveHandoffFiles(const std::string& root, const std::string& job, const std::vector<pb::SnapshotRef>& refs) {
  for (const pb::SnapshotRef& ref : refs) {
    if (IsHandoffFile(root, job, ref)) RemoveBestEffort(ref.path(), "superseded handoff snapshot");
  }
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
  for (const std::string& dir : stale) RemoveBestEffort(dir, "stale checkpoint directory");
}

// Every checkpoint file a job's record refers to: committed checkpoints' directories and handoff snapshots.
std::vector<std::string> CheckpointFilesOf(const pb::JobRecord& job) {
  std::vector<std::string> files;
  auto root = CheckpointRoot(job.spec().checkpoint().storage());
  if (!root.ok()) return files;
  const std::string& name = job.spec().name();
  for (const pb::CheckpointInfo& c : job.checkpoints()) files.push_back(CheckpointDir(*root, name, c.id()));
  for (const pb::SnapshotRef& ref : job.handoffs()) {
    if (IsHandoffFile(*root, name, ref)) files.push_back(ref.path());
  }
  return files;
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

Result<std::unique_ptr<Coordinator>> Coordinator::Open(const std::string& data_dir, PartitionDiscovery* discovery,
                                                       CoordinatorOptions options, int64_t now_ms) {
  auto store = JobStore::Open(data_dir);
  if (!store.ok()) return store.status();
  const int64_t grace_until = HasOwners(**store) ? SaturatingAdd(now_ms, options.worker_timeout_ms) : now_ms;
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(*store), discovery, options, grace_until));
  std::lock_guard<std::mutex> lock(c->mu_);
  for (const pb::JobRecord& job : c->store_->List()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    // Pending checkpoints died with the previous process; the first one of
    // this one is due an interval from now, under a new id.
    c->checkpoints_[job.spec().name()].last_trigger_ms = now_ms;
    if (job.partitions() == 0) {
      c->discoveries_[job.spec().name()] = Discovery{c->next_generation_++, now_ms, false, ""};
    }
  }
  return c;
}

Coordinator::Coordinator(std::unique_ptr<JobStore> store, PartitionDiscovery* discovery, CoordinatorOptions options,
                         int64_t grace_until_ms)
    : options_(options), discovery_(discovery), grace_until_ms_(grace_until_ms), store_(std::move(store)) {}

// ---- Jobs ----

Result<pb::JobInfo> Coordinator::SubmitJob(const pb::JobSpec& spec, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(ValidateJobSpec(spec));
  DiscoveryAttempt attempt{spec.name(), 0, spec.source().kafka().brokers(), spec.source().kafka().topic()};
  std::vector<std::string> stale_files;  // a cancelled job of the same name: its checkpoints
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::optional<pb::JobRecord> previous = store_->Get(spec.name());
    auto job = store_->Submit(spec, now_ms);
    if (!job.ok()) return job.status();
    if (previous.has_value()) stale_files = CheckpointFilesOf(*previous);
    ForgetJob(spec.name());
    checkpoints_[spec.name()].last_trigger_ms = now_ms;
    attempt.generation = next_generation_++;
    discoveries_[spec.name()] = Discovery{attempt.generation, now_ms + options_.discovery_retry_ms, true, ""};
    spdlog::info("job {} submitted (topic {} at {})", spec.name(), attempt.topic, attempt.brokers);
  }
  // The new job never restores them, and its ids and epochs are all higher,
  // so nothing it writes can be among them.
  for (const std::string& file : stale_files) RemoveBestEffort(file, "checkpoint of the cancelled job");
  Discover(attempt, now_ms);
  return GetJob(spec.name());
}

Result<pb::JobInfo> Coordinator::GetJob(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto job = store_->Get(name);
  if (!job.has_value()) return NotFound("no job named \"" + name + "\" (weirctl list shows the jobs)");
  return ToJobInfo(*job);
}

std::vector<pb::JobInfo> Coordinator::ListJobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pb::JobInfo> jobs;
  for (const pb::JobRecord& job : store_->List()) jobs.push_back(ToJobInfo(job));
  return jobs;
}

Result<pb::JobInfo> Coordinator::CancelJob(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto job = store_->Cancel(name);
  if (!job.ok()) return job.status();
  ForgetJob(name);
  spdlog::info("job {} cancelled", name);
  return ToJobInfo(*job);
}

Result<CheckpointId> Coordinator::TriggerCheckpoint(const std::string& name, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto job = store_->Get(name);
  if (!job.has_value()) return NotFound("no job named \"" + name + "\" (weirctl list shows the jobs)");
  auto it = checkpoints_.find(name);  // running jobs only
  if (it != checkpoints_.end() && it->second.pending.has_value()) return it->second.pending->id;
  WEIR_RETURN_IF_ERROR(CanCheckpoint(*job));
  return StartCheckpoint(*job, now_ms);
}

std::optional<std::string> Coordinator::DiscoveryError(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = discoveries_.find(name);
  if (it == discoveries_.end() || it->second.last_error.empty()) return std::nullopt;
  return it->second.last_error;
}

void Coordinator::Discover(const DiscoveryAttempt& attempt, int64_t now_ms) {
  const Result<int32_t> count = discovery_->PartitionCount(attempt.brokers, attempt.topic);
  std::lock_guard<std::mutex> lock(mu_);
  ApplyDiscovery(attempt, count, now_ms);
}

void Coordinator::ApplyDiscovery(const DiscoveryAttempt& attempt, const Result<int32_t>& count, int64_t now_ms) {
  auto it = discoveries_.find(attempt.job);
  // Cancelled, or submitted again, while the lookup ran: not ours to apply.
  if (it == discoveries_.end() || it->second.generation != attempt.generation) return;
  Discovery& d = it->second;
  d.in_flight = false;
  if (count.ok() && *count <= 0) {
    // Kafka never reports this for an existing topic; treat it as a failure rather than assign nothing.
    d.last_error = "topic \"" + attempt.topic + "\" reports " + std::to_string(*count) + " partitions";
    return;
  }
  if (!count.ok()) {
    if (count.status().message() != d.last_error) {
      spdlog::warn("job {}: partitions unknown, retrying every {} ms: {}", attempt.job, options_.discovery_retry_ms,
                   count.status().message());
    }
    d.last_error = count.status().message();
    return;
  }
  auto job = store_->Get(attempt.job);
  if (!job.has_value() || job->state() != pb::JOB_STATE_RUNNING) return;
  const Assignment previous = JobStore::AssignmentOf(*job);
  const Assignment next = now_ms < grace_until_ms_ ? previous : Assign(*count, LiveWorkers(), previous);
  if (Status s = store_->SetAssignment(attempt.job, *count, next); !s.ok()) {
    spdlog::error("job {}: cannot store its {} partitions, retrying: {}", attempt.job, *count, s.message());
    d.last_error = s.message();
    return;
  }
  partition_moves_ += Moves(previous, next);
  spdlog::info("job {}: topic {} has {} partitions", attempt.job, attempt.topic, *count);
  discoveries_.erase(it);
}

void Coordinator::ForgetJob(const std::string& name) {
  discoveries_.erase(name);
  checkpoints_.erase(name);
  for (auto it = reports_.lower_bound({name, INT32_MIN}); it != reports_.end() && it->first.first == name;) {
    it = reports_.erase(it);
  }
}

pb::JobInfo Coordinator::ToJobInfo(const pb::JobRecord& job) const {
  pb::JobInfo info;
  *info.mutable_spec() = job.spec();
  info.set_state(job.state());
  info.set_submitted_at_ms(job.submitted_at_ms());
  info.set_latest_checkpoint(job.latest_checkpoint());
  for (const pb::CheckpointInfo& c : job.checkpoints()) *info.add_checkpoints() = c;
  if (auto it = checkpoints_.find(job.spec().name()); it != checkpoints_.end() && it->second.pending.has_value()) {
    info.set_pending_checkpoint(it->second.pending->id.value());
  }
  const Assignment assignment = JobStore::AssignmentOf(job);
  for (int32_t p = 0; p < job.partitions(); ++p) {
    pb::PartitionStatus* s = info.add_partitions();
    s->set_job(job.spec().name());
    s->set_partition(p);
    s->set_offset(-1);
    s->set_watermark(kMinTime);
    s->set_lag(-1);
    auto owner = assignment.find(p);
    if (owner == assignment.end()) continue;
    s->set_owner(owner->second.worker);
    s->set_epoch(owner->second.epoch);
    auto report = reports_.find({job.spec().name(), p});
    // Only the current owner's report under the current epoch describes the partition.
    if (report == reports_.end() || owner->second.worker.empty() || report->second.worker != owner->second.worker ||
        report->second.status.epoch() != owner->second.epoch) {
      continue;
    }
    const pb::PartitionStatus& r = report->second.status;
    s->set_offset(r.offset());
    s->set_watermark(r.watermark());
    s->set_lag(r.lag());
    s->set_rows_out(r.rows_out());
    s->set_records_in(r.records_in());
    s->set_dead_letters(r.dead_letters());
    s->set_reported_at_ms(r.reported_at_ms());
    if (r.has_snapshot()) *s->mutable_snapshot() = r.snapshot();
  }
  return info;
}

// ---- Workers ----

Result<pb::RegisterWorkerResponse> Coordinator::RegisterWorker(const std::string& id, const std::string& address,
                                                               int64_t now_ms) {
  if (id.empty()) return InvalidArgument("worker_id is required (each worker needs a unique, stable id)");
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = workers_.try_emplace(id);
  Worker& w = it->second;
  if (added) {
    spdlog::info("worker {} registered ({})", id, address);
  } else {
    spdlog::info("worker {} registered again ({}{})", id, address, w.alive ? "" : ", was dead");
  }
  w.address = address;
  w.registered_at_ms = now_ms;
  w.last_heartbeat_ms = now_ms;
  w.alive = true;
  w.dead_since_ms = 0;
  Rebalance(now_ms);
  pb::RegisterWorkerResponse response;
  response.set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  response.set_worker_timeout_ms(options_.worker_timeout_ms);
  return response;
}

Result<pb::HeartbeatResponse> Coordinator::Heartbeat(const std::string& id,
                                                     const std::vector<pb::PartitionStatus>& statuses, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = workers_.find(id);
  if (it == workers_.end()) {
    return NotFound("worker \"" + id + "\" is not registered (register again: the coordinator may have restarted)");
  }
  if (!it->second.alive) {
    return NotFound("worker \"" + id + "\" was declared dead after " + std::to_string(options_.worker_timeout_ms) +
                    " ms without a heartbeat and its partitions moved (drop them and register again)");
  }
  it->second.last_heartbeat_ms = now_ms;

  std::map<std::string, pb::JobRecord> running;
  for (pb::JobRecord& job : store_->List()) {
    if (job.state() == pb::JOB_STATE_RUNNING) running.emplace(job.spec().name(), std::move(job));
  }
  std::set<std::string> acknowledged;  // jobs with a new acknowledgement
  for (const pb::PartitionStatus& s : statuses) {
    auto job = running.find(s.job());
    if (job == running.end()) continue;  // not a running job (any more)
    if (RecordAck(job->second, id, s)) acknowledged.insert(s.job());
    Report& r = reports_[{s.job(), s.partition()}];
    if (!r.worker.empty() && s.epoch() < r.status.epoch()) continue;  // an older owner's late word
    r.worker = id;
    r.status = s;
    r.status.set_owner(id);
    r.status.set_reported_at_ms(now_ms);
  }
  for (const std::string& name : acknowledged) MaybeCommit(running.at(name), now_ms);

  // Built after the commits, so it carries their restore points and no trigger for a committed checkpoint.
  pb::HeartbeatResponse response;
  for (const pb::JobRecord& job : store_->List()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    const std::map<int32_t, pb::SnapshotRef> handoffs = JobStore::HandoffsOf(job);
    bool has_any = false;
    for (const auto& a : job.assignment()) {
      if (a.worker() != id) continue;
      pb::Assignment* out = response.add_assignments();
      out->set_job(job.spec().name());
      out->set_partition(a.partition());
      out->set_epoch(a.epoch());
      SetRestoreFrom(job, handoffs, a.partition(), out);
      has_any = true;
    }
    if (!has_any) continue;
    *response.add_jobs() = job.spec();
    if (auto c = checkpoints_.find(job.spec().name()); c != checkpoints_.end() && c->second.pending.has_value()) {
      pb::CheckpointTrigger* trigger = response.add_checkpoints();
      trigger->set_job(job.spec().name());
      trigger->set_checkpoint(c->second.pending->id.value());
    }
  }
  return response;
}

Status Coordinator::LeaveWorker(const std::string& id, const std::vector<pb::PartitionStatus>& handoffs,
                                int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  // Only a partition the worker still owns, under the epoch it reports, can be handed off.
  std::map<std::string, std::vector<std::pair<int32_t, pb::SnapshotRef>>> by_job;
  for (const pb::PartitionStatus& h : handoffs) {
    if (h.snapshot().path().empty()) continue;
    auto job = store_->Get(h.job());
    if (!job.has_value() || job->state() != pb::JOB_STATE_RUNNING) continue;
    if (h.partition() < 0 || h.partition() >= job->partitions()) continue;
    const Assignment assignment = JobStore::AssignmentOf(*job);
    auto owner = assignment.find(h.partition());
    if (owner == assignment.end() || owner->second.worker != id || owner->second.epoch != h.epoch()) {
      spdlog::warn("worker {} left with a snapshot of job {} partition {} at epoch {}, which it does not own: ignored",
                   id, h.job(), h.partition(), h.epoch());
      continue;
    }
    by_job[h.job()].emplace_back(h.partition(), h.snapshot());
  }
  Status result;
  size_t recorded = 0;
  for (const auto& [job, refs] : by_job) {
    auto replaced = store_->RecordHandoffs(job, refs);
    if (!replaced.ok()) {
      spdlog::error(
          "job {}: cannot store the handoff snapshots of worker {} (its partitions restore from the "
          "latest checkpoint instead): {}",
          job, id, replaced.status().message());
      result = Internal("cannot store the handoff snapshots of job \"" + job + "\": " + replaced.status().message());
      continue;
    }
    recorded += refs.size();
    auto spec = store_->Get(job);
    auto root = CheckpointRoot(spec->spec().checkpoint().storage());
    if (root.ok()) RemoveHandoffFiles(*root, job, *replaced);
  }
  const bool known = workers_.erase(id) > 0;
  spdlog::info("worker {} left ({} handoff snapshots{})", id, recorded, known ? "" : "; it was not registered");
  Rebalance(now_ms);
  return result;
}

std::vector<pb::WorkerInfo> Coordinator::ListWorkers(int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<pb::WorkerInfo> out;
  std::map<std::string, pb::WorkerInfo*> by_id;
  out.reserve(workers_.size());
  for (const auto& [id, w] : workers_) {
    pb::WorkerInfo& info = out.emplace_back();
    info.set_id(id);
    info.set_address(w.address);
    // Late heartbeats show at once, even before the next Tick() declares the worker dead.
    info.set_alive(w.alive && now_ms - w.last_heartbeat_ms <= options_.worker_timeout_ms);
    info.set_last_heartbeat_ms(w.last_heartbeat_ms);
    info.set_registered_at_ms(w.registered_at_ms);
  }
  for (pb::WorkerInfo& info : out) by_id[info.id()] = &info;
  for (const pb::JobRecord& job : store_->List()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    for (const auto& a : job.assignment()) {
      auto it = by_id.find(a.worker());
      if (it == by_id.end()) continue;
      pb::Assignment* out_a = it->second->add_assignments();
      out_a->set_job(job.spec().name());
      out_a->set_partition(a.partition());
      out_a->set_epoch(a.epoch());
    }
  }
  return out;
}

std::vector<std::string> Coordinator::LiveWorkers() const {
  std::vector<std::string> live;
  for (const auto& [id, w] : workers_) {
    if (w.alive) live.push_back(id);
  }
  return live;  // std::map iterates in id order
}

void Coordinator::Rebalance(int64_t now_ms) {
  if (now_ms < grace_until_ms_) return;  // workers may still come back after a coordinator restart
  const std::vector<std::string> live = LiveWorkers();
  for (const pb::JobRecord& job : store_->List()) {
    if (job.state() != pb::JOB_STATE_RUNNING || job.partitions() <= 0) continue;
    const Assignment previous = JobStore::AssignmentOf(job);
    const Assignment next = Assign(job.partitions(), live, previous);
    if (next == previous) continue;
    if (Status s = store_->SetAssignment(job.spec().name(), job.partitions(), next); !s.ok()) {
      spdlog::error("job {}: cannot store its new assignment (will retry): {}", job.spec().name(), s.message());
      continue;
    }
    for (const auto& [p, owner] : next) {
      auto before = previous.find(p);
      const std::string from = before == previous.end() ? "" : before->second.worker;
      if (from == owner.worker) continue;
      spdlog::info("job {} partition {}: {} -> {} (epoch {})", job.spec().name(), p, from.empty() ? "-" : from,
                   owner.worker.empty() ? "-" : owner.worker, owner.epoch);
    }
    partition_moves_ += Moves(previous, next);
  }
}

void Coordinator::CheckWorkers(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = workers_.begin(); it != workers_.end();) {
    Worker& w = it->second;
    if (w.alive && now_ms - w.last_heartbeat_ms > options_.worker_timeout_ms) {
      w.alive = false;
      w.dead_since_ms = now_ms;
      spdlog::warn("worker {} is dead: no heartbeat for {} ms (timeout {} ms)", it->first, now_ms - w.last_heartbeat_ms,
                   options_.worker_timeout_ms);
    }
    if (!w.alive && now_ms - w.dead_since_ms > options_.dead_worker_retention_ms) {
      spdlog::info("worker {} forgotten ({} ms dead)", it->first, now_ms - w.dead_since_ms);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  Rebalance(now_ms);
  CheckCheckpoints(now_ms);
}

bool Coordinator::RetryDiscovery(int64_t now_ms) {
  DiscoveryAttempt attempt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Discovery* next = nullptr;
    for (auto& [name, d] : discoveries_) {
      if (d.in_flight || now_ms < d.next_attempt_ms) continue;
      if (next == nullptr || d.next_attempt_ms < next->next_attempt_ms) {
        next = &d;
        attempt.job = name;
      }
    }
    if (next == nullptr) return false;
    auto job = store_->Get(attempt.job);
    if (!job.has_value()) {
      discoveries_.erase(attempt.job);
      return true;
    }
    next->in_flight = true;
    next->next_attempt_ms = now_ms + options_.discovery_retry_ms;
    attempt.generation = next->generation;
    attempt.brokers = job->spec().source().kafka().brokers();
    attempt.topic = job->spec().source().kafka().topic();
  }
  Discover(attempt, now_ms);
  return true;
}

void Coordinator::Tick(int64_t now_ms) {
  CheckWorkers(now_ms);
  size_t pending = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending = discoveries_.size();
  }
  // Each pending job at most once, even if discovery_retry_ms is 0.
  for (size_t i = 0; i < pending && RetryDiscovery(now_ms); ++i) {
  }
}

CoordinatorStats Coordinator::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CoordinatorStats stats;
  for (const pb::JobRecord& job : store_->List()) ++stats.jobs[job.state()];
  for (const auto& [id, w] : workers_) ++(w.alive ? stats.workers_alive : stats.workers_dead);
  stats.partition_moves = partition_moves_;
  stats.checkpoints_committed = checkpoints_committed_;
  stats.checkpoints_abandoned = checkpoints_abandoned_;
  stats.recent_commits.assign(recent_commits_.begin(), recent_commits_.end());
  for (const auto& [name, c] : checkpoints_) stats.checkpoints_pending += c.pending.has_value() ? 1 : 0;
  return stats;
}

// ---- Checkpoints ----

Status Coordinator::CanCheckpoint(const pb::JobRecord& job) const {
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
    auto owner = assignment.find(p);
    if (owner == assignment.end() || owner->second.worker.empty()) {
      return FailedPrecondition("job \"" + name + "\" partition " + std::to_string(p) +
                                " has no owner (is a worker running? weirctl workers lists them)");
    }
    auto worker = workers_.find(owner->second.worker);
    if (worker == workers_.end() || !worker->second.alive) {
      return FailedPrecondition("job \"" + name + "\" partition " + std::to_string(p) + " is owned by worker " +
                                owner->second.worker + ", which is not live; try again once it has moved");
    }
  }
  return Status::Ok();
}

Result<CheckpointId> Coordinator::StartCheckpoint(const pb::JobRecord& job, int64_t now_ms) {
  const std::string& name = job.spec().name();
  auto root = CheckpointRoot(job.spec().checkpoint().storage());
  if (!root.ok()) return root.status();
  auto id = store_->NextCheckpointId(name);
  if (!id.ok()) return id.status();
  JobCheckpoints& c = checkpoints_[name];
  c.last_trigger_ms = now_ms;
  c.pending = PendingCheckpoint{*id, now_ms, {}};
  spdlog::info("job {}: checkpoint {} triggered", name, id->value());
  return *id;
}

void Coordinator::CheckCheckpoints(int64_t now_ms) {
  for (const pb::JobRecord& job : store_->List()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    const std::string& name = job.spec().name();
    const int64_t interval = job.spec().checkpoint().interval_ms();
    auto [it, added] = checkpoints_.try_emplace(name);
    JobCheckpoints& c = it->second;
    if (added) c.last_trigger_ms = now_ms;
    if (c.pending.has_value()) {
      int64_t timeout = kMaxTime;
      if (__builtin_mul_overflow(interval, options_.checkpoint_timeout_intervals, &timeout)) timeout = kMaxTime;
      timeout = std::max(timeout, options_.min_checkpoint_timeout_ms);
      if (SaturatingSub(now_ms, c.pending->triggered_at_ms) <= timeout) continue;
      std::vector<int32_t> missing;
      for (int32_t p = 0; p < job.partitions(); ++p) {
        if (c.pending->refs.count(p) == 0) missing.push_back(p);
      }
      spdlog::warn("job {}: checkpoint {} abandoned after {} ms: no acknowledgement from partitions {}", name,
                   c.pending->id.value(), now_ms - c.pending->triggered_at_ms, PartitionList(missing));
      Abandon(name, now_ms);
      continue;
    }
    if (interval <= 0 || SaturatingSub(now_ms, c.last_trigger_ms) < interval) continue;
    if (!CanCheckpoint(job).ok()) continue;  // retried on every check; weirctl checkpoint says why
    if (auto id = StartCheckpoint(job, now_ms); !id.ok()) {
      spdlog::error("job {}: cannot trigger a checkpoint (retrying in {} ms): {}", name, interval,
                    id.status().message());
      c.last_trigger_ms = now_ms;
    }
  }
}

bool Coordinator::RecordAck(const pb::JobRecord& job, const std::string& worker, const pb::PartitionStatus& status) {
  const pb::SnapshotRef& snapshot = status.snapshot();
  if (snapshot.checkpoint() == 0 || snapshot.path().empty()) return false;
  auto it = checkpoints_.find(job.spec().name());
  if (it == checkpoints_.end() || !it->second.pending.has_value()) return false;
  PendingCheckpoint& pending = *it->second.pending;
  if (snapshot.checkpoint() != pending.id.value()) return false;
  if (status.partition() < 0 || status.partition() >= job.partitions()) return false;
  for (const auto& a : job.assignment()) {
    if (a.partition() != status.partition()) continue;
    if (a.worker() != worker || a.epoch() != status.epoch()) {
      spdlog::debug(
          "job {}: acknowledgement of checkpoint {} partition {} from {} at epoch {} ignored (owner {} at "
          "epoch {})",
          job.spec().name(), pending.id.value(), status.partition(), worker, status.epoch(), a.worker(), a.epoch());
      return false;
    }
    pending.refs[status.partition()] = snapshot;
    return true;
  }
  return false;
}

void Coordinator::MaybeCommit(const pb::JobRecord& job, int64_t now_ms) {
  const std::string& name = job.spec().name();
  auto it = checkpoints_.find(name);
  if (it == checkpoints_.end() || !it->second.pending.has_value()) return;
  const PendingCheckpoint& pending = *it->second.pending;
  if (job.partitions() <= 0 || static_cast<int64_t>(pending.refs.size()) < job.partitions()) return;
  const uint64_t id = pending.id.value();

  pb::CheckpointInfo info;
  info.set_id(id);
  info.set_triggered_at_ms(pending.triggered_at_ms);
  info.set_committed_at_ms(now_ms);
  int64_t bytes = 0;
  for (int32_t p = 0; p < job.partitions(); ++p) {
    pb::SnapshotRef* ref = info.add_partitions();
    *ref = pending.refs.at(p);
    bytes += ref->bytes();
  }
  info.set_bytes(bytes);

  auto fail = [&](const std::string& why) {
    spdlog::error("job {}: checkpoint {} abandoned, cannot commit it (the next one is due in {} ms): {}", name, id,
                  job.spec().checkpoint().interval_ms(), why);
    Abandon(name, now_ms);
  };
  auto root = CheckpointRoot(job.spec().checkpoint().storage());
  if (!root.ok()) return fail(root.status().message());
  std::error_code ec;
  std::filesystem::create_directories(CheckpointDir(*root, name, id), ec);
  if (ec) return fail("cannot create \"" + CheckpointDir(*root, name, id) + "\": " + ec.message());
  std::string metadata;
  if (!info.SerializeToString(&metadata)) return fail("cannot serialize its metadata");
  if (Status s = WriteFileDurably(CheckpointMetadataPath(*root, name, id), metadata); !s.ok()) {
    return fail(s.message());
  }
  auto outcome = store_->CommitCheckpoint(name, info, options_.checkpoints_to_keep);
  if (!outcome.ok()) return fail(outcome.status().message());

  ++checkpoints_committed_;
  recent_commits_.push_back({checkpoints_committed_, name, id, now_ms - info.triggered_at_ms(), bytes});
  if (recent_commits_.size() > kRecentCommits) recent_commits_.pop_front();
  it->second.pending.reset();
  spdlog::info("job {}: checkpoint {} committed ({} bytes, {} ms)", name, id, bytes, now_ms - info.triggered_at_ms());
  for (const pb::CheckpointInfo& pruned : outcome->pruned) {
    RemoveBestEffort(CheckpointDir(*root, name, pruned.id()), "pruned checkpoint");
  }
  RemoveHandoffFiles(*root, name, outcome->handoffs);
  std::set<uint64_t> retained;
  if (auto stored = store_->Get(name); stored.has_value()) {
    for (const pb::CheckpointInfo& c : stored->checkpoints()) retained.insert(c.id());
  }
  SweepCheckpointDirs(*root, name, retained, id);
}

void Coordinator::Abandon(const std::string& job, int64_t now_ms) {
  auto it = checkpoints_.find(job);
  if (it == checkpoints_.end() || !it->second.pending.has_value()) return;
  it->second.pending.reset();
  it->second.last_trigger_ms = now_ms;
  ++checkpoints_abandoned_;
}

void Coordinator::SetRestoreFrom(const pb::JobRecord& job, const std::map<int32_t, pb::SnapshotRef>& handoffs,
                                 int32_t partition, pb::Assignment* out) {
  if (auto h = handoffs.find(partition); h != handoffs.end() && !h->second.path().empty()) {
    *out->add_restore_from() = h->second;
  }
  for (int i = job.checkpoints_size() - 1; i >= 0; --i) {
    const pb::CheckpointInfo& c = job.checkpoints(i);
    if (partition < c.partitions_size() && !c.partitions(partition).path().empty()) {
      *out->add_restore_from() = c.partitions(partition);
    }
  }
  out->set_restore_checkpoint(out->restore_from_size() > 0 ? out->restore_from(0).checkpoint() : 0);
}

}  // namespace weir::coordinator
