// Coordinator: jobs, workers, heartbeats, failure detection and status, with
// a fake partition discovery and time driven by the test.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "common/types.h"
#include "spec/spec_hash.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace pb = weir::v1;
using weir::StatusCode;
using weir::coordinator::CoordinatorOptions;
using weir::coordinator::testing::CoordinatorTest;
using weir::coordinator::testing::FakeDiscovery;
using weir::coordinator::testing::OpenCoordinator;
using weir::coordinator::testing::Spec;
using weir::testing::TempDir;

namespace {

// partition -> (owner, epoch) of a job.
std::map<int32_t, std::pair<std::string, uint64_t>> Owners(const pb::JobInfo& job) {
  std::map<int32_t, std::pair<std::string, uint64_t>> owners;
  for (const auto& p : job.partitions()) owners[p.partition()] = {p.owner(), p.epoch()};
  return owners;
}

// The (job, partition, epoch) triples a heartbeat returned.
std::set<std::tuple<std::string, int32_t, uint64_t>> Assigned(const pb::HeartbeatResponse& r) {
  std::set<std::tuple<std::string, int32_t, uint64_t>> out;
  for (const auto& a : r.assignments()) out.insert({a.job(), a.partition(), a.epoch()});
  return out;
}

pb::PartitionStatus Report(const std::string& job, int32_t partition, uint64_t epoch, int64_t offset) {
  pb::PartitionStatus s;
  s.set_job(job);
  s.set_partition(partition);
  s.set_epoch(epoch);
  s.set_offset(offset);
  s.set_watermark(1700000000000);
  s.set_lag(7);
  s.set_rows_out(11);
  s.set_records_in(offset);
  s.set_dead_letters(2);
  return s;
}

}  // namespace

TEST_CASE_METHOD(CoordinatorTest, "a submitted job is validated, stored and gets its partition count",
                 "[coordinator]") {
  discovery.topics["events"] = 4;

  auto job = c->SubmitJob(Spec("a"), 1000);
  REQUIRE(job.ok());
  CHECK(job->spec().name() == "a");
  CHECK(job->state() == pb::JOB_STATE_RUNNING);
  CHECK(job->submitted_at_ms() == 1000);
  REQUIRE(job->partitions_size() == 4);
  for (int i = 0; i < 4; ++i) {
    const auto& p = job->partitions(i);
    CHECK(p.partition() == i);
    CHECK(p.job() == "a");
    CHECK(p.owner().empty());  // no worker yet
    CHECK(p.offset() == -1);
    CHECK(p.watermark() == weir::kMinTime);
    CHECK(p.lag() == -1);
  }
  CHECK_FALSE(c->DiscoveryError("a").has_value());

  auto again = c->SubmitJob(Spec("a"), 2000);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == StatusCode::kAlreadyExists);

  pb::JobSpec bad = Spec("b");
  bad.mutable_features(0)->mutable_window()->mutable_tumbling()->set_size_ms(0);
  bad.set_view("");
  auto invalid = c->SubmitJob(bad, 3000);
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(invalid.status().message(), Catch::Contains("view: is required"));
  CHECK_THAT(invalid.status().message(), Catch::Contains("features[0].window"));
  CHECK_FALSE(c->GetJob("b").ok());
  CHECK(c->ListJobs().size() == 1);

  auto missing = c->GetJob("nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(c->CancelJob("nope", 3000).status().code() == StatusCode::kNotFound);
}

