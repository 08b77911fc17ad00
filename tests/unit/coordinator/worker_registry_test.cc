// WorkerRegistry: registration, heartbeats, loss after the timeout,
// forgetting after the retention, leaving. Time is an argument.
#include <catch2/catch.hpp>

#include "coordinator/worker_registry.h"

using weir::StatusCode;
using weir::coordinator::WorkerRegistry;

TEST_CASE("a worker lives while its heartbeats come within the timeout, then is lost, then forgotten",
          "[coordinator][workers]") {
  WorkerRegistry workers(/*worker_timeout_ms=*/3000, /*dead_worker_retention_ms=*/10000);
  CHECK(workers.Register("w2", "addr2", 0) == WorkerRegistry::Registered::kNew);
  CHECK(workers.Register("w1", "addr1", 0) == WorkerRegistry::Registered::kNew);
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
  CHECK(workers.Register("w1", "addr1b", 5000) == WorkerRegistry::Registered::kAfterLost);
  CHECK(workers.IsLive("w1"));
  CHECK(workers.all().at("w1").address == "addr1b");
  CHECK(workers.Register("w1", "addr1b", 5100) == WorkerRegistry::Registered::kAgain);

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
