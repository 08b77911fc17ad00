#include <catch2/catch.hpp>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "tests/support/temp_dir.h"
#include "tests/unit/worker/worker_test_support.h"
#include "worker/partition_restore.h"
#include "worker/partition_task.h"
#include "worker/snapshot_file.h"

namespace weir::worker {
namespace {

using testing::CountJob;

// A snapshot of partition 0 of CountJob after `records` records, written to
// `path`; its ref as the coordinator lists it (checkpoint 0: a handoff).
weir::v1::SnapshotRef WriteSnapshot(const std::string& path, uint64_t checkpoint, int records) {
  PartitionTask task(CountJob(), 0, 1);
  for (int i = 0; i < records; ++i) {
    task.OnRecord(R"({"user":"u","ts":)" + std::to_string(i * 1000) + "}", "u", i);
  }
  REQUIRE(WriteSnapshotBytes(path, EncodeSnapshotFile(task.Snapshot(CheckpointId(checkpoint)))).ok());
  weir::v1::SnapshotRef ref;
  ref.set_checkpoint(checkpoint);
  ref.set_path(path);
  return ref;
}

weir::v1::SnapshotRef Ref(const std::string& path, uint64_t checkpoint) {
  weir::v1::SnapshotRef ref;
  ref.set_checkpoint(checkpoint);
  ref.set_path(path);
  return ref;
}

std::string Text(prometheus::Registry& registry) { return prometheus::TextSerializer().Serialize(registry.Collect()); }

TEST_CASE("a partition restores the first readable restore point and the recovery is counted by source", "[worker]") {
  weir::testing::TempDir dir;
  prometheus::Registry registry;
  RestoreMetrics metrics(&registry);
  const std::string root = dir.path.string();

  // The handoff is missing and checkpoint 3 is corrupt: checkpoint 2 is used.
  REQUIRE(WriteSnapshotBytes(root + "/chk-3.snap", "torn").ok());
  const std::vector<weir::v1::SnapshotRef> points = {Ref(root + "/handoff.snap", 0), Ref(root + "/chk-3.snap", 3),
                                                     WriteSnapshot(root + "/chk-2.snap", 2, 60)};
  PartitionTask task(CountJob(), 0, 2);
  const RestoreOutcome outcome = RestorePartition(task, points);
  CHECK(outcome.source == RestoreSource::kCheckpoint);
  CHECK(outcome.fallbacks == 2);
  CHECK(task.start_offset() == KafkaOffset(60));
  metrics.Record("clicks", outcome);

  // A readable handoff comes first.
  PartitionTask handed(CountJob(), 0, 3);
  const RestoreOutcome from_handoff = RestorePartition(handed, {WriteSnapshot(root + "/handoff.snap", 0, 70)});
  CHECK(from_handoff.source == RestoreSource::kHandoff);
  CHECK(from_handoff.fallbacks == 0);
  CHECK(handed.start_offset() == KafkaOffset(70));
  metrics.Record("clicks", from_handoff);

  const std::string text = Text(registry);
  CHECK_THAT(text, Catch::Contains(R"(weir_worker_partition_restores_total{job="clicks",source="checkpoint"} 1)"));
  CHECK_THAT(text, Catch::Contains(R"(weir_worker_partition_restores_total{job="clicks",source="handoff"} 1)"));
  CHECK_THAT(text, Catch::Contains(R"(weir_worker_restore_fallbacks_total{job="clicks"} 2)"));
  CHECK_THAT(text, !Catch::Contains(R"(source="none")"));
}

TEST_CASE("a partition none of whose restore points reads back starts as new, counted as source none", "[worker]") {
  weir::testing::TempDir dir;
  prometheus::Registry registry;
  RestoreMetrics metrics(&registry);
  const std::string root = dir.path.string();
  REQUIRE(WriteSnapshotBytes(root + "/chk-5.snap", "not a snapshot at all, but long enough").ok());

  PartitionTask task(CountJob(), 0, 2);
  task.set_start_offset(kOffsetBeginning);  // as the job's `start: earliest` sets it
  const RestoreOutcome outcome = RestorePartition(task, {Ref(root + "/chk-5.snap", 5), Ref(root + "/chk-4.snap", 4)});
  CHECK(outcome.source == RestoreSource::kNone);
  CHECK(outcome.fallbacks == 2);
  CHECK(task.start_offset() == KafkaOffset(-2));
  metrics.Record("clicks", outcome);

  const std::string text = Text(registry);
  CHECK_THAT(text, Catch::Contains(R"(weir_worker_partition_restores_total{job="clicks",source="none"} 1)"));
  CHECK_THAT(text, Catch::Contains(R"(weir_worker_restore_fallbacks_total{job="clicks"} 2)"));
}

}  // namespace
}  // namespace weir::worker