TEST_CASE_METHOD(CoordinatorTest, "a registered worker gets every partition, heartbeats return assignments and specs",
                 "[coordinator]") {
  discovery.topics["events"] = 3;
  discovery.topics["clicks"] = 1;
  REQUIRE(c->SubmitJob(Spec("a"), 100).ok());

  CHECK(c->RegisterWorker("", "x", 200).status().code() == StatusCode::kInvalidArgument);
  auto reg = c->RegisterWorker("w1", "127.0.0.1:9500", 200);
  REQUIRE(reg.ok());
  CHECK(reg->heartbeat_interval_ms() == 500);
  CHECK(reg->worker_timeout_ms() == 3000);

  // Assigned at registration, without waiting for a tick.
  auto job = c->GetJob("a");
  REQUIRE(job.ok());
  CHECK(Owners(*job) ==
        std::map<int32_t, std::pair<std::string, uint64_t>>{{0, {"w1", 1}}, {1, {"w1", 1}}, {2, {"w1", 1}}});

  auto hb = c->Heartbeat("w1", {}, 300);
  REQUIRE(hb.ok());
  CHECK(Assigned(*hb) == std::set<std::tuple<std::string, int32_t, uint64_t>>{{"a", 0, 1}, {"a", 1, 1}, {"a", 2, 1}});
  REQUIRE(hb->jobs_size() == 1);
  CHECK(hb->jobs(0).name() == "a");
  CHECK(hb->jobs(0).source().kafka().topic() == "events");
  for (const auto& a : hb->assignments()) CHECK(a.restore_checkpoint() == 0);

  // A job submitted while a worker lives is assigned at once, too.
  REQUIRE(c->SubmitJob(Spec("b", "clicks"), 400).ok());
  hb = c->Heartbeat("w1", {}, 500);
  REQUIRE(hb.ok());
  CHECK(hb->assignments_size() == 4);
  CHECK(hb->jobs_size() == 2);

  auto unknown = c->Heartbeat("w9", {}, 500);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().code() == StatusCode::kNotFound);

  auto workers = c->ListWorkers(600);
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].id() == "w1");
  CHECK(workers[0].address() == "127.0.0.1:9500");
  CHECK(workers[0].alive());
  CHECK(workers[0].registered_at_ms() == 200);
  CHECK(workers[0].last_heartbeat_ms() == 500);
  CHECK(workers[0].assignments_size() == 4);
}

TEST_CASE_METHOD(CoordinatorTest, "a second worker takes half, a dead worker's partitions move with higher epochs",
                 "[coordinator]") {
  discovery.topics["events"] = 4;
  RunJobOnW1(Spec("a"));
  REQUIRE(c->RegisterWorker("w2", "", 10).ok());
  auto owners = Owners(*c->GetJob("a"));
  // Sticky and balanced: w1 keeps 0 and 1 (epoch 1); 2 and 3 move to w2 (epoch 2).
  CHECK(owners == std::map<int32_t, std::pair<std::string, uint64_t>>{
                      {0, {"w1", 1}}, {1, {"w1", 1}}, {2, {"w2", 2}}, {3, {"w2", 2}}});
  CHECK(c->Stats().partition_moves == 6);

  // w2 keeps heartbeating; w1 goes silent after t=0.
  for (int64_t t = 500; t <= 3000; t += 500) {
    REQUIRE(c->Heartbeat("w2", {}, t).ok());
    c->Tick(t);
  }
  CHECK(Owners(*c->GetJob("a"))[0].first == "w1");  // exactly the timeout: not dead yet
  REQUIRE(c->Heartbeat("w2", {}, 3001).ok());
  c->Tick(3001);
  owners = Owners(*c->GetJob("a"));
  CHECK(owners == std::map<int32_t, std::pair<std::string, uint64_t>>{
                      {0, {"w2", 2}}, {1, {"w2", 2}}, {2, {"w2", 2}}, {3, {"w2", 2}}});
  auto stats = c->Stats();
  CHECK(stats.workers_alive == 1);
  CHECK(stats.workers_dead == 1);
  CHECK(stats.partition_moves == 8);

  auto workers = c->ListWorkers(3001);
  REQUIRE(workers.size() == 2);
  CHECK_FALSE(workers[0].alive());
  CHECK(workers[0].assignments_size() == 0);
  CHECK(workers[1].assignments_size() == 4);

  // The dead worker is told to register again, and then gets a fair share under new epochs.
  auto zombie = c->Heartbeat("w1", {}, 3100);
  REQUIRE_FALSE(zombie.ok());
  CHECK(zombie.status().code() == StatusCode::kNotFound);
  CHECK_THAT(zombie.status().message(), Catch::Contains("register again"));
  REQUIRE(c->RegisterWorker("w1", "", 3200).ok());
  auto hb = c->Heartbeat("w1", {}, 3300);
  REQUIRE(hb.ok());
  REQUIRE(hb->assignments_size() == 2);
  for (const auto& a : hb->assignments()) CHECK(a.epoch() == 3);
}

