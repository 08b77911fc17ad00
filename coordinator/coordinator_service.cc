#include "coordinator/coordinator_service.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "daemon/grpc_auth.h"
#include "daemon/grpc_util.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::coordinator {
namespace {

namespace pb = weir::v1;

// Trigger to commit, seconds: at least a heartbeat round (500 ms by default),
// at most the timeout (max(3 x interval, 30 s)) unless the interval is long.
// Who may read the coordinator's state (jobs, workers, events).
constexpr Roles kRead = Role::kAdmin | Role::kReader;

const std::vector<double> kCheckpointDurationBuckets = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300};

// Metadata values must be printable ASCII.
std::string Printable(const std::string& text) {
  std::string out = text.substr(0, 1024);
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

void AddPendingReason(const Coordinator& coordinator, const pb::JobInfo& job, grpc::ServerContext* context) {
  if (job.state() != pb::JOB_STATE_RUNNING || job.partitions_size() > 0) return;
  if (auto reason = coordinator.DiscoveryError(job.spec().name()); reason.has_value()) {
    context->AddTrailingMetadata(kPartitionsPendingKey, Printable(*reason));
  }
}

class JobServiceImpl final : public pb::JobService::Service {
 public:
  JobServiceImpl(Coordinator* coordinator, CoordinatorMetrics* metrics, Clock clock, const Authorizer* authorizer)
      : coordinator_(coordinator), metrics_(metrics), clock_(std::move(clock)), authorizer_(authorizer) {}

  grpc::Status SubmitJob(grpc::ServerContext* context, const pb::SubmitJobRequest* request,
                         pb::SubmitJobResponse* response) override {
    if (auto s = Authorize(authorizer_, context, Role::kAdmin, "JobService.SubmitJob"); !s.ok()) return s;
    auto job = coordinator_->SubmitJob(request->spec(), clock_());
    metrics_->Update(coordinator_->Stats());
    if (!job.ok()) return ToGrpcStatus(job.status());
    AddPendingReason(*coordinator_, *job, context);
    *response->mutable_job() = std::move(*job);
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext* context, const pb::GetJobRequest* request,
                      pb::GetJobResponse* response) override {
    if (auto s = Authorize(authorizer_, context, kRead, "JobService.GetJob"); !s.ok()) return s;
    if (request->name().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "a job name is required"};
    auto job = coordinator_->GetJob(request->name());
    if (!job.ok()) return ToGrpcStatus(job.status());
    AddPendingReason(*coordinator_, *job, context);
    *response->mutable_job() = std::move(*job);
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(grpc::ServerContext* context, const pb::ListJobsRequest*,
                        pb::ListJobsResponse* response) override {
    if (auto s = Authorize(authorizer_, context, kRead, "JobService.ListJobs"); !s.ok()) return s;
    for (auto& job : coordinator_->ListJobs()) *response->add_jobs() = std::move(job);
    return grpc::Status::OK;
  }

  grpc::Status CancelJob(grpc::ServerContext* context, const pb::CancelJobRequest* request,
                         pb::CancelJobResponse* response) override {
    if (auto s = Authorize(authorizer_, context, Role::kAdmin, "JobService.CancelJob"); !s.ok()) return s;
    if (request->name().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "a job name is required"};
    auto job = coordinator_->CancelJob(request->name(), clock_());
    metrics_->Update(coordinator_->Stats());
    if (!job.ok()) return ToGrpcStatus(job.status());
    *response->mutable_job() = std::move(*job);
    return grpc::Status::OK;
  }

  grpc::Status ListWorkers(grpc::ServerContext* context, const pb::ListWorkersRequest*,
                           pb::ListWorkersResponse* response) override {
    if (auto s = Authorize(authorizer_, context, kRead, "JobService.ListWorkers"); !s.ok()) return s;
    for (auto& worker : coordinator_->ListWorkers(clock_())) *response->add_workers() = std::move(worker);
    return grpc::Status::OK;
  }

  grpc::Status TriggerCheckpoint(grpc::ServerContext* context, const pb::TriggerCheckpointRequest* request,
                                 pb::TriggerCheckpointResponse* response) override {
    if (auto s = Authorize(authorizer_, context, Role::kAdmin, "JobService.TriggerCheckpoint"); !s.ok()) return s;
    if (request->name().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "a job name is required"};
    auto id = coordinator_->TriggerCheckpoint(request->name(), clock_());
    metrics_->Update(coordinator_->Stats());
    if (!id.ok()) return ToGrpcStatus(id.status());
    response->set_checkpoint(id->value());
    return grpc::Status::OK;
  }

  grpc::Status ListEvents(grpc::ServerContext* context, const pb::ListEventsRequest* request,
                          pb::ListEventsResponse* response) override {
    if (auto s = Authorize(authorizer_, context, kRead, "JobService.ListEvents"); !s.ok()) return s;
    if (request->limit() < 0) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "limit must be 0 (every kept event) or more"};
    }
    EventPage page =
        coordinator_->ListEvents(request->job(), request->after_seq(), static_cast<size_t>(request->limit()));
    response->mutable_events()->Reserve(static_cast<int>(page.events.size()));
    for (pb::ClusterEvent& e : page.events) *response->add_events() = std::move(e);
    response->set_last_seq(page.last_seq);
    return grpc::Status::OK;
  }

 private:
  Coordinator* coordinator_;
  CoordinatorMetrics* metrics_;
  Clock clock_;
  const Authorizer* authorizer_;
};

