// WorkerRegistry: registration, heartbeats, loss after the timeout,
// forgetting after the retention, leaving. Time is an argument.
#include <catch2/catch.hpp>

#include "coordinator/worker_registry.h"

using weir::StatusCode;
using weir::coordinator::WorkerRegistry;

TEST_CASE("a worker lives while its heartbeats come within the timeout, then is lost, then forgotten",
          "[coordinator][workers]") {
  WorkerRegistry workers(/*worker_timeout_ms=*/3000, /*dead_worker_retention_ms=*/10000);
  CHECK(*workers.Register("w2", "addr2", 0) == WorkerRegistry::Registered::kNew);
  CHECK(*workers.Register("w1", "addr1", 0) == WorkerRegistry::Registered::kNew);
  CHECK(workers.Live() == std::vector<std::string>{"w1", "w2"});
  REQUIRE(workers.Heartbeat("w2", 2000).ok());

  // w1's last heartbeat was its registration at 0: exactly the timeout is still live.
  CHECK(workers.Check(3000).lost.empty());
  CHECK(workers.OnTime(workers.all().at("w1"), 3000));
  CHECK_FALSE(workers.OnTime(workers.all().at("w1"), 3001));  // late, before any check says so
  auto checked = workers.Check(3001);
  REQUIRE(checked.lost.size() == 1);
  CHECK(checked.lost[0].id == "w1");
  CHECK(checked.lost[0].silent_ms == 3001);
  CHECK(workers.Live() == std::vector<std::string>{"w2"});
  CHECK_FALSE(workers.IsLive("w1"));
  CHECK(workers.Check(4000).lost.empty());  // declared once

  auto refused = workers.Heartbeat("w1", 4000);
  CHECK(refused.code() == StatusCode::kNotFound);
  CHECK_THAT(refused.message(), Catch::Contains("declared dead") && Catch::Contains("register again"));
  CHECK(workers.Heartbeat("nobody", 4000).code() == StatusCode::kNotFound);

  // Registering again revives it.
  CHECK(*workers.Register("w1", "addr1b", 5000) == WorkerRegistry::Registered::kAfterLost);
  CHECK(workers.IsLive("w1"));
  CHECK(workers.all().at("w1").address == "addr1b");
  CHECK(*workers.Register("w1", "addr1b", 5100) == WorkerRegistry::Registered::kAgain);

  // w2 goes silent after 2000: lost at 5001, forgotten 10 s later; w1 keeps beating.
  CHECK(workers.Check(5001).lost.size() == 1);
  for (int64_t t = 6000; t <= 15000; t += 1000) REQUIRE(workers.Heartbeat("w1", t).ok());
  auto at_retention = workers.Check(15001);
  CHECK(at_retention.forgotten.empty());
  CHECK(at_retention.lost.empty());
  CHECK(workers.all().at("w2").dead_since_ms == 5001);
  CHECK(workers.Check(15002).forgotten == std::vector<std::string>{"w2"});
  CHECK(workers.all().count("w2") == 0);

  CHECK(workers.Remove("w1"));
  CHECK_FALSE(workers.Remove("w1"));
  CHECK(workers.all().empty());
}

TEST_CASE("a second process cannot register the id of a live worker", "[coordinator][workers]") {
  WorkerRegistry workers(/*worker_timeout_ms=*/3000, /*dead_worker_retention_ms=*/10000);
  REQUIRE(workers.Register("w1", "10.0.0.1:9466", 0).ok());
  REQUIRE(workers.Heartbeat("w1", 1000).ok());

  auto duplicate = workers.Register("w1", "10.0.0.2:9466", 1500);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.status().code() == StatusCode::kAlreadyExists);
  CHECK(duplicate.status().message() ==
        "worker id \"w1\" is in use by a live worker at 10.0.0.1:9466 (last heartbeat 500 ms ago): give each worker a "
        "unique --id (WEIR_ID). A restarted worker is let in once the old process misses its heartbeats for 3000 ms");
  CHECK(workers.all().at("w1").address == "10.0.0.1:9466");  // the holder keeps its id

  // The same process registering again (its reply was lost) is let in.
  CHECK(*workers.Register("w1", "10.0.0.1:9466", 1600) == WorkerRegistry::Registered::kAgain);
  // Once the holder is late, a restarted process takes the id, even before Check() declares the old one lost.
  CHECK_FALSE(workers.Register("w1", "10.0.0.2:9466", 4600).ok());
  CHECK(*workers.Register("w1", "10.0.0.2:9466", 4601) == WorkerRegistry::Registered::kAgain);
  CHECK(workers.all().at("w1").address == "10.0.0.2:9466");
}

TEST_CASE("the end of a worker's current watch declares it lost at once, a stale one changes nothing",
          "[coordinator][workers]") {
  WorkerRegistry workers(/*worker_timeout_ms=*/3000, /*dead_worker_retention_ms=*/10000);
  CHECK(workers.OpenWatch("w1").status().code() == StatusCode::kNotFound);  // register first
  REQUIRE(workers.Register("w1", "10.0.0.1:9466", 0).ok());
  const uint64_t first = *workers.OpenWatch("w1");
  const uint64_t second = *workers.OpenWatch("w1");  // a reconnect replaces it
  CHECK(workers.Watching("w1", second));
  CHECK_FALSE(workers.Watching("w1", first));
  CHECK_FALSE(workers.CloseWatch("w1", first, 100));  // the replaced stream ending is no news
  CHECK(workers.IsLive("w1"));

  CHECK(workers.CloseWatch("w1", second, 200));  // the process is gone: lost well before the timeout
  CHECK_FALSE(workers.IsLive("w1"));
  CHECK(workers.all().at("w1").dead_since_ms == 200);
  CHECK(workers.Heartbeat("w1", 250).code() == StatusCode::kNotFound);
  CHECK(workers.Check(300).lost.empty());  // declared once

  // A restarted process registers (another address: the old one is no longer on time), and the old
  // process's watch ending late changes nothing for it.
  const uint64_t third = [&] {
    REQUIRE(workers.Register("w1", "10.0.0.2:9466", 400).ok());
    return *workers.OpenWatch("w1");
  }();
  REQUIRE(workers.Register("w1", "10.0.0.2:9466", 500).ok());  // its reply was lost: registers again
  CHECK_FALSE(workers.CloseWatch("w1", third, 600));
  CHECK(workers.IsLive("w1"));
  // Leaving first: its watch ending afterwards finds nobody.
  const uint64_t fourth = *workers.OpenWatch("w1");
  CHECK(workers.Remove("w1"));
  CHECK_FALSE(workers.CloseWatch("w1", fourth, 700));
}
