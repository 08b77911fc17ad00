// JobStore: jobs and assignments survive a restart; errors say what to do.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "coordinator/job_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace fs = std::filesystem;
using weir::coordinator::Assignment;
using weir::coordinator::JobStore;
using weir::coordinator::PartitionOwner;
using weir::coordinator::testing::Spec;
using weir::testing::TempDir;

TEST_CASE("jobs and assignments survive a restart of the store", "[coordinator][jobstore]") {
  TempDir dir;
  {
    auto store = JobStore::Open(dir.path.string());
    REQUIRE(store.ok());
    REQUIRE((*store)->Submit(Spec("a"), 1000).ok());
    REQUIRE((*store)->Submit(Spec("b"), 2000).ok());
    Assignment a{{0, PartitionOwner{"w1", 3}}, {1, PartitionOwner{"w2", 1}}};
    REQUIRE((*store)->SetAssignment("a", 2, a).ok());
    REQUIRE((*store)->Cancel("b").ok());
  }
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto jobs = (*store)->List();
  REQUIRE(jobs.size() == 2);
  auto a = (*store)->Get("a");
  REQUIRE(a.has_value());
  CHECK(a->state() == weir::v1::JOB_STATE_RUNNING);
  CHECK(a->submitted_at_ms() == 1000);
  CHECK(a->partitions() == 2);
  CHECK(JobStore::AssignmentOf(*a) == Assignment{{0, PartitionOwner{"w1", 3}}, {1, PartitionOwner{"w2", 1}}});
  CHECK((*store)->Get("b")->state() == weir::v1::JOB_STATE_CANCELLED);
  CHECK_FALSE((*store)->Get("c").has_value());
}

TEST_CASE("a running job's name cannot be submitted twice, a cancelled one can", "[coordinator][jobstore]") {
  TempDir dir;
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Submit(Spec("a"), 1).ok());
  REQUIRE((*store)->SetAssignment("a", 1, Assignment{{0, PartitionOwner{"w1", 4}}}).ok());
  auto again = (*store)->Submit(Spec("a"), 2);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == weir::StatusCode::kAlreadyExists);
  CHECK(again.status().message() == "job \"a\" is already running (cancel it first, or submit under another name)");

  auto cancelled = (*store)->Cancel("a");
  REQUIRE(cancelled.ok());
  CHECK(JobStore::AssignmentOf(*cancelled) == Assignment{{0, PartitionOwner{"", 4}}});
  auto resubmitted = (*store)->Submit(Spec("a"), 3);
  REQUIRE(resubmitted.ok());
  // Epochs carry over so the old job's writers stay fenced.
  CHECK(JobStore::AssignmentOf(*resubmitted) == Assignment{{0, PartitionOwner{"", 4}}});

  auto missing = (*store)->Cancel("nope");
  CHECK(missing.status().code() == weir::StatusCode::kNotFound);
  CHECK(missing.status().message() == "no job named \"nope\" (weirctl list shows the jobs)");
}

TEST_CASE("an invalid spec is refused with the validator's message", "[coordinator][jobstore]") {
  TempDir dir;
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto spec = Spec("a");
  spec.mutable_features(0)->mutable_window()->mutable_tumbling()->set_size_ms(0);
  auto s = (*store)->Submit(spec, 1);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "features[0].window.tumbling: must be greater than 0");
  CHECK((*store)->List().empty());
}

TEST_CASE("a corrupt state file stops the coordinator instead of starting empty", "[coordinator][jobstore]") {
  TempDir dir;
  fs::create_directories(dir.path);
  std::ofstream(dir.path / "state.pb") << "\xff\xff not a state file";
  auto store = JobStore::Open(dir.path.string());
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == weir::StatusCode::kDataLoss);
  CHECK_THAT(store.status().message(), Catch::Matchers::Contains("refusing to start without its jobs"));
}

namespace {

weir::v1::SnapshotRef Ref(uint64_t checkpoint, const std::string& path, int64_t next_offset) {
  weir::v1::SnapshotRef ref;
  ref.set_checkpoint(checkpoint);
  ref.set_path(path);
  ref.set_next_offset(next_offset);
  return ref;
}

weir::v1::CheckpointInfo Checkpoint(uint64_t id) {
  weir::v1::CheckpointInfo info;
  info.set_id(id);
  *info.add_partitions() = Ref(id, "/chk/" + std::to_string(id), static_cast<int64_t>(id) * 10);
  return info;
}

}  // namespace

