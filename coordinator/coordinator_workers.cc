// Coordinator: the workers' side — registration, heartbeats (reports,
// checkpoint acknowledgements and commits, the reply), leaving, listing, and
// failure detection. Jobs and rebalancing are in coordinator.cc.
#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "coordinator/cluster_events.h"
#include "coordinator/coordinator.h"
#include "spec/job_spec.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

}  // namespace

Result<pb::RegisterWorkerResponse> Coordinator::RegisterWorker(const std::string& id, const std::string& address,
                                                               int64_t now_ms) {
  if (id.empty()) return InvalidArgument("worker_id is required (each worker needs a unique, stable id)");
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    const Result<WorkerRegistry::Registered> registered = workers_.Register(id, address, now_ms);
    if (!registered.ok()) {
      if (refused_.insert({id, address}).second) {
        spdlog::warn("refused a registration: {}", registered.status().message());
        events_.Append(events::WorkerRefused(id, address, registered.status().message()), now_ms);
      }
      return registered.status();
    }
    const WorkerRegistry::Registered how = *registered;
    std::erase_if(refused_, [&](const auto& refused) { return refused.first == id; });
    const bool again = how != WorkerRegistry::Registered::kNew;
    const bool was_lost = how == WorkerRegistry::Registered::kAfterLost;
    spdlog::info("worker {} registered{} ({})", id, again ? (was_lost ? " again, was dead" : " again") : "", address);
    events_.Append(events::WorkerRegistered(id, address, again, was_lost), now_ms);
    Rebalance(now_ms);
    version = store_->version();
  }
  WEIR_RETURN_IF_ERROR(SyncState(version));
  pb::RegisterWorkerResponse response;
  response.set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  response.set_worker_timeout_ms(options_.worker_timeout_ms);
  return response;
}

Result<pb::HeartbeatResponse> Coordinator::Heartbeat(const std::string& id,
                                                     const std::vector<pb::PartitionStatus>& statuses, int64_t now_ms,
                                                     const std::vector<pb::JobSpecRef>& held_specs) {
  std::vector<CommitPlan> commits;
  pb::HeartbeatResponse response;
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    WEIR_RETURN_IF_ERROR(workers_.Heartbeat(id, now_ms));
    std::set<std::string> acknowledged;  // jobs with a new acknowledgement
    for (const pb::PartitionStatus& s : statuses) {
      const pb::JobRecord* job = store_->Find(s.job());
      if (job == nullptr || job->state() != pb::JOB_STATE_RUNNING) continue;  // not a running job (any more)
      const std::optional<PartitionOwner> owner = store_->Owner(s.job(), PartitionId(s.partition()));
      if (checkpoints_.Acknowledge(*job, owner, id, s)) acknowledged.insert(s.job());
      reports_.Record(id, s, owner, now_ms);
      if (s.state() == pb::PARTITION_STATE_FENCED && owner.has_value() && owner->worker == id &&
          owner->epoch == Epoch(s.epoch())) {
        ReEpochFenced(s.job(), PartitionId(s.partition()), *owner, now_ms);
      }
    }
    for (const std::string& name : acknowledged) {
      if (auto plan = checkpoints_.BeginCommit(*store_->Find(name), now_ms); plan.has_value()) {
        commits.push_back(std::move(*plan));
      }
    }
    if (commits.empty()) {
      response = HeartbeatReply(id, held_specs);
      version = store_->version();
    }
  }

  std::vector<PruneList> prunes;
  if (!commits.empty()) {
    // Without the lock: other heartbeats, weirctl and the ticker go on meanwhile.
    std::vector<Status> written;
    written.reserve(commits.size());
    for (const CommitPlan& plan : commits) written.push_back(CheckpointCoordinator::WriteMetadata(plan, write_file_));
    weir::MutexLock lock(&mu_);
    for (size_t i = 0; i < commits.size(); ++i) {
      if (auto prune = checkpoints_.FinishCommit(*store_, commits[i], written[i], now_ms); prune.has_value()) {
        prunes.push_back(std::move(*prune));
      }
    }
    // Built after the commits, so it carries their restore points and no trigger for a committed checkpoint.
    response = HeartbeatReply(id, held_specs);
    version = store_->version();
  }
  WEIR_RETURN_IF_ERROR(SyncState(version));
  for (const PruneList& prune : prunes) CheckpointCoordinator::Prune(prune);  // the commits are durable now
  return response;
}

