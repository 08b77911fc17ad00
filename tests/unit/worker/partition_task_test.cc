#include <catch2/catch.hpp>

#include "tests/unit/worker/worker_test_support.h"
#include "worker/partition_task.h"

namespace weir::worker {
namespace {

using testing::CountJob;

TEST_CASE("a partition task turns records into one write batch with the fencing triple", "[worker]") {
  PartitionTask task(CountJob(), 3, 7);
  task.OnRecord(R"({"user":"u1","ts":1000})", "u1", 0);
  task.OnRecord(R"({"user":"u1","ts":2000})", "u1", 1);
  task.OnRecord(R"({"user":"u2","ts":61000})", "u2", 2);  // closes [0, 60000)

  PendingRows rows;
  REQUIRE(task.TakeRows(&rows));
  CHECK(rows.batch.job() == "clicks");
  CHECK(rows.batch.partition() == 3);
  CHECK(rows.batch.epoch() == 7);
  REQUIRE(rows.batch.rows_size() == 1);
  const auto& row = rows.batch.rows(0);
  CHECK(row.view() == "clicks");
  CHECK(row.key() == "u1");
  CHECK(row.feature() == "n");
  CHECK(row.window_start() == 0);
  CHECK(row.window_end() == 60000);
  CHECK(row.value().number() == 2);
  CHECK(row.revision() == 0);
  CHECK(rows.bytes > 0);
  CHECK_FALSE(task.TakeRows(&rows));  // taken once

  const PartitionCounters& c = *task.counters();
  CHECK(c.records_in.load() == 3);
  CHECK(c.next_offset.load() == 3);
  CHECK(c.watermark.load() == 61000);
  CHECK(c.rows_emitted.load() == 1);
}

TEST_CASE("bad and late records become dead letters with reason, offset, key and bytes", "[worker]") {
  PartitionTask task(CountJob(), 1, 1);
  task.OnRecord("not json", "k0", 0);
  task.OnRecord(R"({"ts":5})", "", 1);
  task.OnRecord(R"({"user":"u1","ts":"soon"})", "u1", 2);
  task.OnRecord(R"({"user":"u1","ts":120000})", "u1", 3);
  task.OnRecord(R"({"user":"u1","ts":1000})", "u1", 4);  // its window [0, 60000) is gone: late

  std::vector<DeadLetterRecord> dead;
  task.TakeDeadLetters(&dead);
  REQUIRE(dead.size() == 4);
  CHECK(dead[0].reason == engine::DeadLetterReason::kDecode);
  CHECK(dead[0].offset == 0);
  CHECK(dead[0].key == "k0");
  CHECK(dead[0].record == "not json");
  CHECK(dead[1].reason == engine::DeadLetterReason::kMissingField);
  CHECK(dead[2].reason == engine::DeadLetterReason::kBadType);
  CHECK(dead[2].detail.find("ts") != std::string::npos);
  CHECK(dead[3].reason == engine::DeadLetterReason::kLate);
  CHECK(dead[3].offset == 4);
  CHECK(dead[3].record == R"({"user":"u1","ts":1000})");
  for (const auto& d : dead) CHECK(d.partition == 1);

  const PartitionCounters& c = *task.counters();
  CHECK(c.dead_letters_total() == 4);
  CHECK(c.dead_letters[static_cast<size_t>(engine::DeadLetterReason::kLate)].load() == 1);
  CHECK(c.records_in.load() == 5);
  dead.clear();
  task.TakeDeadLetters(&dead);
  CHECK(dead.empty());
}

TEST_CASE("lag is the end offset minus the next offset, unknown until the end is known", "[worker]") {
  PartitionCounters c("j", PartitionId(0), Epoch(1));
  CHECK(c.lag() == -1);
  c.end_offset.store(10);
  CHECK(c.lag() == 10);
  c.next_offset.store(7);
  CHECK(c.lag() == 3);
}

}  // namespace
}  // namespace weir::worker

