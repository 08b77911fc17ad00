// LatestCache's rules, and a RowStore's reads with it: a read never answers
// with a row older than the newest one written.
#include <catch2/catch.hpp>

#include "featurestore/latest_cache.h"
#include "featurestore/row_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/featurestore/store_test_rows.h"

using weir::featurestore::LatestCache;
using weir::featurestore::RowBatch;
using weir::featurestore::RowStore;
using weir::featurestore::testing::Batch;
using weir::featurestore::testing::Row;
using weir::testing::TempDir;
using weir::v1::FeatureRow;

TEST_CASE("a fill made void by a write or an eviction in between is dropped", "[featurestore][cache]") {
  LatestCache cache(1000);
  LatestCache::Entry e;
  const uint64_t before = cache.Generation("p");
  cache.Written("p", "p-new", "v2");  // an uncached prefix: pending fills are void
  cache.Fill("p", before, LatestCache::Entry{true, "p-old", "v1"});
  CHECK_FALSE(cache.Lookup("p", &e));

  cache.Fill("p", cache.Generation("p"), LatestCache::Entry{true, "p-2", "v2"});
  REQUIRE(cache.Lookup("p", &e));
  CHECK(e.value == "v2");
  cache.Written("p", "p-3", "older");  // a larger key is an older window: kept out
  REQUIRE(cache.Lookup("p", &e));
  CHECK(e.value == "v2");
  cache.Written("p", "p-2", "v2 again");  // the same identity: an upsert
  cache.Written("p", "p-1", "newest");
  REQUIRE(cache.Lookup("p", &e));
  CHECK(e.key == "p-1");
  CHECK(e.value == "newest");
}

TEST_CASE("a full cache stays within its capacity", "[featurestore][cache]") {
  LatestCache cache(64);
  for (int i = 0; i < 10000; ++i) {
    const std::string p = "p" + std::to_string(i);
    cache.Fill(p, cache.Generation(p), LatestCache::Entry{});
  }
  int cached = 0;
  LatestCache::Entry e;
  for (int i = 0; i < 10000; ++i) cached += cache.Lookup("p" + std::to_string(i), &e) ? 1 : 0;
  CHECK(cached > 0);
  CHECK(cached <= 64 + 32);  // one per shard of slack
}

namespace {

// "feature end value" of each row read for u1 at as_of (every feature).
std::vector<std::string> Read(const RowStore& store, int64_t as_of) {
  auto rows = store.GetOnline("v", {"u1"}, {}, as_of);
  REQUIRE(rows.ok());
  std::vector<std::string> out;
  for (const auto& r : *rows) {
    out.push_back(r.feature() + " " + std::to_string(r.window_end()) + " " +
                  std::to_string(static_cast<int64_t>(r.value().number())));
  }
  return out;
}

}  // namespace

TEST_CASE("cached online reads follow newer windows, corrections, late old windows and as_of",
          "[featurestore][cache]") {
  TempDir dir;
  auto opened = RowStore::Open(dir.path.string());
  REQUIRE(opened.ok());
  RowStore& store = **opened;
  REQUIRE(store.Write(Batch({Row("u1", "n", 120000, 1), Row("u2", "sum", 60000, 9)})).ok());
  // u1 has no "sum": cached as nothing, until one is written.
  CHECK(Read(store, 1'000'000) == std::vector<std::string>{"n 120000 1"});
  CHECK(Read(store, 1'000'000) == std::vector<std::string>{"n 120000 1"});
  REQUIRE(store.Write(Batch({Row("u1", "sum", 60000, 5)})).ok());
  CHECK(Read(store, 1'000'000) == std::vector<std::string>{"n 120000 1", "sum 60000 5"});
  // A late row of an older window does not replace the newest.
  REQUIRE(store.Write(Batch({Row("u1", "n", 60000, 7)})).ok());
  CHECK(Read(store, 1'000'000) == std::vector<std::string>{"n 120000 1", "sum 60000 5"});
  // A correction (higher revision) and a newer window do.
  REQUIRE(store.Write(Batch({Row("u1", "n", 120000, 2, 1)})).ok());
  CHECK(Read(store, 1'000'000) == std::vector<std::string>{"n 120000 2", "sum 60000 5"});
  REQUIRE(store.Write(Batch({Row("u1", "n", 180000, 3)})).ok());
  CHECK(Read(store, 1'000'000) == std::vector<std::string>{"n 180000 3", "sum 60000 5"});
  // Before the newest window closed: RocksDB's answer, not the cache's.
  CHECK(Read(store, 179999) == std::vector<std::string>{"n 120000 2", "sum 60000 5"});
  CHECK(Read(store, 59999).empty());
  // The same answers with the cache off (a fresh store over the same rows would do the same).
  opened->reset();
  weir::featurestore::RowStoreOptions off;
  off.latest_cache_entries = 0;
  auto uncached = RowStore::Open(dir.path.string(), off);
  REQUIRE(uncached.ok());
  CHECK(Read(**uncached, 1'000'000) == std::vector<std::string>{"n 180000 3", "sum 60000 5"});
  CHECK(Read(**uncached, 179999) == std::vector<std::string>{"n 120000 2", "sum 60000 5"});
}