void Coordinator::ReEpochFenced(const std::string& job, PartitionId partition, const PartitionOwner& owner,
                                int64_t now_ms) {
  const pb::JobRecord* record = store_->Find(job);
  if (record == nullptr) return;
  Assignment next = JobStore::AssignmentOf(*record);
  // Above the wall-clock floor: every epoch this coordinator (or an older
  // copy of its state) issued by counting is far below it.
  const Epoch to(std::max(owner.epoch.value() + 1, static_cast<uint64_t>(std::max<int64_t>(now_ms, 0))));
  next[partition].epoch = to;
  if (Status s = store_->SetAssignment(job, record->partitions(), next); !s.ok()) {
    spdlog::error("job {} partition {}: cannot store its new epoch (the next heartbeat retries): {}", job,
                  partition.value(), s.message());
    return;
  }
  spdlog::warn("job {} partition {}: {} was fenced at its current epoch {}; re-epoched to {}", job, partition.value(),
               owner.worker, owner.epoch.value(), to.value());
  events_.Append(events::PartitionReEpoched(job, partition, owner.worker, owner.epoch, to), now_ms);
}

pb::HeartbeatResponse Coordinator::HeartbeatReply(const std::string& id,
                                                  const std::vector<pb::JobSpecRef>& held_specs) const {
  std::map<std::string, uint64_t> held;
  for (const pb::JobSpecRef& ref : held_specs) held[ref.job()] = ref.spec_hash();
  pb::HeartbeatResponse response;
  const pb::JobRecord* job = nullptr;
  std::map<PartitionId, pb::SnapshotRef> handoffs;         // of `job`
  for (const JobPartition& owned : store_->OwnedBy(id)) {  // by job, then partition
    if (job == nullptr || job->spec().name() != owned.job) {
      job = store_->Find(owned.job);
      handoffs = JobStore::HandoffsOf(*job);
      const uint64_t hash = spec_hashes_.at(owned.job);
      pb::JobSpecRef* ref = response.add_job_specs();
      ref->set_job(owned.job);
      ref->set_spec_hash(hash);
      if (auto h = held.find(owned.job); h == held.end() || h->second != hash) *response.add_jobs() = job->spec();
      if (auto pending = checkpoints_.Pending(owned.job); pending.has_value()) {
        pb::CheckpointTrigger* trigger = response.add_checkpoints();
        trigger->set_job(owned.job);
        trigger->set_checkpoint(pending->value());
      }
    }
    const std::optional<PartitionOwner> owner = store_->Owner(owned.job, owned.partition);
    pb::Assignment* out = response.add_assignments();
    out->set_job(owned.job);
    out->set_partition(owned.partition.value());
    out->set_epoch(owner->epoch.value());
    if (job->source_partitions() > 0) {
      out->set_source_partitions(job->source_partitions());
      out->set_repartition_partitions(job->partitions() - job->source_partitions());
    }
    CheckpointCoordinator::SetRestoreFrom(*job, handoffs, owned.partition, out);
  }
  return response;
}

Status Coordinator::LeaveWorker(const std::string& id, const std::vector<pb::PartitionStatus>& handoffs,
                                int64_t now_ms) {
  Status result;
  std::vector<std::string> replaced_files;  // handoff snapshots that the new ones replace
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    // Only a partition the worker still owns, under the epoch it reports, can be handed off.
    std::map<std::string, std::vector<std::pair<PartitionId, pb::SnapshotRef>>> by_job;
    for (const pb::PartitionStatus& h : handoffs) {
      if (h.snapshot().path().empty()) continue;
      const pb::JobRecord* job = store_->Find(h.job());
      if (job == nullptr || job->state() != pb::JOB_STATE_RUNNING) continue;
      if (h.partition() < 0 || h.partition() >= job->partitions()) continue;
      const std::optional<PartitionOwner> owner = store_->Owner(h.job(), PartitionId(h.partition()));
      if (!owner.has_value() || owner->worker != id || owner->epoch != Epoch(h.epoch())) {
        spdlog::warn(
            "worker {} left with a snapshot of job {} partition {} at epoch {}, which it does not own: ignored", id,
            h.job(), h.partition(), h.epoch());
        continue;
      }
      by_job[h.job()].emplace_back(PartitionId(h.partition()), h.snapshot());
    }
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
      for (std::string& f : CheckpointCoordinator::HandoffFiles(*store_->Find(job), *replaced)) {
        replaced_files.push_back(std::move(f));
      }
    }
    const bool known = workers_.Remove(id);
    spdlog::info("worker {} left ({} handoff snapshots{})", id, recorded, known ? "" : "; it was not registered");
    if (known) events_.Append(events::WorkerLeft(id, recorded), now_ms);
    Rebalance(now_ms);
    version = store_->version();
  }
  WEIR_RETURN_IF_ERROR(SyncState(version));
  CheckpointCoordinator::RemoveFiles(replaced_files, "superseded handoff snapshot");
  return result;
}

