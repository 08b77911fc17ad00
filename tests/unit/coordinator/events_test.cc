// The coordinator's cluster events and partition states: every kind of event,
// in order, with its fields, from registrations, reports, checkpoints,
// leaving, failure detection and cancellation; each partition's state and
// reason in GetJob. Time is driven by the test.
#include <catch2/catch.hpp>

#include <string>
#include <tuple>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace pb = weir::v1;
using weir::coordinator::testing::CoordinatorTest;

namespace {

// A partition's report, as a worker sends it in a heartbeat.
pb::PartitionStatus Report(int32_t partition, uint64_t epoch, pb::PartitionState state, const std::string& reason = "",
                           pb::RestoreSource restored = pb::RESTORE_SOURCE_UNSPECIFIED) {
  pb::PartitionStatus s;
  s.set_job("a");
  s.set_partition(partition);
  s.set_epoch(epoch);
  s.set_offset(10);
  s.set_state(state);
  s.set_state_reason(reason);
  if (restored != pb::RESTORE_SOURCE_UNSPECIFIED) s.mutable_restored()->set_source(restored);
  return s;
}

// The fields an event is identified by: kind, job, partition, worker, from_worker, epoch, checkpoint.
using Fields = std::tuple<pb::ClusterEventKind, std::string, int32_t, std::string, std::string, uint64_t, uint64_t>;

std::vector<Fields> FieldsOf(const std::vector<pb::ClusterEvent>& events) {
  std::vector<Fields> out;
  for (const auto& e : events) {
    out.emplace_back(e.kind(), e.job(), e.partition(), e.worker(), e.from_worker(), e.epoch(), e.checkpoint());
  }
  return out;
}

// A coordinator whose job "a" (2 partitions) checkpoints into a temp dir.
struct EventsTest : CoordinatorTest {
  EventsTest() : CoordinatorTest({{"events", 2}}) {}

  pb::JobSpec JobA() const {
    return weir::coordinator::testing::Spec("a", "events",
                                            "interval: 10s, storage: \"file://" + storage.path.string() + "\"");
  }
  pb::PartitionStatus Ack(int32_t partition, uint64_t epoch, uint64_t checkpoint) const {
    pb::PartitionStatus s;
    s.set_job("a");
    s.set_partition(partition);
    s.set_epoch(epoch);
    s.mutable_snapshot()->set_checkpoint(checkpoint);
    s.mutable_snapshot()->set_path(storage.path.string() + "/a/chk-" + std::to_string(checkpoint) + "/p" +
                                   std::to_string(partition) + ".snap");
    s.mutable_snapshot()->set_bytes(100);
    return s;
  }
  const pb::PartitionStatus& Partition(int32_t p) {
    job = *c->GetJob("a");
    return job.partitions(p);
  }

  weir::testing::TempDir storage{"weir-events-chk"};
  pb::JobInfo job;
};

}  // namespace

