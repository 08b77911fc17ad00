#include <catch2/catch.hpp>

#include "tests/unit/worker/fake_partition_source.h"
#include "tests/unit/worker/worker_test_support.h"
#include "worker/reconciler.h"

namespace weir::worker {
namespace {

using testing::CountJob;
using testing::Eventually;
using testing::FakeClock;
using testing::FakeDeadLetters;
using testing::FakeRows;
using testing::FakeSources;
using testing::FakeTopics;

// Outputs the test can make fail.
class FakeOutputs : public OutputDirectory {
 public:
  RowOutput* RowsTo(const std::string&) override { return &rows; }
  Result<DeadLetterOutput*> DeadLettersTo(const weir::v1::KafkaSource& source) override {
    ++attempts;
    if (failures > 0) {
      --failures;
      return Unavailable("cannot create the dead-letter producer for " + source.brokers() + ": fake failure");
    }
    return static_cast<DeadLetterOutput*>(&dead_letters);
  }

  FakeRows rows;
  FakeDeadLetters dead_letters;
  int failures = 0;
  int attempts = 0;
};

// Two processing threads over fake sources, a reconciler over them.
struct ReconcilerFixture {
  ReconcilerFixture() : sources(&topics) {
    ProcessingOptions options;
    options.sources = sources.Factory();
    options.now = clock.Function();
    for (int i = 0; i < 2; ++i) {
      threads.push_back(std::make_unique<ProcessingThread>(i, options));
      threads.back()->Start();
    }
    reconciler = std::make_unique<Reconciler>(std::vector<ProcessingThread*>{threads[0].get(), threads[1].get()},
                                              &outputs, nullptr, clock.Function());
  }
  ~ReconcilerFixture() {
    for (auto& t : threads) t->Stop();
  }

  // A reply assigning `partitions` of `spec`'s job at `epoch`.
  static weir::v1::HeartbeatResponse Reply(const weir::v1::JobSpec& spec, const std::vector<int32_t>& partitions,
                                           uint64_t epoch = 1) {
    weir::v1::HeartbeatResponse response;
    for (int32_t p : partitions) {
      weir::v1::Assignment* a = response.add_assignments();
      a->set_job(spec.name());
      a->set_partition(p);
      a->set_epoch(epoch);
    }
    *response.add_jobs() = spec;
    return response;
  }
  void Follow(const weir::v1::HeartbeatResponse& response) {
    catalog.Update(response);
    reconciler->Reconcile({response.assignments().begin(), response.assignments().end()}, catalog);
  }
  std::map<int32_t, weir::v1::PartitionStatus> Report() {
    weir::v1::HeartbeatRequest request;
    reconciler->Report("w1", &request);
    std::map<int32_t, weir::v1::PartitionStatus> by_partition;
    for (const auto& s : request.partitions()) by_partition[s.partition()] = s;
    return by_partition;
  }
  bool AllIn(PartitionState state, size_t n) {
    auto report = Report();
    if (report.size() != n) return false;
    for (const auto& [p, s] : report) {
      if (s.state() != state) return false;
    }
    return true;
  }

  FakeTopics topics;
  FakeSources sources;
  FakeClock clock;
  FakeOutputs outputs;
  std::vector<std::unique_ptr<ProcessingThread>> threads;
  JobCatalog catalog;
  std::unique_ptr<Reconciler> reconciler;
};

TEST_CASE("assigned partitions run, spread over the threads, and each is reported with its state", "[worker]") {
  ReconcilerFixture f;
  f.Follow(ReconcilerFixture::Reply(CountJob()->spec, {0, 1, 2, 3}));
  REQUIRE(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 4); }));
  CHECK(f.threads[0]->load() == 2);
  CHECK(f.threads[1]->load() == 2);
  const auto report = f.Report();
  for (const auto& [p, s] : report) {
    CHECK(s.job() == "clicks");
    CHECK(s.owner() == "w1");
    CHECK(s.epoch() == 1);
    CHECK(s.state_reason().empty());
    CHECK(s.restored().source() == weir::v1::RESTORE_SOURCE_START);
  }

  // Partition 3 moves away, partition 2 is assigned again at a newer epoch.
  auto next = ReconcilerFixture::Reply(CountJob()->spec, {0, 1});
  weir::v1::Assignment* moved = next.add_assignments();
  moved->set_job("clicks");
  moved->set_partition(2);
  moved->set_epoch(5);
  f.Follow(next);
  REQUIRE(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 3); }));
  CHECK(f.Report().at(2).epoch() == 5);
  CHECK(f.Report().count(3) == 0);
  CHECK(Eventually([&] { return f.threads[0]->load() + f.threads[1]->load() == 3; }));
}

