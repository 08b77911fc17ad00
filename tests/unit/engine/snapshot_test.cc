// Snapshot and restore: restoring a snapshot taken at any record boundary and
// feeding the remaining records gives exactly the rows of an uninterrupted run.
#include <catch2/catch.hpp>

#include <random>

#include <xxhash.h>

#include "tests/support/engine_harness.h"

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;
using weir::testing::MustCompile;

namespace {

// Every window kind and aggregate, with lateness and disorder.
const std::string kAllFeatures = JobYaml(
    "  - { name: n, agg: count, window: { tumbling: 10s } }\n"
    "  - { name: total, agg: sum, field: x, window: { sliding: { size: 30s, slide: 5s } } }\n"
    "  - { name: lo, agg: min, field: x, window: { tumbling: 20s } }\n"
    "  - { name: hi, agg: max, field: x, window: { session: { gap: 4s } } }\n"
    "  - { name: mean, agg: avg, field: x, window: { sliding: { size: 20s, slide: 10s } } }\n"
    "  - { name: sd, agg: stddev, field: x, window: { tumbling: 15s } }\n"
    "  - { name: latest, agg: last, field: s, window: { session: { gap: 3s } } }\n"
    "  - { name: uniq, agg: count_distinct, field: s, window: { sliding: { size: 20s, slide: 5s } } }\n"
    "  - { name: p90, agg: percentile, p: 0.9, field: x, window: { tumbling: 10s } }\n"
    "  - { name: clicks, agg: count, window: { session: { gap: 5s } }, where: [ { field: s, op: eq, value: s1 } ] }\n",
    "watermark: { max_out_of_orderness: 2s }\nallowed_lateness: 6s");

// A deterministic stream with disorder, late records, bad records and gaps.
std::vector<std::string> Stream(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> out;
  int64_t base = 0;
  for (int i = 0; i < n; ++i) {
    base += static_cast<int64_t>(rng() % 700);
    if (rng() % 97 == 0) base += 40000;                       // a gap: sessions close
    int64_t ts = base - static_cast<int64_t>(rng() % 12000);  // up to 12s behind: some late
    if (rng() % 40 == 0) ts = base - 60000;                   // too late for every window
    std::string key = "k" + std::to_string(rng() % 7);
    std::string rec = "{\"k\":\"" + key + "\",\"ts\":" + std::to_string(ts);
    if (rng() % 10 != 0) rec += ",\"x\":" + std::to_string(static_cast<int>(rng() % 1000) - 200) + ".25";
    if (rng() % 4 != 0) rec += ",\"s\":\"s" + std::to_string(rng() % 5) + "\"";
    rec += "}";
    if (rng() % 50 == 0) rec = "not json";
    out.push_back(rec);
  }
  return out;
}

}  // namespace

TEST_CASE("restore at random cut points reproduces the uninterrupted rows", "[engine][snapshot]") {
  const auto plan = MustCompile(kAllFeatures);
  const auto stream = Stream(42, 3000);

  EngineHarness reference(plan);
  for (const auto& r : stream) reference.Feed(r);
  reference.Flush();
  const auto expected = reference.all_rows();
  REQUIRE(expected.size() > 1000);
  REQUIRE(reference.engine().stats().corrections > 0);
  REQUIRE(reference.engine().stats().late_dead_letters > 0);

  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 25; ++trial) {
    const size_t cut = rng() % (stream.size() + 1);
    EngineHarness run(plan);
    for (size_t i = 0; i < cut; ++i) run.Feed(stream[i]);
    const std::string snapshot = run.engine().Snapshot();
    run.RestoreInto(snapshot);  // a fresh engine: only the snapshot carries over
    for (size_t i = cut; i < stream.size(); ++i) run.Feed(stream[i]);
    run.Flush();
    INFO("cut at record " << cut);
    REQUIRE(run.all_rows() == expected);
    CHECK(run.all_available_at() == reference.all_available_at());  // kept by the snapshot
    CHECK(run.dead_letters() == reference.dead_letters());
  }
}

TEST_CASE("restoring twice in a row (snapshot of a restored engine) still matches", "[engine][snapshot]") {
  const auto plan = MustCompile(kAllFeatures);
  const auto stream = Stream(9, 1500);
  EngineHarness reference(plan);
  for (const auto& r : stream) reference.Feed(r);
  reference.Flush();

  EngineHarness run(plan);
  for (size_t i = 0; i < stream.size(); ++i) {
    if (i % 300 == 0) run.RestoreInto(run.engine().Snapshot());
    run.Feed(stream[i]);
  }
  run.Flush();
  CHECK(run.all_rows() == reference.all_rows());
  CHECK(run.all_available_at() == reference.all_available_at());
}

TEST_CASE("a corrupt, truncated or foreign snapshot is rejected and leaves the engine empty", "[engine][snapshot]") {
  const auto plan = MustCompile(kAllFeatures);
  EngineHarness h(plan);
  for (const auto& r : Stream(3, 200)) h.Feed(r);
  const std::string good = h.engine().Snapshot();
  weir::engine::PartitionEngine fresh(plan, &h);

  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  auto s = fresh.Restore(flipped);
  CHECK(s.code() == weir::StatusCode::kDataLoss);
  CHECK_THAT(s.message(), Contains("checksum mismatch"));
  CHECK(fresh.stats().keys == 0);

  s = fresh.Restore(good.substr(0, 10));
  CHECK(s.code() == weir::StatusCode::kDataLoss);
  s = fresh.Restore("");
  CHECK(s.code() == weir::StatusCode::kDataLoss);

  auto other = MustCompile(JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n"));
  weir::engine::PartitionEngine foreign(other, &h);
  s = foreign.Restore(good);
  CHECK(s.code() == weir::StatusCode::kFailedPrecondition);
  CHECK_THAT(s.message(), Contains("different job plan"));

  REQUIRE(fresh.Restore(good).ok());
  CHECK(fresh.watermark() == h.engine().watermark());
  CHECK(fresh.stats().keys == h.engine().stats().keys);
}

TEST_CASE("a snapshot with a key twice, or a key without state, is rejected (the fuzzer's finding)",
          "[engine][snapshot]") {
  const auto plan = MustCompile(JobYaml("  - { name: n, agg: count, window: { tumbling: 10s } }\n"));
  EngineHarness h(plan);
  h.Feed(R"({"k":"a","ts":1000})");
  const std::string good = h.engine().Snapshot();
  // magic 8, version 4, plan 8, watermark 8, max event time 8; then one-byte
  // varints: events, late, rows, corrections, features (1), skipped[0], keys.
  const size_t keys_at = 36 + 6;
  REQUIRE(good[keys_at] == 1);
  const std::string head = good.substr(0, keys_at);
  const std::string entry = good.substr(keys_at + 1, good.size() - 8 - keys_at - 1);
  const auto sealed = [](std::string body) {
    const uint64_t sum = XXH64(body.data(), body.size(), 0);
    body.append(reinterpret_cast<const char*>(&sum), sizeof(sum));
    return body;
  };
  weir::engine::PartitionEngine fresh(plan, &h);
  REQUIRE(fresh.Restore(sealed(head + '\x01' + entry)).ok());  // the forging itself is right

  auto s = fresh.Restore(sealed(head + '\x02' + entry + entry));
  CHECK(s.code() == weir::StatusCode::kDataLoss);
  CHECK(fresh.stats().keys == 0);
  s = fresh.Restore(sealed(head + '\x02' + entry +
                           std::string("\x01"
                                       "b"
                                       "\x00",
                                       3)));
  CHECK(s.code() == weir::StatusCode::kDataLoss);
}
