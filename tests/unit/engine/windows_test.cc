// Window kinds, watermarks, firing and allowed lateness (docs/semantics.md),
// asserted on the rows the engine emits.
#include <catch2/catch.hpp>

#include "tests/support/engine_harness.h"

using Catch::Matchers::Equals;
using Catch::Matchers::UnorderedEquals;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;

namespace {

const char* kTumblingCount = "  - { name: n, agg: count, window: { tumbling: 10s } }\n";

}  // namespace

TEST_CASE("tumbling window fires once the watermark reaches its end", "[engine][tumbling]") {
  EngineHarness h(JobYaml(kTumblingCount, "watermark: { max_out_of_orderness: 2s }"));
  h.Event("a", 1000);
  h.Event("a", 5000);
  h.Event("b", 7000);
  h.Event("a", 11999);  // W = 9999: nothing is due
  CHECK(h.TakeRows().empty());
  h.Event("c", 12000);  // W = 10000 >= 10000
  CHECK_THAT(h.TakeRows(), UnorderedEquals(std::vector<std::string>{"n a [0,10000) 2 r0", "n b [0,10000) 1 r0"}));
  h.Flush();
  CHECK_THAT(h.TakeRows(),
             UnorderedEquals(std::vector<std::string>{"n a [10000,20000) 1 r0", "n c [10000,20000) 1 r0"}));
  CHECK(h.engine().stats().keys == 0);
}

TEST_CASE("tumbling windows of negative event times use floor alignment", "[engine][tumbling]") {
  EngineHarness h(JobYaml(kTumblingCount, "watermark: { max_out_of_orderness: 1m }"));
  h.Event("a", -1);
  h.Event("a", -10000);
  h.Event("a", -10001);
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [-20000,-10000) 1 r0", "n a [-10000,0) 2 r0"}));
}

TEST_CASE("a window with no event for a key emits nothing for it", "[engine][tumbling]") {
  EngineHarness h(JobYaml(kTumblingCount));
  h.Event("a", 1000);
  h.Event("a", 35000);  // windows [10000,20000) and [20000,30000) are empty
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 1 r0"}));
}

TEST_CASE("sliding windows are combined from slices", "[engine][sliding]") {
  EngineHarness h(JobYaml("  - { name: s, agg: sum, field: x, window: { sliding: { size: 30s, slide: 10s } } }\n",
                          "watermark: { max_out_of_orderness: 1m }"));
  h.Event("a", 5000, ",\"x\":1");
  h.Event("a", 15000, ",\"x\":2");
  h.Event("a", 25000, ",\"x\":4");
  CHECK(h.TakeRows().empty());
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{
                               "s a [-20000,10000) 1 r0",
                               "s a [-10000,20000) 3 r0",
                               "s a [0,30000) 7 r0",
                               "s a [10000,40000) 6 r0",
                               "s a [20000,50000) 4 r0",
                           }));
}

TEST_CASE("sliding windows fire in end order as the watermark advances", "[engine][sliding]") {
  EngineHarness h(JobYaml("  - { name: c, agg: count, window: { sliding: { size: 20s, slide: 10s } } }\n"));
  h.Event("a", 1000);
  h.Event("b", 12000);  // W = 12000: [-10000,10000) fires for a
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"c a [-10000,10000) 1 r0"}));
  h.Event("a", 21000);  // W = 21000: [0,20000) fires for a and b
  CHECK_THAT(h.TakeRows(), UnorderedEquals(std::vector<std::string>{"c a [0,20000) 1 r0", "c b [0,20000) 1 r0"}));
  h.Event("z", 100000);  // everything up to 100000 is due
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{
                               "c b [10000,30000) 1 r0",
                               "c a [10000,30000) 1 r0",
                               "c a [20000,40000) 1 r0",
                           }) ||
                               Equals(std::vector<std::string>{
                                   "c a [10000,30000) 1 r0",
                                   "c b [10000,30000) 1 r0",
                                   "c a [20000,40000) 1 r0",
                               }));
}

