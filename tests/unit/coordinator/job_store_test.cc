// JobStore: jobs and assignments survive a restart; errors say what to do.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "common/job_spec.h"
#include "coordinator/job_store.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using weir::coordinator::Assignment;
using weir::coordinator::JobStore;
using weir::coordinator::PartitionOwner;
using weir::testing::TempDir;

namespace {

weir::v1::JobSpec Spec(const std::string& name) {
  auto spec = weir::ParseJobSpecYaml("name: " + name +
                                     "\nsource: { kafka: { brokers: \"127.0.0.1:9092\", topic: t } }\nkey: k\n"
                                     "event_time: { field: ts }\nview: v\nsink: { feature_store: \"127.0.0.1:7070\" }\n"
                                     "features:\n  - { name: n, agg: count, window: { tumbling: 1m } }\n");
  REQUIRE(spec.ok());
  return *spec;
}

}  // namespace

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

TEST_CASE("a running job's name cannot be submitted twice; a cancelled one can", "[coordinator][jobstore]") {
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
