// The coordinator's gRPC services, in process: what a worker and weirctl see
// on the wire (status codes, the pending-partitions trailer, metrics), and
// weirctl's job commands printing what they get back.
#include <catch2/catch.hpp>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "cli/jobs.h"
#include "common/job_spec.h"
#include "coordinator/coordinator_service.h"
#include "tests/support/temp_dir.h"
#include "weir/v1/services.grpc.pb.h"

namespace pb = weir::v1;
using weir::Result;
using weir::coordinator::Coordinator;
using weir::coordinator::CoordinatorMetrics;
using weir::coordinator::CoordinatorOptions;
using weir::coordinator::PartitionDiscovery;
using weir::testing::TempDir;

namespace {

class FakeDiscovery : public PartitionDiscovery {
 public:
  Result<int32_t> PartitionCount(const std::string&, const std::string& topic) override {
    if (topic == "events") return 2;
    return weir::NotFound("topic \"" + topic + "\" does not exist");
  }
};

pb::JobSpec Spec(const std::string& name, const std::string& topic) {
  auto spec =
      weir::ParseJobSpecYaml("name: " + name + "\nsource: { kafka: { brokers: \"127.0.0.1:9092\", topic: " + topic +
                             " } }\nkey: k\nevent_time: { field: ts }\nview: v\n"
                             "sink: { feature_store: \"127.0.0.1:7070\" }\n"
                             "features:\n  - { name: n, agg: count, window: { tumbling: 1m } }\n");
  REQUIRE(spec.ok());
  return *spec;
}

// A coordinator behind both services, reached through an in-process channel,
// on a clock the test sets.
struct Fixture {
  TempDir dir;
  FakeDiscovery discovery;
  std::unique_ptr<Coordinator> coordinator;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<CoordinatorMetrics> metrics;
  weir::coordinator::CoordinatorServices services;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<pb::JobService::Stub> jobs;
  std::unique_ptr<pb::ControlPlane::Stub> control;
  int64_t now_ms = 1'700'000'000'000;
  int port = 0;
  std::string address;  // where weirctl reaches it

  Fixture() {
    auto c = Coordinator::Open(dir.path.string(), &discovery, CoordinatorOptions{}, now_ms);
    REQUIRE(c.ok());
    coordinator = std::move(*c);
    metrics = std::make_unique<CoordinatorMetrics>(registry.get());
    services = weir::coordinator::MakeCoordinatorServices(coordinator.get(), metrics.get(), [this] { return now_ms; });
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(services.jobs.get());
    builder.RegisterService(services.control.get());
    server = builder.BuildAndStart();
    REQUIRE(server != nullptr);
    REQUIRE(port > 0);
    address = "127.0.0.1:" + std::to_string(port);
    auto channel = server->InProcessChannel(grpc::ChannelArguments());
    jobs = pb::JobService::NewStub(channel);
    control = pb::ControlPlane::NewStub(channel);
  }
  ~Fixture() { server->Shutdown(); }

  std::string Metrics() const { return prometheus::TextSerializer().Serialize(registry->Collect()); }
};

}  // namespace

TEST_CASE("gRPC: submit maps errors to codes and says why partitions are pending", "[coordinator][grpc]") {
  Fixture f;
  pb::SubmitJobRequest req;
  *req.mutable_spec() = Spec("a", "events");
  pb::SubmitJobResponse resp;
  {
    grpc::ClientContext ctx;
    REQUIRE(f.jobs->SubmitJob(&ctx, req, &resp).ok());
    CHECK(resp.job().partitions_size() == 2);
    CHECK(ctx.GetServerTrailingMetadata().count(weir::coordinator::kPartitionsPendingKey) == 0);
  }
  {
    grpc::ClientContext ctx;
    CHECK(f.jobs->SubmitJob(&ctx, req, &resp).error_code() == grpc::StatusCode::ALREADY_EXISTS);
  }
  {
    grpc::ClientContext ctx;
    pb::SubmitJobRequest bad;
    *bad.mutable_spec() = Spec("b", "events");
    bad.mutable_spec()->clear_key();
    const grpc::Status s = f.jobs->SubmitJob(&ctx, bad, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::Contains("key: is required"));
  }
  {
    grpc::ClientContext ctx;
    *req.mutable_spec() = Spec("c", "nope");
    REQUIRE(f.jobs->SubmitJob(&ctx, req, &resp).ok());
    CHECK(resp.job().partitions_size() == 0);
    auto trailers = ctx.GetServerTrailingMetadata();
    auto it = trailers.find(weir::coordinator::kPartitionsPendingKey);
    REQUIRE(it != trailers.end());
    CHECK(std::string(it->second.data(), it->second.size()) == "topic \"nope\" does not exist");
  }
  {
    grpc::ClientContext ctx;
    pb::GetJobRequest get;
    get.set_name("missing");
    pb::GetJobResponse got;
    CHECK(f.jobs->GetJob(&ctx, get, &got).error_code() == grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    pb::CancelJobRequest cancel;
    cancel.set_name("c");
    pb::CancelJobResponse cancelled;
    REQUIRE(f.jobs->CancelJob(&ctx, cancel, &cancelled).ok());
    CHECK(cancelled.job().state() == pb::JOB_STATE_CANCELLED);
  }
  const std::string metrics = f.Metrics();
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_jobs{state=\"running\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_jobs{state=\"cancelled\"} 1"));
}

