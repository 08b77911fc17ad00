// What runs without the coordinator's lock: a checkpoint's `_metadata` and
// `state.pb` writes. A writer that blocks on a gate holds a write in flight
// while the test shows that heartbeats, status and ticks go on, and that a
// commit whose checkpoint was cancelled or superseded meanwhile is dropped.
// Waits are on conditions and bounded, so a regression fails, never hangs.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "common/checkpoint_paths.h"
#include "coordinator/state_file.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace pb = weir::v1;
using weir::coordinator::StateFile;
using weir::coordinator::testing::CoordinatorTest;
using weir::coordinator::testing::GatedWriter;

namespace {

constexpr auto kBound = std::chrono::seconds(20);

// Job "a" on topic "events" (2 partitions) checkpointing into a temp dir,
// owned by w1 (partition 0, epoch 1) and w2 (partition 1, epoch 2), on a
// coordinator whose file writes go through `gate` (blocking the paths that
// contain `blocked`).
struct CommitIoTest : CoordinatorTest {
  explicit CommitIoTest(const std::string& blocked = "chk-1/_metadata")
      : CoordinatorTest({{"events", 2}}, {}), gate(blocked) {
    options.write_file = gate.writer();
    Restart(0);
    REQUIRE(c->SubmitJob(weir::coordinator::testing::Spec(
                             "a", "events", "interval: 10s, storage: \"file://" + storage.path.string() + "\""),
                         0)
                .ok());
    REQUIRE(c->RegisterWorker("w1", "", 0).ok());
    REQUIRE(c->RegisterWorker("w2", "", 0).ok());
  }

  pb::PartitionStatus Ack(int32_t partition, uint64_t epoch, uint64_t checkpoint) const {
    pb::PartitionStatus s;
    s.set_job("a");
    s.set_partition(partition);
    s.set_epoch(epoch);
    s.mutable_snapshot()->set_checkpoint(checkpoint);
    s.mutable_snapshot()->set_path(weir::SnapshotPath(storage.path.string(), "a", checkpoint, partition, epoch));
    s.mutable_snapshot()->set_bytes(10);
    return s;
  }

  // Starts w2's heartbeat acknowledging checkpoint 1 of partition 1 (w1 has
  // acknowledged partition 0): it completes the checkpoint and blocks in
  // its `_metadata` write.
  std::future<weir::Result<pb::HeartbeatResponse>> CommitBlocked() {
    REQUIRE(c->TriggerCheckpoint("a", 100)->value() == 1);
    REQUIRE(c->Heartbeat("w1", {Ack(0, 1, 1)}, 200).ok());
    auto committing = std::async(std::launch::async, [this] { return c->Heartbeat("w2", {Ack(1, 2, 1)}, 300); });
    REQUIRE(gate.WaitEntered(1, kBound));
    return committing;
  }

  std::set<pb::ClusterEventKind> Kinds() const {
    std::set<pb::ClusterEventKind> kinds;
    for (const auto& e : c->ListEvents("a", 0, 0).events) kinds.insert(e.kind());
    return kinds;
  }

  weir::testing::TempDir storage{"weir-commit-io"};
  GatedWriter gate;
};

}  // namespace

