#include <catch2/catch.hpp>

#include <limits>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "tests/unit/worker/fake_partition_source.h"
#include "tests/unit/worker/worker_test_support.h"
#include "worker/partition_task.h"
#include "worker/sink_writer.h"

namespace weir::worker {
namespace {

using testing::CountJob;
using testing::Eventually;
using testing::StoreServer;

// A batch of `keys` rows, one per key, of the task's `window`th minute.
PendingRows RowsFrom(PartitionTask& task, int keys, int window = 0) {
  const int64_t start = window * int64_t{60000};
  const int64_t first_offset = window * int64_t{1000};
  for (int k = 0; k < keys; ++k) {
    const std::string key = "u" + std::to_string(k);
    task.OnRecord(R"({"user":")" + key + R"(","ts":)" + std::to_string(start + 1000) + "}", key, first_offset + k);
  }
  // Fires the window.
  task.OnRecord(R"({"user":"tick","ts":)" + std::to_string(start + 60000) + "}", "tick", first_offset + keys);
  PendingRows rows;
  REQUIRE(task.TakeRows(&rows));
  return rows;
}

// A weir-featurestore's services on `address`, "unix:PATH".
class UnixStoreServer {
 public:
  UnixStoreServer(const std::string& dir, const std::string& address) {
    auto store = featurestore::RowStore::Open(dir);
    REQUIRE(store.ok());
    store_ = std::move(*store);
    services_ = featurestore::MakeFeatureStoreServices(store_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(services_.sink.get());
    builder.RegisterService(services_.store.get());
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
    REQUIRE(port != 0);  // bound
  }
  ~UnixStoreServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  featurestore::RowStore& store() { return *store_; }

 private:
  std::unique_ptr<featurestore::RowStore> store_;
  featurestore::FeatureStoreServices services_;
  std::unique_ptr<grpc::Server> server_;
};

std::vector<weir::v1::FeatureRow> Online(featurestore::RowStore& store, const std::string& key) {
  auto rows = store.GetOnline("clicks", {key}, {}, std::numeric_limits<int64_t>::max());
  REQUIRE(rows.ok());
  return *rows;
}

TEST_CASE("the sink writer delivers batches and counts acknowledged rows, their latency per job", "[worker]") {
  weir::testing::TempDir dir;
  StoreServer server(dir.path.string());
  prometheus::Registry registry;
  SinkWriterMetrics metrics;
  metrics.row_latency = &prometheus::BuildHistogram().Name("row_ack_latency_seconds").Register(registry);
  metrics.row_latency_buckets = {0.5, 60};
  SinkWriter writer(server.address(), SinkWriterOptions{}, metrics);
  writer.Start();

  PartitionTask task(CountJob(server.address()), 0, 1);
  writer.Enqueue(RowsFrom(task, 50));
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == 50; }));
  CHECK(writer.pending_bytes() == 0);
  auto rows = Online(server.store(), "u7");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].value().number() == 1);
  writer.Stop(std::chrono::steady_clock::now());
  // One observation per row, in the job's series.
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  CHECK_THAT(text, Catch::Contains("row_ack_latency_seconds_count{job=\"clicks\"} 50"));
  CHECK_THAT(text, Catch::Contains("row_ack_latency_seconds_bucket{job=\"clicks\",le=\"60\"} 50"));
}

