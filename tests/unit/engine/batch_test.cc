// ProcessBatch is Process with prefetching: the same records give the same
// rows in the same order, whatever the batch size, also while keys come and go.
#include <catch2/catch.hpp>

#include <random>

#include "tests/support/engine_harness.h"

using weir::engine::Event;
using weir::engine::FieldValue;
using weir::engine::ValueType;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;
using weir::testing::MustCompile;

TEST_CASE("ProcessBatch emits exactly what Process does, for any batch size", "[engine][batch]") {
  const auto plan =
      MustCompile(JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n"
                          "  - { name: total, agg: sum, field: x, window: { sliding: { size: 30s, slide: 5s } } }\n"
                          "  - { name: hi, agg: max, field: x, window: { session: { gap: 4s } } }\n",
                          "watermark: { max_out_of_orderness: 2s }\nallowed_lateness: 6s"));
  REQUIRE(plan->fields.size() == 1);

  // Keys drawn from a pool that drifts, so old keys go idle and are released
  // while batches are in flight (their prefetch hints go stale).
  std::mt19937_64 rng(11);
  const int kEvents = 20000;
  std::vector<std::string> keys;
  std::vector<FieldValue> values;
  std::vector<Event> events;
  keys.reserve(kEvents);
  values.reserve(kEvents);
  int64_t base = 0;
  for (int i = 0; i < kEvents; ++i) {
    base += static_cast<int64_t>(rng() % 300);
    keys.push_back("k" + std::to_string(i / 500 * 20 + static_cast<int>(rng() % 40)));
    values.push_back(FieldValue{ValueType::kNumber, false, static_cast<double>(rng() % 100), {}});
  }
  for (int i = 0; i < kEvents; ++i) {
    Event e;
    e.key = keys[i];
    e.time = static_cast<int64_t>(i) * 150 - static_cast<int64_t>(rng() % 9000);
    e.offset = weir::KafkaOffset(i);
    e.fields = &values[i];
    events.push_back(e);
  }

  EngineHarness one_by_one(plan);
  for (const Event& e : events) one_by_one.engine().Process(e);
  one_by_one.Flush();
  REQUIRE(one_by_one.all_rows().size() > 1000);
  REQUIRE(one_by_one.engine().stats().corrections > 0);

  for (size_t batch : {size_t{1}, size_t{7}, size_t{64}, size_t{5000}}) {
    EngineHarness batched(plan);
    for (size_t i = 0; i < events.size(); i += batch) {
      batched.engine().ProcessBatch(&events[i], std::min(batch, events.size() - i));
    }
    batched.Flush();
    INFO("batch size " << batch);
    CHECK(batched.all_rows() == one_by_one.all_rows());
    CHECK(batched.dead_letters() == one_by_one.dead_letters());
  }
}