TEST_CASE("a long-dead worker is forgotten", "[coordinator]") {
  TempDir dir;
  FakeDiscovery discovery;
  CoordinatorOptions options;
  options.dead_worker_retention_ms = 10000;
  auto c = OpenCoordinator(dir.path, &discovery, 0, options);
  REQUIRE(c->RegisterWorker("w1", "", 0).ok());
  c->Tick(3001);
  CHECK(c->ListWorkers(3001).size() == 1);
  c->Tick(13001);
  CHECK(c->ListWorkers(13001).size() == 1);
  c->Tick(13002);
  CHECK(c->ListWorkers(13002).empty());
  CHECK(c->Heartbeat("w1", {}, 13003).status().code() == StatusCode::kNotFound);
}

TEST_CASE_METHOD(CoordinatorTest, "cancel takes a job's partitions from their owners", "[coordinator]") {
  discovery.topics["events"] = 2;
  RunJobOnW1(Spec("a"));
  REQUIRE(c->Heartbeat("w1", {}, 100)->assignments_size() == 2);

  auto cancelled = c->CancelJob("a", 150);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->state() == pb::JOB_STATE_CANCELLED);
  for (const auto& p : cancelled->partitions()) CHECK(p.owner().empty());
  auto hb = c->Heartbeat("w1", {}, 200);
  REQUIRE(hb.ok());
  CHECK(hb->assignments_size() == 0);
  CHECK(hb->jobs_size() == 0);
  c->Tick(300);  // and a tick does not assign them again
  CHECK(c->Heartbeat("w1", {}, 400)->assignments_size() == 0);
  CHECK(c->GetJob("a")->state() == pb::JOB_STATE_CANCELLED);

  // Resubmitted, its partitions come back under higher epochs than before.
  REQUIRE(c->SubmitJob(Spec("a"), 500).ok());
  CHECK(Assigned(*c->Heartbeat("w1", {}, 600)) ==
        std::set<std::tuple<std::string, int32_t, uint64_t>>{{"a", 0, 2}, {"a", 1, 2}});
}

