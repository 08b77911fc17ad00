// A re-keyed job's partition tasks without Kafka: stage 1 turns source
// records into repartition messages and markers; stage 2 runs the engine on
// them with the markers' watermark and drops copies; both snapshot and
// restore their re-keying state.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/key_hash.h"
#include "spec/job_spec_yaml.h"
#include "worker/partition_task.h"

namespace weir::worker {
namespace {

// Keyed by merchant on a topic partitioned by user: 2 source partitions, 3
// repartition partitions (job partitions 0-1 are stage 1, 2-4 stage 2).
std::shared_ptr<const JobRuntime> RekeyedJob() {
  auto spec = ParseJobSpecYaml(R"(
name: by-merchant
source: { kafka: { brokers: "127.0.0.1:1", topic: events }, partitioned_by: user }
key: merchant
event_time: { field: ts }
watermark: { max_out_of_orderness: 1s }
view: m
features:
  - { name: n, agg: count, window: { tumbling: 1m } }
sink: { feature_store: "127.0.0.1:1" }
)");
  REQUIRE(spec.ok());
  auto job = MakeJobRuntime(*spec);
  REQUIRE(job.ok());
  return *job;
}
constexpr RekeyLayout kLayout{2, 3};

SourceRecord Record(int32_t partition, int64_t offset, std::string_view value, engine::RepartitionMeta meta = {}) {
  return SourceRecord{PartitionId(partition), KafkaOffset(offset), {}, value, meta};
}
engine::RepartitionMeta From(int32_t source, int64_t offset) {
  engine::RepartitionMeta m;
  m.source_partition = source;
  m.source_offset = offset;
  return m;
}
engine::RepartitionMeta Marker(int32_t source, int64_t watermark) {
  engine::RepartitionMeta m;
  m.source_partition = source;
  m.marker = true;
  m.watermark = watermark;
  return m;
}

TEST_CASE("stage 1 sends each record unchanged to its new key's partition and marks its watermark everywhere",
          "[worker]") {
  auto job = RekeyedJob();
  REQUIRE(job->repartition != nullptr);
  CHECK(job->repartition->spec.source().kafka().topic() == "weir.by-merchant.repartition");
  PartitionTask task(job, PartitionId(1), Epoch(1), nullptr, kLayout);
  REQUIRE(task.stage() == 1);
  const std::string a = R"({"user":"u1","merchant":"m7","ts":5000})";
  const std::string no_merchant = R"({"user":"u1","ts":6000})";
  const std::string b = R"({"user":"u2","merchant":"m1","ts":9000})";
  const std::vector<SourceRecord> records = {Record(1, 10, a), Record(1, 11, no_merchant), Record(1, 12, b)};
  task.OnRecords(records);
  task.MarkWatermark(100'000);

  std::vector<ShuffleMessage> out;
  task.TakeShuffle(&out);
  REQUIRE(out.size() == 2 + 3);
  CHECK_FALSE(out[0].marker);
  CHECK(out[0].value == a);
  CHECK(out[0].key == "m7");
  CHECK(out[0].source_offset == 10);
  CHECK(out[0].partition == KafkaPartitionForKey("m7", 3));
  CHECK(out[1].source_offset == 12);
  CHECK(out[1].partition == KafkaPartitionForKey("m1", 3));
  for (int p = 0; p < 3; ++p) {
    CHECK(out[2 + p].marker);
    CHECK(out[2 + p].partition == p);
    CHECK(out[2 + p].watermark == 8000);  // 9000 - 1s
  }
  std::vector<DeadLetterRecord> dead;
  task.TakeDeadLetters(&dead);
  REQUIRE(dead.size() == 1);  // no merchant: stage 1's dead letter, as today
  CHECK(dead[0].reason == engine::DeadLetterReason::kMissingField);
  CHECK(dead[0].offset == 11);
  CHECK(task.counters()->records_shuffled.load() == 2);
  CHECK(task.counters()->next_offset.load() == 13);

  task.MarkWatermark(100'200);  // unchanged: no new markers
  out.clear();
  task.TakeShuffle(&out);
  CHECK(out.empty());

  // Risen, but within the marker interval (1 s by default) of the last
  // markers: none until it passed; a checkpoint's forced markers go at once.
  task.OnRecords(std::vector<SourceRecord>{Record(1, 13, R"({"user":"u3","merchant":"m2","ts":20000})")});
  task.MarkWatermark(100'500);
  out.clear();
  task.TakeShuffle(&out);
  REQUIRE(out.size() == 1);  // the record only
  task.MarkWatermark(101'000);
  out.clear();
  task.TakeShuffle(&out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].watermark == 19000);
  task.MarkWatermark(101'001, /*force=*/true);
  out.clear();
  task.TakeShuffle(&out);
  CHECK(out.size() == 3);

  PartitionTask restored(job, PartitionId(1), Epoch(2), nullptr, kLayout);
  REQUIRE(restored.Restore(task.Snapshot(CheckpointId(1))).ok());
  CHECK(restored.stage1_watermark() == 19000);
  CHECK(restored.start_offset() == KafkaOffset(14));
}

TEST_CASE("stage 2 fires on the minimum of the markers, drops copies, and restores both", "[worker]") {
  auto job = RekeyedJob();
  PartitionTask task(job, PartitionId(3), Epoch(1), nullptr, kLayout);
  REQUIRE(task.stage() == 2);
  REQUIRE(task.topic_partition() == 1);
  const std::string r1 = R"({"user":"u1","merchant":"m1","ts":1000})";
  const std::string r2 = R"({"user":"u2","merchant":"m1","ts":2000})";
  const std::string r3 = R"({"user":"u3","merchant":"m1","ts":61000})";
  task.OnRecords(std::vector<SourceRecord>{Record(3, 0, r1, From(0, 5)), Record(3, 1, r2, From(1, 7)),
                                           Record(3, 2, r3, From(0, 6)),
                                           // the events' own times never move stage 2's watermark
                                           Record(3, 3, "", Marker(0, 70000))});
  PendingRows rows;
  CHECK_FALSE(task.TakeRows(&rows));  // source 1 sent no marker yet
  CHECK(task.engine().watermark() == kMinTime);

  PartitionTask restored(job, PartitionId(3), Epoch(2), nullptr, kLayout);
  REQUIRE(restored.Restore(task.Snapshot(CheckpointId(1))).ok());
  // After the restore: a copy of source 1's offset 7 (stage 1 replayed) and
  // source 1's marker.
  restored.OnRecords(std::vector<SourceRecord>{Record(3, 4, r2, From(1, 7)), Record(3, 5, "", Marker(1, 60000))});
  CHECK(restored.counters()->duplicates_dropped.load() == 1);
  CHECK(restored.engine().watermark() == 60000);
  REQUIRE(restored.TakeRows(&rows));
  REQUIRE(rows.batch.rows_size() == 1);
  CHECK(rows.batch.partition() == 3);
  CHECK(rows.batch.rows(0).key() == "m1");
  CHECK(rows.batch.rows(0).value().number() == 2);  // r1 and r2, the copy not counted

  // A message without stage 1's headers is a dead letter, never an event.
  restored.OnRecords(std::vector<SourceRecord>{Record(3, 6, r1)});
  std::vector<DeadLetterRecord> dead;
  restored.TakeDeadLetters(&dead);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].detail.find("weir.sp/weir.so") != std::string::npos);
}

}  // namespace
}  // namespace weir::worker
