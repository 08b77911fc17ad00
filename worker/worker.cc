#include "worker/worker.h"

#include <filesystem>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "daemon/grpc_util.h"
#include "daemon/http_status_server.h"
#include "spec/spec_hash.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::worker {
namespace {

namespace pb = weir::v1;
constexpr auto kRpcTimeout = std::chrono::seconds(5);
const prometheus::Histogram::BucketBoundaries kRowLatencyBuckets = {
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5, 10};

std::chrono::system_clock::time_point Deadline() { return std::chrono::system_clock::now() + kRpcTimeout; }

}  // namespace

// Per-partition series and the worker-wide ones. Counters advance by the
// difference since the last update, as the PartitionCounters are cumulative.
struct Worker::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : records_in(prometheus::BuildCounter()
                       .Name("weir_worker_records_in_total")
                       .Help("Records consumed, per partition (dead letters included)")
                       .Register(r)),
        rows_out(prometheus::BuildCounter()
                     .Name("weir_worker_rows_out_total")
                     .Help("Feature rows acknowledged by the feature store, per partition")
                     .Register(r)),
        dead_letters(prometheus::BuildCounter()
                         .Name("weir_worker_dead_letters_total")
                         .Help("Records sent to the dead-letter topic, per partition and reason")
                         .Register(r)),
        watermark(prometheus::BuildGauge()
                      .Name("weir_worker_watermark_ms")
                      .Help("Event-time watermark per partition, ms since the Unix epoch (absent before any record)")
                      .Register(r)),
        lag(prometheus::BuildGauge()
                .Name("weir_worker_consumer_lag")
                .Help("Records between the partition's end and the next offset to read (-1 unknown)")
                .Register(r)),
        partitions(prometheus::BuildGauge()
                       .Name("weir_worker_partitions")
                       .Help("Partitions this worker owns")
                       .Register(r)
                       .Add({})),
        row_latency(prometheus::BuildHistogram()
                        .Name("weir_worker_row_ack_latency_seconds")
                        .Help("From a window firing (the watermark passing its end) to the store acknowledging the "
                              "row durable and readable, per job")
                        .Register(r)),
        sink_retries(prometheus::BuildCounter()
                         .Name("weir_worker_sink_retries_total")
                         .Help("Feature-store writes retried after a failure")
                         .Register(r)
                         .Add({})),
        fenced_batches(prometheus::BuildCounter()
                           .Name("weir_worker_sink_fenced_batches_total")
                           .Help("Write batches the store refused for a stale epoch")
                           .Register(r)
                           .Add({})),
        pending_bytes_family(prometheus::BuildGauge()
                                 .Name("weir_worker_sink_pending_bytes")
                                 .Help("Rows waiting for the feature store, bytes (bounded: backpressure)")
                                 .Register(r)),
        heartbeat_failures(prometheus::BuildCounter()
                               .Name("weir_worker_heartbeat_failures_total")
                               .Help("Heartbeats the coordinator did not answer")
                               .Register(r)
                               .Add({})),
        checkpoint_failures(prometheus::BuildCounter()
                                .Name("weir_worker_checkpoint_write_failures_total")
                                .Help("Snapshot files that could not be written (the checkpoint is abandoned)")
                                .Register(r)
                                .Add({})),
        restores(&r) {}

  struct PartitionSeries {
    prometheus::Counter* records_in;
    prometheus::Counter* rows_out;
    std::array<prometheus::Counter*, 4> dead_letters;
    prometheus::Gauge* watermark;
    prometheus::Gauge* lag;
    int64_t last_records_in = 0, last_rows_out = 0;
    std::array<int64_t, 4> last_dead{};
  };

  PartitionSeries& SeriesFor(const PartitionCounters& c) {
    auto key = std::make_pair(c.job, c.partition);
    auto it = series.find(key);
    if (it != series.end()) return it->second;
    const std::map<std::string, std::string> labels = {{"job", c.job}, {"partition", std::to_string(c.partition)}};
    PartitionSeries s{};
    s.records_in = &records_in.Add(labels);
    s.rows_out = &rows_out.Add(labels);
    for (int r = 0; r < 4; ++r) {
      auto l = labels;
      l["reason"] = engine::DeadLetterReasonName(static_cast<engine::DeadLetterReason>(r));
      s.dead_letters[static_cast<size_t>(r)] = &dead_letters.Add(l);
    }
    s.watermark = &watermark.Add(labels);
    s.lag = &lag.Add(labels);
    return series.emplace(key, s).first->second;
  }

  // The counters of a partition (re)started at a new epoch begin at zero.
  void Restart(const PartitionCounters& c) {
    auto it = series.find({c.job, c.partition});
    if (it == series.end()) return;
    it->second.last_records_in = it->second.last_rows_out = 0;
    it->second.last_dead = {};
  }

  void Update(const PartitionCounters& c) {
    PartitionSeries& s = SeriesFor(c);
    auto advance = [](prometheus::Counter* counter, int64_t now, int64_t* last) {
      if (now > *last) counter->Increment(static_cast<double>(now - *last));
      *last = now;
    };
    advance(s.records_in, c.records_in.load(), &s.last_records_in);
    advance(s.rows_out, c.rows_acked.load(), &s.last_rows_out);
    for (size_t r = 0; r < 4; ++r) advance(s.dead_letters[r], c.dead_letters[r].load(), &s.last_dead[r]);
    const int64_t w = c.watermark.load();
    s.watermark->Set(w == kMinTime ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(w));
    s.lag->Set(static_cast<double>(c.lag()));
  }

  void Remove(const std::string& job, int32_t partition) {
    auto it = series.find({job, partition});
    if (it == series.end()) return;
    records_in.Remove(it->second.records_in);
    rows_out.Remove(it->second.rows_out);
    for (auto* d : it->second.dead_letters) dead_letters.Remove(d);
    watermark.Remove(it->second.watermark);
    lag.Remove(it->second.lag);
    series.erase(it);
  }

  prometheus::Family<prometheus::Counter>& records_in;
  prometheus::Family<prometheus::Counter>& rows_out;
  prometheus::Family<prometheus::Counter>& dead_letters;
  prometheus::Family<prometheus::Gauge>& watermark;
  prometheus::Family<prometheus::Gauge>& lag;
  prometheus::Gauge& partitions;
  prometheus::Family<prometheus::Histogram>& row_latency;  // by job
  prometheus::Counter& sink_retries;
  prometheus::Counter& fenced_batches;
  prometheus::Family<prometheus::Gauge>& pending_bytes_family;
  prometheus::Counter& heartbeat_failures;
  prometheus::Counter& checkpoint_failures;
  RestoreMetrics restores;
  std::map<std::pair<std::string, int32_t>, PartitionSeries> series;
};