std::vector<pb::WorkerInfo> Coordinator::ListWorkers(int64_t now_ms) const {
  weir::MutexLock lock(&mu_);
  std::vector<pb::WorkerInfo> out;
  out.reserve(workers_.all().size());
  for (const auto& [id, w] : workers_.all()) {
    pb::WorkerInfo& info = out.emplace_back();
    info.set_id(id);
    info.set_address(w.address);
    // Late heartbeats show at once, even before the next check declares the worker dead.
    info.set_alive(workers_.OnTime(w, now_ms));
    info.set_last_heartbeat_ms(w.last_heartbeat_ms);
    info.set_registered_at_ms(w.registered_at_ms);
    for (const JobPartition& owned : store_->OwnedBy(id)) {
      pb::Assignment* a = info.add_assignments();
      a->set_job(owned.job);
      a->set_partition(owned.partition.value());
      a->set_epoch(store_->Owner(owned.job, owned.partition)->epoch.value());
    }
  }
  return out;
}

void Coordinator::CheckWorkers(int64_t now_ms) {
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    const WorkerRegistry::CheckResult checked = workers_.Check(now_ms);
    for (const WorkerRegistry::Lost& lost : checked.lost) {
      spdlog::warn("worker {} is dead: no heartbeat for {} ms (timeout {} ms)", lost.id, lost.silent_ms,
                   options_.worker_timeout_ms);
      events_.Append(events::WorkerLost(lost.id, lost.silent_ms, options_.worker_timeout_ms), now_ms);
    }
    for (const std::string& id : checked.forgotten) spdlog::info("worker {} forgotten", id);
    Rebalance(now_ms);
    checkpoints_.Check(*store_, workers_, reports_, now_ms);
    version = store_->version();
  }
  if (Status s = SyncState(version); !s.ok()) spdlog::error("{} (retrying every check)", s.message());
}

Result<uint64_t> Coordinator::OpenWatch(const std::string& id) {
  weir::MutexLock lock(&mu_);
  return workers_.OpenWatch(id);
}

void Coordinator::CloseWatch(const std::string& id, uint64_t watch, int64_t now_ms) {
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    if (watches_stopped_.load() || !workers_.CloseWatch(id, watch, now_ms)) return;
    spdlog::warn("worker {} is dead: its connection to the coordinator closed", id);
    events_.Append(events::WorkerDisconnected(id), now_ms);
    Rebalance(now_ms);
    version = store_->version();
  }
  if (Status s = SyncState(version); !s.ok()) spdlog::error("{} (retrying every check)", s.message());
}

void Coordinator::Nudge(const std::string& worker) {
  weir::MutexLock lock(&watch_mu_);
  nudged_.insert(worker);
}

Coordinator::WatchWait Coordinator::AwaitNudge(const std::string& id, uint64_t watch, absl::Duration timeout) {
  if (watches_stopped_.load()) return WatchWait::kEnded;
  {
    weir::MutexLock lock(&mu_);
    if (!workers_.Watching(id, watch)) return WatchWait::kEnded;
  }
  struct Waiting {
    const std::set<std::string>* nudged;
    const std::string* id;
    static bool Nudged(const Waiting* w) { return w->nudged->count(*w->id) != 0; }
  };
  weir::MutexLock lock(&watch_mu_);
  const Waiting waiting{&nudged_, &id};
  if (!watch_mu_.AwaitWithTimeout(absl::Condition(&Waiting::Nudged, &waiting), timeout)) return WatchWait::kTimedOut;
  nudged_.erase(id);
  return WatchWait::kNudged;
}

bool Coordinator::RetryDiscovery(int64_t now_ms) {
  DiscoveryAttempt attempt;
  {
    weir::MutexLock lock(&mu_);
    Discovery* next = nullptr;
    for (auto& [name, d] : discoveries_) {
      if (d.in_flight || now_ms < d.next_attempt_ms) continue;
      if (next == nullptr || d.next_attempt_ms < next->next_attempt_ms) {
        next = &d;
        attempt.job = name;
      }
    }
    if (next == nullptr) return false;
    const pb::JobRecord* job = store_->Find(attempt.job);
    if (job == nullptr) {
      discoveries_.erase(attempt.job);
      return true;
    }
    next->in_flight = true;
    next->next_attempt_ms = now_ms + options_.discovery_retry_ms;
    attempt.generation = next->generation;
    attempt.brokers = job->spec().source().kafka().brokers();
    attempt.topic = job->spec().source().kafka().topic();
    attempt.properties = job->spec().source().kafka().properties();
    attempt.dead_letter_topic = DeadLetterTopicOf(job->spec());
    if (IsRekeyed(job->spec())) attempt.repartition_topic = RepartitionTopicOf(job->spec());
    attempt.repartition_partitions = job->spec().repartition().partitions();
  }
  Discover(attempt, now_ms);
  return true;
}

void Coordinator::Tick(int64_t now_ms) {
  CheckWorkers(now_ms);
  size_t pending = 0;
  {
    weir::MutexLock lock(&mu_);
    pending = discoveries_.size();
  }
  // Each pending job at most once, even if discovery_retry_ms is 0.
  for (size_t i = 0; i < pending && RetryDiscovery(now_ms); ++i) {
  }
  TrimRepartitionTopics(now_ms);
}

}  // namespace weir::coordinator