TEST_CASE("an absent store pauses the writer with bounded memory and loses nothing", "[worker]") {
  weir::testing::TempDir dir;
  // A Unix-domain socket: an address that stays this test's while nothing
  // listens on it, where a TCP port freed by a probe could be taken by
  // another process before the store binds it again.
  const std::string address = "unix:" + (dir.path / "store.sock").string();
  SinkWriterOptions options;
  options.max_pending_bytes = 4096;
  options.backoff_max = std::chrono::milliseconds(100);
  SinkWriter writer(address, options, SinkWriterMetrics{});
  writer.Start();

  PartitionTask task(CountJob(), 0, 1);
  int batches = 0;
  int64_t rows = 0;
  while (writer.HasRoom("clicks")) {
    PendingRows batch = RowsFrom(task, 10, batches);
    rows += batch.batch.rows_size();
    writer.Enqueue(std::move(batch));
    ++batches;
    REQUIRE(batches < 1000);
  }
  // Full: producers wait instead of adding more, and nothing was acknowledged.
  CHECK_FALSE(writer.WaitForRoom("clicks", std::chrono::milliseconds(200)));
  CHECK(writer.pending_bytes() >= options.max_pending_bytes);
  CHECK(writer.pending_bytes() < options.max_pending_bytes + 4096);
  CHECK(task.counters()->rows_acked.load() == 0);

  UnixStoreServer server((dir.path / "store").string(), address);
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == rows; }));
  CHECK(writer.HasRoom("clicks"));
  CHECK(writer.pending_bytes() == 0);
  CHECK(Online(server.store(), "u3").size() == 1);
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("a batch with a stale epoch is fenced and its partition marked", "[worker]") {
  weir::testing::TempDir dir;
  StoreServer server(dir.path.string());
  SinkWriter writer(server.address(), SinkWriterOptions{}, SinkWriterMetrics{});
  writer.Start();

  PartitionTask newer(CountJob(server.address()), 2, 5);
  writer.Enqueue(RowsFrom(newer, 3));
  REQUIRE(Eventually([&] { return newer.counters()->rows_acked.load() == 3; }));

  PartitionTask zombie(CountJob(server.address()), 2, 4);
  PendingRows stale = RowsFrom(zombie, 3);
  stale.batch.mutable_rows(0)->mutable_value()->set_number(99);
  writer.Enqueue(std::move(stale));
  CHECK(Eventually([&] { return zombie.counters()->fenced.load(); }));
  CHECK(zombie.counters()->rows_acked.load() == 0);
  CHECK_FALSE(newer.counters()->fenced.load());
  CHECK(writer.pending_bytes() == 0);
  for (const auto& row : Online(server.store(), "u0")) CHECK(row.value().number() == 1);
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("dropping a partition forgets its queued rows", "[worker]") {
  SinkWriterOptions options;
  options.backoff_initial = std::chrono::milliseconds(1000);
  SinkWriter writer("127.0.0.1:1", options, SinkWriterMetrics{});  // nothing listens: rows stay queued
  PartitionTask a(CountJob(), 0, 1);
  PartitionTask b(CountJob(), 1, 1);
  writer.Enqueue(RowsFrom(a, 5));
  PendingRows kept = RowsFrom(b, 5);
  const size_t kept_bytes = kept.bytes;
  writer.Enqueue(std::move(kept));
  writer.Drop("clicks", 0);
  CHECK(writer.pending_bytes() == kept_bytes);
}

TEST_CASE("a window close larger than the store's message limit is cut to fit and lands whole", "[worker]") {
  weir::testing::TempDir dir;
  constexpr int kLimit = 64 << 10;
  StoreServer server(dir.path.string(), 0, kLimit);
  SinkWriterOptions options;
  options.max_message_bytes = kLimit;
  SinkWriter writer(server.address(), options, SinkWriterMetrics{});
  writer.Start();

  PartitionTask task(CountJob(server.address()), 0, 1);
  PendingRows rows = RowsFrom(task, 5000);
  REQUIRE(rows.batch.ByteSizeLong() > 2 * kLimit);  // refused whole by this store
  writer.Enqueue(std::move(rows));
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == 5000; }));
  CHECK(task.counters()->rows_refused.load() == 0);
  CHECK(writer.pending_bytes() == 0);
  CHECK(Online(server.store(), "u4999").size() == 1);
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("a dead-letter topic without room never blocks the writer, the refused rows' letters follow later",
          "[worker]") {
  weir::testing::TempDir dir;
  StoreServer server(dir.path.string());
  SinkWriterOptions options;
  options.backoff_max = std::chrono::milliseconds(100);
  SinkWriter writer(server.address(), options, SinkWriterMetrics{});
  writer.Start();
  testing::FakeDeadLetters dead_letters;
  dead_letters.SetFull(true);

  // Refused by the store (no job) while the topic is full...
  PartitionTask refused_task(CountJob(server.address()), 0, 1);
  PendingRows invalid = RowsFrom(refused_task, 2);
  invalid.batch.set_job("");
  invalid.dead_letters = &dead_letters;
  const int64_t invalid_rows = invalid.batch.rows_size();
  writer.Enqueue(std::move(invalid));
  CHECK(Eventually([&] { return refused_task.counters()->rows_refused.load() == invalid_rows; }));
  // ... and rows after it, of another partition, are still written.
  PartitionTask task(CountJob(server.address()), 1, 1);
  writer.Enqueue(RowsFrom(task, 3));
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == 3; }));
  CHECK(dead_letters.count() == 0);
  // Room again: the held dead letter goes out.
  dead_letters.SetFull(false);
  CHECK(Eventually([&] { return dead_letters.count() == 1; }));
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("a store whose message limit is below the writer's gets its batches in halves, nothing refused", "[worker]") {
  weir::testing::TempDir dir;
  StoreServer server(dir.path.string(), 0, 64 << 10);
  SinkWriter writer(server.address(), SinkWriterOptions{}, SinkWriterMetrics{});  // 4 MiB: the flags differ
  writer.Start();

  PartitionTask task(CountJob(server.address()), 0, 1);
  PendingRows rows = RowsFrom(task, 5000);
  REQUIRE(rows.batch.ByteSizeLong() > 2 * (64 << 10));
  writer.Enqueue(std::move(rows));
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == 5000; }));
  CHECK(task.counters()->rows_refused.load() == 0);
  CHECK(writer.pending_bytes() == 0);
  CHECK(Online(server.store(), "u4999").size() == 1);
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("rows the store refuses for good go to dead letters and never block the writer", "[worker]") {
  weir::testing::TempDir dir;
  constexpr int kLimit = 64 << 10;
  StoreServer server(dir.path.string(), 0, kLimit);
  SinkWriterOptions options;
  options.max_message_bytes = kLimit;
  prometheus::Registry registry;
  SinkWriterMetrics metrics;
  metrics.refused_rows = &prometheus::BuildCounter().Name("refused_rows").Register(registry).Add({});
  SinkWriter writer(server.address(), options, metrics);
  writer.Start();
  testing::FakeDeadLetters dead_letters;

  // A row too large for any message: refused before it is sent; the rows
  // around it are written.
  PartitionTask task(CountJob(server.address()), 0, 1);
  PendingRows rows = RowsFrom(task, 3);
  rows.batch.mutable_rows(1)->set_key(std::string(100 << 10, 'x'));
  rows.dead_letters = &dead_letters;
  rows.dead_letter_topic = "clicks.dlq";
  writer.Enqueue(std::move(rows));
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == 2; }));
  CHECK(task.counters()->rows_refused.load() == 1);
  CHECK(task.counters()->dead_letters[static_cast<size_t>(engine::DeadLetterReason::kSinkRefused)].load() == 1);
  REQUIRE(dead_letters.count() == 1);

  // A batch the store refuses as invalid (no job): a dead letter with the
  // store's reason, and the next batch is written right after it.
  PendingRows invalid = RowsFrom(task, 2, 1);
  invalid.batch.set_job("");
  invalid.dead_letters = &dead_letters;
  const int64_t invalid_rows = invalid.batch.rows_size();
  writer.Enqueue(std::move(invalid));
  PendingRows next = RowsFrom(task, 4, 2);
  const int64_t next_rows = next.batch.rows_size();
  writer.Enqueue(std::move(next));
  CHECK(Eventually([&] { return task.counters()->rows_acked.load() == 2 + next_rows; }));
  CHECK(task.counters()->rows_refused.load() == 1 + invalid_rows);
  REQUIRE(dead_letters.count() == 2);
  const DeadLetterRecord refused = dead_letters.records()[1];
  CHECK(refused.reason == engine::DeadLetterReason::kSinkRefused);
  CHECK_THAT(refused.detail, Catch::Contains("WriteBatch.job is empty"));
  CHECK_THAT(refused.record, Catch::Contains("\"key\":\"u1\""));
  CHECK(writer.pending_bytes() == 0);
  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  CHECK_THAT(text, Catch::Contains("refused_rows " + std::to_string(1 + invalid_rows)));
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("rows of one key from two partitions of a job are counted as a key conflict on the later one", "[worker]") {
  weir::testing::TempDir dir;
  StoreServer server(dir.path.string());
  SinkWriter writer(server.address(), SinkWriterOptions{}, SinkWriterMetrics{});
  writer.Start();
  PartitionTask first(CountJob(server.address()), 0, 1);
  PartitionTask second(CountJob(server.address()), 1, 1);

  writer.Enqueue(RowsFrom(first, 10));
  REQUIRE(Eventually([&] { return first.counters()->rows_acked.load() == 10; }));
  PendingRows later = RowsFrom(first, 10, 1);  // its own keys again, a later window: no conflict
  const int64_t acked = 10 + later.batch.rows_size();
  writer.Enqueue(std::move(later));
  REQUIRE(Eventually([&] { return first.counters()->rows_acked.load() == acked; }));
  CHECK(first.counters()->key_conflicts.load() == 0);

  writer.Enqueue(RowsFrom(second, 10));  // the same keys from partition 1
  REQUIRE(Eventually([&] { return second.counters()->rows_acked.load() == 10; }));
  CHECK(second.counters()->key_conflicts.load() == 10);
  const std::string described = second.counters()->KeyConflict();
  CHECK_THAT(described, Catch::Contains("also comes from partition 0"));
  CHECK_THAT(described, Catch::Contains("source.partitioned_by"));
  CHECK(first.counters()->key_conflicts.load() == 0);
  writer.Stop(std::chrono::steady_clock::now());
}

}  // namespace
}  // namespace weir::worker
