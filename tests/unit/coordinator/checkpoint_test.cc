// Checkpoint coordination (docs/checkpoints.md): triggers, acknowledgements
// from heartbeats, commits with their `_metadata`, pruning, abandonment,
// restore points in assignments, handoffs of leaving workers, restarts.
// A fake partition discovery, time driven by the test, storage in a temp dir.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/checkpoint_paths.h"
#include "common/durable_file.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace fs = std::filesystem;
namespace pb = weir::v1;
using weir::StatusCode;
using weir::coordinator::CommittedCheckpoint;
using weir::coordinator::testing::CoordinatorTest;
using weir::testing::TempDir;

namespace {

// A coordinator whose jobs checkpoint to a temp dir, on topics "events" (2
// partitions), "four" and "one". Workers time out after an hour: these tests
// advance time in large steps without heartbeats, and failure detection is
// tested elsewhere.
struct CheckpointTest : CoordinatorTest {
  CheckpointTest() : CoordinatorTest({{"events", 2}, {"four", 4}, {"one", 1}}, {.worker_timeout_ms = 3'600'000}) {}

  // The checkpoint storage directory.
  std::string root() const { return storage.path.string(); }

  // A spec of job `name` that checkpoints to root() every `interval`.
  pb::JobSpec Spec(const std::string& name, const std::string& topic = "events",
                   const std::string& interval = "10s") const {
    return weir::coordinator::testing::Spec(name, topic,
                                            "interval: " + interval + ", storage: \"file://" + root() + "\"");
  }

  // A heartbeat status acknowledging `checkpoint` for one partition, as a worker
  // sends it once the snapshot file is durable: the file is written too.
  pb::PartitionStatus Ack(const std::string& job, int32_t partition, uint64_t epoch, uint64_t checkpoint,
                          int64_t next_offset = 100, int64_t bytes = 1000) const {
    pb::PartitionStatus s;
    s.set_job(job);
    s.set_partition(partition);
    s.set_epoch(epoch);
    s.set_offset(next_offset);
    pb::SnapshotRef* ref = s.mutable_snapshot();
    ref->set_checkpoint(checkpoint);
    ref->set_epoch(epoch);
    ref->set_path(weir::SnapshotPath(root(), job, checkpoint, partition, epoch));
    ref->set_next_offset(next_offset);
    ref->set_bytes(bytes);
    fs::create_directories(fs::path(ref->path()).parent_path());
    std::ofstream(ref->path()) << "snapshot";
    return s;
  }

  // A worker's handoff snapshot of one partition (LeaveWorker), its file written.
  pb::PartitionStatus Handoff(const std::string& job, int32_t partition, uint64_t epoch, int64_t next_offset) const {
    pb::PartitionStatus s;
    s.set_job(job);
    s.set_partition(partition);
    s.set_epoch(epoch);
    pb::SnapshotRef* ref = s.mutable_snapshot();
    ref->set_checkpoint(0);
    ref->set_epoch(epoch);
    ref->set_path(weir::HandoffPath(root(), job, partition, epoch));
    ref->set_next_offset(next_offset);
    ref->set_bytes(10);
    fs::create_directories(fs::path(ref->path()).parent_path());
    std::ofstream(ref->path()) << "handoff";
    return s;
  }

  // Commits checkpoint `id` of a 2-partition job owned by w1 under epoch 1.
  void CommitTwoPartitions(const std::string& job, uint64_t id, int64_t now_ms) {
    auto triggered = c->TriggerCheckpoint(job, now_ms);
    REQUIRE(triggered.ok());
    REQUIRE(triggered->value() == id);
    const int64_t offset = static_cast<int64_t>(id) * 100;
    REQUIRE(c->Heartbeat("w1", {Ack(job, 0, 1, id, offset), Ack(job, 1, 1, id, offset + 1)}, now_ms + 5).ok());
    REQUIRE(c->GetJob(job)->latest_checkpoint() == id);
  }

