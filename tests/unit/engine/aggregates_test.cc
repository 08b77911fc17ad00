// Each aggregate and the `where` filters, asserted on emitted rows.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "engine/row_format.h"
#include "tests/support/engine_harness.h"

using Catch::Matchers::Equals;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;

namespace {

// Feeds x = 1, 2, 3, 4 for key a inside [0, 10s), then flushes.
std::vector<std::string> RunOneToFour(const std::string& feature) {
  EngineHarness h(JobYaml(feature));
  for (int i = 1; i <= 4; ++i) h.Event("a", i * 1000, ",\"x\":" + std::to_string(i));
  h.Flush();
  return h.TakeRows();
}

}  // namespace

TEST_CASE("count, sum, min, max, avg and stddev", "[engine][aggregate]") {
  CHECK_THAT(RunOneToFour("  - { name: f, agg: count, window: { tumbling: 10s } }\n"),
             Equals(std::vector<std::string>{"f a [0,10000) 4 r0"}));
  CHECK_THAT(RunOneToFour("  - { name: f, agg: sum, field: x, window: { tumbling: 10s } }\n"),
             Equals(std::vector<std::string>{"f a [0,10000) 10 r0"}));
  CHECK_THAT(RunOneToFour("  - { name: f, agg: min, field: x, window: { tumbling: 10s } }\n"),
             Equals(std::vector<std::string>{"f a [0,10000) 1 r0"}));
  CHECK_THAT(RunOneToFour("  - { name: f, agg: max, field: x, window: { tumbling: 10s } }\n"),
             Equals(std::vector<std::string>{"f a [0,10000) 4 r0"}));
  CHECK_THAT(RunOneToFour("  - { name: f, agg: avg, field: x, window: { tumbling: 10s } }\n"),
             Equals(std::vector<std::string>{"f a [0,10000) 2.5 r0"}));
  // Population standard deviation of 1..4: sqrt(1.25).
  CHECK_THAT(RunOneToFour("  - { name: f, agg: stddev, field: x, window: { tumbling: 10s } }\n"),
             Equals(std::vector<std::string>{"f a [0,10000) 1.118033988749895 r0"}));
}

TEST_CASE("stddev merged across sliding slices equals the direct computation", "[engine][aggregate]") {
  EngineHarness h(JobYaml("  - { name: f, agg: stddev, field: x, window: { sliding: { size: 40s, slide: 10s } } }\n"));
  const double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};  // population stddev exactly 2
  for (int i = 0; i < 8; ++i) h.Event("a", i * 5000, ",\"x\":" + std::to_string(xs[i]));
  h.Flush();
  auto rows = h.TakeRows();
  CHECK(std::find(rows.begin(), rows.end(), "f a [0,40000) 2 r0") != rows.end());
}

TEST_CASE("last takes the greatest event time, ties go to the later offset", "[engine][aggregate]") {
  EngineHarness h(JobYaml("  - { name: f, agg: last, field: x, window: { tumbling: 10s } }\n",
                          "watermark: { max_out_of_orderness: 1m }"));
  h.Event("a", 5000, ",\"x\":\"five\"");
  h.Event("a", 3000, ",\"x\":\"three\"");   // earlier time: not last
  h.Event("a", 5000, ",\"x\":\"five-b\"");  // same time, later offset: wins
  h.Event("b", 1000, ",\"x\":7");
  h.Event("b", 2000, ",\"x\":true");  // a bool is not usable by last: skipped
  h.Flush();
  auto rows = h.TakeRows();
  std::sort(rows.begin(), rows.end());
  CHECK_THAT(rows, Equals(std::vector<std::string>{"f a [0,10000) \"five-b\" r0", "f b [0,10000) 7 r0"}));
  CHECK(h.engine().stats().skipped[0] == 1);
}

TEST_CASE("count_distinct counts distinct strings and numbers", "[engine][aggregate]") {
  EngineHarness h(JobYaml("  - { name: f, agg: count_distinct, field: x, window: { tumbling: 10s } }\n"));
  for (const char* v : {"\"a\"", "\"b\"", "\"a\"", "5", "5.0", "\"5\"", "6"})
    h.Event("k", 1000, std::string(",\"x\":") + v);
  h.Flush();
  // "a", "b", 5 (= 5.0), "5", 6
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"f k [0,10000) 5 r0"}));
}