TEST_CASE_METHOD(EventsTest, "every kind of cluster event is logged once, in order, with its fields",
                 "[coordinator][events]") {
  REQUIRE(c->SubmitJob(JobA(), 100).ok());
  REQUIRE(c->RegisterWorker("w1", "127.0.0.1:9500", 200).ok());
  REQUIRE(c->RegisterWorker("w2", "", 300).ok());  // takes partition 1 under epoch 2

  // Restores are logged once per partition and epoch.
  REQUIRE(c->Heartbeat("w1", {Report(0, 1, pb::PARTITION_STATE_RUNNING, "", pb::RESTORE_SOURCE_START)}, 400).ok());
  REQUIRE(c->Heartbeat("w1", {Report(0, 1, pb::PARTITION_STATE_RUNNING, "", pb::RESTORE_SOURCE_START)}, 500).ok());
  // A failure once per transition, again when its reason changes; recovery when running again.
  const std::string unreachable = "feature store 127.0.0.1:7070 unreachable: retrying in 2 s";
  REQUIRE(
      c->Heartbeat("w2", {Report(1, 2, pb::PARTITION_STATE_FAILED, unreachable, pb::RESTORE_SOURCE_CHECKPOINT)}, 600)
          .ok());
  REQUIRE(c->Heartbeat("w2", {Report(1, 2, pb::PARTITION_STATE_FAILED, unreachable)}, 700).ok());
  REQUIRE(c->Heartbeat("w2", {Report(1, 2, pb::PARTITION_STATE_FAILED, "topic deleted")}, 800).ok());
  REQUIRE(c->Heartbeat("w2", {Report(1, 2, pb::PARTITION_STATE_STARTING)}, 900).ok());
  REQUIRE(c->Heartbeat("w2", {Report(1, 2, pb::PARTITION_STATE_RUNNING)}, 1000).ok());
  REQUIRE(c->Heartbeat("w2", {Report(1, 2, pb::PARTITION_STATE_RUNNING)}, 1050).ok());
  // w1 still writes partition 1 under its old epoch: fenced, logged once.
  REQUIRE(c->Heartbeat("w1", {Report(1, 1, pb::PARTITION_STATE_FENCED, "epoch 1 < 2")}, 1100).ok());
  REQUIRE(c->Heartbeat("w1", {Report(1, 1, pb::PARTITION_STATE_FENCED, "epoch 1 < 2")}, 1200).ok());
  // A checkpoint committed, then one abandoned after its timeout.
  REQUIRE(c->TriggerCheckpoint("a", 1300).ok());
  REQUIRE(c->Heartbeat("w1", {Ack(0, 1, 1)}, 1400).ok());
  REQUIRE(c->Heartbeat("w2", {Ack(1, 2, 1)}, 1400).ok());
  REQUIRE(c->TriggerCheckpoint("a", 1500)->value() == 2);
  for (int64_t t = 2000; t <= 31000; t += 1000) {
    REQUIRE(c->Heartbeat("w1", {}, t).ok());
    REQUIRE(c->Heartbeat("w2", {}, t).ok());
    c->Tick(t);
  }
  c->Tick(31501);
  // w2 leaves: partition 1 moves back to w1. Then w1 goes silent and is lost.
  REQUIRE(c->LeaveWorker("w2", {}, 32000).ok());
  c->Tick(34000);
  c->Tick(34002);
  REQUIRE(c->CancelJob("a", 35000).ok());

  const auto page = c->ListEvents("", 0, 0);
  using K = pb::ClusterEventKind;
  CHECK(FieldsOf(page.events) == std::vector<Fields>{
                                     {K::CLUSTER_EVENT_JOB_SUBMITTED, "a", -1, "", "", 0, 0},
                                     {K::CLUSTER_EVENT_TOPIC_FOUND, "a", -1, "", "", 0, 0},
                                     {K::CLUSTER_EVENT_WORKER_REGISTERED, "", -1, "w1", "", 0, 0},
                                     {K::CLUSTER_EVENT_PARTITION_ASSIGNED, "a", 0, "w1", "", 1, 0},
                                     {K::CLUSTER_EVENT_PARTITION_ASSIGNED, "a", 1, "w1", "", 1, 0},
                                     {K::CLUSTER_EVENT_WORKER_REGISTERED, "", -1, "w2", "", 0, 0},
                                     {K::CLUSTER_EVENT_PARTITION_ASSIGNED, "a", 1, "w2", "w1", 2, 0},
                                     {K::CLUSTER_EVENT_PARTITION_RESTORED, "a", 0, "w1", "", 1, 0},
                                     {K::CLUSTER_EVENT_PARTITION_RESTORED, "a", 1, "w2", "", 2, 0},
                                     {K::CLUSTER_EVENT_PARTITION_FAILED, "a", 1, "w2", "", 2, 0},
                                     {K::CLUSTER_EVENT_PARTITION_FAILED, "a", 1, "w2", "", 2, 0},
                                     {K::CLUSTER_EVENT_PARTITION_RECOVERED, "a", 1, "w2", "", 2, 0},
                                     {K::CLUSTER_EVENT_PARTITION_FENCED, "a", 1, "w1", "", 1, 0},
                                     {K::CLUSTER_EVENT_CHECKPOINT_COMMITTED, "a", -1, "", "", 0, 1},
                                     {K::CLUSTER_EVENT_CHECKPOINT_ABANDONED, "a", -1, "", "", 0, 2},
                                     {K::CLUSTER_EVENT_WORKER_LEFT, "", -1, "w2", "", 0, 0},
                                     {K::CLUSTER_EVENT_PARTITION_ASSIGNED, "a", 1, "w1", "w2", 3, 0},
                                     {K::CLUSTER_EVENT_WORKER_LOST, "", -1, "w1", "", 0, 0},
                                     {K::CLUSTER_EVENT_JOB_CANCELLED, "a", -1, "", "", 0, 0},
                                 });
  REQUIRE(page.events.size() == 19);
  CHECK(page.last_seq == 19);
  std::vector<int64_t> times;
  for (size_t i = 0; i < page.events.size(); ++i) {
    CHECK(page.events[i].seq() == i + 1);
    CHECK_FALSE(page.events[i].message().empty());
    times.push_back(page.events[i].at_ms());
  }
  CHECK(times == std::vector<int64_t>{100, 100, 200, 200, 200, 300, 300, 400, 600, 600, 800, 1000, 1100, 1400, 31501,
                                      32000, 32000, 34002, 35000});
  const auto& e = page.events;
  CHECK(e[0].message() == "job a submitted (topic events at 127.0.0.1:9092)");
  CHECK(e[1].message() ==
        "topic \"events\" at 127.0.0.1:9092: 2 partitions, replication factor 1; dead-letter topic "
        "\"a.dlq\" found");
  CHECK(e[2].message() == "worker w1 registered (127.0.0.1:9500)");
  CHECK(e[3].message() == "partition 0 assigned to w1 (epoch 1)");
  CHECK(e[6].message() == "partition 1 moved from w1 to w2 (epoch 2)");
  CHECK(e[7].message() == "partition 0 on w1 (epoch 1) started from the job's start offset: nothing to restore");
  CHECK(e[7].restore().source() == pb::RESTORE_SOURCE_START);
  CHECK(e[9].message() == unreachable);
  CHECK(e[10].message() == "topic deleted");
  CHECK(e[11].message() == "partition 1 running again on w2 (epoch 2)");
  CHECK(e[12].message() ==
        "partition 1 fenced: the feature store refused w1's writes at epoch 1 (a newer owner exists): epoch 1 < 2");
  CHECK(e[13].message() == "checkpoint 1 committed (200 bytes, 100 ms after its trigger)");
  CHECK(e[14].message() == "checkpoint 2 abandoned: no acknowledgement from partitions 0, 1 within 30000 ms");
  CHECK(e[15].message() == "worker w2 left with 0 handoff snapshots; its partitions move");
  CHECK(e[17].message() == "worker w1 lost: no heartbeat for 3002 ms (timeout 3000 ms); its partitions move");
  CHECK(e[18].message() == "job a cancelled");

  // Filtered by job: the cluster's own events (workers) are left out.
  const auto of_a = c->ListEvents("a", 0, 0);
  CHECK(of_a.events.size() == 15);
  for (const auto& ev : of_a.events) CHECK(ev.job() == "a");
  CHECK(of_a.last_seq == 19);
  CHECK(c->ListEvents("a", 15, 0).events.size() == 2);
  CHECK(c->ListEvents("", 0, 2).events.front().seq() == 18);
}