  TempDir storage{"weir-coord-chk"};
};

// (job, checkpoint) triggers a heartbeat reply carries.
std::set<std::pair<std::string, uint64_t>> Triggers(const pb::HeartbeatResponse& r) {
  std::set<std::pair<std::string, uint64_t>> out;
  for (const auto& t : r.checkpoints()) out.insert({t.job(), t.checkpoint()});
  return out;
}

const pb::Assignment* Find(const pb::HeartbeatResponse& r, const std::string& job, int32_t partition) {
  for (const auto& a : r.assignments()) {
    if (a.job() == job && a.partition() == partition) return &a;
  }
  return nullptr;
}

// The (checkpoint, next_offset) of each restore point of an assignment, in order.
std::vector<std::pair<uint64_t, int64_t>> RestorePoints(const pb::Assignment& a) {
  std::vector<std::pair<uint64_t, int64_t>> out;
  for (const auto& r : a.restore_from()) out.push_back({r.checkpoint(), r.next_offset()});
  return out;
}

std::set<uint64_t> CommittedIds(const pb::JobInfo& job) {
  std::set<uint64_t> ids;
  for (const auto& c : job.checkpoints()) ids.insert(c.id());
  return ids;
}

}  // namespace

TEST_CASE_METHOD(CheckpointTest, "a checkpoint is triggered every interval once every partition has a live owner",
                 "[coordinator][checkpoint]") {
  REQUIRE(c->SubmitJob(Spec("a"), 0).ok());
  REQUIRE(c->SubmitJob(Spec("b", "one"), 0).ok());

  c->Tick(10000);  // due, but nobody owns the partitions
  CHECK(c->GetJob("a")->pending_checkpoint() == 0);
  CHECK(c->Stats().checkpoints_pending == 0);

  REQUIRE(c->RegisterWorker("w1", "", 10000).ok());
  REQUIRE(c->RegisterWorker("w2", "", 10000).ok());  // a: 0 -> w1, 1 -> w2; b: 0 -> w1
  c->Tick(10000);
  CHECK(c->GetJob("a")->pending_checkpoint() == 1);
  CHECK(c->GetJob("b")->pending_checkpoint() == 1);
  CHECK(c->Stats().checkpoints_pending == 2);

  // Every worker with a partition of the job is told; w2 has nothing of b.
  auto hb1 = c->Heartbeat("w1", {}, 10100);
  REQUIRE(hb1.ok());
  CHECK(Triggers(*hb1) == std::set<std::pair<std::string, uint64_t>>{{"a", 1}, {"b", 1}});
  auto hb2 = c->Heartbeat("w2", {}, 10100);
  REQUIRE(hb2.ok());
  CHECK(Triggers(*hb2) == std::set<std::pair<std::string, uint64_t>>{{"a", 1}});

  // Acknowledged: the next one is due one interval after the last trigger, not before.
  REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 1)}, 11000).ok());
  REQUIRE(c->Heartbeat("w2", {Ack("a", 1, 2, 1)}, 11000).ok());
  CHECK(c->GetJob("a")->latest_checkpoint() == 1);
  CHECK(c->GetJob("a")->pending_checkpoint() == 0);
  c->Tick(19999);
  CHECK(c->GetJob("a")->pending_checkpoint() == 0);
  c->Tick(20000);
  CHECK(c->GetJob("a")->pending_checkpoint() == 2);
  CHECK(c->GetJob("b")->pending_checkpoint() == 1);  // b's first is still waiting: no second one
}