TEST_CASE_METHOD(CommitIoTest, "a blocked _metadata write blocks no heartbeat, status, trigger or tick",
                 "[coordinator][checkpoint]") {
  auto committing = CommitBlocked();

  // With the commit's write in flight, the rest of the coordinator answers
  // (on another thread, so that a regression fails the wait instead of hanging the test).
  struct Seen {
    int triggers_in_heartbeat = -1;
    uint64_t pending = 0;
    uint64_t latest = 99;
    uint64_t triggered = 0;
    size_t workers = 0;
  };
  auto others = std::async(std::launch::async, [this] {
    Seen seen;
    if (auto hb = c->Heartbeat("w1", {}, 400); hb.ok()) seen.triggers_in_heartbeat = hb->checkpoints_size();
    seen.pending = c->GetJob("a")->pending_checkpoint();
    seen.latest = c->GetJob("a")->latest_checkpoint();
    seen.triggered = c->TriggerCheckpoint("a", 400)->value();
    c->Tick(500);
    seen.workers = c->ListWorkers(500).size();
    return seen;
  });
  const bool answered = others.wait_for(kBound) == std::future_status::ready;
  CHECK(answered);
  gate.Release();
  const Seen seen = others.get();
  CHECK(seen.triggers_in_heartbeat == 1);  // still pending: not committed before _metadata is written
  CHECK(seen.pending == 1);
  CHECK(seen.latest == 0);
  CHECK(seen.triggered == 1);
  CHECK(seen.workers == 2);

  REQUIRE(committing.wait_for(kBound) == std::future_status::ready);
  auto hb = committing.get();
  REQUIRE(hb.ok());
  CHECK(hb->checkpoints_size() == 0);  // the reply follows the commit
  auto job = c->GetJob("a");
  CHECK(job->latest_checkpoint() == 1);
  CHECK(job->pending_checkpoint() == 0);
  REQUIRE(job->checkpoints_size() == 1);
  CHECK(job->checkpoints(0).committed_at_ms() == 300);
  CHECK(c->Stats().checkpoints_committed == 1);
  // _metadata first, then the state that records the commit.
  const auto written = gate.written();
  REQUIRE(written.size() >= 2);
  CHECK(written[written.size() - 2] == weir::CheckpointMetadataPath(storage.path.string(), "a", 1));
  CHECK(written.back() == (data.path / "state.pb").string());
}

TEST_CASE_METHOD(CommitIoTest, "a checkpoint whose job is cancelled while its _metadata is written is not committed",
                 "[coordinator][checkpoint]") {
  auto committing = CommitBlocked();
  auto cancelled = std::async(std::launch::async, [this] { return c->CancelJob("a", 400); });
  const bool answered = cancelled.wait_for(kBound) == std::future_status::ready;
  CHECK(answered);
  gate.Release();
  REQUIRE(cancelled.get().ok());
  auto hb = committing.get();
  REQUIRE(hb.ok());
  CHECK(hb->assignments_size() == 0);
  CHECK(c->GetJob("a")->latest_checkpoint() == 0);
  CHECK(c->GetJob("a")->checkpoints_size() == 0);
  CHECK(c->Stats().checkpoints_committed == 0);
  CHECK(Kinds().count(pb::CLUSTER_EVENT_CHECKPOINT_COMMITTED) == 0);
  CHECK(Kinds().count(pb::CLUSTER_EVENT_CHECKPOINT_ABANDONED) == 1);
}

