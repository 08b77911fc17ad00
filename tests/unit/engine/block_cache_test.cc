// The sliding-window block cache (engine/slice_operator.h): windows of 16 or
// more slices combine per fixed block of slices, then across blocks, and
// blocks wholly inside a window come from a cache. These tests pin that the
// cache never changes a row: values equal a combine of every slice in that
// order, late records invalidate what they touch, and an engine restored
// with a cold cache emits bit for bit what the warm one does.
#include <catch2/catch.hpp>

#include <cstdio>
#include <map>
#include <random>
#include <tuple>

#include "engine/aggregates.h"
#include "engine/row_format.h"
#include "tests/support/engine_harness.h"

using weir::engine::CompensatedSum;
using weir::testing::EngineHarness;
using weir::testing::JobYaml;
using weir::testing::MustCompile;

namespace {

// 60 slices of 1s: blocks of 8 slices (8s, aligned to multiples of 8s).
const std::string kSliding =
    "  - { name: n, agg: count, window: { sliding: { size: 60s, slide: 1s } } }\n"
    "  - { name: total, agg: sum, field: x, window: { sliding: { size: 60s, slide: 1s } } }\n"
    "  - { name: hi, agg: max, field: x, window: { sliding: { size: 60s, slide: 1s } } }\n";

struct Record {
  std::string key;
  int64_t ts;
  int64_t x;  // integral, so count, sum and max are exact in any order
};

std::string Json(const Record& r) {
  return "{\"k\":\"" + r.key + "\",\"ts\":" + std::to_string(r.ts) + ",\"x\":" + std::to_string(r.x) + "}";
}

// A row as the harness prints it: "<feature> <key> [<start>,<end>) <value> r<revision>".
struct Row {
  std::string feature, key;
  int64_t start = 0, end = 0;
  std::string value;
};

Row Parse(const std::string& s) {
  Row r;
  char feature[32], key[32], value[64];
  long long start = 0, end = 0;
  REQUIRE(std::sscanf(s.c_str(), "%31s %31s [%lld,%lld) %63s", feature, key, &start, &end, value) == 5);
  r.feature = feature;
  r.key = key;
  r.start = start;
  r.end = end;
  r.value = value;
  return r;
}

std::string Number(double d) {
  std::string out;
  weir::engine::AppendJsonNumber(out, d);
  return out;
}

}  // namespace

TEST_CASE("sliding windows with the block cache equal a slice-by-slice combine, late records included",
          "[engine][window][sliding]") {
  const auto plan = MustCompile(JobYaml(kSliding, "watermark: { max_out_of_orderness: 2s }\nallowed_lateness: 20s"));
  std::mt19937_64 rng(5);
  std::vector<Record> records;
  int64_t base = 0;
  for (int i = 0; i < 4000; ++i) {
    base += static_cast<int64_t>(rng() % 400);
    int64_t ts = base - static_cast<int64_t>(rng() % 3000);
    if (rng() % 10 == 0) ts = base - static_cast<int64_t>(rng() % 30000);  // late: lands in cached blocks
    records.push_back(Record{"k" + std::to_string(rng() % 3), ts, static_cast<int64_t>(rng() % 1000) - 300});
  }

  EngineHarness run(plan);
  std::vector<bool> used;  // per record: not a dead letter
  size_t checked = 0;
  size_t corrections = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const size_t dead_before = run.dead_letters().size();
    run.Feed(Json(records[i]));
    used.push_back(run.dead_letters().size() == dead_before);
    for (const std::string& line : run.TakeRows()) {
      const Row row = Parse(line);
      int64_t n = 0, sum = 0, hi = INT64_MIN;
      for (size_t j = 0; j <= i; ++j) {
        const Record& r = records[j];
        if (!used[j] || r.key != row.key || r.ts < row.start || r.ts >= row.end) continue;
        ++n;
        sum += r.x;
        hi = std::max(hi, r.x);
      }
      INFO(line);
      const double want = row.feature == "n"       ? static_cast<double>(n)
                          : row.feature == "total" ? static_cast<double>(sum)
                                                   : static_cast<double>(hi);
      CHECK(row.value == Number(want));
      ++checked;
      if (line.substr(line.size() - 3) != " r0") ++corrections;
    }
  }
  CHECK(checked > 5000);
  CHECK(corrections > 100);
}