TEST_CASE_METHOD(CheckpointTest,
                 "the last acknowledgement commits: _metadata, latest, restore points, stale acks are ignored",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a"));
  auto id = c->TriggerCheckpoint("a", 1000);
  REQUIRE(id.ok());
  CHECK(id->value() == 1);

  // w2 joins: partition 1 moves to it under epoch 2. w1's acknowledgement of it, at epoch 1, does not count.
  REQUIRE(c->RegisterWorker("w2", "", 1100).ok());
  REQUIRE(c->GetJob("a")->partitions(1).epoch() == 2);
  REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 1, 500, 300), Ack("a", 1, 1, 1, 999)}, 1200).ok());
  CHECK(c->GetJob("a")->pending_checkpoint() == 1);
  // Nor does one of another checkpoint, one from a worker that does not own it, or one without a file.
  REQUIRE(c->Heartbeat("w2", {Ack("a", 1, 2, 7)}, 1300).ok());
  REQUIRE(c->Heartbeat("w1", {Ack("a", 1, 2, 1)}, 1300).ok());
  pb::PartitionStatus no_path = Ack("a", 1, 2, 1);
  no_path.mutable_snapshot()->clear_path();
  REQUIRE(c->Heartbeat("w2", {no_path}, 1300).ok());
  CHECK(c->GetJob("a")->pending_checkpoint() == 1);
  CHECK(c->GetJob("a")->latest_checkpoint() == 0);

  // The owner's acknowledgement at its epoch completes it; the same reply no longer carries the trigger.
  auto hb = c->Heartbeat("w2", {Ack("a", 1, 2, 1, 700, 200)}, 1400);
  REQUIRE(hb.ok());
  CHECK(hb->checkpoints_size() == 0);
  const pb::Assignment* a1 = Find(*hb, "a", 1);
  REQUIRE(a1 != nullptr);
  CHECK(a1->restore_checkpoint() == 1);
  CHECK(RestorePoints(*a1) == std::vector<std::pair<uint64_t, int64_t>>{{1, 700}});

  auto job = c->GetJob("a");
  REQUIRE(job.ok());
  CHECK(job->latest_checkpoint() == 1);
  CHECK(job->pending_checkpoint() == 0);
  REQUIRE(job->checkpoints_size() == 1);
  const pb::CheckpointInfo& info = job->checkpoints(0);
  CHECK(info.id() == 1);
  CHECK(info.triggered_at_ms() == 1000);
  CHECK(info.committed_at_ms() == 1400);
  CHECK(info.bytes() == 500);
  REQUIRE(info.partitions_size() == 2);
  CHECK(info.partitions(0).next_offset() == 500);
  CHECK(info.partitions(0).epoch() == 1);
  CHECK(info.partitions(1).next_offset() == 700);
  CHECK(info.partitions(1).epoch() == 2);
  CHECK(info.partitions(1).path() == weir::SnapshotPath(root(), "a", 1, 1, 2));
  CHECK(c->Stats().checkpoints_committed == 1);
  // The metrics see the commit once, with its duration and size.
  const std::vector<CommittedCheckpoint> commits = c->Stats().recent_commits;
  REQUIRE(commits.size() == 1);
  CHECK(commits[0].seq == 1);
  CHECK(commits[0].job == "a");
  CHECK(commits[0].id == weir::CheckpointId(1));
  CHECK(commits[0].duration_ms == 400);
  CHECK(commits[0].bytes == 500);

  // The commit's _metadata is the CheckpointInfo, durable in the checkpoint's directory.
  auto bytes = weir::ReadWholeFile(weir::CheckpointMetadataPath(root(), "a", 1));
  REQUIRE(bytes.ok());
  pb::CheckpointInfo parsed;
  REQUIRE(parsed.ParseFromString(*bytes));
  CHECK(parsed.SerializeAsString() == info.SerializeAsString());

  // Later heartbeats give w1 its restore point too.
  auto hb1 = c->Heartbeat("w1", {}, 1500);
  REQUIRE(hb1.ok());
  const pb::Assignment* a0 = Find(*hb1, "a", 0);
  REQUIRE(a0 != nullptr);
  CHECK(a0->restore_checkpoint() == 1);
  CHECK(RestorePoints(*a0) == std::vector<std::pair<uint64_t, int64_t>>{{1, 500}});
}

TEST_CASE_METHOD(CheckpointTest, "an acknowledgement from the owner under an older epoch is ignored",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a", "one"));
  REQUIRE(c->TriggerCheckpoint("a", 100)->value() == 1);
  // w1 leaves and comes back: it owns the partition again, under epoch 2.
  REQUIRE(c->LeaveWorker("w1", {}, 200).ok());
  REQUIRE(c->RegisterWorker("w1", "", 300).ok());
  REQUIRE(c->GetJob("a")->partitions(0).epoch() == 2);
  REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 1)}, 400).ok());
  CHECK(c->GetJob("a")->latest_checkpoint() == 0);
  REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 2, 1)}, 500).ok());
  CHECK(c->GetJob("a")->latest_checkpoint() == 1);
  CHECK(c->GetJob("a")->checkpoints(0).partitions(0).epoch() == 2);
}