TEST_CASE("events at most gap apart share a session and touching sessions merge", "[engine][session]") {
  EngineHarness h(JobYaml("  - { name: s, agg: count, window: { session: { gap: 10s } } }\n"));
  h.Event("a", 0);
  h.Event("a", 5000);
  h.Event("a", 15000);  // 5000 + gap = 15000: touches
  h.Event("a", 40000);  // W = 40000 >= 25000
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s a [0,25000) 3 r0"}));
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s a [40000,50000) 1 r0"}));
}

TEST_CASE("an out-of-order event bridges two sessions into one", "[engine][session]") {
  EngineHarness h(JobYaml("  - { name: s, agg: sum, field: x, window: { session: { gap: 10s } } }\n",
                          "watermark: { max_out_of_orderness: 100s }"));
  h.Event("a", 0, ",\"x\":1");
  h.Event("a", 30000, ",\"x\":2");
  h.Event("a", 20000, ",\"x\":4");  // merges with [30000,40000): [20000,40000)
  h.Event("b", 5000, ",\"x\":100");
  h.Event("a", 10000, ",\"x\":8");  // touches [0,10000) and [20000,..): one session
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s b [5000,15000) 100 r0", "s a [0,40000) 15 r0"}));
}

TEST_CASE("sessions are per key", "[engine][session]") {
  EngineHarness h(JobYaml("  - { name: s, agg: count, window: { session: { gap: 10s } } }\n"));
  h.Event("a", 0);
  h.Event("b", 5000);
  h.Event("a", 9000);
  h.Event("b", 16000);  // 16000 - 5000 > gap: a new session for b
  h.Flush();
  CHECK_THAT(h.TakeRows(), UnorderedEquals(std::vector<std::string>{"s a [0,19000) 2 r0", "s b [5000,15000) 1 r0",
                                                                    "s b [16000,26000) 1 r0"}));
}

TEST_CASE("an event exactly at the watermark is not late", "[engine][lateness]") {
  EngineHarness h(JobYaml(kTumblingCount));
  h.Event("a", 10000);  // W = 10000
  h.Event("a", 10000);  // t == W: on time
  h.Event("a", 9999);   // t < W and its window [0,10000) is gone (L = 0)
  CHECK_THAT(h.dead_letters(), Equals(std::vector<std::string>{"late @2"}));
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [10000,20000) 2 r0"}));
}

TEST_CASE("a late event within allowed lateness corrects a fired window", "[engine][lateness]") {
  EngineHarness h(JobYaml(kTumblingCount, "allowed_lateness: 5s"));
  h.Event("a", 1000);
  h.Event("a", 10000);  // W = 10000: [0,10000) fires
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 1 r0"}));
  h.Event("a", 9999);  // late, window kept until W >= 15000: correction
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 2 r1"}));
  h.Event("a", 3000);  // a second correction
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 3 r2"}));
  h.Event("b", 14999);  // W = 14999 < e + L: still kept
  h.Event("a", 5000);
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 4 r3"}));
  h.Event("b", 15000);  // W = 15000 = e + L: the window is gone
  h.Event("a", 5000);
  CHECK(h.TakeRows().empty());
  CHECK_THAT(h.dead_letters(), Equals(std::vector<std::string>{"late @7"}));
}

TEST_CASE("a late event for a key with no fired row emits revision 0 at once", "[engine][lateness]") {
  EngineHarness h(JobYaml(kTumblingCount, "allowed_lateness: 1m"));
  h.Event("a", 1000);
  h.Event("a", 25000);  // [0,10000) fires for a
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 1 r0"}));
  h.Event("b", 5000);  // b never had a row in [0,10000)
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n b [0,10000) 1 r0"}));
}