TEST_CASE("count_distinct over many values stays within 2% after slice merges", "[engine][aggregate][sketch]") {
  EngineHarness h(
      JobYaml("  - { name: f, agg: count_distinct, field: x, window: { sliding: { size: 1m, slide: 1s } } }\n"));
  for (int i = 0; i < 60000; ++i) h.Event("k", i, ",\"x\":" + std::to_string(i % 20000));
  h.Flush();
  auto rows = h.TakeRows();
  const std::string prefix = "f k [0,60000) ";
  auto it = std::find_if(rows.begin(), rows.end(), [&](const std::string& r) { return r.rfind(prefix, 0) == 0; });
  REQUIRE(it != rows.end());
  const double estimate = std::stod(it->substr(prefix.size()));
  CHECK(std::abs(estimate - 20000) / 20000 <= 0.02);
}

TEST_CASE("percentile is within 1% of the exact rank value", "[engine][aggregate][sketch]") {
  EngineHarness h(JobYaml(
      "  - { name: p50, agg: percentile, p: 0.5, field: x, window: { tumbling: 1m } }\n"
      "  - { name: p95, agg: percentile, p: 0.95, field: x, window: { sliding: { size: 1m, slide: 10s } } }\n"));
  for (int i = 1; i <= 1000; ++i) h.Event("a", i * 50, ",\"x\":" + std::to_string(i));
  h.Flush();
  auto value_of = [&](const std::string& prefix) {
    for (const auto& r : h.all_rows()) {
      if (r.rfind(prefix, 0) == 0) return std::stod(r.substr(prefix.size()));
    }
    FAIL("no row " << prefix);
    return 0.0;
  };
  // Values 1..1000; rank floor(p * 999).
  CHECK(std::abs(value_of("p50 a [0,60000) ") - 500) <= 5.0);
  CHECK(std::abs(value_of("p95 a [0,60000) ") - 950) <= 9.5);
}

TEST_CASE("a record whose aggregated field is unusable is skipped by that feature only", "[engine][aggregate]") {
  EngineHarness h(
      JobYaml("  - { name: total, agg: sum, field: x, window: { tumbling: 10s } }\n"
              "  - { name: n, agg: count, window: { tumbling: 10s } }\n"));
  h.Event("a", 1000, ",\"x\":2");
  h.Event("a", 2000, ",\"x\":\"oops\"");
  h.Event("a", 3000);
  h.Event("a", 4000, ",\"x\":null");
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"total a [0,10000) 2 r0", "n a [0,10000) 4 r0"}));
  CHECK(h.engine().stats().skipped == std::vector<uint64_t>{3, 0});
}

TEST_CASE("count with a field counts records where the field is present", "[engine][aggregate]") {
  EngineHarness h(JobYaml("  - { name: n, agg: count, field: x, window: { tumbling: 10s } }\n"));
  h.Event("a", 1000, ",\"x\":\"s\"");
  h.Event("a", 2000);
  h.Event("a", 3000, ",\"x\":null");
  h.Event("a", 4000, ",\"x\":0");
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{"n a [0,10000) 2 r0"}));
}

TEST_CASE("where filters", "[engine][filter]") {
  EngineHarness h(JobYaml(
      "  - { name: clicks, agg: count, window: { tumbling: 10s }, where: [ { field: type, op: eq, value: click } ] }\n"
      "  - { name: not_click, agg: count, window: { tumbling: 10s }, where: [ { field: type, op: ne, value: click } ] "
      "}\n"
      "  - { name: big, agg: count, window: { tumbling: 10s }, where: [ { field: x, op: ge, value: 10 } ] }\n"
      "  - { name: in_set, agg: count, window: { tumbling: 10s }, where: [ { field: type, op: in, value: [view, buy] } "
      "] }\n"
      "  - { name: both, agg: count, window: { tumbling: 10s },\n"
      "      where: [ { field: type, op: eq, value: click }, { field: x, op: lt, value: 10 } ] }\n"));
  h.Event("a", 1000, ",\"type\":\"click\",\"x\":5");
  h.Event("a", 1001, ",\"type\":\"click\",\"x\":50");
  h.Event("a", 1002, ",\"type\":\"view\",\"x\":\"10\"");  // x is a string: ge 10 is false
  h.Event("a", 1003, ",\"type\":\"buy\"");                // x missing: ge is false
  h.Event("a", 1004, ",\"type\":5");                      // a number against "click": false for eq and ne
  h.Event("a", 1005);                                     // type missing: every filter is false
  h.Flush();
  CHECK_THAT(h.TakeRows(), Equals(std::vector<std::string>{
                               "clicks a [0,10000) 2 r0",
                               "not_click a [0,10000) 2 r0",
                               "big a [0,10000) 1 r0",
                               "in_set a [0,10000) 2 r0",
                               "both a [0,10000) 1 r0",
                           }));
}