TEST_CASE_METHOD(CheckpointTest, "only the last 3 checkpoints are kept, older and abandoned directories are deleted",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a"));
  for (uint64_t id = 1; id <= 3; ++id) CommitTwoPartitions("a", id, static_cast<int64_t>(id) * 1000);
  CHECK(CommittedIds(*c->GetJob("a")) == std::set<uint64_t>{1, 2, 3});
  CHECK(fs::exists(weir::CheckpointDir(root(), "a", 1)));

  CommitTwoPartitions("a", 4, 4000);
  CHECK(CommittedIds(*c->GetJob("a")) == std::set<uint64_t>{2, 3, 4});
  CHECK_FALSE(fs::exists(weir::CheckpointDir(root(), "a", 1)));
  CHECK(fs::exists(weir::CheckpointMetadataPath(root(), "a", 2)));

  // Checkpoint 5 is abandoned with one partition written; 6 commits and its sweep removes 5's directory.
  REQUIRE(c->TriggerCheckpoint("a", 5000).ok());
  REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 5)}, 5001).ok());
  c->Tick(35001);
  REQUIRE(c->GetJob("a")->pending_checkpoint() == 0);
  CHECK(fs::exists(weir::CheckpointDir(root(), "a", 5)));
  CommitTwoPartitions("a", 6, 36000);
  CHECK(CommittedIds(*c->GetJob("a")) == std::set<uint64_t>{3, 4, 6});
  CHECK_FALSE(fs::exists(weir::CheckpointDir(root(), "a", 2)));
  CHECK_FALSE(fs::exists(weir::CheckpointDir(root(), "a", 5)));
  for (uint64_t id : {3, 4, 6}) CHECK(fs::exists(weir::SnapshotPath(root(), "a", id, 1, 1)));

  // The job's checkpoints in order, oldest first, with the restore points newest first.
  auto job = c->GetJob("a");
  REQUIRE(job->checkpoints_size() == 3);
  CHECK(job->checkpoints(0).id() == 3);
  CHECK(job->checkpoints(2).id() == 6);
  auto hb = c->Heartbeat("w1", {}, 36100);
  const pb::Assignment* a1 = Find(*hb, "a", 1);
  REQUIRE(a1 != nullptr);
  CHECK(RestorePoints(*a1) == std::vector<std::pair<uint64_t, int64_t>>{{6, 601}, {4, 401}, {3, 301}});
}

TEST_CASE_METHOD(CheckpointTest, "a checkpoint not acknowledged in time is abandoned and the next one gets a higher id",
                 "[coordinator][checkpoint]") {
  REQUIRE(c->RegisterWorker("w1", "", 0).ok());

  SECTION("timeout 30 s for intervals up to 10 s") {
    REQUIRE(c->SubmitJob(Spec("a"), 0).ok());
    for (int64_t t = 0; t <= 10000; t += 250) c->Tick(t);
    REQUIRE(c->GetJob("a")->pending_checkpoint() == 1);
    REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 1)}, 10100).ok());
    c->Tick(40000);  // exactly the timeout after the trigger: still waiting
    CHECK(c->GetJob("a")->pending_checkpoint() == 1);
    c->Tick(40001);
    CHECK(c->GetJob("a")->pending_checkpoint() == 0);
    CHECK(c->Stats().checkpoints_abandoned == 1);
    CHECK(c->Stats().checkpoints_pending == 0);

    // A late acknowledgement of the abandoned checkpoint commits nothing.
    REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 1), Ack("a", 1, 1, 1)}, 40100).ok());
    CHECK(c->GetJob("a")->latest_checkpoint() == 0);
    CHECK(c->Heartbeat("w1", {}, 40200)->checkpoints_size() == 0);

    // The next one an interval later, under a new id.
    c->Tick(50000);
    CHECK(c->GetJob("a")->pending_checkpoint() == 0);
    c->Tick(50001);
    CHECK(c->GetJob("a")->pending_checkpoint() == 2);
    REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 2), Ack("a", 1, 1, 2)}, 50100).ok());
    CHECK(c->GetJob("a")->latest_checkpoint() == 2);
  }
  SECTION("3 intervals for longer intervals") {
    REQUIRE(c->SubmitJob(Spec("a", "events", "20s"), 0).ok());
    c->Tick(20000);
    REQUIRE(c->GetJob("a")->pending_checkpoint() == 1);
    c->Tick(80000);
    CHECK(c->GetJob("a")->pending_checkpoint() == 1);
    c->Tick(80001);
    CHECK(c->GetJob("a")->pending_checkpoint() == 0);
    CHECK(c->Stats().checkpoints_abandoned == 1);
  }
}