TEST_CASE("a job whose spec does not compile has every partition failed with the reason", "[worker]") {
  ReconcilerFixture f;
  weir::v1::JobSpec spec = CountJob()->spec;
  spec.mutable_checkpoint()->set_storage("s3://bucket/checkpoints");
  f.Follow(ReconcilerFixture::Reply(spec, {0, 1, 2}));
  const auto report = f.Report();
  REQUIRE(report.size() == 3);
  for (const auto& [p, s] : report) {
    CHECK(s.state() == weir::v1::PARTITION_STATE_FAILED);
    CHECK_THAT(s.state_reason(), Catch::Contains("does not compile on this worker"));
    CHECK_THAT(s.state_reason(), Catch::Contains("s3://bucket/checkpoints"));
  }
  CHECK(f.threads[0]->load() + f.threads[1]->load() == 0);

  // A fixed spec (a new hash) runs.
  f.Follow(ReconcilerFixture::Reply(CountJob()->spec, {0, 1, 2}));
  CHECK(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 3); }));
}

TEST_CASE("a partition whose dead-letter output cannot be made is failed, then granted again with backoff",
          "[worker]") {
  ReconcilerFixture f;
  f.outputs.failures = 2;
  const auto reply = ReconcilerFixture::Reply(CountJob()->spec, {0});
  f.Follow(reply);
  auto report = f.Report();
  CHECK(report.at(0).state() == weir::v1::PARTITION_STATE_FAILED);
  CHECK_THAT(report.at(0).state_reason(), Catch::Contains("dead-letter producer"));
  CHECK(f.outputs.attempts == 1);

  f.Follow(reply);  // a heartbeat before the retry is due
  CHECK(f.outputs.attempts == 1);
  f.clock.Advance(std::chrono::seconds(1));
  f.Follow(reply);
  CHECK(f.outputs.attempts == 2);  // failed again: next in 2 s
  f.clock.Advance(std::chrono::seconds(1));
  f.Follow(reply);
  CHECK(f.outputs.attempts == 2);
  f.clock.Advance(std::chrono::seconds(1));
  f.Follow(reply);
  CHECK(f.outputs.attempts == 3);
  CHECK(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 1); }));
}

TEST_CASE("a partition that cannot start is visible as failed within one heartbeat and recovers", "[worker]") {
  ReconcilerFixture f;
  f.sources.create_failures = 1;
  const auto reply = ReconcilerFixture::Reply(CountJob()->spec, {0});
  f.Follow(reply);
  REQUIRE(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_FAILED, 1); }));
  CHECK_THAT(f.Report().at(0).state_reason(), Catch::Contains("cannot create a Kafka consumer"));
  f.clock.Advance(std::chrono::seconds(1));
  CHECK(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 1); }));
}

TEST_CASE("a fenced partition is reported fenced and not restarted at its epoch, only at a newer one", "[worker]") {
  ReconcilerFixture f;
  f.Follow(ReconcilerFixture::Reply(CountJob()->spec, {0}, 3));
  REQUIRE(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 1); }));
  auto counters = f.reconciler->Counters().at(0);
  counters->fenced.store(true);  // as the sink writer does when the store refuses the epoch
  REQUIRE(Eventually([&] { return f.threads[0]->load() + f.threads[1]->load() == 0; }));
  f.Follow(ReconcilerFixture::Reply(CountJob()->spec, {0}, 3));
  CHECK(f.Report().at(0).state() == weir::v1::PARTITION_STATE_FENCED);
  CHECK(f.threads[0]->load() + f.threads[1]->load() == 0);

  f.Follow(ReconcilerFixture::Reply(CountJob()->spec, {0}, 4));
  CHECK(Eventually([&] { return f.AllIn(weir::v1::PARTITION_STATE_RUNNING, 1); }));
  CHECK(f.Report().at(0).epoch() == 4);
}

}  // namespace
}  // namespace weir::worker