TEST_CASE("a filtered-out late event is not a dead letter", "[engine][filter][lateness]") {
  EngineHarness h(
      JobYaml("  - { name: clicks, agg: count, window: { tumbling: 10s }, where: [ { field: type, op: eq, value: click "
              "} ] }\n"));
  h.Event("a", 20000, ",\"type\":\"click\"");
  h.Event("a", 1000, ",\"type\":\"view\"");   // late, but no feature wanted it
  h.Event("a", 1000, ",\"type\":\"click\"");  // late and its window is gone
  CHECK_THAT(h.dead_letters(), Equals(std::vector<std::string>{"late @2"}));
}

// Numbers at the edges (docs/semantics.md, "Numbers that are not finite").
namespace {

std::vector<std::string> RunValues(const std::string& feature, const std::vector<std::string>& xs) {
  EngineHarness h(JobYaml(feature));
  for (size_t i = 0; i < xs.size(); ++i) h.Event("a", static_cast<int64_t>(i) * 1000, ",\"x\":" + xs[i]);
  h.Flush();
  return h.TakeRows();
}

}  // namespace

TEST_CASE("sum and avg are compensated: 1e16 + 1 - 1e16 is 1", "[engine][aggregate]") {
  CHECK_THAT(RunValues("  - { name: f, agg: sum, field: x, window: { tumbling: 10s } }\n", {"1e16", "1", "-1e16"}),
             Equals(std::vector<std::string>{"f a [0,10000) 1 r0"}));
  CHECK_THAT(RunValues("  - { name: f, agg: avg, field: x, window: { tumbling: 10s } }\n", {"1e16", "1", "-1e16", "1"}),
             Equals(std::vector<std::string>{"f a [0,10000) 0.5 r0"}));
  // Across sliding slices too: slices merge their compensations.
  auto rows = RunValues("  - { name: f, agg: sum, field: x, window: { sliding: { size: 4s, slide: 1s } } }\n",
                        {"1e16", "1", "-1e16", "1"});
  CHECK(std::find(rows.begin(), rows.end(), "f a [0,4000) 2 r0") != rows.end());
}

TEST_CASE("stddev of values near double's limit neither overflows nor cancels", "[engine][aggregate]") {
  CHECK_THAT(RunValues("  - { name: f, agg: stddev, field: x, window: { tumbling: 10s } }\n", {"1e308", "-1e308"}),
             Equals(std::vector<std::string>{"f a [0,10000) 1e+308 r0"}));
  // A small value before the huge ones is rescaled, not lost to overflow:
  // 1e300 * sqrt(2/3), to within an ulp.
  CHECK_THAT(RunValues("  - { name: f, agg: stddev, field: x, window: { tumbling: 10s } }\n", {"3", "1e300", "-1e300"}),
             Equals(std::vector<std::string>{"f a [0,10000) 8.164965809277261e+299 r0"}));
}

TEST_CASE("a sum beyond double's range is Infinity, never null", "[engine][aggregate]") {
  EngineHarness h(JobYaml("  - { name: f, agg: sum, field: x, window: { tumbling: 10s } }\n"));
  h.Event("a", 1000, ",\"x\":1e308");
  h.Event("a", 2000, ",\"x\":1e308");
  h.Event("b", 1000, ",\"x\":-1e308");
  h.Event("b", 2000, ",\"x\":-1e308");
  h.Flush();
  CHECK_THAT(h.TakeRows(), Catch::Matchers::UnorderedEquals(std::vector<std::string>{
                               "f a [0,10000) \"Infinity\" r0", "f b [0,10000) \"-Infinity\" r0"}));
}

TEST_CASE("a non-finite row is written as protobuf's JSON string with a marker", "[engine][aggregate]") {
  std::string out;
  weir::engine::FeatureRow row;
  row.key = "a";
  row.window_end = 10;
  row.available_at = 15;
  row.value = weir::engine::RowValue{false, std::numeric_limits<double>::infinity(), {}};
  weir::engine::AppendRowJson(out, "v", "f", row);
  CHECK(out ==
        "{\"view\":\"v\",\"key\":\"a\",\"feature\":\"f\",\"window_start\":0,\"window_end\":10,\"value\":\"Infinity\","
        "\"revision\":0,\"available_at\":15,\"nonfinite\":true}\n");
  out.clear();
  row.value = weir::engine::RowValue{false, std::nan(""), {}};
  weir::engine::AppendRowJson(out, "v", "f", row);
  CHECK(out.find("\"value\":\"NaN\"") != std::string::npos);
  out.clear();
  row.value = weir::engine::RowValue{true, 0, "Infinity"};  // a `last` over text: no marker
  weir::engine::AppendRowJson(out, "v", "f", row);
  CHECK(out.find("nonfinite") == std::string::npos);
}
