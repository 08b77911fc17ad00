// Coordinator: opening, jobs, partition discovery and rebalancing, status.
// The workers' side (registration, heartbeats, leaving, failure detection)
// is in coordinator_workers.cc.
#include "coordinator/coordinator.h"

#include <spdlog/spdlog.h>

#include "coordinator/cluster_events.h"
#include "spec/job_spec.h"
#include "spec/spec_hash.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

bool HasOwners(const JobStore& store) {
  for (const pb::JobRecord& job : store.jobs()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    for (const auto& a : job.assignment()) {
      if (!a.worker().empty()) return true;
    }
  }
  return false;
}

std::string UnknownJob(const std::string& name) {
  return "no job named \"" + name + "\" (weirctl list shows the jobs)";
}

}  // namespace

Result<std::unique_ptr<Coordinator>> Coordinator::Open(const std::string& data_dir, PartitionDiscovery* discovery,
                                                       CoordinatorOptions options, int64_t now_ms) {
  auto store = JobStore::Open(data_dir, options.write_file);
  if (!store.ok()) return store.status();
  const int64_t grace_until = HasOwners(**store) ? SaturatingAdd(now_ms, options.worker_timeout_ms) : now_ms;
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(*store), discovery, std::move(options), grace_until));
  weir::MutexLock lock(&c->mu_);
  for (const pb::JobRecord& job : c->store_->jobs()) {
    c->spec_hashes_[job.spec().name()] = SpecHash(job.spec());
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    // Pending checkpoints died with the previous process; the first one of
    // this one is due an interval from now, under a new id.
    c->checkpoints_.StartJob(job.spec().name(), now_ms);
    if (job.partitions() == 0) {
      c->discoveries_[job.spec().name()] = Discovery{c->next_generation_++, now_ms, false, ""};
    }
  }
  return c;
}

Coordinator::Coordinator(std::unique_ptr<JobStore> store, PartitionDiscovery* discovery, CoordinatorOptions options,
                         int64_t grace_until_ms)
    : options_(std::move(options)),
      discovery_(discovery),
      grace_until_ms_(grace_until_ms),
      write_file_(OrDurable(options_.write_file)),
      events_(options_.event_log_capacity),
      state_file_(&store->state_file()),
      store_(std::move(store)),
      workers_(options_.worker_timeout_ms, options_.dead_worker_retention_ms),
      checkpoints_(CheckpointPolicy{options_.checkpoints_to_keep, options_.checkpoint_timeout_intervals,
                                    options_.min_checkpoint_timeout_ms},
                   &events_),
      reports_(&events_) {}

Status Coordinator::SyncState(uint64_t version) { return state_file_->Sync(version); }

// ---- Jobs ----

Result<pb::JobInfo> Coordinator::SubmitJob(const pb::JobSpec& spec, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(ValidateJobSpec(spec));
  const uint64_t hash = SpecHash(spec);  // CPU only: before taking the lock
  DiscoveryAttempt attempt{spec.name(),
                           0,
                           spec.source().kafka().brokers(),
                           spec.source().kafka().topic(),
                           spec.source().kafka().properties(),
                           DeadLetterTopicOf(spec),
                           IsRekeyed(spec) ? RepartitionTopicOf(spec) : std::string(),
                           spec.repartition().partitions()};
  std::vector<std::string> stale_files;  // a cancelled job of the same name: its checkpoints
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    if (const pb::JobRecord* previous = store_->Find(spec.name());
        previous != nullptr && previous->state() != pb::JOB_STATE_RUNNING) {
      stale_files = CheckpointCoordinator::FilesOf(*previous);
    }
    auto job = store_->Submit(spec, now_ms);
    if (!job.ok()) return job.status();
    ForgetJob(spec.name());
    checkpoints_.StartJob(spec.name(), now_ms);
    spec_hashes_[spec.name()] = hash;
    attempt.generation = next_generation_++;
    discoveries_[spec.name()] = Discovery{attempt.generation, now_ms + options_.discovery_retry_ms, true, ""};
    events_.Append(events::JobSubmitted(spec), now_ms);
    version = store_->version();
    spdlog::info("job {} submitted (topic {} at {})", spec.name(), attempt.topic, attempt.brokers);
  }
  WEIR_RETURN_IF_ERROR(SyncState(version));
  // The new job never restores them, and its ids and epochs are all higher,
  // so nothing it writes can be among them.
  CheckpointCoordinator::RemoveFiles(stale_files, "checkpoint of the cancelled job");
  Discover(attempt, now_ms);
  return GetJob(spec.name());
}