class ControlPlaneImpl final : public pb::ControlPlane::Service {
 public:
  ControlPlaneImpl(Coordinator* coordinator, CoordinatorMetrics* metrics, Clock clock, const Authorizer* authorizer)
      : coordinator_(coordinator), metrics_(metrics), clock_(std::move(clock)), authorizer_(authorizer) {}

  grpc::Status RegisterWorker(grpc::ServerContext* context, const pb::RegisterWorkerRequest* request,
                              pb::RegisterWorkerResponse* response) override {
    if (auto s = AuthorizeWorker(authorizer_, context, request->worker_id(), "ControlPlane.RegisterWorker"); !s.ok()) {
      return s;
    }
    auto r = coordinator_->RegisterWorker(request->worker_id(), request->address(), clock_());
    metrics_->Update(coordinator_->Stats());
    if (!r.ok()) return ToGrpcStatus(r.status());
    *response = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* context, const pb::HeartbeatRequest* request,
                         pb::HeartbeatResponse* response) override {
    if (auto s = AuthorizeWorker(authorizer_, context, request->worker_id(), "ControlPlane.Heartbeat"); !s.ok()) {
      return s;
    }
    metrics_->CountHeartbeat();
    auto r = coordinator_->Heartbeat(request->worker_id(), {request->partitions().begin(), request->partitions().end()},
                                     clock_(), {request->specs().begin(), request->specs().end()});
    if (!r.ok()) return ToGrpcStatus(r.status());
    *response = std::move(*r);
    // A heartbeat may commit (or fail to commit) a checkpoint: only then are
    // the metrics worth refreshing here (Stats() costs O(jobs); the ticker
    // refreshes them every 250 ms anyway).
    const int64_t finished = coordinator_->CheckpointsFinished();
    if (finished != checkpoints_finished_.exchange(finished)) metrics_->Update(coordinator_->Stats());
    return grpc::Status::OK;
  }

  grpc::Status LeaveWorker(grpc::ServerContext* context, const pb::LeaveWorkerRequest* request,
                           pb::LeaveWorkerResponse*) override {
    if (auto s = AuthorizeWorker(authorizer_, context, request->worker_id(), "ControlPlane.LeaveWorker"); !s.ok()) {
      return s;
    }
    if (request->worker_id().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "worker_id is required"};
    const Status s = coordinator_->LeaveWorker(request->worker_id(),
                                               {request->handoffs().begin(), request->handoffs().end()}, clock_());
    metrics_->Update(coordinator_->Stats());
    return ToGrpcStatus(s);
  }

  // Held open while the worker lives: its end (the worker's process gone, or
  // its connection) declares the worker lost at once (Coordinator::CloseWatch).
  // A nudge is written as soon as its assignments change, a keepalive every
  // second (a write to a dead peer fails, ending the stream too).
  grpc::Status Watch(grpc::ServerContext* context, const pb::WatchRequest* request,
                     grpc::ServerWriter<pb::WatchEvent>* writer) override {
    if (auto s = AuthorizeWorker(authorizer_, context, request->worker_id(), "ControlPlane.Watch"); !s.ok()) return s;
    const std::string& id = request->worker_id();
    auto watch = coordinator_->OpenWatch(id);
    if (!watch.ok()) return ToGrpcStatus(watch.status());
    auto keepalive_at = std::chrono::steady_clock::now() + kWatchKeepalive;
    while (!context->IsCancelled()) {
      // Short waits: a cancelled call is noticed within one.
      const Coordinator::WatchWait waited = coordinator_->AwaitNudge(id, *watch, absl::Milliseconds(20));
      if (waited == Coordinator::WatchWait::kEnded) return grpc::Status::OK;  // replaced, lost, or stopping
      const auto now = std::chrono::steady_clock::now();
      if (waited == Coordinator::WatchWait::kTimedOut && now < keepalive_at) continue;
      pb::WatchEvent event;
      event.set_nudge(waited == Coordinator::WatchWait::kNudged);
      if (!writer->Write(event)) break;
      keepalive_at = now + kWatchKeepalive;
    }
    coordinator_->CloseWatch(id, *watch, clock_());
    metrics_->Update(coordinator_->Stats());
    return grpc::Status::OK;
  }

 private:
  static constexpr auto kWatchKeepalive = std::chrono::seconds(1);

  Coordinator* coordinator_;
  CoordinatorMetrics* metrics_;
  Clock clock_;
  const Authorizer* authorizer_;
  std::atomic<int64_t> checkpoints_finished_{0};  // CheckpointsFinished() when the metrics were last refreshed here
};

}  // namespace

