#include <catch2/catch.hpp>

#include <string>

#include "worker/partition_task.h"
#include "worker/write_batches.h"

namespace weir::worker {
namespace {

// `n` rows of job "clicks" partition 3 epoch 7, keys "k<i>" padded to `key_bytes`.
PendingRows Rows(int n, size_t key_bytes = 12) {
  PendingRows rows;
  rows.batch.set_job("clicks");
  rows.batch.set_partition(3);
  rows.batch.set_epoch(7);
  rows.counters = std::make_shared<PartitionCounters>("clicks", PartitionId(3), Epoch(7));
  for (int i = 0; i < n; ++i) {
    weir::v1::FeatureRow* row = rows.batch.add_rows();
    std::string key = "k" + std::to_string(i);
    key.resize(std::max(key.size(), key_bytes), '_');
    row->set_view("clicks");
    row->set_key(key);
    row->set_feature("n_1m");
    row->set_window_start(1700000040000);
    row->set_window_end(1700000100000);
    row->mutable_value()->set_number(i);
  }
  rows.bytes = 64 * static_cast<size_t>(n);
  return rows;
}

TEST_CASE("rows over the message budget are cut into batches that each fit, in order, nothing lost", "[worker]") {
  const size_t budget = WriteBatchBudget(64 << 10);
  CHECK(budget == (64 << 10) - (4 << 10));
  PendingRows whole = Rows(20000);
  REQUIRE(whole.batch.ByteSizeLong() > 10 * budget);
  const auto counters = whole.counters;
  SplitRows split = SplitForMessages(std::move(whole), budget);
  CHECK(split.too_large.batch.rows_size() == 0);
  REQUIRE(split.batches.size() > 10);
  int next = 0;
  for (PendingRows& b : split.batches) {
    CHECK(b.batch.job() == "clicks");
    CHECK(b.batch.partition() == 3);
    CHECK(b.batch.epoch() == 7);
    CHECK(b.counters == counters);
    b.batch.set_batch_id(UINT64_MAX);  // the largest id the writer may set
    CHECK(b.batch.ByteSizeLong() <= budget);
    CHECK(b.bytes == b.batch.ByteSizeLong());
    CHECK(b.batch.rows_size() > 0);
    for (const auto& row : b.batch.rows()) CHECK(row.value().number() == next++);
  }
  CHECK(next == 20000);
}

TEST_CASE("rows within the budget stay one batch, as they came", "[worker]") {
  SplitRows split = SplitForMessages(Rows(10), WriteBatchBudget(4 << 20));
  REQUIRE(split.batches.size() == 1);
  CHECK(split.batches[0].batch.rows_size() == 10);
  CHECK(split.batches[0].bytes == 640);
  CHECK(split.too_large.batch.rows_size() == 0);
}

TEST_CASE("a row larger than a message alone is set apart, the others still sent", "[worker]") {
  PendingRows rows = Rows(3);
  rows.batch.mutable_rows(1)->set_key(std::string(100 << 10, 'x'));
  SplitRows split = SplitForMessages(std::move(rows), WriteBatchBudget(64 << 10));
  REQUIRE(split.too_large.batch.rows_size() == 1);
  CHECK(split.too_large.batch.rows(0).key().size() == (100 << 10));
  CHECK(split.too_large.batch.job() == "clicks");
  CHECK(split.too_large.counters != nullptr);
  int rows_kept = 0;
  for (const PendingRows& b : split.batches) rows_kept += b.batch.rows_size();
  CHECK(rows_kept == 2);
}

TEST_CASE("write failures: size and invalid refusals are permanent, unavailability and a full store are not",
          "[worker]") {
  CHECK(ClassifyWriteStatus(0, "") == WriteOutcome::kAcknowledged);
  CHECK(ClassifyWriteStatus(9, "write fenced") == WriteOutcome::kFenced);
  CHECK(ClassifyWriteStatus(3, "WriteBatch.job is empty") == WriteOutcome::kRefused);
  CHECK(ClassifyWriteStatus(8, "Received message larger than max (4297790 vs. 4194304)") == WriteOutcome::kTooLarge);
  CHECK(ClassifyWriteStatus(8, "No space left on device") == WriteOutcome::kRetry);
  CHECK(ClassifyWriteStatus(14, "failed to connect") == WriteOutcome::kRetry);
  CHECK(ClassifyWriteStatus(4, "Deadline Exceeded") == WriteOutcome::kRetry);
}

TEST_CASE("refused rows become sink_refused dead letters of bounded size, as JSON lines", "[worker]") {
  PendingRows rows = Rows(100);
  const auto letters = RefusedRowsAsDeadLetters(3, rows.batch.rows(), "too large", 2000);
  REQUIRE(letters.size() > 1);
  int lines = 0;
  for (const DeadLetterRecord& d : letters) {
    CHECK(d.reason == engine::DeadLetterReason::kSinkRefused);
    CHECK(d.partition == 3);
    CHECK(d.detail == "too large");
    CHECK(d.record.size() <= 2000);
    for (char c : d.record) lines += c == '\n';
  }
  CHECK(lines == 100);
  CHECK_THAT(letters[0].record, Catch::StartsWith("{\"view\":\"clicks\",\"key\":\"k0__"));
}

}  // namespace
}  // namespace weir::worker