namespace weir::worker {
namespace {

// Sums, last values and counts over 1-minute windows, 5 s out of order, 20 s
// allowed lateness (so late records are corrections or dead letters).
std::shared_ptr<const JobRuntime> LatenessJob() {
  auto spec = ParseJobSpecYaml(R"(
name: late
source: { kafka: { brokers: "127.0.0.1:1", topic: events } }
key: user
event_time: { field: ts }
watermark: { max_out_of_orderness: 5s }
allowed_lateness: 20s
view: late
features:
  - { name: n, agg: count, window: { tumbling: 1m } }
  - { name: amount, agg: sum, field: amount, window: { tumbling: 1m } }
  - { name: kind, agg: last, field: kind, window: { sliding: { size: 2m, slide: 1m } } }
sink: { feature_store: "127.0.0.1:1" }
)");
  REQUIRE(spec.ok());
  auto job = MakeJobRuntime(*spec);
  REQUIRE(job.ok());
  return *job;
}

// A stream with keys, disorder, late records (corrections and dead letters)
// and malformed records of every kind, as (key, value).
std::vector<std::pair<std::string, std::string>> MixedStream() {
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 400; ++i) {
    const std::string user = "u" + std::to_string((i * 7) % 13);
    int64_t ts = i * 1500 + ((i * 37) % 11 - 5) * 1000;  // ±5 s of disorder
    if (i % 29 == 28) ts -= 22000;                       // late: a correction, or gone
    if (i % 53 == 52) ts -= 200000;                      // far behind: a late dead letter
    std::string value = R"({"user":")" + user + R"(","ts":)" + std::to_string(ts) + R"(,"amount":)" +
                        std::to_string((i * 13) % 50) + R"(,"kind":")" + (i % 3 == 0 ? "click" : "view") + R"("})";
    if (i % 41 == 40) value = "not json " + std::to_string(i);
    if (i % 43 == 42) value = R"({"ts":)" + std::to_string(ts) + "}";
    if (i % 47 == 46) value = R"({"user":")" + user + R"(","ts":"later"})";
    records.emplace_back(i % 31 == 30 ? "" : user, std::move(value));
  }
  return records;
}

struct Output {
  std::vector<std::string> rows;  // serialized FeatureRows, in order
  std::vector<std::string> dead;  // reason|detail|offset|key|record, in order
  std::vector<std::string> snapshots;
};

void Collect(PartitionTask& task, Output* out) {
  PendingRows rows;
  if (task.TakeRows(&rows)) {
    for (const auto& r : rows.batch.rows()) out->rows.push_back(r.SerializeAsString());
  }
  std::vector<DeadLetterRecord> dead;
  task.TakeDeadLetters(&dead);
  for (const auto& d : dead) {
    out->dead.push_back(std::string(engine::DeadLetterReasonName(d.reason)) + "|" + d.detail + "|" +
                        std::to_string(d.offset) + "|" + d.key + "|" + d.record + "|" + std::to_string(d.partition));
  }
  out->snapshots.push_back(task.Snapshot(CheckpointId(1)).engine_state);
}

TEST_CASE("the batch path gives exactly the per-record path's rows, dead letters, offsets and snapshots", "[worker]") {
  const auto stream = MixedStream();
  const size_t chunk = GENERATE(size_t{1}, size_t{7}, size_t{64}, size_t{1000});
  const int64_t first_offset = 1000;

  PartitionTask one_by_one(LatenessJob(), 4, 2);
  PartitionTask batched(LatenessJob(), 4, 2);
  Output expected, got;
  for (size_t from = 0; from < stream.size(); from += chunk) {
    const size_t to = std::min(stream.size(), from + chunk);
    std::vector<SourceRecord> records;
    for (size_t i = from; i < to; ++i) {
      const int64_t offset = first_offset + static_cast<int64_t>(i);
      one_by_one.OnRecord(stream[i].second, stream[i].first, offset);
      records.push_back(SourceRecord{PartitionId(4), KafkaOffset(offset), stream[i].first, stream[i].second, {}});
    }
    batched.OnRecords(records);
    // At each batch boundary (a record boundary): same output so far, same state.
    Collect(one_by_one, &expected);
    Collect(batched, &got);
  }

  REQUIRE(expected.rows.size() > 100);
  CHECK(got.rows == expected.rows);
  REQUIRE(expected.dead.size() > 15);
  CHECK(got.dead == expected.dead);
  CHECK(got.snapshots == expected.snapshots);
  const PartitionCounters& a = *one_by_one.counters();
  const PartitionCounters& b = *batched.counters();
  CHECK(b.records_in.load() == a.records_in.load());
  CHECK(b.next_offset.load() == a.next_offset.load());
  CHECK(b.next_offset.load() == first_offset + static_cast<int64_t>(stream.size()));
  CHECK(b.watermark.load() == a.watermark.load());
  for (size_t r = 0; r < engine::kDeadLetterReasons; ++r) CHECK(b.dead_letters[r].load() == a.dead_letters[r].load());
  CHECK(b.rows_emitted.load() == a.rows_emitted.load());
  // Every kind of record dead letter (sink_refused comes from the writer, not
  // the task) and corrections are in the stream.
  for (size_t r = 0; r <= static_cast<size_t>(engine::DeadLetterReason::kLate); ++r)
    CHECK(a.dead_letters[r].load() > 0);
  bool corrections = false;
  for (const std::string& bytes : expected.rows) {
    weir::v1::FeatureRow row;
    REQUIRE(row.ParseFromString(bytes));
    corrections = corrections || row.revision() > 0;
  }
  CHECK(corrections);
}

}  // namespace
}  // namespace weir::worker
