// JobStore: jobs and assignments survive a restart; errors say what to do.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string_view>

#include "common/durable_file.h"

#include "coordinator/job_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"

namespace fs = std::filesystem;
using weir::coordinator::Assignment;
using weir::coordinator::JobStore;
using weir::coordinator::PartitionOwner;
using P = weir::PartitionId;
using E = weir::Epoch;
using weir::coordinator::testing::Spec;
using weir::testing::TempDir;

TEST_CASE("jobs and assignments survive a restart of the store", "[coordinator][jobstore]") {
  TempDir dir;
  {
    auto store = JobStore::Open(dir.path.string());
    REQUIRE(store.ok());
    REQUIRE((*store)->Submit(Spec("a"), 1000).ok());
    REQUIRE((*store)->Submit(Spec("b"), 2000).ok());
    Assignment a{{P(0), PartitionOwner{"w1", E(3)}}, {P(1), PartitionOwner{"w2", E(1)}}};
    REQUIRE((*store)->SetAssignment("a", 2, a).ok());
    REQUIRE((*store)->Cancel("b").ok());
    REQUIRE((*store)->state_file().Sync((*store)->version()).ok());
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
  CHECK(JobStore::AssignmentOf(*a) ==
        Assignment{{P(0), PartitionOwner{"w1", E(3)}}, {P(1), PartitionOwner{"w2", E(1)}}});
  CHECK((*store)->Get("b")->state() == weir::v1::JOB_STATE_CANCELLED);
  CHECK_FALSE((*store)->Get("c").has_value());
}

TEST_CASE("a running job's name cannot be submitted twice, a cancelled one can", "[coordinator][jobstore]") {
  TempDir dir;
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Submit(Spec("a"), 1).ok());
  REQUIRE((*store)->SetAssignment("a", 1, Assignment{{P(0), PartitionOwner{"w1", E(4)}}}).ok());
  auto again = (*store)->Submit(Spec("a"), 2);
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == weir::StatusCode::kAlreadyExists);
  CHECK(again.status().message() == "job \"a\" is already running (cancel it first, or submit under another name)");

  auto cancelled = (*store)->Cancel("a");
  REQUIRE(cancelled.ok());
  CHECK(JobStore::AssignmentOf(*cancelled) == Assignment{{P(0), PartitionOwner{"", E(4)}}});
  auto resubmitted = (*store)->Submit(Spec("a"), 3);
  REQUIRE(resubmitted.ok());
  // Epochs carry over so the old job's writers stay fenced.
  CHECK(JobStore::AssignmentOf(*resubmitted) == Assignment{{P(0), PartitionOwner{"", E(4)}}});

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

