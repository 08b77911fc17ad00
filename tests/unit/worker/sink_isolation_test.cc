// The sink writer against a scripted FeatureSink (a real gRPC server on
// loopback whose answers the test chooses): one job's failing writes never
// hold up another job's rows, and a partition given up stops being retried.
#include <catch2/catch.hpp>

#include "common/mutex.h"

#include <map>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include "tests/unit/worker/worker_test_support.h"
#include "weir/v1/services.grpc.pb.h"
#include "worker/partition_task.h"
#include "worker/sink_writer.h"

namespace weir::worker {
namespace {

using testing::Eventually;

// FeatureSink.Write that refuses, with UNAVAILABLE, every stream carrying a
// batch of a job in `failing`, and counts the rows of the streams it accepts.
// With hold set, each stream waits until released before answering.
class ScriptedSink final : public weir::v1::FeatureSink::Service {
 public:
  explicit ScriptedSink(std::set<std::string> failing) : failing_(std::move(failing)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~ScriptedSink() override {
    Release();
    server_->Shutdown(std::chrono::system_clock::now());
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  grpc::Status Write(grpc::ServerContext*, grpc::ServerReader<weir::v1::WriteBatch>* reader,
                     weir::v1::WriteAck* ack) override {
    weir::v1::WriteBatch batch;
    bool fail = false;
    std::map<std::string, int64_t> rows;
    while (reader->Read(&batch)) {
      fail = fail || failing_.count(batch.job()) > 0;
      rows[batch.job()] += batch.rows_size();
      ack->set_last_batch_id(batch.batch_id());
    }
    weir::MutexLock lock(&mu_);
    ++streams_;
    mu_.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &hold_));
    if (fail) return {grpc::StatusCode::UNAVAILABLE, "scripted: unavailable"};
    for (const auto& [job, n] : rows) written_[job] += n;
    return grpc::Status::OK;
  }

  int64_t written(const std::string& job) {
    weir::MutexLock lock(&mu_);
    return written_[job];
  }
  int streams() {
    weir::MutexLock lock(&mu_);
    return streams_;
  }
  void Hold() {
    weir::MutexLock lock(&mu_);
    hold_ = true;
  }
  void Release() {
    weir::MutexLock lock(&mu_);
    hold_ = false;
  }

 private:
  const std::set<std::string> failing_;
  weir::Mutex mu_;
  std::map<std::string, int64_t> written_ ABSL_GUARDED_BY(mu_);
  int streams_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// One batch of `n` rows of `job` partition `partition`.
PendingRows Batch(const std::string& job, int32_t partition, int n, std::shared_ptr<PartitionCounters> counters) {
  PendingRows rows;
  rows.batch.set_job(job);
  rows.batch.set_partition(partition);
  rows.batch.set_epoch(1);
  for (int i = 0; i < n; ++i) {
    weir::v1::FeatureRow* row = rows.batch.add_rows();
    row->set_view(job);
    row->set_key("k" + std::to_string(i));
    row->set_feature("n");
    row->mutable_value()->set_number(i);
  }
  rows.counters = std::move(counters);
  rows.bytes = 100 * static_cast<size_t>(n);
  rows.first_row_at = std::chrono::steady_clock::now();
  return rows;
}

std::shared_ptr<PartitionCounters> Counters(const std::string& job, int32_t partition) {
  return std::make_shared<PartitionCounters>(job, PartitionId(partition), Epoch(1));
}

TEST_CASE("one job's failing writes never stop another job's rows, and fill only its own bound", "[worker]") {
  ScriptedSink sink({"stuck"});
  SinkWriterOptions options;
  options.max_pending_bytes = 10000;
  options.backoff_max = std::chrono::milliseconds(100);
  SinkWriter writer(sink.address(), options, SinkWriterMetrics{});
  writer.Start();

  auto stuck = Counters("stuck", 0);
  auto healthy = Counters("healthy", 0);
  // The stuck job fills its bound; its rows keep being retried.
  while (writer.HasRoom("stuck")) writer.Enqueue(Batch("stuck", 0, 10, stuck));
  writer.Enqueue(Batch("healthy", 0, 10, healthy));
  CHECK(Eventually([&] { return healthy->rows_acked.load() == 10; }));
  // More of the healthy job's rows while the stuck one keeps failing.
  const int streams = sink.streams();
  for (int i = 0; i < 20; ++i) writer.Enqueue(Batch("healthy", 0, 10, healthy));
  CHECK(Eventually([&] { return healthy->rows_acked.load() == 210; }));
  CHECK(sink.written("healthy") == 210);
  CHECK(Eventually([&] { return sink.streams() > streams + 1; }));  // the stuck job is still being retried
  CHECK(stuck->rows_acked.load() == 0);
  CHECK(sink.written("stuck") == 0);
  // Backpressure is per job: only the stuck job is full.
  CHECK_FALSE(writer.HasRoom("stuck"));
  CHECK(writer.HasRoom("healthy"));
  CHECK(writer.pending_bytes("healthy") == 0);
  writer.Stop(std::chrono::steady_clock::now());
}

TEST_CASE("a partition dropped while its rows are in flight to a failing store is not retried", "[worker]") {
  ScriptedSink sink({"cancelled"});
  SinkWriterOptions options;
  options.backoff_initial = std::chrono::milliseconds(10);
  options.backoff_max = std::chrono::milliseconds(20);
  prometheus::Registry registry;
  SinkWriterMetrics metrics;
  prometheus::Counter& dropped = prometheus::BuildCounter().Name("dropped_rows").Register(registry).Add({});
  metrics.dropped_rows = &dropped;
  SinkWriter writer(sink.address(), options, metrics);
  sink.Hold();
  writer.Start();

  auto counters = Counters("cancelled", 0);
  writer.Enqueue(Batch("cancelled", 0, 7, counters));
  REQUIRE(Eventually([&] { return sink.streams() == 1; }));  // in flight, held by the store
  writer.Enqueue(Batch("cancelled", 0, 5, counters));        // queued behind it
  writer.Drop("cancelled", 0);
  CHECK(dropped.Value() == 5);  // the queued rows at once
  sink.Release();               // the attempt in flight fails
  CHECK(Eventually([&] { return writer.pending_bytes() == 0; }));
  CHECK(dropped.Value() == 12);
  const int streams = sink.streams();
  // The writer stays usable, and the dropped rows were never sent again: a
  // later job's stream is the only one after.
  auto later = Counters("later", 0);
  writer.Enqueue(Batch("later", 0, 3, later));
  CHECK(Eventually([&] { return later->rows_acked.load() == 3; }));
  CHECK(sink.streams() == streams + 1);
  CHECK(counters->rows_acked.load() == 0);
  writer.Stop(std::chrono::steady_clock::now());
}

}  // namespace
}  // namespace weir::worker