TEST_CASE_METHOD(CoordinatorTest, "status merges the owner's reports and ignores stale epochs", "[coordinator]") {
  discovery.topics["events"] = 2;
  RunJobOnW1(Spec("a"));
  REQUIRE(c->Heartbeat("w1", {Report("a", 0, 1, 100), Report("a", 1, 1, 200)}, 100).ok());

  auto job = c->GetJob("a");
  REQUIRE(job.ok());
  const auto& p0 = job->partitions(0);
  CHECK(p0.owner() == "w1");
  CHECK(p0.epoch() == 1);
  CHECK(p0.offset() == 100);
  CHECK(p0.watermark() == 1700000000000);
  CHECK(p0.lag() == 7);
  CHECK(p0.rows_out() == 11);
  CHECK(p0.records_in() == 100);
  CHECK(p0.dead_letters() == 2);
  CHECK(p0.reported_at_ms() == 100);
  CHECK(job->partitions(1).offset() == 200);

  // w2 joins: partition 1 moves to it under epoch 2. w1's old report for it no longer counts.
  REQUIRE(c->RegisterWorker("w2", "", 200).ok());
  job = c->GetJob("a");
  REQUIRE(job->partitions(1).owner() == "w2");
  REQUIRE(job->partitions(1).epoch() == 2);
  CHECK(job->partitions(1).offset() == -1);
  CHECK(job->partitions(1).lag() == -1);
  CHECK(job->partitions(1).watermark() == weir::kMinTime);
  CHECK(job->partitions(1).reported_at_ms() == 0);

  // The new owner reports; then a late report of the old epoch arrives and is ignored.
  REQUIRE(c->Heartbeat("w2", {Report("a", 1, 2, 250)}, 300).ok());
  REQUIRE(c->Heartbeat("w1", {Report("a", 0, 1, 150), Report("a", 1, 1, 999)}, 400).ok());
  job = c->GetJob("a");
  CHECK(job->partitions(1).offset() == 250);
  CHECK(job->partitions(1).reported_at_ms() == 300);
  CHECK(job->partitions(0).offset() == 150);
  CHECK(job->partitions(0).reported_at_ms() == 400);

  // A report for a job that is not running is dropped.
  REQUIRE(c->Heartbeat("w1", {Report("nope", 0, 1, 5)}, 500).ok());
  CHECK(c->ListJobs().size() == 1);
}

TEST_CASE_METHOD(CoordinatorTest, "failed discovery keeps the job, says why, and is retried on ticks",
                 "[coordinator]") {
  discovery.reachable = false;
  REQUIRE(c->RegisterWorker("w1", "", 0).ok());

  auto job = c->SubmitJob(Spec("a"), 0);
  REQUIRE(job.ok());  // accepted all the same
  CHECK(job->state() == pb::JOB_STATE_RUNNING);
  CHECK(job->partitions_size() == 0);
  CHECK(c->DiscoveryError("a") == "brokers 127.0.0.1:9092 unreachable");
  CHECK(discovery.calls == 1);

  c->Tick(1000);  // rate-limited: not yet
  CHECK(discovery.calls == 1);
  discovery.reachable = true;  // brokers up, topic still missing
  c->Tick(2000);
  CHECK(discovery.calls == 2);
  CHECK(c->DiscoveryError("a") == "topic \"events\" does not exist");
  CHECK(c->GetJob("a")->partitions_size() == 0);
  CHECK(c->GetJob("a")->discovery() == "topic \"events\" does not exist");
  CHECK(c->Heartbeat("w1", {}, 2100)->assignments_size() == 0);

  discovery.topics["events"] = 3;
  c->Tick(3000);
  CHECK(discovery.calls == 2);
  c->Tick(4000);
  CHECK(discovery.calls == 3);
  CHECK_FALSE(c->DiscoveryError("a").has_value());
  job = c->GetJob("a");
  REQUIRE(job->partitions_size() == 3);
  CHECK(job->discovery() ==
        "topic \"events\" at 127.0.0.1:9092: 3 partitions, replication factor 1; dead-letter topic "
        "\"a.dlq\" found");
  // One event per distinct failure, one when found.
  std::vector<std::string> discovery_events;
  for (const auto& e : c->ListEvents("a", 0, 0).events) {
    if (e.kind() == pb::CLUSTER_EVENT_DISCOVERY_FAILED || e.kind() == pb::CLUSTER_EVENT_TOPIC_FOUND)
      discovery_events.push_back(e.message());
  }
  CHECK(discovery_events ==
        std::vector<std::string>{"partitions unknown (retrying): brokers 127.0.0.1:9092 unreachable",
                                 "partitions unknown (retrying): topic \"events\" does not exist", job->discovery()});
  CHECK(Owners(*job)[2] == std::pair<std::string, uint64_t>{"w1", 1});
  c->Tick(10000);
  CHECK(discovery.calls == 3);  // known now: never asked again
}

