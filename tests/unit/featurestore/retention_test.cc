// Retention: a view's retention comes with its job's writes, survives a
// restart, and ExpireRows drops exactly the rows whose window ended before
// now - retention, counting them; the rest stay readable, cache or not.
#include <catch2/catch.hpp>

#include "featurestore/row_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/featurestore/store_test_rows.h"

using weir::featurestore::RowBatch;
using weir::featurestore::RowStore;
using weir::featurestore::WriterKind;
using weir::featurestore::testing::Batch;
using weir::featurestore::testing::Row;
using weir::testing::TempDir;

namespace {

constexpr int64_t kHour = 3600000;
constexpr int64_t kNow = 100 * kHour;

RowBatch WithRetention(RowBatch b, int64_t retention) {
  b.view_retention_ms = retention;
  return b;
}

size_t Rows(const RowStore& store) {
  size_t n = 0;
  REQUIRE(store.Export("v", [&](const weir::v1::FeatureRow&) { return ++n > 0; }).ok());
  return n;
}

}  // namespace

TEST_CASE("rows past their view's retention are dropped and counted, the rest stay readable",
          "[featurestore][retention]") {
  TempDir dir;
  {
    auto store = RowStore::Open(dir.path.string());
    REQUIRE(store.ok());
    // Without a retention nothing is ever dropped.
    REQUIRE((*store)->Write(Batch({Row("u1", "n", kNow - 5 * kHour, 1)})).ok());
    auto none = (*store)->ExpireRows(kNow);
    REQUIRE(none.ok());
    CHECK(none->empty());
    CHECK(Rows(**store) == 1);
    // The job sets 2 h: u1's rows of 5 h and 3 h ago go, the one of 1 h ago stays; u2's only row goes.
    REQUIRE((*store)
                ->Write(WithRetention(Batch({Row("u1", "n", kNow - 3 * kHour, 2), Row("u1", "n", kNow - kHour, 3),
                                             Row("u2", "n", kNow - 4 * kHour, 9)}),
                                      2 * kHour))
                .ok());
    CHECK((*store)->Retentions() == std::map<std::string, int64_t>{{"v", 2 * kHour}});
    // The read cache holds u2's newest row before it expires.
    auto cached = (*store)->GetOnline("v", {"u2"}, {"n"}, std::numeric_limits<int64_t>::max());
    REQUIRE(cached.ok());
    CHECK(cached->size() == 1);
  }
  // After a restart the retention is still known.
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  CHECK((*store)->Retentions() == std::map<std::string, int64_t>{{"v", 2 * kHour}});
  (void)(*store)->GetOnline("v", {"u2"}, {"n"}, std::numeric_limits<int64_t>::max());  // fills the cache
  auto dropped = (*store)->ExpireRows(kNow);
  REQUIRE(dropped.ok());
  CHECK(*dropped == std::map<std::string, uint64_t>{{"v", 3}});
  CHECK(Rows(**store) == 1);
  auto u1 = (*store)->GetOnline("v", {"u1", "u2"}, {"n"}, std::numeric_limits<int64_t>::max());
  REQUIRE(u1.ok());
  REQUIRE(u1->size() == 1);  // u2's expired row is gone from the cache too
  CHECK(u1->front().key() == "u1");
  CHECK(u1->front().value().number() == 3);
  auto again = (*store)->ExpireRows(kNow);
  REQUIRE(again.ok());
  CHECK(again->empty());

  // An import leaves the retention alone; a job write without one clears it.
  RowBatch import = Batch({Row("u3", "n", kNow - 50 * kHour, 1)});
  import.writer = WriterKind::kImport;
  REQUIRE((*store)->Write(import).ok());
  CHECK((*store)->Retentions().size() == 1);
  REQUIRE((*store)->Write(Batch({Row("u3", "n", kNow - 40 * kHour, 1)})).ok());
  CHECK((*store)->Retentions().empty());
  auto kept = (*store)->ExpireRows(kNow);
  REQUIRE(kept.ok());
  CHECK(kept->empty());
  CHECK(Rows(**store) == 3);
}

TEST_CASE("a view name of the longest length the spec allows keeps its retention across a restart",
          "[featurestore][retention]") {
  TempDir dir;
  const std::string view(128, 'v');  // spec's kMaxNameLength: its length takes two varint bytes
  {
    auto store = RowStore::Open(dir.path.string());
    REQUIRE(store.ok());
    weir::v1::FeatureRow row = Row("u1", "n", kNow - kHour, 1);
    row.set_view(view);
    REQUIRE((*store)->Write(WithRetention(Batch({row}), 2 * kHour)).ok());
  }
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  CHECK((*store)->Retentions() == std::map<std::string, int64_t>{{view, 2 * kHour}});
}