TEST_CASE_METHOD(CheckpointTest, "a commit that cannot write its _metadata is abandoned and retried after the interval",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a", "one"));
  REQUIRE(c->TriggerCheckpoint("a", 100).ok());
  pb::PartitionStatus ack = Ack("a", 0, 1, 1);
  // A file where the checkpoint's directory belongs: its _metadata cannot be written.
  fs::remove_all(weir::CheckpointDir(root(), "a", 1));
  std::ofstream(weir::CheckpointDir(root(), "a", 1)) << "in the way";
  REQUIRE(c->Heartbeat("w1", {ack}, 200).ok());
  auto job = c->GetJob("a");
  CHECK(job->latest_checkpoint() == 0);
  CHECK(job->pending_checkpoint() == 0);
  CHECK(job->checkpoints_size() == 0);
  CHECK(c->Stats().checkpoints_abandoned == 1);
  c->Tick(10199);
  CHECK(c->GetJob("a")->pending_checkpoint() == 0);
  c->Tick(10200);
  CHECK(c->GetJob("a")->pending_checkpoint() == 2);
}

TEST_CASE_METHOD(CheckpointTest, "restore_from lists the handoff first, then committed checkpoints newest first",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a"));
  CommitTwoPartitions("a", 1, 1000);
  CommitTwoPartitions("a", 2, 2000);
  REQUIRE(c->RegisterWorker("w2", "", 2500).ok());  // takes partition 1 (epoch 2), restoring checkpoint 2
  auto hb2 = c->Heartbeat("w2", {}, 2600);
  REQUIRE(hb2.ok());
  const pb::Assignment* moved = Find(*hb2, "a", 1);
  REQUIRE(moved != nullptr);
  CHECK(moved->epoch() == 2);
  CHECK(moved->restore_checkpoint() == 2);
  CHECK(RestorePoints(*moved) == std::vector<std::pair<uint64_t, int64_t>>{{2, 201}, {1, 101}});

  // w1 leaves with a handoff of partition 0 at offset 250: w2 takes it and restores that first.
  const pb::PartitionStatus handoff = Handoff("a", 0, 1, 250);
  REQUIRE(c->LeaveWorker("w1", {handoff}, 3000).ok());
  hb2 = c->Heartbeat("w2", {}, 3100);
  REQUIRE(hb2.ok());
  const pb::Assignment* a0 = Find(*hb2, "a", 0);
  REQUIRE(a0 != nullptr);
  CHECK(a0->epoch() == 2);
  CHECK(a0->restore_checkpoint() == 0);  // the handoff is no checkpoint
  CHECK(RestorePoints(*a0) == std::vector<std::pair<uint64_t, int64_t>>{{0, 250}, {2, 200}, {1, 100}});
  CHECK(a0->restore_from(0).path() == handoff.snapshot().path());
  const pb::Assignment* a1 = Find(*hb2, "a", 1);
  REQUIRE(a1 != nullptr);
  CHECK(RestorePoints(*a1) == std::vector<std::pair<uint64_t, int64_t>>{{2, 201}, {1, 101}});

  // The next commit supersedes the handoff: it is dropped, and its file deleted.
  REQUIRE(c->TriggerCheckpoint("a", 4000).ok());
  REQUIRE(c->Heartbeat("w2", {Ack("a", 0, 2, 3, 260), Ack("a", 1, 2, 3, 301)}, 4100).ok());
  hb2 = c->Heartbeat("w2", {}, 4200);
  a0 = Find(*hb2, "a", 0);
  REQUIRE(a0 != nullptr);
  CHECK(a0->restore_checkpoint() == 3);
  CHECK(RestorePoints(*a0) == std::vector<std::pair<uint64_t, int64_t>>{{3, 260}, {2, 200}, {1, 100}});
  CHECK_FALSE(fs::exists(handoff.snapshot().path()));
}

