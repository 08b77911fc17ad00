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
#include "spec/kafka_properties.h"
#include "weir/v1/services.grpc.pb.h"
#include "worker/kafka_partition_source.h"
#include "worker/worker_metrics.h"

namespace weir::worker {
namespace {

namespace pb = weir::v1;
constexpr auto kRpcTimeout = std::chrono::seconds(5);
const prometheus::Histogram::BucketBoundaries kRowLatencyBuckets = {
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 2, 5, 10};

std::chrono::system_clock::time_point Deadline() { return std::chrono::system_clock::now() + kRpcTimeout; }

}  // namespace

struct Worker::Control {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<pb::ControlPlane::Stub> stub;
  std::unique_ptr<HttpStatusServer> http;
  std::atomic<int64_t> last_heartbeat_ok_ms{0};
  // The open watch stream's context, to cancel it at the end of Stop().
  weir::Mutex watch_mu;
  grpc::ClientContext* watch ABSL_GUARDED_BY(watch_mu) = nullptr;
  bool watch_ended ABSL_GUARDED_BY(watch_mu) = false;  // no stream opens any more
};

Worker::Worker(WorkerOptions options) : options_(std::move(options)), control_(std::make_unique<Control>()) {
  metrics_ = std::make_unique<WorkerMetrics>(*control_->registry);
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
  control_->http = std::make_unique<HttpStatusServer>(
      control_->registry,
      [this] {
        return registered_.load() &&
               WallClockMs() - control_->last_heartbeat_ok_ms.load() < 4 * heartbeat_interval_ms_.load();
      },
      options_.metrics_tls);
  WEIR_RETURN_IF_ERROR(control_->http->Start(options_.metrics_listen));

  checkpoint_writer_ = std::make_unique<CheckpointWriter>(&metrics_->checkpoint_failures);
  checkpoint_writer_->Start();
  ProcessingOptions processing;
  processing.sources =
      options_.sources ? options_.sources : KafkaSourceFactory(KafkaSourceOptions{"weir-worker-" + options_.id});
  processing.restores = &metrics_->restores;
  std::vector<ProcessingThread*> threads;
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.push_back(std::make_unique<ProcessingThread>(i, processing));
    threads_.back()->Start();
    threads.push_back(threads_.back().get());
  }
  reconciler_ =
      std::make_unique<Reconciler>(std::move(threads), static_cast<OutputDirectory*>(this), checkpoint_writer_.get());
  control_thread_ = std::thread([this] { ControlLoop(); });
  watch_thread_ = std::thread([this] { WatchLoop(); });
  return Status::Ok();
}

void Worker::Stop() {
  {
    weir::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_ = true;
  }
  if (control_thread_.joinable()) control_thread_.join();
  // Partitions stop at a record boundary and write their handoff snapshots;
  // the writers then get the shutdown timeout to deliver the last rows.
  std::vector<HandoffSnapshot> handoffs;
  for (auto& t : threads_) {
    for (HandoffSnapshot& h : t->StopWithHandoff()) handoffs.push_back(std::move(h));
  }
  reconciler_.reset();  // it points at the threads
  threads_.clear();
  const auto deadline = std::chrono::steady_clock::now() + options_.shutdown_timeout;
  for (auto& [address, sink] : sinks_) sink->Stop(deadline);
  if (checkpoint_writer_) checkpoint_writer_->Stop();
  if (control_->stub && registered_.load()) Leave(handoffs);
  // Only now, once left: the stream's end would otherwise declare this
  // worker lost and move its partitions without their handoff snapshots.
  {
    weir::MutexLock lock(&control_->watch_mu);
    control_->watch_ended = true;
    if (control_->watch != nullptr) control_->watch->TryCancel();
  }
  if (watch_thread_.joinable()) watch_thread_.join();
  for (auto& [brokers, producer] : dead_letters_) producer->Flush(options_.shutdown_timeout);
  if (control_->http) control_->http->Stop();
}

void Worker::Leave(const std::vector<HandoffSnapshot>& handoffs) {
  pb::LeaveWorkerRequest request;
  request.set_worker_id(options_.id);
  size_t incomplete = 0;
  for (const HandoffSnapshot& h : handoffs) {
    if (h.counters->fenced.load() || h.counters->rows_settled() < h.rows_emitted_at) {
      ++incomplete;  // its rows are not all in the store: the next owner resumes from the last checkpoint
      continue;
    }
    pb::PartitionStatus* s = request.add_handoffs();
    s->set_job(h.job);
    s->set_partition(h.partition.value());
    s->set_epoch(h.epoch.value());
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
  if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    // Another live process holds this id: run nothing, and keep asking (a
    // restarted worker gets in once its old process misses its heartbeats).
    return FromGrpcStatus(s);
  }
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
  reconciler_->Report(options_.id, &request);
  for (pb::JobSpecRef& ref : jobs_.Refs()) *request.add_specs() = std::move(ref);
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

  jobs_.Update(response);
  reconciler_->Reconcile({response.assignments().begin(), response.assignments().end()}, jobs_);
  for (const pb::CheckpointTrigger& t : response.checkpoints()) {
    reconciler_->RequestCheckpoint(t.job(), CheckpointId(t.checkpoint()));
  }
  return Status::Ok();
}