TEST_CASE_METHOD(EventsTest, "a registration again, and a pending checkpoint of a cancelled job, say so",
                 "[coordinator][events]") {
  REQUIRE(c->SubmitJob(JobA(), 0).ok());
  REQUIRE(c->RegisterWorker("w1", "", 0).ok());
  REQUIRE(c->RegisterWorker("w1", "", 10).ok());
  c->Tick(3011);  // lost
  REQUIRE(c->RegisterWorker("w1", "", 3100).ok());
  REQUIRE(c->TriggerCheckpoint("a", 3200).ok());
  REQUIRE(c->CancelJob("a", 3300).ok());
  std::vector<std::string> messages;
  for (const auto& e : c->ListEvents("", 0, 0).events) {
    if (e.kind() == pb::CLUSTER_EVENT_WORKER_REGISTERED || e.kind() == pb::CLUSTER_EVENT_CHECKPOINT_ABANDONED) {
      messages.push_back(e.message());
    }
  }
  CHECK(messages == std::vector<std::string>{"worker w1 registered", "worker w1 registered again",
                                             "worker w1 registered again after being lost",
                                             "checkpoint 1 abandoned: the job was cancelled"});
}

TEST_CASE_METHOD(EventsTest, "the log is bounded by event_log_capacity", "[coordinator][events]") {
  options.event_log_capacity = 4;
  Restart(0);
  REQUIRE(c->SubmitJob(JobA(), 0).ok());
  for (int i = 0; i < 5; ++i) REQUIRE(c->RegisterWorker("w" + std::to_string(i), "", i).ok());
  const auto page = c->ListEvents("", 0, 0);
  REQUIRE(page.events.size() == 4);
  CHECK(page.events.back().seq() == page.last_seq);
  CHECK(page.events.front().seq() == page.last_seq - 3);
}

