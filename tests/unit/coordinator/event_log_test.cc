// EventLog: seqs, the bound, filtering by job, after_seq and limit, and
// appends from several threads; the messages of the event builders.
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "coordinator/cluster_events.h"
#include "coordinator/event_log.h"

namespace pb = weir::v1;
using weir::coordinator::EventLog;
using weir::coordinator::EventPage;
namespace events = weir::coordinator::events;

namespace {

pb::ClusterEvent Of(const std::string& job, const std::string& message) {
  pb::ClusterEvent e;
  e.set_kind(pb::CLUSTER_EVENT_JOB_SUBMITTED);
  e.set_job(job);
  e.set_message(message);
  return e;
}

std::vector<uint64_t> Seqs(const EventPage& page) {
  std::vector<uint64_t> seqs;
  for (const auto& e : page.events) seqs.push_back(e.seq());
  return seqs;
}

}  // namespace

TEST_CASE("events get consecutive seqs and the time they are appended at", "[coordinator][events]") {
  EventLog log;
  CHECK(log.List("", 0, 0).events.empty());
  CHECK(log.List("", 0, 0).last_seq == 0);
  CHECK(log.Append(Of("a", "one"), 1000) == 1);
  CHECK(log.Append(Of("b", "two"), 1001) == 2);
  const EventPage page = log.List("", 0, 0);
  REQUIRE(page.events.size() == 2);
  CHECK(page.last_seq == 2);
  CHECK(page.events[0].seq() == 1);
  CHECK(page.events[0].at_ms() == 1000);
  CHECK(page.events[0].message() == "one");
  CHECK(page.events[1].at_ms() == 1001);
}

TEST_CASE("the log keeps the newest events up to its capacity, dropping the oldest", "[coordinator][events]") {
  EventLog log(3);
  for (int i = 1; i <= 5; ++i) log.Append(Of("a", std::to_string(i)), i);
  const EventPage page = log.List("", 0, 0);
  CHECK(Seqs(page) == std::vector<uint64_t>{3, 4, 5});
  CHECK(page.events[0].message() == "3");
  CHECK(page.last_seq == 5);
  // after_seq below the oldest kept: from the oldest kept.
  CHECK(Seqs(log.List("", 1, 0)) == std::vector<uint64_t>{3, 4, 5});
  CHECK(EventLog().capacity() == 10'000);
}

TEST_CASE("List filters by job, after_seq and limit (the newest)", "[coordinator][events]") {
  EventLog log;
  for (int i = 1; i <= 6; ++i) log.Append(Of(i % 2 == 0 ? "even" : "odd", std::to_string(i)), i);
  log.Append(pb::ClusterEvent(), 7);  // a cluster event: no job

  CHECK(Seqs(log.List("", 0, 0)) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7});
  CHECK(Seqs(log.List("even", 0, 0)) == std::vector<uint64_t>{2, 4, 6});
  CHECK(Seqs(log.List("odd", 3, 0)) == std::vector<uint64_t>{5});
  CHECK(Seqs(log.List("", 4, 0)) == std::vector<uint64_t>{5, 6, 7});
  CHECK(Seqs(log.List("", 0, 2)) == std::vector<uint64_t>{6, 7});
  CHECK(Seqs(log.List("odd", 0, 2)) == std::vector<uint64_t>{3, 5});
  CHECK(log.List("none", 0, 0).events.empty());
  // last_seq is the newest of every job, whatever the filter: what --follow passes back.
  CHECK(log.List("odd", 0, 0).last_seq == 7);
  CHECK(log.List("", 7, 0).events.empty());
  CHECK(log.List("", 99, 0).events.empty());
}

TEST_CASE("appends from several threads each get one seq, none lost", "[coordinator][events]") {
  EventLog log(100'000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 1000; ++i) log.Append(Of("job" + std::to_string(t), ""), i);
    });
  }
  for (auto& t : threads) t.join();
  const EventPage page = log.List("", 0, 0);
  REQUIRE(page.events.size() == 4000);
  for (size_t i = 0; i < page.events.size(); ++i) CHECK(page.events[i].seq() == i + 1);
  CHECK(log.List("job2", 0, 0).events.size() == 1000);
}

TEST_CASE("restore events say where the partition started from", "[coordinator][events]") {
  const weir::PartitionId p(3);
  const weir::Epoch e(2);
  pb::RestoreInfo r;
  r.set_source(pb::RESTORE_SOURCE_HANDOFF);
  CHECK(events::PartitionRestored("a", p, "w1", e, r).message() ==
        "partition 3 on w1 (epoch 2) restored from its previous owner's handoff snapshot");
  r.set_source(pb::RESTORE_SOURCE_CHECKPOINT);
  r.set_checkpoint(7);
  pb::ClusterEvent from_checkpoint = events::PartitionRestored("a", p, "w1", e, r);
  CHECK(from_checkpoint.message() == "partition 3 on w1 (epoch 2) restored from checkpoint 7");
  CHECK(from_checkpoint.checkpoint() == 7);
  CHECK(from_checkpoint.restore().source() == pb::RESTORE_SOURCE_CHECKPOINT);
  CHECK(from_checkpoint.kind() == pb::CLUSTER_EVENT_PARTITION_RESTORED);
  CHECK(from_checkpoint.partition() == 3);
  CHECK(from_checkpoint.epoch() == 2);
  CHECK(from_checkpoint.worker() == "w1");
  r.set_fallbacks(1);
  r.set_detail("chk-8/p3-e1.snap: bad checksum");
  CHECK(events::PartitionRestored("a", p, "w1", e, r).message() ==
        "partition 3 on w1 (epoch 2) restored from checkpoint 7, an older restore point, after 1 unreadable restore "
        "point (chk-8/p3-e1.snap: bad checksum)");
  r.set_source(pb::RESTORE_SOURCE_START);
  r.set_checkpoint(0);
  r.set_fallbacks(2);
  CHECK(events::PartitionRestored("a", p, "w1", e, r).message() ==
        "partition 3 on w1 (epoch 2) started from the job's start offset after 2 unreadable restore points "
        "(chk-8/p3-e1.snap: bad checksum)");
  CHECK(events::PartitionRestored("a", p, "w1", e, pb::RestoreInfo())
            .message()
            .ends_with("started from the job's start offset: nothing to restore"));
}
