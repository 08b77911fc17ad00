#include <catch2/catch.hpp>

#include "worker/backoff.h"

namespace weir::worker {
namespace {

using std::chrono::milliseconds;

TEST_CASE("backoff starts at 1 s, doubles to 30 s and starts over after a success", "[worker]") {
  Backoff backoff;
  std::vector<int64_t> delays;
  for (int i = 0; i < 7; ++i) delays.push_back(backoff.Failed().count());
  CHECK(delays == std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000});
  backoff.Succeeded();
  CHECK(backoff.Failed() == milliseconds(1000));
}

}  // namespace
}  // namespace weir::worker