struct Worker::Control {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<pb::ControlPlane::Stub> stub;
  std::unique_ptr<HttpStatusServer> http;
  std::atomic<int64_t> last_heartbeat_ok_ms{0};
};

Worker::Worker(WorkerOptions options) : options_(std::move(options)), control_(std::make_unique<Control>()) {
  metrics_ = std::make_unique<Metrics>(*control_->registry);
}

Worker::~Worker() { Stop(); }

std::string Worker::metrics_address() const { return control_->http ? control_->http->address() : ""; }

Status Worker::Start() {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return InvalidArgument("cannot create --data-dir \"" + options_.data_dir + "\": " + ec.message());

  // Reconnects within a second of a restarted coordinator, inside its grace period.
  control_->stub = pb::ControlPlane::NewStub(MakeChannel(options_.coordinator));

  // Ready while registered and heartbeats are answered.
  control_->http = std::make_unique<HttpStatusServer>(control_->registry, [this] {
    return registered_.load() &&
           WallClockMs() - control_->last_heartbeat_ok_ms.load() < 4 * heartbeat_interval_ms_.load();
  });
  WEIR_RETURN_IF_ERROR(control_->http->Start(options_.metrics_listen));

  checkpoint_writer_ = std::make_unique<CheckpointWriter>(&metrics_->checkpoint_failures);
  checkpoint_writer_->Start();
  ProcessingOptions processing;
  processing.client_id = "weir-worker-" + options_.id;
  processing.restores = &metrics_->restores;
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.push_back(std::make_unique<ProcessingThread>(i, processing));
    threads_.back()->Start();
  }
  control_thread_ = std::thread([this] { ControlLoop(); });
  return Status::Ok();
}

void Worker::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (control_thread_.joinable()) control_thread_.join();
  // Partitions stop at a record boundary and write their handoff snapshots;
  // the writers then get the shutdown timeout to deliver the last rows.
  std::vector<HandoffSnapshot> handoffs;
  for (auto& t : threads_) {
    for (HandoffSnapshot& h : t->StopWithHandoff()) handoffs.push_back(std::move(h));
  }
  threads_.clear();
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  for (auto& [address, sink] : sinks_) sink->Stop(deadline);
  if (checkpoint_writer_) checkpoint_writer_->Stop();
  if (control_->stub && registered_.load()) Leave(handoffs);
  for (auto& [brokers, producer] : dead_letters_) producer->Flush(options_.shutdown_timeout);
  if (control_->http) control_->http->Stop();
}

