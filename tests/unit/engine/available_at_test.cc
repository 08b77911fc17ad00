// available_at (docs/semantics.md, "Availability"): the partition's greatest
// event time seen when a row was emitted, never below its window end.
#include <catch2/catch.hpp>

#include "tests/support/engine_harness.h"

using Catch::Matchers::Equals;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;

TEST_CASE("a first firing is available at the event time of the record that closed its window",
          "[engine][available_at]") {
  EngineHarness h(JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n",
                          "watermark: { max_out_of_orderness: 2s }\nallowed_lateness: 30s"));
  h.Event("a", 1000);
  h.Event("a", 11000);  // W = 9000
  h.Event("b", 12500);  // W = 10500: [0,10000) fires
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 1 r0"}));
  CHECK_THAT(h.all_available_at(), Equals(std::vector<int64_t>{12500}));
}

TEST_CASE("a correction is available at the partition clock when the late record came", "[engine][available_at]") {
  EngineHarness h(JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n",
                          "watermark: { max_out_of_orderness: 2s }\nallowed_lateness: 30s"));
  h.Event("a", 1000);
  h.Event("b", 13000);  // fires [0,10000) for a at 13000
  h.Event("b", 17000);  // the clock moves on, nothing fires
  h.Event("a", 2000);   // late: a correction, at clock 17000 (not 2000, not 13000)
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 1 r0", "n a [0,10000) 2 r1"}));
  CHECK_THAT(h.all_available_at(), Equals(std::vector<int64_t>{13000, 17000}));
}

TEST_CASE("rows fired by a flush are available at their window end at the earliest", "[engine][available_at]") {
  EngineHarness h(
      JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n"
              "  - { name: s, agg: count, window: { session: { gap: 5s } } }\n",
              "watermark: { max_out_of_orderness: 2s }"));
  h.Event("a", 1000);
  h.Event("a", 3000);
  h.Flush();  // nothing passed 10000 or 8000: each row at its end
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s a [1000,8000) 2 r0", "n a [0,10000) 2 r0"}));
  CHECK_THAT(h.all_available_at(), Equals(std::vector<int64_t>{8000, 10000}));
}