TEST_CASE("a sliding sum combines per fixed block of slices, then across blocks, in order",
          "[engine][window][sliding]") {
  // Values of very different magnitudes, so the combine order shows in the bits.
  const auto plan =
      MustCompile(JobYaml("  - { name: total, agg: sum, field: x, window: { sliding: { size: 60s, slide: 1s } } }\n"));
  std::mt19937_64 rng(17);
  std::vector<std::pair<int64_t, double>> events;  // in order, one key
  for (int64_t ts = 0; ts < 200'000; ts += 1 + static_cast<int64_t>(rng() % 900)) {
    const double x = (rng() % 3 == 0 ? 1e15 : 1.0) * (static_cast<double>(rng() % 100000) / 7.0 - 5000.0);
    events.emplace_back(ts, x);
  }
  EngineHarness run(plan);
  for (const auto& [ts, x] : events) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", x);
    run.Feed("{\"k\":\"a\",\"ts\":" + std::to_string(ts) + ",\"x\":" + buf + "}");
  }
  run.Flush();
  // The reference: slices of 1s, folded per 8s block, blocks folded in order.
  std::map<int64_t, CompensatedSum> slices;
  for (const auto& [ts, x] : events) slices[ts / 1000].Add(x);
  size_t checked = 0;
  for (const std::string& line : run.all_rows()) {
    const Row row = Parse(line);
    CompensatedSum acc;
    bool have = false;
    for (int64_t b = row.start / 8000 - 1; b <= row.end / 8000; ++b) {
      CompensatedSum block;
      bool any = false;
      for (int64_t s = b * 8; s < b * 8 + 8; ++s) {
        if (s * 1000 < row.start || s * 1000 >= row.end || !slices.count(s)) continue;
        if (!any) {
          block = slices[s];
          any = true;
        } else {
          block.Merge(slices[s]);
        }
      }
      if (!any) continue;
      if (!have) {
        acc = block;
        have = true;
      } else {
        acc.Merge(block);
      }
    }
    INFO(line);
    CHECK(row.value == Number(acc.Value()));
    ++checked;
  }
  CHECK(checked > 150);
}

TEST_CASE("an engine restored with a cold block cache emits the rows of the warm one, bit for bit",
          "[engine][window][sliding][snapshot]") {
  const auto plan =
      MustCompile(JobYaml("  - { name: total, agg: sum, field: x, window: { sliding: { size: 60s, slide: 1s } } }\n"
                          "  - { name: mean, agg: avg, field: x, window: { sliding: { size: 32s, slide: 1s } } }\n"
                          "  - { name: sd, agg: stddev, field: x, window: { sliding: { size: 20s, slide: 1s } } }\n",
                          "watermark: { max_out_of_orderness: 1s }\nallowed_lateness: 10s"));
  std::mt19937_64 rng(23);
  std::vector<std::string> stream;
  int64_t base = 0;
  for (int i = 0; i < 3000; ++i) {
    base += static_cast<int64_t>(rng() % 300);
    const int64_t ts = base - static_cast<int64_t>(rng() % (rng() % 8 == 0 ? 15000 : 1500));
    char x[64];
    std::snprintf(x, sizeof x, "%.17g", (rng() % 4 == 0 ? 1e14 : 0.1) * static_cast<double>(rng() % 1000));
    stream.push_back("{\"k\":\"k" + std::to_string(rng() % 4) + "\",\"ts\":" + std::to_string(ts) + ",\"x\":" + x +
                     "}");
  }
  EngineHarness reference(plan);
  for (const auto& r : stream) reference.Feed(r);
  reference.Flush();
  REQUIRE(reference.engine().stats().corrections > 0);

  std::mt19937_64 cuts(3);
  for (int trial = 0; trial < 15; ++trial) {
    const size_t cut = cuts() % (stream.size() + 1);
    EngineHarness run(plan);
    for (size_t i = 0; i < cut; ++i) run.Feed(stream[i]);
    const std::string snapshot = run.engine().Snapshot();
    run.RestoreInto(snapshot);
    // The cache is not in the snapshot: a restored engine snapshots to the same bytes.
    CHECK(run.engine().Snapshot() == snapshot);
    for (size_t i = cut; i < stream.size(); ++i) run.Feed(stream[i]);
    run.Flush();
    INFO("cut at record " << cut);
    REQUIRE(run.all_rows() == reference.all_rows());
  }
}