void Worker::Leave(const std::vector<HandoffSnapshot>& handoffs) {
  pb::LeaveWorkerRequest request;
  request.set_worker_id(options_.id);
  size_t incomplete = 0;
  for (const HandoffSnapshot& h : handoffs) {
    if (h.counters->fenced.load() || h.counters->rows_acked.load() < h.rows_emitted_at) {
      ++incomplete;  // its rows are not all in the store: the next owner resumes from the last checkpoint
      continue;
    }
    pb::PartitionStatus* s = request.add_handoffs();
    s->set_job(h.job);
    s->set_partition(h.partition);
    s->set_epoch(h.epoch);
    s->set_owner(options_.id);
    *s->mutable_snapshot() = h.ref;
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  pb::LeaveWorkerResponse response;
  const grpc::Status s = control_->stub->LeaveWorker(&context, request, &response);
  if (!s.ok()) {
    spdlog::warn(
        "could not tell the coordinator this worker leaves (gRPC code {}: {}); its partitions move after the "
        "heartbeat timeout and resume from their last checkpoint",
        static_cast<int>(s.error_code()), s.error_message());
    return;
  }
  spdlog::info("left the coordinator: {} partitions handed off at their snapshots, {} from their last checkpoint",
               request.handoffs_size(), incomplete);
}

Status Worker::Register() {
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  pb::RegisterWorkerRequest request;
  request.set_worker_id(options_.id);
  request.set_address(options_.listen.empty() ? metrics_address() : options_.listen);
  pb::RegisterWorkerResponse response;
  const grpc::Status s = control_->stub->RegisterWorker(&context, request, &response);
  if (!s.ok()) {
    return Unavailable("cannot register with the coordinator at " + options_.coordinator + " (" + s.error_message() +
                       "): is weir-coordinator running there? set --coordinator or WEIR_COORDINATOR");
  }
  if (response.heartbeat_interval_ms() > 0) heartbeat_interval_ms_.store(response.heartbeat_interval_ms());
  registered_.store(true);
  spdlog::info("registered with the coordinator at {} as {} (heartbeat every {} ms)", options_.coordinator, options_.id,
               heartbeat_interval_ms_.load());
  return Status::Ok();
}

Status Worker::Heartbeat() {
  pb::HeartbeatRequest request;
  request.set_worker_id(options_.id);
  for (auto& [id, running] : running_) {
    PartitionCounters& c = *running.counters;
    pb::PartitionStatus* s = request.add_partitions();
    s->set_job(c.job);
    s->set_partition(c.partition);
    s->set_owner(options_.id);
    s->set_epoch(c.epoch);
    s->set_offset(c.next_offset.load());
    s->set_watermark(c.watermark.load());
    s->set_lag(c.lag());
    s->set_rows_out(c.rows_acked.load());
    s->set_records_in(c.records_in.load());
    s->set_dead_letters(c.dead_letters_total());
    if (auto snapshot = running.counters->ReportableSnapshot()) *s->mutable_snapshot() = *snapshot;
  }
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  pb::HeartbeatResponse response;
  const grpc::Status s = control_->stub->Heartbeat(&context, request, &response);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    registered_.store(false);  // the coordinator forgot us (restarted, or declared us dead)
    return NotFound(s.error_message());
  }
  if (!s.ok()) return Unavailable(s.error_message());
  control_->last_heartbeat_ok_ms.store(WallClockMs());

  std::map<std::string, std::shared_ptr<const JobRuntime>> jobs;
  for (const pb::JobSpec& spec : response.jobs()) {
    // Every heartbeat carries the specs; a plan is compiled only when one is new or changed.
    auto known = jobs_.find(spec.name());
    if (known != jobs_.end() && known->second->spec_hash == SpecHash(spec)) {
      jobs[spec.name()] = known->second;
      continue;
    }
    auto runtime = MakeJobRuntime(spec);
    if (!runtime.ok()) {
      spdlog::error("job {}: the coordinator's spec does not compile here: {}", spec.name(),
                    runtime.status().message());
      continue;
    }
    jobs[spec.name()] = *runtime;
  }
  Reconcile({response.assignments().begin(), response.assignments().end()}, jobs);
  jobs_ = std::move(jobs);
  for (const pb::CheckpointTrigger& t : response.checkpoints()) RequestCheckpoint(t.job(), t.checkpoint());
  return Status::Ok();
}

void Worker::StopPartition(const PartitionId& id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  it->second.thread->Remove(id.first, id.second);
  metrics_->Remove(id.first, id.second);
  running_.erase(it);
}

void Worker::RequestCheckpoint(const std::string& job, uint64_t id) {
  for (auto& [pid, running] : running_) {
    if (pid.first != job || running.counters->checkpoint_requested >= id) continue;
    running.counters->checkpoint_requested = id;
    running.thread->Checkpoint(job, pid.second, id);
  }
}

