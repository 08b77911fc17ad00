#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "common/checkpoint_paths.h"
#include "tests/support/temp_dir.h"
#include "worker/snapshot_file.h"

#include "tests/unit/worker/fake_partition_source.h"
#include "tests/unit/worker/worker_test_support.h"
#include "worker/processing_thread.h"

namespace weir::worker {
namespace {

using testing::CountJob;
using testing::Eventually;
using testing::FakeClock;
using testing::FakeDeadLetters;
using testing::FakeRows;
using testing::FakeSources;
using testing::FakeTopics;

// A processing thread over fake sources and a fake clock, and what a test
// needs to grant it partitions.
struct ThreadFixture {
  ThreadFixture() : sources(&topics) {
    ProcessingOptions options;
    options.sources = sources.Factory();
    options.now = clock.Function();
    thread = std::make_unique<ProcessingThread>(0, options);
    thread->Start();
  }
  ~ThreadFixture() { thread->Stop(); }

  std::shared_ptr<PartitionCounters> Grant(const std::shared_ptr<const JobRuntime>& job, int32_t partition,
                                           RowOutput* rows, uint64_t epoch = 1,
                                           CheckpointWriter* checkpoints = nullptr) {
    auto counters = std::make_shared<PartitionCounters>(job->spec.name(), PartitionId(partition), Epoch(epoch));
    thread->Add(
        PartitionGrant{job, PartitionId(partition), Epoch(epoch), rows, &dead_letters, counters, checkpoints, {}, {}});
    return counters;
  }

  // One record per user at `second` of minute `minute`, then a tick that closes the minute.
  void Minute(const std::string& topic, int32_t partition, int minute, int users) {
    const int64_t start = minute * int64_t{60000};
    for (int u = 0; u < users; ++u) {
      const std::string user = "u" + std::to_string(u);
      topics.Append(topic, PartitionId(partition), user,
                    R"({"user":")" + user + R"(","ts":)" + std::to_string(start + 1000) + "}");
    }
    topics.Append(topic, PartitionId(partition), "tick",
                  R"({"user":"tick","ts":)" + std::to_string(start + 60000) + "}");
  }

  FakeTopics topics;
  FakeSources sources;
  FakeClock clock;
  FakeRows rows;
  FakeDeadLetters dead_letters;
  std::unique_ptr<ProcessingThread> thread;
};

PartitionState StateOf(const PartitionCounters& c) { return c.state().state; }

// A job like CountJob on another topic and store.
std::shared_ptr<const JobRuntime> JobOn(const std::string& name, const std::string& topic) {
  weir::v1::JobSpec spec = CountJob()->spec;
  spec.set_name(name);
  spec.mutable_source()->mutable_kafka()->set_topic(topic);
  auto job = MakeJobRuntime(spec);
  REQUIRE(job.ok());
  return *job;
}

TEST_CASE("a partition whose source cannot be made is failed with the reason, retried with backoff, then runs",
          "[worker]") {
  ThreadFixture f;
  f.sources.create_failures = 2;
  f.Minute("events", 0, 0, 3);
  auto counters = f.Grant(CountJob(), 0, &f.rows);

  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED; }));
  CHECK_THAT(counters->state().reason, Catch::Contains("cannot create a Kafka consumer for brokers 127.0.0.1:1"));
  CHECK(f.sources.creates == 1);

  // Retried after 1 s (still failing), then after 2 more.
  f.clock.Advance(std::chrono::seconds(1));
  REQUIRE(Eventually([&] { return f.sources.creates == 2; }));
  CHECK(StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED);
  // 1 s later it is not due yet: a partition granted now (an observable turn
  // of the thread's loop) starts, the failed one is not attempted again.
  f.clock.Advance(std::chrono::seconds(1));
  auto other = f.Grant(JobOn("other", "other-events"), 0, &f.rows);
  REQUIRE(Eventually([&] { return StateOf(*other) == weir::v1::PARTITION_STATE_RUNNING; }));
  CHECK(f.sources.creates == 3);  // the other job's source only
  CHECK(StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED);

  f.clock.Advance(std::chrono::seconds(1));
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_RUNNING; }));
  CHECK(counters->state().reason.empty());
  CHECK(Eventually([&] { return f.rows.count() == 3; }));  // the minute's rows: it runs
  CHECK(counters->next_offset.load() == 4);
  REQUIRE(counters->state().restored.has_value());
  CHECK(counters->state().restored->source() == weir::v1::RESTORE_SOURCE_START);
}