TEST_CASE("gRPC: a worker registers, heartbeats, and re-registers on NOT_FOUND", "[coordinator][grpc]") {
  Fixture f;
  {
    grpc::ClientContext ctx;
    pb::SubmitJobRequest req;
    *req.mutable_spec() = Spec("a", "events");
    pb::SubmitJobResponse resp;
    REQUIRE(f.jobs->SubmitJob(&ctx, req, &resp).ok());
  }
  auto heartbeat = [&](pb::HeartbeatResponse* resp) {
    grpc::ClientContext ctx;
    pb::HeartbeatRequest req;
    req.set_worker_id("w1");
    return f.control->Heartbeat(&ctx, req, resp);
  };
  auto register_worker = [&](const std::string& id) {
    grpc::ClientContext ctx;
    pb::RegisterWorkerRequest req;
    req.set_worker_id(id);
    req.set_address("127.0.0.1:9500");
    pb::RegisterWorkerResponse resp;
    const grpc::Status s = f.control->RegisterWorker(&ctx, req, &resp);
    if (s.ok()) {
      CHECK(resp.heartbeat_interval_ms() == 500);
      CHECK(resp.worker_timeout_ms() == 3000);
    }
    return s;
  };

  pb::HeartbeatResponse hb;
  CHECK(heartbeat(&hb).error_code() == grpc::StatusCode::NOT_FOUND);  // not registered yet
  CHECK(register_worker("").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(register_worker("w1").ok());
  REQUIRE(heartbeat(&hb).ok());
  CHECK(hb.assignments_size() == 2);
  REQUIRE(hb.jobs_size() == 1);
  CHECK(hb.jobs(0).name() == "a");

  // Silent past the timeout: declared dead, its heartbeat is refused until it registers again.
  f.now_ms += 3001;
  f.coordinator->Tick(f.now_ms);
  CHECK(heartbeat(&hb).error_code() == grpc::StatusCode::NOT_FOUND);
  REQUIRE(register_worker("w1").ok());
  hb.Clear();
  REQUIRE(heartbeat(&hb).ok());
  REQUIRE(hb.assignments_size() == 2);
  CHECK(hb.assignments(0).epoch() == 2);  // a new owner: it was dead in between

  {
    grpc::ClientContext ctx;
    pb::ListWorkersResponse workers;
    REQUIRE(f.jobs->ListWorkers(&ctx, pb::ListWorkersRequest(), &workers).ok());
    REQUIRE(workers.workers_size() == 1);
    CHECK(workers.workers(0).alive());
    CHECK(workers.workers(0).assignments_size() == 2);
  }
  const std::string metrics = f.Metrics();
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_heartbeats_total 4"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_workers{state=\"alive\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_partition_moves_total 4"));
}

TEST_CASE("weirctl status and workers show owners, epochs, reports and heartbeat ages", "[coordinator][grpc][cli]") {
  Fixture f;
  f.now_ms = weir::coordinator::WallClockMs();  // weirctl ages heartbeats against its own clock
  REQUIRE(f.coordinator->SubmitJob(Spec("a", "events"), f.now_ms).ok());
  REQUIRE(f.coordinator->RegisterWorker("w1", "127.0.0.1:9500", f.now_ms).ok());
  pb::PartitionStatus report;
  report.set_job("a");
  report.set_partition(1);
  report.set_epoch(1);
  report.set_offset(42);
  report.set_watermark(1'700'000'000'250);
  report.set_lag(3);
  report.set_records_in(40);
  report.set_rows_out(12);
  report.set_dead_letters(1);
  REQUIRE(f.coordinator->Heartbeat("w1", {report}, f.now_ms).ok());

  std::ostringstream status;
  REQUIRE(weir::cli::JobStatus(f.address, "a", false, status).ok());
  CHECK_THAT(status.str(), Catch::Contains("job:         a\n"
                                           "state:       running\n"
                                           "topic:       events at 127.0.0.1:9092\n"
                                           "view:        v\n"));
  CHECK_THAT(status.str(),
             Catch::Contains("partitions:  2\ncheckpoint:  none\n\n"
                             "PARTITION  OWNER  EPOCH  OFFSET  WATERMARK                 LAG  RECORDS  "
                             "ROWS  DEAD\n"
                             "0          w1     1      -       -                         -    0        0  "
                             "   0\n"
                             "1          w1     1      42      2023-11-14T22:13:20.250Z  3    40       12 "
                             "   1\n"));

  std::ostringstream json;
  REQUIRE(weir::cli::JobStatus(f.address, "a", true, json).ok());
  CHECK_THAT(json.str(), Catch::Contains("\"partition\":1,\"owner\":\"w1\",\"epoch\":\"1\",\"offset\":\"42\""));

  std::ostringstream workers;
  REQUIRE(weir::cli::WorkerList(f.address, workers).ok());
  CHECK_THAT(workers.str(), Catch::Matches("ID +ALIVE +LAST-HEARTBEAT +PARTITIONS\n"
                                           "w1 +yes +[0-9]+\\.[0-9]s ago +2 \\(a:0,a:1\\)\n"));

  std::ostringstream list;
  REQUIRE(weir::cli::JobList(f.address, list).ok());
  CHECK_THAT(list.str(), Catch::Matches("NAME +STATE +PARTITIONS +SUBMITTED +VIEW +TOPIC\n"
                                        "a +running +2 +[0-9T:.-]+Z +v +events\n"));

  std::ostringstream out;
  auto missing = weir::cli::JobStatus(f.address, "nope", false, out);
  CHECK(missing.code() == weir::StatusCode::kNotFound);
  CHECK(missing.message() == "no job named \"nope\" (weirctl list shows the jobs)");
  auto cancelled = weir::cli::JobCancel(f.address, "a", out);
  REQUIRE(cancelled.ok());
  CHECK(out.str() == "cancelled a\n");
}