Result<pb::JobInfo> Coordinator::GetJob(const std::string& name) const {
  weir::MutexLock lock(&mu_);
  const pb::JobRecord* job = store_->Find(name);
  if (job == nullptr) return NotFound(UnknownJob(name));
  return ToJobInfo(*job);
}

std::vector<pb::JobInfo> Coordinator::ListJobs() const {
  weir::MutexLock lock(&mu_);
  std::vector<pb::JobInfo> jobs;
  for (const pb::JobRecord& job : store_->jobs()) jobs.push_back(ToJobInfo(job));
  return jobs;
}

Result<pb::JobInfo> Coordinator::CancelJob(const std::string& name, int64_t now_ms) {
  pb::JobInfo info;
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    auto job = store_->Cancel(name);
    if (!job.ok()) return job.status();
    checkpoints_.StopJob(name, now_ms);
    ForgetJob(name);
    events_.Append(events::JobCancelled(name), now_ms);
    spdlog::info("job {} cancelled", name);
    info = ToJobInfo(*job);
    version = store_->version();
  }
  WEIR_RETURN_IF_ERROR(SyncState(version));
  return info;
}

Result<CheckpointId> Coordinator::TriggerCheckpoint(const std::string& name, int64_t now_ms) {
  Result<CheckpointId> id = CheckpointId();
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    id = checkpoints_.Trigger(*store_, name, workers_, reports_, now_ms);
    version = store_->version();
  }
  if (!id.ok()) return id;
  WEIR_RETURN_IF_ERROR(SyncState(version));
  return id;
}

std::optional<std::string> Coordinator::DiscoveryError(const std::string& name) const {
  weir::MutexLock lock(&mu_);
  auto it = discoveries_.find(name);
  if (it == discoveries_.end() || it->second.last_error.empty()) return std::nullopt;
  return it->second.last_error;
}

EventPage Coordinator::ListEvents(const std::string& job, uint64_t after_seq, size_t limit) const {
  return events_.List(job, after_seq, limit);
}

void Coordinator::ForgetJob(const std::string& name) {
  discoveries_.erase(name);
  found_.erase(name);
  trims_.erase(name);
  checkpoints_.ForgetJob(name);
  reports_.ForgetJob(name);
}

pb::JobInfo Coordinator::ToJobInfo(const pb::JobRecord& job) const {
  pb::JobInfo info;
  *info.mutable_spec() = job.spec();
  info.set_state(job.state());
  info.set_submitted_at_ms(job.submitted_at_ms());
  info.set_latest_checkpoint(job.latest_checkpoint());
  for (const pb::CheckpointInfo& c : job.checkpoints()) *info.add_checkpoints() = c;
  if (job.state() == pb::JOB_STATE_RUNNING) {
    if (auto pending = checkpoints_.Pending(job.spec().name()); pending.has_value()) {
      info.set_pending_checkpoint(pending->value());
    }
  }
  if (job.state() == pb::JOB_STATE_RUNNING) {
    if (auto d = discoveries_.find(job.spec().name()); d != discoveries_.end() && !d->second.last_error.empty()) {
      info.set_discovery(d->second.last_error);
    } else if (auto f = found_.find(job.spec().name()); f != found_.end()) {
      info.set_discovery(f->second);
    }
  }
  info.set_source_partitions(job.source_partitions());
  if (auto t = trims_.find(job.spec().name()); t != trims_.end()) info.set_repartition_trim(t->second.last);
  const Assignment assignment = JobStore::AssignmentOf(job);
  for (int32_t p = 0; p < job.partitions(); ++p) {
    pb::PartitionStatus* s = info.add_partitions();
    s->set_job(job.spec().name());
    s->set_partition(p);
    s->set_offset(-1);
    s->set_watermark(kMinTime);
    s->set_lag(-1);
    auto owner = assignment.find(PartitionId(p));
    if (owner == assignment.end()) continue;
    reports_.Describe(owner->second, workers_.IsLive(owner->second.worker), s);
  }
  return info;
}