TEST_CASE_METHOD(CoordinatorTest,
                 "a restarted coordinator keeps jobs and epochs, returning workers keep their partitions",
                 "[coordinator]") {
  discovery.topics["events"] = 4;
  RunJobOnW1(Spec("a"));
  REQUIRE(c->RegisterWorker("w2", "", 0).ok());
  discovery.reachable = false;
  REQUIRE(c->SubmitJob(Spec("b", "other"), 0).ok());
  REQUIRE(c->SubmitJob(Spec("c"), 0).ok());
  REQUIRE(c->CancelJob("c", 0).ok());
  discovery.reachable = true;
  discovery.topics["other"] = 1;
  discovery.calls = 0;

  Restart(10000);
  auto jobs = c->ListJobs();
  REQUIRE(jobs.size() == 3);
  CHECK(jobs[0].spec().name() == "a");
  CHECK(jobs[2].state() == pb::JOB_STATE_CANCELLED);
  const auto before = Owners(jobs[0]);
  CHECK(before == std::map<int32_t, std::pair<std::string, uint64_t>>{
                      {0, {"w1", 1}}, {1, {"w1", 1}}, {2, {"w2", 2}}, {3, {"w2", 2}}});

  // Unknown to the new coordinator: the worker registers again and keeps its epochs.
  CHECK(c->Heartbeat("w1", {}, 10100).status().code() == StatusCode::kNotFound);
  REQUIRE(c->RegisterWorker("w1", "", 10200).ok());
  c->Tick(10300);
  CHECK(discovery.calls == 1);  // job b's partitions, retried at once
  CHECK(Assigned(*c->Heartbeat("w1", {}, 10400)) ==
        std::set<std::tuple<std::string, int32_t, uint64_t>>{{"a", 0, 1}, {"a", 1, 1}});
  CHECK(Owners(*c->GetJob("a")) == before);

  // w2 never returns: after one worker timeout its partitions move to w1 under higher epochs.
  REQUIRE(c->Heartbeat("w1", {}, 12900).ok());
  c->Tick(12900);
  CHECK(Owners(*c->GetJob("a")) == before);
  REQUIRE(c->Heartbeat("w1", {}, 13000).ok());
  c->Tick(13000);
  CHECK(Owners(*c->GetJob("a")) == std::map<int32_t, std::pair<std::string, uint64_t>>{
                                       {0, {"w1", 1}}, {1, {"w1", 1}}, {2, {"w1", 3}}, {3, {"w1", 3}}});
  CHECK(Owners(*c->GetJob("b")) == std::map<int32_t, std::pair<std::string, uint64_t>>{{0, {"w1", 1}}});
}

TEST_CASE_METHOD(CoordinatorTest, "a fresh coordinator assigns at once: no grace period without stored owners",
                 "[coordinator]") {
  discovery.topics["events"] = 1;
  REQUIRE(c->SubmitJob(Spec("a"), 0).ok());  // no worker: unassigned
  Restart(5000);
  REQUIRE(c->RegisterWorker("w1", "", 5000).ok());
  CHECK(Owners(*c->GetJob("a")) == std::map<int32_t, std::pair<std::string, uint64_t>>{{0, {"w1", 1}}});
}

TEST_CASE_METHOD(CoordinatorTest,
                 "CheckWorkers never looks up partitions, RetryDiscovery does one due lookup, most overdue first",
                 "[coordinator]") {
  discovery.reachable = false;
  REQUIRE(c->SubmitJob(Spec("a", "ta"), 0).ok());
  REQUIRE(c->SubmitJob(Spec("b", "tb"), 500).ok());
  REQUIRE(discovery.calls == 2);

  c->CheckWorkers(10000);
  CHECK(discovery.calls == 2);
  CHECK_FALSE(c->RetryDiscovery(1000));  // neither due yet (a at 2000, b at 2500)
  discovery.reachable = true;
  discovery.topics["tb"] = 1;
  discovery.topics["ta"] = 2;
  REQUIRE(c->RetryDiscovery(3000));
  CHECK(discovery.calls == 3);
  CHECK(c->GetJob("a")->partitions_size() == 2);  // a was due first
  CHECK(c->GetJob("b")->partitions_size() == 0);
  REQUIRE(c->RetryDiscovery(3000));
  CHECK(c->GetJob("b")->partitions_size() == 1);
  CHECK_FALSE(c->RetryDiscovery(3000));
  CHECK(discovery.calls == 4);
}