TEST_CASE_METHOD(CommitIoTest,
                 "a checkpoint abandoned and superseded while its _metadata is written is dropped, the newer one kept",
                 "[coordinator][checkpoint]") {
  auto committing = CommitBlocked();
  struct Seen {
    uint64_t pending_after_timeout = 99;
    uint64_t triggered = 0;
    uint64_t latest = 0;
  };
  auto newer = std::async(std::launch::async, [this] {
    Seen seen;
    if (!c->Heartbeat("w1", {}, 30'000).ok() || !c->Heartbeat("w2", {}, 30'000).ok()) return seen;
    c->Tick(30'101);  // checkpoint 1 timed out (its commit never finished)
    seen.pending_after_timeout = c->GetJob("a")->pending_checkpoint();
    auto id = c->TriggerCheckpoint("a", 30'200);
    if (!id.ok()) return seen;
    seen.triggered = id->value();
    if (!c->Heartbeat("w1", {Ack(0, 1, 2)}, 30'300).ok() || !c->Heartbeat("w2", {Ack(1, 2, 2)}, 30'300).ok()) {
      return seen;
    }
    seen.latest = c->GetJob("a")->latest_checkpoint();
    return seen;
  });
  const bool answered = newer.wait_for(kBound) == std::future_status::ready;
  CHECK(answered);
  gate.Release();
  const Seen seen = newer.get();
  CHECK(seen.pending_after_timeout == 0);
  CHECK(seen.triggered == 2);
  CHECK(seen.latest == 2);
  REQUIRE(committing.get().ok());

  auto job = c->GetJob("a");
  CHECK(job->latest_checkpoint() == 2);
  REQUIRE(job->checkpoints_size() == 1);
  CHECK(job->checkpoints(0).id() == 2);
  CHECK(c->Stats().checkpoints_committed == 1);
  CHECK(c->Stats().checkpoints_abandoned == 1);
  const auto events = c->ListEvents("a", 0, 0).events;
  bool abandoned_1 = false;
  for (const auto& e : events) {
    if (e.kind() == pb::CLUSTER_EVENT_CHECKPOINT_ABANDONED && e.checkpoint() == 1) {
      abandoned_1 = true;
      CHECK(e.message() == "checkpoint 1 abandoned: its commit did not finish within 30000 ms");
    }
    CHECK_FALSE((e.kind() == pb::CLUSTER_EVENT_CHECKPOINT_COMMITTED && e.checkpoint() == 1));
  }
  CHECK(abandoned_1);
}

TEST_CASE("weirctl's reads never wait for a blocked state.pb write, the change answers once durable",
          "[coordinator][jobstore]") {
  CoordinatorTest t({{"events", 2}});
  GatedWriter gate("state.pb");
  t.options.write_file = gate.writer();
  t.Restart(0);
  auto submitted =
      std::async(std::launch::async, [&t] { return t.c->SubmitJob(weir::coordinator::testing::Spec("a"), 0); });
  REQUIRE(gate.WaitEntered(1, kBound));  // the job is in memory; its state.pb write is blocked

  struct Seen {
    weir::v1::JobState state = weir::v1::JOB_STATE_UNSPECIFIED;
    size_t jobs = 0;
    size_t events = 0;
  };
  auto reads = std::async(std::launch::async, [&t] {
    Seen seen;
    if (auto job = t.c->GetJob("a"); job.ok()) seen.state = job->state();
    seen.jobs = t.c->ListJobs().size();
    seen.events = t.c->ListEvents("", 0, 0).events.size();
    t.c->ListWorkers(0);
    t.c->Stats();
    return seen;
  });
  const bool answered = reads.wait_for(kBound) == std::future_status::ready;
  CHECK(answered);
  CHECK(gate.written().empty());  // nothing durable yet...
  gate.Release();
  const Seen seen = reads.get();
  CHECK(seen.state == weir::v1::JOB_STATE_RUNNING);
  CHECK(seen.jobs == 1);
  CHECK(seen.events == 1);
  auto job = submitted.get();
  REQUIRE(job.ok());  // ...and the submit answered only after its write
  CHECK(job->partitions_size() == 2);
  CHECK(gate.written().front() == (t.data.path / "state.pb").string());
}

TEST_CASE("a state write never overwrites a newer one, and one write covers every version offered",
          "[coordinator][jobstore]") {
  weir::testing::TempDir dir;
  const std::string path = (dir.path / "state.pb").string();
  GatedWriter gate("state.pb");
  StateFile file(path, gate.writer(), 0);
  file.Offer(1, "v1");
  auto first = std::async(std::launch::async, [&] { return file.Sync(1); });
  REQUIRE(gate.WaitEntered(1, kBound));  // writing v1
  file.Offer(2, "v2");
  file.Offer(1, "stale");  // not newer than what is offered: ignored
  auto second = std::async(std::launch::async, [&] { return file.Sync(2); });
  gate.Release();
  REQUIRE(first.get().ok());
  REQUIRE(second.get().ok());
  CHECK(gate.written().size() == 2);
  CHECK(*weir::ReadWholeFile(path) == "v2");
  CHECK(file.durable_version() == 2);
  REQUIRE(file.Sync(1).ok());  // already durable: no write
  CHECK(gate.written().size() == 2);
}