CoordinatorServices MakeCoordinatorServices(Coordinator* coordinator, CoordinatorMetrics* metrics, Clock clock,
                                            const Authorizer* authorizer) {
  CoordinatorServices s;
  s.jobs = std::make_unique<JobServiceImpl>(coordinator, metrics, clock, authorizer);
  s.control = std::make_unique<ControlPlaneImpl>(coordinator, metrics, std::move(clock), authorizer);
  return s;
}

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry* registry) {
  if (registry == nullptr) return;
  auto& jobs = prometheus::BuildGauge().Name("weir_coordinator_jobs").Help("Jobs by state").Register(*registry);
  jobs_running_ = &jobs.Add({{"state", "running"}});
  jobs_cancelled_ = &jobs.Add({{"state", "cancelled"}});
  jobs_failed_ = &jobs.Add({{"state", "failed"}});
  auto& workers = prometheus::BuildGauge()
                      .Name("weir_coordinator_workers")
                      .Help("Registered workers: alive (heartbeating) or dead (timed out, not yet forgotten)")
                      .Register(*registry);
  workers_alive_ = &workers.Add({{"state", "alive"}});
  workers_dead_ = &workers.Add({{"state", "dead"}});
  moves_ = &prometheus::BuildCounter()
                .Name("weir_coordinator_partition_moves_total")
                .Help("Partitions given a new owner (each with a higher epoch)")
                .Register(*registry)
                .Add({});
  heartbeats_ = &prometheus::BuildCounter()
                     .Name("weir_coordinator_heartbeats_total")
                     .Help("Heartbeat calls received from workers")
                     .Register(*registry)
                     .Add({});
  checkpoints_committed_ = &prometheus::BuildCounter()
                                .Name("weir_coordinator_checkpoints_committed_total")
                                .Help("Checkpoints committed (every partition acknowledged, _metadata written)")
                                .Register(*registry)
                                .Add({});
  checkpoints_abandoned_ = &prometheus::BuildCounter()
                                .Name("weir_coordinator_checkpoints_abandoned_total")
                                .Help("Checkpoints abandoned: not acknowledged in time, or their commit failed")
                                .Register(*registry)
                                .Add({});
  checkpoints_pending_ = &prometheus::BuildGauge()
                              .Name("weir_coordinator_checkpoints_pending")
                              .Help("Jobs with a triggered checkpoint not yet committed")
                              .Register(*registry)
                              .Add({});
  checkpoint_duration_ = &prometheus::BuildHistogram()
                              .Name("weir_coordinator_checkpoint_duration_seconds")
                              .Help("Committed checkpoints, per job: seconds from the trigger to the commit")
                              .Register(*registry);
  checkpoint_size_ = &prometheus::BuildGauge()
                          .Name("weir_coordinator_checkpoint_size_bytes")
                          .Help("The last committed checkpoint of each job: its partitions' snapshots, bytes")
                          .Register(*registry);
}

void CoordinatorMetrics::CountHeartbeat() {
  if (heartbeats_ != nullptr) heartbeats_->Increment();
}

void CoordinatorMetrics::Update(const CoordinatorStats& stats) {
  if (moves_ == nullptr) return;
  auto count = [&](pb::JobState state) {
    auto it = stats.jobs.find(state);
    return it == stats.jobs.end() ? 0.0 : static_cast<double>(it->second);
  };
  jobs_running_->Set(count(pb::JOB_STATE_RUNNING));
  jobs_cancelled_->Set(count(pb::JOB_STATE_CANCELLED));
  jobs_failed_->Set(count(pb::JOB_STATE_FAILED));
  workers_alive_->Set(static_cast<double>(stats.workers_alive));
  workers_dead_->Set(static_cast<double>(stats.workers_dead));
  checkpoints_pending_->Set(static_cast<double>(stats.checkpoints_pending));
  // Stats count since start; the counters catch up (callers race, so never step back).
  std::lock_guard<std::mutex> lock(counters_mu_);
  auto catch_up = [](prometheus::Counter* counter, int64_t total) {
    const double behind = static_cast<double>(total) - counter->Value();
    if (behind > 0) counter->Increment(behind);
  };
  catch_up(moves_, stats.partition_moves);
  catch_up(checkpoints_committed_, stats.checkpoints_committed);
  catch_up(checkpoints_abandoned_, stats.checkpoints_abandoned);
  for (const CommittedCheckpoint& c : stats.recent_commits) {
    if (c.seq <= commits_seen_) continue;
    commits_seen_ = c.seq;
    const prometheus::Labels labels = {{"job", c.job}};
    checkpoint_duration_->Add(labels, kCheckpointDurationBuckets).Observe(static_cast<double>(c.duration_ms) / 1000.0);
    checkpoint_size_->Add(labels).Set(static_cast<double>(c.bytes));
  }
}

}  // namespace weir::coordinator