RowOutput* Worker::RowsTo(const std::string& address) {
  auto it = sinks_.find(address);
  if (it != sinks_.end()) return it->second.get();
  SinkWriterOptions options;
  options.max_pending_bytes = options_.max_pending_bytes;
  options.max_message_bytes = options_.max_message_bytes;
  SinkWriterMetrics metrics;
  metrics.row_latency = &metrics_->row_latency;
  metrics.row_latency_buckets = kRowLatencyBuckets;
  metrics.retries = &metrics_->sink_retries;
  metrics.fenced_batches = &metrics_->fenced_batches;
  metrics.refused_rows = &metrics_->sink_refused_rows;
  metrics.dropped_rows = &metrics_->sink_dropped_rows;
  metrics.pending_bytes = &metrics_->pending_bytes.Add({{"store", address}});
  auto sink = std::make_unique<SinkWriter>(address, options, metrics);
  sink->Start();
  return sinks_.emplace(address, std::move(sink)).first->second.get();
}

Result<DeadLetterOutput*> Worker::DeadLettersTo(const weir::v1::KafkaSource& source) {
  // References are resolved on every grant, so a corrected secret makes a
  // new producer; one producer per brokers and resolved settings (the key
  // stays in memory, never logged).
  auto settings = spec::ResolveKafkaProperties(source.properties());
  if (!settings.ok()) return InvalidArgument("dead-letter producer: " + settings.status().message());
  std::string key = source.brokers();
  for (const auto& [name, value] : *settings) key.append("\n").append(name).append("=").append(value);
  auto it = dead_letters_.find(key);
  if (it != dead_letters_.end()) return static_cast<DeadLetterOutput*>(it->second.get());
  auto producer = DeadLetterProducer::Create(source.brokers(), "weir-worker-" + options_.id + "-dlq", *settings,
                                             &metrics_->dead_letters_truncated, &metrics_->dead_letter_delivery_errors);
  if (!producer.ok()) return producer.status();
  return static_cast<DeadLetterOutput*>(dead_letters_.emplace(key, std::move(*producer)).first->second.get());
}

void Worker::WatchLoop() {
  for (;;) {
    {
      weir::MutexLock lock(&control_->watch_mu);
      if (control_->watch_ended) return;
    }
    if (registered_.load()) {
      grpc::ClientContext context;
      {
        weir::MutexLock lock(&control_->watch_mu);
        if (control_->watch_ended) return;
        control_->watch = &context;
      }
      pb::WatchRequest request;
      request.set_worker_id(options_.id);
      std::unique_ptr<grpc::ClientReader<pb::WatchEvent>> reader = control_->stub->Watch(&context, request);
      pb::WatchEvent event;
      while (reader->Read(&event)) {
        if (!event.nudge()) continue;  // a keepalive
        weir::MutexLock lock(&mu_);
        nudged_ = true;
      }
      const grpc::Status s = reader->Finish();
      weir::MutexLock lock(&control_->watch_mu);
      control_->watch = nullptr;
      if (!s.ok() && !control_->watch_ended) {
        spdlog::debug("watch stream to the coordinator ended: {} (reopening)", s.error_message());
      }
    }
    // Not registered yet, or the stream ended (a coordinator restart, or
    // this worker declared lost): again shortly.
    weir::MutexLock lock(&control_->watch_mu);
    if (control_->watch_mu.AwaitWithTimeout(absl::Condition(&control_->watch_ended), absl::Milliseconds(50))) return;
  }
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
    } else if (s.code() == StatusCode::kAlreadyExists) {
      metrics_->heartbeat_failures.Increment();
      if (std::chrono::steady_clock::now() - last_error_log >= std::chrono::seconds(10)) {
        last_error_log = std::chrono::steady_clock::now();
        spdlog::error("the coordinator refused this worker: {}; retrying, running nothing meanwhile", s.message());
      }
      backoff = std::chrono::milliseconds(1000);
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
    metrics_->Sync(reconciler_->Counters());
    const auto wait = registered_.load() && s.ok() ? std::chrono::milliseconds(heartbeat_interval_ms_.load()) : backoff;
    weir::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Worker* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->stop_ || w->nudged_; }, this),
                         absl::FromChrono(wait));
    if (stop_) break;
    nudged_ = false;
  }
  metrics_->Sync(reconciler_->Counters());
}

}  // namespace weir::worker
