// Error bounds, merge exactness and serialization of the count_distinct
// (HyperLogLog) and percentile (DDSketch) sketches. Deterministic: fixed seeds.
// Set WEIR_SKETCH_REPORT=1 to print the worst measured errors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include <xxhash.h>
#include <catch2/catch.hpp>

#include "common/byte_codec.h"
#include "engine/ddsketch.h"
#include "engine/hll.h"

namespace weir::engine {
namespace {

uint64_t Hash(uint64_t v) { return XXH3_64bits(&v, sizeof(v)); }

double RelErr(double estimate, double truth) {
  if (truth == 0) return estimate == 0 ? 0 : std::numeric_limits<double>::infinity();
  return std::fabs(estimate - truth) / std::fabs(truth);
}

void Report(const std::string& what, double worst) {
  if (std::getenv("WEIR_SKETCH_REPORT") != nullptr)
    std::printf("  %-48s worst rel err %.5f%%\n", what.c_str(), 100 * worst);
}

template <typename Sketch>
std::string SerializeToString(const Sketch& s) {
  ByteWriter w;
  s.Serialize(w);
  return w.Take();
}

// ---------------------------------------------------------------- HyperLogLog

struct DistinctCase {
  std::string name;
  std::function<uint64_t(std::mt19937_64&)> draw;
};

TEST_CASE("HyperLogLog estimates distinct counts of 1M values within 2%", "[engine][sketch]") {
  constexpr int kValues = 1'000'000;
  uint64_t sequential = 0;
  std::vector<DistinctCase> cases = {
      {"all distinct sequential", [&](std::mt19937_64&) { return sequential++; }},
      {"uniform over 500k", [](std::mt19937_64& g) { return std::uniform_int_distribution<uint64_t>(0, 499'999)(g); }},
      {"zipf-like over 10M",
       [](std::mt19937_64& g) {
         // P(k) ~ 1/k: k = floor((N+1)^u) for u uniform in [0,1).
         const double u = std::uniform_real_distribution<double>(0, 1)(g);
         return static_cast<uint64_t>(std::floor(std::exp(u * std::log(10'000'001.0))));
       }},
      {"domain 10 (sparse)", [](std::mt19937_64& g) { return std::uniform_int_distribution<uint64_t>(0, 9)(g); }},
      {"domain 1000 (sparse)", [](std::mt19937_64& g) { return std::uniform_int_distribution<uint64_t>(0, 999)(g); }},
      {"domain 2000 (just dense)",
       [](std::mt19937_64& g) { return std::uniform_int_distribution<uint64_t>(0, 1999)(g); }},
      {"domain 50k (2.5m-5m range)",
       [](std::mt19937_64& g) { return std::uniform_int_distribution<uint64_t>(0, 49'999)(g); }},
      {"domain 70k (2.5m-5m range)",
       [](std::mt19937_64& g) { return std::uniform_int_distribution<uint64_t>(0, 69'999)(g); }},
  };
  double worst = 0;
  for (const DistinctCase& c : cases) {
    std::mt19937_64 gen(20240601);
    HyperLogLog hll;
    std::unordered_set<uint64_t> exact;
    exact.reserve(kValues);
    for (int i = 0; i < kValues; ++i) {
      const uint64_t v = c.draw(gen);
      hll.AddHash(Hash(v));
      exact.insert(v);
    }
    const double truth = static_cast<double>(exact.size());
    const double err = RelErr(hll.Estimate(), truth);
    INFO(c.name << ": exact " << truth << ", estimate " << hll.Estimate());
    CHECK(err <= 0.02);
    CHECK(hll.is_sparse() == (exact.size() <= 1000));
    Report("hll " + c.name + " (" + std::to_string(exact.size()) + " distinct)", err);
    worst = std::max(worst, err);
  }
  Report("hll distributions overall", worst);
}

TEST_CASE("HyperLogLog stays within 2% at every size through the sparse-to-dense switch", "[engine][sketch]") {
  HyperLogLog hll;
  double worst_sparse = 0;
  double worst_dense = 0;
  size_t switched_at = 0;
  uint64_t next_check = 0;
  for (uint64_t n = 1; n <= 300'000; ++n) {
    hll.AddHash(Hash(n * 7919 + 13));
    if (switched_at == 0 && !hll.is_sparse()) switched_at = n;
    // Every size up to 1500, then sizes about 1% apart.
    if (n > 1500 && n != next_check) continue;
    if (n >= 1500) next_check = n + n / 100;
    const double err = RelErr(hll.Estimate(), static_cast<double>(n));
    INFO("n = " << n << ", estimate " << hll.Estimate());
    REQUIRE(err <= 0.02);
    double& worst = hll.is_sparse() ? worst_sparse : worst_dense;
    worst = std::max(worst, err);
  }
  // The switch comes with the first 25-bit prefix beyond kMaxSparseEntries.
  CHECK(switched_at > HyperLogLog::kMaxSparseEntries);
  CHECK(switched_at < HyperLogLog::kMaxSparseEntries + 20);
  Report("hll sweep 1..300k, sparse phase", worst_sparse);
  Report("hll sweep 1..300k, dense phase", worst_dense);
}

TEST_CASE("HyperLogLog of an empty or repeated input", "[engine][sketch]") {
  HyperLogLog hll;
  CHECK(hll.Estimate() == 0);
  CHECK(hll.is_sparse());
  for (int i = 0; i < 1000; ++i) hll.AddHash(Hash(42));
  CHECK(std::fabs(hll.Estimate() - 1) < 1e-4);
}

// Splits `values` round-robin over `parts` sketches, merges them (in forward,
// reverse and pairwise tree order) and requires each result to equal the
// sketch of all values.
void CheckRoundRobinMerge(const std::vector<uint64_t>& values, int parts, bool expect_sparse) {
  HyperLogLog whole;
  std::vector<HyperLogLog> split(parts);
  for (size_t i = 0; i < values.size(); ++i) {
    whole.AddHash(Hash(values[i]));
    split[i % parts].AddHash(Hash(values[i]));
  }
  REQUIRE(whole.is_sparse() == expect_sparse);

  HyperLogLog forward;
  for (const HyperLogLog& s : split) forward.Merge(s);
  HyperLogLog reverse;
  for (auto it = split.rbegin(); it != split.rend(); ++it) reverse.Merge(*it);
  std::vector<HyperLogLog> tree = split;
  while (tree.size() > 1) {
    std::vector<HyperLogLog> next;
    for (size_t i = 0; i < tree.size(); i += 2) {
      next.push_back(tree[i]);
      if (i + 1 < tree.size()) next.back().Merge(tree[i + 1]);
    }
    tree = std::move(next);
  }
  for (const HyperLogLog* merged : {&forward, &reverse, &tree[0]}) {
    REQUIRE(*merged == whole);
    REQUIRE(merged->Estimate() == whole.Estimate());
  }
}

TEST_CASE("HyperLogLog merge of 60 round-robin parts equals the sketch of all values", "[engine][sketch]") {
  std::mt19937_64 gen(7);
  SECTION("1M values, every part dense") {
    std::vector<uint64_t> values(1'000'000);
    for (uint64_t& v : values) v = std::uniform_int_distribution<uint64_t>(0, 499'999)(gen);
    CheckRoundRobinMerge(values, 60, /*expect_sparse=*/false);
  }
  SECTION("30k distinct values, every part sparse, the union dense") {
    std::vector<uint64_t> values(30'000);
    for (size_t i = 0; i < values.size(); ++i) values[i] = i;
    CheckRoundRobinMerge(values, 60, /*expect_sparse=*/false);
  }
  SECTION("600 values, all sparse") {
    std::vector<uint64_t> values(600);
    for (uint64_t& v : values) v = std::uniform_int_distribution<uint64_t>(0, 1'000'000)(gen);
    CheckRoundRobinMerge(values, 60, /*expect_sparse=*/true);
  }
}

TEST_CASE("HyperLogLog merges sparse into dense and dense into sparse exactly", "[engine][sketch]") {
  HyperLogLog sparse;
  HyperLogLog dense;
  HyperLogLog whole;
  for (uint64_t v = 0; v < 300; ++v) {
    sparse.AddHash(Hash(v));
    whole.AddHash(Hash(v));
  }
  for (uint64_t v = 200; v < 20'000; ++v) {
    dense.AddHash(Hash(v));
    whole.AddHash(Hash(v));
  }
  REQUIRE(sparse.is_sparse());
  REQUIRE_FALSE(dense.is_sparse());

  HyperLogLog sparse_then_dense = sparse;
  sparse_then_dense.Merge(dense);
  HyperLogLog dense_then_sparse = dense;
  dense_then_sparse.Merge(sparse);
  CHECK(sparse_then_dense == whole);
  CHECK(dense_then_sparse == whole);
  CHECK_FALSE(sparse_then_dense.is_sparse());
  CHECK(RelErr(whole.Estimate(), 20'000) <= 0.02);

  // Sparse + sparse whose union needs more than kMaxSparseEntries tokens.
  HyperLogLog a;
  HyperLogLog b;
  HyperLogLog ab;
  for (uint64_t v = 0; v < 800; ++v) {
    a.AddHash(Hash(v));
    b.AddHash(Hash(v + 500));
    ab.AddHash(Hash(v));
    ab.AddHash(Hash(v + 500));
  }
  REQUIRE(a.is_sparse());
  REQUIRE(b.is_sparse());
  a.Merge(b);
  CHECK(a == ab);
  CHECK_FALSE(a.is_sparse());

  // Merging with itself or an empty sketch changes nothing.
  HyperLogLog self = dense;
  self.Merge(self);
  CHECK(self == dense);
  HyperLogLog empty;
  self.Merge(empty);
  CHECK(self == dense);
  empty.Merge(sparse);
  CHECK(empty == sparse);
}

TEST_CASE("HyperLogLog memory: small inline, sparse while small, 16 KiB dense", "[engine][sketch]") {
  HyperLogLog hll;
  CHECK(sizeof(HyperLogLog) <= 32);
  CHECK(hll.MemoryBytes() == sizeof(HyperLogLog));  // no heap while empty
  hll.AddHash(Hash(1));
  CHECK(hll.MemoryBytes() == sizeof(HyperLogLog) + 4);
  for (uint64_t v = 0; v < 1000; ++v) hll.AddHash(Hash(v));
  CHECK(hll.is_sparse());
  CHECK(hll.MemoryBytes() <= sizeof(HyperLogLog) + HyperLogLog::kNumRegisters / 4);
  for (uint64_t v = 0; v < 5000; ++v) hll.AddHash(Hash(v));
  CHECK_FALSE(hll.is_sparse());
  CHECK(hll.MemoryBytes() == sizeof(HyperLogLog) + HyperLogLog::kNumRegisters);
}

TEST_CASE("HyperLogLog serialization round-trips in both modes", "[engine][sketch]") {
  for (uint64_t n : {0, 1, 10, 1000, 1024, 5000, 1'000'000}) {
    HyperLogLog hll;
    for (uint64_t v = 0; v < n; ++v) hll.AddHash(Hash(v));
    const std::string bytes = SerializeToString(hll);
    ByteReader r(bytes);
    HyperLogLog back;
    back.AddHash(Hash(12345));  // Deserialize must replace, not merge
    INFO("n = " << n);
    REQUIRE(HyperLogLog::Deserialize(r, &back));
    CHECK(r.done());
    CHECK(back == hll);
    CHECK(back.is_sparse() == hll.is_sparse());
    CHECK(back.Estimate() == hll.Estimate());
    if (!hll.is_sparse()) CHECK(bytes.size() == 2 + HyperLogLog::kNumRegisters * 6 / 8);
  }
}

TEST_CASE("HyperLogLog Deserialize rejects truncated and malformed input", "[engine][sketch]") {
  HyperLogLog sparse;
  HyperLogLog dense;
  for (uint64_t v = 0; v < 500; ++v) sparse.AddHash(Hash(v));
  for (uint64_t v = 0; v < 50'000; ++v) dense.AddHash(Hash(v));
  for (const HyperLogLog* hll : {&sparse, &dense}) {
    const std::string bytes = SerializeToString(*hll);
    for (size_t len = 0; len < bytes.size(); ++len) {
      ByteReader r(std::string_view(bytes).substr(0, len));
      HyperLogLog out;
      INFO("truncated to " << len << " of " << bytes.size());
      REQUIRE_FALSE(HyperLogLog::Deserialize(r, &out));
    }
  }

  auto rejects = [](const std::string& bytes) {
    ByteReader r(bytes);
    HyperLogLog out;
    return !HyperLogLog::Deserialize(r, &out);
  };
  auto sparse_bytes = [](std::initializer_list<uint64_t> deltas) {
    ByteWriter w;
    w.Put<uint8_t>(1);
    w.Put<uint8_t>(0);
    w.PutVarint(deltas.size());
    for (uint64_t d : deltas) w.PutVarint(d);
    return w.Take();
  };
  CHECK_FALSE(rejects(sparse_bytes({(5u << 6) | 3, (1u << 6) | 1})));  // valid: two tokens
  CHECK(rejects(std::string("\x02\x00\x00", 3)));                      // unknown version
  CHECK(rejects(std::string("\x01\x07\x00", 3)));                      // unknown mode
  CHECK(rejects(sparse_bytes({(5u << 6) | 3, 0})));                    // duplicate token
  CHECK(rejects(sparse_bytes({(5u << 6) | 3, 1})));                    // same prefix twice
  CHECK(rejects(sparse_bytes({(5u << 6) | 0})));                       // rank 0
  CHECK(rejects(sparse_bytes({(5u << 6) | 41})));                      // rank beyond 40
  CHECK(rejects(sparse_bytes({uint64_t{1} << 31})));                   // prefix beyond 25 bits
  CHECK(rejects(sparse_bytes({~uint64_t{0}})));                        // huge delta
  {
    ByteWriter w;  // more tokens than the sparse form may hold
    w.Put<uint8_t>(1);
    w.Put<uint8_t>(0);
    w.PutVarint(HyperLogLog::kMaxSparseEntries + 1);
    for (size_t i = 0; i <= HyperLogLog::kMaxSparseEntries; ++i) w.PutVarint(64 + 1);
    CHECK(rejects(w.Take()));
  }
  {
    std::string bytes = SerializeToString(dense);
    bytes[2] = static_cast<char>(0x3f);  // register 0 = 63 > 51
    CHECK(rejects(bytes));
  }

  // Random corruption never crashes; whatever is accepted is a usable sketch.
  std::mt19937_64 gen(99);
  for (const HyperLogLog* hll : {&sparse, &dense}) {
    const std::string good = SerializeToString(*hll);
    for (int trial = 0; trial < 300; ++trial) {
      std::string bad = good;
      for (int k = 0; k < 3; ++k) {
        bad[std::uniform_int_distribution<size_t>(0, bad.size() - 1)(gen)] =
            static_cast<char>(std::uniform_int_distribution<int>(0, 255)(gen));
      }
      ByteReader r(bad);
      HyperLogLog out;
      if (HyperLogLog::Deserialize(r, &out)) {
        const double e = out.Estimate();
        CHECK((std::isfinite(e) && e >= 0));
        const std::string reencoded = SerializeToString(out);
        ByteReader again(reencoded);
        HyperLogLog out2;
        REQUIRE(HyperLogLog::Deserialize(again, &out2));
        CHECK(out2 == out);
      }
    }
  }
}

// ------------------------------------------------------------------- DDSketch

constexpr double kQuantiles[] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

// The value of rank floor(q*(n-1)) in sorted data, as DDSketch::Quantile defines it.
double ExactQuantile(const std::vector<double>& sorted, double q) {
  const auto rank = static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)));
  return sorted[rank];
}

// Requires every quantile of `sketch` within 1% (and within the sketch's
// alpha, up to rounding) of the exact one; exact at q = 0 and 1. Returns the
// worst relative error.
double CheckQuantiles(const DDSketch& sketch, const std::vector<double>& sorted, const std::string& name) {
  REQUIRE(sketch.count() == sorted.size());
  double worst = 0;
  for (double q : kQuantiles) {
    const double truth = ExactQuantile(sorted, q);
    const double est = sketch.Quantile(q);
    INFO(name << ": q = " << q << ", exact " << truth << ", estimate " << est);
    CHECK(std::fabs(est - truth) <= 0.01 * std::fabs(truth));
    CHECK(std::fabs(est - truth) <= DDSketch::kRelativeAccuracy * std::fabs(truth) * (1 + 1e-9));
    if (q == 0 || q == 1) CHECK(est == truth);
    worst = std::max(worst, RelErr(est, truth));
  }
  return worst;
}

struct ValueCase {
  std::string name;
  std::function<double(std::mt19937_64&)> draw;
};

TEST_CASE("DDSketch quantiles of 1M values are within 1%, also after merging 60 parts", "[engine][sketch]") {
  constexpr int kValues = 1'000'000;
  constexpr int kParts = 60;
  const std::vector<ValueCase> cases = {
      {"uniform(0,1000)", [](std::mt19937_64& g) { return std::uniform_real_distribution<double>(0, 1000)(g); }},
      {"normal(0,100)", [](std::mt19937_64& g) { return std::normal_distribution<double>(0, 100)(g); }},
      {"exponential(mean 50)", [](std::mt19937_64& g) { return std::exponential_distribution<double>(0.02)(g); }},
      {"lognormal(0,2)", [](std::mt19937_64& g) { return std::lognormal_distribution<double>(0, 2)(g); }},
      {"pareto(xm 1, shape 1.2)",
       [](std::mt19937_64& g) {
         const double u = std::uniform_real_distribution<double>(0, 1)(g);
         return 1.0 / std::pow(1.0 - u, 1.0 / 1.2);
       }},
      {"constant 42.5", [](std::mt19937_64&) { return 42.5; }},
      {"integers in [-50,50] (zeros, ties)",
       [](std::mt19937_64& g) { return static_cast<double>(std::uniform_int_distribution<int>(-50, 50)(g)); }},
  };
  double worst_single = 0;
  double worst_merged = 0;
  for (const ValueCase& c : cases) {
    std::mt19937_64 gen(4242);
    std::vector<double> values(kValues);
    for (double& v : values) v = c.draw(gen);

    DDSketch whole;
    std::vector<DDSketch> split(kParts);
    for (size_t i = 0; i < values.size(); ++i) {
      whole.Add(values[i]);
      split[i % kParts].Add(values[i]);
    }
    DDSketch merged;
    for (const DDSketch& s : split) merged.Merge(s);

    std::sort(values.begin(), values.end());
    const double single_err = CheckQuantiles(whole, values, c.name);
    const double merged_err = CheckQuantiles(merged, values, c.name + " merged");
    CHECK(merged == whole);
    Report("ddsketch " + c.name + " (" + std::to_string(whole.MemoryBytes()) + " B)", single_err);
    Report("ddsketch " + c.name + " merged from 60", merged_err);
    worst_single = std::max(worst_single, single_err);
    worst_merged = std::max(worst_merged, merged_err);
  }
  Report("ddsketch overall, single", worst_single);
  Report("ddsketch overall, merged", worst_merged);
}

TEST_CASE("DDSketch handles extremes: zeros, subnormals, non-finite, the full double range", "[engine][sketch]") {
  DDSketch s;
  s.Add(std::numeric_limits<double>::quiet_NaN());
  s.Add(std::numeric_limits<double>::infinity());
  s.Add(-std::numeric_limits<double>::infinity());
  CHECK(s.count() == 0);
  CHECK(std::isnan(s.Quantile(0.5)));
  CHECK(s.MemoryBytes() == sizeof(DDSketch));

  s.Add(0.0);
  s.Add(std::numeric_limits<double>::denorm_min());  // counted as zero
  s.Add(-1e-310);                                    // counted as zero
  CHECK(s.count() == 3);
  CHECK(s.MemoryBytes() == sizeof(DDSketch));  // no bucket needed
  CHECK(s.Quantile(0.5) == 0.0);
  CHECK(s.Quantile(0) == -1e-310);
  CHECK(s.Quantile(1) == std::numeric_limits<double>::denorm_min());

  // Ascending then descending over the whole normal range: growth at both ends.
  DDSketch wide;
  std::vector<double> values;
  for (double v = 1e-300; v < 1e300; v *= 1.37) values.push_back(v);
  for (double v = -1e300; v < -1e-300; v /= 1.41) values.push_back(v);
  values.push_back(std::numeric_limits<double>::max());
  values.push_back(-std::numeric_limits<double>::max());
  values.push_back(std::numeric_limits<double>::min());
  for (double v : values) wide.Add(v);
  std::sort(values.begin(), values.end());
  for (double q = 0; q <= 1; q += 0.01) {
    const double truth = ExactQuantile(values, q);
    INFO("q = " << q);
    CHECK(std::fabs(wide.Quantile(q) - truth) <= DDSketch::kRelativeAccuracy * std::fabs(truth) * (1 + 1e-9));
  }
  // Without collapsing, each store spans ~141k buckets of 8 bytes; growth
  // slack adds at most 1/8.
  CHECK(wide.MemoryBytes() <= 2 * 160'001 * 8 + sizeof(DDSketch));
}

TEST_CASE("DDSketch memory: no heap while empty, one bucket for one value", "[engine][sketch]") {
  DDSketch s;
  CHECK(s.MemoryBytes() == sizeof(DDSketch));
  s.Add(3.5);
  CHECK(s.MemoryBytes() == sizeof(DDSketch) + 8);
  CHECK(s.Quantile(0.5) == 3.5);
  s.Add(3.50001);  // same bucket
  CHECK(s.MemoryBytes() == sizeof(DDSketch) + 8);
}

TEST_CASE("DDSketch serialization round-trips", "[engine][sketch]") {
  std::mt19937_64 gen(5);
  std::vector<DDSketch> sketches(4);
  sketches[1].Add(-7.25);
  for (int i = 0; i < 100'000; ++i) sketches[2].Add(std::normal_distribution<double>(0, 100)(gen));
  sketches[2].Add(0.0);
  for (int i = 0; i < 10'000; ++i) sketches[3].Add(std::lognormal_distribution<double>(0, 3)(gen));
  for (const DDSketch& s : sketches) {
    const std::string bytes = SerializeToString(s);
    ByteReader r(bytes);
    DDSketch back;
    back.Add(1.0);  // Deserialize must replace, not merge
    REQUIRE(DDSketch::Deserialize(r, &back));
    CHECK(r.done());
    CHECK(back == s);
    if (s.count() > 0) {
      for (double q : kQuantiles) CHECK(back.Quantile(q) == s.Quantile(q));
    }
  }
}

TEST_CASE("DDSketch Deserialize rejects truncated and malformed input", "[engine][sketch]") {
  std::mt19937_64 gen(6);
  DDSketch s;
  for (int i = 0; i < 20'000; ++i) s.Add(std::normal_distribution<double>(0, 100)(gen));
  s.Add(0.0);
  const std::string good = SerializeToString(s);
  for (size_t len = 0; len < good.size(); ++len) {
    ByteReader r(std::string_view(good).substr(0, len));
    DDSketch out;
    INFO("truncated to " << len << " of " << good.size());
    REQUIRE_FALSE(DDSketch::Deserialize(r, &out));
  }

  auto rejects = [](const std::string& bytes) {
    ByteReader r(bytes);
    DDSketch out;
    return !DDSketch::Deserialize(r, &out);
  };
  // version, zero count, positive store {n, first index, counts}, negative store, min, max
  auto make = [](uint8_t version, uint64_t zeros, std::vector<uint64_t> pos, int64_t pos_lo, double min, double max) {
    ByteWriter w;
    w.Put<uint8_t>(version);
    w.PutVarint(zeros);
    w.PutVarint(pos.size());
    if (!pos.empty()) {
      w.PutSignedVarint(pos_lo);
      for (uint64_t c : pos) w.PutVarint(c);
    }
    w.PutVarint(0);  // no negatives
    w.Put<double>(min);
    w.Put<double>(max);
    return w.Take();
  };
  DDSketch ref;
  ref.Add(1.0);
  ref.Add(1.5);
  // Index of 1.0 is 0, of 1.5 is ceil(ln 1.5 / ln gamma) = 41.
  std::vector<uint64_t> counts(42, 0);
  counts.front() = 1;
  counts.back() = 1;
  CHECK(make(1, 0, counts, 0, 1.0, 1.5) == SerializeToString(ref));  // the format is what we think
  CHECK(rejects(make(2, 0, counts, 0, 1.0, 1.5)));                   // unknown version
  CHECK(rejects(make(1, 0, counts, 0, 1.5, 1.0)));                   // min > max
  CHECK(rejects(make(1, 0, counts, 0, std::nan(""), 1.5)));          // NaN min
  CHECK(rejects(make(1, 0, counts, 0, 0.5, 1.5)));                   // min outside the lowest bucket
  CHECK(rejects(make(1, 0, counts, 0, 1.0, 9.0)));                   // max outside the highest bucket
  CHECK(rejects(make(1, 0, counts, 0, -1.0, 1.5)));                  // negative min, no negative counts
  CHECK(rejects(make(1, 0, counts, 90'000, 1.0, 1.5)));              // index out of range
  counts.back() = 0;
  CHECK(rejects(make(1, 0, counts, 0, 1.0, 1.0)));          // zero count at the end of the range
  CHECK(rejects(make(1, ~uint64_t{0}, {5}, 0, 1.0, 1.0)));  // total count overflows

  // Random corruption never crashes; whatever is accepted is a usable sketch.
  for (int trial = 0; trial < 500; ++trial) {
    std::string bad = good;
    for (int k = 0; k < 2; ++k) {
      bad[std::uniform_int_distribution<size_t>(0, bad.size() - 1)(gen)] =
          static_cast<char>(std::uniform_int_distribution<int>(0, 255)(gen));
    }
    ByteReader r(bad);
    DDSketch out;
    if (DDSketch::Deserialize(r, &out) && out.count() > 0) {
      const double lo = out.Quantile(0);
      const double hi = out.Quantile(1);
      for (double q : kQuantiles) {
        const double v = out.Quantile(q);
        CHECK((v >= lo && v <= hi));
      }
    }
  }
}

}  // namespace
}  // namespace weir::engine