TEST_CASE_METHOD(CheckpointTest,
                 "a leaving worker's handoffs are recorded and its partitions move at once under higher epochs",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a", "four"));
  REQUIRE(c->RegisterWorker("w2", "", 0).ok());  // w1: 0, 1 (epoch 1); w2: 2, 3 (epoch 2)
  const auto moves = c->Stats().partition_moves;

  // Partition 1's handoff names an old epoch and partition 2 is not w1's: both ignored.
  REQUIRE(c->LeaveWorker("w1", {Handoff("a", 0, 1, 40), Handoff("a", 1, 0, 41), Handoff("a", 2, 2, 42)}, 100).ok());
  auto job = c->GetJob("a");
  REQUIRE(job.ok());
  for (const auto& p : job->partitions()) CHECK(p.owner() == "w2");  // no tick, no timeout needed
  CHECK(job->partitions(0).epoch() == 2);
  CHECK(job->partitions(1).epoch() == 2);
  CHECK(job->partitions(2).epoch() == 2);
  CHECK(c->Stats().partition_moves == moves + 2);
  auto workers = c->ListWorkers(100);
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].id() == "w2");

  auto hb = c->Heartbeat("w2", {}, 200);
  REQUIRE(hb.ok());
  CHECK(RestorePoints(*Find(*hb, "a", 0)) == std::vector<std::pair<uint64_t, int64_t>>{{0, 40}});
  CHECK(Find(*hb, "a", 1)->restore_from_size() == 0);
  CHECK(Find(*hb, "a", 2)->restore_from_size() == 0);

  // The departed worker is unknown now; leaving again, or an unknown worker leaving, is harmless.
  CHECK(c->Heartbeat("w1", {}, 300).status().code() == StatusCode::kNotFound);
  CHECK(c->LeaveWorker("w1", {}, 300).ok());
  CHECK(c->LeaveWorker("nobody", {Handoff("a", 3, 2, 99)}, 300).ok());
  hb = c->Heartbeat("w2", {}, 400);
  CHECK(Find(*hb, "a", 3)->restore_from_size() == 0);

  // w2 leaves too with partition 0's newer handoff: it replaces w1's (whose file goes).
  const pb::PartitionStatus newer = Handoff("a", 0, 2, 80);
  REQUIRE(c->LeaveWorker("w2", {newer}, 500).ok());
  CHECK_FALSE(fs::exists(weir::HandoffPath(root(), "a", 0, 1)));
  REQUIRE(c->RegisterWorker("w3", "", 600).ok());
  hb = c->Heartbeat("w3", {}, 700);
  REQUIRE(hb.ok());
  REQUIRE(hb->assignments_size() == 4);
  CHECK(Find(*hb, "a", 0)->epoch() == 3);
  CHECK(RestorePoints(*Find(*hb, "a", 0)) == std::vector<std::pair<uint64_t, int64_t>>{{0, 80}});
}

TEST_CASE_METHOD(CheckpointTest,
                 "a restarted coordinator keeps committed checkpoints and handoffs and never reuses an id",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a"));
  REQUIRE(c->RegisterWorker("w2", "", 0).ok());  // w1: 0 (epoch 1); w2: 1 (epoch 2)
  REQUIRE(c->TriggerCheckpoint("a", 1000).ok());
  REQUIRE(c->Heartbeat("w1", {Ack("a", 0, 1, 1, 10)}, 1100).ok());
  REQUIRE(c->Heartbeat("w2", {Ack("a", 1, 2, 1, 11)}, 1100).ok());
  REQUIRE(c->GetJob("a")->latest_checkpoint() == 1);
  REQUIRE(c->TriggerCheckpoint("a", 2000)->value() == 2);  // pending when the coordinator stops
  REQUIRE(c->LeaveWorker("w2", {Handoff("a", 1, 2, 15)}, 2100).ok());

  Restart(10000);
  auto job = c->GetJob("a");
  REQUIRE(job.ok());
  CHECK(job->latest_checkpoint() == 1);
  CHECK(job->pending_checkpoint() == 0);  // lost with the old process
  REQUIRE(job->checkpoints_size() == 1);
  CHECK(job->checkpoints(0).partitions(1).next_offset() == 11);

  REQUIRE(c->RegisterWorker("w1", "", 10000).ok());
  auto hb = c->Heartbeat("w1", {}, 10100);
  REQUIRE(hb.ok());
  REQUIRE(hb->assignments_size() == 2);
  CHECK(RestorePoints(*Find(*hb, "a", 0)) == std::vector<std::pair<uint64_t, int64_t>>{{1, 10}});
  CHECK(RestorePoints(*Find(*hb, "a", 1)) == std::vector<std::pair<uint64_t, int64_t>>{{0, 15}, {1, 11}});

  // The first checkpoint of the new process is due one interval after it started, with a new id.
  c->Tick(19999);
  CHECK(c->GetJob("a")->pending_checkpoint() == 0);
  c->Tick(20000);
  CHECK(c->GetJob("a")->pending_checkpoint() == 3);
  CHECK(c->TriggerCheckpoint("a", 20001)->value() == 3);
}

