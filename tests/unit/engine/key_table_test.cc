// The compact key table: keys of any length (inline up to 15 bytes, on the
// heap beyond), released and their slots reused as keys go idle, keep their
// text exactly through rows and snapshots.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "engine/key_text.h"
#include "tests/support/engine_harness.h"

using weir::engine::KeyText;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;
using weir::testing::MustCompile;

TEST_CASE("KeyText holds keys inline up to 15 bytes and on the heap beyond", "[engine][keys]") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{200}}) {
    const std::string s(n, 'a');
    KeyText t;
    t.Assign(s);
    CHECK(t.view() == s);
    CHECK(t.HeapBytes() == (n > 15 ? n : 0));
    KeyText moved(std::move(t));
    CHECK(moved.view() == s);
    CHECK(t.view().empty());  // NOLINT(bugprone-use-after-move): a moved-from KeyText is empty
    KeyText assigned;
    assigned.Assign("other key, long enough for the heap");
    assigned = std::move(moved);
    CHECK(assigned.view() == s);
    assigned.Assign("x");
    CHECK(assigned.view() == "x");
  }
}

TEST_CASE("keys of every length survive release, slot reuse and restore", "[engine][keys][snapshot]") {
  const auto plan =
      MustCompile(JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n"
                          "  - { name: total, agg: sum, field: x, window: { sliding: { size: 20s, slide: 5s } } }\n"));
  std::mt19937_64 rng(8);
  std::vector<std::string> stream;
  for (int i = 0; i < 4000; ++i) {
    // A drifting pool of keys of 1 to 40 bytes, so keys go idle, are
    // released, and their slots go to keys of other lengths.
    const int id = i / 200 * 10 + static_cast<int>(rng() % 20);
    const std::string key =
        std::string(1 + static_cast<size_t>(id * 7 % 40), static_cast<char>('a' + id % 26)) + std::to_string(id);
    stream.push_back("{\"k\":\"" + key + "\",\"ts\":" + std::to_string(i * 100) +
                     ",\"x\":" + std::to_string(rng() % 100) + "}");
  }
  EngineHarness reference(plan);
  for (const auto& r : stream) reference.Feed(r);
  reference.Flush();
  REQUIRE(reference.all_rows().size() > 1000);

  EngineHarness run(plan);
  for (size_t i = 0; i < stream.size(); ++i) {
    if (i % 700 == 350) run.RestoreInto(run.engine().Snapshot());
    run.Feed(stream[i]);
  }
  run.Flush();
  CHECK(run.all_rows() == reference.all_rows());
  CHECK(run.engine().stats().keys == 0);
}