TEST_CASE("a flipped bit in the state file is caught by its checksum", "[coordinator][jobstore]") {
  TempDir dir;
  {
    auto store = JobStore::Open(dir.path.string());
    REQUIRE(store.ok());
    REQUIRE((*store)->Submit(Spec("flip"), 1).ok());
    REQUIRE((*store)->state_file().Sync((*store)->version()).ok());
  }
  // The view name "v" (or any byte of the payload) flips to another letter:
  // without a checksum this loaded silently as another job.
  std::string bytes;
  {
    std::ifstream in(dir.path / "state.pb", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  REQUIRE(bytes.starts_with("WEIRSTAT"));
  bytes[bytes.size() - 3] ^= 0x01;
  std::ofstream(dir.path / "state.pb", std::ios::binary | std::ios::trunc) << bytes;
  auto store = JobStore::Open(dir.path.string());
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == weir::StatusCode::kDataLoss);
  CHECK_THAT(store.status().message(), Catch::Matchers::Contains("is corrupt (checksum mismatch)"));
}

TEST_CASE("a state file written before the checksum framing still loads", "[coordinator][jobstore]") {
  TempDir dir;
  fs::create_directories(dir.path);
  weir::v1::CoordinatorState state;
  state.set_version(1);
  *state.add_jobs()->mutable_spec() = Spec("old");
  std::ofstream(dir.path / "state.pb", std::ios::binary) << state.SerializeAsString();
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  CHECK((*store)->List().size() == 1);
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

    auto replaced = (*store)->RecordHandoffs("a", {{P(0), Ref(0, "/h/p0-e1", 41)}, {P(2), Ref(0, "/h/p2-e1", 42)}});
    REQUIRE(replaced.ok());
    CHECK(replaced->empty());
    replaced = (*store)->RecordHandoffs("a", {{P(0), Ref(0, "/h/p0-e2", 43)}});
    REQUIRE(replaced.ok());
    REQUIRE(replaced->size() == 1);
    CHECK((*replaced)[0].path() == "/h/p0-e1");
    REQUIRE((*store)->state_file().Sync((*store)->version()).ok());
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
  CHECK(handoffs[P(0)].next_offset() == 43);
  CHECK(handoffs[P(2)].next_offset() == 42);
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
  REQUIRE((*store)->SetAssignment("a", 1, Assignment{{P(0), PartitionOwner{"w1", E(4)}}}).ok());
  REQUIRE((*store)->NextCheckpointId("a").ok());
  REQUIRE((*store)->CommitCheckpoint("a", Checkpoint(1), 3).ok());
  REQUIRE((*store)->RecordHandoffs("a", {{P(0), Ref(0, "/h/p0-e4", 7)}}).ok());
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
  CHECK(JobStore::AssignmentOf(*resubmitted) == Assignment{{P(0), PartitionOwner{"", E(4)}}});
  CHECK((*store)->NextCheckpointId("a")->value() == 2);
}

TEST_CASE("changes are durable only once synced, a failed write is retried and never overwrites a newer state",
          "[coordinator][jobstore]") {
  TempDir dir;
  bool fail = false;
  int writes = 0;
  auto writer = [&](const std::string& path, std::string_view bytes) {
    if (fail) return weir::Internal("disk full");
    ++writes;
    return weir::WriteFileDurably(path, bytes);
  };
  auto store = JobStore::Open(dir.path.string(), writer);
  REQUIRE(store.ok());
  CHECK((*store)->version() == 0);
  REQUIRE((*store)->Submit(Spec("a"), 1).ok());
  REQUIRE((*store)->Submit(Spec("b"), 2).ok());
  CHECK((*store)->version() == 2);
  CHECK_FALSE(fs::exists(dir.path / "state.pb"));  // in memory only so far
  CHECK((*store)->Get("b").has_value());

  // One write covers every change so far; syncing an older version writes nothing more.
  REQUIRE((*store)->state_file().Sync(1).ok());
  CHECK(writes == 1);
  CHECK((*store)->state_file().durable_version() == 2);
  REQUIRE((*store)->state_file().Sync(2).ok());
  CHECK(writes == 1);

  fail = true;
  REQUIRE((*store)->Cancel("a").ok());
  auto failed = (*store)->state_file().Sync((*store)->version());
  CHECK(failed.code() == weir::StatusCode::kInternal);
  CHECK_THAT(failed.message(), Catch::Matchers::Contains("disk full"));
  CHECK((*store)->state_file().durable_version() == 2);
  CHECK((*store)->Get("a")->state() == weir::v1::JOB_STATE_CANCELLED);  // kept in memory
  fail = false;
  REQUIRE((*store)->state_file().Sync((*store)->version()).ok());
  CHECK(writes == 2);

  auto reopened = JobStore::Open(dir.path.string());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->Get("a")->state() == weir::v1::JOB_STATE_CANCELLED);
  CHECK((*reopened)->Get("b")->state() == weir::v1::JOB_STATE_RUNNING);
}

TEST_CASE("owners are indexed by worker", "[coordinator][jobstore]") {
  TempDir dir;
  auto store = JobStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Submit(Spec("a"), 1).ok());
  REQUIRE((*store)->Submit(Spec("b"), 1).ok());
  REQUIRE((*store)->SetAssignment("a", 2, Assignment{{P(0), {"w1", E(1)}}, {P(1), {"w2", E(3)}}}).ok());
  REQUIRE((*store)->SetAssignment("b", 1, Assignment{{P(0), {"w1", E(2)}}}).ok());
  using weir::coordinator::JobPartition;
  CHECK((*store)->OwnedBy("w1") == std::set<JobPartition>{{"a", P(0)}, {"b", P(0)}});
  CHECK((*store)->OwnedBy("w2") == std::set<JobPartition>{{"a", P(1)}});
  CHECK((*store)->Owner("a", P(1)) == PartitionOwner{"w2", E(3)});
  CHECK_FALSE((*store)->Owner("a", P(2)).has_value());
  CHECK_FALSE((*store)->Owner("nope", P(0)).has_value());

  REQUIRE((*store)->SetAssignment("a", 2, Assignment{{P(0), {"w2", E(2)}}, {P(1), {"w2", E(3)}}}).ok());
  CHECK((*store)->OwnedBy("w1") == std::set<JobPartition>{{"b", P(0)}});
  REQUIRE((*store)->Cancel("b").ok());
  CHECK((*store)->OwnedBy("w1").empty());
  CHECK((*store)->OwnedBy("w2") == std::set<JobPartition>{{"a", P(0)}, {"a", P(1)}});

  // The index is rebuilt from the state file.
  REQUIRE((*store)->state_file().Sync((*store)->version()).ok());
  auto reopened = JobStore::Open(dir.path.string());
  REQUIRE(reopened.ok());
  CHECK((*reopened)->OwnedBy("w2") == std::set<JobPartition>{{"a", P(0)}, {"a", P(1)}});
}