TEST_CASE_METHOD(CheckpointTest,
                 "TriggerCheckpoint: unknown, not running or unassigned jobs are refused, a pending one is returned",
                 "[coordinator][checkpoint]") {
  CHECK(c->TriggerCheckpoint("nope", 0).status().code() == StatusCode::kNotFound);

  discovery.reachable = false;
  REQUIRE(c->SubmitJob(Spec("a"), 0).ok());
  auto unknown = c->TriggerCheckpoint("a", 0);
  CHECK(unknown.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(unknown.status().message(), Catch::Contains("no known partitions"));
  discovery.reachable = true;
  c->Tick(2000);
  REQUIRE(c->GetJob("a")->partitions_size() == 2);
  auto unowned = c->TriggerCheckpoint("a", 2000);
  CHECK(unowned.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(unowned.status().message(), Catch::Contains("partition 0 has no owner"));

  REQUIRE(c->RegisterWorker("w1", "", 2000).ok());
  auto first = c->TriggerCheckpoint("a", 2100);
  REQUIRE(first.ok());
  CHECK(first->value() == 1);
  CHECK(c->TriggerCheckpoint("a", 2200)->value() == 1);  // pending: the same one
  c->Tick(12100);  // an interval after the manual trigger: still pending, so no new one
  CHECK(c->GetJob("a")->pending_checkpoint() == 1);

  // Cancelling drops the pending checkpoint; a cancelled job takes none.
  REQUIRE(c->CancelJob("a", 12500).ok());
  CHECK(c->GetJob("a")->pending_checkpoint() == 0);
  auto cancelled = c->TriggerCheckpoint("a", 13000);
  CHECK(cancelled.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(cancelled.status().message(), Catch::Contains("is not running"));
  CHECK(c->Stats().checkpoints_pending == 0);
}

TEST_CASE_METHOD(CheckpointTest,
                 "a resubmitted cancelled job does not restore the old job's snapshots, ids and epochs keep rising",
                 "[coordinator][checkpoint]") {
  RunJobOnW1(Spec("a"));
  CommitTwoPartitions("a", 1, 1000);
  REQUIRE(c->TriggerCheckpoint("a", 2000)->value() == 2);
  REQUIRE(c->CancelJob("a", 2500).ok());
  auto cancelled = c->GetJob("a");
  CHECK(cancelled->latest_checkpoint() == 1);  // still listed
  CHECK(cancelled->checkpoints_size() == 1);

  auto resubmitted = c->SubmitJob(Spec("a"), 3000);
  REQUIRE(resubmitted.ok());
  CHECK(resubmitted->latest_checkpoint() == 0);
  CHECK(resubmitted->checkpoints_size() == 0);
  CHECK(resubmitted->pending_checkpoint() == 0);
  CHECK_FALSE(fs::exists(weir::CheckpointDir(root(), "a", 1)));
  auto hb = c->Heartbeat("w1", {}, 3100);
  REQUIRE(hb.ok());
  REQUIRE(hb->assignments_size() == 2);
  for (const auto& a : hb->assignments()) {
    CHECK(a.epoch() == 2);
    CHECK(a.restore_checkpoint() == 0);
    CHECK(a.restore_from_size() == 0);
  }
  CHECK(c->TriggerCheckpoint("a", 3200)->value() == 3);
}