TEST_CASE("a late event corrects every kept sliding window that holds it", "[engine][lateness][sliding]") {
  EngineHarness h(JobYaml("  - { name: c, agg: count, window: { sliding: { size: 30s, slide: 10s } } }\n",
                          "allowed_lateness: 15s"));
  h.Event("a", 5000);
  h.Event("a", 31000);  // W = 31000: [-20000,10000) [-10000,20000) [0,30000) fire
  CHECK(h.TakeRows().size() == 3);
  // t = 6000 belongs to windows ending 10000, 20000, 30000. Kept: end + 15000 > 31000,
  // so 20000 and 30000 are corrected; 10000 is gone.
  h.Event("a", 6000);
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"c a [-10000,20000) 2 r1", "c a [0,30000) 2 r1"}));
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"c a [10000,40000) 1 r0", "c a [20000,50000) 1 r0",
                                                           "c a [30000,60000) 1 r0"}));
}

TEST_CASE("a late event extends a fired session and re-fires it", "[engine][lateness][session]") {
  EngineHarness h(JobYaml("  - { name: s, agg: count, window: { session: { gap: 10s } } }\n", "allowed_lateness: 30s"));
  h.Event("a", 0);
  h.Event("b", 20000);  // W = 20000: [0,10000) fires
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s a [0,10000) 1 r0"}));
  h.Event("a", 5000);  // inside the fired session: correction
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s a [0,15000) 2 r1"}));
  h.Event("a", 12000);  // extends it to 22000 > W: fires later, as revision 2
  CHECK(h.TakeRows().empty());
  h.Event("b", 22000);
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"s a [0,22000) 3 r2"}));
  h.Event("b", 60000);  // W = 60000 >= 22000 + 30000: a's session is gone
  h.Event("a", 1000);   // [1000,11000) + L <= W: too late
  CHECK_THAT(h.dead_letters(), Equals(std::vector<std::string>{"late @6"}));
}

TEST_CASE("a late event dropped by one feature but taken by another is not a dead letter", "[engine][lateness]") {
  EngineHarness h(
      JobYaml("  - { name: short, agg: count, window: { tumbling: 10s } }\n"
              "  - { name: long, agg: count, window: { tumbling: 1m } }\n"));
  h.Event("a", 1000);
  h.Event("a", 30000);  // W = 30000: short [0,10000) fired and is gone; long [0,60000) is open
  h.TakeRows();
  h.Event("a", 2000);
  CHECK(h.dead_letters().empty());
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"short a [30000,40000) 1 r0", "long a [0,60000) 3 r0"}));
}

TEST_CASE("state is dropped once the watermark passes end + lateness", "[engine][state]") {
  EngineHarness h(
      JobYaml("  - { name: c, agg: count, window: { sliding: { size: 1m, slide: 10s } } }\n"
              "  - { name: s, agg: count, window: { session: { gap: 5s } } }\n",
              "allowed_lateness: 20s"));
  for (int k = 0; k < 1000; ++k) h.Event("k" + std::to_string(k), 1000 + k);
  CHECK(h.engine().stats().keys == 1000);
  h.Event("z", 1000 + 60000 + 20000);  // W: every window of the first 1000 keys is gone
  CHECK(h.engine().stats().keys == 1);
  h.Flush();
  CHECK(h.engine().stats().keys == 0);
}

TEST_CASE("memory stays bounded by the live windows as keys come and go", "[engine][state]") {
  EngineHarness h(
      JobYaml("  - { name: c, agg: count, window: { sliding: { size: 1m, slide: 10s } } }\n"
              "  - { name: s, agg: count, window: { session: { gap: 5s } } }\n",
              "allowed_lateness: 20s"));
  std::vector<size_t> bytes;
  for (int wave = 0; wave < 6; ++wave) {
    // 1000 keys never seen before, long after the previous wave's windows closed.
    for (int k = 0; k < 1000; ++k) h.Event("w" + std::to_string(wave) + "-" + std::to_string(k), wave * 300000 + k);
    CHECK(h.engine().stats().keys == 1000);
    bytes.push_back(h.engine().StateBytes());
  }
  // Slots, slices and timers of gone keys are reused, not added to.
  CHECK(bytes[5] <= bytes[2] + bytes[2] / 20);
}
