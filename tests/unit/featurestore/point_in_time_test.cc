// Point-in-time reads (docs/semantics.md): as of T, the greatest (window_end,
// revision) among rows with available_at <= T, from GetOnline (cached or
// not) and from the historical join, which must agree with it row for row.
#include <catch2/catch.hpp>

#include <random>

#include "featurestore/row_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/featurestore/store_test_rows.h"

using weir::featurestore::RowStore;
using weir::featurestore::RowStoreOptions;
using weir::featurestore::testing::Batch;
using weir::featurestore::testing::Row;
using weir::testing::TempDir;
using weir::v1::FeatureRow;
using weir::v1::HistoricalColumn;

namespace {

FeatureRow Available(FeatureRow r, int64_t at) {
  r.set_available_at(at);
  return r;
}

// "end value rN" of u1's feature n as of t, or "none".
std::string At(const RowStore& store, int64_t t) {
  auto rows = store.GetOnline("v", {"u1"}, {"n"}, t);
  REQUIRE(rows.ok());
  if (rows->empty()) return "none";
  const FeatureRow& r = rows->front();
  return std::to_string(r.window_end()) + " " + std::to_string(static_cast<int64_t>(r.value().number())) + " r" +
         std::to_string(r.revision());
}

}  // namespace

TEST_CASE("as_of reads skip windows not yet available and corrections not yet made", "[featurestore][pit]") {
  for (size_t cache : {size_t{0}, size_t{1} << 10}) {
    TempDir dir;
    RowStoreOptions options;
    options.latest_cache_entries = cache;
    auto store = RowStore::Open(dir.path.string(), options);
    REQUIRE(store.ok());
    // Window 60000 fires at 65000 (value 1), is corrected at 130000 (value 2);
    // window 120000 fires at 126000 (value 5).
    REQUIRE((*store)
                ->Write(Batch({Available(Row("u1", "n", 60000, 1), 65000), Available(Row("u1", "n", 120000, 5), 126000),
                               Available(Row("u1", "n", 60000, 2, 1), 130000)}))
                .ok());
    INFO("cache entries " << cache);
    CHECK(At(**store, std::numeric_limits<int64_t>::max()) == "120000 5 r0");  // the latest
    CHECK(At(**store, 200000) == "120000 5 r0");
    CHECK(At(**store, 126000) == "120000 5 r0");
    CHECK(At(**store, 125999) == "60000 1 r0");  // 120000 ended but was not available: no leak
    CHECK(At(**store, 64999) == "none");         // 60000 ended, not yet available
    CHECK(At(**store, 65000) == "60000 1 r0");
    CHECK(At(**store, std::numeric_limits<int64_t>::max()) == "120000 5 r0");
  }
}

TEST_CASE("a correction is returned only from its availability on", "[featurestore][pit]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE(
      (*store)
          ->Write(Batch({Available(Row("u1", "n", 60000, 1), 65000), Available(Row("u1", "n", 60000, 3, 1), 90000)}))
          .ok());
  CHECK(At(**store, 89999) == "60000 1 r0");
  CHECK(At(**store, 90000) == "60000 3 r1");
}

TEST_CASE("the historical join equals as_of reads for random rows and times", "[featurestore][pit]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  std::mt19937_64 rng(11);
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
  const std::vector<std::string> features = {"n", "s"};
  std::vector<FeatureRow> rows;
  for (const auto& k : keys) {
    for (const auto& f : features) {
      for (int64_t end = 60000; end <= 600000; end += 60000) {
        if (rng() % 4 == 0) continue;  // gaps
        const int64_t at = end + static_cast<int64_t>(rng() % 20000);
        rows.push_back(Available(Row(k, f, end, static_cast<double>(rng() % 100)), at));
        if (rng() % 3 == 0) {  // a correction, later
          rows.push_back(
              Available(Row(k, f, end, static_cast<double>(rng() % 100), 1), at + static_cast<int64_t>(rng() % 90000)));
        }
      }
    }
  }
  rows.push_back(Available(Row("a", "t", 60000, 0), 61000));
  rows.back().mutable_value()->set_text("text");
  REQUIRE((*store)->Write(Batch(rows)).ok());

  std::vector<std::string> entity_keys;
  std::vector<int64_t> times;
  for (int i = 0; i < 3000; ++i) {
    entity_keys.push_back(keys[rng() % keys.size()]);
    times.push_back(static_cast<int64_t>(rng() % 700000));
  }
  entity_keys.push_back("nobody");
  times.push_back(500000);
  const std::vector<std::string_view> views(entity_keys.begin(), entity_keys.end());
  std::vector<HistoricalColumn> columns;
  REQUIRE((*store)->GetHistorical("v", features, views, times, &columns).ok());
  REQUIRE(columns.size() == 2);
  size_t found = 0;
  for (size_t f = 0; f < features.size(); ++f) {
    CHECK(columns[f].feature() == features[f]);
    REQUIRE(static_cast<size_t>(columns[f].found_size()) == times.size());
    for (size_t i = 0; i < times.size(); ++i) {
      auto online = (*store)->GetOnline("v", {entity_keys[i]}, {features[f]}, times[i]);
      REQUIRE(online.ok());
      INFO("entity " << entity_keys[i] << " at " << times[i] << " feature " << features[f]);
      REQUIRE(columns[f].found(static_cast<int>(i)) == !online->empty());
      if (online->empty()) continue;
      ++found;
      CHECK(columns[f].numbers(static_cast<int>(i)) == online->front().value().number());
      CHECK(columns[f].window_ends(static_cast<int>(i)) == online->front().window_end());
    }
  }
  CHECK(found > 3000);  // most entity rows have values: the check is not vacuous

  // Text values, every feature of the view (by name), and errors.
  REQUIRE((*store)->GetHistorical("v", {}, {"a", "a"}, {60999, 61000}, &columns).ok());
  REQUIRE(columns.size() == 3);
  CHECK(columns[2].feature() == "t");
  CHECK_FALSE(columns[2].found(0));
  CHECK(columns[2].found(1));
  CHECK(columns[2].texts().at(1) == "text");
  weir::Status unknown = (*store)->GetHistorical("v", {"nope"}, {"a"}, {1}, &columns);
  CHECK(unknown.code() == weir::StatusCode::kNotFound);
  CHECK(unknown.message().find("no feature \"nope\"") != std::string::npos);
  CHECK((*store)->GetHistorical("v", {"n"}, {"a"}, {1, 2}, &columns).code() == weir::StatusCode::kInvalidArgument);
}
