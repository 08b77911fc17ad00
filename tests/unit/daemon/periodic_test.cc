// Periodic: calls its work repeatedly on its own thread until Stop(), which
// joins it, so no call runs or starts after Stop() returns.
#include <atomic>
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "daemon/periodic.h"

TEST_CASE("Periodic calls its work every interval until Stop, and none after Stop returns", "[daemon]") {
  std::atomic<int> calls{0};
  weir::Periodic periodic(std::chrono::milliseconds(1), [&calls] { ++calls; });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (calls.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(calls.load() >= 3);
  periodic.Stop();
  const int at_stop = calls.load();
  periodic.Stop();                 // idempotent
  CHECK(calls.load() == at_stop);  // the thread is joined: nothing can call any more
}

TEST_CASE("Periodic stopped before its first interval never calls its work", "[daemon]") {
  std::atomic<int> calls{0};
  weir::Periodic periodic(std::chrono::hours(1), [&calls] { ++calls; });
  periodic.Stop();
  CHECK(calls.load() == 0);
}