TEST_CASE_METHOD(EventsTest, "GetJob shows each partition's state and the reason of a failure",
                 "[coordinator][events]") {
  REQUIRE(c->SubmitJob(JobA(), 0).ok());
  CHECK(Partition(0).state() == pb::PARTITION_STATE_UNSPECIFIED);  // no worker: unassigned
  CHECK(Partition(0).owner().empty());

  REQUIRE(c->RegisterWorker("w1", "", 0).ok());
  CHECK(Partition(0).state() == pb::PARTITION_STATE_STARTING);  // assigned, not reported yet
  CHECK(Partition(1).state() == pb::PARTITION_STATE_STARTING);

  REQUIRE(c->Heartbeat("w1",
                       {Report(0, 1, pb::PARTITION_STATE_FAILED, "cannot reach the feature store"),
                        Report(1, 1, pb::PARTITION_STATE_UNSPECIFIED)},
                       100)
              .ok());
  CHECK(Partition(0).state() == pb::PARTITION_STATE_FAILED);
  CHECK(Partition(0).state_reason() == "cannot reach the feature store");
  CHECK(Partition(1).state() == pb::PARTITION_STATE_RUNNING);  // a report without a state: an older worker
  CHECK(c->ListJobs()[0].partitions(0).state_reason() == "cannot reach the feature store");

  REQUIRE(c->Heartbeat("w1", {Report(0, 1, pb::PARTITION_STATE_PAUSED, "store full")}, 200).ok());
  CHECK(Partition(0).state() == pb::PARTITION_STATE_PAUSED);
  CHECK(Partition(0).state_reason() == "store full");

  // After a restart w1 has not registered again: its partitions show unassigned, with the owner kept.
  Restart(1000);
  CHECK(Partition(0).owner() == "w1");
  CHECK(Partition(0).state() == pb::PARTITION_STATE_UNSPECIFIED);
  CHECK_THAT(Partition(0).state_reason(), Catch::Contains("its owner w1 is not live"));
  REQUIRE(c->RegisterWorker("w1", "", 1100).ok());
  CHECK(Partition(0).state() == pb::PARTITION_STATE_STARTING);

  // Its owner lost (no other worker): unassigned.
  c->Tick(4101);
  CHECK(Partition(0).owner().empty());
  CHECK(Partition(0).state() == pb::PARTITION_STATE_UNSPECIFIED);
}

TEST_CASE_METHOD(EventsTest, "a second process with a live worker's id is refused, logged once, and runs nothing",
                 "[coordinator][events]") {
  REQUIRE(c->SubmitJob(JobA(), 0).ok());
  REQUIRE(c->RegisterWorker("w1", "10.0.0.1:9466", 0).ok());
  for (int64_t t : {100, 200, 300}) {
    auto refused = c->RegisterWorker("w1", "10.0.0.2:9466", t);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == weir::StatusCode::kAlreadyExists);
  }
  // Both partitions stay with the first process, at their epochs.
  CHECK(Partition(0).owner() == "w1");
  CHECK(Partition(0).epoch() == 1);
  std::vector<std::string> refusals;
  for (const auto& e : c->ListEvents("", 0, 0).events) {
    if (e.kind() == pb::CLUSTER_EVENT_WORKER_REFUSED) refusals.push_back(e.message());
  }
  REQUIRE(refusals.size() == 1);
  CHECK_THAT(refusals[0], Catch::StartsWith("registration of w1 from 10.0.0.2:9466 refused: worker id \"w1\" is in "
                                            "use by a live worker at 10.0.0.1:9466"));
}

TEST_CASE_METHOD(EventsTest,
                 "an owner fenced at its current epoch (an older state.pb restored) is re-epoched above the "
                 "wall-clock floor, with an event",
                 "[coordinator][events]") {
  REQUIRE(c->SubmitJob(JobA(), 100).ok());
  REQUIRE(c->RegisterWorker("w1", "", 200).ok());  // both partitions, epoch 1
  const int64_t now_ms = 1700000000000;
  auto reply = c->Heartbeat("w1", {Report(0, 1, pb::PARTITION_STATE_FENCED, "epoch 1 < 7")}, now_ms);
  REQUIRE(reply.ok());
  CHECK(Partition(0).epoch() == static_cast<uint64_t>(now_ms));
  CHECK(Partition(1).epoch() == 1);  // not fenced: unchanged
  bool assigned = false;
  for (const auto& a : reply->assignments()) {
    if (a.partition() == 0) {
      CHECK(a.epoch() == static_cast<uint64_t>(now_ms));
      assigned = true;
    }
  }
  CHECK(assigned);
  const auto events = c->ListEvents("a", 0, 0).events;
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().kind() == pb::CLUSTER_EVENT_PARTITION_REEPOCHED);
  CHECK(events.back().epoch() == static_cast<uint64_t>(now_ms));
  CHECK_THAT(events.back().message(), Catch::Matchers::Contains("was an older state.pb restored?"));
  // The old epoch's late word changes nothing more.
  REQUIRE(c->Heartbeat("w1", {Report(0, 1, pb::PARTITION_STATE_FENCED, "epoch 1 < 7")}, now_ms + 500).ok());
  CHECK(Partition(0).epoch() == static_cast<uint64_t>(now_ms));
}