TEST_CASE("a job's only partition on a thread granted again at a new epoch replaces the old one and runs", "[worker]") {
  ThreadFixture f;
  f.Minute("events", 0, 0, 3);
  auto old_epoch = f.Grant(CountJob(), 0, &f.rows, 4);
  REQUIRE(Eventually([&] { return f.rows.count() == 3; }));
  // The same partition at epoch 6 (the coordinator moved it away and back):
  // its old task goes, and with it the job's entry on this thread.
  auto new_epoch = f.Grant(CountJob(), 0, &f.rows, 6);
  REQUIRE(Eventually([&] { return StateOf(*new_epoch) == weir::v1::PARTITION_STATE_RUNNING; }));
  f.Minute("events", 0, 1, 2);
  CHECK(Eventually([&] { return new_epoch->next_offset.load() == 7; }));
  // From the start again: minute 0 (3 rows), then minute 1 (u0, u1 and tick).
  CHECK(Eventually([&] { return f.rows.count() == 3 + 3 + 3; }));
  CHECK(old_epoch->next_offset.load() == 4);
}

TEST_CASE("a partition the source refuses to assign is failed with the reason, retried, then runs", "[worker]") {
  ThreadFixture f;
  f.sources.assign_failures = 1;
  f.Minute("events", 2, 0, 2);
  auto counters = f.Grant(CountJob(), 2, &f.rows);

  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED; }));
  CHECK_THAT(counters->state().reason, Catch::Contains("refused to assign topic \"events\" partition 2"));
  f.clock.Advance(std::chrono::seconds(1));
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_RUNNING; }));
  CHECK(f.sources.assigns == 2);
  CHECK(Eventually([&] { return f.rows.count() == 2; }));
}

TEST_CASE("a full store pauses only the partitions writing to it, another job keeps flowing, nothing is dropped",
          "[worker]") {
  FakeRows slow("slow-store");  // outlives the thread
  ThreadFixture f;
  slow.SetFull(true);
  auto stuck = f.Grant(JobOn("stuck", "stuck-events"), 0, &slow);
  auto flowing = f.Grant(JobOn("flowing", "flowing-events"), 0, &f.rows);
  for (int minute = 0; minute < 5; ++minute) {
    f.Minute("stuck-events", 0, minute, 4);
    f.Minute("flowing-events", 0, minute, 4);
  }

  REQUIRE(
      Eventually([&] { return f.rows.count() == 5 * 4 + 4; }));  // every minute's users, and the ticks' but the last
  REQUIRE(Eventually([&] { return StateOf(*stuck) == weir::v1::PARTITION_STATE_PAUSED; }));
  CHECK_THAT(stuck->state().reason, Catch::Contains("slow-store"));
  CHECK(f.sources.paused("stuck-events", PartitionId(0)));
  CHECK(StateOf(*flowing) == weir::v1::PARTITION_STATE_RUNNING);
  CHECK(stuck->next_offset.load() < static_cast<int64_t>(f.topics.size("stuck-events", PartitionId(0))));

  slow.SetFull(false);
  REQUIRE(Eventually([&] { return StateOf(*stuck) == weir::v1::PARTITION_STATE_RUNNING; }));
  CHECK_FALSE(f.sources.paused("stuck-events", PartitionId(0)));
  CHECK(Eventually([&] { return slow.count() == 5 * 4 + 4; }));
  CHECK(stuck->next_offset.load() == static_cast<int64_t>(f.topics.size("stuck-events", PartitionId(0))));
}

TEST_CASE("a partition its source cannot read is failed with the source's reason until it reads again", "[worker]") {
  ThreadFixture f;
  auto counters = f.Grant(CountJob(), 1, &f.rows);
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_RUNNING; }));

  f.sources.SetProblem("events", PartitionId(1), "cannot read topic \"events\" partition 1: brokers down");
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED; }));
  CHECK(counters->state().reason == "cannot read topic \"events\" partition 1: brokers down");

  f.sources.SetProblem("events", PartitionId(1), "");
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_RUNNING; }));
  CHECK(counters->state().reason.empty());
  CHECK(f.sources.creates == 1);  // no restart: the source recovers by itself
}