// ---- Partition discovery and assignment ----

void Coordinator::Discover(const DiscoveryAttempt& attempt, int64_t now_ms) {
  Result<TopicFound> found =
      discovery_->FindTopic(attempt.brokers, attempt.topic, attempt.properties, attempt.dead_letter_topic);
  if (found.ok() && found->partitions > 0 && !attempt.repartition_topic.empty()) {
    // A re-keyed job: stage 2 reads the repartition topic, made as large as
    // asked (by default as the source topic).
    const int32_t want = attempt.repartition_partitions > 0 ? attempt.repartition_partitions : found->partitions;
    auto repartition = discovery_->EnsureRepartitionTopic(attempt.brokers, attempt.repartition_topic, want,
                                                          found->replication, attempt.properties);
    if (!repartition.ok()) {
      found = repartition.status();
    } else if (*repartition <= 0) {
      found = Unavailable("the repartition topic \"" + attempt.repartition_topic + "\" reports no partitions");
    } else {
      found->repartition_partitions = *repartition;
    }
  }
  uint64_t version = 0;
  {
    weir::MutexLock lock(&mu_);
    ApplyDiscovery(attempt, found, now_ms);
    version = store_->version();
  }
  if (Status s = SyncState(version); !s.ok()) spdlog::error("job {}: {}", attempt.job, s.message());
}

void Coordinator::ApplyDiscovery(const DiscoveryAttempt& attempt, const Result<TopicFound>& found, int64_t now_ms) {
  auto it = discoveries_.find(attempt.job);
  // Cancelled, or submitted again, while the lookup ran: not ours to apply.
  if (it == discoveries_.end() || it->second.generation != attempt.generation) return;
  Discovery& d = it->second;
  d.in_flight = false;
  std::string error;
  if (!found.ok()) {
    error = found.status().message();
  } else if (found->partitions <= 0) {
    // Kafka never reports this for an existing topic; treat it as a failure rather than assign nothing.
    error = "topic \"" + attempt.topic + "\" reports " + std::to_string(found->partitions) + " partitions";
  }
  if (!error.empty()) {
    if (error != d.last_error) {
      spdlog::warn("job {}: partitions unknown, retrying every {} ms: {}", attempt.job, options_.discovery_retry_ms,
                   error);
      events_.Append(events::DiscoveryFailed(attempt.job, error), now_ms);
    }
    d.last_error = std::move(error);
    return;
  }
  // A re-keyed job's partitions are its stage-1 tasks (one per source
  // partition) and then its stage-2 tasks (one per repartition partition).
  const int32_t total = found->partitions + found->repartition_partitions;
  const int32_t* count = &total;
  const pb::JobRecord* job = store_->Find(attempt.job);
  if (job == nullptr || job->state() != pb::JOB_STATE_RUNNING) return;
  if (Status s = store_->SetSourcePartitions(attempt.job, found->repartition_partitions > 0 ? found->partitions : 0);
      !s.ok()) {
    d.last_error = s.message();
    return;
  }
  const Assignment previous = JobStore::AssignmentOf(*job);
  const Assignment next = now_ms < grace_until_ms_ ? previous : Assign(*count, workers_.Live(), previous);
  if (Status s = StoreAssignment(attempt.job, *count, previous, next, now_ms); !s.ok()) {
    spdlog::error("job {}: cannot store its {} partitions, retrying: {}", attempt.job, *count, s.message());
    d.last_error = s.message();
    return;
  }
  std::string summary = "topic \"" + attempt.topic + "\" at " + attempt.brokers + ": " +
                        std::to_string(found->partitions) + (found->partitions == 1 ? " partition" : " partitions");
  if (found->replication > 0) summary += ", replication factor " + std::to_string(found->replication);
  if (!found->dead_letters.empty()) summary += "; " + found->dead_letters;
  if (found->repartition_partitions > 0) {
    summary += "; re-keyed through \"" + attempt.repartition_topic + "\" (" +
               std::to_string(found->repartition_partitions) + " partitions): stage 1 is partitions 0-" +
               std::to_string(found->partitions - 1) + ", stage 2 partitions " + std::to_string(found->partitions) +
               "-" + std::to_string(total - 1);
  }
  spdlog::info("job {}: {}", attempt.job, summary);
  events_.Append(events::TopicFound(attempt.job, summary), now_ms);
  found_[attempt.job] = std::move(summary);
  discoveries_.erase(it);
}

