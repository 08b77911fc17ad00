// The coordinator's gRPC services, in process: what a worker and weirctl see
// on the wire (status codes, the pending-partitions trailer, metrics), and
// weirctl's job commands printing what they get back.
#include "tests/unit/coordinator/grpc/grpc_fixture.h"

using namespace weir::coordinator::grpc_testing;  // NOLINT(google-build-using-namespace): the tests' fixture

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
  f.now_ms = weir::WallClockMs();  // weirctl ages heartbeats against its own clock
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
  // Partition 0 is not reported yet; partition 1's report has no state (a worker that predates states).
  CHECK_THAT(status.str(),
             Catch::Contains("partitions:  2\n"
                             "discovery:   topic \"events\" at 127.0.0.1:9092: 2 partitions, replication factor 1; "
                             "dead-letter topic \"a.dlq\" found\n"
                             "checkpoint:  none\n\n"
                             "PARTITION  OWNER  EPOCH  STATE     OFFSET  WATERMARK                 LAG  RECORDS  "
                             "ROWS  DEAD\n"
                             "0          w1     1      starting  -       -                         -    0        0  "
                             "   0\n"
                             "1          w1     1      running   42      2023-11-14T22:13:20.250Z  3    40       12 "
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

TEST_CASE("gRPC: TriggerCheckpoint and LeaveWorker codes, checkpoint metrics", "[coordinator][grpc]") {
  Fixture f;
  REQUIRE(f.coordinator->SubmitJob(Spec("a", "events", f.storage.path.string()), f.now_ms).ok());
  auto trigger = [&](const std::string& name, uint64_t* id) {
    grpc::ClientContext ctx;
    pb::TriggerCheckpointRequest req;
    req.set_name(name);
    pb::TriggerCheckpointResponse resp;
    const grpc::Status s = f.jobs->TriggerCheckpoint(&ctx, req, &resp);
    *id = resp.checkpoint();
    return s;
  };
  uint64_t id = 0;
  CHECK(trigger("", &id).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(trigger("missing", &id).error_code() == grpc::StatusCode::NOT_FOUND);
  const grpc::Status unowned = trigger("a", &id);
  CHECK(unowned.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(unowned.error_message(), Catch::Contains("has no owner"));

  REQUIRE(f.coordinator->RegisterWorker("w1", "", f.now_ms).ok());
  REQUIRE(trigger("a", &id).ok());
  CHECK(id == 1);
  REQUIRE(trigger("a", &id).ok());
  CHECK(id == 1);
  CHECK_THAT(f.Metrics(), Catch::Contains("weir_coordinator_checkpoints_pending 1"));

  // The worker's heartbeat carries the trigger; its acknowledgements, over the wire, commit it.
  pb::HeartbeatRequest hb_req;
  hb_req.set_worker_id("w1");
  for (int32_t p = 0; p < 2; ++p) {
    pb::PartitionStatus* s = hb_req.add_partitions();
    s->set_job("a");
    s->set_partition(p);
    s->set_epoch(1);
    s->mutable_snapshot()->set_checkpoint(1);
    s->mutable_snapshot()->set_path(weir::SnapshotPath(f.storage.path.string(), "a", 1, p, 1));
    s->mutable_snapshot()->set_bytes(100 * (p + 1));
  }
  pb::HeartbeatResponse hb;
  {
    grpc::ClientContext ctx;
    pb::HeartbeatRequest empty;
    empty.set_worker_id("w1");
    REQUIRE(f.control->Heartbeat(&ctx, empty, &hb).ok());
    REQUIRE(hb.checkpoints_size() == 1);
    CHECK(hb.checkpoints(0).job() == "a");
    CHECK(hb.checkpoints(0).checkpoint() == 1);
  }
  f.now_ms += 1500;  // committed 1.5 s after its trigger
  {
    grpc::ClientContext ctx;
    REQUIRE(f.control->Heartbeat(&ctx, hb_req, &hb).ok());
    CHECK(hb.checkpoints_size() == 0);
    REQUIRE(hb.assignments_size() == 2);
    CHECK(hb.assignments(1).restore_checkpoint() == 1);
    REQUIRE(hb.assignments(1).restore_from_size() == 1);
    CHECK(hb.assignments(1).restore_from(0).path() == weir::SnapshotPath(f.storage.path.string(), "a", 1, 1, 1));
  }
  std::string metrics = f.Metrics();
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoints_committed_total 1"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoints_abandoned_total 0"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoints_pending 0"));
  // Its duration (trigger to commit) and size (both partitions' snapshots), per job.
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoint_duration_seconds_count{job=\"a\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoint_duration_seconds_sum{job=\"a\"} 1.5"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoint_duration_seconds_bucket{job=\"a\",le=\"1\"} 0"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoint_duration_seconds_bucket{job=\"a\",le=\"2.5\"} 1"));
  CHECK_THAT(metrics, Catch::Contains("weir_coordinator_checkpoint_size_bytes{job=\"a\"} 300"));

  {
    grpc::ClientContext ctx;
    pb::GetJobRequest req;
    req.set_name("a");
    pb::GetJobResponse resp;
    REQUIRE(f.jobs->GetJob(&ctx, req, &resp).ok());
    CHECK(resp.job().latest_checkpoint() == 1);
    REQUIRE(resp.job().checkpoints_size() == 1);
    CHECK(resp.job().checkpoints(0).id() == 1);
  }

  // Abandoned after the timeout: counted.
  REQUIRE(trigger("a", &id).ok());
  CHECK(id == 2);
  f.now_ms += 30'001;
  REQUIRE(f.coordinator->Heartbeat("w1", {}, f.now_ms).ok());
  f.coordinator->Tick(f.now_ms);
  f.metrics->Update(f.coordinator->Stats());  // what the daemon's ticker does
  CHECK_THAT(f.Metrics(), Catch::Contains("weir_coordinator_checkpoints_abandoned_total 1"));
  // Updates after the commit do not observe it again.
  CHECK_THAT(f.Metrics(), Catch::Contains("weir_coordinator_checkpoint_duration_seconds_count{job=\"a\"} 1"));

  // LeaveWorker: the id is required; the worker is gone at once; leaving twice is fine.
  auto leave = [&](const std::string& worker) {
    grpc::ClientContext ctx;
    pb::LeaveWorkerRequest req;
    req.set_worker_id(worker);
    pb::PartitionStatus* h = req.add_handoffs();
    h->set_job("a");
    h->set_partition(0);
    h->set_epoch(1);
    h->mutable_snapshot()->set_path(weir::HandoffPath(f.storage.path.string(), "a", 0, 1));
    h->mutable_snapshot()->set_next_offset(150);
    pb::LeaveWorkerResponse resp;
    return f.control->LeaveWorker(&ctx, req, &resp);
  };
  CHECK(leave("").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(leave("w1").ok());
  REQUIRE(leave("w1").ok());
  {
    grpc::ClientContext ctx;
    pb::ListWorkersResponse workers;
    REQUIRE(f.jobs->ListWorkers(&ctx, pb::ListWorkersRequest(), &workers).ok());
    CHECK(workers.workers_size() == 0);
  }
  REQUIRE(f.coordinator->RegisterWorker("w2", "", f.now_ms).ok());
  auto next = f.coordinator->Heartbeat("w2", {}, f.now_ms);
  REQUIRE(next.ok());
  REQUIRE(next->assignments_size() == 2);
  CHECK(next->assignments(0).epoch() == 2);
  REQUIRE(next->assignments(0).restore_from_size() == 2);
  CHECK(next->assignments(0).restore_from(0).next_offset() == 150);
  CHECK(next->assignments(0).restore_checkpoint() == 0);
  CHECK(next->assignments(0).restore_from(1).checkpoint() == 1);
}

TEST_CASE("weirctl checkpoint triggers and checkpoints lists, status shows the latest", "[coordinator][grpc][cli]") {
  Fixture f;
  REQUIRE(f.coordinator->SubmitJob(Spec("a", "events", f.storage.path.string()), f.now_ms).ok());
  std::ostringstream out;
  auto unowned = weir::cli::JobCheckpoint(f.address, "a", false, out);
  CHECK(unowned.code() == weir::StatusCode::kFailedPrecondition);
  CHECK_THAT(unowned.message(), Catch::Contains("has no owner"));
  CHECK(weir::cli::JobCheckpoint(f.address, "nope", false, out).code() == weir::StatusCode::kNotFound);
  CHECK(weir::cli::JobCheckpoints(f.address, "nope", out).code() == weir::StatusCode::kNotFound);
  CHECK(out.str().empty());
  REQUIRE(weir::cli::JobCheckpoints(f.address, "a", out).ok());
  CHECK(out.str() == "no committed checkpoints\n");

  REQUIRE(f.coordinator->RegisterWorker("w1", "", f.now_ms).ok());
  out.str("");
  REQUIRE(weir::cli::JobCheckpoint(f.address, "a", false, out).ok());
  CHECK(out.str() == "checkpoint 1 of a triggered\n");
  out.str("");
  REQUIRE(weir::cli::JobCheckpoints(f.address, "a", out).ok());
  CHECK(out.str() == "no committed checkpoints\npending: checkpoint 1\n");

  f.now_ms += 42;
  f.AckAll("w1", "a", 1, 768);
  out.str("");
  REQUIRE(weir::cli::JobCheckpoints(f.address, "a", out).ok());
  CHECK(out.str() ==
        "ID  TRIGGERED                 COMMITTED                 DURATION  SIZE     OFFSETS\n"
        "1   2023-11-14T22:13:20.000Z  2023-11-14T22:13:20.042Z  42 ms     1.5 KiB  0:100 1:200\n");
  std::ostringstream status;
  REQUIRE(weir::cli::JobStatus(f.address, "a", false, status).ok());
  CHECK_THAT(status.str(), Catch::Matches("(.|\n)*\ncheckpoint: +1 \\(committed [0-9]+h[0-9]{2}m ago\\)\n(.|\n)*"));

  SECTION("--wait returns once the checkpoint is committed") {
    // Whichever id the command waits for, this loop acknowledges it.
    std::ostringstream waited;
    const weir::Status result = CheckpointAndWait(f, waited, [&] {
      if (uint64_t pending = f.coordinator->GetJob("a")->pending_checkpoint(); pending != 0) {
        f.AckAll("w1", "a", pending);
      }
    });
    REQUIRE(result.ok());
    CHECK_THAT(waited.str(), Catch::Matches("checkpoint ([0-9]+) of a triggered\ncheckpoint \\1 of a committed\n"));
  }
  SECTION("--wait fails when the checkpoint is abandoned") {
    std::ostringstream waited;
    const weir::Status result = CheckpointAndWait(f, waited, [&] {
      f.now_ms += 31'000;  // past the timeout of whatever is pending
      REQUIRE(f.coordinator->Heartbeat("w1", {}, f.now_ms).ok());
      f.coordinator->Tick(f.now_ms);
    });
    CHECK(result.code() == weir::StatusCode::kUnavailable);
    CHECK_THAT(result.message(), Catch::Contains("was abandoned"));
  }
  SECTION("--wait gives up after its timeout") {
    std::ostringstream waited;
    auto late = weir::cli::JobCheckpoint(f.address, "a", true, waited, std::chrono::milliseconds(300));
    CHECK(late.code() == weir::StatusCode::kUnavailable);
    CHECK_THAT(late.message(), Catch::Contains("checkpoint 2 of a was not committed within 300 ms"));
    CHECK(waited.str() == "checkpoint 2 of a triggered\n");
  }
  SECTION("an unreachable coordinator") {
    auto unreachable = weir::cli::JobCheckpoints(ClosedAddress(), "a", out);
    CHECK(unreachable.code() == weir::StatusCode::kUnavailable);
    CHECK_THAT(unreachable.message(), Catch::Contains("cannot reach the coordinator"));
  }
}

TEST_CASE("weirctl status shows each partition's state, a failure's reason, and --json carries them",
          "[coordinator][grpc][cli]") {
  Fixture f;
  REQUIRE(f.coordinator->SubmitJob(Spec("a", "events"), f.now_ms).ok());
  std::ostringstream unassigned;
  REQUIRE(weir::cli::JobStatus(f.address, "a", false, unassigned).ok());
  CHECK_THAT(unassigned.str(), Catch::Contains("PARTITION  OWNER  EPOCH  STATE       OFFSET"));
  CHECK_THAT(unassigned.str(), Catch::Contains("\n0          -      0      unassigned  -  "));

  REQUIRE(f.coordinator->RegisterWorker("w1", "", f.now_ms).ok());
  pb::PartitionStatus failed;
  failed.set_job("a");
  failed.set_partition(0);
  failed.set_epoch(1);
  failed.set_offset(-1);
  failed.set_watermark(weir::kMinTime);
  failed.set_lag(-1);
  failed.set_state(pb::PARTITION_STATE_FAILED);
  failed.set_state_reason("cannot reach the feature store at 127.0.0.1:7070");
  pb::PartitionStatus running = failed;
  running.set_partition(1);
  running.set_offset(5);
  running.set_state(pb::PARTITION_STATE_RUNNING);
  running.clear_state_reason();
  REQUIRE(f.coordinator->Heartbeat("w1", {failed, running}, f.now_ms).ok());

  std::ostringstream status;
  REQUIRE(weir::cli::JobStatus(f.address, "a", false, status).ok());
  CHECK_THAT(status.str(), Catch::Matches("(.|\n)*\nPARTITION +OWNER +EPOCH +STATE +OFFSET +WATERMARK +LAG +RECORDS "
                                          "+ROWS +DEAD +REASON\n"
                                          "0 +w1 +1 +failed +- +- +- +0 +0 +0 +cannot reach the feature store at "
                                          "127\\.0\\.0\\.1:7070\n"
                                          "1 +w1 +1 +running +5 +- +- +0 +0 +0 +-\n"));
  std::ostringstream json;
  REQUIRE(weir::cli::JobStatus(f.address, "a", true, json).ok());
  CHECK_THAT(json.str(), Catch::Contains("\"state\":\"PARTITION_STATE_FAILED\",\"state_reason\":\"cannot reach the "
                                         "feature store at 127.0.0.1:7070\""));
  CHECK_THAT(json.str(), Catch::Contains("\"state\":\"PARTITION_STATE_RUNNING\",\"state_reason\":\"\""));
}