void Worker::Reconcile(const std::vector<weir::v1::Assignment>& assigned,
                       const std::map<std::string, std::shared_ptr<const JobRuntime>>& jobs) {
  std::map<PartitionId, const weir::v1::Assignment*> desired;
  for (const pb::Assignment& a : assigned) desired[{a.job(), a.partition()}] = &a;

  // Stop what was lost, moved to a new epoch, fenced, or whose spec changed.
  std::vector<PartitionId> stop;
  for (const auto& [id, running] : running_) {
    auto want = desired.find(id);
    auto job = jobs.find(id.first);
    if (running.counters->fenced.load()) {
      fenced_.emplace(id.first, id.second, running.epoch);
      stop.push_back(id);
    } else if (want == desired.end() || want->second->epoch() != running.epoch || job == jobs.end() ||
               job->second->spec_hash != running.job->spec_hash) {
      stop.push_back(id);
    }
  }
  for (const PartitionId& id : stop) StopPartition(id);

  for (const auto& [id, assignment] : desired) {
    const uint64_t epoch = assignment->epoch();
    if (running_.count(id) != 0 || fenced_.count({id.first, id.second, epoch}) != 0) continue;
    auto job = jobs.find(id.first);
    if (job == jobs.end()) continue;  // its spec did not compile (logged)
    auto producer = DeadLettersFor(job->second->spec.source().kafka().brokers());
    if (!producer.ok()) {
      spdlog::error("job {} partition {}: {}", id.first, id.second, producer.status().message());
      continue;
    }
    ProcessingThread* thread = threads_.front().get();
    for (auto& t : threads_) {
      if (t->load() < thread->load()) thread = t.get();
    }
    auto counters = std::make_shared<PartitionCounters>(id.first, id.second, epoch);
    metrics_->Restart(*counters);
    PartitionGrant grant{job->second,
                         id.second,
                         epoch,
                         SinkFor(job->second->sink_address),
                         *producer,
                         counters,
                         checkpoint_writer_.get(),
                         {assignment->restore_from().begin(), assignment->restore_from().end()}};
    thread->Add(std::move(grant));
    running_[id] = Running{job->second, epoch, thread, counters};
  }
  metrics_->partitions.Set(static_cast<double>(running_.size()));
}

SinkWriter* Worker::SinkFor(const std::string& address) {
  auto it = sinks_.find(address);
  if (it != sinks_.end()) return it->second.get();
  SinkWriterOptions options;
  options.max_pending_bytes = options_.max_pending_bytes;
  SinkWriterMetrics metrics;
  metrics.row_latency = &metrics_->row_latency;
  metrics.row_latency_buckets = kRowLatencyBuckets;
  metrics.retries = &metrics_->sink_retries;
  metrics.fenced_batches = &metrics_->fenced_batches;
  metrics.pending_bytes = &metrics_->pending_bytes_family.Add({{"store", address}});
  auto sink = std::make_unique<SinkWriter>(address, options, metrics);
  sink->Start();
  return sinks_.emplace(address, std::move(sink)).first->second.get();
}

Result<DeadLetterProducer*> Worker::DeadLettersFor(const std::string& brokers) {
  auto it = dead_letters_.find(brokers);
  if (it != dead_letters_.end()) return it->second.get();
  auto producer = DeadLetterProducer::Create(brokers, "weir-worker-" + options_.id + "-dlq");
  if (!producer.ok()) return producer.status();
  return dead_letters_.emplace(brokers, std::move(*producer)).first->second.get();
}

void Worker::UpdateMetrics() {
  for (auto& [id, running] : running_) metrics_->Update(*running.counters);
}

void Worker::ControlLoop() {
  auto backoff = std::chrono::milliseconds(100);
  auto last_error_log = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  for (;;) {
    const bool was_registered = registered_.load();
    Status s = was_registered ? Heartbeat() : Register();
    if (s.ok() && !was_registered) continue;  // heartbeat at once for the first assignments
    if (s.ok() && registered_.load()) {
      backoff = std::chrono::milliseconds(100);
    } else if (s.code() == StatusCode::kNotFound) {
      spdlog::warn("the coordinator does not know this worker ({}); registering again", s.message());
      backoff = std::chrono::milliseconds(0);
    } else if (!s.ok()) {
      metrics_->heartbeat_failures.Increment();
      if (std::chrono::steady_clock::now() - last_error_log >= std::chrono::seconds(10)) {
        last_error_log = std::chrono::steady_clock::now();
        spdlog::warn("coordinator {}: {} (retrying; owned partitions keep running)", options_.coordinator, s.message());
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
    UpdateMetrics();
    const auto wait = registered_.load() && s.ok() ? std::chrono::milliseconds(heartbeat_interval_ms_.load()) : backoff;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [&] { return stop_; })) break;
  }
  UpdateMetrics();
}

}  // namespace weir::worker