TEST_CASE("checkpoint ids, commits and handoffs are durable, a commit keeps the newest and clears handoffs",
          "[coordinator][jobstore]") {
  TempDir dir;
  {
    auto store = JobStore::Open(dir.path.string());
    REQUIRE(store.ok());
    REQUIRE((*store)->Submit(Spec("a"), 1).ok());
    for (uint64_t id = 1; id <= 4; ++id) {
      auto next = (*store)->NextCheckpointId("a");
      REQUIRE(next.ok());
      CHECK(next->value() == id);
      auto outcome = (*store)->CommitCheckpoint("a", Checkpoint(id), 3);
      REQUIRE(outcome.ok());
      CHECK(outcome->pruned.size() == (id == 4 ? 1u : 0u));
    }
    REQUIRE((*store)->NextCheckpointId("a").ok());  // 5: triggered, never committed
    // An id not above the latest is refused.
    CHECK((*store)->CommitCheckpoint("a", Checkpoint(4), 3).status().code() == weir::StatusCode::kFailedPrecondition);

    auto replaced = (*store)->RecordHandoffs("a", {{0, Ref(0, "/h/p0-e1", 41)}, {2, Ref(0, "/h/p2-e1", 42)}});
    REQUIRE(replaced.ok());
    CHECK(replaced->empty());
    replaced = (*store)->RecordHandoffs("a", {{0, Ref(0, "/h/p0-e2", 43)}});
    REQUIRE(replaced.ok());
    REQUIRE(replaced->size() == 1);
    CHECK((*replaced)[0].path() == "/h/p0-e1");
  }
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto a = (*store)->Get("a");
  REQUIRE(a.has_value());
  CHECK(a->last_triggered_checkpoint() == 5);
  CHECK(a->latest_checkpoint() == 4);
  REQUIRE(a->checkpoints_size() == 3);
  CHECK(a->checkpoints(0).id() == 2);
  CHECK(a->checkpoints(2).id() == 4);
  auto handoffs = JobStore::HandoffsOf(*a);
  REQUIRE(handoffs.size() == 2);
  CHECK(handoffs[0].next_offset() == 43);
  CHECK(handoffs[2].next_offset() == 42);
  CHECK((*store)->NextCheckpointId("a")->value() == 6);

  auto outcome = (*store)->CommitCheckpoint("a", Checkpoint(6), 3);
  REQUIRE(outcome.ok());
  REQUIRE(outcome->pruned.size() == 1);
  CHECK(outcome->pruned[0].id() == 2);
  CHECK(outcome->handoffs.size() == 2);
  CHECK(JobStore::HandoffsOf(*(*store)->Get("a")).empty());
}

TEST_CASE("a resubmitted name starts without checkpoints but keeps its epochs and checkpoint ids",
          "[coordinator][jobstore]") {
  TempDir dir;
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Submit(Spec("a"), 1).ok());
  REQUIRE((*store)->SetAssignment("a", 1, Assignment{{0, PartitionOwner{"w1", 4}}}).ok());
  REQUIRE((*store)->NextCheckpointId("a").ok());
  REQUIRE((*store)->CommitCheckpoint("a", Checkpoint(1), 3).ok());
  REQUIRE((*store)->RecordHandoffs("a", {{0, Ref(0, "/h/p0-e4", 7)}}).ok());
  REQUIRE((*store)->Cancel("a").ok());
  // A cancelled job takes no checkpoints and no handoffs.
  CHECK((*store)->NextCheckpointId("a").status().code() == weir::StatusCode::kFailedPrecondition);
  CHECK((*store)->RecordHandoffs("a", {}).status().code() == weir::StatusCode::kFailedPrecondition);
  CHECK((*store)->NextCheckpointId("nope").status().code() == weir::StatusCode::kNotFound);

  auto resubmitted = (*store)->Submit(Spec("a"), 2);
  REQUIRE(resubmitted.ok());
  CHECK(resubmitted->checkpoints_size() == 0);
  CHECK(resubmitted->latest_checkpoint() == 0);
  CHECK(resubmitted->handoffs_size() == 0);
  CHECK(resubmitted->handoff_partitions_size() == 0);
  CHECK(resubmitted->last_triggered_checkpoint() == 1);
  CHECK(JobStore::AssignmentOf(*resubmitted) == Assignment{{0, PartitionOwner{"", 4}}});
  CHECK((*store)->NextCheckpointId("a")->value() == 2);
}
