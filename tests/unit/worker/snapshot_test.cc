#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"
#include "tests/unit/worker/worker_test_support.h"
#include "worker/checkpoint_writer.h"
#include "worker/partition_task.h"
#include "worker/snapshot_file.h"

namespace weir::worker {
namespace {

using testing::CountJob;
using testing::Eventually;

PartitionSnapshot Sample() {
  PartitionSnapshot s;
  s.job = "clicks";
  s.partition = 3;
  s.epoch = 7;
  s.checkpoint = 12;
  s.next_offset = 4711;
  s.engine_state = std::string("state\0bytes", 11);
  return s;
}

TEST_CASE("a snapshot file reads back exactly what was written", "[worker]") {
  const PartitionSnapshot s = Sample();
  auto back = DecodeSnapshotFile(EncodeSnapshotFile(s));
  REQUIRE(back.ok());
  CHECK(back->job == "clicks");
  CHECK(back->partition == 3);
  CHECK(back->epoch == 7);
  CHECK(back->checkpoint == 12);
  CHECK(back->next_offset == 4711);
  CHECK(back->engine_state == s.engine_state);
}

TEST_CASE("a torn, flipped or foreign snapshot file is DataLoss, never half-used", "[worker]") {
  const std::string bytes = EncodeSnapshotFile(Sample());
  for (size_t cut : {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    CHECK(DecodeSnapshotFile(bytes.substr(0, cut)).status().code() == StatusCode::kDataLoss);
  }
  for (size_t at : {size_t{9}, bytes.size() / 2, bytes.size() - 9}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    CHECK(DecodeSnapshotFile(flipped).status().code() == StatusCode::kDataLoss);
  }
  CHECK(DecodeSnapshotFile("not a snapshot at all, but long enough").status().code() == StatusCode::kDataLoss);
  weir::testing::TempDir dir;
  auto missing = ReadSnapshotFile((dir.path / "nope.snap").string());
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

// Feeds records ts = i*7000 for keys u0..u4 from `from` to `to`, returning the rows.
std::vector<std::string> Feed(PartitionTask& task, int from, int to) {
  for (int i = from; i < to; ++i) {
    const std::string key = "u" + std::to_string(i % 5);
    task.OnRecord(R"({"user":")" + key + R"(","ts":)" + std::to_string(i * 7000) + "}", key, i);
  }
  std::vector<std::string> rows;
  PendingRows pending;
  if (task.TakeRows(&pending)) {
    for (const auto& r : pending.batch.rows()) rows.push_back(r.ShortDebugString());
  }
  return rows;
}

TEST_CASE("a task restored from a snapshot continues exactly as the original", "[worker]") {
  PartitionTask original(CountJob(), 0, 1);
  Feed(original, 0, 60);
  const PartitionSnapshot snapshot = original.Snapshot(CheckpointId(3));
  CHECK(snapshot.next_offset == 60);
  CHECK(snapshot.checkpoint == 3);
  const auto expected = Feed(original, 60, 200);
  REQUIRE_FALSE(expected.empty());

  PartitionTask restored(CountJob(), 0, 2);
  REQUIRE(restored.Restore(*DecodeSnapshotFile(EncodeSnapshotFile(snapshot))).ok());
  CHECK(restored.start_offset() == KafkaOffset(60));
  CHECK(restored.counters()->next_offset.load() == 60);
  CHECK(Feed(restored, 60, 200) == expected);

  PartitionTask other(CountJob(), 1, 2);
  CHECK_FALSE(other.Restore(snapshot).ok());  // another partition's snapshot
}

TEST_CASE("a snapshot is reportable only once the rows before it are acknowledged", "[worker]") {
  weir::testing::TempDir dir;
  CheckpointWriter writer;
  writer.Start();
  auto counters = std::make_shared<PartitionCounters>("clicks", PartitionId(0), Epoch(1));
  counters->rows_emitted.store(5);
  counters->rows_acked.store(3);
  SnapshotJob job;
  job.path = (dir.path / "clicks" / "chk-1" / "p0-e1.snap").string();
  job.snapshot = Sample();
  job.snapshot.checkpoint = 1;
  job.counters = counters;
  job.rows_emitted_at = 5;
  job.pause_us = 42;
  writer.Enqueue(std::move(job));
  writer.Stop();  // writes what is queued

  CHECK_FALSE(counters->ReportableSnapshot().has_value());  // 2 rows still unacknowledged
  counters->rows_acked.store(5);
  auto ref = counters->ReportableSnapshot();
  REQUIRE(ref.has_value());
  CHECK(ref->checkpoint() == 1);
  CHECK(ref->pause_us() == 42);
  CHECK(ref->bytes() > 0);
  auto back = ReadSnapshotFile(ref->path());
  REQUIRE(back.ok());
  CHECK(back->next_offset == 4711);
}

}  // namespace
}  // namespace weir::worker
