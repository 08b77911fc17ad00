#include "coordinator/coordinator.h"

#include <set>

#include <spdlog/spdlog.h>

#include "common/job_spec.h"
#include "common/types.h"

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

}  // namespace

Result<std::unique_ptr<Coordinator>> Coordinator::Open(const std::string& data_dir, PartitionDiscovery* discovery,
                                                       CoordinatorOptions options, int64_t now_ms) {
  auto store = JobStore::Open(data_dir);
  if (!store.ok()) return store.status();
  const int64_t grace_until = HasOwners(**store) ? SaturatingAdd(now_ms, options.worker_timeout_ms) : now_ms;
  std::unique_ptr<Coordinator> c(new Coordinator(std::move(*store), discovery, options, grace_until));
  std::lock_guard<std::mutex> lock(c->mu_);
  for (const pb::JobRecord& job : c->store_->List()) {
    if (job.state() == pb::JOB_STATE_RUNNING && job.partitions() == 0) {
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto job = store_->Submit(spec, now_ms);
    if (!job.ok()) return job.status();
    ForgetJob(spec.name());
    attempt.generation = next_generation_++;
    discoveries_[spec.name()] = Discovery{attempt.generation, now_ms + options_.discovery_retry_ms, true, ""};
    spdlog::info("job {} submitted (topic {} at {})", spec.name(), attempt.topic, attempt.brokers);
  }
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

  pb::HeartbeatResponse response;
  std::set<std::string> reported_jobs;
  for (const pb::JobRecord& job : store_->List()) {
    if (job.state() != pb::JOB_STATE_RUNNING) continue;
    bool has_any = false;
    for (const auto& a : job.assignment()) {
      if (a.worker() != id) continue;
      pb::Assignment* out = response.add_assignments();
      out->set_job(job.spec().name());
      out->set_partition(a.partition());
      out->set_epoch(a.epoch());
      out->set_restore_checkpoint(0);
      has_any = true;
    }
    if (has_any) *response.add_jobs() = job.spec();
    reported_jobs.insert(job.spec().name());
  }
  for (const pb::PartitionStatus& s : statuses) {
    if (reported_jobs.count(s.job()) == 0) continue;  // not a running job (any more)
    Report& r = reports_[{s.job(), s.partition()}];
    if (!r.worker.empty() && s.epoch() < r.status.epoch()) continue;  // an older owner's late word
    r.worker = id;
    r.status = s;
    r.status.set_owner(id);
    r.status.set_reported_at_ms(now_ms);
  }
  return response;
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
  return stats;
}

}  // namespace weir::coordinator