void Coordinator::Rebalance(int64_t now_ms) {
  if (now_ms < grace_until_ms_) return;  // workers may still come back after a coordinator restart
  const std::vector<std::string> live = workers_.Live();
  for (const pb::JobRecord& job : store_->jobs()) {
    if (job.state() != pb::JOB_STATE_RUNNING || job.partitions() <= 0) continue;
    const Assignment previous = JobStore::AssignmentOf(job);
    const Assignment next = Assign(job.partitions(), live, previous);
    if (next == previous) continue;
    if (Status s = StoreAssignment(job.spec().name(), job.partitions(), previous, next, now_ms); !s.ok()) {
      spdlog::error("job {}: cannot store its new assignment (will retry): {}", job.spec().name(), s.message());
    }
  }
}

Status Coordinator::StoreAssignment(const std::string& job, int32_t partitions, const Assignment& previous,
                                    const Assignment& next, int64_t now_ms) {
  WEIR_RETURN_IF_ERROR(store_->SetAssignment(job, partitions, next));
  for (const Move& move : MovesBetween(previous, next)) {
    spdlog::info("job {} partition {}: {} -> {} (epoch {})", job, move.partition.value(),
                 move.from.empty() ? "-" : move.from, move.to, move.epoch.value());
    events_.Append(events::PartitionAssigned(job, move.partition, move.from, move.to, move.epoch), now_ms);
    ++partition_moves_;
    Nudge(move.to);  // it heartbeats at once for its new partition
    if (!move.from.empty()) Nudge(move.from);
  }
  return Status::Ok();
}

CoordinatorStats Coordinator::Stats() const {
  weir::MutexLock lock(&mu_);
  CoordinatorStats stats;
  for (const pb::JobRecord& job : store_->jobs()) ++stats.jobs[job.state()];
  for (const auto& [id, w] : workers_.all()) ++(w.alive ? stats.workers_alive : stats.workers_dead);
  stats.partition_moves = partition_moves_;
  stats.checkpoints_committed = checkpoints_.committed();
  stats.checkpoints_abandoned = checkpoints_.abandoned();
  stats.checkpoints_pending = checkpoints_.pending_count();
  stats.recent_commits.assign(checkpoints_.recent_commits().begin(), checkpoints_.recent_commits().end());
  return stats;
}

int64_t Coordinator::CheckpointsFinished() const {
  weir::MutexLock lock(&mu_);
  return checkpoints_.committed() + checkpoints_.abandoned();
}

}  // namespace weir::coordinator
