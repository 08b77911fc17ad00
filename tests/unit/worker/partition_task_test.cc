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