TEST_CASE("a client the brokers refuse is replaced, with backoff, and its partitions go on where they were",
          "[worker]") {
  ThreadFixture f;
  f.Minute("events", 0, 0, 3);
  auto counters = f.Grant(CountJob(), 0, &f.rows);
  REQUIRE(Eventually([&] { return f.rows.count() == 3; }));

  f.sources.refuse = true;  // e.g. the password file changed under a restarted broker
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED; }));
  CHECK_THAT(counters->state().reason, Catch::Contains("SASL authentication error"));
  f.Minute("events", 0, 1, 4);
  // New clients are refused too, each after a doubling backoff on the thread's clock.
  REQUIRE(Eventually([&] {
    f.clock.Advance(std::chrono::milliseconds(100));
    return f.sources.creates.load() >= 4;
  }));
  CHECK(StateOf(*counters) == weir::v1::PARTITION_STATE_FAILED);  // never running on an unproven client
  CHECK(f.rows.count() == 3);

  f.sources.refuse = false;  // the secret is corrected
  REQUIRE(Eventually([&] {
    f.clock.Advance(std::chrono::milliseconds(100));
    return StateOf(*counters) == weir::v1::PARTITION_STATE_RUNNING;
  }));
  CHECK(counters->state().reason.empty());
  // Nothing lost, nothing doubled: minute 0's 3 users once, then minute 1's 4 and minute 0's tick.
  REQUIRE(Eventually([&] { return f.rows.count() == 3 + 1 + 4; }));
  CHECK(counters->next_offset.load() == static_cast<int64_t>(f.topics.size("events", PartitionId(0))));
  CHECK(counters->records_in.load() == 4 + 5);
}

TEST_CASE("a removed partition stops being read and its job's source is closed", "[worker]") {
  ThreadFixture f;
  auto counters = f.Grant(CountJob(), 0, &f.rows);
  REQUIRE(Eventually([&] { return StateOf(*counters) == weir::v1::PARTITION_STATE_RUNNING; }));
  CHECK(f.thread->load() == 1);
  f.thread->Remove("clicks", PartitionId(0));
  REQUIRE(Eventually([&] { return f.thread->load() == 0; }));
  f.Minute("events", 0, 0, 2);
  // Granted again: a new source reads the partition from the start.
  auto again = f.Grant(CountJob(), 0, &f.rows);
  REQUIRE(Eventually([&] { return f.rows.count() == 2; }));
  CHECK(f.sources.creates == 2);
  CHECK(counters->records_in.load() == 0);
  CHECK(again->records_in.load() == 3);
}

TEST_CASE("a partition's keys and state bytes are measured for the metrics", "[worker]") {
  ThreadFixture f;
  auto counters = f.Grant(CountJob(), 0, &f.rows);
  for (int u = 0; u < 5; ++u) {
    const std::string user = "u" + std::to_string(u);
    f.topics.Append("events", PartitionId(0), user, R"({"user":")" + user + R"(","ts":1000})");
  }
  REQUIRE(Eventually([&] { return counters->records_in.load() == 5; }));
  REQUIRE(Eventually([&] { return counters->keys.load() == 5; }));  // five open windows, one per user
  REQUIRE(Eventually([&] { return counters->state_bytes.load() > 0; }));
}

// The inode of `path`, or 0 when it cannot be read.
ino_t Inode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST_CASE("a partition unchanged since its last snapshot does not write it again: the file is linked", "[worker]") {
  weir::testing::TempDir dir;
  weir::v1::JobSpec spec = CountJob()->spec;
  spec.mutable_checkpoint()->set_storage("file://" + dir.path.string());
  auto made = MakeJobRuntime(spec);
  REQUIRE(made.ok());
  const std::shared_ptr<const JobRuntime> job = *made;
  CheckpointWriter writer;
  writer.Start();
  ThreadFixture f;
  auto counters = f.Grant(job, 0, &f.rows, 1, &writer);
  f.Minute("events", 0, 1, 3);
  REQUIRE(Eventually([&] { return counters->records_in.load() == 4; }));
  auto checkpoint = [&](uint64_t id) {
    f.thread->Checkpoint("clicks", PartitionId(0), CheckpointId(id));
    REQUIRE(Eventually([&] { return counters->last_written_checkpoint.load() == id; }));
    return SnapshotPath(job->checkpoint_root, "clicks", id, 0, 1);
  };

  const std::string first = checkpoint(1);
  const std::string idle = checkpoint(2);  // nothing came in between
  REQUIRE(Inode(first) != 0);
  CHECK(Inode(idle) == Inode(first));  // the same file, not a rewrite
  auto a = ReadSnapshotFile(first);
  auto b = ReadSnapshotFile(idle);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(b->engine_state == a->engine_state);
  CHECK(b->next_offset == 4);

  f.Minute("events", 0, 2, 2);  // a change: the next snapshot is written anew
  REQUIRE(Eventually([&] { return counters->records_in.load() == 7; }));
  const std::string changed = checkpoint(3);
  CHECK(Inode(changed) != Inode(first));
  auto c = ReadSnapshotFile(changed);
  REQUIRE(c.ok());
  CHECK(c->next_offset == 7);
  CHECK(c->engine_state != a->engine_state);
  f.thread->Stop();
  writer.Stop();
}

}  // namespace
}  // namespace weir::worker