TEST_CASE_METHOD(CoordinatorTest, "a heartbeat sends a job's spec only when the worker lacks it at its hash",
                 "[coordinator]") {
  discovery.topics["events"] = 2;
  discovery.topics["clicks"] = 1;
  RunJobOnW1(Spec("a"));
  REQUIRE(c->SubmitJob(Spec("b", "clicks"), 0).ok());
  const uint64_t hash_a = weir::SpecHash(Spec("a"));
  const uint64_t hash_b = weir::SpecHash(Spec("b", "clicks"));
  REQUIRE(hash_a != hash_b);
  auto ref = [](const std::string& job, uint64_t hash) {
    pb::JobSpecRef r;
    r.set_job(job);
    r.set_spec_hash(hash);
    return r;
  };
  auto refs = [](const pb::HeartbeatResponse& r) {
    std::map<std::string, uint64_t> out;
    for (const auto& s : r.job_specs()) out[s.job()] = s.spec_hash();
    return out;
  };
  auto sent = [](const pb::HeartbeatResponse& r) {
    std::set<std::string> out;
    for (const auto& s : r.jobs()) out.insert(s.name());
    return out;
  };

  // Holding nothing: every spec, and every job's hash.
  auto hb = c->Heartbeat("w1", {}, 100);
  REQUIRE(hb.ok());
  CHECK(refs(*hb) == std::map<std::string, uint64_t>{{"a", hash_a}, {"b", hash_b}});
  CHECK(sent(*hb) == std::set<std::string>{"a", "b"});

  // Holding a at its hash and b at another: only b's spec comes.
  hb = c->Heartbeat("w1", {}, 200, {ref("a", hash_a), ref("b", hash_a)});
  REQUIRE(hb.ok());
  CHECK(refs(*hb) == std::map<std::string, uint64_t>{{"a", hash_a}, {"b", hash_b}});
  CHECK(sent(*hb) == std::set<std::string>{"b"});
  hb = c->Heartbeat("w1", {}, 300, {ref("a", hash_a), ref("b", hash_b), ref("gone", 7)});
  REQUIRE(hb.ok());
  CHECK(hb->jobs_size() == 0);
  CHECK(hb->assignments_size() == 3);

  // Resubmitted with another spec, a's hash changes and its new spec is sent.
  REQUIRE(c->CancelJob("a", 400).ok());
  pb::JobSpec changed = Spec("a");
  changed.set_view("v2");
  REQUIRE(c->SubmitJob(changed, 500).ok());
  hb = c->Heartbeat("w1", {}, 600, {ref("a", hash_a), ref("b", hash_b)});
  REQUIRE(hb.ok());
  CHECK(refs(*hb).at("a") == weir::SpecHash(changed));
  REQUIRE(sent(*hb) == std::set<std::string>{"a"});
  CHECK(hb->jobs(0).view() == "v2");

  // The hashes survive a restart (computed again from the stored specs).
  Restart(700);
  REQUIRE(c->RegisterWorker("w1", "", 700).ok());
  hb = c->Heartbeat("w1", {}, 800, {ref("a", weir::SpecHash(changed)), ref("b", hash_b)});
  REQUIRE(hb.ok());
  CHECK(hb->jobs_size() == 0);
  CHECK(refs(*hb) == std::map<std::string, uint64_t>{{"a", weir::SpecHash(changed)}, {"b", hash_b}});
}
